"""tinydl.text: the Vocabulary, BLEU against hand-computed cases, and greedy / beam-search decoding
on hand-made models whose best sentence is known (worked out by hand, or by trying every sentence)."""
import itertools
import math

import numpy as np
import pytest
from collections import namedtuple

from hypothesis import example, given, settings
from hypothesis import strategies as st

import tinydl as td
import tinydl.functional as F
from tinydl.text import Vocabulary, beam_search, corpus_bleu, greedy_decode, sentence_bleu


# ---- Vocabulary -----------------------------------------------------------------------
def test_vocabulary_round_trip_with_specials_and_padding():
    v = Vocabulary(["a", "red", "circle"])
    assert (v.pad, v.bos, v.eos, len(v)) == (0, 1, 2, 6)
    assert v.tokens == ["<pad>", "<bos>", "<eos>", "a", "red", "circle"]
    assert v.encode(["a", "circle"], bos=True, eos=True) == [1, 3, 5, 2]
    assert v.decode([1, 3, 5, 2, 4, 0]) == ["a", "circle"]  # stops at <eos>
    ids, lengths = v.encode_batch([["a"], ["a", "red", "circle"]], eos=True)
    np.testing.assert_array_equal(ids, [[3, 2, 0, 0], [3, 4, 5, 2]])
    np.testing.assert_array_equal(lengths, [2, 4])
    assert ids.dtype == np.int64 and "red" in v and "blue" not in v


def test_vocabulary_errors():
    with pytest.raises(ValueError, match="token 'a' is given twice"):
        Vocabulary(["a", "b", "a"])
    with pytest.raises(ValueError, match="'<eos>' is a special token"):
        Vocabulary(["<eos>"])
    v = Vocabulary(["a"])
    with pytest.raises(KeyError, match="unknown token 'b'"):
        v.encode(["a", "b"])
    with pytest.raises(TypeError, match="not the string 'a a'"):
        v.encode("a a")
    with pytest.raises(IndexError, match="id 7 is outside the vocabulary's 0..3"):
        v.decode([3, 7])
    with pytest.raises(ValueError, match=r"ids must be one sequence \(1-d\), got shape \(2, 1\)"):
        v.decode([[3], [3]])


def test_bleu_takes_arrays_of_ids():
    assert corpus_bleu([[np.array([4, 5, 6, 7])]], [np.array([4, 5, 6, 7])]) == 1.0


def test_vocabulary_decodes_a_tensor_on_any_device(device):
    v = Vocabulary(["a", "b"])
    assert v.decode(td.tensor([1, 4, 3, 2, 3], device=device)) == ["b", "a"]


# ---- BLEU -----------------------------------------------------------------------------
def test_bleu_of_a_perfect_hypothesis_is_one():
    sentence = "a red circle left of a blue square".split()
    assert corpus_bleu([[sentence]], [sentence]) == 1.0


def test_bleu_clips_repeated_words_papineni_example():
    """The paper's example 2: "the the the the the the the" has modified unigram precision 2/7."""
    hypothesis = "the the the the the the the".split()
    references = ["the cat is on the mat".split(), "there is a cat on the mat".split()]
    # c = 7, the closest reference has 7 words: no brevity penalty
    assert sentence_bleu(references, hypothesis, max_n=1) == pytest.approx(2 / 7, rel=1e-12, abs=1e-15)


def test_bleu_brevity_penalty():
    """Every n-gram of "the cat sat on" is in the reference, but it is 4 words for 6: BP = exp(1 - 6/4)."""
    hypothesis, reference = "the cat sat on".split(), "the cat sat on the mat".split()
    assert sentence_bleu([reference], hypothesis) == pytest.approx(math.exp(1 - 6 / 4), rel=1e-12, abs=1e-15)
    # longer than the reference: no penalty, and the extra words lower the precisions instead
    assert sentence_bleu([hypothesis], reference, max_n=1) == pytest.approx(4 / 6, rel=1e-12, abs=1e-15)


def test_bleu_partial_matches_by_hand():
    """a b c d e vs a b c x e: unigrams 4/5, bigrams (ab, bc) 2/4, trigrams (abc) 1/3, no 4-gram."""
    hypothesis, reference = list("abcde"), list("abcxe")
    expected = (4 / 5 * 2 / 4 * 1 / 3) ** (1 / 3)
    assert sentence_bleu([reference], hypothesis, max_n=3) == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert sentence_bleu([reference], hypothesis) == 0.0  # p_4 = 0: BLEU-4 is 0 without smoothing


