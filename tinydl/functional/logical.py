"""Boolean-valued ops: isnan, isfinite, isinf, logical_not / and / or / xor, all, any.

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
