"""F.softplus with PyTorch's ``beta`` and ``threshold``: log(1 + e^(beta x)) / beta, and x itself
where beta x > threshold (where the two differ by less than e^-threshold / beta).

activation.py's ``softplus`` (no threshold) stays what tinydl's losses use internally:
binary_cross_entropy_with_logits must not switch to the linear piece, as PyTorch's does not.
"""
from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from .activation import sigmoid
from .elementwise import _as_float


class Softplus(Function):
    """y = log(1 + e^(beta x)) / beta where beta x <= threshold, else x;  dy/dx = sigmoid(beta x), else 1."""

    def __init__(self, beta, threshold):
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        xp = backend.get_array_module(x)
        bx = x * x.dtype.type(self.beta)
        smooth = xp.logaddexp(0, bx) / x.dtype.type(self.beta)  # stable for any bx
        return xp.where(bx > self.threshold, x, smooth).astype(x.dtype, copy=False)

    def backward(self, gy):
        x = self.inputs[0]
        linear = Tensor((x.data * x.dtype.type(self.beta) > self.threshold).astype(x.dtype))  # a constant mask
        return gy * (linear + (1 - linear) * sigmoid(x * self.beta))


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta * x)) / beta, computed stably; x itself where beta * x > threshold (PyTorch's)."""
    return Softplus(float(beta), float(threshold))(_as_float(input))
