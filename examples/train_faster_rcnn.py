"""Faster R-CNN (and Mask R-CNN with --mask) on synthetic shapes scenes: proposals, RoIs, detections, mAP.

    python examples/train_faster_rcnn.py                # map50 >= 0.95 and map75 >= 0.85 on 500 held-out scenes
    python examples/train_faster_rcnn.py --mask         # + a mask head: mask_map50 >= 0.90
    python examples/train_faster_rcnn.py --roi pool     # Fast R-CNN's RoIPool instead of RoIAlign
    python examples/train_faster_rcnn.py --compare      # RoIAlign and RoIPool, same data and budget: compare.md
    python examples/train_faster_rcnn.py --smoke        # a few steps, for the test suite

Data: the scenes of train_yolo.py (``tinydl.data.make_shapes``, 64x64, one to
three circles, squares and triangles), fresh ones every epoch (seed
``(seed, epoch)``), scored on the same 500 held-out scenes as tiny YOLO (seed
``1000 + seed``), so that the two detectors can be set side by side
(docs/faster_rcnn.md).  With --mask the targets include each object's
instance mask (``scenes.instance_masks``).

Model: ``tinydl.models.FasterRCNN``: a five-conv backbone at stride 4, the
region proposal network with 9 anchors per cell, the RoI head on 7x7
RoIAlign (or RoIPool) crops, and with --mask Mask R-CNN's mask head; the four
(five) losses are trained jointly with Adam and a cosine learning rate.
Metrics: VOC all-point mAP at IoU 0.5 and 0.75 (``map50``, ``map75``), and
with --mask the same AP with mask IoU (``mask_map50``).  Figures: the anchors
of one cell, proposals before and after NMS, sampled RoIs with their RoIAlign
and RoIPool grids, detections (and masks), loss curves, precision-recall.
On a machine shared with other jobs, ``OPENBLAS_NUM_THREADS=1`` can help.
"""
import argparse
import json
import os
import time

import numpy as np

import common
import tinydl as td
from tinydl import optim
from tinydl.data import SHAPE_CLASSES, make_shapes
from tinydl.models import FasterRCNN
from tinydl.vision import batched_box_iou, mask_mean_average_precision, mean_average_precision
from train_yolo import CLASS_COLOURS, cosine_lr, save_pr_curves

LOSS_TERMS = ("rpn_objectness", "rpn_box", "roi_class", "roi_box", "mask")


def evaluate(model, scenes):
    """Detections on ``scenes`` and the MAPResults at box IoU 0.5 and 0.75 (and mask IoU 0.5, or None),
    plus the inference time per image in milliseconds."""
    start = time.perf_counter()
    detections = model.detect(td.tensor(scenes.images, device=_device(model)))
    ms_per_image = 1000 * (time.perf_counter() - start) / len(scenes)
    targets = [scenes.objects(i) for i in range(len(scenes))]
    boxes_only = [(d.boxes, d.scores, d.labels) for d in detections]
    at_50, at_75 = (mean_average_precision(boxes_only, targets, num_classes=len(SHAPE_CLASSES), iou_threshold=iou)
                    for iou in (0.5, 0.75))
    masks_50 = None
    if model.mask_head is not None:
        instances = scenes.instance_masks()  # (n, M, S, S)
        truth = [(instances[i][scenes.labels[i] >= 0], scenes.objects(i)[1]) for i in range(len(scenes))]
        masks_50 = mask_mean_average_precision([(d.masks, d.scores, d.labels) for d in detections], truth,
                                               num_classes=len(SHAPE_CLASSES), iou_threshold=0.5)
    return detections, at_50, at_75, masks_50, ms_per_image


# ---- figures ----------------------------------------------------------------------------------
def _axes(rows, cols, size=2.6):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * size), squeeze=False)
    return plt, fig, axes


def _device(model):
    return model.rpn.conv.weight.device


def _show(ax, image, title=""):
    ax.imshow(image.transpose(1, 2, 0))
    ax.set_xlim(-0.5, image.shape[-1] - 0.5)
    ax.set_ylim(image.shape[-1] - 0.5, -0.5)
    ax.set_title(title, fontsize=8)
    ax.axis("off")


