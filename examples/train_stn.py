"""A spatial transformer network (Jaderberg et al. 2015) against the same CNN without it, on cluttered digits.

    python examples/train_stn.py            # test errors of both on 2000 held-out images; seeds 0, 1, 2, 7:
                                            # error 0.050, 0.0485, 0.038, 0.049 against baseline_error 0.079,
                                            # 0.077, 0.073, 0.0715 (ratio 0.52 to 0.69; the target,
                                            # error <= baseline_error / 2, is not met yet); 5.6 CPU minutes
    python examples/train_stn.py --smoke    # a few steps, for the test suite

Data: ``tinydl.data.make_cluttered_digits``: scikit-learn's 8x8 digits drawn at a random position,
size (12 to 20 pixels) and rotation (+-45 degrees) on a 40x40 canvas, with 4 fragments of other digits
(3x3 of their 8x8 pixels, drawn at digit scale) as clutter, like the paper's cluttered and RTS MNIST.
Fresh images every epoch (seed ``(seed, epoch)``) from the training digits; scored on 2000 images of
the *test* digits (seed ``1000 + seed``), digit images that training never saw.

Models (``tinydl.models``): ``STN`` = a coarse-to-fine ``SpatialTransformer`` (``--stages 2``: localization
net f_loc_1 reads the canvas and gives theta_1 (N, 2, 3); f_loc_2 reads the 24x24 image that theta_1
samples and gives a correction theta_2, composed with theta_1; ``affine_grid`` + ``grid_sample`` sample
the canvas once through the composed theta to the 24x24 output; each stage regresses a similarity
(scale, angle, shift; ``--transform``) and starts at the identity map) followed by a ``DigitCNN``; the
baseline is the same ``DigitCNN`` (three conv blocks and a fully connected layer, its input sized to the
image) on the 40x40 canvas.  Both are trained only with the classification loss, in
the same run, on the same batches for the same number of steps, with Adam and a cosine learning rate.
Metrics: the test error rates ``error`` (STN) and ``baseline_error`` (CNN).
Figures: rectified.png (test inputs with the region each transformer reads, and its outputs),
curves.png (training loss and held-out error of both models).  docs/spatial.md, section 10.
"""
import time

import numpy as np

import common
import tinydl as td
from tinydl import functional as F
from tinydl import nn, optim
from tinydl.data import make_cluttered_digits
from tinydl.models import STN, DigitCNN
from tinydl.models.stn import TRANSFORMS
from train_yolo import cosine_lr

MODELS = ("stn", "baseline")


def error_rate(model, images, labels, device, batch_size=500):
    """The fraction of ``images`` (n, 1, S, S) that ``model`` misclassifies, in eval mode."""
    model.eval()
    wrong = 0
    with td.no_grad():
        for start in range(0, len(images), batch_size):
            logits = model(td.tensor(images[start:start + batch_size], device=device))
            wrong += int((logits.numpy().argmax(1) != labels[start:start + batch_size]).sum())
    model.train()
    return wrong / len(images)


def data_options(args):
    """The generator's settings from the command line (the same for training and test images)."""
    return {"clutter": args.clutter, "fragment": args.fragment}


