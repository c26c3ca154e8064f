"""``tinydl.functional`` (imported as ``F``): every op as a plain function.

One file per family; in each, an op's forward and backward sit side by side.
"""
from .activation import gelu, leaky_relu, log_softmax, relu, sigmoid, softmax, softplus, tanh
from .broadcast import broadcast_to, sum_to
from .conv import conv2d, conv_transpose2d
from .elementwise import (
    abs, add, cast, clamp, clone, div, eq, erf, exp, ge, gt, le, log, lt, maximum, minimum, mul, ne, neg,
    pow, sqrt, sub, to_device, where,
)
from .linalg import linear, matmul
from .loss import (
    binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, huber_loss, l1_loss, mse_loss,
    nll_loss, smooth_l1_loss,
)
from .reduction import argmax, argmin, logsumexp, max, mean, min, std, sum, var
from .shape import (
    cat, expand, flatten, getitem, movedim, permute, repeat, reshape, squeeze, stack, transpose, unsqueeze,
)
