"""``cupy.random`` of the stand-in: a random stream of its own.

CuPy draws with cuRAND (XORWOW by default), NumPy with its own generators, so the
same seed gives *different numbers* on the two devices (a run is reproducible on
one device, not across them). The stand-in keeps that property with a generator
NumPy does not use by default (Philox), so no test can pass only because the
"GPU" happens to draw what NumPy draws.
"""
import numpy as np

from .ndarray import wrap


class RandomState:
    """CuPy's ``RandomState`` methods, drawing from a Philox stream."""

    def __init__(self, seed=None):
        self.seed(seed)

    def seed(self, seed=None):
        self._gen = np.random.Generator(np.random.Philox(seed))

    def standard_normal(self, size=None, dtype=float):
        return wrap(np.asarray(self._gen.standard_normal(size, dtype=_float(dtype))))

    def normal(self, loc=0.0, scale=1.0, size=None, dtype=float):
        return wrap(np.asarray(self._gen.normal(loc, scale, size).astype(dtype)))

    def random_sample(self, size=None, dtype=float):
        return wrap(np.asarray(self._gen.random(size, dtype=_float(dtype))))

    def rand(self, *size, dtype=float):
        return self.random_sample(size or None, dtype)

    def randn(self, *size, dtype=float):
        return self.standard_normal(size or None, dtype)

    def uniform(self, low=0.0, high=1.0, size=None, dtype=float):
        return wrap(np.asarray(self._gen.uniform(low, high, size).astype(dtype)))

    def randint(self, low, high=None, size=None, dtype=int):
        if high is None:
            low, high = 0, low
        return wrap(np.asarray(self._gen.integers(low, high, size=size, dtype=dtype)))

    def permutation(self, num):
        if not isinstance(num, int):
            raise TypeError("the stand-in's permutation takes an int")
        return wrap(self._gen.permutation(num))

    def choice(self, a, size=None, replace=True, p=None):
        return wrap(np.asarray(self._gen.choice(a, size=size, replace=replace, p=p)))

    def shuffle(self, a):
        self._gen.shuffle(a._a)


def _float(dtype):
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"cupy.random: dtype must be float32 or float64, got {dtype}")
    return dtype


_default = RandomState()


def seed(seed=None):
    _default.seed(seed)


def get_random_state():
    return _default


def __getattr__(name):
    if hasattr(RandomState, name) and not name.startswith("_"):
        return getattr(_default, name)
    raise AttributeError(f"module 'cupy.random' has no attribute '{name}'")
