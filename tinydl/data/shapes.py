"""Synthetic "shapes" scenes for detection and segmentation (generated, never downloaded).

Each scene is an RGB image of a textured, noisy background with 1 to
``max_objects`` shapes on it: circles, squares and triangles of random size,
colour and position.  With the image come the three kinds of ground truth the
vision examples need:

- ``boxes``  (N, M, 4) float32, ``x1, y1, x2, y2`` in pixels (the tight box
  of the whole shape), padded with zeros;
- ``labels`` (N, M) int64, the class index (0 circle, 1 square, 2 triangle),
  padded with -1, so a row holds every object of one scene and the arrays
  batch like any others (``scenes.objects(i)`` drops the padding);
- ``masks``  (N, H, W) int64, the class of every pixel: 0 background,
  1 + class index where a shape is visible (later shapes cover earlier ones);
- instance masks, ``scenes.instance_masks()`` (N, M, H, W) bool, the pixels
  where each object is visible (for Mask R-CNN): recomputed from the boxes and
  labels on demand rather than stored, so ``images, boxes, labels, masks =
  make_shapes(...)`` keeps unpacking into four arrays.

Everything is computed for all scenes at once: for each object slot, every
pixel of every scene is tested against that scene's shape with broadcasting,
(N, H, W) booleans, so thousands of 64x64 scenes take about a second.  The same ``seed``
gives the same scenes; use different seeds for training and held-out sets.
"""
from collections import namedtuple

import numpy as np

from .dataset import TensorDataset

SHAPE_CLASSES = ("circle", "square", "triangle")


class ShapesScenes(namedtuple("ShapesScenes", ["images", "boxes", "labels", "masks"])):
    """``images`` (N, 3, H, W) float32 in [0, 1]; ``boxes`` (N, M, 4); ``labels`` (N, M); ``masks`` (N, H, W).

    The per-object masks come from ``instance_masks(index)``, the rest are fields."""

    __slots__ = ()

    def __len__(self):
        return len(self.images)

    def objects(self, i):
        """Scene ``i``'s real objects: boxes (k, 4) and labels (k,), the padding removed."""
        keep = self.labels[i] >= 0
        return self.boxes[i][keep], self.labels[i][keep]

    def instance_masks(self, index=slice(None)):
        """(n, M, H, W) bool: for each object slot of the scenes ``index`` selects, the pixels where that
        object is visible; padding slots are all False.

        ``index`` is anything that indexes the scene axis: an int (then the result is (M, H, W), like
        ``scenes.masks[i]``), a slice or an index array.  The shapes are painted again from the boxes and
        labels in slot order, which is make_shapes' painting order, so a later object hides the part of
        an earlier one under it: the instance masks of a scene are disjoint and, labelled ``class + 1``,
        add up to ``masks``.  At make_shapes' defaults every object stays visible (each later box covers at
        most a tenth of its box, ``max_overlap=0.1``); with a larger ``max_overlap`` (0.4 already, in
        small images) later objects may hide an earlier one entirely, leaving its mask empty.
        """
        try:
            boxes, labels = self.boxes[index], self.labels[index]
        except (IndexError, TypeError) as error:
            raise IndexError(f"ShapesScenes.instance_masks: index {index!r} does not select among the "
                             f"{len(self)} scenes ({error})") from None
        one_scene = labels.ndim == 1
        if one_scene:
            boxes, labels = boxes[None], labels[None]
        n, M = labels.shape
        S = self.masks.shape[-1]
        visible = np.zeros((n, M, S, S), dtype=bool)
        covered = np.zeros((n, S, S), dtype=bool)  # pixels painted by the objects after slot m
        for m in reversed(range(M)):  # from the last painted (on top) down
            here = _rasterize(boxes[:, m], labels[:, m], S)  # padding (label -1) paints nothing
            visible[:, m] = here & ~covered
            covered |= here
        return visible[0] if one_scene else visible

    def dataset(self, *fields):
        """A TensorDataset of the named fields, e.g. ``scenes.dataset("images", "masks")``."""
        return TensorDataset(*(getattr(self, name) for name in (fields or self._fields)))


