"""Cluttered, transformed digits: the data of the spatial transformer example (examples/train_stn.py).

Like the "cluttered MNIST" and "rotated, translated, scaled (RTS)" data of Jaderberg et al. (*Spatial
Transformer Networks*, 2015), built from scikit-learn's 8x8 digits (``load_digits``, nothing downloaded):
each image is a ``canvas`` x ``canvas`` black square with one digit drawn at a random position, size and
rotation, and ``clutter`` fragments (random crops of other digits) scattered anywhere, over or beside it.

Each digit is drawn as the spatial transformer would read it: ``theta`` (N, 2, 3) is the map from canvas
to digit coordinates that drew it, in the normalized coordinates of ``affine_grid``, and the image is
``F.grid_sample`` of the 8x8 digit on ``F.affine_grid(theta)`` (bilinear, zero padding), computed in
NumPy on a patch around each digit and each fragment, all of them at once (tests/test_stn.py checks it
against the two ops).  An ideal transformer would recover the part of the canvas that theta maps onto
the digit.  The label is the digit's class.

Train and test images never share a digit image: ``split="train"`` draws digits *and* clutter only from
``load_digits()``'s fixed training split, ``split="test"`` only from its test split.  Generation is
deterministic given ``seed`` (an int or a sequence of ints, as ``np.random.default_rng`` takes).
"""
from collections import namedtuple

import numpy as np

from .digits import load_digits

ClutteredDigits = namedtuple("ClutteredDigits", ["images", "labels", "theta", "centres", "sizes", "angles",
                                                 "digit_index", "clutter_index"])
ClutteredDigits.__doc__ = """What ``make_cluttered_digits`` returns (N images):

images (N, 1, canvas, canvas) float32 in [0, 1]; labels (N,) int64; theta (N, 2, 3) float32, the
canvas -> digit map that drew each digit; centres (N, 2) the digit's centre (x, y) in pixels; sizes (N,)
the side of its (rotated) 8x8 square in pixels; angles (N,) its rotation in degrees (counter-clockwise
as seen on the screen); digit_index (N,) and clutter_index (N, clutter): which images of the split's
``x_train`` or ``x_test`` were drawn."""

DIGIT_PIXELS = 8  # scikit-learn's digits are 8x8


def rotation(angles):
    """(N,) angles in radians -> (N, 2, 2) matrices turning (x, y) counter-clockwise on the screen (y down)."""
    c, s = np.cos(angles), np.sin(angles)
    return np.stack([np.stack([c, s], -1), np.stack([-s, c], -1)], -2)  # (N, 2, 2)


def placement_theta(centres, sizes, angles, canvas):
    """The affine_grid theta (N, 2, 3) that draws an 8x8 image as a ``sizes`` pixel square at ``centres``
    (N, 2) pixels, turned by ``angles`` (N,) radians, on a ``canvas`` pixel square.

    theta maps a canvas point p (normalized: -1..1 across the canvas) to the digit point
    u = (canvas / size) R(-angle) (p - c) that it shows, c the centre in normalized coordinates."""
    c = 2.0 * centres / canvas - 1.0  # (N, 2) normalized
    A = (canvas / sizes)[:, None, None] * rotation(-angles)  # (N, 2, 2)
    return np.concatenate([A, -(A @ c[:, :, None])], axis=2)  # (N, 2, 3): [A | -A c]


