"""The in-place methods PyTorch users type: add_, sub_, mul_, div_, clamp_, scatter_, scatter_add_,
and the random fills uniform_ and normal_ (from tinydl's seeded generator, td.manual_seed).

They write into the tensor's array, so they are only allowed where that cannot corrupt a
recorded graph: under ``td.no_grad()`` (a hand-written optimizer step,
``p.add_(p.grad, alpha=-lr)``) or on a tensor outside any graph. On a tensor inside a graph
they raise, and say to use the out-of-place op (``x = x.add(y)``), which the gradient can
follow. (``x += y`` stays as it was: on such a tensor it rebinds ``x`` to a new node.)
"""
from .. import rng
from ..tensor import Tensor
from .elementwise import add, clamp, div, mul, sub
from .scatter import scatter, scatter_add


def _write(x, op, result, instead=None):
    """Write ``result`` (computed from x's values) into x, after checking it fits."""
    if tuple(result.shape) != tuple(x.shape):
        raise ValueError(f"{op}: the result has shape {tuple(result.shape)} but the tensor has shape "
                         f"{tuple(x.shape)}; an in-place op cannot change the tensor's shape")
    if x.dtype.kind != "f" and result.dtype.kind == "f":
        raise TypeError(f"{op}: the result's dtype {result.dtype} can't be cast to the tensor's dtype {x.dtype}")
    x._check_in_place(op, instead)
    x.data[...] = result.data
    return x


def _value(other):
    return other.detach() if hasattr(other, "detach") else other


def add_(x, other, alpha=1):
    """x += alpha * other, in place."""
    return _write(x, "add_", add(x.detach(), _value(other) * alpha))


def sub_(x, other, alpha=1):
    """x -= alpha * other, in place."""
    return _write(x, "sub_", sub(x.detach(), _value(other) * alpha))


def mul_(x, other):
    """x *= other, in place."""
    return _write(x, "mul_", mul(x.detach(), _value(other)))


def div_(x, other):
    """x /= other, in place (an integer tensor is refused: its quotient is not an integer)."""
    return _write(x, "div_", div(x.detach(), _value(other)))


def clamp_(x, min=None, max=None):
    """x clipped to [min, max], in place."""
    return _write(x, "clamp_", clamp(x.detach(), min, max))


def scatter_(x, dim, index, src, reduce=None):
    """scatter, in place: ``td.zeros(N, C).scatter_(1, labels.unsqueeze(1), 1.0)`` is a one-hot matrix."""
    return _write(x, "scatter_", scatter(x.detach(), dim, index, _value(src), reduce))


def scatter_add_(x, dim, index, src):
    """scatter_add, in place."""
    return _write(x, "scatter_add_", scatter_add(x.detach(), dim, index, _value(src)))


def _random_fill(x, op, draw, instead):
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: the tensor must be floating point, got dtype {x.dtype}")
    return _write(x, op, Tensor(draw()), instead)


def uniform_(x, from_=0.0, to=1.0):
    """Fill x with samples of U[from_, to), in place."""
    return _random_fill(x, "uniform_", lambda: rng.uniform(x.shape, x.dtype, x.device, from_, to),
                        "y = td.rand_like(x) * (to - from_) + from_")


def normal_(x, mean=0.0, std=1.0):
    """Fill x with samples of N(mean, std^2), in place."""
    return _random_fill(x, "normal_", lambda: rng.standard_normal(x.shape, x.dtype, x.device) * std + mean,
                        "y = td.randn_like(x) * std + mean")
