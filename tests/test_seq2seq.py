"""The seq2seq translation task and model (issue 16): tinydl.data.make_number_pairs, tinydl.models.Seq2Seq
and examples/seq2seq_attention.py.

Data: hand-checked translations, every generated pair checked by an independent word parser, the length
ranges (the long split strictly longer than training), determinism by seed, ``exclude``.  Model: shapes,
padding (a sentence encodes, scores and translates the same alone and in a padded batch), attention weights
summing to 1 and zero on padding, float64 gradchecks of one decoder step with and without attention and of
the encoder, beam search scoring what it returns and beating greedy, the alignment.  Example: smoke runs
(cpu and cuda in test_examples.py's form, --no-attention, --compare) and --resume continuing exactly."""
import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

import tinydl as td
from helpers import leaf
from test_examples import EXAMPLES, smoke
from tinydl.data import (SOURCE_TOKENS, TARGET_TOKENS, make_number_pairs, number_to_digits, number_to_words)
from tinydl.data.number_words import translate_numbers
from tinydl.models import Seq2Seq
from tinydl.models.seq2seq import reversed_within_lengths
from tinydl.text import Vocabulary

SOURCE, TARGET = Vocabulary(SOURCE_TOKENS), Vocabulary(TARGET_TOKENS)


# ---- data -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("n, words", [
    (0, "zero"), (7, "seven"), (12, "twelve"), (19, "nineteen"), (20, "twenty"), (40, "forty"),
    (99, "ninety nine"), (100, "one hundred"), (101, "one hundred one"), (110, "one hundred ten"),
    (305, "three hundred five"), (520, "five hundred twenty"), (999, "nine hundred ninety nine"),
])
def test_number_to_words_by_hand(n, words):
    assert number_to_words(n) == words.split()
    assert number_to_digits(n) == list(str(n))


def test_a_sentence_by_hand():
    source, target = translate_numbers([305, 12, 40])
    assert " ".join(source) == "three hundred five , twelve , forty"
    assert " ".join(target) == "3 0 5 , 1 2 , 4 0"


@pytest.mark.parametrize("bad", [-1, 1000, 2.0, True, "3"])
def test_number_to_words_refuses_what_it_cannot_spell(bad):
    with pytest.raises(ValueError, match="number_to_words: n must be an int in"):
        number_to_words(bad)


def words_to_number(words):
    """An independent parser: English words of 0..999 -> int."""
    value = {w: i for i, w in enumerate(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                                         "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen",
                                         "sixteen", "seventeen", "eighteen", "nineteen"])}
    value.update({w: 10 * k for k, w in enumerate(["twenty", "thirty", "forty", "fifty", "sixty", "seventy",
                                                   "eighty", "ninety"], start=2)})
    total = 0
    for k, word in enumerate(words):
        if word == "hundred":
            assert k == 1 and 1 <= total <= 9, words
            total *= 100
        else:
            total += value[word]
    return total


def split_at_commas(tokens):
    groups = [[]]
    for token in tokens:
        if token == ",":
            groups.append([])
        else:
            groups[-1].append(token)
    return groups


def test_every_generated_target_is_the_translation_of_its_source():
    pairs = make_number_pairs(300, 1, 30, seed=3)
    for source, target, numbers in zip(*pairs):
        parsed = [words_to_number(group) for group in split_at_commas(source)]
        assert parsed == numbers
        assert ["".join(group) for group in split_at_commas(target)] == [str(n) for n in numbers]
        assert set(source) <= set(SOURCE_TOKENS) and set(target) <= set(TARGET_TOKENS)


def test_lengths_and_the_long_split_is_longer_than_training():
    train = make_number_pairs(2000, 1, 20, seed=[0, 0])
    long = make_number_pairs(300, 21, 30, seed=[10**6, 2])
    lengths, long_lengths = train.source_lengths(), long.source_lengths()
    assert lengths.min() == 1 and lengths.max() == 20  # the whole training range is drawn
    assert long_lengths.min() > lengths.max() and long_lengths.max() <= 30
    assert set(np.unique(lengths)) == set(range(1, 21))
    assert {w for s in long.sources for w in s} <= set(SOURCE_TOKENS)  # the same vocabulary


def test_pairs_are_determined_by_the_seed():
    a, b = make_number_pairs(50, seed=[1, 2]), make_number_pairs(50, seed=[1, 2])
    c = make_number_pairs(50, seed=[1, 3])
    assert a.sources == b.sources and a.targets == b.targets and a.numbers == b.numbers
    assert a.sources != c.sources


