"""Shape ops: reshape, permute/transpose, squeeze/unsqueeze, expand, repeat,
indexing, cat and stack.

None of these changes a value, they only move values around, so each
backward moves the gradient back: reshape it back, permute it back, or (for
indexing) add it into a zero tensor at the positions that were read.
"""
import operator
import re

import numpy as np

from .. import backend
from ..autograd import Function
from ..device_checks import check
from ..tensor import Tensor
from .broadcast import broadcast_to
from .elementwise import cast, promoted_dtype
from .reduction import check_int_dim, normalize_dims


def _sizes(args):
    """Accept f(2, 3) and f((2, 3))."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


def _int_sizes(args, name, op):
    """``_sizes(args)`` where every entry must be an int (-1 included): a float is refused, not
    truncated (``reshape(2.5, 3)``)."""
    sizes = _sizes(args)
    result = []
    for i, s in enumerate(sizes):
        try:
            if isinstance(s, (bool, np.bool_)):
                raise TypeError
            result.append(operator.index(s))  # ints, NumPy integers, one-element integer Tensors
        except TypeError:
            raise TypeError(f"{op}: {name} {sizes} must be ints, got {s!r} ({type(s).__name__}) at position {i}") from None
    return tuple(result)


class Reshape(Function):
    """Same values, new shape;  the gradient is reshaped back."""

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        try:
            return x.reshape(self.shape)
        except ValueError:
            raise ValueError(
                f"reshape: cannot view a tensor of shape {tuple(x.shape)} ({x.size} elements) as {self.shape}"
            ) from None

    def backward(self, gy):
        return gy.reshape(self.inputs[0].shape)


class Permute(Function):
    """Axes reordered;  the gradient is permuted back by the inverse order."""

    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        return x.transpose(self.axes)

    def backward(self, gy):
        inverse = [0] * len(self.axes)
        for i, a in enumerate(self.axes):
            inverse[a] = i
        return gy.permute(*inverse)


class Repeat(Function):
    """Tile like ``np.tile`` (PyTorch's ``repeat``)."""

    def __init__(self, repeats):
        self.repeats = repeats

    def forward(self, x):
        return backend.get_array_module(x).tile(x, self.repeats)

    def backward(self, gy):
        x = self.inputs[0]
        shape = (1,) * (len(self.repeats) - x.ndim) + tuple(x.shape)
        # (r0*s0, r1*s1, ...) -> (r0, s0, r1, s1, ...), then sum over the copies r_i
        split = []
        for r, s in zip(self.repeats, shape):
            split += [r, s]
        copies = tuple(range(0, 2 * len(shape), 2))
        return gy.reshape(*split).sum(copies).reshape(x.shape)


def _index_arrays(index, xp):
    """Turn Tensors and lists inside an index into arrays; report whether any is advanced."""
    items = index if isinstance(index, tuple) else (index,)
    converted, advanced = [], False
    for item in items:
        if isinstance(item, Tensor):
            item = item.data
        elif isinstance(item, np.integer):  # a NumPy integer scalar is an integer, not an index array
            item = int(item)
        elif isinstance(item, list):
            item = xp.asarray(item)
            if item.dtype.kind == "f" and item.size == 0:
                item = item.astype("int64")
        if hasattr(item, "dtype") and hasattr(item, "shape"):
            item = xp.asarray(item)
            if item.dtype.kind not in "iub":
                raise IndexError(f"getitem: index arrays must be integer or boolean, got dtype {item.dtype}")
            advanced = True
        converted.append(item)
    return (tuple(converted) if isinstance(index, tuple) else converted[0]), advanced


def _index_array_dims(items, ndim):
    """(array, dim) for each integer index array among ``items`` (the items of an index): the
    dimension of an ``ndim``-d array that it indexes. None indexes no dimension, a boolean mask
    as many as it has, Ellipsis the ones that nothing else indexes, anything else one."""
    def span(item):
        if item is None or item is Ellipsis:
            return 0
        return item.ndim if hasattr(item, "dtype") and item.dtype.kind == "b" else 1

    found, dim = [], 0
    for item in items:
        if item is Ellipsis:
            dim += ndim - sum(span(i) for i in items)
            continue
        if hasattr(item, "dtype") and item.dtype.kind in "iu":
            found.append((item, dim))
        dim += span(item)
    return found


def _check_bounds(index, shape, op="getitem"):
    """Raise IndexError, as NumPy and PyTorch do, if an integer index array of ``index`` (converted
    by ``_index_arrays``) holds an index outside [-size, size) of the dimension it indexes.

    A GPU does not check: CuPy wraps an out-of-range index around (``t[[5]]`` of a length-3 array
    reads ``t[2]``), and the gradient would land there too. So tinydl checks, with one reduction
    over all the index arrays of the index; on a GPU the answer is read with the next value the
    host reads, like a CUDA device-side assert (device_checks.py), so the check costs no sync."""
    items = index if isinstance(index, tuple) else (index,)
    checks = [(a, d, shape[d]) for a, d in _index_array_dims(items, len(shape)) if d < len(shape) and a.size]
    if not checks:
        return
    xp = backend.get_array_module(checks[0][0])
    outside = xp.stack([((a < -n) | (a >= n)).any() for a, _, n in checks]).any()  # 0-d

    def error():  # an error is about to be raised: finding the culprit may read the indices freely
        for a, d, n in checks:
            wrong = a[(a < -n) | (a >= n)]
            if wrong.size:
                return IndexError(f"{op}: index {int(wrong[0])} is out of bounds for dimension {d} with size {n}")
        return IndexError(f"{op}: an index was out of bounds for the shape {tuple(shape)} (changed since)")

    check(outside, error)


def checked_index(index, array, op):
    """``index`` with Tensors and lists turned into arrays on ``array``'s device, its index arrays
    bounds-checked against ``array``'s shape (``_check_bounds``): for ``Tensor.__setitem__``."""
    index, advanced = _index_arrays(index, backend.get_array_module(array))
    if advanced:
        _check_bounds(index, array.shape, op)
    return index


class GetItem(Function):
    """``x[index]`` for basic (ints, slices, None, ...) and integer/boolean-array indexing."""

    def __init__(self, index, advanced):
        self.index, self.advanced = index, advanced

    def forward(self, x):
        try:
            return x[self.index]
        except IndexError as error:
            raise index_error("getitem", self.index, x.shape, error) from None

    def backward(self, gy):
        return IndexAdd(self.index, self.advanced, self.inputs[0].shape)(gy)


def index_error(op, index, shape, error):
    """NumPy's (or CuPy's) IndexError for ``array[index]`` reworded as tinydl's: the op, the index and
    the tensor's shape, in PyTorch's words ("dimension", not "axis")."""
    reason = re.sub(r"\baxis\b", "dimension", str(error)).replace("array", "tensor")
    return IndexError(f"{op}: index {_shown(index)} is invalid for a tensor of shape {tuple(shape)}: {reason}")


def _shown(index):
    """An index as the user wrote it (``[0, 1:3, ...]``), index arrays shortened to their shape."""
    def item(i):
        if hasattr(i, "shape"):
            return f"<index array of shape {tuple(i.shape)}>"
        if isinstance(i, slice):
            text = ("" if i.start is None else str(i.start)) + ":" + ("" if i.stop is None else str(i.stop))
            return text if i.step is None else f"{text}:{i.step}"
        return "..." if i is Ellipsis else repr(i)

    return "[" + ", ".join(item(i) for i in (index if isinstance(index, tuple) else (index,))) + "]"


class IndexAdd(Function):
    """The gradient of indexing: zeros of the input's shape with ``g`` added at ``index``.

    ``index`` must be in range: the ops that build an IndexAdd check it (``getitem``,
    ``embedding``) or compute it in range (roi_pool, grid_sample); a GPU
    would wrap an out-of-range index around and add the gradient there.

    With integer arrays an element can be read twice (``x[[0, 0]]``), so its
    gradient is the sum of both reads: ``np.add.at`` accumulates repeated
    indices where ``z[index] += g`` would keep only one.
    """

    def __init__(self, index, advanced, shape):
        self.index, self.advanced, self.shape = index, advanced, shape

    def forward(self, g):
        xp = backend.get_array_module(g)
        z = xp.zeros(self.shape, dtype=g.dtype)
        if self.advanced:
            backend.scatter_add(z, self.index, g)
        else:  # basic indexing never reads an element twice
            z[self.index] = g
        return z

    def backward(self, gz):
        return GetItem(self.index, self.advanced)(gz)


class Cat(Function):
    """Concatenation along ``axis``;  each input's gradient is its slice of the upstream gradient."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, *xs):
        return backend.get_array_module(xs[0]).concatenate(xs, axis=self.axis)

    def backward(self, gy):
        grads, start = [], 0
        for x in self.inputs:
            stop = start + x.shape[self.axis]
            index = (slice(None),) * self.axis + (slice(start, stop),)
            grads.append(gy[index])
            start = stop
        return tuple(grads)


# ---- the functions users call ---------------------------------------------
def reshape(x, *shape):
    """x with a new shape (one entry may be -1); ``view`` is the same."""
    shape = _int_sizes(shape, "shape", "reshape")
    if shape == tuple(x.shape):
        return x
    return Reshape(shape)(x)


def permute(x, *dims):
    """x with its dims reordered."""
    dims = _sizes(dims)
    if len(dims) != x.ndim or sorted(d % max(x.ndim, 1) for d in dims) != list(range(x.ndim)):
        raise ValueError(f"permute: dims {dims} are not a permutation of the {x.ndim} dims of shape {tuple(x.shape)}")
    return Permute(tuple(d % x.ndim for d in dims))(x)


def transpose(x, dim0, dim1):
    """x with dims ``dim0`` and ``dim1`` swapped."""
    axes = list(range(x.ndim))
    (a,), (b,) = normalize_dims(dim0, x.ndim, "transpose"), normalize_dims(dim1, x.ndim, "transpose")
    axes[a], axes[b] = axes[b], axes[a]
    return permute(x, *axes)


def movedim(x, source, destination):
    """x with dim ``source`` moved to position ``destination``."""
    (src,), (dst,) = normalize_dims(source, x.ndim, "movedim"), normalize_dims(destination, x.ndim, "movedim")
    axes = [d for d in range(x.ndim) if d != src]
    axes.insert(dst, src)
    return permute(x, *axes)


def flatten(x, start_dim=0, end_dim=-1):
    """Dims ``start_dim``..``end_dim`` merged into one."""
    if x.ndim == 0:
        return reshape(x, 1)
    (start,), (end,) = normalize_dims(start_dim, x.ndim, "flatten"), normalize_dims(end_dim, x.ndim, "flatten")
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} "
                         f"for a tensor of shape {tuple(x.shape)}")
    shape = tuple(x.shape)
    return reshape(x, shape[:start] + (-1,) + shape[end + 1 :])


def squeeze(x, dim=None):
    """Remove dims of size 1 (all of them, or those in ``dim`` that have size 1)."""
    axes = normalize_dims(dim, x.ndim, "squeeze")
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if not (i in axes and n == 1)))


def unsqueeze(x, dim):
    """A new dim of size 1 at ``dim``."""
    ndim = x.ndim + 1
    check_int_dim(dim, "unsqueeze")
    if not -ndim <= dim < ndim:
        raise IndexError(f"unsqueeze: dim {dim} is out of range for a result with {ndim} dimensions")
    shape = list(x.shape)
    shape.insert(dim % ndim, 1)
    return reshape(x, tuple(shape))


def expand(x, *sizes):
    """Broadcast to ``sizes`` without copying; -1 keeps a dimension as it is."""
    sizes = _int_sizes(sizes, "sizes", "expand")
    if len(sizes) < x.ndim:
        raise ValueError(f"expand: the number of sizes {sizes} must be at least the tensor's {x.ndim} dims")
    lead = len(sizes) - x.ndim
    shape = tuple(x.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    return broadcast_to(x, shape)


def repeat(x, *repeats):
    """x tiled ``repeats`` times along each dim (like np.tile)."""
    repeats = _int_sizes(repeats, "repeats", "repeat")
    if len(repeats) < x.ndim:
        raise ValueError(f"repeat: {len(repeats)} repeats given for a tensor with {x.ndim} dims; give at least {x.ndim}")
    return Repeat(repeats)(x)


def _is_int(item):
    return isinstance(item, int) and not isinstance(item, bool)


def _torch_steps(index):
    """Split an index that mixes integers and index arrays into PyTorch's two steps.

    PyTorch applies the integers first, as plain selections, then the index arrays;
    NumPy counts an integer beside an array as one more index array, which can move
    the indexed dims: x[0, :, [1, 2]] has shape (2, n) in NumPy but (n, 2) in PyTorch.
    """
    select, rest = [], []
    for item in index:
        if _is_int(item):  # step 1 only: its dim is gone afterwards
            select.append(item)
        elif hasattr(item, "shape"):  # an index array: step 2 only (a boolean mask spans item.ndim dims)
            select += [slice(None)] * (item.ndim if item.dtype.kind == "b" else 1)
            rest.append(item)
        else:  # a slice, None or Ellipsis: done in step 1, kept whole in step 2
            select.append(item)
            rest.append(Ellipsis if item is Ellipsis else slice(None))
    return tuple(select), tuple(rest)


def getitem(x, index, check_bounds=True):
    """``x[index]``: basic and integer/boolean-array indexing, differentiable.

    An out-of-range integer index raises IndexError on every device (``_check_bounds``: at
    once on the CPU, with the next read on a GPU). Ops whose indices are in range by
    construction pass ``check_bounds=False`` to skip the check's reduction."""
    index, advanced = _index_arrays(index, backend.get_array_module(x.data))
    if advanced and isinstance(index, tuple) and any(_is_int(item) for item in index):
        select, index = _torch_steps(index)
        x = GetItem(select, False)(x)
    if advanced and check_bounds:
        _check_bounds(index, x.shape)
    return GetItem(index, advanced)(x)


def _tensor_list(tensors, op):
    """``tensors`` as a list, or a TypeError: a single Tensor is refused (``list(t)`` would split it into
    its rows, as PyTorch refuses it too), and so is anything in the sequence that is not a Tensor."""
    if isinstance(tensors, Tensor):
        raise TypeError(f"{op}: expected a sequence of tensors, got one Tensor of shape {tuple(tensors.shape)}; "
                        f"pass a list, e.g. {op}([a, b])")
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty sequence of tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected a Tensor as element {i} of tensors, got {type(t).__name__}")
    return tensors


def cat(tensors, dim=0):
    """Tensors joined along an existing dim ``dim``; their dtypes promote as in PyTorch
    (float32 beside int64 gives float32)."""
    tensors = _tensor_list(tensors, "cat")
    first = tensors[0]
    (axis,) = normalize_dims(dim, first.ndim, "cat")
    for t in tensors[1:]:
        if t.ndim != first.ndim or any(a != b for i, (a, b) in enumerate(zip(t.shape, first.shape)) if i != axis):
            shapes = ", ".join(str(tuple(s.shape)) for s in tensors)
            raise ValueError(f"cat: tensors must have the same shape except in dim {dim}; got {shapes}")
    dtype = promoted_dtype([t.dtype for t in tensors])
    return Cat(axis)(*(cast(t, dtype) for t in tensors))


def stack(tensors, dim=0):
    """Tensors of one shape joined along a new dim ``dim``."""
    tensors = _tensor_list(tensors, "stack")
    if len({tuple(t.shape) for t in tensors}) > 1:
        shapes = ", ".join(str(tuple(s.shape)) for s in tensors)
        raise ValueError(f"stack: all tensors must have the same shape; got {shapes}")
    ndim = tensors[0].ndim + 1
    check_int_dim(dim, "stack")
    if not -ndim <= dim < ndim:
        raise IndexError(f"stack: dim {dim} is out of range for a result with {ndim} dimensions")
    return cat([unsqueeze(t, dim % ndim) for t in tensors], dim % ndim)
