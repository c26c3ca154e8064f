"""Reductions: sum, mean, max, min, var, std, logsumexp, argmax, argmin.

A reduction's backward undoes the shape change: the upstream gradient is
reshaped as if ``keepdim=True`` and broadcast back over the reduced axes.
"""
import builtins
import numbers
from collections import namedtuple

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from .broadcast import broadcast_to

ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])  # what max(dim) / min(dim) return


def normalize_dims(dim, ndim, op="reduction"):
    """``dim`` (None, int or sequence, negative allowed) as a sorted tuple of axes."""
    if dim is None:
        return tuple(range(ndim))
    dims = tuple(dim) if isinstance(dim, (tuple, list, range)) else (dim,)
    axes = []
    for d in dims:
        check_int_dim(d, op)
        if not -builtins.max(ndim, 1) <= d < builtins.max(ndim, 1):
            raise IndexError(f"{op}: dim {d} is out of range for a tensor with {ndim} dimensions")
        axes.append(d % builtins.max(ndim, 1) if ndim else 0)
    return tuple(sorted(set(axes)))


def check_int_dim(dim, op):
    """A dim is an int: a float (``sum(1.0)``) is refused rather than passed on to NumPy."""
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"{op}: dim must be an int, got {dim!r} ({type(dim).__name__})")


