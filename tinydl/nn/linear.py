"""``nn.Linear`` (y = x W^T + b) and ``nn.Identity``."""
from .. import creation
from ..functional import linear
from . import init
from .module import Module, Parameter


class Linear(Module):
    """weight (out_features, in_features), bias (out_features,), PyTorch's default initialization
    (``init.layer_default_``): W and b ~ U(-1/sqrt(in_features), 1/sqrt(in_features)).

    ``in_features=0`` is allowed, as in PyTorch: the weight is empty, the bias is zero, and the
    output is the bias."""

    def __init__(self, in_features, out_features, bias=True, device="cpu", dtype=None):
        super().__init__()
        in_features = creation.size_int(in_features, "in_features", "Linear")
        out_features = creation.size_int(out_features, "out_features", "Linear")
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(creation.empty(out_features, in_features, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(creation.empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.layer_default_(self.weight, self.bias)

    def forward(self, x):
        return linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """Returns its input; a placeholder where a layer is optional."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x
