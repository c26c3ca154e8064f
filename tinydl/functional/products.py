"""Products PyTorch names separately from matmul: mm, bmm, dot, outer, and prod.

mm (2-d @ 2-d), bmm (3-d @ 3-d, same batch) and dot (1-d . 1-d) are matmul with the
shapes checked strictly, as PyTorch does (no broadcasting); outer is a column times a row.
Their gradients are matmul's (linalg.py).

prod multiplies the elements along a dim as a product tree: neighbours are multiplied
pairwise, halving the length each round (log2(n) rounds of ``*``). Each round is an
ordinary differentiable product, so the gradient is right where an element is 0 (where
"prod / x" would divide by zero) and so is the second derivative.
"""
from .. import backend
from ..tensor import Tensor, as_dtype
from .elementwise import cast
from .linalg import MatMul
from .reduction import normalize_dims
from .shape import cat, getitem


def _shape(t):
    return "x".join(str(n) for n in t.shape)


def _same_dtype(op, a, b):
    if a.dtype != b.dtype:
        raise TypeError(f"{op}: expected both operands to have the same dtype, got {a.dtype} and {b.dtype}")


def mm(x, mat2):
    """The matrix product of x (n, k) and mat2 (k, m): (n, m)."""
    if x.ndim != 2 or mat2.ndim != 2:
        raise ValueError(f"mm: both operands must be matrices (2-d), got shapes {tuple(x.shape)} "
                         f"and {tuple(mat2.shape)}")
    if x.shape[1] != mat2.shape[0]:
        raise ValueError(f"mm: mat1 and mat2 shapes cannot be multiplied ({_shape(x)} and {_shape(mat2)})")
    _same_dtype("mm", x, mat2)
    return MatMul()(x, mat2)


def bmm(x, mat2):
    """Batched matrix product of x (b, n, k) and mat2 (b, k, m): (b, n, m); no broadcasting."""
    if x.ndim != 3 or mat2.ndim != 3:
        raise ValueError(f"bmm: both operands must be 3-d (batch, rows, cols), got shapes {tuple(x.shape)} "
                         f"and {tuple(mat2.shape)}")
    if mat2.shape[:2] != (x.shape[0], x.shape[2]):
        raise ValueError(f"bmm: shapes {tuple(x.shape)} and {tuple(mat2.shape)} cannot be multiplied: expected "
                         f"mat2's first two dims to be [{x.shape[0]}, {x.shape[2]}], "
                         f"got [{mat2.shape[0]}, {mat2.shape[1]}]")
    _same_dtype("bmm", x, mat2)
    return MatMul()(x, mat2)


def dot(x, tensor):
    """The dot product of two 1-d tensors of the same length: a 0-d tensor."""
    if x.ndim != 1 or tensor.ndim != 1:
        raise ValueError(f"dot: 1-d tensors expected, got shapes {tuple(x.shape)} and {tuple(tensor.shape)}")
    if x.shape != tensor.shape:
        raise ValueError(f"dot: the tensors must have the same number of elements, "
                         f"got {x.shape[0]} and {tensor.shape[0]}")
    _same_dtype("dot", x, tensor)
    return MatMul()(x.reshape(1, -1), tensor.reshape(-1, 1)).reshape(())


def outer(x, vec2):
    """The outer product of 1-d x (n,) and vec2 (m,): the (n, m) matrix x[i] * vec2[j]."""
    if x.ndim != 1 or vec2.ndim != 1:
        raise ValueError(f"outer: 1-d tensors expected, got shapes {tuple(x.shape)} and {tuple(vec2.shape)}")
    return x.reshape(-1, 1) * vec2.reshape(1, -1)


def _along(x, axis, index):
    item = [slice(None)] * x.ndim
    item[axis] = index
    return getitem(x, tuple(item))


def _product_tree(x, axis):
    """The product along ``axis``, kept as a dim of size 1: multiply neighbours pairwise until one is left."""
    while x.shape[axis] > 1:
        if x.shape[axis] % 2:  # an odd length: pad with a 1, which changes no product
            pad_shape = list(x.shape)
            pad_shape[axis] = 1
            x = cat([x, Tensor(backend.get_array_module(x.data).ones(pad_shape, dtype=x.dtype))], axis)
        x = _along(x, axis, slice(0, None, 2)) * _along(x, axis, slice(1, None, 2))
    return x


def prod(x, dim=None, keepdim=False, dtype=None):
    """The product of the elements (over ``dim``, or all of them); differentiable, also at zeros.
    Integer and boolean tensors multiply in int64, as in PyTorch."""
    if dtype is not None:
        x = cast(x, as_dtype(dtype))
    elif x.dtype.kind in "biu":
        x = cast(x, as_dtype("int64"))
    if dim is None:
        result = prod(x.reshape(-1), 0)
        return result.reshape((1,) * x.ndim) if keepdim else result
    if x.ndim == 0:
        (axis,) = normalize_dims(dim, 0, "prod")
        return x
    (axis,) = normalize_dims(dim, x.ndim, "prod")
    if x.shape[axis] == 0:
        shape = x.shape[:axis] + ((1,) if keepdim else ()) + x.shape[axis + 1:]
        return Tensor(backend.get_array_module(x.data).ones(shape, dtype=x.dtype))
    result = _product_tree(x, axis)
    return result if keepdim else result.squeeze(axis)
