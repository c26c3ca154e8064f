"""kl_divergence(p, q) = E_p[log p(x) - log q(x)] for two distributions of the same family.

    Normal:      KL = 1/2 (r + ((mu_p - mu_q) / sigma_q)^2 - 1 - log r),  r = (sigma_p / sigma_q)^2
    Categorical: KL = sum_k p_k (log p_k - log q_k)
    Bernoulli:   KL = p log(p / q) + (1 - p) log((1 - p) / (1 - q))

A term with p_k = 0 adds 0 (x log x -> 0); one with p_k > 0 = q_k adds +inf,
as in PyTorch. The Normal one is the VAE's KL term (docs/vae.md).
"""
import math

from ..functional import softplus, where
from .bernoulli import Bernoulli
from .categorical import Categorical
from .independent import Independent, _sum_rightmost
from .normal import Normal


def kl_divergence(p, q):
    """KL(p || q), one number per distribution of the (broadcast) batch, as ``torch.distributions.kl_divergence``."""
    for (kind_p, kind_q), kl in _KL.items():
        if isinstance(p, kind_p) and isinstance(q, kind_q):
            return kl(p, q)
    raise NotImplementedError(
        f"No KL(p || q) is implemented for p type {type(p).__name__} and q type {type(q).__name__}")


def _kl_normal_normal(p, q):
    ratio = (p.scale / q.scale) ** 2
    shift = ((p.loc - q.loc) / q.scale) ** 2
    return 0.5 * (ratio + shift - 1 - ratio.log())


def _kl_categorical_categorical(p, q):
    t = p.probs * (p.logits - q.logits)
    t = where((q.probs == 0).data, math.inf, t)
    t = where((p.probs == 0).data, 0.0, t)
    return t.sum(-1)


def _kl_bernoulli_bernoulli(p, q):
    ones = p.probs * (softplus(-q.logits) - softplus(-p.logits))  # p log(p / q), log sigmoid(z) = -softplus(-z)
    ones = where((q.probs == 0).data, math.inf, ones)
    ones = where((p.probs == 0).data, 0.0, ones)
    zeros = (1 - p.probs) * (softplus(q.logits) - softplus(p.logits))  # (1 - p) log((1 - p) / (1 - q))
    zeros = where((q.probs == 1).data, math.inf, zeros)
    zeros = where((p.probs == 1).data, 0.0, zeros)
    return ones + zeros


def _kl_independent_independent(p, q):
    """The base distributions' KL, summed over the dims reinterpreted as the event."""
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError(
            f"kl_divergence: Independent distributions reinterpret {p.reinterpreted_batch_ndims} and "
            f"{q.reinterpreted_batch_ndims} batch dims; KL needs the same number")
    return _sum_rightmost(kl_divergence(p.base_dist, q.base_dist), p.reinterpreted_batch_ndims)


_KL = {
    (Normal, Normal): _kl_normal_normal,
    (Categorical, Categorical): _kl_categorical_categorical,
    (Bernoulli, Bernoulli): _kl_bernoulli_bernoulli,
    (Independent, Independent): _kl_independent_independent,
}
