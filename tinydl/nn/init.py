"""Weight initialization, with PyTorch's formulas (``torch.nn.init``).

Each function fills a Tensor in place (its ``.data``) from tinydl's seeded
generator and returns it.  Fans for a weight of shape (out, in, k1, k2, ...):
fan_in = in * k1 * k2 * ..., fan_out = out * k1 * k2 * ....

* Xavier/Glorot keeps the variance of activations and gradients equal across
  layers for tanh-like units: std = gain * sqrt(2 / (fan_in + fan_out)).
* Kaiming/He keeps it for ReLU-like units: std = gain / sqrt(fan), with
  gain = sqrt(2 / (1 + a^2)) for a leaky ReLU of negative slope a.
"""
import functools
import math

import numpy as np

from .. import backend, rng
from ..generator import numpy_generator
from ..tensor import Tensor, _cupy_ndarray


def _fills_in_place(fill):
    """Let ``fill`` take a parameter's raw ``.data`` array as well as the Tensor, as PyTorch scripts
    write ``init.normal_(m.weight.data, 0.0, 0.02)``: the array is filled in place through a
    Tensor that shares it (so the parameter changes), and returned as given."""

    @functools.wraps(fill)
    def fill_tensor_or_array(tensor, *args, **kwargs):
        if isinstance(tensor, Tensor):
            return fill(tensor, *args, **kwargs)
        if isinstance(tensor, (np.ndarray, _cupy_ndarray())):
            fill(Tensor(tensor), *args, **kwargs)
            return tensor
        raise TypeError(f"{fill.__name__}: expected a Tensor (or its .data array), got {type(tensor).__name__}")

    return fill_tensor_or_array


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity (PyTorch's table)."""
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
    if nonlinearity in linear or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) of a weight (out, in, k1, k2, ...): in * k1 * k2 ..., out * k1 * k2 ...."""
    if tensor.ndim < 2:
        raise ValueError(f"fan in and fan out need a tensor with at least 2 dims, got shape {tuple(tensor.shape)}")
    receptive = 1
    for n in tensor.shape[2:]:
        receptive *= n
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor, mode):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


@_fills_in_place
def uniform_(tensor, a=0.0, b=1.0):
    """Fill with U[a, b)."""
    tensor.data[...] = rng.uniform(tensor.shape, tensor.dtype, tensor.device, a, b)
    return tensor


@_fills_in_place
def normal_(tensor, mean=0.0, std=1.0):
    """Fill with N(mean, std^2)."""
    tensor.data[...] = rng.standard_normal(tensor.shape, tensor.dtype, tensor.device) * std + mean
    return tensor


@_fills_in_place
def constant_(tensor, value):
    """Fill with ``value``."""
    tensor.data[...] = value
    return tensor


@_fills_in_place
def zeros_(tensor):
    """Fill with 0."""
    return constant_(tensor, 0)


@_fills_in_place
def ones_(tensor):
    """Fill with 1."""
    return constant_(tensor, 1)


@_fills_in_place
def xavier_uniform_(tensor, gain=1.0):
    """U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out))."""
    if tensor.numel() == 0:  # nothing to fill, and fan_in + fan_out = 0 would divide by zero
        return tensor
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))  # U(-b, b) has std b / sqrt(3)
    return uniform_(tensor, -bound, bound)


@_fills_in_place
def xavier_normal_(tensor, gain=1.0):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    if tensor.numel() == 0:  # nothing to fill, and fan_in + fan_out = 0 would divide by zero
        return tensor
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


@_fills_in_place
def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """U(-b, b) with b = sqrt(3) * gain / sqrt(fan) (fan_in or fan_out by ``mode``)."""
    if tensor.numel() == 0:  # nothing to fill (nn.Linear(0, 3)), and fan = 0 would divide by zero
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


@_fills_in_place
def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """N(0, std^2) with std = gain / sqrt(fan) (fan_in or fan_out by ``mode``)."""
    if tensor.numel() == 0:  # nothing to fill, and fan = 0 would divide by zero
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return normal_(tensor, 0.0, std)


def layer_default_(weight, bias=None):
    """PyTorch's default for Linear and Conv layers: W ~ kaiming_uniform(a=sqrt(5)), which is
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        uniform_(bias, -bound, bound)


@_fills_in_place
def orthogonal_(tensor, gain=1, generator=None):
    """Fill with a (semi-)orthogonal matrix times ``gain`` (Saxe et al. 2014), PyTorch's recipe.

    The tensor is viewed as (rows, cols) = (shape[0], the product of the rest). A Gaussian matrix of
    the taller orientation is QR-factored; Q has orthonormal columns.  QR is unique only up to the
    signs of R's diagonal, so Q's columns are multiplied by those signs: that makes Q uniformly
    distributed over the orthogonal matrices.  Then rows <= cols gives orthonormal rows
    (W W^T = I), rows >= cols orthonormal columns (W^T W = I).  ``generator`` (a td.Generator)
    draws the Gaussian on the host instead of from tinydl's global generator.
    """
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, got shape "
                         f"{tuple(tensor.shape)}")
    if tensor.numel() == 0:  # nothing to fill
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    if generator is None:
        a = rng.standard_normal((rows, cols), tensor.dtype, tensor.device)
    else:
        a = numpy_generator(generator).standard_normal((rows, cols)).astype(tensor.dtype)
        a = backend.to_device(a, tensor.device)
    if rows < cols:
        a = a.T  # QR of the tall matrix (cols, rows)
    xp = backend.get_array_module(a)
    q, r = xp.linalg.qr(a)  # q (tall, short) with orthonormal columns
    q = q * xp.sign(xp.diagonal(r))  # the sign fix: column j times sign(r_jj)
    if rows < cols:
        q = q.T
    tensor.data[...] = (q * gain).reshape(tensor.shape).astype(tensor.dtype, copy=False)
    return tensor
