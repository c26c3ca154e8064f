"""``nn.KLDivLoss``: F.kl_div as a module."""
from .. import functional as F
from ..functional.kl_div import REDUCTIONS
from ..functional.loss import legacy_reduction
from .module import Module


class KLDivLoss(Module):
    """F.kl_div(input, target) with ``input`` = log q; ``reduction='batchmean'`` is the KL divergence."""

    def __init__(self, size_average=None, reduce=None, reduction="mean", log_target=False):
        super().__init__()
        reduction = legacy_reduction(size_average, reduce, reduction)
        if reduction not in REDUCTIONS:
            raise ValueError(f"KLDivLoss: reduction must be one of {REDUCTIONS}, got {reduction!r}")
        self.reduction, self.log_target = reduction, log_target

    def forward(self, input, target):
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
