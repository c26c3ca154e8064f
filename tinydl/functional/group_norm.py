"""Group normalization (Wu & He 2018): the C channels split into G groups, each sample's
each group standardized over its C/G channels and all spatial positions.

It is the normalization op of normalization.py applied to x seen as (N, G, C/G * H * W),
over the last axis; then weight and bias (C,) scale and shift each channel. G = 1 is
layer norm over (C, H, W); G = C is instance norm.
"""
from .normalization import Normalize, _affine, _check_input, _check_tensor_arg


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Group norm of input (N, C, *): statistics per sample over each group of C/num_groups channels."""
    _check_input("group_norm", input, 2, "(N, C, *)")
    n, channels = input.shape[:2]
    if not isinstance(num_groups, int) or num_groups < 1 or channels % num_groups:
        raise ValueError(f"group_norm: num_groups={num_groups} must be a positive int dividing the "
                         f"{channels} channels of the input of shape {tuple(input.shape)}")
    _check_tensor_arg("group_norm", "weight", weight, (channels,), input)
    _check_tensor_arg("group_norm", "bias", bias, (channels,), input)
    grouped = input.reshape(n, num_groups, -1)  # (N, G, C/G * spatial)
    xhat = Normalize((2,), eps)(grouped).reshape(input.shape)
    return _affine(xhat, weight, bias, (1, channels) + (1,) * (input.ndim - 2))
