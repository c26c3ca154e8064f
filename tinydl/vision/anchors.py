"""Anchors: the reference boxes a region proposal network predicts relative to (Faster R-CNN, docs/faster_rcnn.md).

At every cell of a feature map with stride ``s`` (one cell covers s x s image
pixels) sit the same A = len(sizes) * len(aspect_ratios) boxes, centred on the
cell's centre.  An anchor of size ``a`` and aspect ratio ``r = h / w`` has the
area a**2 of a square of side a:

    w = a / sqrt(r)        h = a * sqrt(r)        (so w * h = a**2 and h / w = r)

The network predicts, for each anchor, "is there an object here?" and a small
correction (tx, ty, tw, th) that moves and stretches the anchor onto it
(``box_coding.py``).  Anchors are constants, not learned: they are computed
once with NumPy for a feature-map size.

The order of the (H * W * A, 4) rows is row-major over cells, then the A
anchors of a cell: row ``(i * W + j) * A + a`` is anchor a of the cell in row
i, column j.  A head whose output is (N, A * k, H, W) is read in this order
after ``.reshape(N, A, k, H, W).permute(0, 3, 4, 1, 2).reshape(N, H * W * A, k)``.
"""
import numbers

import numpy as np


def _positive_numbers(values, op, name):
    values = tuple(values) if isinstance(values, (tuple, list)) else (values,)
    ok = values and all(isinstance(v, numbers.Real) and not isinstance(v, bool) and np.isfinite(v) and v > 0
                        for v in values)
    if not ok:
        raise ValueError(f"{op}: {name} must be positive finite numbers, got {values!r}")
    return values


def anchor_shapes(sizes, aspect_ratios):
    """The A = len(sizes) * len(aspect_ratios) anchors of one cell, centred on (0, 0): (A, 4) float64.

    Each row is ``[-w/2, -h/2, w/2, h/2]`` with ``w = size / sqrt(ratio)``, ``h = size * sqrt(ratio)``;
    the rows run over the aspect ratios for the first size, then the second size, and so on.
    """
    sizes = _positive_numbers(sizes, "anchor_shapes", "sizes")
    ratios = _positive_numbers(aspect_ratios, "anchor_shapes", "aspect_ratios")
    size = np.repeat(np.asarray(sizes, dtype=np.float64), len(ratios))  # (A,) size of each anchor
    ratio = np.tile(np.asarray(ratios, dtype=np.float64), len(sizes))  # (A,) its h / w
    w, h = size / np.sqrt(ratio), size * np.sqrt(ratio)
    return np.stack([-w / 2, -h / 2, w / 2, h / 2], axis=1)


def grid_anchors(feature_size, stride, sizes, aspect_ratios):
    """Every anchor of an (H, W) feature map of the given ``stride``: (H * W * A, 4) float64 boxes.

    Cell (i, j) covers image pixels ``[j * stride, (j + 1) * stride)`` across and
    ``[i * stride, (i + 1) * stride)`` down; its anchors are ``anchor_shapes``
    moved to its centre ``((j + 0.5) * stride, (i + 0.5) * stride)``.  Rows in the
    order of the module docstring.
    """
    if (not isinstance(feature_size, (tuple, list)) or len(feature_size) != 2
            or not all(isinstance(n, numbers.Integral) and not isinstance(n, bool) and n > 0 for n in feature_size)):
        raise ValueError(f"grid_anchors: feature_size must be a pair of positive ints (H, W), got {feature_size!r}")
    (stride,) = _positive_numbers(stride, "grid_anchors", "stride")
    H, W = feature_size
    shapes = anchor_shapes(sizes, aspect_ratios)  # (A, 4)
    cy, cx = np.meshgrid((np.arange(H) + 0.5) * stride, (np.arange(W) + 0.5) * stride, indexing="ij")  # (H, W)
    centres = np.stack([cx, cy, cx, cy], axis=-1).reshape(H * W, 1, 4)  # (H*W, 1, 4)
    return (centres + shapes[None]).reshape(-1, 4)  # (H*W, A, 4) -> (H*W*A, 4)
