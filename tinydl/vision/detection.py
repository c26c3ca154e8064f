"""Detection metrics: average precision (AP) of one class and its mean over classes (mAP), PASCAL VOC style.

How a detector is scored (Everingham et al., "The PASCAL Visual Object Classes
Challenge", IJCV 2010; the all-point AP of the VOC 2010+ development kit):

1. Rank every detection of the class, over all images, by score (a stable
   sort: equal scores keep the order they were given in, image by image).
2. Going down the ranking, match each detection to the ground-truth box *in its
   own image* with the highest IoU.  It is a true positive (TP) if that IoU is
   >= ``iou_threshold`` (0.5) and that ground truth is not matched yet; else a
   false positive (FP): a second detection of a matched object is a duplicate.
   As in VOC, a detection whose best ground truth is taken does not fall back
   to its second best (COCO's matcher does).
3. After the k-th detection, precision_k = TP_k / k and recall_k = TP_k / G,
   with G the number of ground-truth boxes.
4. AP is the area under the precision-recall curve after making precision
   non-increasing from the right (the best precision at recall r_k *or more*):
   ``AP = sum_k (r_k - r_{k-1}) * max_{j >= k} p_j``, with r_0 = 0.

Boxes are continuous ``[x1, y1, x2, y2]`` (no "+ 1 pixel" as in the old VOC
code) and there are no "difficult" objects.  ``mask_mean_average_precision``
scores instance masks the same way, matching by mask IoU instead of box IoU
(COCO's "segm" idea with VOC's AP; the masks live in masks.py).  The metrics take NumPy arrays, CuPy
arrays or tinydl Tensors (on any device), copy them to the host, compute with
NumPy and are not differentiable.
"""
import numbers
import warnings
from collections import namedtuple

import numpy as np

from .boxes import _iou, as_boxes, as_labels, as_scores, as_threshold
from .masks import _mask_iou, as_masks

APResult = namedtuple("APResult", ["ap", "precision", "recall"])
APResult.__doc__ = """One class's ``ap`` (a float), its ``precision`` and ``recall`` (K,) along its K detections."""

MAPResult = namedtuple("MAPResult", ["map", "ap", "curves"])
MAPResult.__doc__ = """``map`` the mean AP over the classes with ground truth, ``ap`` (C,) the AP of each class,
``curves`` the list of each class's APResult."""


# ---- the computation, on checked arrays --------------------------------------
def _all_point_area(precision, recall):
    """All-point interpolated AP: sum_k (r_k - r_{k-1}) * (the best precision at rank k or later)."""
    envelope = np.maximum.accumulate(precision[::-1])[::-1]  # (K,) non-increasing from the right
    steps = np.diff(recall, prepend=0.0)  # (K,) r_k - r_{k-1}: 1/G at a TP, 0 at an FP
    return float(np.sum(steps * envelope))


def _average_precision(boxes, scores, truths, threshold, overlap=_iou):
    """AP of one class from checked per-image lists: boxes (k_i, 4), scores (k_i,), truths (g_i, 4).

    ``overlap(detections, truths) -> (k_i, g_i)`` scores a match: box IoU, or ``_mask_iou`` for
    mask AP, where ``boxes`` and ``truths`` are masks (k_i, H, W) and (g_i, H, W)."""
    # 1. In each image, every detection's best ground truth (as a number counted over all
    #    images, -1 where the image has none) and its IoU with it.
    best_gt, best_iou = [], []
    first_gt = 0  # the number of ground truths in the images before this one
    for image_boxes, image_truths in zip(boxes, truths):  # a loop over images; each is one broadcast
        if len(image_truths):
            iou = overlap(image_boxes, image_truths)  # (k_i, g_i)
            best_gt.append(first_gt + iou.argmax(axis=1))  # argmax: the first of equal IoUs, as VOC
            best_iou.append(iou.max(axis=1))
        else:
            best_gt.append(np.full(len(image_boxes), -1))
            best_iou.append(np.zeros(len(image_boxes)))
        first_gt += len(image_truths)
    num_truths = first_gt
    scores = np.concatenate([np.zeros(0), *scores])  # (K,) every detection of every image
    best_gt = np.concatenate([np.zeros(0, dtype=np.int64), *best_gt]).astype(np.int64)
    best_iou = np.concatenate([np.zeros(0), *best_iou])

    # 2. Rank the detections, highest score first; equal scores keep their input order.
    order = np.argsort(-scores, kind="stable")
    best_gt, best_iou = best_gt[order], best_iou[order]

    # 3. A detection claims its best ground truth if their IoU reaches the threshold.  The
    #    first claimant in the ranking gets it (TP); later ones are duplicates (FP), as are
    #    detections that claim nothing.  np.unique's return_index gives each first occurrence.
    claims = (best_gt >= 0) & (best_iou >= threshold)  # (K,)
    claimants = np.flatnonzero(claims)  # ranks of the claiming detections, in ranking order
    _, first = np.unique(best_gt[claimants], return_index=True)
    true_positive = np.zeros(len(order), dtype=bool)
    true_positive[claimants[first]] = True

    # 4. Precision and recall after each detection, and the area under the curve.
    tp = np.cumsum(true_positive)  # (K,) TPs among the first k detections
    precision = tp / np.arange(1, len(order) + 1)
    if num_truths == 0:  # recall, and so AP, are undefined (0 / 0)
        return APResult(float("nan"), precision, np.full(len(order), np.nan))
    recall = tp / num_truths
    return APResult(_all_point_area(precision, recall), precision, recall)


