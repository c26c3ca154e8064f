"""tril and triu: the lower / upper triangle of the last two dims, the rest set to 0.

    y = x * M  with M[i, j] = 1 where j - i <= diagonal (tril) or j - i >= diagonal (triu)
    dy/dx = M, so the backward is the same triangle of the gradient.

``diagonal`` = 0 is the main diagonal, > 0 above it, < 0 below it (as PyTorch).
A causal attention mask is ``td.ones(T, T).tril()``.
"""
import numbers

from .. import backend
from ..autograd import Function


class Triangle(Function):
    """The lower (``upper=False``) or upper triangle of x's last two dims."""

    def __init__(self, diagonal, upper):
        self.diagonal, self.upper = diagonal, upper

    def forward(self, x):
        return triangle(x, self.diagonal, self.upper)

    def backward(self, gy):
        return Triangle(self.diagonal, self.upper)(gy)


def triangle(array, diagonal, upper):
    """The triangle of a NumPy / CuPy array (its last two dims)."""
    xp = backend.get_array_module(array)
    return xp.triu(array, diagonal) if upper else xp.tril(array, diagonal)


def _check(op, x, diagonal):
    if x.ndim < 2:
        raise ValueError(f"{op}: input tensor must have at least 2 dimensions, got shape {tuple(x.shape)}")
    if isinstance(diagonal, bool) or not isinstance(diagonal, numbers.Integral):
        raise TypeError(f"{op}: diagonal must be an int, got {diagonal!r} ({type(diagonal).__name__})")


def tril(x, diagonal=0):
    """The lower triangle: elements with column - row <= ``diagonal`` kept, the others 0."""
    _check("tril", x, diagonal)
    return Triangle(diagonal, upper=False)(x)


def triu(x, diagonal=0):
    """The upper triangle: elements with column - row >= ``diagonal`` kept, the others 0."""
    _check("triu", x, diagonal)
    return Triangle(diagonal, upper=True)(x)
