"""Boxes: area, intersection over union (IoU), and non-maximum suppression (NMS).

A box is a row ``[x1, y1, x2, y2]``: its top-left and bottom-right corners in
pixels, with ``x1 <= x2`` and ``y1 <= y2``, so it covers the area
``(x2 - x1) * (y2 - y1)`` (continuous coordinates: no "+ 1 pixel" as in the
old PASCAL VOC code).  The semantics are torchvision.ops' ``box_area``,
``box_iou``, ``nms`` and ``batched_nms``.

These are post-processing and evaluation tools, not layers: they take NumPy
arrays, CuPy arrays or tinydl Tensors (on any device), copy them to the host
once (``_host.py``: greedy NMS decides one box at a time, each decision a sync
on a GPU), compute with NumPy, return NumPy arrays, and are not differentiable.
"""
import numbers

import numpy as np

from ._host import to_host


# ---- checking the arguments ------------------------------------------------
def as_boxes(boxes, op, name="boxes"):
    """``boxes`` as a float (N, 4) NumPy array, checked; ``op`` and ``name`` go into the error messages.

    An empty 1-d array (``[]``, ``np.zeros(0)``) means no boxes, (0, 4).
    Floating dtypes are kept (as torchvision keeps them), integers become float64.
    """
    boxes = to_host(boxes)
    if boxes.shape == (0,):
        boxes = boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{op}: {name} must have shape (N, 4), rows [x1, y1, x2, y2], got shape {boxes.shape}")
    if boxes.dtype.kind not in "iuf":
        raise TypeError(f"{op}: {name} must hold numbers, got dtype {boxes.dtype} (shape {boxes.shape})")
    if boxes.dtype.kind != "f":
        boxes = boxes.astype(np.float64)
    if not np.isfinite(boxes).all():
        raise ValueError(f"{op}: {name} of shape {boxes.shape} hold NaN or infinite values")
    inverted = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    if inverted.any():
        first = int(np.flatnonzero(inverted)[0])
        raise ValueError(
            f"{op}: {name} must be [x1, y1, x2, y2] with x1 <= x2 and y1 <= y2, but row {first} of "
            f"{name} (shape {boxes.shape}) is {boxes[first].tolist()}"
        )
    return boxes


def as_scores(scores, n, op, name="scores"):
    """``scores`` as a float64 (n,) NumPy array, one finite score per box, checked."""
    scores = to_host(scores)
    if scores.shape != (n,):
        raise ValueError(f"{op}: {name} must have shape ({n},), one per box, got shape {scores.shape}")
    if scores.dtype.kind not in "biuf":
        raise TypeError(f"{op}: {name} must hold numbers, got dtype {scores.dtype}")
    scores = scores.astype(np.float64)
    if np.isnan(scores).any():
        raise ValueError(f"{op}: {name} of shape {scores.shape} hold NaN, which has no place in a ranking")
    return scores


def as_labels(labels, n, op, name="labels"):
    """``labels`` as an int64 (n,) NumPy array, one integer class per box, checked."""
    labels = to_host(labels)
    if labels.shape == (0,):  # [] is float64 to NumPy
        labels = labels.astype(np.int64)
    if labels.shape != (n,):
        raise ValueError(f"{op}: {name} must have shape ({n},), one per box, got shape {labels.shape}")
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{op}: {name} must be integer class indices, got dtype {labels.dtype}")
    return labels.astype(np.int64)


def as_threshold(iou_threshold, op):
    """``iou_threshold`` as a Python float, checked (any real number; NaN is refused)."""
    if isinstance(iou_threshold, bool) or not isinstance(iou_threshold, numbers.Real) or np.isnan(iou_threshold):
        raise TypeError(f"{op}: iou_threshold must be a number such as 0.5, got {iou_threshold!r}")
    return float(iou_threshold)


# ---- area and IoU ---------------------------------------------------------------
def _area(boxes):
    """(..., 4) checked boxes -> (...) areas."""
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def box_area(boxes):
    """The area of each box: (N, 4) rows ``[x1, y1, x2, y2]`` -> (N,)."""
    return _area(as_boxes(boxes, "box_area"))


