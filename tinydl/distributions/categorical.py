"""Categorical(probs) over the classes 0 .. K-1, with p_k the k-th entry of the last dim.

    P(X = k) = p_k,   p = probs / sum(probs)   or   p = softmax(logits)
    log P(X = k) = logits_k - logsumexp(logits)
    H = -sum_k p_k log p_k

``sample()`` is the inverse of the CDF: draw u ~ U[0, 1) and return the first k
with p_0 + ... + p_k > u. It has no gradient (a class index is not a smooth
function of p); REINFORCE differentiates ``log_prob(sample)`` instead, the score
function (docs/reinforce.md).
"""
import functools

import numpy as np

from .. import backend, rng
from ..creation import arange
from ..device_checks import check
from ..functional import where
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution, noise_dtype


class Categorical(Distribution):
    """``Categorical(probs)`` or ``Categorical(logits=...)``: a batch of distributions over K classes
    (the last dim), as ``torch.distributions.Categorical``."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            probs = _vectors(probs, "probs")
            self.probs = probs / probs.sum(-1, keepdim=True)
        else:
            logits = _vectors(logits, "logits")
            self.logits = logits - logits.logsumexp(-1, keepdim=True)  # log p_k = logits_k - logsumexp
        self._param = self.probs if probs is not None else self.logits
        self._num_events = self._param.shape[-1]
        super().__init__(self._param.shape[:-1], validate_args=validate_args)

    @functools.cached_property
    def probs(self):
        return self.logits.softmax(-1)

    @functools.cached_property
    def logits(self):
        eps = np.finfo(self.probs.dtype).eps  # log(0) would be -inf: PyTorch clamps p to [eps, 1 - eps]
        return self.probs.clamp(eps, 1 - eps).log()

    @property
    def param_shape(self):
        return tuple(self._param.shape)

    @property
    def support(self):
        return constraints.IntegerInterval(0, self._num_events - 1)

    @property
    def mean(self):  # class indices have no meaningful mean: NaN, as in PyTorch
        return Tensor(self._nans())

    @property
    def variance(self):
        return Tensor(self._nans())

    @property
    def mode(self):
        return self.probs.argmax(-1)

    def _nans(self):
        xp = backend.get_array_module(self._param.data)
        return xp.full(self._batch_shape, np.nan, dtype=self._param.dtype)

    def sample(self, sample_shape=()):
        """int64 class indices of shape sample_shape + batch_shape, by inverting the CDF."""
        shape = self._extended_shape(sample_shape)
        p = self.probs.data  # (*batch, K)
        xp = backend.get_array_module(p)
        bad = ~xp.all((p >= 0) & xp.isfinite(p))
        check(bad, lambda: RuntimeError(
            f"Categorical.sample: probs (shape {tuple(p.shape)}) contain inf, nan or an element < 0"))
        cdf = xp.cumsum(p, axis=-1)
        u = rng.uniform(shape + (1,), noise_dtype(p.dtype), self._param.device) * cdf[..., -1:]  # in [0, total)
        index = (cdf <= u).sum(axis=-1)  # how many k have cdf_k <= u: the first k with cdf_k > u
        return Tensor(xp.minimum(index, self._num_events - 1).astype(np.int64))  # (rounding can give K)

    def log_prob(self, value):
        """log p_value, broadcasting ``value`` against batch_shape: sum_k [value = k] log p_k."""
        value = self._value_tensor(value, like=self._param)
        if not self._validate_args:  # PyTorch's gather raises for an index out of range
            xp = backend.get_array_module(value.data)
            outside = xp.any((value.data < 0) | (value.data >= self._num_events))
            check(outside, lambda: IndexError(
                f"Categorical.log_prob: a value is outside the classes 0 .. {self._num_events - 1}"))
        k = arange(self._num_events, device=self._param.device)
        one_hot = Tensor(value.data.astype(np.int64)).unsqueeze(-1) == k  # (*value, K), like PyTorch's .long()
        return where(one_hot, self.logits, 0.0).sum(-1)

    def entropy(self):
        """-sum_k p_k log p_k; a -inf logit (p_k = 0) adds 0, not 0 * -inf."""
        smallest = float(np.finfo(self.logits.dtype).min)
        return -(self.logits.clamp(min=smallest) * self.probs).sum(-1)

    def enumerate_support(self, expand=True):
        """The classes 0 .. K-1 along a new first dim: (K, *batch_shape), or (K, 1, ..., 1)."""
        xp = backend.get_array_module(self._param.data)
        values = xp.arange(self._num_events, dtype=np.int64).reshape((-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = xp.ascontiguousarray(xp.broadcast_to(values, (self._num_events,) + self._batch_shape))
        return Tensor(values)


def _vectors(param, name):
    """``param`` as a floating Tensor with at least one dim (the classes)."""
    if not isinstance(param, Tensor):
        raise TypeError(f"Categorical: {name} must be a Tensor, got {type(param).__name__}")
    if param.ndim < 1:
        raise ValueError(f"`{name}` parameter must be at least one-dimensional.")
    return param if param.dtype.kind == "f" else param.float()
