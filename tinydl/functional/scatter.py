"""Writing values at indices along one dim: scatter and scatter_add (gather's inverses).

    scatter:      y = x, then y[i][index[i][j][k]][k] = src[i][j][k]      (dim = 1)
    scatter_add:  y = x, then y[i][index[i][j][k]][k] += src[i][j][k]

The everyday use is a one-hot matrix: ``td.zeros(N, C).scatter_(1, labels.unsqueeze(1), 1.0)``.

Gradients: scatter_add's is gy for x and ``gather(gy)`` for src (ScatterAdd in select.py).
scatter's x keeps gy except where it was overwritten (0 there), and src gets ``gather(gy)``.
Where an index repeats, scatter keeps one of the written values (the last on the CPU; PyTorch
calls the choice undefined) and, as in PyTorch, every src element still gets gather(gy).
"""
import numbers

import numpy as np

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from .reduction import normalize_dims
from .select import Gather, ScatterAdd, _check_in_range, _index_array, _positions
from .shape import getitem


class Place(Function):
    """zeros(shape) with src written at ``positions``;  the backward reads gy there (Gather)."""

    def __init__(self, positions, shape):
        self.positions, self.shape = positions, shape

    def forward(self, src):
        z = backend.get_array_module(src).zeros(self.shape, dtype=src.dtype)
        z[self.positions] = src
        return z

    def backward(self, gy):
        return Gather(self.positions)(gy)


def _setup(op, x, dim, index, src):
    """(positions, src as a Tensor of index's shape) after the checks PyTorch makes."""
    (axis,) = normalize_dims(dim, x.ndim, op)
    index = _index_array(op, index, x)
    if index.ndim != x.ndim:
        raise ValueError(f"{op}: index must have as many dims as the input, got index shape "
                         f"{tuple(index.shape)} for input shape {tuple(x.shape)}")
    for d, (n_index, n_x) in enumerate(zip(index.shape, x.shape)):
        if d != axis and n_index > n_x:
            raise ValueError(f"{op}: index shape {tuple(index.shape)} is larger than input shape "
                             f"{tuple(x.shape)} in dim {d} (only dim {axis} may differ)")
    _check_in_range(op, index, axis, x.shape[axis])
    if isinstance(src, Tensor):
        if src.ndim != index.ndim or any(s < i for s, i in zip(src.shape, index.shape)):
            raise ValueError(f"{op}: src of shape {tuple(src.shape)} must have index's dims and be at least "
                             f"as large as index {tuple(index.shape)} in each")
        src = getitem(src, tuple(slice(0, n) for n in index.shape))  # the part that index names
        if src.dtype != x.dtype:
            src = src.to(x.dtype)
    elif isinstance(src, (numbers.Number, np.generic)) and not isinstance(src, complex):
        xp = backend.get_array_module(x.data)
        src = Tensor(xp.full(index.shape, src, dtype=x.dtype))
    else:
        raise TypeError(f"{op}: src must be a Tensor or a number, not {type(src).__name__}")
    return _positions(index, axis), src


def scatter(x, dim, index, src, reduce=None):
    """x with src (a tensor, or one number) written at ``index`` along ``dim``; differentiable
    in x and src. ``reduce=`` is not supported (use scatter_add for sums)."""
    if reduce is not None:
        raise ValueError(f"scatter: reduce={reduce!r} is not supported by tinydl; use scatter_add for 'add'")
    positions, src = _setup("scatter", x, dim, index, src)
    keep = backend.get_array_module(x.data).ones(x.shape, dtype=x.dtype)
    keep[positions] = 0  # 1 where x survives, 0 where src was written
    return x * Tensor(keep) + Place(positions, x.shape)(src)


def scatter_add(x, dim, index, src):
    """x with src added at ``index`` along ``dim`` (repeats add up); differentiable in x and src."""
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add: src must be a Tensor, not {type(src).__name__}")
    positions, src = _setup("scatter_add", x, dim, index, src)
    return x + ScatterAdd(positions, x.shape)(src)
