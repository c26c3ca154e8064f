"""amax and amin: the largest / smallest values over one or more dims, without indices.

They are ``max`` / ``min`` with a tuple of dims (reduction.py's Extreme): tied extremes share
the gradient evenly, as PyTorch's amax / amin do. ``dim=()`` (the default) means every dim.
"""
from .reduction import max, min


def _dims(dim, x):
    dims = tuple(dim) if isinstance(dim, (list, tuple)) else (dim,)
    return dims if dims else tuple(range(x.ndim))


def amax(x, dim=(), keepdim=False):
    """The largest value over ``dim`` (every dim when empty); ties share the gradient."""
    return max(x, _dims(dim, x), keepdim)


def amin(x, dim=(), keepdim=False):
    """The smallest value over ``dim`` (every dim when empty); ties share the gradient."""
    return min(x, _dims(dim, x), keepdim)
