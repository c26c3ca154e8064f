"""Normalization: batch norm, instance norm, layer norm and AdaIN, all built on one op.

Each of them standardizes x over some axes,

    xhat = (x - mu) / sigma,    mu = mean(x),  sigma = sqrt(var(x) + eps)   (over those axes; biased var)

and then, optionally, scales and shifts every feature: y = weight * xhat + bias.
They differ only in *which* axes the statistics are taken over
(docs/normalization.md, "Which axes"):

    batch norm     (N, C, H, W): over N, H, W    one mu, sigma per channel
    instance norm  (N, C, H, W): over H, W       one per sample and channel
    layer norm     (..., *normalized_shape): over the trailing normalized_shape dims
    AdaIN          content normalized like instance norm, then weight = sigma(style), bias = mu(style)

So the heart of the file is one op, ``Normalize(axes, eps)``, whose backward is
the closed-form gradient derived in docs/normalization.md, "The backward".
The rest is bookkeeping: choosing the axes, the running statistics of batch
norm, and checking arguments.
"""
import math
import numbers

from .. import backend
from ..autograd import Function, is_grad_enabled
from ..tensor import Tensor


class Normalize(Function):
    """xhat = (x - mu) / sigma over ``axes``: mu the mean, sigma = sqrt(var + eps), var the *biased* variance.

    Backward (docs/normalization.md, "The backward"), m = number of elements per group:

        g_x = (g - mean(g) - xhat * mean(g * xhat)) / sigma

    where g is the gradient w.r.t. xhat and the means run over ``axes`` (m elements each).  It is
    written with Tensor ops, so it can itself be differentiated (double backward).
    """

    def __init__(self, axes, eps):
        self.axes, self.eps = axes, eps

    def forward(self, x):
        xp = backend.get_array_module(x)
        self.mean = x.mean(axis=self.axes, keepdims=True)  # kept shape, e.g. (1, C, 1, 1) for batch norm
        self.var = x.var(axis=self.axes, keepdims=True)  # biased: divides by m
        self.sigma = xp.sqrt(self.var + self.eps)
        return (x - self.mean) / self.sigma

    def backward(self, g):
        xhat = self.outputs[0]
        sigma = self._sigma_tensor()
        mean_g = g.mean(self.axes, keepdim=True)  # kept shape, like sigma
        mean_g_xhat = (g * xhat).mean(self.axes, keepdim=True)
        return (g - mean_g - xhat * mean_g_xhat) / sigma

    def _sigma_tensor(self):
        """sigma as a Tensor for backward.

        When this backward is itself being recorded (``create_graph=True``),
        sigma must be computed from x with Tensor ops: it depends on x, and a
        saved array would be a constant to the second backward, which would then
        silently lose the d sigma / dx term.  Otherwise the number saved by
        forward is the same and costs nothing.
        """
        if is_grad_enabled():
            x = self.inputs[0]
            return (x.var(self.axes, unbiased=False, keepdim=True) + self.eps).sqrt()
        return Tensor(self.sigma)


# ---- helpers shared by the public functions ----------------------------------
def _affine(xhat, weight, bias, shape):
    """y = weight * xhat + bias, weight and bias reshaped to ``shape`` to broadcast against xhat.

    Ordinary (broadcasting) Mul and Add: their backward sums the gradient over
    every axis the parameter was broadcast along, which gives
    g_weight = sum(g_y * xhat) and g_bias = sum(g_y) per feature.
    """
    y = xhat
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def _with_running_stats(x, running_mean, running_var, eps):
    """xhat from fixed statistics (evaluation mode): an affine function of x, built from plain ops."""
    channel = (1, x.shape[1]) + (1,) * (x.ndim - 2)  # (1, C, 1, 1) for a 4-d x
    return (x - running_mean.reshape(channel)) / (running_var.reshape(channel) + eps).sqrt()


