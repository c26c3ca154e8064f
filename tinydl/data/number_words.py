"""Spelled-out numbers to digits: a generated translation task for sequence-to-sequence models.

A source sentence is a comma-separated list of numbers from 0 to 999 written in English words; its
translation is the same list in digits, one token per digit::

    three hundred five , twelve , forty      ->   3 0 5 , 1 2 , 4 0

It is a small translation problem with the features that make attention worth having
(docs/recurrent_attention.md, "The example: translating spelled-out numbers"):

- the alignment is monotone but not one to one: "twelve" gives two digits, "three hundred five"
  three, "hundred" gives no digit of its own and a missing word gives a "0" ("three hundred five"
  -> 3 0 5), so the decoder must find the right words and insert zeros;
- sentences have very different lengths (1 to ``max_tokens`` words), and a *long* split
  (``min_tokens`` above the training maximum) has more words than any training sentence, with the
  same vocabulary.

Each number is drawn by first drawing its count of digits (1, 2 or 3, equally likely), then the
number uniformly among those with that many digits, so short words ("seven", "twelve", "forty") are
as common as hundreds.  A sentence draws how many numbers it holds, then the numbers, and is
redrawn until its length in words lies in ``[min_tokens, max_tokens]``.  The same ``seed`` gives the
same pairs; use different seeds for training, held-out and long sets, and ``exclude`` to keep the
held-out sentences out of a training stream.
"""
from collections import namedtuple

import numpy as np

ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
        "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")  # 20, 30, ..., 90
SOURCE_TOKENS = ONES + TENS + ("hundred", ",")  # the words of every source sentence
TARGET_TOKENS = tuple("0123456789") + (",",)  # the digits of every translation


class NumberPairs(namedtuple("NumberPairs", ["sources", "targets", "numbers"])):
    """``sources[i]``: the words of sentence i (a list of str); ``targets[i]``: its digits (a list of
    str); ``numbers[i]``: the list of ints it spells."""

    __slots__ = ()

    def __len__(self):
        return len(self.sources)

    def source_lengths(self):
        """(n,) int64: the number of words (commas included) of every source sentence."""
        return np.array([len(s) for s in self.sources], dtype=np.int64)


def number_to_words(n):
    """The English words of an integer 0 <= n <= 999, as a list: 305 -> ['three', 'hundred', 'five']."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or not 0 <= n <= 999:
        raise ValueError(f"number_to_words: n must be an int in [0, 999], got {n!r}")
    n = int(n)
    hundreds, rest = divmod(n, 100)
    words = [ONES[hundreds], "hundred"] if hundreds else []
    if rest >= 20:
        words.append(TENS[rest // 10 - 2])
        if rest % 10:
            words.append(ONES[rest % 10])
    elif rest or not hundreds:  # "zero" only on its own, never "three hundred zero"
        words.append(ONES[rest])
    return words


def number_to_digits(n):
    """The digit tokens of an integer 0 <= n <= 999: 305 -> ['3', '0', '5']."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or not 0 <= n <= 999:
        raise ValueError(f"number_to_digits: n must be an int in [0, 999], got {n!r}")
    return list(str(int(n)))


def translate_numbers(numbers):
    """(source words, target digits) of a list of ints, numbers joined by ','."""
    source, target = [], []
    for k, n in enumerate(numbers):
        if k:
            source.append(",")
            target.append(",")
        source += number_to_words(n)
        target += number_to_digits(n)
    return source, target


def _draw_number(gen):
    digits = int(gen.integers(1, 4))  # 1, 2 or 3 digits, equally likely
    low = 0 if digits == 1 else 10 ** (digits - 1)
    return int(gen.integers(low, 10 ** digits))


def make_number_pairs(n, min_tokens=1, max_tokens=20, seed=0, exclude=None):
    """``n`` (words, digits) pairs whose source has ``min_tokens`` to ``max_tokens`` words, as a
    :class:`NumberPairs`.

    A sentence of k numbers has between 2k - 1 and 5k - 1 words (each number 1 to 4 words, k - 1
    commas), so k is drawn uniformly among the counts that can reach the range, and the sentence is
    redrawn until it fits.  ``exclude``: a collection of source sentences (tuples of words) never to
    produce, e.g. ``set(map(tuple, test.sources))`` to keep a held-out set out of the training stream.
    """
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"make_number_pairs: n must be an int >= 0, got {n!r}")
    if not 1 <= min_tokens <= max_tokens:
        raise ValueError(f"make_number_pairs: need 1 <= min_tokens <= max_tokens, got {min_tokens}, {max_tokens}")
    exclude = exclude if exclude is not None else ()
    fewest = max(1, -(-(min_tokens + 1) // 5))  # the fewest numbers that can reach min_tokens words
    most = (max_tokens + 1) // 2  # the most numbers that fit in max_tokens words
    gen = np.random.default_rng(seed)
    sources, targets, numbers = [], [], []
    while len(sources) < n:
        count = int(gen.integers(fewest, most + 1))
        drawn = [_draw_number(gen) for _ in range(count)]
        source, target = translate_numbers(drawn)
        if min_tokens <= len(source) <= max_tokens and tuple(source) not in exclude:
            sources.append(source)
            targets.append(target)
            numbers.append(drawn)
    return NumberPairs(sources, targets, numbers)
