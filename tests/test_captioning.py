"""Captioning with soft attention: the caption scenes (tinydl/data/captions.py), the model and its loss
(tinydl/models/captioning.py), and examples/caption_attention.py (docs/recurrent_attention.md)."""
import json
import sys

import numpy as np
import pytest
from test_examples import EXAMPLES, METRIC_KEYS, run_example, smoke

import tinydl as td
from tinydl.data import CAPTION_WORDS, COLOURS, HELD_OUT, SHAPE_CLASSES, make_captions
from tinydl.data.captions import caption, caption_words, combination_is_held_out
from tinydl.data.shapes import _rasterize
from tinydl.models import ShowAttendTell, caption_loss, doubly_stochastic_penalty
from tinydl.models.captioning import drop_words, object_mask
from tinydl.text import Vocabulary
from tinydl import functional as F

EXAMPLE = "caption_attention.py"
SMALL = ("--scenes-per-epoch", "32", "--batch-size", "16", "--test-scenes", "12", "--beam-scenes", "2")


def _example_module():
    sys.path.insert(0, str(EXAMPLES))
    try:
        import caption_attention
    finally:
        sys.path.remove(str(EXAMPLES))
    return caption_attention


# ---- the data ---------------------------------------------------------------------------------
def _pairs(scenes):
    """The set of (colour name, shape name) pairs drawn in ``scenes``."""
    names = list(COLOURS)
    return {(names[c], SHAPE_CLASSES[s]) for c, s in zip(scenes.colours.ravel(), scenes.shapes.ravel())}


def test_held_out_pairs_never_in_training_and_all_in_the_test_split():
    train = make_captions(3000, "train", seed=0)
    test = make_captions(600, "test", seed=1)
    assert not _pairs(train) & set(HELD_OUT)
    assert not train.unseen.any()
    assert set(HELD_OUT) <= _pairs(test)
    assert len(_pairs(train)) == len(COLOURS) * len(SHAPE_CLASSES) - len(HELD_OUT)  # every other pair is trained
    assert 0.25 < test.unseen.mean() < 0.5  # 1 - (12/15)^2 = 0.36 of the test scenes hold an unseen pair
    held = [cap for cap, unseen in zip(test.captions, test.unseen) if unseen]
    assert all(any(" ".join(pair) in " ".join(words) for pair in HELD_OUT) for words in held)


def test_caption_grammar_by_hand():
    # colours red=0, green=1, blue=2; shapes circle=0, square=1, triangle=2; relations left, right, above, below
    assert caption([0, 2], [1, 0], 2) == "a red square above a small blue circle".split()
    assert caption([1, 3], [2, 1], 0) == "a green triangle left of a small yellow square".split()
    assert caption([4, 4], [0, 0], 1) == "a purple circle right of a small purple circle".split()
    assert set(CAPTION_WORDS) == {w for c in range(5) for s in range(3) for r in range(4)
                                  for w in caption([c, 0], [s, 1], r)}
    assert combination_is_held_out(np.array([1, 1, 2]), np.array([2, 0, 0])).tolist() == [True, False, True]


def test_shape_first_grammar_by_hand():
    # the same scenes as above, each object's shape named before its colour ("a dress in blue")
    assert caption([0, 2], [1, 0], 2, "shape-first") == "a square in red above a small circle in blue".split()
    assert caption([1, 3], [2, 1], 0, "shape-first") == "a triangle in green left of a small square in yellow".split()
    assert caption([4, 4], [0, 0], 1, "shape-first") == "a circle in purple right of a small circle in purple".split()
    assert caption_words("colour-first") == CAPTION_WORDS
    assert caption_words("shape-first") == (*CAPTION_WORDS, "in")  # the old words keep their ids
    assert set(caption_words("shape-first")) == {w for c in range(5) for s in range(3) for r in range(4)
                                                 for w in caption([c, 0], [s, 1], r, "shape-first")}
    colour_first = make_captions(50, "test", seed=4)
    shape_first = make_captions(50, "test", seed=4, word_order="shape-first")
    np.testing.assert_array_equal(colour_first.images, shape_first.images)  # only the captions change
    for a, b in zip(colour_first.captions, shape_first.captions):
        assert [w for w in b if w != "in"] == _swap_colour_and_shape(a)
    with pytest.raises(ValueError, match="make_captions: word_order"):
        make_captions(2, word_order="yoda")
    with pytest.raises(ValueError, match="caption: word_order"):
        caption([0, 0], [0, 0], 0, "shape-last")