def _iou(a, b):
    """(..., N, 4), (..., M, 4) checked boxes -> (..., N, M) IoU, every pair at once by broadcasting."""
    top_left = np.maximum(a[..., :, None, :2], b[..., None, :, :2])  # (..., N, M, 2) corners of the intersections
    bottom_right = np.minimum(a[..., :, None, 2:], b[..., None, :, 2:])  # (..., N, M, 2)
    sides = np.clip(bottom_right - top_left, 0, None)  # (..., N, M, 2) width, height; 0 where they don't overlap
    inter = sides[..., 0] * sides[..., 1]  # (..., N, M)
    union = _area(a)[..., :, None] + _area(b)[..., None, :] - inter  # (..., N, M)
    # two empty boxes (zero area) have an empty union: call their IoU 0, not 0/0 = nan
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def box_iou(a, b):
    """Intersection over union of every pair of boxes: (N, 4), (M, 4) -> (N, M).

    ``iou[i, j] = area(a_i & b_j) / area(a_i | b_j)``, in [0, 1]: 1 for identical
    boxes, 0 for disjoint ones or ones that only touch along an edge, and 0 where
    the union is empty (two zero-area boxes), where 0/0 would give nan.
    """
    return _iou(as_boxes(a, "box_iou", "a"), as_boxes(b, "box_iou", "b"))


def batched_box_iou(a, b):
    """``box_iou`` for each image of a batch: (B, N, 4), (B, M, 4) -> (B, N, M), no loop over images.

    Used to match every image's anchors or proposals with its (padded) ground truths at once."""
    a, b = to_host(a), to_host(b)
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0] or a.shape[2] != 4 or b.shape[2] != 4:
        raise ValueError(f"batched_box_iou: need boxes of shapes (B, N, 4) and (B, M, 4), got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    a, b = (x if x.dtype.kind == "f" else x.astype(np.float64) for x in (a, b))  # integer boxes, as box_iou
    return _iou(a, b)


# ---- non-maximum suppression ----------------------------------------------------
def _greedy_keep(suppresses):
    """Greedy NMS on a precomputed (N, N) bool matrix, rows and columns in decreasing score order.

    ``suppresses[i, j]`` says that box i, if kept, discards box j.  Returns the
    (N,) bool mask of kept boxes.

    Why a loop: whether box j survives depends on whether the boxes that could
    discard it were themselves kept.  With A > B > C by score, A overlapping B
    and B overlapping C (but not A and C), A discards B, so B discards nothing
    and C is kept.  Each decision needs the ones before it; the loop is over
    boxes (N steps), and each step is one vectorized row operation.
    """
    n = len(suppresses)
    keep = np.ones(n, dtype=bool)
    for i in range(n):
        if keep[i]:  # box i survived every higher-scoring kept box: it stays, and discards what it overlaps
            keep[i + 1 :] &= ~suppresses[i, i + 1 :]
    return keep


def nms(boxes, scores, iou_threshold):
    """Non-maximum suppression: int64 indices of the boxes kept, in decreasing score order.

    boxes (N, 4) ``[x1, y1, x2, y2]``, scores (N,).  Going down the boxes by
    score, each box is kept unless its IoU with an already kept (higher-scoring)
    box is > ``iou_threshold``.  Equal scores keep their input order (a stable
    sort).  As torchvision.ops.nms; the (N, N) IoU matrix is computed once, so
    memory grows as N**2: drop low-scoring boxes first when N is large.
    """
    boxes = as_boxes(boxes, "nms")
    scores = as_scores(scores, len(boxes), "nms")
    threshold = as_threshold(iou_threshold, "nms")
    order = np.argsort(-scores, kind="stable")  # (N,) highest score first, ties in input order
    ranked = boxes[order]
    suppresses = _iou(ranked, ranked) > threshold  # (N, N), rows and columns in score order
    return order[_greedy_keep(suppresses)].astype(np.int64)


def batched_nms(boxes, scores, classes, iou_threshold):
    """NMS within each class: a box can only be discarded by a kept box of its own class.

    boxes (N, 4), scores (N,), classes (N,) integer class indices.  Returns the
    int64 indices of the kept boxes, in decreasing score order across all
    classes (ties in input order), as torchvision.ops.batched_nms.

    torchvision shifts each class's boxes by ``class * (largest coordinate + 1)``
    so that boxes of different classes never overlap, then runs plain NMS.  With
    the IoU matrix in hand it is simpler, and exact, to zero the overlaps between
    boxes of different classes instead.
    """
    boxes = as_boxes(boxes, "batched_nms")
    scores = as_scores(scores, len(boxes), "batched_nms")
    classes = as_labels(classes, len(boxes), "batched_nms", "classes")
    threshold = as_threshold(iou_threshold, "batched_nms")
    order = np.argsort(-scores, kind="stable")
    ranked, ranked_classes = boxes[order], classes[order]
    same_class = ranked_classes[:, None] == ranked_classes[None, :]  # (N, N)
    suppresses = (_iou(ranked, ranked) > threshold) & same_class
    return order[_greedy_keep(suppresses)].astype(np.int64)
