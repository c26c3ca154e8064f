"""scikit-learn's 8x8 handwritten digits (shipped inside the package: nothing is downloaded)."""
from collections import namedtuple

import numpy as np

Split = namedtuple("Split", ["x_train", "y_train", "x_test", "y_test"])


def load_digits(size=8, value_range=(0.0, 1.0), test_fraction=0.2, seed=0, flatten=False):
    """The 1797 digits as float32 images (N, 1, size, size) and int64 labels, split with a fixed seed.

    ``value_range`` (0, 1) or (-1, 1) (for a tanh generator) maps ink 0..16 linearly;
    ``size`` other than 8 resizes with tinydl's own bilinear ``interpolate``;
    ``flatten=True`` gives (N, size * size) rows instead of images.
    """
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError as error:
        raise ImportError("load_digits needs scikit-learn: pip install scikit-learn (or tinydl[examples])") from error
    digits = sklearn_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]  # (1797, 1, 8, 8) in [0, 1]
    if size != 8:
        from .. import functional as F
        from ..creation import tensor

        images = F.interpolate(tensor(images), size=(size, size), mode="bilinear", align_corners=False).numpy()
        images = np.clip(images, 0.0, 1.0)
    low, high = value_range
    images = (images * (high - low) + low).astype(np.float32)
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(images))
    n_test = int(round(len(images) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    if flatten:
        images = images.reshape(len(images), -1)
    return Split(images[train], labels[train], images[test], labels[test])