def _swap_colour_and_shape(words):
    """A colour-first caption with every colour word and the shape noun after it swapped."""
    words = list(words)
    for t in range(len(words) - 1):
        if words[t] in COLOURS and words[t + 1] in SHAPE_CLASSES:
            words[t], words[t + 1] = words[t + 1], words[t]
    return words


def test_captions_describe_the_drawn_scene():
    """Every caption, checked against the pixels and boxes: the colour at each object's centre, the
    shape (the pixels of that colour in its box are exactly those of the named shape drawn there, and
    not those of the others), the size, and the relation from the boxes."""
    scenes = make_captions(400, "test", image_size=32, noise=0.0, seed=3)
    palette = np.array(list(COLOURS.values()))
    for i in range(len(scenes)):
        words = scenes.captions[i]
        (large_colour, large_shape), (small_colour, small_shape) = words[1:3], words[-2:]
        for (colour, shape), box in zip(((large_colour, large_shape), (small_colour, small_shape)), scenes.boxes[i]):
            x1, y1, x2, y2 = box
            centre = scenes.images[i][:, int((y1 + y2) / 2 + 1), int((x1 + x2) / 2)]  # a bit low: a triangle's body
            nearest = list(COLOURS)[np.argmin(((palette - centre) ** 2).sum(axis=1))]
            assert nearest == colour, (i, words)
            drawn = (np.abs(scenes.images[i] - centre[:, None, None]).max(axis=0) < 0.2) & in_box(box)  # (S, S)
            iou = {name: _iou(drawn, _rasterize(box[None], np.array([k]), 32)[0])
                   for k, name in enumerate(SHAPE_CLASSES)}  # the pixels each shape would cover in this box
            assert iou[shape] == 1.0 and max(v for k, v in iou.items() if k != shape) < 1.0, (i, words, iou)
        large, small = scenes.boxes[i]
        assert (large[2] - large[0]) > (small[2] - small[0])  # the first-named object is the large one
        relation = " ".join(words[3:-4])
        apart = {"left of": small[0] - large[2], "right of": large[0] - small[2],
                 "above": small[1] - large[3], "below": large[1] - small[3]}[relation]
        assert apart >= 2.0 - 1e-4, (i, words)  # the two boxes are apart along the relation's axis...
        across = (1, 3) if relation in ("left of", "right of") else (0, 2)
        assert large[across[0]] - 1e-4 <= small[across[0]] and small[across[1]] <= large[across[1]] + 1e-4  # ...
        # and the small one lies within the large one's rows (columns): no other relation could be meant


def in_box(box, size=32):
    """(size, size) bool: the pixels whose centres lie in ``box``."""
    centres = np.arange(size) + 0.5
    return ((box[1] <= centres) & (centres <= box[3]))[:, None] & ((box[0] <= centres) & (centres <= box[2]))[None]


def _iou(a, b):
    return (a & b).sum() / (a | b).sum()


