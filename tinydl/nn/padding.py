"""Padding layers: ``F.pad`` with its widths fixed at construction, PyTorch's classes and names.

``padding`` is an int (the same width on every side) or a tuple in F.pad's order,
last dim first: (left, right) for 1d, (left, right, top, bottom) for 2d,
(left, right, top, bottom, front, back) for 3d.  It is kept as a tuple, as in PyTorch.
"""
import numbers

from ..functional.padding import pad
from .module import Module


class _PadNd(Module):
    mode = "constant"
    dims = 2  # how many trailing dims the layer pads

    def __init__(self, padding):
        super().__init__()
        self.padding = _widths(type(self).__name__, padding, 2 * self.dims)

    def forward(self, input):
        return pad(input, self.padding, self.mode)

    def extra_repr(self):
        return f"{self.padding}"


def _widths(layer, padding, count):
    """An int repeated ``count`` times, or a tuple of exactly ``count`` ints."""
    if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
        return (int(padding),) * count
    if isinstance(padding, (tuple, list)) and len(padding) == count:
        return tuple(padding)
    raise ValueError(f"{layer}: padding must be an int or a tuple of {count} ints, got {padding!r}")


class ReflectionPad1d(_PadNd):
    """Pads the last dim of (N, C, W) or (C, W) with its reflection: [a b c] -> b [a b c] b."""
    mode, dims = "reflect", 1


class ReflectionPad2d(_PadNd):
    """Pads the last 2 dims of (N, C, H, W) or (C, H, W) with their reflection."""
    mode, dims = "reflect", 2


class ReflectionPad3d(_PadNd):
    """Pads the last 3 dims of (N, C, D, H, W) or (C, D, H, W) with their reflection."""
    mode, dims = "reflect", 3


class ReplicationPad1d(_PadNd):
    """Pads the last dim by repeating its edge elements: [a b c] -> a [a b c] c."""
    mode, dims = "replicate", 1


class ReplicationPad2d(_PadNd):
    """Pads the last 2 dims by repeating their edge elements."""
    mode, dims = "replicate", 2


class ReplicationPad3d(_PadNd):
    """Pads the last 3 dims by repeating their edge elements."""
    mode, dims = "replicate", 3


class CircularPad1d(_PadNd):
    """Pads the last dim by wrapping around: [a b c] -> c [a b c] a."""
    mode, dims = "circular", 1


class CircularPad2d(_PadNd):
    """Pads the last 2 dims by wrapping around."""
    mode, dims = "circular", 2


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pads the last dim with ``value``."""
    dims = 1


class ConstantPad2d(_ConstantPadNd):
    """Pads the last 2 dims with ``value``."""
    dims = 2


class ConstantPad3d(_ConstantPadNd):
    """Pads the last 3 dims with ``value``."""
    dims = 3


class ZeroPad1d(ConstantPad1d):
    """Pads the last dim with zeros."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    """Pads the last 2 dims with zeros (the classic 'same' border of a convolution)."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad3d(ConstantPad3d):
    """Pads the last 3 dims with zeros."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"
