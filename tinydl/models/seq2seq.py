"""An encoder-decoder for translation, with Bahdanau's attention or with one context vector.

Bahdanau, Cho and Bengio, *Neural Machine Translation by Jointly Learning to Align and Translate*
(ICLR 2015), section 3 and appendix A, with the paper's symbols (docs/recurrent_attention.md):

Encoder (section 3.2): a bidirectional RNN reads the source x_1 .. x_{T_x}; the annotation of
word j is both directions' states side by side, h_j = [->h_j ; <-h_j].

Decoder (section 3.1), for i = 1 .. T_y, with s_0 = tanh(W_s <-h_1):

    e_ij  = v_a^T tanh(W_a s_{i-1} + U_a h_j)        the alignment model   nn.AdditiveAttention
    a_ij  = softmax_j(e_ij)                            attention weights      (N, T_x)
    c_i   = sum_j a_ij h_j                             the context            (N, 2H)
    s_i   = GRU(s_{i-1}, [E y_{i-1} ; c_i])            decoder state          (N, H)
    t_i   = maxout(U_o s_i + V_o E y_{i-1} + C_o c_i)  deep output            (N, L)
    p(y_i | y_<i, x) = softmax(W_o t_i)                                      (N, V)

``attention=False`` gives the model attention is compared with, Cho et al. 2014's RNN
Encoder-Decoder (the paper's "RNNencdec"): the same encoder, but the decoder gets ONE vector
c = [->h_{T_x} ; <-h_1] (each direction's state after reading the whole sentence), the same at
every step, so c_i = c and s_0 = tanh(W_s c).  Everything else is identical, so a comparison of
the two isolates the one difference: recomputing the context at every step.

Batches are padded (``lengths`` give the real lengths).  nn.GRU(bidirectional=True) would reverse
each padded row as a whole, so its backward direction would start on the padding; the encoder
instead runs the paper's two RNNs, the backward one on every sentence reversed *within its
length*, so each annotation is the one the sentence would get on its own, and the attention
ignores the padding (``key_padding_mask``).  ``Seq2Seq.step`` is one decoder step in the form
``tinydl.text.greedy_decode`` and ``beam_search`` call.
"""
import numpy as np

from .. import functional as F
from .. import nn
from ..autograd import no_grad
from ..creation import tensor
from ..functional.shape import cat, stack
from ..tensor import Tensor


def reversed_within_lengths(lengths, width):
    """(N, width) int64 positions: row n reads positions lengths[n]-1 .. 0, then its padding in place.

    Indexing a batch with it reverses each sentence inside its own length; it is its own inverse."""
    lengths = np.asarray(lengths, dtype=np.int64)
    positions = np.arange(width)[None, :]  # (1, S)
    return np.where(positions < lengths[:, None], lengths[:, None] - 1 - positions, positions)


class Seq2SeqEncoder(nn.Module):
    """Embedding, then the forward and backward RNNs: source (N, S) ids, lengths (N,) ->
    annotations h (N, S, 2H) and the one-vector summary c = [->h_{T_x} ; <-h_1] (N, 2H)."""

    def __init__(self, vocab_size, embedding_dim, hidden_size, padding_idx=0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=padding_idx)  # E_x
        self.forward_rnn = nn.GRU(embedding_dim, hidden_size, batch_first=True)  # ->f, reads x_1 .. x_{T_x}
        self.backward_rnn = nn.GRU(embedding_dim, hidden_size, batch_first=True)  # <-f, reads x_{T_x} .. x_1

    def forward(self, source, lengths):
        n, width = source.shape
        rows = np.arange(n)[:, None]  # (N, 1)
        last = np.asarray(lengths, dtype=np.int64) - 1  # (N,) position of x_{T_x}
        reverse = reversed_within_lengths(lengths, width)  # (N, S)
        x = self.embedding(source)  # (N, S, E)
        forward_states, _ = self.forward_rnn(x)  # (N, S, H): ->h_j
        backward_states, _ = self.backward_rnn(x[rows, reverse])  # (N, S, H), reversed sentences
        backward_states = backward_states[rows, reverse]  # back in source order: <-h_j
        annotations = cat([forward_states, backward_states], dim=2)  # h_j (N, S, 2H)
        summary = cat([forward_states[np.arange(n), last], backward_states[:, 0]], dim=1)  # c (N, 2H)
        return annotations, summary


