"""``cupyx`` of the stand-in: the two things tinydl takes from it.

- ``scatter_add(a, slices, value)``: ``a[slices] += value`` where repeated indices
  accumulate (CuPy's counterpart of ``np.add.at``; index arrays wrap like CuPy's);
- ``scipy.special.erf``.
"""
import types

import numpy as np

from . import counters
from .ndarray import _wrapped_index, ndarray, unwrap, wrap


SCATTER_DTYPES = tuple(np.dtype(t) for t in ("int32", "float16", "float32", "float64", "uint32", "uint64"))


def scatter_add(a, slices, value):
    if not isinstance(a, ndarray):
        raise TypeError(f"Unsupported type {type(a)}")
    if a.dtype not in SCATTER_DTYPES:  # CuPy's atomicAdd exists for these types only
        raise TypeError(
            "cupy.add.at only supports int32, float16, float32, float64, uint32, uint64, as data type"
        )
    index, _ = _wrapped_index(slices, a.shape)
    if isinstance(value, np.ndarray):
        counters.copy()  # host values are copied to the device first
        value = ndarray._from_numpy(np.array(value))
    np.add.at(a._a, index, unwrap(value))


def _erf(x):
    from scipy.special import erf

    return wrap(erf(unwrap(x, refuse_lists=True)))


scipy = types.SimpleNamespace(special=types.SimpleNamespace(erf=_erf))
