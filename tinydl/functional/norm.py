"""norm: vector norms of a tensor (over all elements, or over ``dim``).

    p = 2 ('fro'):  ||x|| = sqrt(sum x^2)            d||x||/dx = x / ||x||
    p = 1:          sum |x|                          sign(x)
    p = inf:        max |x|                          sign(x) at the largest |x| (shared among ties)
    p = -inf:       min |x|
    p = 0:          the number of non-zero elements  (no gradient)
    other p > 0:    (sum |x|^p)^(1/p)                |x|^(p-1) sign(x) / ||x||^(p-1)

At x = 0 these derivatives divide 0 by 0; PyTorch returns the subgradient 0 there, and so
does tinydl: the root and the power are taken of a "safe" value (1 where the argument is 0),
and ``where`` puts 0 back. ``where`` sends no gradient to the branch it does not take, so
the gradient at 0 is exactly 0, and the expression stays differentiable again.
"""
import math
import numbers

from .. import backend
from ..tensor import Tensor, as_dtype
from .elementwise import abs, cast, pow, where
from .reduction import max, min, normalize_dims, sum

SUPPORTED = "2, 'fro', 1, inf, -inf, 0 or another positive number"


def _safe(op, s, value_at_zero):
    """op(s) where s != 0, ``value_at_zero`` where s == 0, with a zero gradient there."""
    at_zero = s.data == 0
    safe_s = where(at_zero, Tensor._from_value(1.0, like=s), s)
    return where(at_zero, Tensor._from_value(value_at_zero, like=s), op(safe_s))


def _check_p(p, dim):
    if isinstance(p, str):
        if p != "fro":
            raise ValueError(f"norm: p={p!r} is not supported; use {SUPPORTED} (a matrix norm such as 'nuc' "
                             "is not in tinydl)")
        if dim is not None and isinstance(dim, (tuple, list)) and len(dim) > 2:
            raise ValueError(f"norm: p='fro' takes at most 2 dims, got dim={tuple(dim)}")
        return 2
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or (p < 0 and p != -math.inf):
        raise ValueError(f"norm: p={p!r} is not supported; use {SUPPORTED}")
    return p


def norm(x, p="fro", dim=None, keepdim=False, dtype=None):
    """The p-norm of x over ``dim`` (all elements when None); differentiable, with gradient 0 at x = 0."""
    p = 2 if p is None else _check_p(p, dim)
    if dtype is not None:
        x = cast(x, as_dtype(dtype))
    if x.dtype.kind != "f":
        raise TypeError(f"norm: expected a floating-point tensor, got dtype {x.dtype}")
    axes = normalize_dims(dim, x.ndim, "norm")
    if p == 2:
        return _safe(lambda s: s.sqrt(), sum(x * x, axes, keepdim), 0.0)
    if p == 1:
        return sum(abs(x), axes, keepdim)
    if p == math.inf or p == -math.inf:
        extreme = max if p > 0 else min
        return extreme(abs(x), axes, keepdim) if axes else abs(x)
    if p == 0:
        xp = backend.get_array_module(x.data)
        return Tensor(xp.sum(x.data != 0, axis=axes, keepdims=keepdim).astype(x.dtype))
    powers = _safe(lambda a: pow(a, p), abs(x), 0.0)  # |x|^p, with gradient 0 where x = 0
    return _safe(lambda s: pow(s, 1.0 / p), sum(powers, axes, keepdim), 0.0)
