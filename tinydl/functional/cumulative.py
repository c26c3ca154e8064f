"""cumsum: running sums along one dim.

    y[i] = x[0] + x[1] + ... + x[i]
    dL/dx[j] = sum over i >= j of dL/dy[i]    (a running sum from the other end)

so the backward is ``flip(cumsum(flip(gy)))``, itself differentiable.
Integer and boolean tensors sum in int64, as in PyTorch.
"""
from .. import backend
from ..autograd import Function
from ..tensor import as_dtype
from .elementwise import cast
from .reduction import normalize_dims
from .reorder import flip


class Cumsum(Function):
    """y = running sum of x along ``axis``."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        return backend.get_array_module(x).cumsum(x, axis=self.axis)

    def backward(self, gy):
        return flip(Cumsum(self.axis)(flip(gy, self.axis)), self.axis)


def cumsum(x, dim, dtype=None):
    """The running sum of x along ``dim`` (``dtype``: cast first, as PyTorch)."""
    if x.ndim == 0:
        return cumsum(x.reshape(1), 0, dtype).reshape(())
    (axis,) = normalize_dims(dim, x.ndim, "cumsum")
    if dtype is not None:
        x = cast(x, as_dtype(dtype))
    elif x.dtype.kind in "biu":
        x = cast(x, "int64")
    return Cumsum(axis)(x)
