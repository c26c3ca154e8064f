"""``tinydl.distributions``: probability distributions as in ``torch.distributions``.

One file per family, the formulas in its docstring: ``Categorical`` (discrete
actions, REINFORCE), ``Normal`` (the VAE's reparameterized sample), ``Bernoulli``.
Each has ``sample``, ``log_prob``, ``entropy``, ``mean``, ``variance``; ``Normal``
has ``rsample``. ``kl_divergence(p, q)`` within each family.
"""
from . import constraints
from .bernoulli import Bernoulli
from .categorical import Categorical
from .distribution import Distribution
from .kl import kl_divergence
from .normal import Normal

__all__ = ["Bernoulli", "Categorical", "Distribution", "Normal", "constraints", "kl_divergence"]
