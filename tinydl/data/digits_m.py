"""digits-M: scikit-learn's digits blended with generated colour textures, the way MNIST-M
(Ganin & Lempitsky, 2015) blends MNIST with patches of photographs.

MNIST-M's recipe, per pixel and per colour channel: target = |patch - digit|, the digit in [0, 1].
Where there is no ink the texture shows; where there is ink its colour is inverted, so the digit
stays readable but its colours, contrast and background change from image to image. Here the
photograph patches are replaced by generated textures (nothing is downloaded): two random colours
mixed by a pattern of oriented stripes and blotches of smooth noise.

The source domain is the plain digits as RGB (the grey image in all three channels); the target
domain is the same kind of digits, blended. Both use ``load_digits``'s fixed train/test split; the
training and held-out target images get textures from different seed streams.
"""
from collections import namedtuple

import numpy as np

from .digits import load_digits

DigitsM = namedtuple("DigitsM", ["source", "target"])  # each a digits.Split of (N, 3, S, S) images


def smooth_noise(rng, n, size, cells):
    """(n, size, size) smooth random fields in [0, 1]: a (cells+1)^2 grid of uniform values,
    bilinearly interpolated (value noise)."""
    grid = rng.random((n, cells + 1, cells + 1))
    t = np.linspace(0.0, cells, size, dtype=np.float64)
    i = np.minimum(t.astype(int), cells - 1)
    f = t - i  # (size,) position inside a cell
    rows = grid[:, i] * (1 - f)[None, :, None] + grid[:, i + 1] * f[None, :, None]  # (n, size, cells+1)
    return rows[:, :, i] * (1 - f) + rows[:, :, i + 1] * f  # (n, size, size)


def make_textures(n, size, seed, brightness=0.6):
    """(n, 3, size, size) float32 colour textures in [0, brightness], seeded: c1 (1 - m) + c2 m with two
    random RGB colours c1, c2 (each channel uniform in [0, brightness]) and a pattern m of stripes
    (random frequency, angle, phase) plus blotches of smooth noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size  # (size, size) each, in [0, 1)
    angle = rng.uniform(0, np.pi, (n, 1, 1))
    frequency = rng.uniform(1.0, 4.0, (n, 1, 1))  # stripes per image width
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 1))
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * frequency * (x * np.cos(angle) + y * np.sin(angle)) + phase)
    blotches = smooth_noise(rng, n, size, cells=3)
    weight = rng.uniform(0, 1, (n, 1, 1))  # stripes or blotches, per image
    pattern = weight * stripes + (1 - weight) * blotches  # (n, size, size) in [0, 1]
    c1, c2 = brightness * rng.random((n, 3, 1, 1)), brightness * rng.random((n, 3, 1, 1))
    texture = c1 * (1 - pattern[:, None]) + c2 * pattern[:, None]  # (n, 3, size, size)
    return texture.astype(np.float32)


def blend(digits, textures):
    """MNIST-M's blend: |texture - digit| per channel; digits (N, 1, S, S), textures (N, 3, S, S) in [0, 1]."""
    return np.abs(textures - digits).astype(np.float32)


def make_digits_m(size=16, seed=0, brightness=0.6):
    """Source (plain digits as RGB) and target (digits-M) train/test splits, all (N, 3, size, size)
    float32 in [0, 1] with int64 labels. The digits' split is load_digits's fixed one; the target's
    training textures come from the seed stream (seed, 0), its held-out textures from (seed, 1).

    ``brightness`` bounds the textures' colours. Where a channel of the texture t is above 0.5 the
    blend |t - digit| inverts the digit's polarity in that channel (dark ink on a bright ground) and
    near 0.5 it hides it; at the default 0.6 that is rare and the digits stay readable (a classifier
    trained on digits-M reaches ~97% on it) while one trained on the plain digits drops to ~60%; at
    1.0 (MNIST-M's full range, photographs being mostly mid-grey) it drops to chance."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise ValueError(f"make_digits_m: size must be an int >= 8, got {size!r}")
    if not 0 < brightness <= 1:
        raise ValueError(f"make_digits_m: brightness must be in (0, 1], got {brightness!r}")
    digits = load_digits(size=size)
    source = digits._replace(x_train=np.repeat(digits.x_train, 3, axis=1), x_test=np.repeat(digits.x_test, 3, axis=1))
    target = digits._replace(
        x_train=blend(digits.x_train, make_textures(len(digits.x_train), size, [seed, 0], brightness)),
        x_test=blend(digits.x_test, make_textures(len(digits.x_test), size, [seed, 1], brightness)))
    return DigitsM(source, target)
