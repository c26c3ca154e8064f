"""Rounding ops: round, floor, ceil, sign.

Each is piecewise constant, so its derivative is 0 wherever it exists; PyTorch
returns that 0 everywhere (also at the jumps), and so does tinydl. The backward
keeps x in the gradient's graph (``masked_grad`` with a mask of zeros), so a
second derivative is zeros too, not "input was not used".

Integer tensors are returned unchanged (as a copy): they are already whole
numbers, and NumPy's floor / ceil would turn them into floats.
"""
from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from .elementwise import masked_grad


class PiecewiseConstant(Function):
    """y = f(x) for a step function f (round, floor, ceil, sign);  dy/dx = 0."""

    def __init__(self, name, decimals=0):
        self.name, self.decimals = name, decimals

    def forward(self, x):
        xp = backend.get_array_module(x)
        if self.name == "round":
            return xp.round(x, self.decimals)  # halves to even, as PyTorch
        return getattr(xp, self.name)(x)

    def backward(self, gy):
        x = self.inputs[0]
        return masked_grad(gy, x, backend.get_array_module(x.data).zeros_like(x.data))


def _step(x, name, decimals=0):
    if x.dtype.kind == "b" or (x.dtype.kind in "iu" and (name != "sign" and decimals >= 0)):
        return Tensor(x.data.copy())  # whole numbers already (and sign(bool) is the bool itself)
    return PiecewiseConstant(name, decimals)(x)


def round(x, *, decimals=0):
    """x rounded to ``decimals`` decimal places (halves to even, as PyTorch); zero gradient."""
    if isinstance(decimals, bool) or not isinstance(decimals, int):
        raise TypeError(f"round: decimals must be an int, got {decimals!r}")
    return _step(x, "round", decimals)


def floor(x):
    """The largest whole number <= x, elementwise; zero gradient."""
    return _step(x, "floor")


def ceil(x):
    """The smallest whole number >= x, elementwise; zero gradient."""
    return _step(x, "ceil")


def sign(x):
    """-1, 0 or 1 by the sign of x, elementwise; zero gradient (0 at x = 0 as well)."""
    return _step(x, "sign")