def _kept_shape(shape, axes):
    """``shape`` with each reduced axis set to 1, as keepdim=True would leave it."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    """Sum over ``axes``;  the gradient is broadcast back over them."""

    def __init__(self, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x):
        return x.sum(axis=self.axes, keepdims=self.keepdim)

    def backward(self, gy):
        x = self.inputs[0]
        return broadcast_to(gy.reshape(_kept_shape(x.shape, self.axes)), x.shape)


class Mean(Function):
    """Mean over ``axes``;  the gradient is broadcast back and divided by the count."""

    def __init__(self, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x):
        self.count = 1
        for a in self.axes:
            self.count *= x.shape[a]
        return x.mean(axis=self.axes, keepdims=self.keepdim)

    def backward(self, gy):
        x = self.inputs[0]
        return broadcast_to(gy.reshape(_kept_shape(x.shape, self.axes)), x.shape) / self.count


class Extreme(Function):
    """max or min over ``axes``; the gradient is split evenly among tied extremes."""

    def __init__(self, axes, keepdim, largest):
        self.axes, self.keepdim, self.largest = axes, keepdim, largest

    def forward(self, x):
        reduce = x.max if self.largest else x.min
        return reduce(axis=self.axes, keepdims=self.keepdim)

    def backward(self, gy):
        x = self.inputs[0]
        kept = _kept_shape(x.shape, self.axes)
        y = self.outputs[0].data.reshape(kept)
        hits = (x.data == y).astype(x.dtype)  # 1 at every position equal to the extreme
        share = hits / hits.sum(axis=self.axes, keepdims=True)
        return broadcast_to(gy.reshape(kept), x.shape) * Tensor(share)


class ExtremeAlong(Function):
    """max or min along one ``axis`` (the value at the returned index gets the gradient)."""

    def __init__(self, axis, keepdim, largest):
        self.axis, self.keepdim, self.largest = axis, keepdim, largest

    def forward(self, x):
        xp = backend.get_array_module(x)
        arg = xp.argmax if self.largest else xp.argmin
        self.index = xp.expand_dims(arg(x, axis=self.axis), self.axis)  # kept shape
        values = xp.take_along_axis(x, self.index, axis=self.axis)
        index = self.index
        if not self.keepdim:
            values, index = values.squeeze(self.axis), index.squeeze(self.axis)
        return values, index.astype("int64")

    def backward(self, gy, g_index):
        x = self.inputs[0]
        xp = backend.get_array_module(x.data)
        positions = xp.arange(x.shape[self.axis]).reshape([-1 if i == self.axis else 1 for i in range(x.ndim)])
        chosen = (positions == self.index).astype(x.dtype)  # one-hot along axis
        gy = gy.reshape(_kept_shape(x.shape, (self.axis,)))
        return broadcast_to(gy, x.shape) * Tensor(chosen)


def sum(x, dim=None, keepdim=False):
    """Sum over ``dim`` (all dims when None), keeping them as size 1 with ``keepdim``."""
    return Sum(normalize_dims(dim, x.ndim, "sum"), keepdim)(x)


def mean(x, dim=None, keepdim=False):
    """Mean over ``dim`` (all dims when None)."""
    if x.dtype.kind != "f":
        raise TypeError(f"mean: input dtype should be floating point, got {x.dtype}")
    return Mean(normalize_dims(dim, x.ndim, "mean"), keepdim)(x)


def _extreme(x, dim, keepdim, largest):
    name = "max" if largest else "min"
    if x.data.size == 0:
        raise ValueError(f"{name}: the tensor of shape {tuple(x.shape)} is empty")
    if dim is None:
        return Extreme(normalize_dims(None, x.ndim, name), False, largest)(x)
    if not isinstance(dim, int):
        return Extreme(normalize_dims(dim, x.ndim, name), keepdim, largest)(x)  # like torch.amax
    (axis,) = normalize_dims(dim, x.ndim, name)
    values, indices = ExtremeAlong(axis, keepdim, largest)(x)
    return ValuesIndices(values, indices)


def max(x, dim=None, keepdim=False):
    """Without ``dim``, the largest value; with an int ``dim``, ``(values, indices)``."""
    return _extreme(x, dim, keepdim, largest=True)


def min(x, dim=None, keepdim=False):
    """Without ``dim``, the smallest value; with an int ``dim``, ``(values, indices)``."""
    return _extreme(x, dim, keepdim, largest=False)


def var(x, dim=None, unbiased=True, keepdim=False, correction=None):
    """Variance, unbiased (divide by n - 1) by default like PyTorch; ``correction`` overrides."""
    if correction is None:
        correction = 1 if unbiased else 0
    axes = normalize_dims(dim, x.ndim, "var")
    n = 1
    for a in axes:
        n *= x.shape[a]
    deviation = x - mean(x, axes, keepdim=True)
    return sum(deviation * deviation, axes, keepdim) / builtins.max(n - correction, 0)


def std(x, dim=None, unbiased=True, keepdim=False, correction=None):
    """Standard deviation, sqrt(var); unbiased by default."""
    return var(x, dim, unbiased, keepdim, correction).sqrt()


def logsumexp(x, dim, keepdim=False):
    """log(sum(exp(x))) computed stably: the max is subtracted first (and added back)."""
    axes = normalize_dims(dim, x.ndim, "logsumexp")
    xp = backend.get_array_module(x.data)
    top = xp.max(x.data, axis=axes, keepdims=True)
    shift = Tensor(xp.where(xp.isfinite(top), top, 0))  # a constant: it cancels in the gradient
    out = ((x - shift).exp().sum(axes, keepdim=True)).log() + shift
    return out if keepdim else out.squeeze(axes)


def _arg(x, dim, keepdim, largest):
    xp = backend.get_array_module(x.data)
    arg = xp.argmax if largest else xp.argmin
    if dim is None:
        result = arg(x.data.reshape(-1))
        return Tensor(xp.asarray(result, dtype="int64").reshape((1,) * x.ndim if keepdim else ()))
    (axis,) = normalize_dims(dim, x.ndim, "argmax" if largest else "argmin")
    return Tensor(arg(x.data, axis=axis, keepdims=keepdim).astype("int64"))


def argmax(x, dim=None, keepdim=False):
    """Index of the largest value (over all elements, or along ``dim``), int64, no gradient."""
    return _arg(x, dim, keepdim, True)


def argmin(x, dim=None, keepdim=False):
    """Index of the smallest value (over all elements, or along ``dim``), int64, no gradient."""
    return _arg(x, dim, keepdim, False)