def test_corpus_bleu_sums_counts_before_dividing():
    """Pair 1: abcd vs abcd (all match). Pair 2: "a b" vs "a c" (1 of 2 unigrams, 0 of 1 bigrams).
    Corpus, max_n=2: p1 = (4+1)/(4+2), p2 = (3+0)/(3+1); c = r = 6."""
    references = [[list("abcd")], [list("ac")]]
    hypotheses = [list("abcd"), list("ab")]
    expected = math.sqrt(5 / 6 * 3 / 4)
    assert corpus_bleu(references, hypotheses, max_n=2) == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert sentence_bleu(references[1], hypotheses[1], max_n=2) == 0.0  # alone, pair 2 scores 0


def test_bleu_takes_the_closest_reference_length_shorter_on_a_tie():
    """Hypothesis of 4 words, references of 3 and 5 words: r = 3 (tie, the shorter), so no penalty."""
    hypothesis = list("abcd")
    assert sentence_bleu([list("abc"), list("abcde")], hypothesis, max_n=1) == 1.0
    # with only the 5-word reference: r = 5 > c = 4, BP = exp(1 - 5/4)
    assert sentence_bleu([list("abcde")], hypothesis, max_n=1) == pytest.approx(math.exp(-0.25), rel=1e-12,
                                                                                abs=1e-15)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.lists(st.sampled_from("abc"), max_size=7), st.lists(st.sampled_from("abc"),
                                                                                  min_size=1, max_size=7)),
                min_size=1, max_size=5), st.randoms(use_true_random=False))
def test_bleu_is_in_0_1_and_ignores_the_order_of_the_corpus(pairs, random):
    hypotheses, references = [h for h, _ in pairs], [[r] for _, r in pairs]
    score = corpus_bleu(references, hypotheses)
    assert 0.0 <= score <= 1.0
    order = list(range(len(pairs)))
    random.shuffle(order)
    assert corpus_bleu([references[i] for i in order], [hypotheses[i] for i in order]) == pytest.approx(
        score, rel=1e-12, abs=1e-15)


def test_bleu_errors():
    with pytest.raises(ValueError, match="2 hypotheses but 1 reference lists"):
        corpus_bleu([[["a"]]], [["a"], ["b"]])
    with pytest.raises(TypeError, match=r"hypotheses\[0\] is a string"):
        corpus_bleu([[["a"]]], ["a b"])
    with pytest.raises(TypeError, match=r"references\[0\]\[0\] is 'a', not a list of tokens.*wrap one reference"):
        corpus_bleu([["a", "b"]], [["a", "b"]])  # references[i] must be a list of references
    with pytest.raises(TypeError, match=r"references\[0\]\[0\] is 1, not a list of tokens"):
        corpus_bleu([[1, 2, 3]], [[1, 2, 3]])  # token ids without the list of references around them
    with pytest.raises(TypeError, match=r"hypotheses\[0\] must be a list of tokens, got 1"):
        corpus_bleu([[[1]]], [1])
    with pytest.raises(ValueError, match="the corpus is empty"):
        corpus_bleu([], [])
    with pytest.raises(ValueError, match="max_n must be a positive int"):
        corpus_bleu([[["a"]]], [["a"]], max_n=0)


# ---- decoding on hand-made models ------------------------------------------------------
EOS, BOS = 0, 1  # the toy models' vocabulary: 0 <eos>, 1 <bos>, 2.. words


def markov_step(table):
    """A decoder whose next-token distribution depends on the previous token only:
    log p(y_t | y_{t-1}) = log table[y_{t-1}]. Its state is a dummy (B, 1) tensor."""
    log_table = np.log(np.asarray(table, dtype=np.float64))

    def step(tokens, state):
        return td.tensor(log_table[tokens.numpy()], device=state.device), state

    return step


# From <bos>: "2" (0.6) or "3" (0.4). After 2, each of <eos>, 2, 3 is 1/3 likely; after 3, <eos> is 0.9.
# Greedy: 2 then <eos>: p = 0.6 * 1/3 = 0.2. Best: 3 then <eos>: p = 0.4 * 0.9 = 0.36.
TRAP = [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.6, 0.4], [1 / 3, 0.0, 1 / 3, 1 / 3], [0.9, 0.0, 0.05, 0.05]]
TRAP = [[p + 1e-12 for p in row] for row in TRAP]  # log 0 = -inf would be fine, but keep every score finite


def test_greedy_takes_the_locally_best_token_and_beam_search_finds_the_better_sentence(device):
    step, state = markov_step(TRAP), td.zeros(1, 1, device=device)
    assert greedy_decode(step, state, BOS, EOS, max_len=5, batch_size=1) == [[2]]
    tokens, score = beam_search(step, state, BOS, EOS, max_len=5, beam_size=2)
    assert tokens == [3]
    assert score == pytest.approx(math.log(0.4 * 0.9), rel=1e-9, abs=1e-12)
    tokens, _ = beam_search(step, state, BOS, EOS, max_len=5, beam_size=1)
    assert tokens == [2]  # a beam of one follows the greedy path (here no early <eos> beats it)


