"""A tiny YOLO detector on synthetic shapes scenes: loss terms, precision-recall curves, detections, mAP@0.5.

    python examples/train_yolo.py            # target mAP@0.5 >= 0.90 on 500 held-out scenes; 1.000 in 2-6 minutes
    python examples/train_yolo.py --smoke    # a few steps, for the test suite

Data: ``tinydl.data.make_shapes`` scenes, 64x64 RGB images with one to three
circles, squares and triangles on a textured background.  Scenes are cheap to
make (about 1500 a second), so every epoch trains on *fresh* ones, drawn with
the seed ``(seed, epoch)``: the detector never sees a scene twice, and there
is nothing to overfit.  The held-out scenes come from another seed
(``1000 + seed``), so they are never trained on.

Model: ``TinyYOLO`` (tinydl/models/yolo.py): a darknet-style backbone down to
an 8x8 grid and a YOLOv1 head with one box per cell (``--boxes-per-cell 2``
for the paper's two), trained with YOLOv1's loss (coordinates, objectness,
no-object, class) and Adam with a cosine learning rate.  Scored with PASCAL VOC's all-point average precision at IoU
0.5 per class (``tinydl.vision.mean_average_precision``, docs/detection.md),
and at IoU 0.75, which shows how tightly the boxes fit.  On a machine shared
with other jobs, ``OPENBLAS_NUM_THREADS=1`` can make it several times faster.
"""
import math
import time

import numpy as np

import common
import tinydl as td
from tinydl import optim
from tinydl.data import SHAPE_CLASSES, make_shapes
from tinydl.models import TinyYOLO
from tinydl.vision import mean_average_precision

CLASS_COLOURS = ("tab:orange", "tab:cyan", "tab:pink")  # one per class, for the pictures


def evaluate(model, scenes, conf_threshold=0.01):
    """The model's detections on ``scenes``, their MAPResults at IoU 0.5 (the headline) and 0.75, and
    the milliseconds per image that ``detect`` took.

    A low ``conf_threshold`` keeps nearly every box: AP integrates precision over all recalls,
    so the ranking, not a threshold, decides the score.  At IoU 0.75 a box must fit much
    more tightly to count: that number shows how well the boxes are placed."""
    start = time.perf_counter()
    detections = model.detect(scenes.images, conf_threshold=conf_threshold, iou_threshold=0.5)
    ms_per_image = 1000 * (time.perf_counter() - start) / len(scenes)
    targets = [scenes.objects(i) for i in range(len(scenes))]
    results = {iou: mean_average_precision(detections, targets, num_classes=len(SHAPE_CLASSES), iou_threshold=iou)
               for iou in (0.5, 0.75)}
    return detections, results[0.5], results[0.75], ms_per_image


def cosine_lr(base_lr, step, total_steps, final_fraction=0.02):
    """The learning rate at ``step``: from base_lr down to final_fraction * base_lr along half a cosine."""
    t = min(step / max(total_steps, 1), 1.0)
    return base_lr * (final_fraction + (1 - final_fraction) * 0.5 * (1 + math.cos(math.pi * t)))


