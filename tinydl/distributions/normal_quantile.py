"""The standard normal quantile x = Phi^-1(p), the inverse of Phi(x) = 1/2 (1 + erf(x / sqrt 2)).

Forward, in two steps that need only erf (which both devices have):

1. Acklam's rational approximation, relative error below 1.2e-9: one rational
   function of p - 1/2 in the middle (0.02425 <= p <= 0.97575), one of
   q = sqrt(-2 log p) in each tail;
2. one Newton step on Phi(x) - p = 0, x <- x - (Phi(x) - p) / phi(x), which
   brings the error to rounding. Only where |x| < 5: further out phi(x) < 1.5e-6
   and the rounding of Phi(x) near 0 or 1, divided by phi(x), would undo step 1.

Backward: dx/dp = 1 / phi(x) = sqrt(2 pi) exp(x^2 / 2).
"""
import math

import numpy as np

from .. import backend
from ..autograd import Function

_A = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02, 1.383577518672690e02,
      -3.066479806614716e01, 2.506628277459239e00)
_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02, 6.680131188771972e01,
      -1.328068155288572e01, 1.0)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00, -2.549732539343734e00,
      4.374664141464968e00, 2.938163982698783e00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00, 1.0)
P_LOW = 0.02425


def _poly(coefficients, x):
    """c0 x^(n-1) + ... + c_(n-1), by Horner's rule."""
    out = 0.0
    for c in coefficients:
        out = out * x + c
    return out


def _acklam(p, xp):
    """Phi^-1(p) to 1.2e-9 (relative); -inf at 0, inf at 1, NaN outside [0, 1]."""
    with np.errstate(divide="ignore", invalid="ignore"):
        q = p - 0.5
        r = q * q
        middle = _poly(_A, r) * q / _poly(_B, r)
        tail = xp.sqrt(-2 * xp.log(xp.minimum(p, 1 - p)))  # q of the nearer tail
        lower = _poly(_C, tail) / _poly(_D, tail)  # the lower tail's x (< 0)
        x = xp.where(xp.abs(q) <= 0.5 - P_LOW, middle, xp.where(p < 0.5, lower, -lower))
        x = xp.where(p == 0, -np.inf, xp.where(p == 1, np.inf, x))
    return xp.where((p >= 0) & (p <= 1), x, np.nan)


class StandardNormalQuantile(Function):
    def forward(self, p):
        xp = backend.get_array_module(p)
        x = _acklam(p, xp)
        with np.errstate(invalid="ignore", over="ignore"):
            phi = xp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
            newton = x - (0.5 * (1 + backend.erf(x / math.sqrt(2))) - p) / phi
        return xp.where(xp.abs(x) < 5, newton, x).astype(p.dtype, copy=False)

    def backward(self, gy):
        x = self.outputs[0]
        return gy * math.sqrt(2 * math.pi) * (0.5 * x * x).exp()


def standard_normal_quantile(p):
    """Phi^-1(p) of a Tensor of probabilities, differentiable."""
    return StandardNormalQuantile()(p)
