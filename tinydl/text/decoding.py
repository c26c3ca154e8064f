"""Turning a trained decoder into a sentence: greedy decoding and beam search.

A decoder is given to both as one function, ``step(tokens, state) -> (log_probs, state)``:
the previous tokens (B,) (an int64 Tensor on the model's device), the decoder's state, and it
returns log p(next token | everything so far) for each of the B rows, (B, V), with the new state.
``state`` is a Tensor or a (nested) tuple / list / dict of Tensors whose dim 0 is the row (the
hidden state, the encoder outputs the attention reads...); anything else in it (None, numbers,
strings) is passed along unchanged, and a raw array is refused (its rows could not follow).

Greedy decoding takes the most likely token at every step. It is fast, but a choice made early
is never revisited: the best sentence may start with a token that was not the best first token.

Beam search keeps the ``beam_size`` best partial sentences ("hypotheses") at every step: it
extends each by every token, scores each extension by its total log-probability

    score(y_1..y_t) = sum_{i<=t} log p(y_i | y_<i, x),

and keeps the best ``beam_size`` that have not ended; an extension by <eos> is a finished
sentence. Every log-probability is <= 0, so a hypothesis' score can only fall as it grows: once
the best finished score beats every live hypothesis, nothing can overtake it and the search
stops. docs/recurrent_attention.md, "Beam search".
"""
import operator

import numpy as np

from .. import backend, creation
from ..autograd import no_grad
from ..tensor import Tensor


@no_grad()
def greedy_decode(step, state, bos, eos, max_len, batch_size):
    """The most likely token at each step, for a batch of ``batch_size`` inputs.

    Returns a list (one per row) of token-id lists, each ending before its first <eos> (or
    ``max_len`` tokens long if it never emitted one)."""
    max_len = _positive_int("greedy_decode", "max_len", max_len)
    batch_size = _positive_int("greedy_decode", "batch_size", batch_size)
    device = _device_of(state)
    tokens = creation.full((batch_size,), bos, dtype="int64", device=device)  # y_0 = <bos>
    out = np.zeros((batch_size, max_len), dtype=np.int64)
    ended = np.zeros(batch_size, dtype=bool)
    for t in range(max_len):
        log_probs, state = step(tokens, state)  # (B, V)
        _check_log_probs("greedy_decode", log_probs, batch_size, eos)
        tokens = log_probs.argmax(dim=1)  # (B,) y_t = argmax_y p(y | y_<t, x)
        out[:, t] = tokens.numpy()  # one read per step, to know when every row has ended
        ended |= out[:, t] == eos
        if ended.all():
            break
    return [_until_eos(row, eos) for row in out[:, : t + 1]]


@no_grad()
def beam_search(step, state, bos, eos, max_len, beam_size=5, length_penalty=0.0):
    """The best sentence for ONE input (``state``'s dim 0 is 1) by beam search.

    Returns ``(tokens, score)``: the finished hypothesis with the highest score (its ids, <eos>
    excluded) and that score, ``sum of its log-probs / steps ** length_penalty`` (steps: the
    number of log-probs summed, its <eos> included). ``length_penalty=0`` ranks by the plain sum;
    a positive one favours longer sentences. A hypothesis still alive after ``max_len`` steps is
    finished there, without <eos>."""
    max_len = _positive_int("beam_search", "max_len", max_len)
    beam_size = _positive_int("beam_search", "beam_size", beam_size)
    if not length_penalty >= 0:  # a negative one would reward growing: the early stop's bound would not hold
        raise ValueError(f"beam_search: length_penalty must be >= 0, got {length_penalty!r}")
    device = _device_of(state)
    first = _first_tensor(state)
    if first is not None and first.shape[0] != 1:
        raise ValueError(f"beam_search: decodes one input at a time; the state's dim 0 must be 1, "
                         f"got a state tensor of shape {tuple(first.shape)}")

    live = [[]]  # the token lists of the live hypotheses (B of them)
    scores = np.zeros(1)  # (B,) their summed log-probs, on the host
    finished = []  # (score / steps ** length_penalty, tokens, summed score)
    tokens = creation.full((1,), bos, dtype="int64", device=device)
    for t in range(1, max_len + 1):  # t: the number of tokens each extension has
        log_probs, state = step(tokens, state)  # (B, V)
        _check_log_probs("beam_search", log_probs, len(live), eos)
        lp = log_probs.numpy().astype(np.float64)
        _check_normalized(lp)
        total = scores[:, None] + lp  # (B, V): the score of every one-token extension
        V = total.shape[1]
        # enough of the best extensions to refill the beam: at most B of them are <eos> ones
        best = np.argsort(-total, axis=None, kind="stable")[: beam_size + len(live)]
        origins, next_tokens, next_scores = [], [], []
        for flat in best:
            b, token = divmod(int(flat), V)
            if token == eos:
                finished.append((total[b, token] / t ** length_penalty, live[b], total[b, token]))
            elif len(origins) < beam_size:
                origins.append(b)
                next_tokens.append(token)
                next_scores.append(total[b, token])
        if not origins:  # every extension kept was an <eos>
            live = []
            break
        live = [live[b] + [token] for b, token in zip(origins, next_tokens)]
        scores = np.array(next_scores)
        if finished and _nothing_can_overtake(finished, scores, max_len, length_penalty):
            live = []
            break
        index = creation.tensor(np.array(origins), device=device)
        state = _select_rows(state, index)  # every live hypothesis carries its own parent's state
        tokens = creation.tensor(np.array(next_tokens), device=device)
    for hypothesis, score in zip(live, scores):  # reached max_len without <eos>
        finished.append((score / max_len ** length_penalty, hypothesis, score))
    ranked, hypothesis, _ = max(finished, key=lambda f: f[0])
    return hypothesis, float(ranked)