def _mean_over_classes(regions, scores, labels, truths, truth_labels, num_classes, threshold, overlap):
    """Each class's AP (its detections against its ground truths) and their mean, as a MAPResult."""
    curves = []
    for c in range(num_classes):  # each class on its own: its detections and its ground truths
        curves.append(_average_precision(
            [r[l == c] for r, l in zip(regions, labels)],
            [s[l == c] for s, l in zip(scores, labels)],
            [g[gl == c] for g, gl in zip(truths, truth_labels)],
            threshold,
            overlap,
        ))
    ap = np.array([curve.ap for curve in curves], dtype=np.float64)
    with warnings.catch_warnings():  # nanmean of all-nan warns "Mean of empty slice"; nan is the answer
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = float(np.nanmean(ap))
    return MAPResult(mean, ap, curves)


# ---- checking the arguments --------------------------------------------------------
def _same_length(op, **lists):
    """Raise unless every per-image list has the same length (one entry per image)."""
    lengths = {name: len(value) for name, value in lists.items()}
    if len(set(lengths.values())) > 1:
        told = ", ".join(f"len({name}) = {n}" for name, n in lengths.items())
        raise ValueError(f"{op}: need one entry per image in each list, got {told}")


def _check_classes(labels, num_classes, op, name):
    """Raise unless every label of ``labels`` is a class index in [0, num_classes)."""
    bad = (labels < 0) | (labels >= num_classes)
    if bad.any():
        raise ValueError(
            f"{op}: {name} must be class indices in [0, {num_classes}), got {int(labels[bad][0])} "
            f"(drop padding such as make_shapes' -1 labels first: scenes.objects(i))"
        )