def test_exclude_keeps_a_held_out_set_out():
    held_out = make_number_pairs(200, 1, 6, seed=7)
    excluded = set(map(tuple, held_out.sources))
    train = make_number_pairs(3000, 1, 6, seed=8, exclude=excluded)
    assert not excluded & set(map(tuple, train.sources))
    assert excluded & set(map(tuple, make_number_pairs(3000, 1, 6, seed=8).sources))  # without it, overlap


def test_make_number_pairs_errors():
    with pytest.raises(ValueError, match=r"make_number_pairs: need 1 <= min_tokens <= max_tokens, got 5, 4"):
        make_number_pairs(3, 5, 4)
    with pytest.raises(ValueError, match="make_number_pairs: n must be an int >= 0"):
        make_number_pairs(-1)


# ---- model ----------------------------------------------------------------------------------------
def batch(sentences):
    """Padded ids of a list of number lists: source, lengths, target_in, target_out."""
    pairs = [translate_numbers(numbers) for numbers in sentences]
    source, lengths = SOURCE.encode_batch([s for s, _ in pairs])
    target_in, _ = TARGET.encode_batch([t for _, t in pairs], bos=True)
    target_out, _ = TARGET.encode_batch([t for _, t in pairs], eos=True)
    return source, lengths, target_in, target_out


SENTENCES = [[305, 12], [7], [999, 40, 3, 18], [60]]  # lengths 5, 1, 10, 1: padding in every row but one


def small_model(attention=True, device="cpu", dtype=None, seed=0):
    td.manual_seed(seed)
    model = Seq2Seq(len(SOURCE), len(TARGET), embedding_dim=5, hidden_size=6, attention_size=7, maxout_size=4,
                    attention=attention)
    return model.to(dtype).to(device) if dtype is not None else model.to(device)


def test_reversed_within_lengths_by_hand():
    reverse = reversed_within_lengths([3, 1, 4], 4)
    assert reverse.tolist() == [[2, 1, 0, 3], [0, 1, 2, 3], [3, 2, 1, 0]]
    rows = np.arange(3)[:, None]
    assert (reverse[rows, reverse] == np.arange(4)).all()  # its own inverse


@pytest.mark.parametrize("attention", [True, False])
def test_shapes(device, attention):
    model = small_model(attention, device)
    source, lengths, target_in, _ = batch(SENTENCES)
    annotations, summary = model.encoder(td.tensor(source, device=device), lengths)
    assert annotations.shape == (4, source.shape[1], 12) and summary.shape == (4, 12)
    logits, weights = model(source, lengths, target_in)
    assert logits.shape == (4, target_in.shape[1], len(TARGET))
    assert logits.device == device
    if attention:
        assert weights.shape == (4, target_in.shape[1], source.shape[1])
    else:
        assert weights is None


def test_attention_weights_sum_to_one_and_are_zero_on_padding(device):
    model = small_model(True, device)
    source, lengths, target_in, _ = batch(SENTENCES)
    _, weights = model(source, lengths, target_in)
    weights = weights.detach().numpy()  # (N, T, S)
    np.testing.assert_allclose(weights.sum(axis=2), 1.0, rtol=1e-5, atol=1e-6)
    padding = np.arange(source.shape[1])[None, :] >= lengths[:, None]  # (N, S)
    assert (weights[np.broadcast_to(padding[:, None, :], weights.shape)] == 0).all()
    assert (weights[np.broadcast_to(~padding[:, None, :], weights.shape)] > 0).all()


@pytest.mark.parametrize("attention", [True, False])
def test_a_sentence_gives_the_same_logits_alone_and_in_a_padded_batch(device, attention):
    """The backward RNN reads each sentence reversed within its length, the attention skips padding:
    nothing of the padding (or of the other rows) leaks into a sentence's annotations or predictions."""
    model = small_model(attention, device, dtype=td.float64)
    source, lengths, target_in, _ = batch(SENTENCES)
    annotations, _ = model.encoder(td.tensor(source, device=device), lengths)
    logits, _ = model(source, lengths, target_in)
    for i, numbers in enumerate(SENTENCES):
        s, l, t_in, _ = batch([numbers])
        alone, _ = model.encoder(td.tensor(s, device=device), l)
        np.testing.assert_allclose(annotations.detach().numpy()[i, :l[0]], alone.detach().numpy()[0],
                                   rtol=1e-12, atol=1e-12)
        logits_alone, _ = model(s, l, t_in)
        np.testing.assert_allclose(logits.detach().numpy()[i, :t_in.shape[1]], logits_alone.detach().numpy()[0],
                                   rtol=1e-12, atol=1e-12)


