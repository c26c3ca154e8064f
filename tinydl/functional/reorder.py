"""Reordering elements along dims: flip and roll.

Both only move elements, so the backward moves the gradient back:
flip's backward is the same flip; roll's is the roll by the opposite shifts.
"""
import numbers

from .. import backend
from ..autograd import Function
from .reduction import normalize_dims


class Flip(Function):
    """The order of x reversed along ``axes``."""

    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        return backend.get_array_module(x).flip(x, self.axes)

    def backward(self, gy):
        return Flip(self.axes)(gy)


class Roll(Function):
    """x shifted cyclically by ``shifts`` along ``axes`` (what falls off one end comes back at the other)."""

    def __init__(self, shifts, axes):
        self.shifts, self.axes = shifts, axes

    def forward(self, x):
        return backend.get_array_module(x).roll(x, self.shifts, self.axes)

    def backward(self, gy):
        return Roll(tuple(-s for s in self.shifts), self.axes)(gy)


def _ints(op, name, value):
    values = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{op}: {name} must be an int or a tuple of ints, got {value!r}")
    return tuple(int(v) for v in values)


def flip(x, dims):
    """x with the order of its elements reversed along each of ``dims``."""
    dims = _ints("flip", "dims", dims)
    axes = normalize_dims(dims, x.ndim, "flip")
    if len(axes) != len(dims):
        raise ValueError(f"flip: dims {dims} name a dim more than once")
    return Flip(axes)(x) if axes and x.ndim else x.clone()


def roll(x, shifts, dims=None):
    """x shifted cyclically by ``shifts`` along ``dims``; without dims, x is flattened, rolled
    and put back in its shape (as PyTorch)."""
    shifts = _ints("roll", "shifts", shifts)
    if dims is None:
        if len(shifts) != 1:
            raise ValueError(f"roll: without dims, shifts must be one int, got {shifts}")
        return roll(x.reshape(-1), shifts, 0).reshape(x.shape)
    dims = _ints("roll", "dims", dims)
    if len(shifts) != len(dims):
        raise ValueError(f"roll: shifts {shifts} and dims {dims} must have the same length")
    axes = tuple(normalize_dims(d, x.ndim, "roll")[0] for d in dims)
    return Roll(shifts, axes)(x)
