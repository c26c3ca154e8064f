"""Generated colour textures and single-shape images: the styles and contents of examples/style_transfer.py.

A *texture* is a two-colour pattern of one of ``TEXTURE_CLASSES``::

    m(x, y) = pattern of the class, in [0, 1]        (a soft threshold of sinusoids, see ``_pattern``)
    image   = m * colour_a + (1 - m) * colour_b + noise

- ``stripes_h`` / ``stripes_v`` / ``stripes_d``: stripes along the x axis, the y axis, or a diagonal;
- ``checkers``: the sign of sin(x) sin(y), a chequerboard;
- ``dots``: round dots on a square grid.

Within a class everything else is drawn at random: the two colours (a random hue, saturation and
brightness each, kept apart in brightness so the pattern shows), the frequency (``frequency_range``
cycles per image), the phase, the diagonal's direction and the sharpness of the edges.  Images
from different seeds are new instances of the classes (new colours, frequencies and phases): the
example trains its decoder on one seed stream and evaluates on styles drawn from another.

``make_content(n, ...)`` gives the contents: ``make_shapes`` scenes with exactly one shape (circle,
square or triangle) of a fairly large size, with their class.  ``make_textured_shapes`` paints a
shape's inside and outside with textures, the data the frozen judges learn from (a shape recognised
whatever its texture, a texture recognised whatever shape it is cut into).
"""
from collections import namedtuple

import numpy as np

from .shapes import SHAPE_CLASSES, _rasterize, make_shapes

TEXTURE_CLASSES = ("stripes_h", "stripes_v", "stripes_d", "checkers", "dots")

Textures = namedtuple("Textures", ["images", "labels"])  # (N, 3, S, S) float32 in [0, 1]; (N,) int64
Contents = namedtuple("Contents", ["images", "labels"])  # the same, labels index SHAPE_CLASSES


def make_textures(n, image_size=32, frequency_range=(2.5, 5.0), noise=0.03, labels=None, seed=0):
    """``n`` textures, ``image_size`` square, as ``Textures(images, labels)``.

    ``labels`` (n,) picks each image's class (default: uniform at random); ``frequency_range`` is
    the number of pattern periods across the image."""
    if n < 0 or image_size < 8:
        raise ValueError(f"make_textures: need n >= 0 and image_size >= 8, got n={n}, image_size={image_size}")
    if not 0 < frequency_range[0] <= frequency_range[1] <= image_size / 4:
        raise ValueError(f"make_textures: frequency_range must satisfy 0 < low <= high <= image_size / 4, "
                         f"got {frequency_range}")
    gen = np.random.default_rng(seed)
    if labels is None:
        labels = gen.integers(0, len(TEXTURE_CLASSES), size=n)
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (n,) or (n and (labels.min() < 0 or labels.max() >= len(TEXTURE_CLASSES))):
        raise ValueError(f"make_textures: labels must be {n} class indices in [0, {len(TEXTURE_CLASSES)}), "
                         f"got shape {labels.shape}")
    m = _pattern(gen, labels, image_size, frequency_range)                 # (n, S, S) in [0, 1]
    colour_a, colour_b = _colour_pair(gen, n)                               # each (n, 3)
    images = (m[:, None] * colour_a[:, :, None, None]
              + (1 - m[:, None]) * colour_b[:, :, None, None])              # (n, 3, S, S)
    images += noise * gen.standard_normal(size=images.shape)
    return Textures(np.clip(images, 0, 1).astype(np.float32), labels)


def make_content(n, image_size=32, noise=0.03, seed=0):
    """``n`` images of one shape each (``make_shapes`` with one object, half-size 0.25 to 0.4 of the side)
    as ``Contents(images, labels)``."""
    scenes = make_shapes(n, image_size=image_size, min_objects=1, max_objects=1, size_range=(0.25, 0.4),
                         noise=noise, seed=seed)
    return Contents(scenes.images, scenes.labels[:, 0].copy())


