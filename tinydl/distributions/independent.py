"""Independent(base, n): the last n batch dims of ``base`` read as one event.

    log p(x) = sum over the last n dims of base.log_prob(x)
    H = sum over the last n dims of base.entropy()

A diagonal Gaussian over a 20-d latent, ``Independent(Normal(mu, sigma), 1)``
with mu, sigma of shape (N, 20), has batch_shape (N,) and event_shape (20,):
one log-density per example instead of 20.
"""
from .distribution import Distribution


class Independent(Distribution):
    """``Independent(base_distribution, reinterpreted_batch_ndims)``, as ``torch.distributions.Independent``."""

    arg_constraints = {}

    def __init__(self, base_distribution, reinterpreted_batch_ndims, validate_args=None):
        n, batch = int(reinterpreted_batch_ndims), base_distribution.batch_shape
        if n > len(batch):
            raise ValueError("Expected reinterpreted_batch_ndims <= len(base_distribution.batch_shape), "
                             f"actual {n} vs {len(batch)}")
        self.base_dist, self.reinterpreted_batch_ndims = base_distribution, n
        cut = len(batch) - n
        super().__init__(batch[:cut], batch[cut:] + base_distribution.event_shape, validate_args=validate_args)

    @property
    def has_rsample(self):
        return self.base_dist.has_rsample

    @property
    def has_enumerate_support(self):
        return False if self.reinterpreted_batch_ndims else self.base_dist.has_enumerate_support

    @property
    def mean(self):
        return self.base_dist.mean

    @property
    def mode(self):
        return self.base_dist.mode

    @property
    def variance(self):
        return self.base_dist.variance

    def sample(self, sample_shape=()):
        return self.base_dist.sample(sample_shape)

    def rsample(self, sample_shape=()):
        return self.base_dist.rsample(sample_shape)

    def log_prob(self, value):
        return _sum_rightmost(self.base_dist.log_prob(value), self.reinterpreted_batch_ndims)

    def entropy(self):
        return _sum_rightmost(self.base_dist.entropy(), self.reinterpreted_batch_ndims)

    def __repr__(self):
        return f"Independent({self.base_dist!r}, {self.reinterpreted_batch_ndims})"


def _sum_rightmost(t, n):
    """``t`` summed over its last ``n`` dims."""
    return t.sum(tuple(range(-n, 0))) if n else t
