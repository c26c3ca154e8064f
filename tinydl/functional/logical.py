"""Boolean-valued ops: isnan, isfinite, isinf, logical_not / and / or / xor, all, any, and the
close / equal tests: isclose (elementwise), allclose and equal (one Python bool).

Their results are boolean tensors, which carry no gradient (the comparisons
eq, ne, lt, le, gt, ge live in elementwise.py).
"""
from .. import backend
from ..tensor import Tensor
from .reduction import normalize_dims


def isnan(x):
    """True where x is NaN (never for integer and boolean tensors)."""
    return Tensor(backend.get_array_module(x.data).isnan(x.data))


def isfinite(x):
    """True where x is neither infinite nor NaN (always for integer and boolean tensors)."""
    return Tensor(backend.get_array_module(x.data).isfinite(x.data))


def isinf(x):
    """True where x is +inf or -inf."""
    return Tensor(backend.get_array_module(x.data).isinf(x.data))


def logical_not(x):
    """True where x is False or zero."""
    return Tensor(backend.get_array_module(x.data).logical_not(x.data))


def _logical(name, x, other):
    xp = backend.get_array_module(x.data)
    other = other if isinstance(other, Tensor) else Tensor._from_value(other, like=x)
    return Tensor(getattr(xp, name)(x.data, other.data))


def logical_and(x, other):
    """True where both x and other are True or non-zero."""
    return _logical("logical_and", x, other)


def logical_or(x, other):
    """True where x or other (or both) is True or non-zero."""
    return _logical("logical_or", x, other)


def logical_xor(x, other):
    """True where exactly one of x and other is True or non-zero."""
    return _logical("logical_xor", x, other)


def all(x, dim=None, keepdim=False):
    """Whether every element (over ``dim``, or all of them) is True or non-zero."""
    axes = normalize_dims(dim, x.ndim, "all")
    return Tensor(backend.get_array_module(x.data).all(x.data, axis=axes, keepdims=keepdim))


def any(x, dim=None, keepdim=False):
    """Whether some element (over ``dim``, or all of them) is True or non-zero."""
    axes = normalize_dims(dim, x.ndim, "any")
    return Tensor(backend.get_array_module(x.data).any(x.data, axis=axes, keepdims=keepdim))


def isclose(x, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True where |x - other| <= atol + rtol * |other| (NumPy's and PyTorch's rule)."""
    xp = backend.get_array_module(x.data)
    return Tensor(xp.isclose(x.data, other.data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(x, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Whether every element is close (``isclose``), as a Python bool; the dtypes must match, as in PyTorch."""
    if x.dtype != other.dtype:
        raise TypeError(f"allclose: the dtypes differ ({x.dtype} and {other.dtype}); convert one with .to(...)")
    return bool(isclose(x, other, rtol, atol, equal_nan).all().item())


def equal(x, other):
    """Whether x and other have the same shape and the same values, as a Python bool."""
    return tuple(x.shape) == tuple(other.shape) and bool((x.data == other.data).all().item())
