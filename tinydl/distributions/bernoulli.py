"""Bernoulli(p): 1 with probability p, 0 with probability 1 - p; p = probs or sigmoid(logits).

    log P(X = x) = x log p + (1 - x) log(1 - p) = -BCE_with_logits(logits, x)
    H = -p log p - (1 - p) log(1 - p) = BCE_with_logits(logits, p)

Both are computed from the logits, log p = -softplus(-logits) and
log(1 - p) = -softplus(logits), which stay finite where p rounds to 0 or 1.
``sample()`` returns floats 0. / 1. (u < p with u ~ U[0, 1)) and has no gradient.
"""
import functools

import numpy as np

from .. import backend, rng
from ..functional import binary_cross_entropy_with_logits, sigmoid
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution, broadcast_all, noise_dtype


class Bernoulli(Distribution):
    """``Bernoulli(probs)`` or ``Bernoulli(logits=...)``, as ``torch.distributions.Bernoulli``."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            (self.probs,) = broadcast_all(probs, op="Bernoulli")
        else:
            (self.logits,) = broadcast_all(logits, op="Bernoulli")
        self._param = self.probs if probs is not None else self.logits
        super().__init__(self._param.shape, validate_args=validate_args)

    @functools.cached_property
    def probs(self):
        return sigmoid(self.logits)

    @functools.cached_property
    def logits(self):
        eps = np.finfo(self.probs.dtype).eps  # log(0) would be -inf: PyTorch clamps p to [eps, 1 - eps]
        p = self.probs.clamp(eps, 1 - eps)
        return p.log() - (1 - p).log()

    @property
    def param_shape(self):
        return tuple(self._param.shape)

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        """1 where p > 1/2, 0 where p < 1/2, NaN at a tie (PyTorch's rule)."""
        p = self.probs.data
        xp = backend.get_array_module(p)
        return Tensor(xp.where(p == 0.5, np.nan, (p > 0.5).astype(p.dtype)).astype(p.dtype))

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        p = self.probs.data
        u = rng.uniform(shape, noise_dtype(p.dtype), self._param.device)
        return Tensor((u < p).astype(p.dtype))

    def log_prob(self, value):
        value = self._value_tensor(value, like=self._param)
        logits, value = broadcast_all(self.logits, value, op="Bernoulli.log_prob")
        return -binary_cross_entropy_with_logits(logits, value, reduction="none")

    def entropy(self):
        return binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none")

    def enumerate_support(self, expand=True):
        """0. and 1. along a new first dim: (2, *batch_shape), or (2, 1, ..., 1)."""
        xp = backend.get_array_module(self._param.data)
        values = xp.arange(2, dtype=self._param.dtype).reshape((-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = xp.ascontiguousarray(xp.broadcast_to(values, (2,) + self._batch_shape))
        return Tensor(values)
