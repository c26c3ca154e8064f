"""Instance masks: their IoU, and pasting a Mask R-CNN box-grid mask back into the image.

A Mask R-CNN mask head predicts, for each detection, an ``m x m`` grid of
probabilities (28 x 28 in the paper) on the detection's box, not on the image:
the grid's cell ``(v, u)`` has its centre at

    x = x1 + (u + 0.5) * (x2 - x1) / m,    y = y1 + (v + 0.5) * (y2 - y1) / m,

the very points where ``roi_align(..., aligned=True)`` samples a box (its
training target is the RoIAlign crop of the object's mask).  ``paste_masks``
undoes that at inference: each image pixel whose centre lies in the box reads
the grid bilinearly at its centre, and the probability is thresholded.

``mask_iou`` is box IoU's analogue for pixel sets, what mask AP ranks by
(``mask_mean_average_precision`` in detection.py, COCO's "segm" with VOC's AP).

Like the other metrics here these take NumPy arrays, CuPy arrays or tinydl
Tensors, copy them to the host (``_host.py``), compute with NumPy, return NumPy
arrays and are not differentiable.
"""
import numbers

import numpy as np

from ._host import to_host
from .boxes import as_boxes


# ---- checking the arguments ------------------------------------------------
def as_masks(masks, op, name="masks"):
    """``masks`` as a bool (K, H, W) NumPy array, checked; an empty 1-d array (``[]``) means no masks.

    Bool masks are taken as they are; numbers must all be 0 or 1 (probabilities are refused:
    threshold them first, as ``paste_masks`` does)."""
    masks = to_host(masks)
    if masks.shape == (0,):
        masks = masks.reshape(0, 0, 0)
    if masks.ndim != 3:
        raise ValueError(f"{op}: {name} must have shape (K, H, W), one mask per object, got shape {masks.shape}")
    if masks.dtype == bool:
        return masks
    if masks.dtype.kind not in "iuf":
        raise TypeError(f"{op}: {name} must be bool (or 0/1 numbers), got dtype {masks.dtype} "
                        f"(shape {masks.shape})")
    binary = (masks == 0) | (masks == 1)
    if not binary.all():
        raise ValueError(f"{op}: {name} (shape {masks.shape}, dtype {masks.dtype}) must hold only 0 and 1, "
                         f"got {masks[~binary][0]!r}; threshold probabilities first (paste_masks does)")
    return masks.astype(bool)


def _as_image_size(image_size, op):
    """``image_size`` (an int, or a pair (H, W)) as a pair of positive Python ints."""
    pair = (image_size, image_size) if isinstance(image_size, numbers.Integral) else image_size
    try:
        height, width = pair
    except (TypeError, ValueError):
        height = width = None
    if not all(isinstance(n, numbers.Integral) and not isinstance(n, bool) and n > 0 for n in (height, width)):
        raise ValueError(f"{op}: image_size must be a positive int or a pair (H, W) of them, got {image_size!r}")
    return int(height), int(width)


# ---- mask IoU ----------------------------------------------------------------------
def _mask_iou(a, b):
    """(K, H, W), (G, H, W) checked bool masks -> (K, G) IoU; 0 where the union is empty."""
    if len(a) == 0 or len(b) == 0:  # also covers [] given for no masks, whose (H, W) is unknown
        return np.zeros((len(a), len(b)))
    a = a.reshape(len(a), -1).astype(np.float64)  # (K, H*W) of 0 and 1
    b = b.reshape(len(b), -1).astype(np.float64)  # (G, H*W)
    inter = a @ b.T  # (K, G): the pixels in both, every pair in one matmul (counts are exact in float64)
    union = a.sum(axis=1)[:, None] + b.sum(axis=1)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def mask_iou(a, b):
    """Intersection over union of every pair of masks: (K, H, W), (G, H, W) -> (K, G) float64.

    ``iou[i, j] = |a_i & b_j| / |a_i | b_j|`` counted in pixels; 0 where both masks are
    empty (the union is empty).  Masks are bool, or numbers that are all 0 or 1.
    """
    op = "mask_iou"
    a, b = as_masks(a, op, "a"), as_masks(b, op, "b")
    if len(a) and len(b) and a.shape[1:] != b.shape[1:]:
        raise ValueError(f"{op}: a and b must be masks of the same image size, got shapes {a.shape} and {b.shape}")
    return _mask_iou(a, b)


