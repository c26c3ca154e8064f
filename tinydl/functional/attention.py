"""Scaled dot-product attention: softmax(Q K^T * scale + mask) V, one op with a hand-written backward.

With L queries, S keys and feature sizes E (queries, keys) and Ev (values),
in the symbols of docs/attention.md, "Scaled dot-product attention":

    S = Q K^T * scale       (..., L, S)  scores; scale = 1 / sqrt(E) unless given
    S = S + bias            a float mask is added to the scores (and is differentiable)
    S = -inf where blocked  a boolean mask or is_causal removes positions
    P = softmax(S)          (..., L, S)  over the keys: every row of P sums to 1
    O = P V                 (..., L, Ev)

(The letter S names both the scores and the number of keys, as in PyTorch's
shapes; a shape is always written (..., L, S), a matrix never.)

Backward (docs/attention.md, "The backward"), given dO:

    dV = P^T dO
    dP = dO V^T
    dS = P * (dP - rowsum(dP * P))       the softmax's backward, one row at a time
    dQ = dS K * scale,   dK = dS^T Q * scale,   dbias = dS

Every product is a batched matmul over all the leading dims (batch, heads) at
once.  The backward is written with Tensor ops, so it can be differentiated
again (double backward).

Two conventions for masks meet here.  ``F.scaled_dot_product_attention``
takes PyTorch's: a boolean ``attn_mask`` is True where a query MAY attend.
``nn.MultiheadAttention`` takes the opposite (True = blocked), also PyTorch's.
Both translate their masks into the one form the op uses, ``blocked`` (True =
may not attend) plus an additive ``bias``, and call ``attention_and_weights``.
"""
import math
import numbers

import numpy as np

from .. import backend
from ..autograd import Function, is_grad_enabled
from ..tensor import Tensor
from .broadcast import sum_to
from .dropout import _scaled_mask, check_probability


def _softmax_rows(s):
    """softmax over the last axis, where -inf marks a blocked score.

    Shifting by the row's maximum keeps exp from overflowing.  A row where
    every score is -inf (a query that may attend to nothing) gives all zeros,
    as PyTorch's scaled_dot_product_attention does: its maximum is replaced
    by 0 so that exp(-inf - 0) = 0 everywhere instead of exp(-inf + inf) = nan,
    and its sum, 0, is replaced by 1.
    """
    xp = backend.get_array_module(s)
    m = s.max(axis=-1, keepdims=True)  # (..., L, 1)
    m = xp.where(xp.isneginf(m), 0, m).astype(s.dtype, copy=False)
    e = xp.exp(s - m)
    total = e.sum(axis=-1, keepdims=True)
    return e / xp.where(total == 0, 1, total).astype(s.dtype, copy=False)