def train_step(model, optimizer, x, y, lr):
    """One Adam step on the cross-entropy of ``model(x)``; returns the loss."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group["lr_scale"]
    loss = F.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


# ---- figures ----------------------------------------------------------------------------------
def save_rectified(stn, test, path, count=10, device="cpu"):
    """Top: test inputs with the square each transformer output reads (the image of the output's
    border under theta).  Bottom: the transformer's output, the image the classifier sees."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stn.eval()
    with td.no_grad():
        rectified, theta = stn.transformer.transform(td.tensor(test.images[:count], device=device))
        logits = stn(td.tensor(test.images[:count], device=device))
    stn.train()
    rectified, theta, predicted = rectified.numpy(), theta.numpy(), logits.numpy().argmax(1)
    size = test.images.shape[-1]
    border = np.array([[-1, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1], [-1, -1, 1]], dtype=np.float32)  # (5, 3)
    fig, axes = plt.subplots(2, count, figsize=(1.3 * count, 2.9), squeeze=False)
    for i in range(count):
        corners = (border @ theta[i].T + 1) * size / 2 - 0.5  # (5, 2) pixel coordinates read by the output corners
        axes[0, i].imshow(test.images[i, 0], cmap="gray", vmin=0, vmax=1)
        axes[0, i].plot(corners[:, 0], corners[:, 1], color="yellow", lw=1)
        axes[0, i].set_xlim(-0.5, size - 0.5)
        axes[0, i].set_ylim(size - 0.5, -0.5)
        axes[0, i].set_title(f"digit {test.labels[i]}", fontsize=8)
        axes[1, i].imshow(rectified[i, 0], cmap="gray", vmin=0, vmax=1)
        axes[1, i].set_title(f"STN says {predicted[i]}", fontsize=8, color="black" if predicted[i] == test.labels[i]
                             else "red")
        for ax in axes[:, i]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("input 40x40", fontsize=8)
    axes[1, 0].set_ylabel(f"output {rectified.shape[-1]}x{rectified.shape[-1]}", fontsize=8)
    fig.suptitle("held-out test digits: where the transformer reads (yellow) and what it outputs", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def save_curves(progress, steps_per_epoch, path):
    """Left: training loss per step (running mean), both models.  Right: held-out error after each epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = {"stn": "ST-CNN", "baseline": "CNN"}
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.3))
    for key in MODELS:
        loss = np.asarray(progress["loss"][key])
        window = max(1, min(50, len(loss) // 5))
        smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
        left.plot(np.arange(window - 1, len(loss)) + 1, smooth, label=names[key])
        curve = np.asarray(progress["val_error"][key])
        right.plot(np.arange(1, len(curve) + 1) * steps_per_epoch, 100 * curve, marker=".", label=names[key])
    left.set_yscale("log")
    left.set(xlabel="step", ylabel="cross-entropy", title=f"training loss (running mean of {window})")
    right.set_yscale("log")
    right.set(xlabel="step", ylabel="error (%)", title="error on held-out digits (first 500)")
    for ax in (left, right):
        ax.legend()
        ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ---- training ---------------------------------------------------------------------------------
def main(argv=None):
    parser = common.parser("train_stn", __doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--images-per-epoch", type=int, default=2048, help="fresh training images each epoch")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--loc-lr-scale", type=float, default=0.2,
                        help="the localization nets' learning rate as a multiple of --lr")
    parser.add_argument("--width", type=int, default=16, help="channels of the CNN's first conv (4 * width at the end)")
    parser.add_argument("--out-size", type=int, default=24, help="side of the transformer's output")
    parser.add_argument("--transform", default="similarity", choices=sorted(TRANSFORMS),
                        help="what f_loc regresses: the full affine theta, a similarity (scale, angle, shift), "
                             "or an attention window (scale, shift)")
    parser.add_argument("--stages", type=int, default=2,
                        help="transformer stages: 2 or more is coarse-to-fine, each later localization net reads the "
                             "previous stage's output and its correction is composed with theta")
    parser.add_argument("--test-images", type=int, default=2000)
    parser.add_argument("--clutter", type=int, default=4, help="fragments of other digits per image")
    parser.add_argument("--fragment", type=float, default=3, help="side of each fragment, in the digits' 8x8 pixels")
    parser.add_argument("--max-minutes", type=float, default=9.0, help="stop training after this long")
    args = parser.parse_args(argv)
    if args.smoke:
        args.epochs, args.images_per_epoch, args.batch_size, args.test_images = 2, 32, 16, 24
    common.prepare(args)
    start = time.time()

    test = make_cluttered_digits(args.test_images, "test", seed=1000 + args.seed, **data_options(args))  # unseen digits
    canvas = test.images.shape[-1]
    stn = STN(image_size=canvas, out_size=args.out_size, width=args.width, transform=args.transform,
              stages=args.stages)
    baseline = DigitCNN(image_size=canvas, width=args.width)  # the same CNN on the whole canvas
    models = nn.ModuleDict({"stn": stn, "baseline": baseline}).to(args.device)
    optimizers = {"stn": optim.Adam([{"params": stn.transformer.parameters(), "lr_scale": args.loc_lr_scale},
                                     {"params": stn.classifier.parameters(), "lr_scale": 1.0}], lr=args.lr),
                  "baseline": optim.Adam([{"params": baseline.parameters(), "lr_scale": 1.0}], lr=args.lr)}
    progress = common.load_checkpoint(args, models, optimizers) or {
        "epoch": 0, "step": 0, "stopped_early": False, "train_seconds": 0.0,
        "seconds": {key: 0.0 for key in MODELS}, "loss": {key: [] for key in MODELS},
        "val_error": {key: [] for key in MODELS}}
    steps_per_epoch = args.images_per_epoch // args.batch_size
    total_steps = args.epochs * steps_per_epoch
    val = slice(0, min(500, args.test_images))  # the error curves' images
    print(f"train_stn: {args.epochs} epochs of {args.images_per_epoch} fresh {canvas}x{canvas} images, "
          f"ST-CNN {sum(p.data.size for p in stn.parameters())} and CNN "
          f"{sum(p.data.size for p in baseline.parameters())} parameters, device {args.device}")

    bar = common.progress(range(progress["epoch"], args.epochs), desc="training", unit="epoch")
    for epoch in bar:
        epoch_start = time.time()
        data = make_cluttered_digits(args.images_per_epoch, "train", seed=[args.seed, epoch], **data_options(args))
        order = np.random.default_rng([args.seed, epoch]).permutation(args.images_per_epoch)
        for i in range(steps_per_epoch):
            batch = order[i * args.batch_size:(i + 1) * args.batch_size]
            x = td.tensor(data.images[batch], device=args.device)  # (B, 1, 40, 40)
            y = td.tensor(data.labels[batch], device=args.device)  # (B,)
            lr = cosine_lr(args.lr, progress["step"], total_steps)
            for key in MODELS:  # the same batch for both
                model_start = time.time()
                progress["loss"][key].append(train_step(models[key], optimizers[key], x, y, lr))
                progress["seconds"][key] += time.time() - model_start
            progress["step"] += 1
        for key in MODELS:
            progress["val_error"][key].append(error_rate(models[key], test.images[val], test.labels[val],
                                                         args.device))
        progress["epoch"] = epoch + 1
        progress["train_seconds"] += time.time() - epoch_start
        bar.set_postfix({f"{key} err": f"{progress['val_error'][key][-1]:.3f}" for key in MODELS})
        common.save_checkpoint(args, models, optimizers, progress)
        if common.out_of_time(args, "train_stn", progress["train_seconds"], epoch + 1):
            break
    progress["stopped_early"] = progress["epoch"] < args.epochs  # the --max-minutes budget ran out first

    error = error_rate(stn, test.images, test.labels, args.device)
    baseline_error = error_rate(baseline, test.images, test.labels, args.device)
    save_rectified(stn, test, f"{args.out}/rectified.png", count=min(10, args.test_images), device=args.device)
    save_curves(progress, steps_per_epoch, f"{args.out}/curves.png")
    metrics = common.write_metrics(args, {
        "error": error, "baseline_error": baseline_error, "epochs": progress["epoch"], "steps": progress["step"],
        "stopped_early": progress["stopped_early"], "test_images": args.test_images,
        "stn_seconds": progress["seconds"]["stn"], "baseline_seconds": progress["seconds"]["baseline"],
        "train_seconds": progress["train_seconds"], "seconds": time.time() - start})
    print(f"test error: ST-CNN {100 * error:.2f} %, CNN {100 * baseline_error:.2f} % on {args.test_images} images "
          f"of unseen digits, after {progress['step']} steps (training {progress['seconds']['stn']:.0f} s and "
          f"{progress['seconds']['baseline']:.0f} s)")
    return metrics


if __name__ == "__main__":
    main()
