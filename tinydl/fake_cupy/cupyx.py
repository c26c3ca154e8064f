"""``cupyx`` of the stand-in: the two things tinydl takes from it.

- ``scatter_add(a, slices, value)``: ``a[slices] += value`` where repeated indices
  accumulate (CuPy's counterpart of ``np.add.at``; index arrays wrap like CuPy's);
- ``scipy.special.erf``.
"""
import types

import numpy as np

from .ndarray import _wrapped_index, ndarray, unwrap, wrap


def scatter_add(a, slices, value):
    if not isinstance(a, ndarray):
        raise TypeError(f"Unsupported type {type(a)}")
    index, _ = _wrapped_index(slices, a.shape)
    np.add.at(a._a, index, unwrap(value))


def _erf(x):
    from scipy.special import erf

    return wrap(erf(unwrap(x, refuse_lists=True)))


scipy = types.SimpleNamespace(special=types.SimpleNamespace(erf=_erf))