def _update_running_stats(running_mean, running_var, batch_mean, batch_var, momentum):
    """running <- (1 - momentum) * running + momentum * batch, written into ``.data`` in place.

    batch_var is the *unbiased* variance (divides by m - 1), as in PyTorch: the
    running variance estimates the population's variance, which the biased
    batch variance underestimates by a factor (m - 1) / m.
    """
    running_mean.data[...] = (1 - momentum) * running_mean.data + momentum * batch_mean
    running_var.data[...] = (1 - momentum) * running_var.data + momentum * batch_var


def _check_input(op, x, min_dims, what):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if x.ndim < min_dims:
        raise ValueError(f"{op}: expected an input of shape {what}, got shape {tuple(x.shape)}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: input must be floating point, got dtype {x.dtype}")


def _check_tensor_arg(op, name, t, shape, x):
    """``t`` is None, or a Tensor of ``shape`` on the device of ``x``."""
    if t is None:
        return
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor or None, got {type(t).__name__}")
    if tuple(t.shape) != tuple(shape):
        raise ValueError(
            f"{op}: {name} should have shape {tuple(shape)} for an input of shape {tuple(x.shape)}, "
            f"got shape {tuple(t.shape)}"
        )
    if t.device != x.device:
        raise RuntimeError(f"{op}: {name} is on '{t.device}' but the input is on '{x.device}'; move it with .to()")


def _check_running_pair(op, running_mean, running_var):
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{op}: give both running_mean and running_var, or neither")


def _check_momentum(op, momentum):
    if not isinstance(momentum, numbers.Real):
        raise TypeError(
            f"{op}: momentum must be a number, got {momentum!r} (for a cumulative average, as with "
            "momentum=None in nn.BatchNorm, pass momentum=1 / number_of_batches_seen)"
        )


# ---- the public functions -------------------------------------------------------
def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Batch normalization of x (N, C), (N, C, L) or (N, C, H, W): per channel, over every other axis.

    training=True: normalize with the batch mean and *biased* batch variance,
    and update ``running_mean`` / ``running_var`` in place (their ``.data``):
    ``running = (1 - momentum) * running + momentum * batch``, the variance
    with the *unbiased* batch variance, as in PyTorch.
    training=False: normalize with the running statistics, so y is an affine
    function of x.  Without running statistics (both None), the batch
    statistics are always used (PyTorch refuses that in evaluation mode).
    weight and bias, each (C,) or None, scale and shift every channel.
    docs/normalization.md, "Batch normalization".
    """
    _check_input("batch_norm", x, 2, "(N, C, *)")
    channels = x.shape[1]
    _check_running_pair("batch_norm", running_mean, running_var)
    for name, t in [("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)]:
        _check_tensor_arg("batch_norm", name, t, (channels,), x)
    channel = (1, channels) + (1,) * (x.ndim - 2)  # a per-channel vector, shaped to broadcast against x

    if training or running_mean is None:
        m = x.data.size // channels  # values per channel: N * H * W
        if training and m <= 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training, got input of shape {tuple(x.shape)}"
            )
        axes = (0,) + tuple(range(2, x.ndim))  # every axis but the channels
        normalize = Normalize(axes, eps)
        xhat = normalize(x)
        if training and running_mean is not None:
            _check_momentum("batch_norm", momentum)
            unbiased_var = normalize.var.reshape(channels) * (m / (m - 1))
            _update_running_stats(running_mean, running_var, normalize.mean.reshape(channels), unbiased_var, momentum)
    else:
        xhat = _with_running_stats(x, running_mean, running_var, eps)
    return _affine(xhat, weight, bias, channel)


def instance_norm(
    x, eps=1e-5, *, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True, momentum=0.1
):
    """Instance normalization of x (N, C, *spatial): each sample's each channel over its spatial axes.

    The keyword arguments are PyTorch's: weight and bias (C,) scale and shift
    channels; with ``use_input_stats=True`` (the default) the statistics are
    the input's own, and ``running_mean`` / ``running_var`` (C,), if given, are
    updated in place with their averages over the batch (the variance unbiased);
    with ``use_input_stats=False`` the running statistics are used instead.
    docs/normalization.md, "Instance normalization".
    """
    _check_input("instance_norm", x, 3, "(N, C, *spatial) with at least one spatial dim")
    n, channels = x.shape[:2]
    _check_running_pair("instance_norm", running_mean, running_var)
    for name, t in [("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)]:
        _check_tensor_arg("instance_norm", name, t, (channels,), x)
    channel = (1, channels) + (1,) * (x.ndim - 2)

    if use_input_stats:
        m = math.prod(x.shape[2:])  # values per sample and channel: H * W
        if m <= 1:
            raise ValueError(
                "instance_norm: expected more than 1 spatial element when training, "
                f"got input of shape {tuple(x.shape)}"
            )
        normalize = Normalize(tuple(range(2, x.ndim)), eps)
        xhat = normalize(x)
        if running_mean is not None:
            _check_momentum("instance_norm", momentum)
            mean = normalize.mean.reshape(n, channels).mean(axis=0)  # averaged over the batch, as in PyTorch
            unbiased_var = (normalize.var.reshape(n, channels) * (m / (m - 1))).mean(axis=0)
            _update_running_stats(running_mean, running_var, mean, unbiased_var, momentum)
    else:
        if running_mean is None:
            raise ValueError("instance_norm: use_input_stats=False needs running_mean and running_var")
        xhat = _with_running_stats(x, running_mean, running_var, eps)
    return _affine(xhat, weight, bias, channel)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Layer normalization: each sample over its trailing ``normalized_shape`` dims.

    For a (N, T, F) sequence and normalized_shape=(F,), every token's F features
    get their own mean and variance.  weight and bias have shape normalized_shape.
    docs/normalization.md, "Layer normalization".
    """
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    _check_input("layer_norm", x, 1, "(*, *normalized_shape)")
    k = len(normalized_shape)
    if k == 0 or x.ndim < k or tuple(x.shape[x.ndim - k:]) != normalized_shape:
        raise ValueError(
            f"layer_norm: normalized_shape={normalized_shape} needs an input whose last dims are "
            f"{normalized_shape}, got input of shape {tuple(x.shape)}"
        )
    _check_tensor_arg("layer_norm", "weight", weight, normalized_shape, x)
    _check_tensor_arg("layer_norm", "bias", bias, normalized_shape, x)
    xhat = Normalize(tuple(range(x.ndim - k, x.ndim)), eps)(x)
    return _affine(xhat, weight, bias, normalized_shape)