def test_greedy_decodes_a_batch_and_stops_each_row_at_its_eos():
    table = np.full((5, 5), 1e-3)
    table[1, 2] = table[2, 3] = table[3, 0] = 1.0  # <bos> -> 2 -> 3 -> <eos>
    table[4, 4] = 1.0  # 4 repeats forever
    table /= table.sum(axis=1, keepdims=True)
    log_table = np.log(table)

    def step(tokens, state):  # row 1 starts from token 4 instead of <bos>
        previous = tokens.numpy().copy()
        if state["first"]:
            previous[1] = 4
        return td.tensor(log_table[previous]), {"first": False, "dummy": state["dummy"]}

    out = greedy_decode(step, {"first": True, "dummy": td.zeros(2, 1)}, BOS, EOS, max_len=4, batch_size=2)
    assert out == [[2, 3], [4, 4, 4, 4]]


def history_model(V=4, seed=0):
    """A decoder whose next token depends on the whole history through its state: the count of each
    token emitted so far. If beam search did not carry each hypothesis' own state (reordering the rows
    after pruning), it would score other sentences than the ones it returns."""
    rng = np.random.default_rng(seed)
    base, weight = rng.standard_normal((V, V)) * 1.5, rng.standard_normal((V, V)) * 1.5

    def log_probs(previous, counts):  # (B,), (B, V) arrays -> (B, V)
        logits = base[previous] + counts @ weight
        logits[:, BOS] = -1e9  # never emitted: the sentences are made of the words 2..V-1
        return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))

    def step(tokens, counts):
        previous = tokens.numpy()
        emitted = np.eye(V)[previous] * (previous != BOS)[:, None]  # the token just read joins the history
        counts = counts + td.tensor(emitted, device=counts.device)
        return td.tensor(log_probs(previous, counts.numpy()), device=counts.device), counts

    def score(sentence, max_len):
        """Sum of log-probs of a sentence, with its <eos> unless it is max_len tokens long."""
        counts, previous, total = np.zeros((1, V)), BOS, 0.0
        steps = sentence + ([EOS] if len(sentence) < max_len else [])
        for token in steps:
            total += log_probs(np.array([previous]), counts)[0, token]
            counts[0, token] += 1
            previous = token
        return total

    return step, score


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), max_len=st.integers(1, 4), length_penalty=st.sampled_from([0.0, 0.5, 1.0, 2.0]))
def test_a_wide_enough_beam_finds_the_best_of_all_sentences(seed, max_len, length_penalty):
    """With room for every hypothesis, beam search is exhaustive: it must return the best of all
    sentences, found by scoring each one (score / steps ** length_penalty; a sentence of max_len
    words has no <eos> step). Words are 2 and 3 (V = 4 with <eos>, <bos>)."""
    V = 4
    step, score = history_model(V, seed)

    def ranked(sentence):
        return score(sentence, max_len) / min(len(sentence) + 1, max_len) ** length_penalty

    sentences = [list(s) for n in range(max_len + 1) for s in itertools.product([2, 3], repeat=n)]
    best = max(ranked(s) for s in sentences)
    tokens, found = beam_search(step, td.zeros(1, V, dtype="float64"), BOS, EOS, max_len, beam_size=2**max_len,
                                length_penalty=length_penalty)
    assert found == pytest.approx(best, rel=1e-9, abs=1e-9)
    assert ranked(tokens) == pytest.approx(best, rel=1e-9, abs=1e-9)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), beam_size=st.integers(1, 3))
@example(seed=78, beam_size=2)  # models where a survivor's parent is not row 0: a beam search that
@example(seed=87, beam_size=3)  # forgot to reorder the state rows reports another sentence's score
def test_the_returned_score_is_the_returned_sentences_score(seed, beam_size):
    """A narrow beam may miss the best sentence, but the score it reports is its sentence's own."""
    step, score = history_model(5, seed)
    tokens, found = beam_search(step, td.zeros(1, 5, dtype="float64"), BOS, EOS, 6, beam_size=beam_size)
    assert all(t not in (EOS, BOS) for t in tokens)
    assert found == pytest.approx(score(tokens, 6), rel=1e-9, abs=1e-9)


