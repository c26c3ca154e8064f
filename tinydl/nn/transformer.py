"""The transformer (Vaswani et al. 2017): encoder and decoder layers and stacks, nn.Transformer, and
the sinusoidal positional encoding it starts from.

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
import math

from .. import backend, creation
from ..functional import gelu, relu
from ..functional.attention import causal_blocked
from ..functional.dropout import check_probability
from ..functional.embedding import sinusoidal_positional_encoding
from .attention import MultiheadAttention
from .container import ModuleList
from . import init
from .dropout import Dropout
from .linear import Linear
from .module import Module
from .normalization import LayerNorm

_ACTIVATIONS = {"relu": relu, "gelu": gelu}  # 'gelu' is the exact erf form, as in PyTorch


def _activation(layer, activation):
    """'relu', 'gelu' or a callable, as the function to call."""
    if isinstance(activation, str):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"{layer}: activation should be 'relu' or 'gelu', not {activation!r}")
        return _ACTIVATIONS[activation]
    if not callable(activation):
        raise TypeError(f"{layer}: activation must be 'relu', 'gelu' or a callable, got {activation!r}")
    return activation


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
        self.activation = _activation("TransformerEncoderLayer", activation)
        self.norm_first, self.batch_first = norm_first, batch_first
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


class TransformerDecoderLayer(Module):
    """Self-attention over the target, cross-attention to the encoder's output (``memory``), and a
    feed-forward network, each with a residual connection and a layer norm (docs/attention.md):

        post-norm (default):                            pre-norm (norm_first=True):
        x = norm1(x + self_attn(x, x, x))               x = x + self_attn(norm1(x), ...)
        x = norm2(x + multihead_attn(x, mem, mem))      x = x + multihead_attn(norm2(x), mem, mem)
        x = norm3(x + feed_forward(x))                  x = x + feed_forward(norm3(x))

    (each sublayer's output goes through its dropout1/2/3 before the sum).  The queries of the
    cross-attention come from the target, its keys and values from the memory: every target
    position looks at the whole source sequence.  Names as PyTorch's, so state_dicts load both ways.
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device="cpu", dtype=None):
        super().__init__()
        self.activation = _activation("TransformerDecoderLayer", activation)
        self.norm_first, self.batch_first = norm_first, batch_first
        attention = dict(dropout=dropout, bias=bias, batch_first=batch_first, device=device, dtype=dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, **attention)
        self.multihead_attn = MultiheadAttention(d_model, nhead, **attention)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, device=device, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, device=device, dtype=dtype)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        """tgt (T, N, d_model) and memory (S, N, d_model), or (N, T, .) and (N, S, .) with batch_first.
        Masks as in MultiheadAttention (boolean True = blocked, float added): tgt_mask (T, T),
        memory_mask (T, S), tgt_key_padding_mask (N, T), memory_key_padding_mask (N, S)."""
        x = tgt
        if self.norm_first:
            x = x + self._self_attention_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._cross_attention_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask,
                                                memory_is_causal)
            x = x + self._feed_forward_block(self.norm3(x))
        else:
            x = self.norm1(x + self._self_attention_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._cross_attention_block(x, memory, memory_mask, memory_key_padding_mask,
                                                           memory_is_causal))
            x = self.norm3(x + self._feed_forward_block(x))
        return x

    def _self_attention_block(self, x, attn_mask, key_padding_mask, is_causal):
        out, _ = self.self_attn(x, x, x, key_padding_mask=key_padding_mask, need_weights=False,
                                attn_mask=attn_mask, is_causal=is_causal)
        return self.dropout1(out)

    def _cross_attention_block(self, x, memory, attn_mask, key_padding_mask, is_causal):
        out, _ = self.multihead_attn(x, memory, memory, key_padding_mask=key_padding_mask, need_weights=False,
                                     attn_mask=attn_mask, is_causal=is_causal)
        return self.dropout2(out)

    def _feed_forward_block(self, x):
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerDecoder(Module):
    """``num_layers`` independent copies of ``decoder_layer`` applied in turn (each attending to
    the same ``memory``), then ``norm`` if given."""

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        if not isinstance(decoder_layer, Module):
            raise TypeError(f"TransformerDecoder: decoder_layer must be a Module, got {type(decoder_layer).__name__}")
        self.layers = ModuleList([copy.deepcopy(decoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask, tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=bool(tgt_is_causal),
                      memory_is_causal=memory_is_causal)
        return x if self.norm is None else self.norm(x)


class Transformer(Module):
    """The encoder-decoder of "Attention Is All You Need", PyTorch's ``nn.Transformer``.

    encoder = TransformerEncoder(num_encoder_layers layers, then a LayerNorm) turns src into memory;
    decoder = TransformerDecoder(num_decoder_layers layers, then a LayerNorm) turns tgt into the
    output, attending to memory.  Every weight matrix (dim > 1) starts xavier_uniform, as in PyTorch.
    Embeddings, positional encodings and the output projection are the user's, as in PyTorch.
    """

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6, dim_feedforward=2048,
                 dropout=0.1, activation="relu", custom_encoder=None, custom_decoder=None, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device="cpu", dtype=None):
        super().__init__()
        layer = dict(dim_feedforward=dim_feedforward, dropout=dropout, activation=activation,
                     layer_norm_eps=layer_norm_eps, batch_first=batch_first, norm_first=norm_first, bias=bias,
                     device=device, dtype=dtype)
        norm = dict(eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(TransformerEncoderLayer(d_model, nhead, **layer), num_encoder_layers,
                                              LayerNorm(d_model, **norm))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(TransformerDecoderLayer(d_model, nhead, **layer), num_decoder_layers,
                                              LayerNorm(d_model, **norm))
        self._reset_parameters()
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first

    def _reset_parameters(self):
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        """src (S, N, E), tgt (T, N, E) ((N, S, E), (N, T, E) with batch_first; (S, E), (T, E) unbatched)
        -> (T, N, E).  src_mask (S, S), tgt_mask (T, T), memory_mask (T, S); *_key_padding_mask (N, S or T).
        A boolean mask is True where attention is blocked; a float mask is added to the scores."""
        batch_dim = 0 if self.batch_first else 1
        if src.ndim == 3 and (tgt.ndim != 3 or src.shape[batch_dim] != tgt.shape[batch_dim]):
            raise ValueError(f"Transformer: the batch number of src {tuple(src.shape)} and tgt {tuple(tgt.shape)} "
                             f"must be equal (batch_first={self.batch_first})")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ValueError(f"Transformer: the feature number of src {tuple(src.shape)} and tgt "
                             f"{tuple(tgt.shape)} must be equal to d_model = {self.d_model}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                            memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """The (sz, sz) causal mask: float -inf above the diagonal (position i may not see j > i), 0 elsewhere."""
        mask = creation.zeros(sz, sz, dtype=dtype, device="cpu" if device is None else device)
        mask.data[causal_blocked(sz, sz, backend.get_array_module(mask.data))] = -math.inf
        return mask
