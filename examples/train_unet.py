"""A U-Net segments synthetic shapes scenes: every pixel as background, circle, square or triangle.

    python examples/train_unet.py                          # target: held-out mean IoU >= 0.90, 1-2 minutes
    python examples/train_unet.py --upsampling unpool      # SegNet-style max-unpooling in the decoder
    python examples/train_unet.py --upsampling bilinear --dilated
    python examples/train_unet.py --compare                # every variant, equal budgets: compare.md
    python examples/train_unet.py --smoke                  # a few steps, for the test suite

Data: ``tinydl.data.make_shapes`` draws 64x64 scenes with one to three
shapes on a textured, noisy background, with the class of every pixel as
the target.  Scenes are cheap to draw, so every epoch trains on fresh ones
(no scene is seen twice), and the held-out scenes come from a seed stream
that training never uses.  The loss is the per-pixel cross-entropy, the mean
over all N * H * W pixels of -log softmax(logits)[true class].

The headline metric is the mean intersection over union (``miou``) over the
four classes, background included, from one confusion matrix accumulated
over all held-out pixels (``tinydl.vision.confusion_matrix`` and ``iou_per_class``, as
``mean_iou`` computes it; docs/segmentation.md).
Saves loss.png, miou.png, overlays.png (input / ground truth / prediction for
held-out scenes), checkpoint.npz and metrics.json; ``--compare`` trains each
variant into its own subfolder and writes compare.md and compare.json.

About 100 s on two free cores.  On a machine shared with other jobs,
``OPENBLAS_NUM_THREADS=1`` can make it several times faster (docs/segmentation.md, section 7).
"""
import copy
import json
import math
import os
import re
import time

import numpy as np

import common
import tinydl as td
import tinydl.functional as F
from tinydl import optim
from tinydl.data import SHAPE_CLASSES, make_shapes
from tinydl.models import UNet
from tinydl.vision import confusion_matrix, iou_per_class

CLASS_NAMES = ("background",) + SHAPE_CLASSES
CLASS_COLOURS = ((0.15, 0.15, 0.15), (0.90, 0.25, 0.20), (0.20, 0.70, 0.30), (0.25, 0.45, 0.95))
TARGET_MIOU = 0.90
CURVE_SCENES = 100  # held-out scenes scored during training, for the miou.png curve (the final score uses all)
# NumPy seeds may be tuples: (args.seed, stream, ...) keeps training scenes, held-out scenes and the
# shuffling each in its own random stream, so no held-out scene is ever a training scene
TRAIN_STREAM, TEST_STREAM, SHUFFLE_STREAM = 0, 1, 2

DEFAULT_DEPTH = 3
# --compare: (upsampling, dilated bottleneck, depth), each trained with the same steps, data and seed.
# The last two ask whether the dilated block's receptive field can stand in for a level of depth.
VARIANTS = (
    ("transpose", False, DEFAULT_DEPTH),
    ("unpool", False, DEFAULT_DEPTH),
    ("bilinear", False, DEFAULT_DEPTH),
    ("transpose", True, DEFAULT_DEPTH),
    ("transpose", False, 2),
    ("transpose", True, 2),
)


def variant_name(args):
    """E.g. "transpose", "bilinear+dilated", "transpose+dilated, depth 2"."""
    name = args.upsampling + ("+dilated" if args.dilated else "")
    return name if args.depth == DEFAULT_DEPTH else f"{name}, depth {args.depth}"


def training_batches(args, epoch):
    """The fresh scenes of one epoch, shuffled into batches of images (B, 3, 64, 64) and masks (B, 64, 64).

    Scenes and order depend only on (seed, epoch), not on what the model's initialization drew from
    tinydl's generator: every variant of --compare sees the same batches, and a resumed run the same
    batches as an uninterrupted one."""
    scenes = make_shapes(args.epoch_size, seed=(args.seed, TRAIN_STREAM, epoch))
    order = np.random.default_rng((args.seed, SHUFFLE_STREAM, epoch))
    return td.data.DataLoader(scenes.dataset("images", "masks"), batch_size=args.batch_size, shuffle=True,
                              drop_last=True, generator=order, device=args.device)


def held_out_scenes(args):
    return make_shapes(args.test_scenes, seed=(args.seed, TEST_STREAM))


def first_scenes(scenes, n):
    """The first n scenes, still a ShapesScenes (slicing the namedtuple itself would slice its fields)."""
    return type(scenes)(*(field[:n] for field in scenes))


@td.no_grad()
def predict(model, images, device, batch=50):
    """images (N, 3, H, W) -> predicted classes (N, H, W) int64 on the host: the argmax of the logits."""
    model.eval()
    predictions = [model(td.tensor(images[i : i + batch], device=device)).argmax(1).numpy()
                   for i in range(0, len(images), batch)]
    model.train()
    return np.concatenate(predictions)