# ---- pasting box-grid masks into the image ------------------------------------------
def _interpolation_weights(low, high, cells, pixels):
    """(K, pixels, cells): how much each grid cell weighs in the bilinear read at each pixel centre.

    Along one axis, box k spans [low_k, high_k] with ``cells`` cells, cell u centred at
    low + (u + 0.5) * (high - low) / cells; pixel p's centre p + 0.5 sits at the fractional
    cell position u = (p + 0.5 - low) * cells / (high - low) - 0.5, clamped to [0, cells - 1]
    (the border cells extend to the box's edges), and reads (1 - f) of cell floor(u) and f of the next.
    """
    centres = np.arange(pixels) + 0.5  # (pixels,)
    scale = cells / np.maximum(high - low, 1e-12)  # (K,); a zero-width box reads its cell 0
    u = np.clip((centres[None, :] - low[:, None]) * scale[:, None] - 0.5, 0, cells - 1)  # (K, pixels)
    left = np.floor(u).astype(np.int64)
    right = np.minimum(left + 1, cells - 1)
    frac = u - left
    k, p = np.ogrid[:len(low), :pixels]
    weights = np.zeros((len(low), pixels, cells))
    weights[k, p, left] = 1 - frac
    weights[k, p, right] += frac  # right == left only at the last cell, where frac is 0
    return weights


def paste_masks(masks, boxes, image_size, threshold=0.5):
    """Mask R-CNN's inference step: (K, m, m) mask probabilities on boxes (K, 4) -> (K, H, W) bool image masks.

    ``masks[k]`` is a grid of probabilities covering ``boxes[k] = [x1, y1, x2, y2]`` (image
    pixels), cell ``(v, u)`` centred at ``(x1 + (u + 0.5) * (x2 - x1) / m, y1 + (v + 0.5) * (y2 - y1) / m)``
    (where ``roi_align(aligned=True)`` samples).  Each image pixel whose centre (x + 0.5, y + 0.5)
    lies in the box (edges included) takes the bilinear interpolation of the grid there (clamped
    at the border cells) and is True where that is ``>= threshold``; pixels outside the box are
    False.  ``image_size`` is an int or (H, W).  The grid may be m_h x m_w.  The interpolation is
    separable, ``rows (H, m_h) @ grid (m_h, m_w) @ columns (m_w, W)``, for all K boxes at once.
    """
    op = "paste_masks"
    masks = to_host(masks)
    if masks.ndim != 3 or 0 in masks.shape[1:]:
        raise ValueError(f"{op}: masks must have shape (K, m, m), one grid of probabilities per box "
                         f"(take each detection's class channel of a (K, C, m, m) output first), got shape "
                         f"{masks.shape}")
    if masks.dtype.kind not in "biuf":
        raise TypeError(f"{op}: masks must hold numbers, got dtype {masks.dtype} (shape {masks.shape})")
    if not np.isfinite(masks).all():
        raise ValueError(f"{op}: masks of shape {masks.shape} hold NaN or infinite values")
    boxes = as_boxes(boxes, op, "boxes")
    if len(boxes) != len(masks):
        raise ValueError(f"{op}: need one box per mask, got masks of shape {masks.shape} and boxes of shape "
                         f"{boxes.shape}")
    height, width = _as_image_size(image_size, op)
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or np.isnan(threshold):
        raise TypeError(f"{op}: threshold must be a number such as 0.5, got {threshold!r}")

    boxes = boxes.astype(np.float64)
    x1, y1, x2, y2 = boxes.T  # each (K,)
    rows = _interpolation_weights(y1, y2, masks.shape[1], height)  # (K, H, m_h)
    columns = _interpolation_weights(x1, x2, masks.shape[2], width)  # (K, W, m_w)
    values = rows @ masks.astype(np.float64) @ columns.transpose(0, 2, 1)  # (K, H, W)
    xs, ys = np.arange(width) + 0.5, np.arange(height) + 0.5
    inside_x = (xs[None, :] >= x1[:, None]) & (xs[None, :] <= x2[:, None])  # (K, W)
    inside_y = (ys[None, :] >= y1[:, None]) & (ys[None, :] <= y2[:, None])  # (K, H)
    return (values >= threshold) & inside_y[:, :, None] & inside_x[:, None, :]