class Seq2SeqDecoder(nn.Module):
    """The decoder of section 3.1: with ``attention`` the context c_i is recomputed at every step by
    the alignment model; without, c_i = c, the encoder's one summary vector."""

    def __init__(self, vocab_size, embedding_dim, hidden_size, annotation_size, attention_size, maxout_size,
                 attention=True, padding_idx=0):
        super().__init__()
        self.use_attention = bool(attention)
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=padding_idx)  # E
        start = annotation_size // 2 if attention else annotation_size  # <-h_1 (N, H) or c (N, 2H)
        self.W_s = nn.Linear(start, hidden_size)  # s_0 = tanh(W_s <-h_1)
        if attention:
            self.attention = nn.AdditiveAttention(hidden_size, annotation_size, attention_size)  # W_a, U_a, v_a
        self.rnn = nn.GRUCell(embedding_dim + annotation_size, hidden_size)  # s_i = f(s_{i-1}, y_{i-1}, c_i)
        self.U_o = nn.Linear(hidden_size, 2 * maxout_size)  # deep output, pre-maxout t~_i (2L units)
        self.V_o = nn.Linear(embedding_dim, 2 * maxout_size, bias=False)
        self.C_o = nn.Linear(annotation_size, 2 * maxout_size, bias=False)
        self.W_o = nn.Linear(maxout_size, vocab_size)  # logits over the target vocabulary

    def initial_state(self, annotations, summary, padding_mask):
        """The decoder's state before step 1: a dict of (N, ...) tensors (dim 0 the batch, as
        tinydl.text's decoders need)."""
        hidden = annotations.shape[2] // 2
        if not self.use_attention:
            return {"s": F.tanh(self.W_s(summary)), "c": summary}  # (N, H), (N, 2H)
        first_backward = annotations[:, 0, hidden:]  # <-h_1 (N, H)
        return {"s": F.tanh(self.W_s(first_backward)),  # s_0 (N, H)
                "h": annotations,  # (N, S, 2H)
                "projected_keys": self.attention.project_keys(annotations),  # (N, S, A): once per sentence
                "padding_mask": padding_mask}  # (N, S) bool, True on padding

    def context(self, s_prev, state):
        """c_i and the weights a_i (N, S) (None without attention) from s_{i-1} (N, H)."""
        if not self.use_attention:
            return state["c"], None
        return self.attention(s_prev, state["h"], key_padding_mask=state["padding_mask"],
                              projected_keys=state["projected_keys"])

    def deep_output(self, s, embedded_prev, c):
        """Logits (..., V) of p(y_i) from s_i, E y_{i-1} and c_i: a maxout layer of pieces of 2, then W_o."""
        t = self.U_o(s) + self.V_o(embedded_prev) + self.C_o(c)  # t~_i (..., 2L)
        t = t.reshape(*t.shape[:-1], t.shape[-1] // 2, 2).max(dim=-1)[0]  # t_i (..., L)
        return self.W_o(t)

    def step(self, y_prev, state):
        """One step i: y_{i-1} (N,) ids -> logits (N, V), the new state, weights a_i (N, S) or None."""
        embedded = self.embedding(y_prev)  # E y_{i-1} (N, E)
        c, weights = self.context(state["s"], state)  # c_i (N, 2H)
        s = self.rnn(cat([embedded, c], dim=1), state["s"])  # s_i (N, H)
        return self.deep_output(s, embedded, c), dict(state, s=s), weights

    def forward(self, target_in, state):
        """Teacher forcing: target_in (N, T) = <bos> y_1 .. y_{T-1} -> logits (N, T, V) and the weights
        (N, T, S) (None without attention).  The loop runs over time steps; the output layer runs once
        on all of them."""
        embedded = self.embedding(target_in)  # (N, T, E)
        states, contexts, weights = [], [], []
        s = state["s"]
        for i in range(target_in.shape[1]):
            c, a = self.context(s, state)  # c_i (N, 2H), a_i (N, S)
            s = self.rnn(cat([embedded[:, i], c], dim=1), s)  # s_i (N, H)
            states.append(s)
            contexts.append(c)
            weights.append(a)
        logits = self.deep_output(stack(states, dim=1), embedded, stack(contexts, dim=1))  # (N, T, V)
        return logits, (stack(weights, dim=1) if self.use_attention else None)


class Seq2Seq(nn.Module):
    """``Seq2Seq(source_vocab_size, target_vocab_size, attention=True)``: RNNsearch (attention) or
    RNNencdec (``attention=False``).  Token id ``pad`` (0, tinydl.text.Vocabulary's) is padding.

    ``loss(source, lengths, target_in, target_out)``: the mean cross-entropy of the teacher-forced
    predictions over the real (non-padding) target tokens.  ``translate`` (greedy) and
    ``beam_translate`` decode; ``alignment`` gives the weights a_ij of one pair, for a figure."""

    def __init__(self, source_vocab_size, target_vocab_size, embedding_dim=32, hidden_size=64, attention_size=64,
                 maxout_size=64, attention=True, pad=0):
        super().__init__()
        self.pad = pad
        self.attention = bool(attention)
        self.encoder = Seq2SeqEncoder(source_vocab_size, embedding_dim, hidden_size, padding_idx=pad)
        self.decoder = Seq2SeqDecoder(target_vocab_size, embedding_dim, hidden_size, 2 * hidden_size,
                                      attention_size, maxout_size, attention=attention, padding_idx=pad)

    def _device(self):
        return self.decoder.W_o.weight.device

    def _ids(self, name, ids):
        if isinstance(ids, Tensor):
            return ids
        ids = np.asarray(ids)
        if ids.ndim != 2 or ids.dtype.kind not in "iu":
            raise ValueError(f"Seq2Seq: {name} must be (N, L) integer token ids, got shape {ids.shape} "
                             f"dtype {ids.dtype}")
        return tensor(ids.astype(np.int64), device=self._device())

    def encode(self, source, lengths):
        """The decoder's initial state for source (N, S) ids padded with ``pad`` and lengths (N,)."""
        lengths = np.asarray(lengths, dtype=np.int64)
        shape = tuple(source.shape)
        if len(shape) != 2 or lengths.shape != shape[:1] or lengths.min(initial=1) < 1 or \
                lengths.max(initial=0) > shape[1]:
            raise ValueError(f"Seq2Seq.encode: source must be (N, S) and lengths (N,) with 1 <= lengths <= S; got "
                             f"source {shape}, lengths {lengths.shape} with values "
                             f"{lengths.min(initial=0)}..{lengths.max(initial=0)}")
        source = self._ids("source", source)
        annotations, summary = self.encoder(source, lengths)
        padding = tensor(np.arange(shape[1])[None, :] >= lengths[:, None], device=self._device())  # (N, S) bool
        return self.decoder.initial_state(annotations, summary, padding)

    def forward(self, source, lengths, target_in):
        """Logits (N, T, V) for target_in (N, T) = <bos> y_1 ..., and the weights (N, T, S) or None."""
        return self.decoder(self._ids("target_in", target_in), self.encode(source, lengths))

    def loss(self, source, lengths, target_in, target_out):
        """Cross-entropy of p(y_i | y_<i, x) against target_out (N, T) = y_1 .. <eos>, padding ignored."""
        logits, _ = self(source, lengths, target_in)  # (N, T, V)
        target_out = self._ids("target_out", target_out)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target_out.reshape(-1), ignore_index=self.pad)

    def step(self, tokens, state):
        """One decoder step for tinydl.text: tokens (B,) -> log-probabilities (B, V) and the new state."""
        logits, state, _ = self.decoder.step(tokens, state)
        return F.log_softmax(logits, dim=1), state

    @no_grad()
    def translate(self, source, lengths, bos, eos, max_len):
        """Greedy decoding of a batch: a list of N lists of target ids (<eos> excluded)."""
        from ..text import greedy_decode

        return greedy_decode(self.step, self.encode(source, lengths), bos, eos, max_len, len(lengths))

    @no_grad()
    def beam_translate(self, source, bos, eos, max_len, beam_size=5, length_penalty=0.0):
        """Beam search for ONE source sentence (a 1-d sequence of ids): (ids, score)."""
        from ..text import beam_search

        source = np.asarray(source, dtype=np.int64)[None, :]  # (1, S)
        state = self.encode(source, [source.shape[1]])
        return beam_search(self.step, state, bos, eos, max_len, beam_size=beam_size, length_penalty=length_penalty)

    @no_grad()
    def alignment(self, source, target, bos):
        """The attention weights a_ij (T_y, T_x) for one source sentence (T_x ids) and its translation
        (ids without <bos>/<eos>): row i is step i's weights while it predicts target[i] (the last row
        predicts <eos>), teacher-forced.  Requires ``attention=True``."""
        if not self.attention:
            raise ValueError("Seq2Seq.alignment: this model has attention=False, so it has no alignment weights")
        source = np.asarray(source, dtype=np.int64)[None, :]  # (1, T_x)
        target_in = np.asarray([bos] + list(target), dtype=np.int64)[None, :]  # (1, T_y)
        _, weights = self(source, [source.shape[1]], target_in)
        return weights.numpy()[0]  # (T_y, T_x)
