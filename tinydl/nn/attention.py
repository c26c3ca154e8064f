"""``nn.MultiheadAttention``: num_heads scaled dot-product attentions side by side, PyTorch's layout.

With E = embed_dim, H = num_heads, hd = E / H, N the batch, L queries and S keys
(docs/attention.md, "Multi-head attention", draws every step):

    q = query W_q^T + b_q                     (N, L, E)     W_q, W_k, W_v: the three (E, E) blocks
    k = key   W_k^T + b_k,  v = value W_v^T + b_v  (N, S, E)  of in_proj_weight (3E, E)
    split heads: (N, L, E) -> (N, L, H, hd) -> (N, H, L, hd)   (and (N, H, S, hd) for k, v)
    o = attention(q, k, v)                    (N, H, L, hd)  one batched op for every sample and head
    merge heads: (N, H, L, hd) -> (N, L, H, hd) -> (N, L, E)
    out = o W_o^T + b_o                       (N, L, E)      out_proj

Masks follow PyTorch's convention for this module, the opposite of
``F.scaled_dot_product_attention``'s: a boolean ``attn_mask`` or
``key_padding_mask`` is True where attention is BLOCKED; a float mask is added
to the scores.  Both are translated into the op's one form (``blocked`` plus an
additive ``bias``) and passed to the same hand-written attention op.

A query whose every key is blocked gets zero attention weights (so its output
is out_proj's bias), as PyTorch gives with need_weights=False; PyTorch's
need_weights=True path gives NaN there instead.
"""
import numpy as np

from .. import backend, creation
from ..functional import linear
from ..functional.attention import attention_and_weights, causal_blocked
from ..functional.dropout import check_probability
from ..functional.elementwise import cast
from ..tensor import Tensor
from . import init
from .linear import Linear
from .module import Module, Parameter


