"""Embeddings: a lookup table of learned vectors, and the fixed sinusoidal encoding of positions.

``embedding(indices, weight)`` reads rows of weight (num_embeddings, D):
out[..., :] = weight[indices[...], :].  It is indexing, so its backward adds
each output row's gradient into the row it was read from; a token that
occurs twice in the batch receives the sum of both gradients
(docs/attention.md, "Embeddings").  That is the IndexAdd / GetItem pair of
shape.py: IndexAdd accumulates repeated indices (np.add.at), and the two ops
are each other's backward, so double backward works too.

``sinusoidal_positional_encoding(length, dim)`` is the table of Vaswani et
al. (2017), "Attention is all you need", section 3.5 (docs/attention.md,
"Positional encoding"):

    PE[pos, 2i]     = sin(pos / 10000^(2i / dim))
    PE[pos, 2i + 1] = cos(pos / 10000^(2i / dim))
"""
import numbers

import numpy as np

from .. import backend
from ..autograd import Function
from ..device_checks import check
from ..tensor import Tensor, as_dtype, float32
from .shape import IndexAdd


class Embedding(Function):
    """out = weight[indices] (*indices.shape, D); backward scatter-adds into the rows read.

    The row ``padding_idx`` (if any) gets no gradient, as in PyTorch: the
    positions that read it are zeroed in the gradient before it is added.
    """

    def __init__(self, indices, padding_idx=None):
        self.indices, self.padding_idx = indices, padding_idx

    def forward(self, weight):
        return weight[self.indices]  # (*indices.shape, D)

    def backward(self, g):  # g: (*indices.shape, D)
        if self.padding_idx is not None:
            keep = (self.indices != self.padding_idx)[..., None].astype(g.dtype)  # (*indices.shape, 1)
            g = g * Tensor(keep)
        return IndexAdd(self.indices, True, self.inputs[0].shape)(g)  # (num_embeddings, D), repeats accumulate


def _normalize_padding_idx(op, padding_idx, num_embeddings):
    """None, or padding_idx in [0, num_embeddings) (a negative one counts from the end, as in PyTorch)."""
    if padding_idx is None:
        return None
    if not isinstance(padding_idx, numbers.Integral) or isinstance(padding_idx, bool):
        raise TypeError(f"{op}: padding_idx must be an integer or None, got {padding_idx!r}")
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"{op}: padding_idx {padding_idx} must be within num_embeddings ({num_embeddings})")
    return int(padding_idx) % num_embeddings


def embedding(indices, weight, padding_idx=None):
    """Rows of ``weight`` (num_embeddings, D) picked by the integer ``indices`` (any shape) -> (*indices.shape, D).

    ``indices``: an integer Tensor (or array, or list) with values in [0, num_embeddings).
    ``padding_idx``: that row receives no gradient (its value is still read).
    """
    op = "embedding"
    if indices is None:
        raise TypeError(f"{op}: indices must be an integer Tensor, not None")
    if not isinstance(weight, Tensor) or weight.ndim != 2:
        shape = tuple(weight.shape) if isinstance(weight, Tensor) else type(weight).__name__
        raise ValueError(f"{op}: weight must be a 2-d Tensor (num_embeddings, embedding_dim), got {shape}")
    xp = backend.get_array_module(weight.data)
    ids = indices.data if isinstance(indices, Tensor) else xp.asarray(indices)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be integers, got dtype {ids.dtype} (shape {tuple(ids.shape)})")
    if backend.device_of(ids) != weight.device:
        raise RuntimeError(f"{op}: indices are on '{backend.device_of(ids)}' but weight is on '{weight.device}'")
    num_embeddings = weight.shape[0]
    if ids.size:  # read at once on the CPU, with the next read on a GPU (device_checks.py)
        check(((ids < 0) | (ids >= num_embeddings)).any(), lambda: IndexError(
            f"{op}: indices must lie in [0, {num_embeddings}) for a weight of shape {tuple(weight.shape)}, "
            f"got values from {int(ids.min())} to {int(ids.max())}"
        ))
    return Embedding(ids, _normalize_padding_idx(op, padding_idx, num_embeddings))(weight)


def sinusoidal_positional_encoding(length, dim, dtype=None, device="cpu"):
    """The (length, dim) table PE[pos, 2i] = sin(pos w_i), PE[pos, 2i+1] = cos(pos w_i), w_i = 10000^(-2i/dim).

    A constant (no gradient).  Column pair (2i, 2i+1) is a rotating 2-d vector
    whose angle grows by w_i per position: wavelengths from 2 pi (i = 0) to
    10000 * 2 pi, so nearby positions differ in the fast columns and distant ones
    in the slow columns.  An odd ``dim`` drops the last cosine column.
    """
    for name, value in (("length", length), ("dim", dim)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"sinusoidal_positional_encoding: {name} must be a positive integer, got {value!r}")
    position = np.arange(length, dtype=np.float64)[:, None]  # (length, 1)
    frequency = 10000.0 ** (-np.arange(0, dim, 2, dtype=np.float64) / dim)  # (ceil(dim / 2),)  w_i
    angle = position * frequency  # (length, ceil(dim / 2))
    table = np.empty((length, dim), dtype=np.float64)
    table[:, 0::2] = np.sin(angle)
    table[:, 1::2] = np.cos(angle[:, : dim // 2])
    dtype = float32 if dtype is None else as_dtype(dtype)
    return Tensor(backend.to_device(table.astype(dtype), backend.normalize_device(device)))
