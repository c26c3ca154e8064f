"""Segmentation metrics: the confusion matrix, intersection over union per class, and mean IoU.

A semantic segmentation labels every pixel with a class.  Everything is read
off one (C, C) confusion matrix, ``confusion[t, p]`` = the number of pixels of
true class t predicted as class p:

- the diagonal holds the true positives TP of each class;
- column p, less its diagonal, holds class p's false positives FP;
- row t, less its diagonal, holds class t's false negatives FN;
- IoU of class c = TP / (TP + FP + FN): the overlap of the predicted region
  and the true region of c, over their union.

Mean IoU averages the IoU of *every* class, background included, as the usual
benchmarks do (PASCAL VOC: 21 classes with background; Cityscapes), skipping
only classes absent from both prediction and target (IoU 0/0 = nan).  The
metrics take NumPy arrays, CuPy arrays or tinydl Tensors (on any device), copy
them to the host, compute with NumPy and are not differentiable.
"""
import numbers
import warnings
from collections import namedtuple

import numpy as np

from ._host import to_host

MeanIoU = namedtuple("MeanIoU", ["miou", "per_class"])
MeanIoU.__doc__ = """``miou`` the mean of ``per_class``, the (C,) IoU of each class (nan where undefined)."""


def _as_label_map(labels, op, name):
    """``labels`` as an int64 NumPy array of class indices (any shape), or a TypeError."""
    labels = to_host(labels)
    if labels.dtype.kind not in "biu":
        raise TypeError(f"{op}: {name} must hold integer class indices, got dtype {labels.dtype} "
                        f"(shape {labels.shape}); take an argmax over the class axis first")
    return labels.astype(np.int64)


def _check_range(labels, num_classes, op, name):
    """Raise unless every entry of ``labels`` lies in [0, num_classes)."""
    bad = (labels < 0) | (labels >= num_classes)
    if bad.any():
        raise ValueError(f"{op}: {name} must hold class indices in [0, {num_classes}), got {int(labels[bad][0])} "
                         f"({int(bad.sum())} of {labels.size} entries out of range)")


def confusion_matrix(pred, target, num_classes, ignore_index=None):
    """The (C, C) int64 confusion matrix: ``[t, p]`` counts the pixels of true class t predicted as p.

    pred, target: integer class indices in [0, num_classes) of the same shape
    (any shape: (H, W), (N, H, W), ...).  Pixels where ``target == ignore_index``
    are left out (as ``F.cross_entropy``'s ``ignore_index``), whatever their prediction.
    """
    op = "confusion_matrix"
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 1:
        raise ValueError(f"{op}: num_classes must be a positive int, got {num_classes!r}")
    pred, target = _as_label_map(pred, op, "pred"), _as_label_map(target, op, "target")
    if pred.shape != target.shape:
        raise ValueError(f"{op}: pred and target must have the same shape, got {pred.shape} and {target.shape}")
    if ignore_index is not None:
        kept = target != ignore_index
        pred, target = pred[kept], target[kept]  # (P,) the pixels that count
    _check_range(target, num_classes, op, "target")
    _check_range(pred, num_classes, op, "pred")

    # Each pixel's (true, predicted) pair as one number t * C + p in [0, C*C): counting the
    # pixels of each number with one bincount counts every pair, and the C*C counts, laid out
    # as C rows of C, are the matrix (row t, column p).
    pairs = target.reshape(-1) * num_classes + pred.reshape(-1)
    return np.bincount(pairs, minlength=num_classes**2).reshape(num_classes, num_classes).astype(np.int64)


def iou_per_class(confusion):
    """(C,) float64 IoU of each class from a (C, C) confusion matrix: TP / (TP + FP + FN).

    nan for a class absent from both prediction and target (0 / 0).
    """
    confusion = to_host(confusion)
    if confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1]:
        raise ValueError(f"iou_per_class: confusion must be a square (C, C) matrix, got shape {confusion.shape}")
    confusion = confusion.astype(np.float64)
    true_positive = np.diag(confusion)  # (C,)
    false_positive = confusion.sum(axis=0) - true_positive  # predicted as c, but another class
    false_negative = confusion.sum(axis=1) - true_positive  # truly c, predicted as another class
    union = true_positive + false_positive + false_negative
    return np.divide(true_positive, union, out=np.full_like(union, np.nan), where=union > 0)


def mean_iou(pred, target, num_classes, ignore_index=None):
    """Mean IoU of a segmentation, as ``MeanIoU(miou, per_class)``.

    ``per_class`` is the (C,) IoU of each class (see ``iou_per_class``) and
    ``miou`` its mean over all classes, background included, ignoring the nan of
    classes absent from both ``pred`` and ``target`` (nan if every class is).
    Arguments as ``confusion_matrix``.
    """
    per_class = iou_per_class(confusion_matrix(pred, target, num_classes, ignore_index=ignore_index))
    with warnings.catch_warnings():  # nanmean of all-nan warns "Mean of empty slice"; nan is the answer
        warnings.simplefilter("ignore", RuntimeWarning)
        miou = float(np.nanmean(per_class))
    return MeanIoU(miou, per_class)
