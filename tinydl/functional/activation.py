"""Activations: relu, leaky_relu, sigmoid, tanh, gelu, softplus, softmax, log_softmax.

Where the derivative is simplest in terms of the output, backward reads the
output Tensor (sigmoid: y(1 - y), tanh: 1 - y^2, softmax: y (g - sum(g y))).
"""
import math

from .. import backend
from ..autograd import Function
from .elementwise import _as_float, erf, exp, masked_grad
from .reduction import normalize_dims


class ReLU(Function):
    """y = max(x, 0); dy/dx = 1 where x > 0 (0 at x = 0, as in PyTorch)."""

    def forward(self, x):
        return backend.get_array_module(x).maximum(x, 0)

    def backward(self, gy):
        x = self.inputs[0]
        return masked_grad(gy, x, (x.data > 0).astype(x.dtype))  # keeps x in the gradient's graph


class LeakyReLU(Function):
    """y = x for x > 0, else slope * x."""

    def __init__(self, slope):
        self.slope = slope

    # Both directions are written without xp.where: on the CPU a select driven by the data's
    # signs mispredicts a branch at about every other element and ran 4x slower (docs/performance.md).
    def forward(self, x):
        xp = backend.get_array_module(x)
        return xp.maximum(x, 0) + x.dtype.type(self.slope) * xp.minimum(x, 0)  # exactly x or slope * x

    def backward(self, gy):
        x = self.inputs[0]
        positive = (x.data > 0).astype(x.dtype)  # 1 where x > 0, else 0
        return masked_grad(gy, x, positive + x.dtype.type(self.slope) * (1 - positive))  # exactly 1 or slope


class Sigmoid(Function):
    """y = 1 / (1 + e^-x), computed without overflow for large |x|; dy/dx = y (1 - y)."""

    def forward(self, x):
        xp = backend.get_array_module(x)
        e = xp.exp(-xp.abs(x))  # in (0, 1]: never overflows
        # 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0, without a branch: exp(min(x, 0)) is 1 or e
        return (xp.exp(xp.minimum(x, 0)) / (1 + e)).astype(x.dtype, copy=False)

    def backward(self, gy):
        y = self.outputs[0]
        return gy * y * (1 - y)


class Tanh(Function):
    """dy/dx = 1 - y^2."""

    def forward(self, x):
        return backend.get_array_module(x).tanh(x)

    def backward(self, gy):
        y = self.outputs[0]
        return gy * (1 - y * y)


class GELU(Function):
    """Exact GELU: y = x Phi(x), Phi the standard normal CDF; dy/dx = Phi(x) + x phi(x)."""

    def forward(self, x):
        return (0.5 * x * (1 + backend.erf(x / math.sqrt(2)))).astype(x.dtype, copy=False)

    def backward(self, gy):
        x = self.inputs[0]
        cdf = 0.5 * (1 + erf(x / math.sqrt(2)))
        pdf = exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        return gy * (cdf + x * pdf)


class Softplus(Function):
    """y = log(1 + e^x) computed stably; dy/dx = sigmoid(x)."""

    def forward(self, x):
        return backend.get_array_module(x).logaddexp(0, x).astype(x.dtype, copy=False)

    def backward(self, gy):
        return gy * sigmoid(self.inputs[0])


class Softmax(Function):
    """y_i = e^(x_i - m) / sum_j e^(x_j - m), m = max_j x_j (the shift changes nothing but
    keeps exp from overflowing); dy/dx applied to g is y (g - sum(g y))."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        xp = backend.get_array_module(x)
        e = xp.exp(x - x.max(axis=self.axis, keepdims=True))
        return e / e.sum(axis=self.axis, keepdims=True)

    def backward(self, gy):
        y = self.outputs[0]
        return y * (gy - (gy * y).sum(self.axis, keepdim=True))


class LogSoftmax(Function):
    """y = x - m - log sum_j e^(x_j - m); dy/dx applied to g is g - softmax(x) sum(g)."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        xp = backend.get_array_module(x)
        shifted = x - x.max(axis=self.axis, keepdims=True)
        return shifted - xp.log(xp.exp(shifted).sum(axis=self.axis, keepdims=True))

    def backward(self, gy):
        softmax = self.outputs[0].exp()
        return gy - softmax * gy.sum(self.axis, keepdim=True)


def relu(x):
    """max(x, 0) elementwise."""
    return ReLU()(x)


def leaky_relu(x, negative_slope=0.01):
    """x where x > 0, else negative_slope * x."""
    return LeakyReLU(negative_slope)(x)


def sigmoid(x):
    """1 / (1 + exp(-x)), computed without overflow."""
    return Sigmoid()(_as_float(x))


def tanh(x):
    """The hyperbolic tangent elementwise."""
    return Tanh()(_as_float(x))


def gelu(x):
    """x * Phi(x), the exact (erf) GELU."""
    return GELU()(_as_float(x))


def softplus(x):
    """log(1 + exp(x)), computed stably."""
    return Softplus()(_as_float(x))


def _axis(x, dim, name):
    if dim is None:
        raise TypeError(f"{name}: pass dim explicitly (e.g. dim=-1 for the last axis)")
    return normalize_dims(dim, x.ndim, name)[0]


def softmax(x, dim):
    """exp(x) / sum(exp(x)) along ``dim``, computed stably."""
    return Softmax(_axis(x, dim, "softmax"))(x)


def log_softmax(x, dim):
    """x - logsumexp(x) along ``dim``, computed stably (use it with nll_loss)."""
    return LogSoftmax(_axis(x, dim, "log_softmax"))(x)
