"""``F.gradient_reversal``: the gradient reversal layer of DANN (Ganin & Lempitsky, 2015).

Forward it is the identity, R(x) = x; backward it multiplies the incoming gradient by -alpha,
dR/dx = -alpha I. Placed between the feature extractor and the domain classifier, it lets one
backward pass descend the classifier's loss in the classifier's weights and ASCEND it in the
features' weights (docs/transfer.md, "DANN").
"""
from ..autograd import Function


class GradientReversal(Function):
    """y = x;  gx = -alpha * gy (a Tensor op, so the backward is itself differentiable)."""

    def __init__(self, alpha):
        self.alpha = alpha

    def forward(self, x):
        return x.copy()  # a new array: the output must not alias x (an in-place op on one would change both)

    def backward(self, gy):
        return gy * (-self.alpha)


def gradient_reversal(x, alpha=1.0):
    """x forward, -alpha * (the gradient) backward. ``alpha`` is a Python number (DANN's lambda_p,
    changed every step by its schedule); alpha = 0 cuts the gradient, alpha < 0 is refused."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha >= 0:
        raise ValueError(f"gradient_reversal: alpha must be a number >= 0, got {alpha!r} "
                         f"(x of shape {tuple(x.shape)})")
    return GradientReversal(float(alpha))(x)
