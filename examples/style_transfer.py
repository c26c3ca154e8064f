"""Style transfer on generated images: AdaIN (one forward pass) against Gatys et al. (pixel optimisation).

    python examples/style_transfer.py            # targets: accuracies >= 0.90 (not reached), >= 100x Gatys (met)
    python examples/style_transfer.py --smoke    # a few steps, for the test suite

Data (``tinydl.data.textures``): contents are 32x32 images of one shape (circle, square, triangle), styles
32x32 two-colour textures of 5 classes (stripes in three orientations, checkers, dots) with random colours,
frequencies and phases.  Training draws fresh contents and styles every epoch from the seeds
``(seed, epoch, 0 | 1)``; the evaluation pairs held-out contents with styles from another seed stream
``(seed + 10000, 0 | 1)``: new colours, frequencies and phases that the decoder never saw.

Model (``tinydl.models.AdaINStyleTransfer``): the frozen encoder f shipped in examples/assets/ (trained by
examples/train_style_encoder.py on shapes and textures), AdaIN at relu3_1, a decoder g (the encoder's
mirror, nearest upsampling) trained with L = L_c + lambda L_s (Adam, cosine learning rate).  The baseline,
``gatys_transfer``, optimises the pixels of each output against the same encoder's content features and Gram
matrices, on the first ``--gatys-pairs`` of the same test pairs.

Metrics: two frozen judges that are not the encoder (shipped too) score the stylised images:
``content_accuracy`` (the shape judge names the content's shape), ``style_accuracy`` (the texture judge
names the style's texture class), the same for Gatys (``gatys_*``), and ``speedup_vs_gatys`` (Gatys'
seconds per image / AdaIN's, on the same pairs and device; CPU seconds on the CPU, see ``clock``).  Figures: the content x style grid, the
alpha trade-off, AdaIN beside Gatys, the loss curves.
"""
import time

import numpy as np

import common
import tinydl as td
from tinydl import optim
from tinydl.data import SHAPE_CLASSES, TEXTURE_CLASSES, make_content, make_textures
from tinydl.models.style_transfer import AdaINStyleTransfer, Decoder, gatys_transfer
from train_style_encoder import load_encoder, load_judges

ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)


def training_pairs(args, epoch):
    """The epoch's contents and styles, drawn from (seed, epoch): --resume sees the same ones."""
    contents = make_content(args.pairs_per_epoch, seed=[args.seed, epoch, 0])
    styles = make_textures(args.pairs_per_epoch, seed=[args.seed, epoch, 1])
    return contents.images, styles.images


def test_pairs(args):
    """Held-out contents and unseen styles, from a seed stream training never uses."""
    return make_content(args.test_pairs, seed=[args.seed + 10000, 0]), \
        make_textures(args.test_pairs, seed=[args.seed + 10000, 1])


def cosine_lr(base, step, total):
    return 0.5 * base * (1 + np.cos(np.pi * min(step, total) / max(total, 1)))


@td.no_grad()
def stylise(model, contents, styles, device, alpha=1.0, batch_size=250):
    """AdaIN outputs g(t) for the pairs, (N, 3, S, S) in [0, 1] as a NumPy array."""
    model.eval()
    out = [model(td.tensor(contents[i:i + batch_size], device=device), td.tensor(styles[i:i + batch_size],
                 device=device), alpha=alpha).clamp(0.0, 1.0).numpy() for i in range(0, len(contents), batch_size)]
    return np.concatenate(out)


@td.no_grad()
def judge(judge_net, images, device, batch_size=500):
    """The judge's predicted classes, (N,)."""
    return np.concatenate([judge_net(td.tensor(images[i:i + batch_size], device=device)).argmax(dim=1).numpy()
                           for i in range(0, len(images), batch_size)])


def clock(device):
    """The clock both methods are timed with: on the CPU this process's CPU time (single-threaded, it is
    the wall time of a quiet machine, and other jobs on a shared machine do not distort it); on a GPU the
    wall time (``.numpy()`` waits for the device)."""
    return time.process_time if device == "cpu" else time.perf_counter


def seconds_per_image(run, count, device, min_seconds=0.5):
    """Seconds per image of ``run()`` (which stylises ``count`` images and returns host arrays),
    repeated until at least ``min_seconds`` have passed so that a fast call is timed reliably."""
    now = clock(device)
    repeats, start = 0, now()
    while True:
        run()
        repeats += 1
        elapsed = now() - start
        if elapsed >= min_seconds:
            return elapsed / (repeats * count)


# ---- figures ------------------------------------------------------------------------------------------------
def _axes(rows, cols, size=1.1):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * size), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    return plt, fig, axes


def _show(ax, image, title=""):
    ax.imshow(np.clip(image.transpose(1, 2, 0), 0, 1), interpolation="nearest")
    ax.set_title(title, fontsize=6)


