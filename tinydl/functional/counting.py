"""Indices from values and values repeated by counts: nonzero, repeat_interleave.

nonzero's output size depends on the values, so it reads them (on a GPU, a sync; PyTorch
syncs too). repeat_interleave is an index_select with each index repeated, so its gradient
adds the copies' gradients back up (index_select's backward is a scatter-add).
"""
import numbers

from .. import backend
from ..tensor import Tensor
from .reduction import normalize_dims
from .select import index_select


def nonzero(x, *, as_tuple=False):
    """The indices of the non-zero elements: an (n, x.ndim) int64 tensor, one row per element in
    row-major order; with ``as_tuple=True``, one 1-d tensor per dim (what ``x[...]`` takes)."""
    xp = backend.get_array_module(x.data)
    found = xp.nonzero(x.data.reshape(1) if x.ndim == 0 else x.data)
    if as_tuple:
        return tuple(Tensor(i.astype("int64")) for i in found)
    rows = xp.stack(found, axis=1).astype("int64")
    return Tensor(rows[:, :0] if x.ndim == 0 else rows)


def repeat_interleave(x, repeats, dim=None):
    """Each element (or each slice along ``dim``) repeated ``repeats`` times, in place in the
    order: [a, b] -> [a, a, b, b]. ``repeats`` is an int or one count per slice; without ``dim``,
    x is flattened first (as PyTorch)."""
    if dim is None:
        x, dim = x.reshape(-1), 0
    (axis,) = normalize_dims(dim, x.ndim, "repeat_interleave")
    n = x.shape[axis]
    xp = backend.get_array_module(x.data)
    if isinstance(repeats, Tensor):
        counts = backend.to_numpy(repeats.data).reshape(-1)  # the output size depends on them: read them
    elif isinstance(repeats, numbers.Integral) and not isinstance(repeats, bool):
        counts = [int(repeats)] * n
    else:
        counts = list(repeats)
    if len(counts) != n or any(int(c) < 0 for c in counts):
        raise ValueError(f"repeat_interleave: repeats must be one count >= 0 per slice ({n} along dim {dim}), "
                         f"got {repeats!r}")
    index = [i for i, c in enumerate(counts) for _ in range(int(c))]
    return index_select(x, axis, Tensor(xp.asarray(index, dtype="int64")))
