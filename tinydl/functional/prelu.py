"""``F.prelu``: a leaky ReLU whose negative slope is learned, one slope per channel (dim 1) or one shared.

Built from ``where`` and ``mul``, so it is differentiable in x and in the slopes.
"""
from ..tensor import Tensor
from .elementwise import mul, where


def prelu(x, weight):
    """x where x >= 0, else weight * x; ``weight`` has 1 element (shared) or one per channel,
    x's dim 1 (PyTorch's ``F.prelu``)."""
    if not isinstance(x, Tensor) or not isinstance(weight, Tensor):
        raise TypeError("prelu: x and weight must be Tensors, not "
                        f"{type(x).__name__} and {type(weight).__name__}")
    if weight.ndim != 1:
        raise ValueError(f"prelu: weight must be 1-d, got shape {tuple(weight.shape)}")
    slopes = weight.numel()
    if slopes != 1:
        channels = x.shape[1] if x.ndim >= 2 else None
        if channels != slopes:
            raise ValueError(f"prelu: weight has {slopes} slopes but x of shape {tuple(x.shape)} has "
                             f"{channels} channels (dim 1)")
        weight = weight.reshape(slopes, *([1] * (x.ndim - 2)))  # broadcast over dim 1
    else:
        weight = weight.reshape(())
    return where(x.detach() >= 0, x, mul(weight, x))
