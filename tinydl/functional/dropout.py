"""Dropout: in training, zero each element with probability p and scale the survivors by 1 / (1 - p).

Scaling at training time ("inverted dropout") keeps every element's expected
value unchanged, E[y] = (1 - p) * x / (1 - p) = x, so at evaluation time
dropout is simply switched off: y = x (docs/normalization.md, "Dropout").

The op is a multiplication by a random constant mask, y = x * mask, so its
backward is the multiplication of the gradient by the same mask, which the
ordinary Mul provides (and its double backward too).  The mask comes from
tinydl's seeded generator on x's device, so ``td.manual_seed`` reproduces it.
"""
import numbers

import numpy as np

from .. import backend, rng
from ..tensor import Tensor


def _check(op, x, p):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: input must be floating point, got dtype {x.dtype}")
    check_probability(op, p)


def check_probability(op, p):
    """p must be a number in [0, 1] (also used by nn.Dropout)."""
    if not isinstance(p, numbers.Real) or not 0 <= p <= 1:
        raise ValueError(f"{op}: dropout probability p has to be between 0 and 1, but got {p!r}")


def _scaled_mask(shape, p, x):
    """A constant Tensor of ``shape``: 1 / (1 - p) where kept (probability 1 - p), 0 where dropped."""
    xp = backend.get_array_module(x.data)
    if p == 1:  # nothing survives; 1 / (1 - p) would be inf, and 0 * inf is nan
        return Tensor(xp.zeros(shape, dtype=x.dtype))
    # u ~ U[0, 1) is >= p with probability 1 - p; drawn in float32 whatever x's dtype,
    # so a seed gives the same mask for float32 and float64 inputs
    keep = rng.uniform(shape, np.float32, x.device) >= p
    return Tensor(keep.astype(x.dtype) / x.dtype.type(1 - p))


def dropout(x, p=0.5, training=True):
    """Inverted dropout of every element independently; the identity when not training (or p = 0)."""
    _check("dropout", x, p)
    if not training or p == 0:
        return x
    return x * _scaled_mask(x.shape, p, x)


def dropout2d(x, p=0.5, training=True):
    """Channel-wise dropout of x (N, C, H, W): each whole channel is zeroed with probability p.

    Neighbouring pixels of a feature map are strongly correlated, so dropping
    single pixels barely regularizes a convolutional layer; dropping whole
    channels does (Tompson et al. 2015).  A 3-d input is read as (N, C, L),
    as PyTorch currently does.
    """
    _check("dropout2d", x, p)
    if x.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected a 3-d (N, C, L) or 4-d (N, C, H, W) input, got shape {tuple(x.shape)}")
    if not training or p == 0:
        return x
    mask_shape = x.shape[:2] + (1,) * (x.ndim - 2)  # (N, C, 1, 1): one draw per channel, broadcast over H, W
    return x * _scaled_mask(mask_shape, p, x)
