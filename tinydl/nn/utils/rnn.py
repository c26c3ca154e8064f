"""``tinydl.nn.utils.rnn``: ``pad_sequence``, which batches sequences of different lengths.

PyTorch's packed sequences (``pack_padded_sequence`` and its kin) are not here: tinydl's RNNs
take the padded batch itself (mask the padded steps' outputs or losses instead).
"""
from ... import creation
from ...functional import cat, stack
from ...tensor import Tensor


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Sequences of shapes (L_i, *) padded with ``padding_value`` to the longest length T and
    stacked: a (T, B, *) tensor, or (B, T, *) with ``batch_first=True``; ``padding_side='left'``
    puts the padding before each sequence. Differentiable in every sequence (the padding gets no
    gradient). As PyTorch, the result has the first sequence's dtype (a fractional
    ``padding_value`` is truncated into an integer dtype)."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"pad_sequence: padding_side must be 'left' or 'right', got {padding_side!r}")
    sequences = list(sequences.unbind(0) if isinstance(sequences, Tensor) else sequences)
    _check(sequences)
    first = sequences[0]
    length = max(s.shape[0] for s in sequences)
    padded = [_pad(s.to(first.dtype), length, padding_value, padding_side) for s in sequences]
    return stack(padded, 0 if batch_first else 1)


def _check(sequences):
    if not sequences:
        raise ValueError("pad_sequence: sequences is empty; give at least one tensor")
    for i, s in enumerate(sequences):
        if not isinstance(s, Tensor):
            raise TypeError(f"pad_sequence: sequences[{i}] must be a Tensor, not {type(s).__name__}")
        if s.ndim == 0:
            raise ValueError(f"pad_sequence: sequences[{i}] is 0-d; each sequence needs a length (shape (L, *))")
    first = sequences[0]
    for i, s in enumerate(sequences):
        if s.shape[1:] != first.shape[1:]:
            raise ValueError(f"pad_sequence: sequences[{i}] has shape {tuple(s.shape)} but sequences[0] has "
                             f"{tuple(first.shape)}; all must agree after their first (length) dimension")
        if s.device != first.device:
            raise ValueError(f"pad_sequence: sequences[{i}] is on {s.device} but sequences[0] is on {first.device}")


def _pad(sequence, length, value, side):
    """``sequence`` grown to ``length`` steps with ``value`` on ``side``."""
    missing = length - sequence.shape[0]
    if missing == 0:
        return sequence
    padding = creation.full((missing, *sequence.shape[1:]), value, dtype=sequence.dtype, device=sequence.device)
    return cat([sequence, padding] if side == "right" else [padding, sequence], 0)
