"""``nn.Conv2d`` and ``nn.ConvTranspose2d``: hold the weight and bias, call the functional ops.

Default initialization is PyTorch's (``init.layer_default_``), with
fan_in = weight.shape[1] * kH * kW.
"""
from .. import creation
from ..functional import conv2d, conv_transpose2d  # the checked public ops (functional/inputs.py)
from ..functional.windows import pair
from . import init
from .module import Module, Parameter


class _ConvNd(Module):
    def _configure(self, name, in_channels, out_channels, kernel_size, stride, dilation, groups, padding_mode):
        """The checks and attributes Conv2d and ConvTranspose2d share."""
        if padding_mode != "zeros":
            raise ValueError(f"{name}: only padding_mode='zeros' is supported, got {padding_mode!r}")
        in_channels = creation.size_int(in_channels, "in_channels", name)
        out_channels = creation.size_int(out_channels, "out_channels", name)
        if isinstance(groups, bool) or not isinstance(groups, int):
            raise TypeError(f"{name}: groups must be an int, got {groups!r} ({type(groups).__name__})")
        if groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: groups={groups} must divide in_channels={in_channels} and "
                             f"out_channels={out_channels}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _kernel_pair(kernel_size, name)
        self.stride, self.dilation = pair(stride), pair(dilation)

    def _make_parameters(self, weight_shape, bias, device, dtype):
        self.weight = Parameter(creation.empty(*weight_shape, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(creation.empty(self.out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.layer_default_(self.weight, self.bias)

    def extra_repr(self):
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        for name, default in (("padding", (0, 0)), ("output_padding", (0, 0)), ("dilation", (1, 1)), ("groups", 1)):
            value = getattr(self, name, default)
            if value != default:
                text += f", {name}={value}"
        return text + ("" if self.bias is not None else ", bias=False")


def _kernel_pair(kernel_size, name):
    """An int or a pair of ints as (kH, kW); a float is refused rather than truncated."""
    sizes = tuple(kernel_size) if isinstance(kernel_size, (tuple, list)) else (kernel_size, kernel_size)
    if len(sizes) != 2:
        raise ValueError(f"{name}: kernel_size must be an int or a pair of ints, got {kernel_size!r}")
    return tuple(creation.size_int(k, f"kernel_size {kernel_size!r}", name) for k in sizes)


class Conv2d(_ConvNd):
    """weight (out_channels, in_channels / groups, kH, kW), bias (out_channels,)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device="cpu", dtype=None):
        super().__init__()
        self._configure("Conv2d", in_channels, out_channels, kernel_size, stride, dilation, groups, padding_mode)
        self.padding = padding if isinstance(padding, str) else pair(padding)
        shape = (out_channels, in_channels // groups, *self.kernel_size)
        self._make_parameters(shape, bias, device, dtype)

    def forward(self, x):
        return conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class ConvTranspose2d(_ConvNd):
    """weight (in_channels, out_channels / groups, kH, kW), bias (out_channels,)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device="cpu", dtype=None):
        super().__init__()
        self._configure("ConvTranspose2d", in_channels, out_channels, kernel_size, stride, dilation, groups, padding_mode)
        self.padding, self.output_padding = pair(padding), pair(output_padding)
        shape = (in_channels, out_channels // groups, *self.kernel_size)
        self._make_parameters(shape, bias, device, dtype)

    def forward(self, x, output_size=None):
        """``output_size`` (H, W) or (N, C, H, W) picks the output_padding that gives that size, as in PyTorch."""
        output_padding = self.output_padding
        if output_size is not None:
            target = tuple(output_size)[-2:]
            smallest = [(n - 1) * s - 2 * p + d * (k - 1) + 1 for n, s, p, d, k in
                        zip(x.shape[-2:], self.stride, self.padding, self.dilation, self.kernel_size)]
            output_padding = tuple(t - m for t, m in zip(target, smallest))
        return conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, output_padding,
                                self.groups, self.dilation)