class MultiheadAttention(Module):
    """Parameters (PyTorch's names and init): in_proj_weight (3E, E) xavier_uniform, in_proj_bias (3E,) zeros,
    out_proj = Linear(E, E) with its bias zeroed.  ``dropout`` drops attention weights in training mode."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, batch_first=False, device="cpu", dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(
                f"MultiheadAttention: embed_dim ({embed_dim}) must be a positive multiple of num_heads ({num_heads})"
            )
        check_probability("MultiheadAttention", dropout)
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.kdim = self.vdim = embed_dim  # PyTorch's attributes (separate kdim/vdim are not supported)
        self.dropout, self.batch_first = dropout, batch_first
        self.in_proj_weight = Parameter(creation.empty(3 * embed_dim, embed_dim, device=device, dtype=dtype))
        if bias:
            self.in_proj_bias = Parameter(creation.empty(3 * embed_dim, device=device, dtype=dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype)
        self._reset_parameters()

    def _reset_parameters(self):
        init.xavier_uniform_(self.in_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        """query (L, N, E), key and value (S, N, E); (N, L, E) and (N, S, E) with batch_first;
        (L, E) and (S, E) unbatched.  key_padding_mask (N, S) (or (S,) unbatched); attn_mask (L, S)
        or (N * num_heads, L, S).  is_causal=True blocks key j > i for query i (PyTorch calls it a
        hint that attn_mask is causal and insists on attn_mask; here it builds the causal mask, and
        any attn_mask given is applied too).

        Returns (out, weights): out shaped like query; weights (N, L, S) averaged over heads, or
        (N, num_heads, L, S) with average_attn_weights=False (without N when unbatched); None
        unless need_weights.
        """
        batched = query.ndim == 3
        q_in, k_in, v_in = self._batch_first(query, key, value, batched)  # (N, L, E), (N, S, E), (N, S, E)
        n, L, S = q_in.shape[0], q_in.shape[1], k_in.shape[1]
        E = self.embed_dim

        w_q, w_k, w_v = self.in_proj_weight[:E], self.in_proj_weight[E : 2 * E], self.in_proj_weight[2 * E :]
        b = self.in_proj_bias
        b_q, b_k, b_v = (None, None, None) if b is None else (b[:E], b[E : 2 * E], b[2 * E :])
        q = self._split_heads(linear(q_in, w_q, b_q))  # (N, H, L, hd)
        k = self._split_heads(linear(k_in, w_k, b_k))  # (N, H, S, hd)
        v = self._split_heads(linear(v_in, w_v, b_v))  # (N, H, S, hd)

        blocked, bias = self._masks(key_padding_mask, attn_mask, is_causal, q_in, n, L, S, batched)
        p = self.dropout if self.training else 0.0
        o, weights = attention_and_weights(q, k, v, blocked, bias, p)  # (N, H, L, hd), (N, H, L, S)
        o = o.permute(0, 2, 1, 3).reshape(n, L, E)  # merge heads: (N, L, H, hd) -> (N, L, E)
        out = self.out_proj(o)  # (N, L, E)

        if not batched:
            out = out.squeeze(0)
        elif not self.batch_first:
            out = out.transpose(0, 1)  # back to (L, N, E)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(1)  # (N, L, S)
        return out, (weights if batched else weights.squeeze(0))

    # ---- the steps of forward -------------------------------------------------------
    def _batch_first(self, query, key, value, batched):
        """Check the three inputs and return them as (N, L, E), (N, S, E), (N, S, E)."""
        op, E = "MultiheadAttention", self.embed_dim
        shapes = f"query {tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)}"
        layout = "(N, L, E)" if self.batch_first else "(L, N, E)"
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(f"{op}: expected 3-d {layout} (or 2-d unbatched) query, key and value; got {shapes}")
        if query.shape[-1] != E or key.shape[-1] != E or value.shape[-1] != E:
            raise ValueError(f"{op}: the last dim of query, key and value must be embed_dim = {E}; got {shapes}")
        if key.shape != value.shape:
            raise ValueError(f"{op}: key and value must have the same shape; got {shapes}")
        if not batched:
            return query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
        if not self.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        if query.shape[0] != key.shape[0]:
            raise ValueError(f"{op}: query and key must have the same batch size; got {shapes} ({layout} layout)")
        return query, key, value

    def _split_heads(self, x):
        """(N, T, E) -> (N, T, H, hd) -> (N, H, T, hd): head h holds features h*hd .. (h+1)*hd - 1."""
        n, t, _ = x.shape
        return x.reshape(n, t, self.num_heads, self.head_dim).permute(0, 2, 1, 3)

    def _masks(self, key_padding_mask, attn_mask, is_causal, q, n, L, S, batched):
        """Merge the masks into (blocked, bias), each None or broadcasting to the scores (N, H, L, S).

        Blocked positions are OR-ed, float masks are added: the same as PyTorch, which turns a
        boolean mask into -inf and adds everything.
        """
        op, H = "MultiheadAttention", self.num_heads
        blocked, bias = None, None

        def merge(mask):
            nonlocal blocked, bias
            if mask.dtype == np.bool_:
                blocked = mask.data if blocked is None else blocked | mask.data
            else:
                mask = cast(mask, q.dtype)  # a float mask of another precision is accepted, as in PyTorch
                bias = mask if bias is None else bias + mask

        if attn_mask is not None:
            self._check_mask_type("attn_mask", attn_mask, q)
            allowed = [(L, S), (n * H, L, S)]
            if tuple(attn_mask.shape) not in allowed:
                expected = f"(L, S) = {allowed[0]} or ({'N * ' if batched else ''}num_heads, L, S) = {allowed[1]}"
                raise ValueError(f"{op}: attn_mask should have shape {expected}, got {tuple(attn_mask.shape)}")
            merge(attn_mask if attn_mask.ndim == 2 else attn_mask.reshape(n, H, L, S))
        if key_padding_mask is not None:
            self._check_mask_type("key_padding_mask", key_padding_mask, q)
            expected = (n, S) if batched else (S,)
            if tuple(key_padding_mask.shape) != expected:
                raise ValueError(
                    f"{op}: key_padding_mask should have shape {'(N, S)' if batched else '(S,)'} = {expected}, "
                    f"got {tuple(key_padding_mask.shape)}"
                )
            merge(key_padding_mask.reshape(n, 1, 1, S))  # the same keys are hidden from every head and query
        if is_causal:
            causal = causal_blocked(L, S, backend.get_array_module(q.data))  # (L, S)
            blocked = causal if blocked is None else blocked | causal
        return blocked, bias

    @staticmethod
    def _check_mask_type(name, mask, q):
        if not isinstance(mask, Tensor):
            raise TypeError(f"MultiheadAttention: {name} must be a Tensor or None, got {type(mask).__name__}")
        if mask.dtype != np.bool_ and mask.dtype.kind != "f":
            raise TypeError(f"MultiheadAttention: {name} must be boolean or floating point, got dtype {mask.dtype}")
        if mask.device != q.device:
            raise RuntimeError(f"MultiheadAttention: {name} is on '{mask.device}' but the query is on '{q.device}'")

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, batch_first={self.batch_first}"
