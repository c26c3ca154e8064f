"""``Vocabulary``: tokens <-> integer ids, with the three special tokens a decoder needs.

    id 0 "<pad>"  fills the end of shorter sequences in a batch (a loss ignores it)
    id 1 "<bos>"  the decoder's first input: "begin the sentence"
    id 2 "<eos>"  the decoder's last output: "the sentence ends here"

then the given tokens, in the order given.
"""
import numpy as np


class Vocabulary:
    """``v = Vocabulary(["a", "red", "circle"])``; ``v.encode(["a", "circle"], eos=True)`` ->
    ``[3, 5, 2]``; ``v.decode([3, 5, 2, 0])`` -> ``["a", "circle"]``."""

    SPECIALS = ("<pad>", "<bos>", "<eos>")
    pad, bos, eos = 0, 1, 2

    def __init__(self, tokens):
        tokens = list(tokens)
        for token in tokens:
            if token in self.SPECIALS:
                raise ValueError(f"Vocabulary: {token!r} is a special token and is added by the vocabulary itself")
        self.tokens = list(self.SPECIALS) + tokens
        self._ids = {}
        for i, token in enumerate(self.tokens):
            if token in self._ids:
                raise ValueError(f"Vocabulary: token {token!r} is given twice")
            self._ids[token] = i

    def __len__(self):
        return len(self.tokens)

    def __getitem__(self, token):
        try:
            return self._ids[token]
        except KeyError:
            raise KeyError(f"Vocabulary: unknown token {token!r} (the vocabulary has {len(self)} tokens)") from None

    def __contains__(self, token):
        return token in self._ids

    def __repr__(self):
        return f"Vocabulary({len(self)} tokens: {self.tokens[3:8]}{' ...' if len(self) > 8 else ''})"

    def encode(self, tokens, bos=False, eos=False):
        """The ids of ``tokens`` (a list of tokens, not a string), with <bos> first / <eos> last if asked."""
        if isinstance(tokens, str):
            raise TypeError(f"Vocabulary.encode: tokens must be a list of tokens, not the string {tokens!r} "
                            f"(split it first, e.g. text.split())")
        return [self.bos] * bos + [self[token] for token in tokens] + [self.eos] * eos

    def decode(self, ids):
        """The tokens of ``ids`` up to the first <eos>, without <pad> and <bos>."""
        ids = ids.numpy() if hasattr(ids, "numpy") else np.asarray(ids)  # a Tensor (on any device) or ids
        if ids.ndim != 1:
            raise ValueError(f"Vocabulary.decode: ids must be one sequence (1-d), got shape {ids.shape}; "
                             f"decode a batch row by row")
        out = []
        for i in ids.tolist():
            if i == self.eos:
                break
            if not 0 <= i < len(self):
                raise IndexError(f"Vocabulary.decode: id {i} is outside the vocabulary's 0..{len(self) - 1}")
            if i not in (self.pad, self.bos):
                out.append(self.tokens[i])
        return out

    def encode_batch(self, sequences, bos=False, eos=False):
        """``(ids (N, L) int64, lengths (N,) int64)``: every sequence encoded and padded with <pad>
        to the longest, L = max length (after <bos>/<eos> are added)."""
        encoded = [self.encode(tokens, bos=bos, eos=eos) for tokens in sequences]
        lengths = np.array([len(e) for e in encoded], dtype=np.int64)
        ids = np.full((len(encoded), int(lengths.max(initial=0))), self.pad, dtype=np.int64)
        for row, e in zip(ids, encoded):
            row[: len(e)] = e
        return ids, lengths