def _nothing_can_overtake(finished, live_scores, max_len, length_penalty):
    """True when no live hypothesis can end above the best finished one.  A live sum s <= 0 only
    falls; divided by at most max_len ** length_penalty it is at best s / max_len ** length_penalty."""
    best_finished = max(f[0] for f in finished)
    return best_finished >= live_scores.max() / max_len ** length_penalty


def _select_rows(state, index):
    """The state with every Tensor's rows picked by ``index`` (dim 0), the structure kept."""
    if isinstance(state, Tensor):
        return state[index]
    if isinstance(state, np.ndarray) or (backend.cp is not None and isinstance(state, backend.cp.ndarray)):
        raise TypeError(f"beam_search: the state holds a {type(state).__name__} of shape {state.shape}; make it a "
                        f"Tensor, so that its rows follow the hypotheses")
    if hasattr(state, "_fields"):  # a namedtuple, e.g. (h, c)
        return type(state)(*(_select_rows(s, index) for s in state))
    if isinstance(state, (tuple, list)):
        return type(state)(_select_rows(s, index) for s in state)
    if isinstance(state, dict):
        return {key: _select_rows(s, index) for key, s in state.items()}
    return state


def _first_tensor(state):
    if isinstance(state, Tensor):
        return state
    items = state.values() if isinstance(state, dict) else state if isinstance(state, (tuple, list)) else ()
    for s in items:
        found = _first_tensor(s)
        if found is not None:
            return found
    return None


def _device_of(state):
    first = _first_tensor(state)
    return "cpu" if first is None else first.device


def _until_eos(ids, eos):
    ids = ids.tolist()
    return ids[: ids.index(eos)] if eos in ids else ids


def _positive_int(op, name, value):
    """``value`` as an int >= 1 (a NumPy integer too, not a bool), or an error naming it."""
    try:
        if isinstance(value, bool):
            raise TypeError
        value = operator.index(value)
    except TypeError:
        raise ValueError(f"{op}: {name} must be a positive int, got {value!r}") from None
    if value < 1:
        raise ValueError(f"{op}: {name} must be a positive int, got {value!r}")
    return value


def _check_log_probs(op, log_probs, rows, eos):
    if not isinstance(log_probs, Tensor) or log_probs.ndim != 2 or log_probs.shape[0] != rows:
        shape = tuple(log_probs.shape) if hasattr(log_probs, "shape") else type(log_probs).__name__
        raise ValueError(f"{op}: step(tokens, state) must return (log_probs (B, V) Tensor, state) with B = {rows} "
                         f"rows; got log_probs of {shape}")
    if not 0 <= eos < log_probs.shape[1]:
        raise ValueError(f"{op}: eos = {eos} is not a token of the model's V = {log_probs.shape[1]} outputs")


def _check_normalized(lp):
    """Beam search adds log-probs across steps: logits (unnormalized) would rank wrongly."""
    sums = np.exp(lp).sum(axis=1)
    if not np.allclose(sums, 1.0, rtol=1e-3, atol=1e-3):
        raise ValueError(f"beam_search: step must return log-probabilities (F.log_softmax of the logits); "
                         f"the exp of its rows sums to {sums.min():.4g}..{sums.max():.4g}, not 1")
