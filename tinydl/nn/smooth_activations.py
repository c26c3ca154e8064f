"""``nn.ELU`` and ``nn.SiLU``: modules around ``tinydl.functional.smooth_activations``.

``inplace=`` is accepted for PyTorch compatibility (as by nn.ReLU); tinydl never works in place.
"""
from ..functional.smooth_activations import elu, silu
from .module import Module


class ELU(Module):
    """x for x > 0, else alpha * (exp(x) - 1)."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        return elu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class SiLU(Module):
    """x * sigmoid(x)."""

    def __init__(self, inplace=False):
        super().__init__()

    def forward(self, x):
        return silu(x)
