"""``nn.Dropout`` and ``nn.Dropout2d``: active in training mode, the identity after ``.eval()``.

``inplace=`` is accepted for PyTorch compatibility; tinydl never works in place.
"""
from ..functional.dropout import check_probability, dropout, dropout2d
from .module import Module


class Dropout(Module):
    """Zeroes each element with probability p in training and scales the rest by 1 / (1 - p)."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        check_probability(type(self).__name__, p)
        self.p, self.inplace = p, inplace

    def forward(self, x):
        return dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Dropout):
    """Zeroes whole channels of (N, C, H, W) feature maps with probability p in training."""

    def forward(self, x):
        return dropout2d(x, self.p, self.training)
