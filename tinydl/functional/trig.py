"""Trigonometric ops: sin and cos.

    y = sin(x);  dy/dx =  cos(x)
    y = cos(x);  dy/dx = -sin(x)

Each backward is written with these same ops, so it can be differentiated again.
Integer and boolean inputs give float32, as in PyTorch.
"""
from .. import backend
from ..autograd import Function
from .elementwise import _as_float


class Sin(Function):
    """y = sin(x);  dy/dx = cos(x)."""

    def forward(self, x):
        return backend.get_array_module(x).sin(x)

    def backward(self, gy):
        return gy * cos(self.inputs[0])


class Cos(Function):
    """y = cos(x);  dy/dx = -sin(x)."""

    def forward(self, x):
        return backend.get_array_module(x).cos(x)

    def backward(self, gy):
        return -gy * sin(self.inputs[0])


def sin(x):
    """The sine elementwise (x in radians)."""
    return Sin()(_as_float(x))


def cos(x):
    """The cosine elementwise (x in radians)."""
    return Cos()(_as_float(x))
