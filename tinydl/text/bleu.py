"""BLEU (Papineni, Roukos, Ward and Zhu, *BLEU: a Method for Automatic Evaluation of Machine
Translation*, 2002): how many of a hypothesis' n-grams appear in a reference, for n = 1..4, with a
penalty for hypotheses shorter than their references.

For a corpus of hypotheses (each with one or more references):

    p_n  = sum over hypotheses of the clipped count of matching n-grams
           / sum over hypotheses of the number of n-grams in the hypothesis      (modified precision)

    clipped count of an n-gram g = min(count of g in the hypothesis,
                                       max over references of the count of g in that reference)

    c = total hypothesis length,  r = sum of each hypothesis' closest reference length
    BP = 1 if c > r else exp(1 - r / c)                                           (brevity penalty)

    BLEU = BP * exp( sum_{n=1}^{N} (1/N) log p_n )                                (N = max_n = 4)

Clipping stops "the the the the" from scoring with one "the" in the reference. The counts are
summed over the corpus *before* dividing (corpus BLEU is not the mean of sentence BLEUs). A p_n
of 0 makes BLEU 0: no smoothing, as in the paper. A hypothesis shorter than n adds 0 to the
denominator of p_n, as in the paper (nltk's corpus_bleu adds at least 1, so it scores corpora
with such hypotheses a little lower). docs/recurrent_attention.md, "BLEU".
"""
import math
import numbers
from collections import Counter

import numpy as np


def ngrams(tokens, n):
    """Counter of the n-grams (tuples of n tokens) of ``tokens``."""
    tokens = list(tokens)
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def bleu_statistics(references, hypothesis, max_n=4):
    """For one hypothesis: ``(matches, totals, c, r)``, where matches[n-1] is the clipped count
    of matching n-grams, totals[n-1] the number of n-grams of the hypothesis, c its length and r
    the length of the reference closest to c (the shorter one on a tie)."""
    matches, totals = [], []
    for n in range(1, max_n + 1):
        counts = ngrams(hypothesis, n)
        max_ref_counts = Counter()
        for reference in references:
            max_ref_counts |= ngrams(reference, n)  # | keeps the max of the two counts
        matches.append(sum(min(count, max_ref_counts[gram]) for gram, count in counts.items()))
        totals.append(max(0, len(hypothesis) - n + 1))
    c = len(hypothesis)
    r = min((len(reference) for reference in references), key=lambda length: (abs(length - c), length))
    return matches, totals, c, r


def corpus_bleu(references, hypotheses, max_n=4):
    """Corpus BLEU in [0, 1].  ``hypotheses``: a list of token lists; ``references[i]``: a list of
    one or more reference token lists for ``hypotheses[i]`` (the layout nltk uses)."""
    _check("corpus_bleu", references, hypotheses, max_n)
    matches, totals, c, r = [0] * max_n, [0] * max_n, 0, 0
    for refs, hypothesis in zip(references, hypotheses):
        m, t, c_i, r_i = bleu_statistics(refs, hypothesis, max_n)
        matches = [a + b for a, b in zip(matches, m)]
        totals = [a + b for a, b in zip(totals, t)]
        c, r = c + c_i, r + r_i
    if c == 0 or min(matches) == 0:  # no n-gram of some order matches (or nothing was said): log 0
        return 0.0
    log_precision = sum(math.log(m / t) for m, t in zip(matches, totals)) / max_n
    brevity_penalty = 1.0 if c > r else math.exp(1 - r / c)
    return brevity_penalty * math.exp(log_precision)


def sentence_bleu(references, hypothesis, max_n=4):
    """BLEU of one hypothesis against its list of references: ``corpus_bleu([references], [hypothesis])``."""
    return corpus_bleu([references], [hypothesis], max_n)


def _check(op, references, hypotheses, max_n):
    if isinstance(max_n, bool) or not isinstance(max_n, numbers.Integral) or max_n < 1:
        raise ValueError(f"{op}: max_n must be a positive int, got {max_n!r}")
    if len(references) != len(hypotheses):
        raise ValueError(f"{op}: {len(hypotheses)} hypotheses but {len(references)} reference lists; "
                         f"references[i] holds the references of hypotheses[i]")
    if len(hypotheses) == 0:
        raise ValueError(f"{op}: the corpus is empty")
    for i, (refs, hypothesis) in enumerate(zip(references, hypotheses)):
        if isinstance(hypothesis, str):
            raise TypeError(f"{op}: hypotheses[{i}] is a string; give a list of tokens (e.g. text.split())")
        if not _is_token_list(hypothesis):
            raise TypeError(f"{op}: hypotheses[{i}] must be a list of tokens, got {hypothesis!r}")
        if isinstance(refs, str) or not isinstance(refs, (list, tuple)) or len(refs) == 0:
            raise TypeError(f"{op}: references[{i}] must be a non-empty list of reference token lists, "
                            f"got {refs!r}")
        for j, reference in enumerate(refs):
            if isinstance(reference, str) or not _is_token_list(reference):
                raise TypeError(f"{op}: references[{i}][{j}] is {reference!r}, not a list of tokens: references[i] "
                                f"is a list of references, each a list of tokens (wrap one reference as [tokens])")


def _is_token_list(tokens):
    """A list or tuple of tokens (strings or ids), or a 1-d array of ids."""
    if isinstance(tokens, np.ndarray):
        return tokens.ndim == 1
    return isinstance(tokens, (list, tuple)) and not any(isinstance(t, (list, tuple, np.ndarray)) for t in tokens)