def _check_num_classes(num_classes, op):
    """Raise unless ``num_classes`` is a positive int."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 1:
        raise ValueError(f"{op}: num_classes must be a positive int, got {num_classes!r}")


def _unpack(entry, parts, op, name):
    """``entry`` as a tuple of ``len(parts)`` items, or an error that says what it should be."""
    try:
        items = tuple(entry)
    except TypeError:
        items = ()
    if len(items) != len(parts):
        raise ValueError(f"{op}: {name} must be a tuple ({', '.join(parts)}), got {type(entry).__name__} "
                         f"of {len(items)} items")
    return items


def _checked_entries(predictions, targets, num_classes, op, as_items, parts):
    """Every image's (items, scores, labels) prediction and (items, labels) target, unpacked and checked:
    five lists over images.  ``as_items`` checks the boxes (or masks), ``parts`` names them in errors."""
    kind = parts[0].split()[0]  # "boxes" or "masks"
    items, scores, labels, truths, truth_labels = [], [], [], [], []
    for i, (prediction, target) in enumerate(zip(predictions, targets)):
        p, s, l = _unpack(prediction, (parts[0], "scores (k,)", "labels (k,)"), op, f"predictions[{i}]")
        items.append(as_items(p, op, f"predictions[{i}] {kind}"))
        scores.append(as_scores(s, len(items[-1]), op, f"predictions[{i}] scores"))
        labels.append(as_labels(l, len(items[-1]), op, f"predictions[{i}] labels"))
        _check_classes(labels[-1], num_classes, op, f"predictions[{i}] labels")
        g, gl = _unpack(target, (parts[1], "labels (g,)"), op, f"targets[{i}]")
        truths.append(as_items(g, op, f"targets[{i}] {kind}"))
        truth_labels.append(as_labels(gl, len(truths[-1]), op, f"targets[{i}] labels"))
        _check_classes(truth_labels[-1], num_classes, op, f"targets[{i}] labels")
    return items, scores, labels, truths, truth_labels


# ---- the public functions ----------------------------------------------------------
def average_precision(pred_boxes, pred_scores, gt_boxes, iou_threshold=0.5):
    """PASCAL VOC average precision of ONE class over a set of images, as an ``APResult(ap, precision, recall)``.

    pred_boxes: a list over images of (k_i, 4) detections ``[x1, y1, x2, y2]``;
    pred_scores: a list of their (k_i,) scores; gt_boxes: a list of the (g_i, 4)
    ground-truth boxes of the same images.  ``precision`` and ``recall`` are (K,)
    arrays along the ranking of all K detections (for a precision-recall plot).
    Detections with equal scores are ranked in the order given (stable sort).
    With no ground truth at all AP is nan (recall is 0/0) and so is ``recall``;
    with ground truth but no detections AP is 0.  See the module docstring.
    """
    op = "average_precision"
    _same_length(op, pred_boxes=pred_boxes, pred_scores=pred_scores, gt_boxes=gt_boxes)
    threshold = as_threshold(iou_threshold, op)
    boxes = [as_boxes(b, op, f"pred_boxes[{i}]") for i, b in enumerate(pred_boxes)]
    scores = [as_scores(s, len(b), op, f"pred_scores[{i}]") for i, (s, b) in enumerate(zip(pred_scores, boxes))]
    truths = [as_boxes(g, op, f"gt_boxes[{i}]") for i, g in enumerate(gt_boxes)]
    return _average_precision(boxes, scores, truths, threshold)


def mean_average_precision(predictions, targets, num_classes, iou_threshold=0.5):
    """PASCAL VOC mean average precision over classes, as a ``MAPResult(map, ap, curves)``.

    predictions: a list over images of ``(boxes (k, 4), scores (k,), labels (k,))``;
    targets: a list over the same images of ``(boxes (g, 4), labels (g,))``; labels
    are class indices in [0, num_classes).  Each class is scored on its own with
    ``average_precision``: ``ap`` is the (num_classes,) array of their APs, ``curves``
    the list of their APResults, and ``map`` the mean AP over the classes that have
    ground truth (a class with none has AP nan and is left out, as in VOC; nan if
    no class has any).
    """
    op = "mean_average_precision"
    _same_length(op, predictions=predictions, targets=targets)
    _check_num_classes(num_classes, op)
    threshold = as_threshold(iou_threshold, op)

    boxes, scores, labels, truths, truth_labels = _checked_entries(
        predictions, targets, num_classes, op, as_boxes, ("boxes (k, 4)", "boxes (g, 4)"))
    return _mean_over_classes(boxes, scores, labels, truths, truth_labels, num_classes, threshold, _iou)


def mask_mean_average_precision(predictions, targets, num_classes, iou_threshold=0.5):
    """``mean_average_precision`` with masks instead of boxes (mask AP), as a ``MAPResult(map, ap, curves)``.

    predictions: a list over images of ``(masks (k, H, W), scores (k,), labels (k,))``;
    targets: a list over the same images of ``(masks (g, H, W), labels (g,))``; masks are bool
    (or all 0 and 1), such as ``paste_masks``' output and make_shapes' ``instance_masks``.
    The same VOC all-point AP per class, mean over the classes with ground truth, but a
    detection matches a ground truth by mask IoU (pixels in both / pixels in either), COCO's
    "segm" idea scored the VOC way.
    """
    op = "mask_mean_average_precision"
    _same_length(op, predictions=predictions, targets=targets)
    _check_num_classes(num_classes, op)
    threshold = as_threshold(iou_threshold, op)

    masks, scores, labels, truths, truth_labels = _checked_entries(
        predictions, targets, num_classes, op, as_masks, ("masks (k, H, W)", "masks (g, H, W)"))
    for i, (m, g) in enumerate(zip(masks, truths)):
        if len(m) and len(g) and m.shape[1:] != g.shape[1:]:
            raise ValueError(f"{op}: predictions[{i}] masks and targets[{i}] masks must have the same image "
                             f"size, got shapes {m.shape} and {g.shape}")
    return _mean_over_classes(masks, scores, labels, truths, truth_labels, num_classes, threshold, _mask_iou)

