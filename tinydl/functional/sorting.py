"""Sorting: sort, argsort, topk.

The order is found on the raw array (no gradient: it is piecewise constant); the values
are then read with ``gather``, so their gradient goes back to the elements they came from.

Ties: tinydl's sort is always stable, ascending or descending: equal values keep their
order of index (PyTorch's ``stable=True``; with ``stable=False`` PyTorch promises no order,
and tinydl gives the stable one). topk returns its k values sorted, ties by lower index
first; PyTorch's topk leaves the order among ties unspecified (its CPU kernel often gives
another one), so compare topk's values, not the indices of tied values. NaN counts as
larger than every number, as in PyTorch.
"""
import numbers
from collections import namedtuple

from .. import backend
from ..tensor import Tensor
from .reduction import normalize_dims
from .select import gather

ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])  # what sort and topk return


def stable_order(array, axis, descending):
    """The stable argsort of a NumPy / CuPy array along ``axis`` (int64 indices).

    Descending: sort the reversed array ascending, then reverse the answer. Among equal
    values, the reversed array's stable sort puts the higher original index first, so
    reading it backwards puts the lower one first; and NaN (last ascending) comes first."""
    xp = backend.get_array_module(array)
    if not descending:
        return xp.argsort(array, axis=axis, kind="stable").astype("int64")
    n = array.shape[axis]
    order = xp.argsort(xp.flip(array, axis), axis=axis, kind="stable")
    return (n - 1 - xp.flip(order, axis)).astype("int64")


def _axis(x, dim, op):
    (axis,) = normalize_dims(dim, x.ndim, op)
    return axis


def sort(x, dim=-1, descending=False, stable=False):
    """(values, indices) of x sorted along ``dim``; values differentiable. Always stable."""
    if x.ndim == 0:
        return ValuesIndices(x, Tensor(backend.get_array_module(x.data).zeros((), dtype="int64")))
    axis = _axis(x, dim, "sort")
    order = stable_order(x.data, axis, descending)
    return ValuesIndices(gather(x, axis, Tensor(order)), Tensor(order))


def argsort(x, dim=-1, descending=False, stable=False):
    """The indices that sort x along ``dim`` (int64). Always stable."""
    return sort(x.detach(), dim, descending, stable).indices


def topk(x, k, dim=-1, largest=True, sorted=True):
    """(values, indices) of the k largest (or smallest) elements along ``dim``; values differentiable.

    The k values always come sorted (``sorted=False`` allows any order, so this one is fine too);
    tied values come lower index first (see the module's docstring)."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"topk: k must be an int, got {k!r}")
    size = x.shape[_axis(x, dim, "topk")] if x.ndim else 1
    if not 0 <= k <= size:
        raise ValueError(f"topk: k ({k}) is out of range for dim {dim} of size {size} (input shape {tuple(x.shape)})")
    if x.ndim == 0:  # k is 0 or 1
        return topk(x.reshape(1), k, 0, largest, sorted) if k == 0 else sort(x)
    axis = _axis(x, dim, "topk")
    order = stable_order(x.data, axis, descending=largest)
    first_k = [slice(None)] * x.ndim
    first_k[axis] = slice(0, k)
    order = order[tuple(first_k)]
    return ValuesIndices(gather(x, axis, Tensor(order)), Tensor(order))