class ScaledDotProductAttention(Function):
    """Inputs q (..., L, E), k (..., S, E), v (..., S, Ev) and optionally bias (broadcasts to (..., L, S)).

    Outputs O (..., L, Ev) and P (..., L, S), the attention probabilities (before dropout).
    Constants: ``scale``; ``blocked``, a boolean array broadcasting to (..., L, S), True where
    a query may not attend, or None; ``keep``, dropout's mask (0 or 1 / (1 - p)) of P's shape,
    or None.  With dropout, O = (P * keep) V.
    """

    def __init__(self, scale, blocked=None, keep=None):
        self.scale, self.blocked, self.keep = scale, blocked, keep

    def forward(self, q, k, v, bias=None):
        xp = backend.get_array_module(q)
        s = (q @ xp.swapaxes(k, -1, -2)) * q.dtype.type(self.scale)  # (..., L, S)
        if bias is not None:
            s = s + bias
        if self.blocked is not None:
            s = xp.where(self.blocked, xp.asarray(-xp.inf, dtype=s.dtype), s)
        p = _softmax_rows(s)  # (..., L, S)
        self.p = p
        weights = p if self.keep is None else p * self.keep
        return weights @ v, p  # (..., L, Ev), (..., L, S)

    def backward(self, d_out, d_p_direct):
        """The five lines of docs/attention.md, "The backward".

        d_out: (..., L, Ev).  d_p_direct: (..., L, S), the gradient that reaches P as an output
        (nn.MultiheadAttention returns P as its attention weights); zeros when P is unused."""
        q, k, v = self.inputs[:3]
        has_bias = len(self.inputs) == 4
        need_q, need_k, need_v = self.needs_input_grad[:3]
        need_bias = has_bias and self.needs_input_grad[3]
        p = self._probabilities()  # (..., L, S)
        keep = None if self.keep is None else Tensor(self.keep)
        weights = p if keep is None else p * keep

        dq = dk = dv = d_bias = None
        if need_v:
            dv = sum_to(weights.mT @ d_out, v.shape)  # dV = P^T dO          (..., S, Ev)
        if need_q or need_k or need_bias:
            dp = d_out @ v.mT  # dP = dO V^T                                  (..., L, S)
            if keep is not None:
                dp = dp * keep
            # when v has batch dims that q and k lack, one P serves every v: sum dP to P's
            # shape, so that d_p_direct is added once and not once per v
            dp = sum_to(dp, p.shape) + d_p_direct
            ds = p * (dp - (dp * p).sum(-1, keepdim=True))  # dS = P * (dP - rowsum(dP * P))
            if need_q:
                dq = sum_to((ds @ k) * self.scale, q.shape)  # dQ = dS K * scale    (..., L, E)
            if need_k:
                dk = sum_to((ds.mT @ q) * self.scale, k.shape)  # dK = dS^T Q * scale  (..., S, E)
            if need_bias:
                d_bias = sum_to(ds, self.inputs[3].shape)  # the bias is added to S: dbias = dS
        return (dq, dk, dv, d_bias) if has_bias else (dq, dk, dv)

    def _probabilities(self):
        """P as a Tensor for backward.

        When this backward is itself being recorded (``create_graph=True``), P
        must be a differentiable function of the inputs, or the second backward
        would treat it as a constant and silently lose its terms.  So P is then
        recomputed by this same op (its second output), whose backward is the
        method above.  Otherwise the array saved by forward is the same and free.
        """
        if is_grad_enabled():
            return ScaledDotProductAttention(self.scale, self.blocked, self.keep)(*self.inputs)[1]
        return Tensor(self.p)


def attention_and_weights(q, k, v, blocked=None, bias=None, dropout_p=0.0, scale=None):
    """The core shared by ``scaled_dot_product_attention`` and ``nn.MultiheadAttention``.

    Masks come in one convention: ``blocked`` a boolean array (True = may NOT
    attend) and ``bias`` a float Tensor added to the scores, each None or
    broadcasting to (..., L, S).  Returns (O (..., L, Ev), weights (..., L, S)):
    the weights are the probabilities P after dropout, the matrix that
    multiplies V (what PyTorch's MultiheadAttention returns).
    """
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    keep = None
    if dropout_p > 0:  # one draw per probability: the mask has P's shape (..., L, S)
        p_shape = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2]) + (q.shape[-2], k.shape[-2])
        for mask in (blocked, bias):
            if mask is not None:
                p_shape = np.broadcast_shapes(p_shape, mask.shape)
        keep = _scaled_mask(p_shape, dropout_p, q).data
    op = ScaledDotProductAttention(scale, blocked, keep)
    out, p = op(q, k, v) if bias is None else op(q, k, v, bias)
    return out, (p if keep is None else p * Tensor(keep))


def causal_blocked(L, S, xp=np):
    """(L, S) boolean, True where key j comes after query i (j > i): what is_causal blocks.

    Top-left aligned, as in PyTorch: query i sees keys 0..i whatever S is."""
    return xp.triu(xp.ones((L, S), dtype=bool), k=1)