def save_grid(model, contents, styles, device, path):
    """Top row: the styles; left column: the contents; each cell the content in that style (AdaIN)."""
    n_c, n_s = len(contents), len(styles)
    plt, fig, axes = _axes(n_c + 1, n_s + 1)
    out = stylise(model, np.repeat(contents, n_s, axis=0), np.tile(styles, (n_c, 1, 1, 1)), device)
    for j in range(n_s):
        _show(axes[0, j + 1], styles[j], "style")
    for i in range(n_c):
        _show(axes[i + 1, 0], contents[i], "content")
        for j in range(n_s):
            _show(axes[i + 1, j + 1], out[i * n_s + j])
    fig.suptitle("AdaIN: held-out contents x unseen styles", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def save_alpha(model, contents, styles, device, path):
    """For a few pairs: content, then alpha = 0 ... 1 (t = (1 - alpha) f(c) + alpha AdaIN(f(c), f(s))), then style."""
    rows = len(contents)
    plt, fig, axes = _axes(rows, len(ALPHAS) + 2)
    outs = [stylise(model, contents, styles, device, alpha=a) for a in ALPHAS]
    for i in range(rows):
        _show(axes[i, 0], contents[i], "content")
        for k, a in enumerate(ALPHAS):
            _show(axes[i, k + 1], outs[k][i], f"alpha {a}")
        _show(axes[i, -1], styles[i], "style")
    fig.suptitle("the content-style trade-off", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def save_versus(contents, styles, adain, gatys, times, path, count=8):
    """Columns: pairs; rows: content, style, AdaIN, Gatys."""
    count = min(count, len(contents))
    plt, fig, axes = _axes(4, count)
    for j in range(count):
        _show(axes[0, j], contents[j], "content")
        _show(axes[1, j], styles[j], "style")
        _show(axes[2, j], adain[j], f"AdaIN {1000 * times[0]:.1f} ms" if j == 0 else "AdaIN")
        _show(axes[3, j], gatys[j], f"Gatys {1000 * times[1]:.0f} ms" if j == 0 else "Gatys")
    fig.suptitle("AdaIN (one forward pass) beside Gatys (pixel optimisation), per-image time", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ---- training and evaluation --------------------------------------------------------------------------------
def train(args):
    common.prepare(args)
    start = time.time()
    encoder = load_encoder(args.device)
    shape_judge, texture_judge = load_judges(args.device)
    model = AdaINStyleTransfer(encoder, Decoder(width=encoder.channels // 4)).to(args.device)
    optimizer = optim.Adam(model.decoder.parameters(), lr=args.lr)
    progress = common.load_checkpoint(args, model.decoder, optimizer) or {
        "epoch": 0, "step": 0, "train_seconds": 0.0, "stopped_early": False,
        "loss": {"L": [], "L_c": [], "L_s": []}}
    steps_per_epoch = args.pairs_per_epoch // args.batch_size
    total_steps = args.epochs * steps_per_epoch
    print(f"style_transfer: {args.epochs} epochs of {args.pairs_per_epoch} fresh (content, style) pairs, "
          f"decoder of {sum(p.data.size for p in model.decoder.parameters())} parameters, device {args.device}")

    bar = common.progress(range(progress["epoch"], args.epochs), desc="training the decoder", unit="epoch")
    for epoch in bar:
        epoch_start = time.time()
        contents, styles = training_pairs(args, epoch)
        model.train()
        for i in range(steps_per_epoch):
            batch = slice(i * args.batch_size, (i + 1) * args.batch_size)
            for group in optimizer.param_groups:
                group["lr"] = cosine_lr(args.lr, progress["step"], total_steps)
            L, L_c, L_s = model.loss(td.tensor(contents[batch], device=args.device),
                                     td.tensor(styles[batch], device=args.device), style_weight=args.style_weight)
            optimizer.zero_grad()
            L.backward()
            optimizer.step()
            progress["step"] += 1
            for name, value in (("L", L), ("L_c", L_c), ("L_s", L_s)):
                progress["loss"][name].append(value.item())
        progress["epoch"] = epoch + 1
        progress["train_seconds"] += time.time() - epoch_start
        bar.set_postfix(L=f"{np.mean(progress['loss']['L'][-steps_per_epoch:]):.4f}")
        common.save_checkpoint(args, model.decoder, optimizer, progress)
        if common.out_of_time(args, "style_transfer", progress["train_seconds"], epoch + 1):
            break
    progress["stopped_early"] = progress["epoch"] < args.epochs  # the --max-minutes budget ran out first
    common.save_checkpoint(args, model.decoder, optimizer, progress)

    # AdaIN on every held-out pair; the judges name the shape and the texture of the outputs.
    content, style = test_pairs(args)
    adain = stylise(model, content.images, style.images, args.device)
    content_accuracy = float((judge(shape_judge, adain, args.device) == content.labels).mean())
    style_accuracy = float((judge(texture_judge, adain, args.device) == style.labels).mean())

    # Gatys on the first pairs; both methods timed on exactly those pairs.
    k = min(args.gatys_pairs, args.test_pairs)
    c_k, s_k = content.images[:k], style.images[:k]

    def run_gatys():
        x, history = gatys_transfer(encoder, td.tensor(c_k, device=args.device), td.tensor(s_k, device=args.device),
                                    steps=args.gatys_steps, lr=args.gatys_lr, style_weight=args.gatys_style_weight)
        return x.numpy(), history

    now = clock(args.device)
    gatys_start = now()
    gatys, gatys_history = run_gatys()
    gatys_seconds = (now() - gatys_start) / k
    adain_seconds = seconds_per_image(lambda: stylise(model, c_k, s_k, args.device), k, args.device)
    gatys_content_accuracy = float((judge(shape_judge, gatys, args.device) == content.labels[:k]).mean())
    gatys_style_accuracy = float((judge(texture_judge, gatys, args.device) == style.labels[:k]).mean())
    adain_on_gatys_pairs = (float((judge(shape_judge, adain[:k], args.device) == content.labels[:k]).mean()),
                            float((judge(texture_judge, adain[:k], args.device) == style.labels[:k]).mean()))
    # What the judges say about the unstylised images: a content image keeps its shape but not the style,
    # a style image the other way round; a good stylisation needs both.
    judges_on_inputs = {
        "content_images": [float((judge(shape_judge, content.images, args.device) == content.labels).mean()),
                           float((judge(texture_judge, content.images, args.device) == style.labels).mean())],
        "style_images": [float((judge(shape_judge, style.images, args.device) == content.labels).mean()),
                         float((judge(texture_judge, style.images, args.device) == style.labels).mean())]}

    common.plot_curves(f"{args.out}/loss.png", progress["loss"], log_y=True, smooth=min(25, steps_per_epoch),
                       title="AdaIN decoder: L = L_c + lambda L_s, per step")
    common.plot_curves(f"{args.out}/gatys_loss.png", {"Gatys loss": gatys_history}, xlabel="pixel update",
                       log_y=True, title=f"Gatys et al.: {k} images optimised together")
    pick = [int(np.flatnonzero(style.labels == c)[0]) if (style.labels == c).any() else 0
            for c in range(len(TEXTURE_CLASSES))]  # one style of each texture class
    shapes = [int(np.flatnonzero(content.labels == c)[0]) if (content.labels == c).any() else 0
              for c in range(len(SHAPE_CLASSES))]
    save_grid(model, content.images[shapes], style.images[pick], args.device, f"{args.out}/style_grid.png")
    save_alpha(model, content.images[:3], style.images[:3], args.device, f"{args.out}/style_alpha.png")
    save_versus(c_k, s_k, adain[:k], gatys, (adain_seconds, gatys_seconds), f"{args.out}/style_vs_gatys.png")

    metrics = {"content_accuracy": content_accuracy, "style_accuracy": style_accuracy,
               "speedup_vs_gatys": gatys_seconds / adain_seconds,
               "gatys_content_accuracy": gatys_content_accuracy, "gatys_style_accuracy": gatys_style_accuracy,
               "adain_accuracy_on_gatys_pairs": list(adain_on_gatys_pairs),
               "judges_on_inputs": judges_on_inputs,
               "adain_ms_per_image": 1000 * adain_seconds, "gatys_ms_per_image": 1000 * gatys_seconds,
               "gatys_steps": args.gatys_steps, "gatys_pairs": k, "test_pairs": args.test_pairs,
               "style_weight": args.style_weight, "epochs": progress["epoch"], "steps": progress["step"],
               "stopped_early": progress["stopped_early"], "train_seconds": progress["train_seconds"],
               "seconds": time.time() - start}
    metrics = common.write_metrics(args, metrics)
    print(f"AdaIN: content accuracy {content_accuracy:.3f}, style accuracy {style_accuracy:.3f} on "
          f"{args.test_pairs} held-out pairs (unseen styles), {1000 * adain_seconds:.2f} ms per image; Gatys "
          f"({args.gatys_steps} steps): {gatys_content_accuracy:.3f} / {gatys_style_accuracy:.3f} on {k} pairs, "
          f"{1000 * gatys_seconds:.0f} ms per image; speedup {gatys_seconds / adain_seconds:.0f}x")
    return metrics


def main(argv=None):
    parser = common.parser("style_transfer", __doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=None, help="default 12 (1 with --smoke)")
    parser.add_argument("--pairs-per-epoch", type=int, default=4096, help="fresh (content, style) pairs each epoch")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--style-weight", type=float, default=10.0, help="lambda in L = L_c + lambda L_s")
    parser.add_argument("--test-pairs", type=int, default=1000, help="held-out contents x unseen styles")
    parser.add_argument("--gatys-pairs", type=int, default=32, help="the first test pairs, stylised by Gatys too")
    parser.add_argument("--gatys-steps", type=int, default=300, help="Adam steps on the pixels")
    parser.add_argument("--gatys-lr", type=float, default=0.03)
    parser.add_argument("--gatys-style-weight", type=float, default=1e3)
    parser.add_argument("--max-minutes", type=float, default=9.0, help="stop training after this long")
    args = parser.parse_args(argv)
    if args.epochs is None:
        args.epochs = 1 if args.smoke else 12
    if args.smoke:
        args.pairs_per_epoch, args.batch_size = 16, 8
        args.test_pairs, args.gatys_pairs, args.gatys_steps = 12, 2, 3
    return train(args)


if __name__ == "__main__":
    main()