def test_length_penalty_divides_by_the_number_of_steps():
    """<bos> -> 2 -> <eos> (2 steps) or <bos> -> <eos> (1 step). Raw sums prefer the short one;
    divided by steps ** 1 (the mean log-prob) the long one wins."""
    table = [[1.0, 1e-9, 1e-9, 1e-9], [0.55, 1e-9, 0.45, 1e-9], [0.9, 1e-9, 0.05, 0.05], [1.0, 1e-9, 1e-9, 1e-9]]
    table = np.asarray(table) / np.sum(table, axis=1, keepdims=True)
    step = markov_step(table)
    short, long_ = math.log(table[1, 0]), math.log(table[1, 2]) + math.log(table[2, 0])
    assert short > long_
    tokens, score = beam_search(step, td.zeros(1, 1), BOS, EOS, 5, beam_size=3)
    assert tokens == [] and score == pytest.approx(short, rel=1e-6, abs=1e-9)
    tokens, score = beam_search(step, td.zeros(1, 1), BOS, EOS, 5, beam_size=3, length_penalty=1.0)
    assert tokens == [2] and score == pytest.approx(long_ / 2, rel=1e-6, abs=1e-9)


def test_beam_search_carries_nested_state_and_runs_on_the_device(device):
    step, score = history_model(4, 3)

    def nested(tokens, state):  # the counts inside a dict and a tuple, with a non-tensor beside them
        lp, counts = step(tokens, state["inner"][0])
        return F.log_softmax(lp, dim=1), {"inner": (counts, "tag"), "n": state["n"] + 1}

    state = {"inner": (td.zeros(1, 4, dtype="float64", device=device), "tag"), "n": 0}
    tokens, found = beam_search(nested, state, BOS, EOS, 4, beam_size=16)
    assert found == pytest.approx(score(tokens, 4), rel=1e-9, abs=1e-9)


def test_beam_search_reorders_namedtuple_states():
    State = namedtuple("State", "counts tag")
    step, score = history_model(4, 78)

    def wrapped(tokens, state):
        lp, counts = step(tokens, state.counts)
        return lp, State(counts, state.tag)

    tokens, found = beam_search(wrapped, State(td.zeros(1, 4, dtype="float64"), "x"), BOS, EOS, 4, beam_size=3)
    assert found == pytest.approx(score(tokens, 4), rel=1e-9, abs=1e-9)


def test_decoding_accepts_numpy_integers():
    step = markov_step(TRAP)
    tokens, _ = beam_search(step, td.zeros(1, 1), BOS, EOS, np.int64(5), beam_size=np.int64(2))
    assert tokens == [3]
    assert greedy_decode(step, td.zeros(1, 1), BOS, EOS, np.int32(5), np.int64(1)) == [[2]]


def test_decoding_errors():
    step = markov_step(TRAP)
    with pytest.raises(ValueError, match="decodes one input at a time; the state's dim 0 must be 1"):
        beam_search(step, td.zeros(2, 1), BOS, EOS, 5)
    with pytest.raises(ValueError, match="must return log-probabilities"):
        beam_search(lambda t, s: (td.ones(1, 4), s), td.zeros(1, 1), BOS, EOS, 5)
    with pytest.raises(ValueError, match=r"must return \(log_probs \(B, V\) Tensor, state\) with B = 2"):
        greedy_decode(lambda t, s: (td.zeros(1, 4), s), td.zeros(2, 1), BOS, EOS, 5, batch_size=2)
    with pytest.raises(ValueError, match="max_len must be a positive int"):
        greedy_decode(step, td.zeros(1, 1), BOS, EOS, 0, batch_size=1)
    with pytest.raises(ValueError, match="beam_size must be a positive int"):
        beam_search(step, td.zeros(1, 1), BOS, EOS, 5, beam_size=0)
    with pytest.raises(ValueError, match="max_len must be a positive int, got True"):
        beam_search(step, td.zeros(1, 1), BOS, EOS, True)
    with pytest.raises(ValueError, match="length_penalty must be >= 0, got -1"):
        beam_search(step, td.zeros(1, 1), BOS, EOS, 5, length_penalty=-1)
    with pytest.raises(ValueError, match="eos = 9 is not a token of the model's V = 4 outputs"):
        greedy_decode(step, td.zeros(1, 1), BOS, 9, 5, batch_size=1)
    with pytest.raises(TypeError, match=r"the state holds a ndarray of shape \(1, 1\); make it a Tensor"):
        eos_unlikely = F.log_softmax(td.tensor([[-5.0, 0.0, 0.0, 0.0]]), dim=1)  # no early stop after step 1
        beam_search(lambda tokens, state: (eos_unlikely.expand(len(tokens), 4), state),
                    (td.zeros(1, 1), np.zeros((1, 1))), BOS, EOS, 5)