def adaptive_instance_norm(content, style, eps=1e-5):
    """AdaIN (Huang & Belongie 2017): content normalized per sample and channel, then given the style's statistics:

        y = sigma(style) * (content - mu(content)) / sigma(content) + mu(style)

    with mu and sigma = sqrt(var + eps) per (sample, channel) over the spatial
    axes, the variance biased for both.  content (N, C, H, W); style (N, C, H', W')
    or (1, C, H', W') (one style for the whole batch); the spatial sizes may
    differ.  Differentiable w.r.t. both.  docs/normalization.md, "AdaIN".
    """
    _check_input("adaptive_instance_norm", content, 3, "(N, C, *spatial)")
    _check_input("adaptive_instance_norm", style, 3, "(N, C, *spatial)")
    if content.ndim != style.ndim or content.shape[1] != style.shape[1] or style.shape[0] not in (1, content.shape[0]):
        raise ValueError(
            f"adaptive_instance_norm: style of shape {tuple(style.shape)} does not match content of shape "
            f"{tuple(content.shape)} (need the same number of dims and channels, "
            f"and a batch of {content.shape[0]} or 1)"
        )
    if content.device != style.device:
        raise RuntimeError(f"adaptive_instance_norm: content is on '{content.device}' but style on '{style.device}'")
    axes = tuple(range(2, content.ndim))
    content_hat = Normalize(axes, eps)(content)
    style_mean = style.mean(axes, keepdim=True)  # (N, C, 1, 1)
    style_sigma = (style.var(axes, unbiased=False, keepdim=True) + eps).sqrt()
    return style_sigma * content_hat + style_mean