def _box(ax, box, colour, lw=1.2, ls="-", alpha=1.0):
    from matplotlib.patches import Rectangle

    x1, y1, x2, y2 = box
    ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, ec=colour, lw=lw, ls=ls, alpha=alpha))


def save_anchors(model, scenes, path):
    """Left: the A anchors of the centre cell.  Right: the positive anchors of one scene (IoU >= 0.7, or
    an object's best), drawn over the truths."""
    plt, fig, axes = _axes(1, 2, 3.4)
    S = model.image_size
    A = len(model.anchors) // (S // model.backbone.stride) ** 2
    centre = ((S // model.backbone.stride) ** 2 // 2 + S // model.backbone.stride // 2) * A
    _show(axes[0, 0], scenes.images[0] * 0.4 + 0.6, f"the {A} anchors of one cell")
    for k, box in enumerate(model.anchors[centre:centre + A]):
        _box(axes[0, 0], box, f"C{k % 3}", lw=1.5)
    matched, positive, _ = model.sample_anchors(scenes.boxes[:1].astype(np.float64), scenes.labels[:1] >= 0,
                                                np.random.default_rng(0))
    _show(axes[0, 1], scenes.images[0], f"{int((matched[0] >= 0).sum())} positive anchors")
    for box in model.anchors[matched[0] >= 0]:
        _box(axes[0, 1], box, "yellow", lw=0.8, alpha=0.8)
    for box in scenes.objects(0)[0]:
        _box(axes[0, 1], box, "white", lw=1.5, ls="--")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def save_proposals(model, scenes, path, count=3):
    """For a few held-out scenes: the 300 best-scoring decoded anchors before NMS, and what NMS keeps."""
    count = min(count, len(scenes))
    plt, fig, axes = _axes(2, count)
    model.eval()
    with td.no_grad():
        _, logits, deltas = model(td.tensor(scenes.images[:count], device=_device(model)))
        before = model.propose(logits, deltas, 300, 300, nms_threshold=1.0)  # no suppression
        after = model.propose(logits, deltas, 300, 10)
    model.train()
    for i in range(count):
        for row, (boxes, name) in enumerate(((before[i], "before NMS"), (after[i], "after NMS 0.7, top 10"))):
            _show(axes[row, i], scenes.images[i], f"{len(boxes)} proposals {name}")
            for box in boxes[::-1]:
                _box(axes[row, i], box, "yellow", lw=0.5 if row == 0 else 1.2, alpha=0.35 if row == 0 else 0.9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def save_rois(model, scenes, path):
    """The RoIs sampled for training on one scene (positives green, background red), and one positive
    RoI with RoIAlign's 7x7 bins and 2x2 bilinear samples per bin next to RoIPool's bins rounded to the
    feature grid (stride 4): the quantization that RoIAlign removes."""
    plt, fig, axes = _axes(1, 3, 3.2)
    model.eval()  # batch norm with its running statistics, and without updating them
    with td.no_grad():
        _, logits, deltas = model(td.tensor(scenes.images[:1], device=_device(model)))
    model.train()
    proposals = model.propose(logits, deltas, 300, 150)
    boxes = scenes.boxes[:1].astype(np.float64)
    rois, classes, _ = model.sample_rois(proposals, boxes, scenes.labels[:1], np.random.default_rng(0))
    _show(axes[0, 0], scenes.images[0], f"{(classes > 0).sum()} positive, {(classes == 0).sum()} background RoIs")
    for roi, u in zip(rois[::-1], classes[::-1]):
        _box(axes[0, 0], roi[1:], "lime" if u > 0 else "red", lw=0.7, alpha=0.7)
    positive = rois[classes > 0]
    roi = positive[np.argmax(batched_box_iou(positive[None, :, 1:], boxes)[0].max(axis=1) < 0.9)] if len(positive) \
        else rois[0]  # an imperfect positive (not a truth itself), when there is one
    x1, y1, x2, y2 = roi[1:]
    p, stride = model.pool_size, model.backbone.stride
    _show(axes[0, 1], scenes.images[0], "RoIAlign: 7x7 bins, 2x2 samples each")
    _box(axes[0, 1], roi[1:], "lime", lw=1.5)
    edges_x, edges_y = np.linspace(x1, x2, p + 1), np.linspace(y1, y2, p + 1)
    for e in edges_x:
        axes[0, 1].plot([e, e], [y1, y2], color="lime", lw=0.4)
    for e in edges_y:
        axes[0, 1].plot([x1, x2], [e, e], color="lime", lw=0.4)
    samples_x = x1 + (np.arange(2 * p) + 0.5) * (x2 - x1) / (2 * p)
    samples_y = y1 + (np.arange(2 * p) + 0.5) * (y2 - y1) / (2 * p)
    sx, sy = np.meshgrid(samples_x, samples_y)
    axes[0, 1].scatter(sx.ravel(), sy.ravel(), s=1.5, color="white")
    _show(axes[0, 2], scenes.images[0], "RoIPool: bins rounded to the stride-4 grid")
    q = np.floor(roi[1:] / stride + 0.5)  # RoIPool rounds the corners to feature cells (halves away from 0)
    cell_x = q[0] + np.floor(np.arange(p + 1) * (q[2] - q[0] + 1) / p)
    cell_y = q[1] + np.floor(np.arange(p + 1) * (q[3] - q[1] + 1) / p)
    for e in cell_x * stride:
        axes[0, 2].plot([e, e], [cell_y[0] * stride, cell_y[-1] * stride], color="orange", lw=0.6)
    for e in cell_y * stride:
        axes[0, 2].plot([cell_x[0] * stride, cell_x[-1] * stride], [e, e], color="orange", lw=0.6)
    _box(axes[0, 2], roi[1:], "lime", lw=1.0, ls="--")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def save_detections(scenes, detections, path, rows=3, cols=5, show_threshold=0.3):
    """Held-out scenes with the detections scoring >= show_threshold (and their masks), truths dashed."""
    plt, fig, axes = _axes(rows, cols, 2.2)
    for i, ax in enumerate(axes.ravel()):
        if i >= len(scenes):
            ax.axis("off")
            continue
        image = scenes.images[i].copy()
        d = detections[i]
        keep = d.scores >= show_threshold
        if d.masks is not None:  # tint each mask with its class colour
            import matplotlib.colors as mcolors

            for mask, label in zip(d.masks[keep], d.labels[keep]):
                colour = np.array(mcolors.to_rgb(CLASS_COLOURS[label]), dtype=np.float32)[:, None]
                image[:, mask] = 0.45 * image[:, mask] + 0.55 * colour
        _show(ax, image)
        for box in scenes.objects(i)[0]:
            _box(ax, box, "white", lw=1, ls="--", alpha=0.7)
        for (x1, y1, x2, y2), score, label in zip(d.boxes[keep], d.scores[keep], d.labels[keep]):
            _box(ax, (x1, y1, x2, y2), CLASS_COLOURS[label], lw=1.6)
            ax.text(x1, y1 - 1, f"{SHAPE_CLASSES[label]} {score:.2f}", color="black", fontsize=6.5,
                    bbox={"facecolor": CLASS_COLOURS[label], "edgecolor": "none", "pad": 0.6})
    fig.suptitle(f"held-out scenes: detections (score >= {show_threshold}), ground truth dashed", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def save_masks(scenes, detections, path, count=6, show_threshold=0.3):
    """Top: held-out scenes.  Bottom: each detection's pasted mask in its class colour, with the
    outline of the true instance masks in white."""
    import matplotlib.colors as mcolors

    count = min(count, len(scenes))
    plt, fig, axes = _axes(2, count, 2.2)
    instances = scenes.instance_masks(slice(0, count))  # (count, M, S, S)
    for i in range(count):
        _show(axes[0, i], scenes.images[i])
        d = detections[i]
        painted = np.zeros_like(scenes.images[i])  # (3, S, S) black
        keep = d.scores >= show_threshold
        for mask, label in zip(d.masks[keep], d.labels[keep]):
            painted[:, mask] = np.array(mcolors.to_rgb(CLASS_COLOURS[label]), dtype=np.float32)[:, None]
        count_kept = int(keep.sum())
        _show(axes[1, i], painted, f"{count_kept} mask{'' if count_kept == 1 else 's'}")
        for truth in instances[i][scenes.labels[i] >= 0]:
            axes[1, i].contour(truth.astype(float), levels=[0.5], colors="white", linewidths=0.7)
    fig.suptitle("predicted masks (class colours) and the true instance outlines (white)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---- training ---------------------------------------------------------------------------------
def train(args):
    """One model (args.roi, args.mask) trained and evaluated into args.out; returns its metrics."""
    common.prepare(args)
    start = time.time()
    val = make_shapes(args.val_scenes, seed=1000 + args.seed)  # tiny YOLO's held-out scenes
    model = FasterRCNN(num_classes=len(SHAPE_CLASSES), image_size=64, width=args.width, roi=args.roi,
                       mask=args.mask).to(args.device)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    progress = common.load_checkpoint(args, model, optimizer) or {
        "epoch": 0, "step": 0, "train_seconds": 0.0, "stopped_early": False,
        "loss": {name: [] for name in ("total",) + LOSS_TERMS[:5 if args.mask else 4]}, "val_map": []}
    steps_per_epoch = args.scenes_per_epoch // args.batch_size
    total_steps = args.epochs * steps_per_epoch
    print(f"train_faster_rcnn: roi {args.roi}{', mask head' if args.mask else ''}, {args.epochs} epochs of "
          f"{args.scenes_per_epoch} fresh scenes, {sum(p.data.size for p in model.parameters())} parameters, "
          f"device {args.device}")

    bar = common.progress(range(progress["epoch"], args.epochs), desc=f"training ({args.roi})", unit="epoch")
    for epoch in bar:
        epoch_start = time.time()
        scenes = make_shapes(args.scenes_per_epoch, seed=[args.seed, epoch])  # never seen before
        gen = np.random.default_rng([args.seed, epoch])  # the anchor and RoI sampling: --resume repeats it exactly
        for i in range(steps_per_epoch):
            batch = slice(i * args.batch_size, (i + 1) * args.batch_size)
            for group in optimizer.param_groups:
                group["lr"] = cosine_lr(args.lr, progress["step"], total_steps)
            instances = scenes.instance_masks(batch) if args.mask else None
            loss, terms = model.losses(td.tensor(scenes.images[batch], device=args.device), scenes.boxes[batch],
                                       scenes.labels[batch], instances, gen=gen)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            progress["step"] += 1
            progress["loss"]["total"].append(loss.item())
            for name, term in terms.items():
                progress["loss"][name].append(term.item())
        progress["epoch"] = epoch + 1
        progress["train_seconds"] += time.time() - epoch_start
        bar.set_postfix(loss=f"{np.mean(progress['loss']['total'][-steps_per_epoch:]):.3f}")
        common.save_checkpoint(args, model, optimizer, progress)
        if common.out_of_time(args, "train_faster_rcnn", progress["train_seconds"], epoch + 1):
            break
    progress["stopped_early"] = progress["epoch"] < args.epochs  # the --max-minutes budget ran out first

    detections, at_50, at_75, masks_50, ms_per_image = evaluate(model, val)
    progress["val_map"].append([progress["epoch"], at_50.map, at_75.map])
    common.save_checkpoint(args, model, optimizer, progress)
    common.plot_curves(f"{args.out}/loss.png", progress["loss"], log_y=True, smooth=min(25, steps_per_epoch),
                       title=f"Faster R-CNN ({args.roi}) loss terms, per step")
    save_pr_curves({0.5: at_50, 0.75: at_75}, f"{args.out}/pr_curves.png")
    save_detections(val, detections, f"{args.out}/detections.png")
    if args.mask:
        save_masks(val, detections, f"{args.out}/masks.png")
    save_anchors(model, val, f"{args.out}/anchors.png")
    save_proposals(model, val, f"{args.out}/proposals.png")
    save_rois(model, val, f"{args.out}/rois.png")
    metrics = {"map50": at_50.map, "map75": at_75.map,
               "ap_per_class": dict(zip(SHAPE_CLASSES, at_50.ap.tolist())),
               "ap75_per_class": dict(zip(SHAPE_CLASSES, at_75.ap.tolist())),
               "roi": args.roi, "epochs": progress["epoch"], "steps": progress["step"],
               "stopped_early": progress["stopped_early"], "val_scenes": args.val_scenes,
               "train_seconds": progress["train_seconds"], "inference_ms_per_image": ms_per_image,
               "seconds": time.time() - start}
    if masks_50 is not None:
        metrics["mask_map50"] = masks_50.map
    metrics = common.write_metrics(args, metrics)
    masks = f", mask mAP@0.5 {masks_50.map:.3f}" if masks_50 is not None else ""
    print(f"roi {args.roi}: mAP@0.5 {at_50.map:.3f}, mAP@0.75 {at_75.map:.3f}{masks} on {args.val_scenes} held-out "
          f"scenes after {progress['step']} steps ({progress['train_seconds']:.0f} s of training), "
          f"{ms_per_image:.1f} ms per image to detect")
    return metrics


def compare(args):
    """RoIAlign and RoIPool trained on the same scenes, initial weights and budget (each in its own
    subfolder, so --resume resumes both); writes compare.json and compare.md."""
    results = {}
    for roi in ("align", "pool"):
        variant = argparse.Namespace(**dict(vars(args), roi=roi, out=os.path.join(args.out, f"roi_{roi}")))
        results[roi] = train(variant)
    keys = (("map50", "map75") + (("mask_map50",) if args.mask else ())
            + ("epochs", "stopped_early", "train_seconds", "inference_ms_per_image"))
    table = {roi: {key: results[roi][key] for key in keys} for roi in results}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "compare.json"), "w") as f:
        json.dump(dict(table, seed=args.seed, epochs=args.epochs, scenes_per_epoch=args.scenes_per_epoch), f,
                  indent=2)
    lines = ["| RoI op | " + " | ".join(keys) + " |", "| --- |" + " --- |" * len(keys)]
    for roi, row in table.items():
        lines.append(f"| {'RoIAlign' if roi == 'align' else 'RoIPool'} | "
                     + " | ".join(_cell(key, row[key]) for key in keys) + " |")
    with open(os.path.join(args.out, "compare.md"), "w") as f:
        f.write(f"Same data, initial weights and budget (seed {args.seed}); seconds of training, "
                "milliseconds per image to detect.\n\n" + "\n".join(lines) + "\n")
    print("\n".join(lines))
    return table


def _cell(key, value):
    """A compare.md cell: APs to 3 decimals, times to 1, the rest as they are."""
    if "map" in key:
        return f"{value:.3f}"
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def main(argv=None):
    parser = common.parser("train_faster_rcnn", __doc__.split("\n")[0])
    parser.add_argument("--roi", default="align", choices=["align", "pool"], help="the RoI op of both heads")
    parser.add_argument("--mask", action="store_true", help="add Mask R-CNN's mask head (reports mask_map50)")
    parser.add_argument("--compare", action="store_true", help="train RoIAlign and RoIPool on the same budget")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--scenes-per-epoch", type=int, default=1000, help="fresh training scenes each epoch")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--width", type=int, default=16, help="channels of the first conv (4 * width at the end)")
    parser.add_argument("--val-scenes", type=int, default=500)
    parser.add_argument("--max-minutes", type=float, default=7.0, help="stop training after this long")
    args = parser.parse_args(argv)
    if args.smoke:
        args.epochs, args.scenes_per_epoch, args.batch_size, args.val_scenes = 1, 16, 8, 6
    return compare(args) if args.compare else train(args)


if __name__ == "__main__":
    main()
