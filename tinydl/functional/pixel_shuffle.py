"""``F.pixel_shuffle`` and ``F.pixel_unshuffle`` (Shi et al. 2016, "sub-pixel convolution").

pixel_shuffle turns r*r channels into an r x r block of pixels:

    (*, C*r*r, H, W) -> (*, C, r, r, H, W) -> (*, C, H, r, W, r) -> (*, C, H*r, W*r)
    out[c, h*r + i, w*r + j] = in[c*r*r + i*r + j, h, w]

pixel_unshuffle is the exact inverse.  Both are a reshape, a permute and a
reshape, so they only move values: their gradients are the same moves undone,
which the differentiable reshape and permute ops already provide.
"""
import numbers

from ..tensor import Tensor


def _check(op, x, factor, name):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if isinstance(factor, bool) or not isinstance(factor, numbers.Integral):
        raise TypeError(f"{op}: argument '{name}' must be int, not {type(factor).__name__}")
    if factor <= 0:
        raise ValueError(f"{op}: expects a positive {name}, but got {factor}")
    if x.ndim < 3:
        raise ValueError(f"{op}: expects input to have at least 3 dimensions (*, C, H, W), but got input of "
                         f"shape {tuple(x.shape)}")


def pixel_shuffle(input, upscale_factor):
    """(*, C*r^2, H, W) -> (*, C, H*r, W*r) with r = upscale_factor."""
    r = upscale_factor
    _check("pixel_shuffle", input, r, "upscale_factor")
    *batch, channels, h, w = input.shape
    if channels % (r * r):
        raise ValueError(f"pixel_shuffle: the channel dim of the input of shape {tuple(input.shape)} must be "
                         f"divisible by upscale_factor^2 = {r * r}, but input.size(-3) = {channels}")
    c, b = channels // (r * r), len(batch)
    x = input.reshape(*batch, c, r, r, h, w)
    x = x.permute(*range(b), b, b + 3, b + 1, b + 4, b + 2)  # (*, C, H, r, W, r)
    return x.reshape(*batch, c, h * r, w * r)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H*r, W*r) -> (*, C*r^2, H, W) with r = downscale_factor: pixel_shuffle undone."""
    r = downscale_factor
    _check("pixel_unshuffle", input, r, "downscale_factor")
    *batch, c, height, width = input.shape
    if height % r or width % r:
        raise ValueError(f"pixel_unshuffle: the height and width of the input of shape {tuple(input.shape)} must "
                         f"be divisible by downscale_factor = {r}")
    h, w, b = height // r, width // r, len(batch)
    x = input.reshape(*batch, c, h, r, w, r)
    x = x.permute(*range(b), b, b + 2, b + 4, b + 1, b + 3)  # (*, C, r, r, H, W)
    return x.reshape(*batch, c * r * r, h, w)