def make_shapes(n, image_size=64, min_objects=1, max_objects=3, size_range=(0.12, 0.3), max_overlap=0.1,
                noise=0.04, seed=0):
    """``n`` scenes of ``image_size`` x ``image_size`` pixels as a :class:`ShapesScenes`.

    Each scene has between ``min_objects`` and ``max_objects`` shapes.  A shape's
    half-size is drawn from ``size_range`` (fractions of the image side); its
    box never leaves the image, and its box overlaps (intersection over the
    smaller box) every earlier shape's by at most ``max_overlap`` (placement is
    retried a few times, then the object is dropped).  ``noise`` is the
    standard deviation of the per-pixel Gaussian noise added at the end.
    """
    if n < 0 or image_size < 8:
        raise ValueError(f"make_shapes: need n >= 0 and image_size >= 8, got n={n}, image_size={image_size}")
    if not 1 <= min_objects <= max_objects:
        raise ValueError(f"make_shapes: need 1 <= min_objects <= max_objects, got {min_objects}, {max_objects}")
    if not 0 < size_range[0] <= size_range[1] < 0.5:
        raise ValueError(f"make_shapes: size_range must satisfy 0 < low <= high < 0.5, got {size_range}")
    if max_overlap < 0 or noise < 0:
        raise ValueError(f"make_shapes: need max_overlap >= 0 and noise >= 0, got {max_overlap}, {noise}")
    gen = np.random.default_rng(seed)
    S, M = image_size, max_objects

    # 1. Objects: class, half-size s, centre (cx, cy), kept if it fits next to the earlier ones.
    count = gen.integers(min_objects, max_objects + 1, size=n)              # objects wanted per scene
    labels = np.full((n, M), -1, dtype=np.int64)
    boxes = np.zeros((n, M, 4), dtype=np.float32)
    for m in range(M):                                                       # a loop over object slots, not pixels
        wanted = count > m
        placed = ~wanted
        for _ in range(20):                                                  # placement attempts
            s = gen.uniform(*size_range, size=n) * S                         # (n,) half-size in pixels
            cx, cy = gen.uniform(s, S - s), gen.uniform(s, S - s)
            candidate = np.stack([cx - s, cy - s, cx + s, cy + s], axis=1)   # (n, 4)
            fits = _max_overlap(candidate, boxes[:, :m], labels[:, :m]) <= max_overlap
            take = ~placed & fits
            boxes[take, m] = candidate[take]
            labels[take, m] = gen.integers(0, len(SHAPE_CLASSES), size=n)[take]
            placed |= take
    colours = _contrasting_colours(gen, n, M)                                # (n, M, 3) object colours
    grey = gen.uniform(0.3, 0.7, size=(n, 1))                                # a tinted grey, so every
    background = (grey + gen.uniform(-0.1, 0.1, size=(n, 3))).astype(np.float32)  # (n, 3) shape stands out

    # 2. Paint (the painter's algorithm): textured background, then each shape over the earlier ones.
    images = background[:, :, None, None] * (1 + _texture(gen, n, S)[:, None])  # (n, 3, S, S)
    masks = np.zeros((n, S, S), dtype=np.int64)
    for m in range(M):
        here = _rasterize(boxes[:, m], labels[:, m], S)                     # (n, S, S) pixels inside shape m
        images = np.where(here[:, None], colours[:, m, :, None, None], images)
        masks = np.where(here, labels[:, m, None, None] + 1, masks)
    images += noise * gen.standard_normal(size=images.shape, dtype=np.float32)

    # 3. A dropped object leaves a hole in its row: move the real objects to the front (in
    #    painting order: the sort is stable, which instance_masks relies on) so that the -1
    #    padding is only at the end of each row.
    front = np.argsort(labels < 0, axis=1, kind="stable")                   # (n, M) real objects first
    labels = np.take_along_axis(labels, front, axis=1)
    boxes = np.take_along_axis(boxes, front[:, :, None], axis=1)
    return ShapesScenes(np.clip(images, 0, 1, out=images), boxes, labels, masks)


def _rasterize(boxes, labels, S):
    """(n, S, S) bool: which pixel centres lie inside each scene's shape (class ``labels``, box ``boxes``)."""
    centres = np.arange(S, dtype=np.float32) + 0.5
    px, py = centres[None, None, :], centres[None, :, None]                 # (1, 1, S) and (1, S, 1)
    x1, y1, x2, y2 = (boxes[:, k, None, None] for k in range(4))            # each (n, 1, 1)
    cx, cy, s = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2
    cls = labels[:, None, None]
    square = (np.abs(px - cx) <= s) & (np.abs(py - cy) <= s)
    circle = (px - cx) ** 2 + (py - cy) ** 2 <= s**2
    triangle = square & (np.abs(px - cx) <= (py - y1) / 2)                  # apex at the top, base at the bottom
    return np.where(cls == 0, circle, np.where(cls == 1, square, triangle)) & (cls >= 0)


def _max_overlap(candidate, boxes, labels):
    """(n,) the largest intersection / smaller-area of each candidate box with the scene's placed boxes."""
    if boxes.shape[1] == 0:
        return np.zeros(len(candidate), dtype=np.float32)
    lo = np.maximum(candidate[:, None, :2], boxes[:, :, :2])                 # (n, m, 2)
    hi = np.minimum(candidate[:, None, 2:], boxes[:, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=2)                       # (n, m)
    area_c = np.prod(candidate[:, 2:] - candidate[:, :2], axis=1)[:, None]
    area_b = np.prod(boxes[:, :, 2:] - boxes[:, :, :2], axis=2)
    ratio = inter / np.maximum(np.minimum(area_c, area_b), 1e-6)
    return np.where(labels >= 0, ratio, 0.0).max(axis=1)


def _contrasting_colours(gen, n, M):
    """(n, M, 3) saturated random colours: one channel high, one low, one anywhere."""
    colours = gen.uniform(0.0, 1.0, size=(n, M, 3))
    channels = np.argsort(gen.uniform(size=(n, M, 3)), axis=2)             # a random order of R, G, B
    high, low = channels[..., :1], channels[..., 1:2]
    np.put_along_axis(colours, high, gen.uniform(0.75, 1.0, size=(n, M, 1)), axis=2)
    np.put_along_axis(colours, low, gen.uniform(0.0, 0.25, size=(n, M, 1)), axis=2)
    return colours.astype(np.float32)


def _texture(gen, n, S):
    """(n, S, S) float32, a smooth random texture in about [-0.3, 0.3]: the sum of three random plane waves."""
    grid = np.arange(S, dtype=np.float32) / S
    texture = np.zeros((n, S, S), dtype=np.float32)
    for _ in range(3):
        fx, fy = gen.uniform(-8, 8, size=(2, n, 1, 1)).astype(np.float32)
        phase = gen.uniform(0, 2 * np.pi, size=(n, 1, 1)).astype(np.float32)
        texture += 0.1 * np.sin(2 * np.pi * (fx * grid[None, None, :] + fy * grid[None, :, None]) + phase)
    return texture
