"""Normalization layers: ``BatchNorm1d``, ``BatchNorm2d``, ``InstanceNorm2d``, ``LayerNorm``.

Each holds its parameters and buffers and calls the op in
``tinydl.functional.normalization``.  Names, defaults, initialization and
state-dict keys are PyTorch's (weight = 1, bias = 0, running_mean = 0,
running_var = 1, ``num_batches_tracked`` an int64 count of training batches),
so a PyTorch checkpoint loads unchanged.  docs/normalization.md tells the math.
"""
import warnings

from .. import creation
from ..functional.normalization import batch_norm, instance_norm, layer_norm
from ..tensor import Tensor, int64
from . import init
from .module import Module, Parameter


class _NormBase(Module):
    """What batch and instance norm share: per-channel weight/bias and running statistics."""

    def __init__(self, num_features, eps, momentum, affine, track_running_stats, bias, device, dtype):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(creation.empty(num_features, device=device, dtype=dtype))
            if bias:
                self.bias = Parameter(creation.empty(num_features, device=device, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", creation.zeros(num_features, device=device, dtype=dtype))
            self.register_buffer("running_var", creation.ones(num_features, device=device, dtype=dtype))
            self.register_buffer("num_batches_tracked", creation.tensor(0, dtype=int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self):
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def _check_input_dim(self, x):
        if not isinstance(x, Tensor):
            raise TypeError(f"{type(self).__name__}: input must be a Tensor, not {type(x).__name__}")
        dims = self._input_dims
        if x.ndim not in dims:
            expected = " or ".join(f"{d}D" for d in dims)
            raise ValueError(
                f"{type(self).__name__}: expected {expected} input (got {x.ndim}D input of shape {tuple(x.shape)})"
            )

    def extra_repr(self):
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class _BatchNorm(_NormBase):
    """Batch normalization over every axis but the channels (axis 1).

    In training mode it normalizes with the batch's statistics and updates the
    running ones; in evaluation mode (``.eval()``) it uses the running ones.
    ``momentum=None`` makes the running statistics a cumulative average over
    all training batches so far: momentum 1 / num_batches_tracked.
    """

    def __init__(
        self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, device="cpu", dtype=None,
        *, bias=True,
    ):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, bias, device, dtype)

    def forward(self, x):
        self._check_input_dim(x)
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data[...] += 1  # a buffer: counted in place, outside any graph
            if self.momentum is None:  # cumulative moving average
                momentum = 1.0 / int(self.num_batches_tracked.item())
        # batch statistics in training, and in evaluation when no running statistics are kept
        use_batch_stats = self.training or self.running_mean is None
        # the running statistics are handed over only where they are used or updated
        hand_over = not self.training or self.track_running_stats
        return batch_norm(
            x,
            self.running_mean if hand_over else None,
            self.running_var if hand_over else None,
            self.weight,
            self.bias,
            use_batch_stats,
            momentum,
            self.eps,
        )


class BatchNorm1d(_BatchNorm):
    """Batch norm of (N, C) features or (N, C, L) sequences: one mean and variance per channel C."""

    _input_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm of (N, C, H, W) images: one mean and variance per channel, over N, H and W."""

    _input_dims = (4,)


class InstanceNorm2d(_NormBase):
    """Instance normalization of (N, C, H, W) or unbatched (C, H, W) images: each image's each
    channel over its H, W.  PyTorch's defaults: no affine parameters, no running statistics.

    As in PyTorch, ``num_batches_tracked`` exists (with track_running_stats) but is never
    counted, and momentum=None leaves the running statistics unchanged.
    """

    _input_dims = (3, 4)

    def __init__(
        self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False, device="cpu", dtype=None,
        *, bias=True,
    ):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, bias, device, dtype)

    def forward(self, x):
        self._check_input_dim(x)
        if x.shape[-3] != self.num_features:
            message = (
                f"InstanceNorm2d: expected input's size at dim {x.ndim - 3} to match num_features "
                f"({self.num_features}), got input of shape {tuple(x.shape)}"
            )
            if self.affine:
                raise ValueError(message)
            warnings.warn(message + "; as in PyTorch, this is allowed when affine=False")
        if x.ndim == 3:  # unbatched: treat as a batch of one
            return self.forward(x.unsqueeze(0)).squeeze(0)
        return instance_norm(
            x,
            self.eps,
            running_mean=self.running_mean,
            running_var=self.running_var,
            weight=self.weight,
            bias=self.bias,
            use_input_stats=self.training or not self.track_running_stats,
            momentum=0.0 if self.momentum is None else self.momentum,
        )


class LayerNorm(Module):
    """Layer normalization over the trailing ``normalized_shape`` dims of every sample.

    weight (ones) and bias (zeros) have shape normalized_shape, one per normalized element.
    Unlike batch norm it behaves the same in training and evaluation.
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device="cpu", dtype=None):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(creation.ones(self.normalized_shape, device=device, dtype=dtype))
            if bias:
                self.bias = Parameter(creation.zeros(self.normalized_shape, device=device, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self):
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x):
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )
