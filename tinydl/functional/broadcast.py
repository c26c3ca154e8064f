"""Broadcasting and its gradient: ``broadcast_to`` and ``sum_to`` are each other's backward.

When ``a`` of shape (3, 1) meets ``b`` of shape (4,), NumPy stretches both to
(3, 4).  Every element of ``a`` was used 4 times, so its gradient is the sum of
the 4 upstream gradients it touched: gradients of a broadcast are reduced with
``sum_to`` back to the input's shape.  Every binary op uses this (docs/autograd.md).
"""
from ..autograd import Function
from ..backend import get_array_module


def _sum_axes(from_shape, to_shape):
    """The axes of ``from_shape`` to sum so that the result reshapes to ``to_shape``."""
    lead = len(from_shape) - len(to_shape)
    axes = tuple(range(lead))
    axes += tuple(lead + i for i, n in enumerate(to_shape) if n == 1 and from_shape[lead + i] != 1)
    return axes


class SumTo(Function):
    """Sum ``x`` down to ``shape`` (the reverse of broadcasting)."""

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        axes = _sum_axes(x.shape, self.shape)
        y = x.sum(axis=axes, keepdims=True) if axes else x
        return y.reshape(self.shape)

    def backward(self, gy):
        return broadcast_to(gy, self.inputs[0].shape)


class BroadcastTo(Function):
    """Stretch ``x`` to ``shape`` by NumPy's broadcasting rules (a view, no copy)."""

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        xp = get_array_module(x)
        try:
            return xp.broadcast_to(x, self.shape)
        except ValueError:
            raise ValueError(f"expand: cannot broadcast a tensor of shape {tuple(x.shape)} to {self.shape}") from None

    def backward(self, gy):
        return sum_to(gy, self.inputs[0].shape)


def sum_to(x, shape):
    """Sum ``x`` over broadcast dimensions so that it has ``shape``."""
    if tuple(x.shape) == tuple(shape):
        return x
    return SumTo(shape)(x)


def broadcast_to(x, shape):
    """Stretch ``x`` to ``shape`` by broadcasting; its gradient is ``sum_to``."""
    if tuple(x.shape) == tuple(shape):
        return x
    return BroadcastTo(shape)(x)
