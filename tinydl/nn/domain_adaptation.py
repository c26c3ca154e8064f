"""``nn.GradientReversal`` and ``nn.MMDLoss``: F.gradient_reversal and F.mmd_loss as modules."""
from .. import functional as F
from ..functional.mmd import DEFAULT_BANDWIDTHS
from .module import Module


class GradientReversal(Module):
    """Identity forward, -alpha * gradient backward. Set ``.alpha`` before each step to follow a
    schedule (DANN's lambda_p); it holds no parameters."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        return F.gradient_reversal(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class MMDLoss(Module):
    """F.mmd_loss(x, y, bandwidths): squared MMD between two feature batches, Gaussian kernels."""

    def __init__(self, bandwidths=DEFAULT_BANDWIDTHS):
        super().__init__()
        self.bandwidths = tuple(bandwidths)

    def forward(self, x, y):
        return F.mmd_loss(x, y, self.bandwidths)

    def extra_repr(self):
        return f"bandwidths={self.bandwidths}"
