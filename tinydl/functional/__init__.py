"""``tinydl.functional`` (imported as ``F``): every op as a plain function.

One file per family; in each, an op's forward and backward sit side by side.
"""
from .activation import gelu, leaky_relu, log_softmax, relu, sigmoid, softmax, softplus, tanh
from .attention import scaled_dot_product_attention
from .broadcast import broadcast_to, sum_to
from .conv import conv2d, conv_transpose2d
from .dropout import dropout, dropout2d
from .elementwise import (
    abs, add, cast, clamp, clone, div, eq, erf, exp, ge, gt, le, log, lt, maximum, minimum, mul, ne, neg,
    pow, sqrt, sub, to_device, where,
)
from .embedding import embedding, sinusoidal_positional_encoding
from .linalg import linear, matmul
from .loss import (
    binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, huber_loss, l1_loss, mse_loss,
    nll_loss, smooth_l1_loss,
)
from .normalization import adaptive_instance_norm, batch_norm, instance_norm, layer_norm
from .pool import adaptive_avg_pool2d, avg_pool2d, interpolate, max_pool2d, max_unpool2d
from .recurrent import gru, lstm, rnn_relu, rnn_tanh
from .cells import gru_cell, lstm_cell, rnn_relu_cell, rnn_tanh_cell
from .roi import roi_align, roi_pool
from .reduction import argmax, argmin, logsumexp, max, mean, min, std, sum, var
from .shape import (
    cat, expand, flatten, getitem, movedim, permute, repeat, reshape, squeeze, stack, transpose, unsqueeze,
)
from .spatial import affine_grid, grid_sample
from .counting import nonzero, repeat_interleave  # counting ... views: the tensor ops of issue 20
from .cumulative import cumsum
from .einsum import einsum
from .extremes import amax, amin
from .logical import (
    all, allclose, any, equal, isclose, isfinite, isinf, isnan, logical_and, logical_not, logical_or, logical_xor,
)
from .norm import norm
from .products import bmm, dot, mm, outer, prod
from .reorder import flip, roll
from .rounding import ceil, floor, round, sign
from .scatter import scatter, scatter_add
from .sampling import bernoulli, multinomial
from .select import gather, index_select, masked_fill, masked_fill_, masked_select
from .slicing import chunk, narrow, split, unbind
from .sorting import argsort, sort, topk
from .triangular import tril, triu
from .trig import cos, sin
from .views import t, view_as
from . import inplace  # noqa: E402,F401  (Tensor.add_, mul_, ...: methods only, as in PyTorch)
from .padding import pad
from .pixel_shuffle import pixel_shuffle, pixel_unshuffle
from .one_hot import one_hot  # one_hot ... group_norm: common extras (issue 20)
from .smooth_activations import elu, silu
from .log1p import log1p
from .normalize import normalize
from .group_norm import group_norm
from .softplus import softplus  # noqa: F811  the public one, with PyTorch's beta= and threshold=
from .similarity import cosine_similarity
from .prelu import prelu
from .kl_div import kl_div
from .gradient_reversal import gradient_reversal  # gradient_reversal, mmd_loss: domain adaptation (issue 18)
from .mmd import mmd_loss

from .inputs import check_all as _check_all  # noqa: E402

# Every public op above is replaced here by a wrapper that first checks its Tensor arguments by
# parameter name, so F.relu(None) names the op and the argument (inputs.py). The ops' own modules
# keep the unwrapped functions: tinydl's internal calls do not pay the check.
_check_all(globals())
