"""``nn.PReLU``: a leaky ReLU with learned negative slopes (F.prelu)."""
from .. import creation
from .. import functional as F
from .module import Module, Parameter


class PReLU(Module):
    """x for x >= 0, else a * x, with ``num_parameters`` learned slopes a (1: shared; else one per
    channel, dim 1), each starting at ``init`` (PyTorch's defaults: 1 and 0.25)."""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = num_parameters
        self.weight = Parameter(creation.full((num_parameters,), init, dtype=dtype, device=device))

    def forward(self, x):
        return F.prelu(x, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"
