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
import warnings

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
    channels does (Tompson et al. 2015).  As in PyTorch, any input of 2 or more
    dims is read as (N, C, ...), one draw per (n, c), with PyTorch's warnings:
    a 3-d input is taken as (N, C, L), and a 2-d (N, C) input (where each
    "channel" is a single number, so this is plain dropout) is deprecated.
    """
    _check("dropout2d", x, p)
    _warn_unusual_dims(x)
    if not training or p == 0:
        return x
    mask_shape = x.shape[:2] + (1,) * (x.ndim - 2)  # (N, C, 1, 1): one draw per channel, broadcast over H, W
    return x * _scaled_mask(mask_shape, p, x)


def _warn_unusual_dims(x):
    """PyTorch 2.13's warnings (same words) for inputs that are not (N, C, H, W); below 2 dims, its error."""
    if x.ndim < 2:
        raise ValueError(f"dropout2d: feature dropout requires at least 2 dimensions in the input, got shape "
                         f"{tuple(x.shape)}")
    if x.ndim not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {x.ndim}-D input to dropout2d, which is deprecated "
            "and will result in an error in a future release. To retain the behavior "
            "and silence this warning, please use dropout instead. Note that dropout2d "
            "exists to provide channel-wise dropout on inputs with 2 spatial dimensions, "
            "a channel dimension, and an optional batch dimension (i.e. 3D or 4D inputs).",
            stacklevel=3,
        )
    if x.ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
            "1D dropout behavior is desired - input is interpreted as shape (N, C, L), where C "
            "is the channel dim. This behavior will change in a future release to interpret the "
            "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
            "channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=3,
        )