# ---- checks at the public boundary ------------------------------------------------
def _check_qkv(op, q, k, v):
    for name, t in (("query", q), ("key", k), ("value", v)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
        if t.ndim < 2:
            raise ValueError(f"{op}: {name} must have at least 2 dims (..., length, features), got shape {tuple(t.shape)}")
        if t.dtype.kind != "f":
            raise TypeError(f"{op}: {name} must be floating point, got dtype {t.dtype}")
    shapes = f"query {tuple(q.shape)}, key {tuple(k.shape)}, value {tuple(v.shape)}"
    if not q.dtype == k.dtype == v.dtype:
        raise TypeError(f"{op}: query, key and value must have the same dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"{op}: query and key must have the same last dim E; got {shapes}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"{op}: key and value must have the same number of positions S (dim -2); got {shapes}")
    try:
        batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(f"{op}: the batch dims of query, key and value do not broadcast; got {shapes}") from None
    return batch + (q.shape[-2], k.shape[-2])  # the scores' shape (..., L, S)


def check_mask(op, name, mask, q, scores_shape):
    """``mask`` is a boolean Tensor or one of q's dtype, on q's device, that broadcasts to
    ``scores_shape`` (..., L, S) without growing it."""
    if not isinstance(mask, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor or None, got {type(mask).__name__}")
    if mask.dtype != np.bool_ and mask.dtype != q.dtype:
        raise TypeError(f"{op}: {name} must be boolean or of the query's dtype {q.dtype}, got dtype {mask.dtype}")
    if mask.device != q.device:
        raise RuntimeError(f"{op}: {name} is on '{mask.device}' but the query is on '{q.device}'; move it with .to()")
    try:
        fits = np.broadcast_shapes(mask.shape, scores_shape) == tuple(scores_shape)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"{op}: {name} of shape {tuple(mask.shape)} does not broadcast to the attention scores' shape "
            f"{tuple(scores_shape)} (..., L, S)"
        )


def scaled_dot_product_attention(q, k, v, attn_mask=None, is_causal=False, *, dropout_p=0.0, scale=None):
    """softmax(q k^T * scale + mask) v: q (..., L, E), k (..., S, E), v (..., S, Ev) -> (..., L, Ev).

    attn_mask: a boolean Tensor, True where a query MAY attend (PyTorch's convention for
    this function), or a float Tensor added to the scores (differentiable); it broadcasts
    to (..., L, S).  is_causal=True lets query i attend to keys j <= i (top-left aligned
    when L != S); it excludes attn_mask, as in PyTorch.  A query that may attend to no key
    gets zeros.  dropout_p drops attention probabilities (PyTorch applies it whenever it
    is given, there is no ``training`` flag); scale defaults to 1 / sqrt(E).
    dropout_p and scale are keyword-only, since the positional order is q, k, v, attn_mask, is_causal.
    """
    op = "scaled_dot_product_attention"
    scores_shape = _check_qkv(op, q, k, v)
    if not isinstance(is_causal, (bool, np.bool_)):
        raise TypeError(f"{op}: is_causal must be True or False, got {is_causal!r} (pass dropout_p= as a keyword)")
    check_probability(op, dropout_p)
    if scale is not None and not isinstance(scale, numbers.Real):
        raise TypeError(f"{op}: scale must be a number or None, got {scale!r}")
    blocked = bias = None
    if attn_mask is not None:
        if is_causal:
            raise ValueError(f"{op}: give attn_mask or is_causal=True, not both (as in PyTorch)")
        check_mask(op, "attn_mask", attn_mask, q, scores_shape)
        if attn_mask.dtype == np.bool_:
            blocked = ~attn_mask.data  # True = may attend, here
        else:
            bias = attn_mask
    if is_causal:
        blocked = causal_blocked(q.shape[-2], k.shape[-2], backend.get_array_module(q.data))
    return attention_and_weights(q, k, v, blocked, bias, dropout_p, scale)[0]