def _bilinear(images, ux, uy):
    """Read 8x8 images (M, 8, 8) at digit points (ux, uy) (M, P, P), in pixel-edge coordinates (0..8 across an
    image, pixel j's centre at j + 0.5), bilinearly with zeros outside: ``F.grid_sample``'s rule (zero
    padding, align_corners=False), written out in NumPy for the tiny sources here."""
    m, stride = len(images), DIGIT_PIXELS + 2
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1))).reshape(-1)  # a ring of zeros: (M * 10 * 10,)
    ix = np.clip(ux + 0.5, 0, stride - 1)  # index in the padded image; far points clamp into the zero ring
    iy = np.clip(uy + 0.5, 0, stride - 1)
    x0 = np.minimum(ix.astype(np.int32), stride - 2)  # ix >= 0, so int() is floor()
    y0 = np.minimum(iy.astype(np.int32), stride - 2)
    wx, wy = ix - x0, iy - y0
    corner = (np.arange(m, dtype=np.int32) * stride * stride)[:, None, None] + y0 * stride + x0  # (M, P, P)
    top = padded[corner] * (1 - wx) + padded[corner + 1] * wx
    bottom = padded[corner + stride] * (1 - wx) + padded[corner + stride + 1] * wx
    return top * (1 - wy) + bottom * wy


def _draw(images, centres, sizes, angles, canvas, around=None, on=None, window=None, fragment=DIGIT_PIXELS):
    """Draw 8x8 images (M, 8, 8) as ``sizes`` pixel squares at ``centres`` (M, 2), turned by ``angles``
    (radians), as ``placement_theta`` + ``F.grid_sample`` would, but only on the pixels of a patch
    around each point ``around`` (M, 2) (default: the centres); the rest of the canvas stays black.
    ``on`` (M,): the canvas each one is drawn on (default: one canvas each).  ``window`` (M, 2): keep only
    the part of each image within ``fragment`` pixels (a square) of that point of the image.

    Returns flat indices into the canvases (N, canvas, canvas) and the values there, both (M, P, P);
    the index of a patch pixel off its canvas is -1."""
    around = centres if around is None else around
    on = np.arange(len(images)) if on is None else on
    shown = sizes * (1.0 if window is None else fragment / DIGIT_PIXELS)  # side of the part drawn, canvas px
    reach = shown.max() * np.sqrt(2) / 2 + sizes.max() / (2 * DIGIT_PIXELS)  # turned square + bilinear fringe
    patch = 2 * int(np.ceil(reach)) + 2
    corner = np.floor(around - patch / 2).astype(np.int32)  # (M, 2) top-left pixel of each patch
    steps = np.arange(patch, dtype=np.int32)
    px = corner[:, 0, None, None] + steps[None, None, :]  # (M, 1, P) canvas column
    py = corner[:, 1, None, None] + steps[None, :, None]  # (M, P, 1) canvas row
    dx = (px + 0.5 - centres[:, 0, None, None]).astype(np.float32)  # from the centre to each pixel centre
    dy = (py + 0.5 - centres[:, 1, None, None]).astype(np.float32)
    zoom = (DIGIT_PIXELS / sizes).astype(np.float32)[:, None, None]  # digit pixels per canvas pixel
    cos, sin = (np.cos(angles).astype(np.float32)[:, None, None], np.sin(angles).astype(np.float32)[:, None, None])
    ux = DIGIT_PIXELS / 2 + zoom * (cos * dx - sin * dy)  # (M, P, P): the digit point shown, R(-angle) (p - c)
    uy = DIGIT_PIXELS / 2 + zoom * (sin * dx + cos * dy)
    values = _bilinear(images.astype(np.float32), ux, uy)
    if window is not None:  # a fragment: only the window of the image
        inside = ((np.abs(ux - window[:, 0, None, None]) <= fragment / 2)
                  & (np.abs(uy - window[:, 1, None, None]) <= fragment / 2))
        values = values * inside
    on_canvas = (px >= 0) & (px < canvas) & (py >= 0) & (py < canvas)  # (M, P, P)
    index = (on[:, None, None] * canvas + py) * canvas + px
    return np.where(on_canvas, index, -1), values


def _paint(index, values, n, canvas):
    """The sum of the drawn values on n black canvases: (n, 1, canvas, canvas)."""
    keep = index >= 0
    return np.bincount(index[keep], weights=values[keep], minlength=n * canvas * canvas).reshape(
        n, 1, canvas, canvas).astype(np.float32)