def save_pr_curves(results, path):
    """Precision against recall for each class, one panel per IoU threshold (``results``: IoU -> MAPResult).

    Thin lines: precision after each ranked detection; thick: its envelope, the best
    precision at that recall or more, whose area is the AP."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 3.8), squeeze=False)
    for ax, (iou, result) in zip(axes[0], results.items()):
        for c, (name, curve) in enumerate(zip(SHAPE_CLASSES, result.curves)):
            envelope = np.maximum.accumulate(curve.precision[::-1])[::-1]
            ax.plot(curve.recall, curve.precision, color=CLASS_COLOURS[c], lw=0.8, alpha=0.5)
            ax.plot(curve.recall, envelope, color=CLASS_COLOURS[c], lw=2, label=f"{name}: AP {curve.ap:.3f}")
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_xlim(0, 1.01)
        ax.set_ylim(0, 1.02)
        ax.set_title(f"IoU >= {iou}: mAP {result.map:.3f}", fontsize=10)
        ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def save_detections(scenes, detections, path, rows=3, cols=5, show_threshold=0.3):
    """A grid of scenes with the detections scoring >= show_threshold (class and score) over the
    ground truth (thin white dashes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    fig, axes = plt.subplots(rows, cols, figsize=(cols * 2.2, rows * 2.3))
    for i, ax in enumerate(axes.ravel()):
        ax.imshow(scenes.images[i].transpose(1, 2, 0))
        for (x1, y1, x2, y2), _ in zip(*scenes.objects(i)):
            ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, ec="white", lw=1, ls="--", alpha=0.7))
        for (x1, y1, x2, y2), score, label in zip(*detections[i]):
            if score < show_threshold:
                continue
            colour = CLASS_COLOURS[label]
            ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, ec=colour, lw=1.8))
            ax.text(x1, y1 - 1, f"{SHAPE_CLASSES[label]} {score:.2f}", color="black", fontsize=6.5,
                    bbox={"facecolor": colour, "edgecolor": "none", "pad": 0.6})
        ax.set_xlim(-0.5, scenes.images.shape[-1] - 0.5)
        ax.set_ylim(scenes.images.shape[-1] - 0.5, -0.5)
        ax.axis("off")
    fig.suptitle(f"held-out scenes: detections (score >= {show_threshold}), ground truth dashed", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = common.parser("train_yolo", __doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--scenes-per-epoch", type=int, default=2000, help="fresh training scenes each epoch")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--width", type=int, default=16, help="channels of the first conv (doubled per pool)")
    parser.add_argument("--boxes-per-cell", type=int, default=1,
                        help="B; the paper's 2 trains a little worse here, where every box is square")
    parser.add_argument("--lambda-coord", type=float, default=5.0)
    parser.add_argument("--lambda-noobj", type=float, default=0.5)
    parser.add_argument("--val-scenes", type=int, default=500)
    parser.add_argument("--eval-every", type=int, default=2, help="epochs between held-out mAP evaluations")
    parser.add_argument("--max-minutes", type=float, default=8.0, help="stop training after this long")
    args = parser.parse_args(argv)
    if args.smoke:
        args.epochs, args.scenes_per_epoch, args.batch_size, args.val_scenes = 1, 32, 16, 32
    common.prepare(args)
    start = time.time()

    val = make_shapes(args.val_scenes, seed=1000 + args.seed)
    model = TinyYOLO(num_classes=len(SHAPE_CLASSES), grid_size=8, boxes_per_cell=args.boxes_per_cell,
                     image_size=64, width=args.width).to(args.device)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    progress = common.load_checkpoint(args, model, optimizer) or {
        "epoch": 0, "step": 0, "loss": {"total": [], "coord": [], "obj": [], "noobj": [], "class": []}, "val_map": []}
    steps_per_epoch = args.scenes_per_epoch // args.batch_size
    total_steps = args.epochs * steps_per_epoch
    print(f"train_yolo: {args.epochs} epochs of {args.scenes_per_epoch} fresh 64x64 scenes, "
          f"{sum(p.data.size for p in model.parameters())} parameters, device {args.device}")

    bar = common.progress(range(progress["epoch"], args.epochs), desc="training", unit="epoch")
    for epoch in bar:
        scenes = make_shapes(args.scenes_per_epoch, seed=[args.seed, epoch])  # never seen before
        for i in range(steps_per_epoch):
            batch = slice(i * args.batch_size, (i + 1) * args.batch_size)
            for group in optimizer.param_groups:
                group["lr"] = cosine_lr(args.lr, progress["step"], total_steps)
            predictions = model(td.tensor(scenes.images[batch], device=args.device))  # (N, 8, 8, 5B + C)
            loss, terms = model.loss(predictions, scenes.boxes[batch], scenes.labels[batch],
                                     lambda_coord=args.lambda_coord, lambda_noobj=args.lambda_noobj)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            progress["step"] += 1
            progress["loss"]["total"].append(loss.item())
            for name, term in terms.items():
                progress["loss"][name].append(term.item())
        progress["epoch"] = epoch + 1
        postfix = {"loss": f"{np.mean(progress['loss']['total'][-steps_per_epoch:]):.3f}"}
        if (epoch + 1) % args.eval_every == 0 and epoch + 1 < args.epochs:  # the last epoch is evaluated below
            _, at_50, at_75, _ = evaluate(model, val)
            progress["val_map"].append([epoch + 1, at_50.map, at_75.map])
            postfix["val mAP@0.5"], postfix["@0.75"] = f"{at_50.map:.3f}", f"{at_75.map:.3f}"
            common.save_checkpoint(args, model, optimizer, progress)
        bar.set_postfix(postfix)
        if time.time() - start > 60 * args.max_minutes and epoch + 1 < args.epochs:
            print(f"train_yolo: stopping after {args.max_minutes} minutes, at epoch {epoch + 1}")
            break

    detections, result, at_75, ms_per_image = evaluate(model, val)
    if not progress["val_map"] or progress["val_map"][-1][0] != progress["epoch"]:
        progress["val_map"].append([progress["epoch"], result.map, at_75.map])
    common.save_checkpoint(args, model, optimizer, progress)
    seconds = time.time() - start
    common.plot_curves(f"{args.out}/loss.png", progress["loss"], log_y=True, smooth=min(50, steps_per_epoch),
                       title="YOLO loss and its terms (weighted), per step")
    save_pr_curves({0.5: result, 0.75: at_75}, f"{args.out}/pr_curves.png")
    save_detections(val, detections, f"{args.out}/detections.png")
    metrics = common.write_metrics(args, {
        "map50": result.map, "ap_per_class": dict(zip(SHAPE_CLASSES, result.ap.tolist())),
        "map75": at_75.map, "ap75_per_class": dict(zip(SHAPE_CLASSES, at_75.ap.tolist())),
        "epochs": progress["epoch"], "steps": progress["step"], "val_scenes": args.val_scenes,
        "stopped_early": progress["epoch"] < args.epochs,  # the --max-minutes budget ran out first
        "val_map_history": progress["val_map"],  # rows: epoch, mAP@0.5, mAP@0.75
        "inference_ms_per_image": ms_per_image, "seconds": seconds})
    per_class = ", ".join(f"{name} {ap:.3f}" for name, ap in metrics["ap_per_class"].items())
    print(f"mAP@0.5 {result.map:.3f} ({per_class}), mAP@0.75 {at_75.map:.3f} on {args.val_scenes} held-out scenes "
          f"after {progress['step']} steps in {seconds:.0f} s")
    return metrics


if __name__ == "__main__":
    main()
