"""Caption scenes: two coloured shapes and a sentence that describes them (generated, never downloaded).

Each scene is an RGB image, a noisy grey background with two objects drawn by
``shapes.py``'s rasterizer: a **large** one and a **small** one, each a circle,
square or triangle in a colour of the named palette ``COLOURS``.  The caption
always names the large object first, then how it lies relative to the small
one, then the small one::

    a red circle left of a small blue square
    a yellow triangle above a small green circle

so every scene has exactly one correct caption (9 words, or 8 with ``above`` /
``below``).  ``word_order="shape-first"`` names each object's shape before its colour, as in "a
dress in blue"::

    a circle in red left of a small square in blue

(10 words, or 9), so that a decoder decides the shape before any colour word exists.

The relation is unambiguous by construction: for ``left of`` /
``right of`` the two boxes are apart horizontally by at least ``min_gap``
pixels and the small box lies within the large box's rows; for ``above`` /
``below`` the same with rows and columns swapped.

Held-out combinations: ``HELD_OUT`` colour-shape pairs ("green triangle",
"blue circle", "yellow square") never occur in ``split="train"`` scenes, while
in ``split="test"`` scenes every one of the ``len(COLOURS) * len(SHAPE_CLASSES)``
pairs is equally likely (about a third of the test scenes hold at least one
unseen pair, marked by ``scenes.unseen``).  Every colour and every shape still
occurs in training, only not together.

Ground truth per scene (object 0 is the large one, object 1 the small one):
``images`` (N, 3, S, S) float32 in [0, 1]; ``boxes`` (N, 2, 4) float32
``x1, y1, x2, y2`` in pixels; ``colours`` and ``shapes`` (N, 2) int64 (indices
into ``COLOURS`` and ``SHAPE_CLASSES``); ``relations`` (N,) int64 (index into
``RELATIONS``); ``captions``, N lists of words.  The same ``seed`` gives the
same scenes; use different seeds (streams) for training and held-out scenes.
"""
from collections import namedtuple

import numpy as np

from .shapes import SHAPE_CLASSES, _rasterize

COLOURS = {  # name -> RGB in [0, 1]
    "red": (0.9, 0.12, 0.1),
    "green": (0.1, 0.78, 0.15),
    "blue": (0.15, 0.3, 1.0),
    "yellow": (0.95, 0.9, 0.1),
    "purple": (0.7, 0.2, 0.9),
}
RELATIONS = (("left", "of"), ("right", "of"), ("above",), ("below",))  # the large object ... the small one
HELD_OUT = (("green", "triangle"), ("blue", "circle"), ("yellow", "square"))  # never in split="train"
CAPTION_WORDS = ("a", "small", *COLOURS, *SHAPE_CLASSES, "left", "right", "of", "above", "below")
WORD_ORDERS = ("colour-first", "shape-first")  # "a red circle ..." or "a circle in red ..."


def caption_words(word_order="colour-first"):
    """The words the captions of ``word_order`` use: ``CAPTION_WORDS``, then "in" for "shape-first"."""
    _check_word_order("caption_words", word_order)
    return CAPTION_WORDS if word_order == "colour-first" else (*CAPTION_WORDS, "in")


def _check_word_order(function, word_order):
    if word_order not in WORD_ORDERS:
        raise ValueError(f"{function}: word_order must be one of {WORD_ORDERS}, got {word_order!r}")


class CaptionScenes(namedtuple("CaptionScenes", ["images", "boxes", "colours", "shapes", "relations", "captions"])):
    """Scenes with two objects (0 large, 1 small) and their captions; see the module docstring."""

    __slots__ = ()

    def __len__(self):
        return len(self.images)

    @property
    def unseen(self):
        """(N,) bool: the scene holds at least one of the ``HELD_OUT`` colour-shape combinations."""
        return combination_is_held_out(self.colours, self.shapes).any(axis=1)


def combination_is_held_out(colours, shapes):
    """Bool array of the broadcast shape of ``colours`` and ``shapes`` (index arrays): which pairs are held out."""
    names = list(COLOURS)
    held = np.zeros((len(COLOURS), len(SHAPE_CLASSES)), dtype=bool)
    for colour, shape in HELD_OUT:
        held[names.index(colour), SHAPE_CLASSES.index(shape)] = True
    return held[colours, shapes]


def caption(colours, shapes, relation, word_order="colour-first"):
    """The words for one scene: colours, shapes (2,) indices (large object first), relation an index;
    ``word_order`` "colour-first" ("a red circle") or "shape-first" ("a circle in red")."""
    _check_word_order("caption", word_order)
    names = list(COLOURS)
    if word_order == "colour-first":
        large = [names[colours[0]], SHAPE_CLASSES[shapes[0]]]
        small = [names[colours[1]], SHAPE_CLASSES[shapes[1]]]
    else:
        large = [SHAPE_CLASSES[shapes[0]], "in", names[colours[0]]]
        small = [SHAPE_CLASSES[shapes[1]], "in", names[colours[1]]]
    return ["a", *large, *RELATIONS[relation], "a", "small", *small]


