"""A softmax policy network for discrete actions, with an optional value head (a learned baseline).

pi(a | s) = softmax(f(s))_a.  For REINFORCE the quantity differentiated is
log pi(a_t | s_t), whose gradient w.r.t. the logits is onehot(a_t) - pi(. | s_t)
(the "score function", docs/reinforce.md).
"""
from .. import functional as F
from .. import nn


class PolicyNetwork(nn.Module):
    """pi(a | s) = softmax of an MLP's logits; ``value_head=True`` adds V(s) for a learned baseline."""

    def __init__(self, observation_dim, n_actions, hidden=128, value_head=False):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(observation_dim, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh())
        self.logits = nn.Linear(hidden, n_actions)
        self.value = nn.Linear(hidden, 1) if value_head else None

    def forward(self, observations):
        """observations (N, observation_dim) -> log pi(. | s) (N, n_actions), and values (N,) or None."""
        h = self.body(observations)
        log_probs = F.log_softmax(self.logits(h), dim=-1)
        values = self.value(h).squeeze(-1) if self.value is not None else None
        return log_probs, values
