"""Selecting elements by index or mask: gather, index_select, masked_select, masked_fill.

gather reads, along one dim, the element that an index tensor names:

    y[i][j][k] = x[i][index[i][j][k]][k]          (dim = 1; index has y's shape)

Its backward sends each gradient back to the element it was read from, adding where an
index repeats (a scatter-add), and the scatter-add's backward is gather again:

    gx = zeros(x.shape);  gx[i][index[i][j][k]][k] += gy[i][j][k]

index_select and the values of sort / topk are gathers; masked_fill is ``where``.
"""
import numbers

import numpy as np

from .. import backend
from ..autograd import Function
from ..device_checks import check
from ..tensor import Tensor
from .broadcast import broadcast_to
from .elementwise import where
from .reduction import normalize_dims
from .shape import getitem


def _positions(index, axis):
    """The advanced index that reads element index[i][j][k] along ``axis`` of x: ``index`` on
    that axis, and on every other axis its own position (an arange that broadcasts)."""
    xp = backend.get_array_module(index)
    parts = []
    for d, n in enumerate(index.shape):
        shape = [1] * index.ndim
        shape[d] = n
        parts.append(index if d == axis else xp.arange(n).reshape(shape))
    return tuple(parts)


class Gather(Function):
    """y = x read at ``positions`` (see ``_positions``);  gx = scatter-add of gy there."""

    def __init__(self, positions):
        self.positions = positions

    def forward(self, x):
        return x[self.positions]

    def backward(self, gy):
        return ScatterAdd(self.positions, self.inputs[0].shape)(gy)


class ScatterAdd(Function):
    """zeros(shape) with each gy added at its position;  the backward reads gy back (Gather)."""

    def __init__(self, positions, shape):
        self.positions, self.shape = positions, shape

    def forward(self, gy):
        z = backend.get_array_module(gy).zeros(self.shape, dtype=gy.dtype)
        backend.scatter_add(z, self.positions, gy)
        return z

    def backward(self, ggx):
        return Gather(self.positions)(ggx)


def _index_array(op, index, x):
    """``index`` as an integer array on x's device, or a TypeError naming the op."""
    if not isinstance(index, Tensor):
        index = Tensor(index)
    if index.dtype.kind not in "iu":
        raise TypeError(f"{op}: index must be an integer tensor (int64), got dtype {index.dtype}")
    if index.device != x.device:
        raise RuntimeError(f"{op}: index is on {index.device} but the input is on {x.device}; move one with .to(...)")
    return index.data


def _check_in_range(op, index, axis, size):
    """Every index in [0, size) (a negative one is refused, as PyTorch's gather does); on a GPU the
    answer comes with the next read (device_checks.py)."""
    if index.size == 0:
        return
    outside = ((index < 0) | (index >= size)).any()

    def error():
        wrong = index[(index < 0) | (index >= size)]
        return IndexError(f"{op}: index {int(wrong[0])} is out of bounds for dimension {axis} with size {size}")

    check(outside, error)


def gather(x, dim, index):
    """Values of x along ``dim`` at ``index`` (an int64 tensor with x's number of dims, no larger
    than x in the other dims); differentiable in x."""
    (axis,) = normalize_dims(dim, x.ndim, "gather")
    index = _index_array("gather", index, x)
    if index.ndim != x.ndim:
        raise ValueError(f"gather: index must have as many dims as the input, got index shape "
                         f"{tuple(index.shape)} for input shape {tuple(x.shape)}")
    if x.ndim == 0:  # a 0-d tensor read at index 0
        return gather(x.reshape(1), 0, index.reshape(1)).reshape(())
    for d, (n_index, n_x) in enumerate(zip(index.shape, x.shape)):
        if d != axis and n_index > n_x:
            raise ValueError(f"gather: index shape {tuple(index.shape)} is larger than input shape "
                             f"{tuple(x.shape)} in dim {d} (only dim {axis}, the one gathered along, may differ)")
    _check_in_range("gather", index, axis, x.shape[axis])
    return Gather(_positions(index, axis))(x)


def index_select(x, dim, index):
    """The slices of x along ``dim`` named by the 1-d ``index``, in its order; differentiable in x."""
    (axis,) = normalize_dims(dim, x.ndim, "index_select")
    index = _index_array("index_select", index, x)
    if index.ndim > 1:
        raise ValueError(f"index_select: index must be a vector (1-d), got shape {tuple(index.shape)}")
    if x.ndim == 0:
        return gather(x, 0, index.reshape(()))
    _check_in_range("index_select", index, axis, x.shape[axis])
    out_shape = x.shape[:axis] + (index.size,) + x.shape[axis + 1:]
    shape = [1] * x.ndim
    shape[axis] = index.size
    full = backend.get_array_module(index).broadcast_to(index.reshape(shape), out_shape)  # index along axis
    return Gather(_positions(full, axis))(x)


def _bool_mask(op, mask, x):
    if not isinstance(mask, Tensor):
        mask = Tensor(mask)
    if mask.dtype.kind != "b":
        raise TypeError(f"{op}: mask must be a boolean tensor, got dtype {mask.dtype}")
    try:
        shape = np.broadcast_shapes(mask.shape, x.shape)
    except ValueError:
        raise ValueError(f"{op}: mask of shape {tuple(mask.shape)} does not broadcast with input of shape "
                         f"{tuple(x.shape)}") from None
    return mask, shape


def masked_select(x, mask):
    """The elements of x where ``mask`` (broadcast with x) is True, as a 1-d tensor; differentiable."""
    mask, shape = _bool_mask("masked_select", mask, x)
    return getitem(broadcast_to(x, shape), broadcast_to(mask, shape))


def _fill_value(op, value, x):
    """``value`` (a number or a 0-d tensor) as a tensor of x's dtype on x's device."""
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ValueError(f"{op}: value must be a number or a 0-d tensor, "
                             f"got a tensor of shape {tuple(value.shape)}")
        return value if value.dtype == x.dtype else value.to(x.dtype)
    if isinstance(value, (np.generic, numbers.Number)) and not isinstance(value, complex):
        return Tensor._from_value(value, like=x, dtype=x.dtype)
    raise TypeError(f"{op}: value must be a number or a 0-d tensor, not {type(value).__name__}")


def masked_fill(x, mask, value):
    """x with ``value`` where ``mask`` is True (the mask broadcasts, as PyTorch's does, and so may
    the result); differentiable in x, and in value when it is a 0-d tensor. Keeps x's dtype."""
    mask, _ = _bool_mask("masked_fill", mask, x)
    return where(mask, _fill_value("masked_fill", value, x), x)


def masked_fill_(x, mask, value):
    """masked_fill in place: under ``td.no_grad()`` or on a tensor outside any graph."""
    mask, shape = _bool_mask("masked_fill_", mask, x)
    if tuple(shape) != tuple(x.shape):
        raise ValueError(f"masked_fill_: mask of shape {tuple(mask.shape)} would change the shape of the input "
                         f"{tuple(x.shape)} in place; use masked_fill (out of place)")
    x._check_in_place("masked_fill_", "y = x.masked_fill(mask, value)")
    x.data[...] = masked_fill(Tensor(x.data), mask, _fill_value("masked_fill_", value, x).detach()).data
    return x
