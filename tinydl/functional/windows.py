"""Sliding windows: the view of an image that every convolution and pooling op reads.

For a padded image ``xp_`` of shape (N, C, Hp, Wp), the window that output
pixel (oh, ow) sees, for kernel offset (i, j), is the pixel

    row = oh * stride_h + i * dilation_h,   col = ow * stride_w + j * dilation_w.

``sliding_windows`` returns all of them as one array of shape
(N, C, kH, kW, OH, OW) *without copying*: it only changes the strides NumPy
uses to walk memory (``as_strided``).  Stepping one kernel row moves
``dilation_h`` image rows; stepping one output row moves ``stride_h`` image
rows.  The plain convolution copies this view into im2col's matrix and
multiplies it by the weights (``Im2col`` in conv.py, docs/convolution.md,
section 2); the plain max-pool takes the max over its (kH, kW) axes
(docs/pooling.md).
"""
from .. import backend


def pair(value, name="argument", op="op"):
    """An int or a pair of ints as a pair (height, width)."""
    if isinstance(value, int):
        return (value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 2:
        raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value}")
    return value


def output_size(size, kernel, stride, padding, dilation):
    """Number of window positions along one axis: floor((size + 2p - d(k - 1) - 1) / s) + 1."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def pad2d(x, padding, value=0.0):
    """Pad the last two axes of an array by (ph, pw) on each side with ``value``."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    xp = backend.get_array_module(x)
    return xp.pad(x, ((0, 0),) * (x.ndim - 2) + ((ph, ph), (pw, pw)), mode="constant", constant_values=value)


def sliding_windows(padded, kernel, stride, dilation):
    """A view (N, C, kH, kW, OH, OW) of every window of ``padded`` (N, C, Hp, Wp).

    Windows overlap in memory, so the view must only be read, never written.
    """
    xp = backend.get_array_module(padded)
    n, c, hp, wp = padded.shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    oh = (hp - dh * (kh - 1) - 1) // sh + 1
    ow = (wp - dw * (kw - 1) - 1) // sw + 1
    s_n, s_c, s_h, s_w = padded.strides
    strides = (s_n, s_c, s_h * dh, s_w * dw, s_h * sh, s_w * sw)
    return xp.lib.stride_tricks.as_strided(padded, shape=(n, c, kh, kw, oh, ow), strides=strides)
