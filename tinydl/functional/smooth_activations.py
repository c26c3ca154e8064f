"""Smooth activations: elu and silu (a.k.a. swish).

Both forwards are written without a data-driven select (``xp.where``), which on the CPU
mispredicts a branch at about every other element (see LeakyReLU in activation.py).
"""
from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from .activation import sigmoid
from .elementwise import _as_float, clamp, exp


class ELU(Function):
    """y = x for x > 0, else alpha (e^x - 1);  dy/dx = 1 for x > 0, else alpha e^x."""

    def __init__(self, alpha):
        self.alpha = alpha

    def forward(self, x):
        xp = backend.get_array_module(x)
        alpha = x.dtype.type(self.alpha)
        return xp.maximum(x, 0) + alpha * xp.expm1(xp.minimum(x, 0))  # exactly one term is non-zero

    def backward(self, gy):
        x = self.inputs[0]
        positive = Tensor((x.data > 0).astype(x.dtype))  # a constant: its derivative is 0
        # e^min(x, 0): never overflows, and equals e^x wherever it is used
        return gy * (positive + (1 - positive) * self.alpha * exp(clamp(x, max=0)))


class SiLU(Function):
    """y = x sigmoid(x);  dy/dx = s (1 + x (1 - s)), s = sigmoid(x)."""

    def forward(self, x):
        xp = backend.get_array_module(x)
        s = xp.exp(xp.minimum(x, 0)) / (1 + xp.exp(-xp.abs(x)))  # sigmoid without overflow (activation.py)
        return (x * s).astype(x.dtype, copy=False)

    def backward(self, gy):
        x = self.inputs[0]
        s = sigmoid(x)
        return gy * s * (1 + x * (1 - s))


def _not_in_place(op, inplace):
    if inplace:
        raise NotImplementedError(f"{op}: inplace=True is not supported (tinydl never works in place); "
                                  f"use the result: y = F.{op}(x)")


def elu(input, alpha=1.0, inplace=False):
    """x for x > 0, else alpha * (exp(x) - 1)."""
    _not_in_place("elu", inplace)
    return ELU(float(alpha))(_as_float(input))


def silu(input, inplace=False):
    """x * sigmoid(x) (the "swish" activation)."""
    _not_in_place("silu", inplace)
    return SiLU()(_as_float(input))
