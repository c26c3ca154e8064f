"""``nn.AdditiveAttention``: Bahdanau's attention, where a recurrent decoder looks at every step.

Bahdanau, Cho and Bengio (*Neural Machine Translation by Jointly Learning to Align and
Translate*, 2015), eq. 6 and appendix A.1.2: a small one-hidden-layer network scores how well
each key k_j (an encoder state, or a CNN feature vector) matches the query q (the decoder's
previous hidden state),

    e_j     = v_a^T tanh(W_a q + U_a k_j)          score of key j            (N, S)
    alpha_j = exp(e_j) / sum_k exp(e_k)            attention weights          (N, S)
    c       = sum_j alpha_j k_j                    the context vector         (N, Dk)

The keys are also the values: the context is a weighted average of the very vectors that were
scored.  ``U_a k_j`` does not depend on the decoder step, so a decoder computes it once per
sequence with ``project_keys`` and passes it to every step (``projected_keys=``); only
``W_a q`` is new at each step.  docs/recurrent_attention.md, "The additive score".

Every operation is an existing differentiable op (linear, tanh, softmax, a weighted sum), so
autograd derives the backward; the tests gradcheck it in float64.
"""
import math

from .. import creation, device_checks
from ..functional import softmax, tanh
from ..tensor import Tensor
from . import init
from .linear import Linear
from .module import Module


class AdditiveAttention(Module):
    """``attn = AdditiveAttention(query_size, key_size, hidden_size)``;
    ``context, weights = attn(query, keys, key_padding_mask=None, projected_keys=None)``.

    query (N, Dq), keys (N, S, Dk) -> context (N, Dk), weights (N, S) (each row sums to 1).
    ``key_padding_mask`` (N, S) bool, True where a key is padding (it gets weight 0), as in
    ``nn.MultiheadAttention``; a row must keep at least one key.  ``projected_keys`` (N, S, H):
    ``attn.project_keys(keys)``, computed once per sequence.

    Parameters, named as in the paper: ``W_a`` (H, Dq) and ``U_a`` (H, Dk) (``U_a`` carries the
    one bias of the hidden layer), ``v_a`` (1, H).
    """

    def __init__(self, query_size, key_size, hidden_size, device="cpu", dtype=None):
        super().__init__()
        name = "AdditiveAttention"
        self.query_size = creation.size_int(query_size, "query_size", name)
        self.key_size = creation.size_int(key_size, "key_size", name)
        self.hidden_size = creation.size_int(hidden_size, "hidden_size", name)
        self.W_a = Linear(self.query_size, self.hidden_size, bias=False, device=device, dtype=dtype)
        self.U_a = Linear(self.key_size, self.hidden_size, device=device, dtype=dtype)
        self.v_a = Linear(self.hidden_size, 1, bias=False, device=device, dtype=dtype)
        self.reset_parameters()

    def reset_parameters(self):
        """W_a, U_a, v_a ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (nn.Linear's default); U_a's bias 0."""
        for layer in (self.W_a, self.U_a, self.v_a):
            bound = 1 / math.sqrt(max(1, layer.in_features))
            init.uniform_(layer.weight, -bound, bound)
        init.zeros_(self.U_a.bias)

    def project_keys(self, keys):
        """U_a k_j for every key: (N, S, Dk) -> (N, S, H).  The part of the score a decoder reuses."""
        self._check_keys(keys)
        return self.U_a(keys)

    def forward(self, query, keys, key_padding_mask=None, projected_keys=None):
        self._check_inputs(query, keys, key_padding_mask, projected_keys)
        if projected_keys is None:
            projected_keys = self.U_a(keys)  # (N, S, H)
        hidden = tanh(projected_keys + self.W_a(query).unsqueeze(1))  # (N, S, H): W_a q broadcast over j
        scores = self.v_a(hidden).squeeze(-1)  # e (N, S)
        if key_padding_mask is not None:
            scores = scores.masked_fill(key_padding_mask, -math.inf)  # exp(-inf) = 0: no weight on padding
        weights = softmax(scores, dim=1)  # alpha (N, S)
        context = (weights.unsqueeze(1) @ keys).squeeze(1)  # c = sum_j alpha_j k_j: (N, 1, S) @ (N, S, Dk)
        return context, weights

    def extra_repr(self):
        return f"query_size={self.query_size}, key_size={self.key_size}, hidden_size={self.hidden_size}"

    # ---- argument checks ------------------------------------------------------------
    def _check_keys(self, keys):
        if not isinstance(keys, Tensor) or keys.ndim != 3 or keys.shape[2] != self.key_size:
            shape = tuple(keys.shape) if hasattr(keys, "shape") else type(keys).__name__
            raise ValueError(f"AdditiveAttention: keys must be a (N, S, key_size={self.key_size}) tensor; "
                             f"got {shape}")
        if keys.shape[1] == 0:
            raise ValueError(f"AdditiveAttention: keys {tuple(keys.shape)} has no key (S = 0) to attend to")

    def _check_inputs(self, query, keys, key_padding_mask, projected_keys):
        self._check_keys(keys)
        n, s = keys.shape[0], keys.shape[1]
        if not isinstance(query, Tensor) or tuple(query.shape) != (n, self.query_size):
            shape = tuple(query.shape) if hasattr(query, "shape") else type(query).__name__
            raise ValueError(f"AdditiveAttention: query must be (N, query_size) = ({n}, {self.query_size}) for "
                             f"keys {tuple(keys.shape)}; got {shape}")
        if projected_keys is not None and tuple(projected_keys.shape) != (n, s, self.hidden_size):
            raise ValueError(f"AdditiveAttention: projected_keys must be (N, S, hidden_size) = "
                             f"({n}, {s}, {self.hidden_size}) = attn.project_keys(keys); "
                             f"got {tuple(projected_keys.shape)}")
        if key_padding_mask is None:
            return
        if not isinstance(key_padding_mask, Tensor) or key_padding_mask.dtype != bool:
            what = f"dtype {key_padding_mask.dtype}" if isinstance(key_padding_mask, Tensor) else \
                type(key_padding_mask).__name__
            raise TypeError(f"AdditiveAttention: key_padding_mask must be a boolean Tensor (True = padding); "
                            f"got {what}")
        if tuple(key_padding_mask.shape) != (n, s):
            raise ValueError(f"AdditiveAttention: key_padding_mask must be (N, S) = ({n}, {s}) for keys "
                             f"{tuple(keys.shape)}; got {tuple(key_padding_mask.shape)}")
        mask = key_padding_mask.data
        # a row with every key masked would give 0/0 weights: raised now on the CPU, at the next read on a GPU
        device_checks.check(mask.all(axis=1).any(), lambda: ValueError(
            "AdditiveAttention: a row of key_padding_mask masks every key; each row needs a key to attend to"))