def make_cluttered_digits(n, split="train", canvas=40, sizes=(12.0, 20.0), max_angle=45.0, clutter=4,
                          fragment=3, seed=0):
    """``n`` cluttered digits (a ``ClutteredDigits``) from the ``split`` ("train" or "test") of ``load_digits``.

    canvas: image side in pixels; sizes: (low, high) range of the digit's side in pixels, uniform;
    max_angle: rotations uniform in +-max_angle degrees; clutter: fragments per image; fragment: side of
    each fragment's crop in the digits' own 8x8 pixels, drawn at the scale of a random digit size and
    turned like one (so a fragment looks like a piece of a digit, not like a digit).  Positions are uniform
    over the places where the whole turned digit square lies inside the canvas; fragments may fall
    anywhere, over the digit too: overlapping fragments add up (clipped at 1), and over the digit the
    brighter of the two wins."""
    if split not in ("train", "test"):
        raise ValueError(f"make_cluttered_digits: split must be 'train' or 'test', got {split!r}")
    low, high = sizes
    if not 0 < low <= high or high * np.sqrt(2) > canvas:
        raise ValueError(f"make_cluttered_digits: sizes must satisfy 0 < low <= high <= canvas / sqrt(2) "
                         f"(= {canvas / np.sqrt(2):.1f}) so that a turned digit fits, got {sizes}")
    if not 0 < fragment <= DIGIT_PIXELS:
        raise ValueError(f"make_cluttered_digits: fragment must be in (0, {DIGIT_PIXELS}], got {fragment}")
    data = load_digits()
    pool, pool_labels = (data.x_train, data.y_train) if split == "train" else (data.x_test, data.y_test)
    pool = pool[:, 0]  # (P, 8, 8)
    gen = np.random.default_rng(seed)

    # the digits: which, how big, how turned, then a centre where the turned square fits
    digit_index = gen.integers(0, len(pool), n)
    side = gen.uniform(low, high, n)  # (n,) pixels
    angles = np.deg2rad(gen.uniform(-max_angle, max_angle, n))
    reach = side / 2 * (np.abs(np.cos(angles)) + np.abs(np.sin(angles)))  # half the turned square's extent
    centres = reach[:, None] + gen.uniform(0, 1, (n, 2)) * (canvas - 2 * reach)[:, None]  # (n, 2) (x, y)
    images = _paint(*_draw(pool[digit_index], centres, side, angles, canvas), n, canvas)  # (n, 1, S, S)

    # the clutter: a window of `fragment` pixels of another digit, at a random place, size and angle
    clutter_index = gen.integers(0, len(pool), (n, clutter))
    window = gen.uniform(fragment / 2, DIGIT_PIXELS - fragment / 2, (n, clutter, 2))  # its centre, digit px
    scale = gen.uniform(low, high, (n, clutter)) / DIGIT_PIXELS  # canvas pixels per digit pixel
    spot = gen.uniform(0, canvas, (n, clutter, 2))  # where the window's centre lands, canvas px
    turn = np.deg2rad(gen.uniform(-max_angle, max_angle, (n, clutter)))
    if clutter:  # the whole digit sits at spot - scale R(turn) (window - 4), so that its window lands on spot
        offset = rotation(turn.ravel()) @ (window - DIGIT_PIXELS / 2).reshape(-1, 2, 1)  # (n * k, 2, 1)
        index, values = _draw(pool[clutter_index.ravel()], spot.reshape(-1, 2) - scale.reshape(-1, 1) * offset[..., 0],
                              DIGIT_PIXELS * scale.ravel(), turn.ravel(), canvas, around=spot.reshape(-1, 2),
                              on=np.arange(n * clutter) // clutter, window=window.reshape(-1, 2), fragment=fragment)
        images = np.maximum(images, np.minimum(_paint(index, values, n, canvas), 1.0))
    theta = placement_theta(centres, side, angles, canvas)
    return ClutteredDigits(np.clip(images, 0, 1), pool_labels[digit_index], theta.astype(np.float32), centres,
                           side, np.rad2deg(angles), digit_index, clutter_index)
