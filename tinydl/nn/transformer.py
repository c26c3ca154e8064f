"""The transformer encoder (Vaswani et al. 2017) and the sinusoidal positional encoding it starts from.

One encoder layer is two sublayers, each wrapped in a residual connection and
a layer norm (docs/attention.md, "The transformer encoder block"):

    post-norm (PyTorch's default, the original paper):
        x = norm1(x + dropout1(self_attn(x, x, x)))
        x = norm2(x + dropout2(linear2(dropout(activation(linear1(x))))))
    pre-norm (norm_first=True; trains more stably when deep):
        x = x + dropout1(self_attn(norm1(x), ...))
        x = x + dropout2(linear2(dropout(activation(linear1(norm2(x))))))

Submodule names are PyTorch's (self_attn, linear1, dropout, linear2, norm1,
norm2, dropout1, dropout2; layers.0. ... in TransformerEncoder), so a PyTorch
state_dict converted to NumPy loads unchanged.

``PositionalEncoding`` is a tinydl addition (PyTorch has none): attention by
itself ignores the order of its inputs (permute the keys and values together
and nothing changes), so the position of each token is added to its features.
"""
import copy

from ..functional import gelu, relu
from ..functional.dropout import check_probability
from ..functional.embedding import sinusoidal_positional_encoding
from .attention import MultiheadAttention
from .container import ModuleList
from .dropout import Dropout
from .linear import Linear
from .module import Module
from .normalization import LayerNorm

_ACTIVATIONS = {"relu": relu, "gelu": gelu}  # 'gelu' is the exact erf form, as in PyTorch


class PositionalEncoding(Module):
    """x + PE[:T], then dropout, for x (T, N, d_model), or (N, T, d_model) with batch_first.

    PE is ``sinusoidal_positional_encoding(max_len, d_model)``, kept as a buffer
    named ``pe`` (max_len, d_model) so that ``.to()`` moves and converts it.
    It is *non-persistent*, left out of ``state_dict()``: it is a fixed function
    of (max_len, d_model), recomputed by the constructor, and saving it would add
    max_len * d_model numbers to every checkpoint and tie checkpoints to max_len.
    For a float64 model pass dtype=td.float64: ``.double()`` converts the float32
    table, it does not recompute it.
    """

    def __init__(self, d_model, max_len=5000, dropout=0.0, batch_first=False, device="cpu", dtype=None):
        super().__init__()
        check_probability(type(self).__name__, dropout)
        self.d_model, self.max_len, self.batch_first = d_model, max_len, batch_first
        self.dropout = Dropout(dropout)
        pe = sinusoidal_positional_encoding(max_len, d_model, dtype=dtype, device=device)  # (max_len, d_model)
        self.register_buffer("pe", pe, persistent=False)

    def forward(self, x):
        if x.ndim != 3 or x.shape[-1] != self.d_model:
            layout = "(N, T, d_model)" if self.batch_first else "(T, N, d_model)"
            raise ValueError(f"PositionalEncoding: expected x of shape {layout} with d_model = {self.d_model}, "
                             f"got {tuple(x.shape)}")
        length = x.shape[1] if self.batch_first else x.shape[0]
        if length > self.max_len:
            raise ValueError(f"PositionalEncoding: a sequence of length {length} (x of shape {tuple(x.shape)}) "
                             f"is longer than max_len = {self.max_len}")
        pe = self.pe[:length]  # (T, d_model)
        pe = pe if self.batch_first else pe.unsqueeze(1)  # (T, d_model) broadcasts over N; (T, 1, d_model) too
        return self.dropout(x + pe)

    def extra_repr(self):
        return f"d_model={self.d_model}, max_len={self.max_len}, batch_first={self.batch_first}"


class TransformerEncoderLayer(Module):
    """Self-attention and a feed-forward network, each with a residual connection and a layer norm."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device="cpu", dtype=None):
        super().__init__()
        if isinstance(activation, str):
            if activation not in _ACTIVATIONS:
                raise ValueError(f"TransformerEncoderLayer: activation should be 'relu' or 'gelu', not {activation!r}")
            activation = _ACTIVATIONS[activation]
        elif not callable(activation):
            raise TypeError(f"TransformerEncoderLayer: activation must be 'relu', 'gelu' or a callable, got {activation!r}")
        self.activation, self.norm_first, self.batch_first = activation, norm_first, batch_first
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            device=device, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, device=device, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, device=device, dtype=dtype)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        """src (T, N, d_model), or (N, T, d_model) with batch_first; the masks as in MultiheadAttention
        (boolean True = blocked, float added): src_mask (T, T) or (N * nhead, T, T), src_key_padding_mask (N, T)."""
        x = src
        if self.norm_first:
            x = x + self._self_attention_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._feed_forward_block(self.norm2(x))
        else:
            x = self.norm1(x + self._self_attention_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._feed_forward_block(x))
        return x

    def _self_attention_block(self, x, attn_mask, key_padding_mask, is_causal):
        out, _ = self.self_attn(x, x, x, key_padding_mask=key_padding_mask, need_weights=False,
                                attn_mask=attn_mask, is_causal=is_causal)
        return self.dropout1(out)

    def _feed_forward_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoder(Module):
    """``num_layers`` independent copies of ``encoder_layer`` applied in turn, then ``norm`` if given.

    ``enable_nested_tensor`` and ``mask_check`` are accepted for PyTorch compatibility and
    ignored (they select PyTorch's fast paths, which compute the same thing).
    """

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True):
        super().__init__()
        if not isinstance(encoder_layer, Module):
            raise TypeError(f"TransformerEncoder: encoder_layer must be a Module, got {type(encoder_layer).__name__}")
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal))
        return x if self.norm is None else self.norm(x)