def test_make_captions_is_deterministic_and_seeded():
    a, b = make_captions(20, seed=5), make_captions(20, seed=5)
    for field in ("images", "boxes", "colours", "shapes", "relations"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert a.captions == b.captions
    assert not np.array_equal(a.images, make_captions(20, seed=6).images)
    assert a.images.shape == (20, 3, 32, 32) and a.images.dtype == np.float32
    assert a.boxes.shape == (20, 2, 4) and 0 <= a.boxes.min() and a.boxes.max() <= 32


def test_make_captions_errors_name_the_argument():
    with pytest.raises(ValueError, match="make_captions: split"):
        make_captions(4, split="val")
    with pytest.raises(ValueError, match="image_size=16"):
        make_captions(4, image_size=16)


# ---- the model --------------------------------------------------------------------------------
@pytest.mark.parametrize("attention", [True, False])
def test_show_attend_tell_shapes(device, attention):
    vocab = Vocabulary(CAPTION_WORDS)
    model = ShowAttendTell(len(vocab), embed_size=8, hidden_size=12, feature_size=10, attention_size=6, width=4,
                           attention=attention).to(device)
    scenes = make_captions(3, seed=0)
    ids, _ = vocab.encode_batch(scenes.captions, bos=True, eos=True)  # (3, T + 1)
    images = td.tensor(scenes.images, device=device)
    state = model.initial_state(images)
    assert state["h"].shape == (3, 12) and state["c"].shape == (3, 12)
    assert state["a"].shape == ((3, 64, 10) if attention else (3, 10))  # L = 8 * 8 annotation vectors
    logits, alpha = model(images, td.tensor(ids[:, :-1], device=device))
    assert logits.shape == (3, ids.shape[1] - 1, len(vocab)) and logits.device == device
    if attention:
        assert alpha.shape == (3, ids.shape[1] - 1, 64)
        np.testing.assert_allclose(alpha.detach().numpy().sum(axis=2), 1.0, rtol=1e-5, atol=1e-5)  # softmax over cells
    else:
        assert alpha is None
    loss, terms = caption_loss(logits, td.tensor(ids[:, 1:], device=device), alpha, vocab.pad)
    assert set(terms) == {"nll", "doubly_stochastic"} and np.isfinite(loss.item())
    assert (terms["doubly_stochastic"].item() > 0) == attention
    with pytest.raises(ValueError, match=r"ShowAttendTell.forward: tokens must be \(N, T\)"):
        model(images, td.tensor(ids[:2], device=device))


def test_encoder_stride_gives_the_grid(device):
    images = td.tensor(make_captions(2, seed=0).images, device=device)
    for stride, cells in ((4, 8 * 8), (2, 16 * 16)):
        model = ShowAttendTell(19, embed_size=4, hidden_size=6, feature_size=8, attention_size=4, width=4,
                               stride=stride).to(device)
        a = model.encoder(images)
        assert a.shape == (2, cells, 8) and model.encoder.stride == stride
        grid = 32 // stride  # the last two channels are the cells' x and y, row-major: x grows along a row
        np.testing.assert_allclose(a.detach().numpy()[0, :grid, 6], (np.arange(grid) + 0.5) * 2 / grid - 1, rtol=1e-6,
                                   atol=1e-6)
    joint = ShowAttendTell(19, embed_size=4, hidden_size=6, feature_size=8, attention_size=4, width=4,
                           two_stream=False).to(device)
    assert joint.encoder.conv1.weight.shape[1] == 3 + 2 and joint.encoder(images).shape == (2, 64, 8)
    with pytest.raises(ValueError, match="Encoder: stride must be 2 or 4"):
        ShowAttendTell(19, stride=8)
    with pytest.raises(ValueError, match="Encoder: feature_size=3 leaves no channel for the conv stack"):
        ShowAttendTell(19, feature_size=3, two_stream=True)


def test_object_mask_is_the_drawn_objects(device):
    scenes = make_captions(40, "test", seed=3)
    drawn = np.zeros((40, 32, 32), dtype=bool)
    for k in range(2):
        drawn |= _rasterize(scenes.boxes[:, k], scenes.shapes[:, k], 32)
    mask = object_mask(td.tensor(scenes.images, device=device)).numpy()
    assert mask.shape == (40, 1, 32, 32) and set(np.unique(mask)) <= {0.0, 1.0}
    assert np.mean(mask[:, 0] != drawn) < 1e-3  # the noise (sd 0.03) almost never crosses the 0.15 threshold
    with pytest.raises(ValueError, match=r"object_mask: images must be \(N, 3, H, W\), got \(40, 1, 32, 32\)"):
        object_mask(td.tensor(scenes.images[:, :1], device=device))


def test_two_stream_shape_features_do_not_see_colour(device):
    """Repainting the objects in other colours changes the colour stream's channels and leaves the shape
    stream's as they were on these scenes (the joint encoder's change): the held-out pairs' premise.
    (The mask's background is a median, so a repaint could in principle flip a pixel near the threshold;
    on caption scenes that is about one pixel in a thousand, test_object_mask_is_the_drawn_objects.)"""
    td.manual_seed(0)
    scenes = make_captions(6, "test", seed=4)
    repainted = scenes.images.copy()
    for k in range(2):
        here = _rasterize(scenes.boxes[:, k], scenes.shapes[:, k], 32)[:, None]  # (6, 1, 32, 32)
        other = np.array(list(COLOURS.values()), dtype=np.float32)[(scenes.colours[:, k] + 2) % len(COLOURS)]
        repainted = np.where(here, other[:, :, None, None], repainted)
    for two_stream in (True, False):
        encoder = ShowAttendTell(19, feature_size=16, width=4, two_stream=two_stream).encoder.to(device).eval()
        a = encoder(td.tensor(scenes.images, device=device)).detach().numpy()  # (6, 64, 16)
        b = encoder(td.tensor(repainted, device=device)).detach().numpy()
        stack = 16 - 2 - encoder.colour_size  # a_i = (the conv stack's channels, the colour channels, x, y)
        same_shape = np.allclose(a[..., :stack], b[..., :stack], rtol=1e-5, atol=1e-6)
        assert same_shape == two_stream
        if two_stream:
            assert encoder.colour_size == 2
            assert not np.allclose(a[..., stack:-2], b[..., stack:-2], rtol=1e-3, atol=1e-3)  # the colour moved
        np.testing.assert_allclose(a[..., -2:], b[..., -2:], rtol=1e-6, atol=1e-6)  # the coordinates never move


def test_decoder_step_gradcheck():
    """One decoder step in float64 at tiny sizes, with respect to h_{t-1}, c_{t-1} and the annotation
    vectors (through the attention, beta and the LSTM to the deep output's logits)."""
    td.manual_seed(0)
    model = ShowAttendTell(7, embed_size=3, hidden_size=4, feature_size=5, attention_size=3, width=2).double()
    rng = np.random.default_rng(0)
    h = td.tensor(rng.normal(0, 0.5, (2, 4)), requires_grad=True)
    c = td.tensor(rng.normal(0, 0.5, (2, 4)), requires_grad=True)
    a = td.tensor(rng.normal(0, 1.0, (2, 6, 5)), requires_grad=True)  # N = 2, L = 6 annotation vectors
    y_prev = td.tensor(np.array([1, 4]))

    def one_step(h, c, a):
        state = {"h": h, "c": c, "a": a, "keys": model.f_att.project_keys(a)}
        logits, new, alpha = model.step(y_prev, state)
        return logits.sum() * 0.3 + (new["h"] * new["c"]).sum() + (alpha ** 2).sum()

    assert td.gradcheck(one_step, [h, c, a])


@pytest.mark.parametrize("word_in_output", [False, True])
def test_deep_output_by_hand(word_in_output):
    """logits = L_o tanh(L_h h_t + L_z z_t), plus E y_{t-1} inside the tanh with word_in_output=True (the paper's)."""
    td.manual_seed(1)
    model = ShowAttendTell(7, embed_size=3, hidden_size=4, feature_size=5, attention_size=3, width=2,
                           word_in_output=word_in_output).double()
    rng = np.random.default_rng(1)
    a = td.tensor(rng.normal(0, 1.0, (2, 6, 5)))
    state = {"h": td.tensor(rng.normal(0, 0.5, (2, 4))), "c": td.tensor(rng.normal(0, 0.5, (2, 4))), "a": a,
             "keys": model.f_att.project_keys(a)}
    y_prev = td.tensor(np.array([3, 5]))
    logits, new, alpha = model.step(y_prev, state)
    context = (alpha.unsqueeze(-1) * a).sum(dim=1)  # (2, 5)
    z = F.sigmoid(model.f_beta(state["h"])) * context
    inner = model.L_h(new["h"]) + model.L_z(z) + (model.embedding(y_prev) if word_in_output else 0)
    np.testing.assert_allclose(logits.detach().numpy(), model.L_o(F.tanh(inner)).detach().numpy(), rtol=1e-12,
                               atol=1e-12)


def test_word_dropout_replaces_words_by_pad_and_keeps_bos(device):
    tokens = td.tensor(np.tile(np.arange(1, 11), (400, 1)), device=device)  # (400, 10), column 0 = <bos> = 1
    dropped = drop_words(tokens, 0.5, np.random.default_rng(0)).numpy()
    assert (dropped[:, 0] == 1).all()
    assert ((dropped == tokens.numpy()) | (dropped == 0)).all()  # every word kept, or <pad> (id 0)
    assert 0.45 < (dropped[:, 1:] == 0).mean() < 0.55
    again = drop_words(tokens, 0.5, np.random.default_rng(0)).numpy()
    np.testing.assert_array_equal(dropped, again)  # the generator decides: --resume repeats it
    model = ShowAttendTell(len(Vocabulary(CAPTION_WORDS)), width=2, hidden_size=4, embed_size=4, feature_size=6)
    with pytest.raises(ValueError, match="word_dropout > 0 needs generator="):
        model(td.zeros((1, 3, 32, 32)), td.tensor(np.array([[1, 3]])), word_dropout=0.5)


def test_doubly_stochastic_penalty_by_hand():
    alpha = td.tensor(np.array([[[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]]]))  # N = 1, T = 2 steps, L = 3 cells
    both = doubly_stochastic_penalty(alpha, td.tensor(np.array([[1.0, 1.0]])))
    np.testing.assert_allclose(both.item(), 0.3 ** 2 + 0.2 ** 2 + 0.5 ** 2, rtol=1e-12)  # column sums .7 .8 .5
    first = doubly_stochastic_penalty(alpha, td.tensor(np.array([[1.0, 0.0]])))  # the second step is padding
    np.testing.assert_allclose(first.item(), 0.5 ** 2 + 0.5 ** 2 + 1.0, rtol=1e-12)
    two = td.tensor(np.concatenate([alpha.numpy(), np.full((1, 2, 3), 1 / 3)]))  # batch mean: (0.38 + 3 / 9) / 2
    np.testing.assert_allclose(doubly_stochastic_penalty(two, td.ones((2, 2), dtype=td.float64)).item(),
                               (0.38 + 3 * (1 / 3) ** 2) / 2, rtol=1e-12)
    with pytest.raises(ValueError, match="doubly_stochastic_penalty"):
        doubly_stochastic_penalty(alpha, td.ones((1, 3)))


def test_caption_loss_is_the_words_cross_entropy_plus_lambda_times_the_penalty():
    rng = np.random.default_rng(0)
    logits = td.tensor(rng.normal(0, 1, (2, 3, 5)))
    targets = np.array([[3, 4, 2], [3, 2, 0]])  # the second caption is one step shorter (pad = 0)
    alpha = td.tensor(rng.dirichlet(np.ones(4), size=(2, 3)))  # (2, 3, 4)
    loss, terms = caption_loss(logits, td.tensor(targets), alpha, pad=0, penalty_weight=0.5)
    log_p = F.log_softmax(logits, dim=2).numpy()
    real = targets != 0
    nll = -np.mean(np.take_along_axis(log_p, targets[..., None], axis=2)[..., 0][real])
    sums = (alpha.numpy() * real[..., None]).sum(axis=1)  # (2, 4)
    penalty = ((1 - sums) ** 2).sum(axis=1).mean()
    np.testing.assert_allclose(terms["nll"].item(), nll, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(terms["doubly_stochastic"].item(), 0.5 * penalty, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(loss.item(), nll + 0.5 * penalty, rtol=1e-10, atol=1e-12)
    smoothed, terms = caption_loss(logits, td.tensor(targets), alpha, pad=0, penalty_weight=0.5, label_smoothing=0.2)
    target = 0.8 * np.eye(5)[targets] + 0.2 / 5  # (2, 3, 5): (1 - eps) one-hot + eps / V
    expected = -np.mean((target * log_p).sum(axis=2)[real])
    np.testing.assert_allclose(terms["nll"].item(), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(smoothed.item(), expected + 0.5 * penalty, rtol=1e-10, atol=1e-12)


# ---- the example's metric ---------------------------------------------------------------------
def test_attention_in_box_by_hand():
    ex = _example_module()
    grid, stride = 4, 8  # a 4x4 grid over a 32x32 image: cell (row r, col c) has its centre at (8c + 4, 8r + 4)
    boxes = np.array([[[0, 0, 15, 15], [20, 20, 31, 31]]], dtype=np.float32)  # large top-left, small bottom-right
    alphas = np.full((1, 6, 16), 0.01)
    words = "a red circle above a small blue square".split()
    alphas[0, 2, 1 * 4 + 0] = 0.9  # "circle" (step 2): cell (1, 0), centre (4, 12): inside the large box
    alphas[0, 7 - 2, 3 * 4 + 3] = 0.9  # step 5 ("small"): not a shape noun, ignored
    alphas[0, 7 - 2, 0] = 0.0
    long = np.full((1, 8, 16), 0.01)
    long[0, :6] = alphas[0]
    long[0, 7, 0 * 4 + 3] = 0.9  # "square" (step 7): cell (0, 3), centre (28, 4): outside the small box
    np.testing.assert_array_equal(ex.attention_in_box(long, [words], boxes, grid, stride), [[True, False]])
    long[0, 7, 3 * 4 + 3] = 0.95  # now cell (3, 3), centre (28, 28): inside
    np.testing.assert_array_equal(ex.attention_in_box(long, [words], boxes, grid, stride), [[True, True]])
    short = "a red circle".split()  # no second shape noun: a miss for the small object
    np.testing.assert_array_equal(ex.attention_in_box(long, [short], boxes, grid, stride), [[True, False]])
    assert ex.peak_in_box(np.eye(16)[5], grid, stride, (8, 8, 16, 16))  # cell (1, 1), centre (12, 12)
    assert not ex.peak_in_box(np.eye(16)[5], grid, stride, (13, 8, 20, 16))


# ---- the example ------------------------------------------------------------------------------
def test_caption_attention_smoke(tmp_path, device):
    metrics = smoke(EXAMPLE, tmp_path, device, on_cuda=("--width", "4", "--test-scenes", "6"))
    assert metrics["attention"] is True and metrics["steps"] == 2 and metrics["stopped_early"] is False
    assert 0 <= metrics["bleu4"] <= 1 and 0 <= metrics["exact_match"] <= 1
    assert 0 <= metrics["attention_in_box"] <= 1
    for name in ("attention.png", "loss.png", "captions.txt", "checkpoint.npz"):
        assert (tmp_path / name).stat().st_size > 0


def test_caption_attention_no_attention_smoke(tmp_path):
    metrics = smoke(EXAMPLE, tmp_path, "cpu", "--no-attention")
    assert metrics["attention"] is False
    assert metrics["attention_in_box"] is None and metrics["unseen_attention_in_box"] is None  # no attention map
    assert not (tmp_path / "attention.png").exists()
    assert set(metrics) == METRIC_KEYS[EXAMPLE] | {"seconds", "seed", "device"}  # the same keys as with attention


def test_caption_attention_resume_continues_exactly(tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    run_example(EXAMPLE, straight, "--epochs", "2", *SMALL)
    run_example(EXAMPLE, split, "--epochs", "2", "--max-minutes", "0", *SMALL)  # stops after one epoch
    first = json.loads((split / "metrics.json").read_text())
    assert first["stopped_early"] is True and first["epochs"] == 1 and first["steps"] == 2
    run_example(EXAMPLE, split, "--epochs", "2", "--resume", *SMALL)
    a, b = td.load(straight / "checkpoint.npz"), td.load(split / "checkpoint.npz")
    assert a["progress"]["step"] == b["progress"]["step"] == 4
    np.testing.assert_array_equal(a["progress"]["loss"]["total"], b["progress"]["loss"]["total"])
    for name, value in a["model"].items():
        np.testing.assert_array_equal(value, b["model"][name], err_msg=name)