def make_captions(n, split="train", image_size=32, large_size=(6.0, 7.5), small_size=(3.5, 4.5), min_gap=2.0,
                  noise=0.03, seed=0, word_order="colour-first"):
    """``n`` caption scenes of ``image_size`` x ``image_size`` pixels as :class:`CaptionScenes`.

    ``split="train"`` draws each object's colour-shape pair from the pairs not in ``HELD_OUT``;
    ``split="test"`` from all of them.  ``large_size`` and ``small_size`` are the ranges of the
    objects' half-sizes in pixels; ``min_gap`` is the least distance between the two boxes along the
    relation's axis.  ``noise`` is the standard deviation of the per-pixel Gaussian noise.
    ``word_order`` (``WORD_ORDERS``) only changes the captions: the same seed draws the same scenes.
    """
    if split not in ("train", "test"):
        raise ValueError(f"make_captions: split must be 'train' or 'test', got {split!r}")
    _check_word_order("make_captions", word_order)
    if n < 0:
        raise ValueError(f"make_captions: n must be >= 0, got {n}")
    if not 0 < small_size[0] <= small_size[1] < large_size[0] <= large_size[1]:
        raise ValueError(f"make_captions: need 0 < small_size <= large_size as ranges, got small_size={small_size}, "
                         f"large_size={large_size}")
    if 2 * large_size[1] + 2 * small_size[1] + min_gap > image_size:
        raise ValueError(f"make_captions: image_size={image_size} is too small for two objects of half-sizes up to "
                         f"{large_size[1]} and {small_size[1]} with a gap of {min_gap}")
    gen = np.random.default_rng(seed)
    S = image_size

    # 1. What: each object's colour-shape pair, uniform over the pairs the split allows; the relation.
    pairs = np.array([(c, s) for c in range(len(COLOURS)) for s in range(len(SHAPE_CLASSES))])  # (15, 2)
    if split == "train":
        pairs = pairs[~combination_is_held_out(pairs[:, 0], pairs[:, 1])]
    chosen = pairs[gen.integers(0, len(pairs), size=(n, 2))]  # (n, 2 objects, 2)
    colours, shapes = chosen[..., 0], chosen[..., 1]  # (n, 2) each
    relations = gen.integers(0, len(RELATIONS), size=n)  # (n,)

    # 2. Where: half-sizes, then the two boxes along the relation's axis ("along") and across it.
    half = np.stack([gen.uniform(*large_size, size=n), gen.uniform(*small_size, size=n)], axis=1)  # (n, 2)
    slack = S - 2 * half.sum(axis=1) - min_gap  # (n,) room left along the axis
    cut = np.sort(gen.uniform(0, 1, size=(n, 2)), axis=1) * slack[:, None]  # (n, 2) split the slack in three:
    before, between = cut[:, 0], cut[:, 1] - cut[:, 0]  # the margin, the extra gap (and the margin after)
    first_centre = before + half[:, 0]  # the large object first (left / top)...
    second_centre = first_centre + half[:, 0] + min_gap + between + half[:, 1]
    swap = (relations == 1) | (relations == 3)  # ... or second: "right of", "below"
    first_centre = np.where(swap, S - first_centre, first_centre)
    second_centre = np.where(swap, S - second_centre, second_centre)
    large_across = gen.uniform(half[:, 0], S - half[:, 0])  # (n,) across the axis; the small object
    small_across = large_across + gen.uniform(-1, 1, size=n) * (half[:, 0] - half[:, 1])  # within its rows
    along = np.stack([first_centre, second_centre], axis=1)  # (n, 2)
    across = np.stack([large_across, small_across], axis=1)
    horizontal = (relations < 2)[:, None]
    cx, cy = np.where(horizontal, along, across), np.where(horizontal, across, along)  # (n, 2) each
    boxes = np.stack([cx - half, cy - half, cx + half, cy + half], axis=2).astype(np.float32)  # (n, 2, 4)

    # 3. Paint: a grey background with a tint, the two shapes, noise.
    palette = np.array(list(COLOURS.values()), dtype=np.float32)  # (C, 3)
    grey = gen.uniform(0.25, 0.55, size=(n, 1)) + gen.uniform(-0.05, 0.05, size=(n, 3))
    images = np.broadcast_to(grey[:, :, None, None], (n, 3, S, S)).astype(np.float32)
    for m in range(2):  # a loop over the two objects, not over pixels
        here = _rasterize(boxes[:, m], shapes[:, m], S)  # (n, S, S)
        colour = palette[colours[:, m]] + gen.uniform(-0.08, 0.08, size=(n, 3)).astype(np.float32)  # (n, 3)
        images = np.where(here[:, None], colour[:, :, None, None], images)
    images = images + noise * gen.standard_normal(size=images.shape, dtype=np.float32)
    captions = [caption(colours[i], shapes[i], relations[i], word_order) for i in range(n)]
    return CaptionScenes(np.clip(images, 0, 1).astype(np.float32), boxes, colours.astype(np.int64),
                         shapes.astype(np.int64), relations.astype(np.int64), captions)