def test_the_loss_ignores_padding():
    """The batch loss is the mean over every real target token: the token-weighted mean of the losses
    of the sentences alone."""
    model = small_model(True, dtype=td.float64)
    source, lengths, target_in, target_out = batch(SENTENCES)
    together = model.loss(source, lengths, target_in, target_out).item()
    losses, tokens = [], []
    for numbers in SENTENCES:
        s, l, t_in, t_out = batch([numbers])
        losses.append(model.loss(s, l, t_in, t_out).item())
        tokens.append(t_out.shape[1])
    assert together == pytest.approx(np.average(losses, weights=tokens), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("attention", [True, False])
def test_gradcheck_one_decoder_step(attention):
    """One decoder step (alignment model, context, GRU cell, deep output with maxout) in float64, with
    respect to the previous state, the annotations and a weight of each block."""
    model = small_model(attention, dtype=td.float64, seed=1)
    decoder = model.decoder
    rng = np.random.default_rng(0)
    s_prev = leaf(rng.standard_normal((2, 6)))
    annotations = leaf(rng.standard_normal((2, 3, 12)))
    padding = td.tensor(np.array([[False, False, True], [False, False, False]]))
    y_prev = td.tensor(np.array([4, 9]))

    def one_step(s_prev, annotations, *weights):
        summary = annotations[:, -1]  # stands in for c = [->h_{T_x} ; <-h_1]
        state = decoder.initial_state(annotations, summary, padding)
        state["s"] = s_prev
        logits, new_state, _ = decoder.step(y_prev, state)
        return logits, new_state["s"]

    weights = [decoder.rnn.weight_ih, decoder.U_o.weight, decoder.C_o.weight, decoder.W_o.weight]
    if attention:
        weights += [decoder.attention.W_a.weight, decoder.attention.U_a.weight, decoder.attention.v_a.weight]
    assert td.gradcheck(one_step, [s_prev, annotations, *weights], atol=1e-7, rtol=1e-5)


def test_gradcheck_the_encoder_on_a_padded_batch():
    model = small_model(True, dtype=td.float64, seed=2)
    source, lengths, _, _ = batch([[305, 12], [7]])
    encoder = model.encoder

    def encode(*weights):  # the annotations of the real words (padding positions are never read) and c
        annotations, summary = encoder(td.tensor(source), lengths)
        return annotations[0], annotations[1, :lengths[1]], summary

    weights = [encoder.embedding.weight, encoder.forward_rnn.weight_hh_l0, encoder.backward_rnn.weight_ih_l0]
    assert td.gradcheck(encode, weights, atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("attention", [True, False])
def test_greedy_translation_is_the_same_alone_and_in_a_batch(attention):
    model = small_model(attention, seed=3)
    source, lengths, _, _ = batch(SENTENCES)
    greedy = model.translate(source, lengths, TARGET.bos, TARGET.eos, max_len=12)
    assert len(greedy) == len(SENTENCES)
    for i, numbers in enumerate(SENTENCES):
        s, l, _, _ = batch([numbers])
        assert model.translate(s, l, TARGET.bos, TARGET.eos, max_len=12)[0] == greedy[i]


@pytest.mark.parametrize("attention, beam_size", [(True, 1), (True, 4), (False, 3)])
def test_beam_search_scores_its_translation_and_at_least_as_well_as_greedy(attention, beam_size):
    """Its score is the model's teacher-forced log-probability of what it returns (through Seq2Seq.step
    and the state rows it reorders), and no lower than greedy's."""
    model = small_model(attention, seed=4)
    with td.no_grad():
        model.decoder.W_o.bias[TARGET.eos] -= 3.0  # <eos> unlikely: sentences of several steps, so beams reorder rows
    s, l, _, _ = batch([[305, 12]])
    greedy = model.translate(s, l, TARGET.bos, TARGET.eos, max_len=8)[0]
    tokens, score = model.beam_translate(s[0], TARGET.bos, TARGET.eos, max_len=8, beam_size=beam_size)
    assert len(tokens) >= 3

    def log_prob(ids):  # the teacher-forced sum of log p of ids (and <eos> when they end before max_len)
        out = ids + [TARGET.eos] if len(ids) < 8 else ids
        logits, _ = model(s, l, np.array([[TARGET.bos] + out[:-1]]))
        logp = td.functional.log_softmax(logits, dim=2).detach().numpy()[0]
        return float(logp[np.arange(len(out)), out].sum())

    assert score == pytest.approx(log_prob(tokens), rel=1e-4, abs=1e-4)
    assert score >= log_prob(greedy) - 1e-4


def test_alignment():
    model = small_model(True)
    source, target = translate_numbers([305, 12])
    weights = model.alignment(SOURCE.encode(source), TARGET.encode(target), TARGET.bos)
    assert weights.shape == (len(target) + 1, len(source))  # one row per output token and <eos>
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="Seq2Seq.alignment: this model has attention=False"):
        small_model(False).alignment(SOURCE.encode(source), TARGET.encode(target), TARGET.bos)


def test_encode_errors():
    model = small_model(True)
    source, lengths, _, _ = batch(SENTENCES)
    with pytest.raises(ValueError, match=r"Seq2Seq.encode: source must be \(N, S\) and lengths \(N,\)"):
        model.encode(source, lengths[:3])
    with pytest.raises(ValueError, match=r"1 <= lengths <= S"):
        model.encode(source, lengths + source.shape[1])


# ---- the example ----------------------------------------------------------------------------------
METRIC_NAME = "seq2seq_attention.py"


def test_seq2seq_attention_smoke(tmp_path, device):
    metrics = smoke(METRIC_NAME, tmp_path, device)
    assert 0 <= metrics["exact_match"] <= 1 and 0 <= metrics["exact_match_long"] <= 1
    assert metrics["attention"] is True and metrics["stopped_early"] is False
    for name in ("loss.png", "alignment.png", "checkpoint.npz"):
        assert (tmp_path / name).stat().st_size > 0


def test_seq2seq_no_attention_smoke(tmp_path):
    metrics = smoke(METRIC_NAME, tmp_path, "cpu", "--no-attention")
    assert metrics["attention"] is False
    assert not (tmp_path / "alignment.png").exists()


def example_main():
    """examples/seq2seq_attention.py's main(argv), imported as `python examples/...` would run it."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        return runpy.run_path(str(EXAMPLES / "seq2seq_attention.py"), run_name="seq2seq_attention")["main"]
    finally:
        sys.path.remove(str(EXAMPLES))


def test_seq2seq_compare_smoke(tmp_path):
    main = example_main()
    sys.path.insert(0, str(EXAMPLES))
    try:
        main(["--out", str(tmp_path), "--smoke", "--compare"])
    finally:
        sys.path.remove(str(EXAMPLES))
    table = json.loads((tmp_path / "compare.json").read_text())
    assert {"attention", "no_attention"} <= set(table)
    for name in ("attention", "no_attention"):
        assert {"exact_match", "exact_match_long", "by_length", "by_length_long", "steps"} <= set(table[name])
        assert all(int(key.split("-")[0]) > 20 for key in table[name]["by_length_long"])
    assert table["attention"]["steps"] == table["no_attention"]["steps"]
    assert (tmp_path / "compare.png").stat().st_size > 0
    assert json.loads((tmp_path / "no_attention" / "metrics.json").read_text())["attention"] is False


def test_seq2seq_resume_continues_exactly(tmp_path):
    """Two epochs in one go, or a run stopped after its first epoch (--max-minutes 0) and then
    --resume: the same losses, step by step, and the same weights."""
    main = example_main()
    sys.path.insert(0, str(EXAMPLES))
    try:
        main(["--out", str(tmp_path / "once"), "--smoke", "--epochs", "2"])
        main(["--out", str(tmp_path / "twice"), "--smoke", "--epochs", "2", "--max-minutes", "0"])
        main(["--out", str(tmp_path / "twice"), "--smoke", "--epochs", "2", "--resume"])
    finally:
        sys.path.remove(str(EXAMPLES))
    once, twice = (td.load(Path(tmp_path, name, "checkpoint.npz")) for name in ("once", "twice"))
    assert twice["progress"]["epoch"] == 2 and twice["progress"]["step"] == once["progress"]["step"]
    assert len(once["progress"]["losses"]) == once["progress"]["step"] == 6
    assert list(twice["progress"]["losses"]) == list(once["progress"]["losses"])
    for key, value in once["model"].items():
        np.testing.assert_array_equal(twice["model"][key], value, err_msg=key)