def evaluate(model, scenes, device):
    """Confusion matrix over every held-out pixel, then IoU per class, mean IoU and pixel accuracy."""
    predictions = predict(model, scenes.images, device)
    confusion = confusion_matrix(predictions, scenes.masks, len(CLASS_NAMES))  # (C, C), rows true, columns predicted
    per_class = iou_per_class(confusion)                                        # (C,) TP / (TP + FP + FN)
    return {
        "miou": float(np.nanmean(per_class)),
        "per_class_iou": {name: (None if math.isnan(v) else float(v)) for name, v in zip(CLASS_NAMES, per_class)},
        "pixel_accuracy": float(np.trace(confusion) / confusion.sum()),
        "confusion_matrix": confusion.tolist(),
    }, predictions


def learning_rate(args, step, total_steps):
    """A linear warm-up over the first --warmup steps, then cosine decay from --lr to 0 over the
    whole run (Loshchilov & Hutter 2017)."""
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    return args.lr * 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps))


def colourize(masks):
    """(N, H, W) class indices -> (N, H, W, 3) RGB with one colour per class."""
    return np.asarray(CLASS_COLOURS)[masks]


def save_overlays(path, scenes, predictions, title, count=8):
    """Three rows for ``count`` held-out scenes: the input, the ground-truth mask, the prediction."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    count = min(count, len(scenes))
    rows = (("input", scenes.images[:count].transpose(0, 2, 3, 1)),
            ("ground truth", colourize(scenes.masks[:count])),
            ("prediction", colourize(predictions[:count])))
    fig, axes = plt.subplots(3, count, figsize=(1.4 * count, 4.9), squeeze=False)
    for r, (label, pictures) in enumerate(rows):
        for c in range(count):
            axes[r, c].imshow(pictures[c], interpolation="nearest")
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
        axes[r, 0].set_ylabel(label, fontsize=9)
    legend = [Patch(facecolor=colour, label=name) for name, colour in zip(CLASS_NAMES, CLASS_COLOURS)]
    fig.legend(handles=legend, loc="lower center", ncol=len(CLASS_NAMES), fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 0.95))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def train(args):
    """Train one variant into args.out; returns its metrics."""
    common.prepare(args)
    start, cpu_start = time.time(), time.process_time()
    name = variant_name(args)
    model = UNet(3, len(CLASS_NAMES), width=args.width, depth=args.depth, upsampling=args.upsampling,
                 dilated_bottleneck=args.dilated).to(args.device)
    parameters = int(sum(p.data.size for p in model.parameters()))
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    progress = common.load_checkpoint(args, model, optimizer) or {"epoch": 0, "step": 0, "seconds": 0.0,
                                                                 "cpu_seconds": 0.0, "losses": [], "evals": []}
    steps_per_epoch = args.epoch_size // args.batch_size
    total_steps = args.epochs * steps_per_epoch
    test = held_out_scenes(args)
    print(f"train_unet [{name}]: {parameters} parameters, {args.epochs} epochs of {args.epoch_size} fresh scenes "
          f"({total_steps} steps of {args.batch_size}), {len(test)} held-out scenes")

    bar = common.progress(None, desc=f"training {name}", unit="step", initial=progress["step"], total=total_steps)
    for epoch in range(progress["epoch"], args.epochs):
        for x, target in training_batches(args, epoch):          # x (B, 3, 64, 64), target (B, 64, 64) classes
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(args, progress["step"], total_steps)
            loss = F.cross_entropy(model(x), target)               # logits (B, 4, 64, 64): mean over B*64*64 pixels
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            progress["losses"].append(loss.item())
            progress["step"] += 1
            bar.update(1)
        progress["epoch"] = epoch + 1
        if progress["epoch"] % args.eval_every == 0 or progress["epoch"] == args.epochs:
            miou = evaluate(model, first_scenes(test, CURVE_SCENES), args.device)[0]["miou"]  # all at the end
            progress["evals"].append([progress["step"], miou])
            bar.set_postfix(loss=f"{np.mean(progress['losses'][-steps_per_epoch:]):.4f}", miou=f"{miou:.4f}")
        progress["seconds"] += time.time() - start
        progress["cpu_seconds"] += time.process_time() - cpu_start
        start, cpu_start = time.time(), time.process_time()
        common.save_checkpoint(args, model, optimizer, progress)
    bar.close()

    metrics, predictions = evaluate(model, test, args.device)
    seconds = progress["seconds"] + time.time() - start  # training and evaluation, summed over resumed runs
    # this process's CPU time (all its threads): unlike wall time, not inflated when other programs share the cores
    cpu_seconds = progress["cpu_seconds"] + time.process_time() - cpu_start
    save_overlays(os.path.join(args.out, "overlays.png"), test, predictions,
                  f"U-Net ({name}) on held-out scenes: mean IoU {metrics['miou']:.3f}")
    common.plot_curves(os.path.join(args.out, "loss.png"), {"per-pixel cross-entropy": progress["losses"]},
                       xlabel="step", ylabel="loss", title=f"U-Net ({name}) training loss", log_y=True,
                       smooth=min(20, max(1, len(progress["losses"]) // 5)))
    evals = np.asarray(progress["evals"], dtype=float).reshape(-1, 2)
    reached = [int(step) for step, miou in evals if miou >= TARGET_MIOU]
    _plot_miou(os.path.join(args.out, "miou.png"), evals, name)
    metrics = common.write_metrics(args, dict(
        metrics, variant=name, upsampling=args.upsampling, dilated_bottleneck=args.dilated, width=args.width,
        depth=args.depth, parameters=parameters, epochs=args.epochs, steps=progress["step"],
        batch_size=args.batch_size, test_scenes=len(test), seconds=seconds, cpu_seconds=cpu_seconds,
        steps_to_target=reached[0] if reached else None))  # the first point of the curve at mIoU >= 0.90
    print(f"[{name}] held-out mean IoU {metrics['miou']:.4f} (" +
          ", ".join(f"{k} {v:.3f}" for k, v in metrics["per_class_iou"].items() if v is not None) +
          f"), pixel accuracy {metrics['pixel_accuracy']:.4f}, after {progress['step']} steps in {seconds:.0f} s")
    return metrics


def _plot_miou(path, evals, name):
    """Held-out mean IoU against the training step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(evals[:, 0], evals[:, 1], "o-", lw=1.5)
    ax.axhline(TARGET_MIOU, color="grey", ls="--", lw=1, label=f"target {TARGET_MIOU:.2f}")
    ax.set_xlabel("step")
    ax.set_ylabel(f"mean IoU, {CURVE_SCENES} held-out scenes")
    ax.set_ylim(0, 1)
    ax.set_title(f"U-Net ({name})")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def compare(args):
    """Train every variant of VARIANTS with the same budget, data and seed; write compare.md and compare.json."""
    rows, top = [], args.out
    for upsampling, dilated, depth in VARIANTS:
        variant_args = copy.copy(args)
        variant_args.upsampling, variant_args.dilated, variant_args.depth = upsampling, dilated, depth
        variant_args.out = os.path.join(top, re.sub(r"[^a-z0-9]+", "_", variant_name(variant_args)))
        metrics = train(variant_args)
        rows.append({k: metrics[k] for k in ("variant", "depth", "parameters", "miou", "per_class_iou",
                                             "pixel_accuracy", "steps_to_target", "seconds", "cpu_seconds", "steps")})
    with open(os.path.join(top, "compare.json"), "w") as f:
        json.dump(rows, f, indent=2)
    columns = ["variant", "parameters", "mIoU", *(f"IoU {c}" for c in CLASS_NAMES), "pixel accuracy",
               "steps to 0.90", "seconds", "CPU seconds"]
    caption = (f"U-Net variants, each trained for {rows[0]['steps']} steps on the same batches of "
               f"{args.batch_size} fresh scenes (seed {args.seed}), scored on {args.test_scenes} held-out scenes.")
    lines = [caption, "", "| " + " | ".join(columns) + " |", "| --- |" + " ---: |" * (len(columns) - 1)]
    for row in rows:
        cells = [row["variant"], f"{row['parameters']:,}", f"{row['miou']:.4f}",
                 *("n/a" if v is None else f"{v:.4f}" for v in row["per_class_iou"].values()),
                 f"{row['pixel_accuracy']:.4f}", str(row["steps_to_target"] or "not reached"),
                 f"{row['seconds']:.0f}", f"{row['cpu_seconds']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    with open(os.path.join(top, "compare.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return common.write_metrics(args, {"compare": rows, "seconds": sum(row["seconds"] for row in rows)})


def main(argv=None):
    parser = common.parser("train_unet", __doc__.split("\n")[0])
    parser.add_argument("--upsampling", default="transpose", choices=["transpose", "unpool", "bilinear"])
    parser.add_argument("--dilated", action="store_true", help="add the dilated context block to the bottleneck")
    parser.add_argument("--compare", action="store_true", help="train every variant with equal budgets")
    parser.add_argument("--width", type=int, default=16, help="channels of the first level (doubling per level)")
    parser.add_argument("--depth", type=int, default=DEFAULT_DEPTH, help="number of 2x2 poolings")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--epoch-size", type=int, default=512, help="fresh training scenes per epoch")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--warmup", type=int, default=64, help="steps of linear learning-rate warm-up")
    parser.add_argument("--test-scenes", type=int, default=500)
    parser.add_argument("--eval-every", type=int, default=2, help="epochs between held-out evaluations")
    args = parser.parse_args(argv)
    if args.smoke:
        args.epochs, args.epoch_size, args.batch_size, args.test_scenes, args.eval_every = 2, 16, 8, 16, 1
    if args.epoch_size < args.batch_size:
        parser.error(f"--epoch-size {args.epoch_size} must be at least --batch-size {args.batch_size}")
    return compare(args) if args.compare else train(args)


if __name__ == "__main__":
    main()
