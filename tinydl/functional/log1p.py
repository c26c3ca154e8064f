"""log1p: log(1 + x), accurate for small x (where 1 + x would round away x's low digits)."""
import numpy as np

from .. import backend
from ..autograd import Function
from .elementwise import _as_float


class Log1p(Function):
    """y = log(1 + x);  dy/dx = 1 / (1 + x)."""

    def forward(self, x):
        with np.errstate(divide="ignore", invalid="ignore"):  # log1p(-1) = -inf, log1p(-2) = nan: PyTorch's, silently
            return backend.get_array_module(x).log1p(x)

    def backward(self, gy):
        return gy / (1 + self.inputs[0])


def log1p(input):
    """log(1 + x) elementwise, accurate for small x."""
    return Log1p()(_as_float(input))
