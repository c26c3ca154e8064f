"""Normal(loc, scale): the Gaussian N(mu, sigma^2), mu = loc, sigma = scale > 0.

    log p(x) = -(x - mu)^2 / (2 sigma^2) - log sigma - log sqrt(2 pi)
    H = 1/2 + log sqrt(2 pi) + log sigma
    cdf(x) = 1/2 (1 + erf((x - mu) / (sigma sqrt 2)))
    icdf(p) = mu + sigma Phi^-1(p)   (Phi^-1: normal_quantile.py)

``rsample()`` is the reparameterization trick (docs/vae.md): x = mu + sigma * eps
with eps ~ N(0, 1) drawn apart from the parameters, so dx/dmu = 1 and
dx/dsigma = eps, and a loss of the sample can be differentiated w.r.t. them.
"""
import math

from .. import rng
from ..functional import erf
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution, broadcast_all, noise_dtype
from .normal_quantile import standard_normal_quantile


class Normal(Distribution):
    """``Normal(loc, scale)`` with Tensors or numbers that broadcast together, as ``torch.distributions.Normal``."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale, op="Normal")
        super().__init__(self.loc.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.scale ** 2

    def rsample(self, sample_shape=()):
        """mu + sigma * eps, eps ~ N(0, 1): differentiable w.r.t. loc and scale."""
        shape = self._extended_shape(sample_shape)
        dtype = self.loc.dtype
        eps = Tensor(rng.standard_normal(shape, noise_dtype(dtype), self.loc.device).astype(dtype, copy=False))
        return self.loc + eps * self.scale

    def log_prob(self, value):
        value = self._value_tensor(value, like=self.loc)
        return -((value - self.loc) ** 2) / (2 * self.scale ** 2) - self.scale.log() - math.log(math.sqrt(2 * math.pi))

    def cdf(self, value):
        value = self._value_tensor(value, like=self.loc)
        return 0.5 * (1 + erf((value - self.loc) / (self.scale * math.sqrt(2))))

    def icdf(self, value):
        """The x with cdf(x) = value; like PyTorch, the value is not validated (NaN outside [0, 1])."""
        return self.loc + self.scale * standard_normal_quantile(Tensor._from_value(value, like=self.loc))

    def entropy(self):
        return 0.5 + 0.5 * math.log(2 * math.pi) + self.scale.log()
