"""``tinydl.distributions``: probability distributions as in ``torch.distributions``.

One file per family, the formulas in its docstring: ``Categorical`` (discrete
actions, REINFORCE), ``Normal`` (the VAE's reparameterized sample), ``Bernoulli``,
and ``Independent`` (batch dims read as one event).
Each has ``sample``, ``log_prob``, ``entropy``, ``mean``, ``variance``; ``Normal``
has ``rsample``. ``kl_divergence(p, q)`` within each family. The math: docs/distributions.md.
"""
from . import constraints
from .bernoulli import Bernoulli
from .categorical import Categorical
from .distribution import Distribution
from .independent import Independent
from .kl import kl_divergence
from .normal import Normal

__all__ = ["Bernoulli", "Categorical", "Distribution", "Independent", "Normal", "constraints", "kl_divergence"]