def make_textured_shapes(n, image_size=32, seed=0):
    """``n`` images of one shape whose inside and outside are two textures: returns
    ``(images, shape_labels, texture_labels)``.

    The inside is a texture of class ``texture_labels``.  The outside is one of four kinds, so that a
    shape shows only through its outline, never through one fixed kind of contrast:

    - (40%) a texture of the same class with other colours: a shape cut out of one style;
    - (20%) the inside's own texture, darker or lighter (each pixel's colour scaled towards black or white);
    - (15%) a plain colour;
    - (25%) a texture of another class.

    A judge of shapes learns to find the outline whatever fills it, a judge of textures to name the
    inside's texture (the larger region is the outside only when the outside has the same class)."""
    gen = np.random.default_rng(seed)
    scenes = make_shapes(n, image_size=image_size, min_objects=1, max_objects=1, size_range=(0.25, 0.4),
                         noise=0.0, seed=gen.integers(2**31))
    shape_labels = scenes.labels[:, 0].copy()
    inside = make_textures(n, image_size, seed=gen.integers(2**31))
    kind = gen.choice(4, size=n, p=[0.4, 0.2, 0.15, 0.25])  # same class / recoloured / plain / other class
    other_class = (inside.labels + gen.integers(1, len(TEXTURE_CLASSES), size=n)) % len(TEXTURE_CLASSES)
    outside = make_textures(n, image_size, labels=np.where(kind == 3, other_class, inside.labels),
                            seed=gen.integers(2**31)).images
    scale = gen.uniform(0.3, 0.7, size=(n, 1, 1, 1)).astype(np.float32)
    darker = gen.uniform(size=(n, 1, 1, 1)) < 0.5
    recoloured = np.where(darker, scale * inside.images, 1 - scale * (1 - inside.images))
    flat = np.broadcast_to(gen.uniform(0.1, 0.9, size=(n, 3, 1, 1)).astype(np.float32), outside.shape)
    k = kind[:, None, None, None]
    outside = np.where(k == 1, recoloured, np.where(k == 2, flat, outside))
    here = _rasterize(scenes.boxes[:, 0], scenes.labels[:, 0], image_size)  # (n, S, S) inside the shape
    images = np.where(here[:, None], inside.images, outside)
    return images.astype(np.float32), shape_labels, inside.labels


def _pattern(gen, labels, S, frequency_range):
    """(n, S, S) float32 in [0, 1]: each image's class pattern with a random frequency, phase and sharpness."""
    n = len(labels)
    grid = (np.arange(S, dtype=np.float64) + 0.5) / S
    x, y = grid[None, None, :], grid[None, :, None]                           # (1, 1, S) and (1, S, 1)
    f = gen.uniform(*frequency_range, size=(n, 1, 1))                         # periods across the image
    phase_x, phase_y = gen.uniform(0, 2 * np.pi, size=(2, n, 1, 1))
    direction = gen.choice([-1.0, 1.0], size=(n, 1, 1))                      # of the diagonal stripes
    wave_x = np.sin(2 * np.pi * f * x + phase_x)                              # (n, 1, S)
    wave_y = np.sin(2 * np.pi * f * y + phase_y)                              # (n, S, 1)
    cls = labels[:, None, None]
    field = np.select(
        [cls == 0, cls == 1, cls == 2, cls == 3],
        [np.broadcast_to(wave_y, (n, S, S)), np.broadcast_to(wave_x, (n, S, S)),
         np.sin(2 * np.pi * f / np.sqrt(2) * (x + direction * y) + phase_x), wave_x * wave_y],
        default=np.cos(2 * np.pi * f * x + phase_x) * np.cos(2 * np.pi * f * y + phase_y) - 0.6,  # dots: peaks
    )
    sharpness = gen.uniform(4, 12, size=(n, 1, 1))
    return (1 / (1 + np.exp(-sharpness * field))).astype(np.float32)


def _colour_pair(gen, n):
    """Two (n, 3) colours of random hues whose brightness differs by at least 0.35."""
    hue = gen.uniform(0, 1, size=(2, n, 1))
    saturation = gen.uniform(0.4, 1.0, size=(2, n, 1))
    bright = gen.uniform(0.55, 1.0, size=(n, 1))
    dark = bright - gen.uniform(0.35, 0.55, size=(n, 1))
    value = np.stack([bright, np.clip(dark, 0.05, None)])                     # (2, n, 1)
    swap = gen.uniform(size=(n, 1)) < 0.5                                     # which colour is the bright one
    value = np.where(swap, value[::-1], value)
    rgb = _hsv_to_rgb(hue, saturation, value)                                 # (2, n, 3)
    return rgb[0], rgb[1]


def _hsv_to_rgb(h, s, v):
    """Vectorised HSV -> RGB; h, s, v broadcastable arrays in [0, 1], result (..., 3)."""
    k = (np.array([5.0, 3.0, 1.0]) + h * 6) % 6
    return v - v * s * np.clip(np.minimum(k, 4 - k), 0, 1)


__all__ = ["TEXTURE_CLASSES", "SHAPE_CLASSES", "Textures", "Contents", "make_textures", "make_content",
           "make_textured_shapes"]
