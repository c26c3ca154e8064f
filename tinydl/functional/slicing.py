"""Taking a tensor apart along one dim: narrow, split, chunk, unbind.

Each piece is a slice of x (``getitem``), so its gradient goes back into its place in x and
the places of the other pieces get zeros.
"""
import numbers

from .reduction import normalize_dims
from .shape import getitem


def _int(op, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{op}: {name} must be an int, got {value!r} ({type(value).__name__})")
    return int(value)


def _slice_along(x, axis, start, stop):
    index = [slice(None)] * x.ndim
    index[axis] = slice(start, stop)
    return getitem(x, tuple(index))


def narrow(x, dim, start, length):
    """x[..., start:start + length, ...] along ``dim`` (a negative start counts from the end)."""
    if x.ndim == 0:
        raise ValueError("narrow: cannot be applied to a 0-dim tensor")
    (axis,) = normalize_dims(dim, x.ndim, "narrow")
    start, length = _int("narrow", "start", start), _int("narrow", "length", length)
    size = x.shape[axis]
    if not -size <= start <= size:
        raise IndexError(f"narrow: start {start} is out of range [-{size}, {size}] "
                         f"for dim {dim} of shape {tuple(x.shape)}")
    start = start % size if start < 0 else start
    if length < 0 or start + length > size:
        raise ValueError(f"narrow: start ({start}) + length ({length}) exceeds dimension size ({size}) "
                         f"of dim {dim} of shape {tuple(x.shape)}")
    return _slice_along(x, axis, start, start + length)


def split(x, split_size_or_sections, dim=0):
    """Pieces of x along ``dim``: of ``split_size`` each (the last one smaller if it does not
    divide), or of the sizes in the list ``sections``, which must add up to the dim's size."""
    if x.ndim == 0:
        raise ValueError("split: cannot be applied to a 0-dim tensor")
    (axis,) = normalize_dims(dim, x.ndim, "split")
    size = x.shape[axis]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [_int("split", "split_size_or_sections", s) for s in split_size_or_sections]
        if sum(sizes) != size or any(s < 0 for s in sizes):
            raise ValueError(f"split: sizes {sizes} must be >= 0 and sum exactly to {size}, the size of dim {dim} "
                             f"of the input of shape {tuple(x.shape)}")
    else:
        step = _int("split", "split_size", split_size_or_sections)
        if step < 0 or (step == 0 and size > 0):
            raise ValueError(f"split: split_size must be positive, got {step} for dim {dim} of size {size}")
        sizes = [min(step, size - start) for start in range(0, size, step)] if size else [0]
    pieces, start = [], 0
    for s in sizes:
        pieces.append(_slice_along(x, axis, start, start + s))
        start += s
    return tuple(pieces)


def chunk(x, chunks, dim=0):
    """x split into ``chunks`` pieces of equal size along ``dim``, ceil(size / chunks) each (so
    there may be fewer pieces, and the last one smaller), as PyTorch."""
    chunks = _int("chunk", "chunks", chunks)
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be greater than 0, got {chunks}")
    if x.ndim == 0:
        raise ValueError("chunk: cannot be applied to a 0-dim tensor")
    (axis,) = normalize_dims(dim, x.ndim, "chunk")
    size = x.shape[axis]
    return split(x, max(-(-size // chunks), 1), axis)


def unbind(x, dim=0):
    """The slices of x along ``dim``, with that dim removed, as a tuple."""
    if x.ndim == 0:
        raise ValueError("unbind: cannot be applied to a 0-dim tensor")
    (axis,) = normalize_dims(dim, x.ndim, "unbind")
    index = [slice(None)] * x.ndim
    pieces = []
    for i in range(x.shape[axis]):
        index[axis] = i
        pieces.append(getitem(x, tuple(index)))
    return tuple(pieces)
