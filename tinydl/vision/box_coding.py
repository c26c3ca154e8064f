"""Box coding: a box as a correction (tx, ty, tw, th) of a reference box, and back (R-CNN's parameterization).

A detector does not predict pixel coordinates directly.  It predicts how to
move and stretch a *reference* box (an anchor in the RPN, a proposal in the
RoI head) onto the object (Girshick et al., R-CNN, appendix C; Ren et al.,
Faster R-CNN, eq. 2).  With the reference's centre (xa, ya) and size (wa, ha),
and the box's (x, y, w, h):

    tx = (x - xa) / wa        ty = (y - ya) / ha        (shift, in reference widths)
    tw = log(w / wa)          th = log(h / ha)          (scale, as a log-ratio)

and the inverse, which decodes a prediction (tx, ty, tw, th) into a box:

    x = xa + tx * wa          y = ya + ty * ha
    w = wa * exp(tw)          h = ha * exp(th)

Dividing the shift by the reference's size makes the targets the same for a
big and a small object placed alike; the log makes scaling up by 2 and down by
2 symmetric (+log 2, -log 2), and exp keeps every decoded size positive.
``weights`` (wx, wy, ww, wh) multiply the four targets so that they have about
unit variance: the RPN uses (1, 1, 1, 1), the RoI head (10, 10, 5, 5), because
proposals are already close and their corrections small (torchvision's values).

These functions work on NumPy or CuPy arrays of boxes ``[x1, y1, x2, y2]``
with any leading shape, ``(..., 4)``; they are bookkeeping, not layers, so
they take no Tensors and make no graph.
"""
import math
import numbers

import numpy as np

from .. import backend

# exp(tw) is capped at 1000 / 16 (torchvision's bound): an untrained network's wild
# tw = 50 would otherwise overflow to an infinite box.
MAX_LOG_SCALE = math.log(1000.0 / 16)


def _weights(weights, op):
    """The four box-coding weights (wx, wy, ww, wh), checked: positive finite numbers."""
    weights = tuple(weights) if isinstance(weights, (tuple, list)) else None
    if (weights is None or len(weights) != 4 or not all(isinstance(w, numbers.Real) and not isinstance(w, bool)
                                                         and math.isfinite(w) and w > 0 for w in weights)):
        raise ValueError(f"{op}: weights must be four positive numbers (wx, wy, ww, wh), got {weights!r}")
    return weights


def _centre_size(boxes):
    """(..., 4) corners -> centre x, centre y, width, height, each (...)."""
    w = boxes[..., 2] - boxes[..., 0]
    h = boxes[..., 3] - boxes[..., 1]
    return boxes[..., 0] + 0.5 * w, boxes[..., 1] + 0.5 * h, w, h


def encode_boxes(boxes, reference, weights=(1.0, 1.0, 1.0, 1.0)):
    """The targets (tx, ty, tw, th) that move ``reference`` onto ``boxes``: (..., 4), (..., 4) -> (..., 4).

    Both must have positive widths and heights (the log needs them)."""
    xp = backend.get_array_module(boxes)
    if boxes.shape[-1:] != (4,) or reference.shape[-1:] != (4,):
        raise ValueError(f"encode_boxes: boxes and reference must end in 4 coordinates, got shapes "
                         f"{tuple(boxes.shape)} and {tuple(reference.shape)}")
    wx, wy, ww, wh = _weights(weights, "encode_boxes")
    x, y, w, h = _centre_size(boxes)
    xa, ya, wa, ha = _centre_size(reference)
    return xp.stack([wx * (x - xa) / wa, wy * (y - ya) / ha,
                     ww * xp.log(w / wa), wh * xp.log(h / ha)], axis=-1)


def decode_boxes(deltas, reference, weights=(1.0, 1.0, 1.0, 1.0)):
    """The boxes that the corrections ``deltas`` (tx, ty, tw, th) make of ``reference``: (..., 4) -> (..., 4).

    The inverse of ``encode_boxes``; tw and th are capped at ``MAX_LOG_SCALE`` first."""
    xp = backend.get_array_module(deltas)
    if deltas.shape[-1:] != (4,) or reference.shape[-1:] != (4,):
        raise ValueError(f"decode_boxes: deltas and reference must end in 4 numbers, got shapes "
                         f"{tuple(deltas.shape)} and {tuple(reference.shape)}")
    wx, wy, ww, wh = _weights(weights, "decode_boxes")
    xa, ya, wa, ha = _centre_size(reference)
    x = xa + deltas[..., 0] / wx * wa
    y = ya + deltas[..., 1] / wy * ha
    w = wa * xp.exp(xp.minimum(deltas[..., 2] / ww, MAX_LOG_SCALE))
    h = ha * xp.exp(xp.minimum(deltas[..., 3] / wh, MAX_LOG_SCALE))
    return xp.stack([x - 0.5 * w, y - 0.5 * h, x + 0.5 * w, y + 0.5 * h], axis=-1)


def clip_boxes(boxes, image_size):
    """Boxes (..., 4) cut to the image ``[0, W] x [0, H]``; ``image_size`` is (H, W) or one int for a square."""
    xp = backend.get_array_module(boxes)
    pair = (image_size, image_size) if np.ndim(image_size) == 0 else tuple(image_size)
    if len(pair) != 2 or not all(isinstance(n, numbers.Real) and not isinstance(n, bool) and n >= 0 for n in pair):
        raise ValueError(f"clip_boxes: image_size must be a size >= 0 or a pair (H, W), got {image_size!r}")
    H, W = pair
    limit = xp.asarray([W, H, W, H], dtype=boxes.dtype)
    return xp.minimum(xp.maximum(boxes, 0), limit)
