"""digits-M (tinydl.data.make_digits_m), the DANN / DDC models (tinydl.models.dann) and
examples/train_dann.py (issue 18): the generator's determinism, shapes, range and shift; the paper's
schedules; the domain classifier's gradient reaching the features reversed (checked against a
gradient worked out by hand in NumPy); smoke runs on cpu and cuda; --resume continuing exactly."""
import io
import json
import runpy
from pathlib import Path

import numpy as np
import pytest

import tinydl as td
import tinydl.functional as F
from helpers import host
from test_examples import EXAMPLES, cuda, example_main, run_killed, run_main, smoke  # noqa: F401  (cuda: the fixture)
from tinydl.data import load_digits, make_digits_m
from tinydl.data.digits_m import make_textures
from tinydl import nn
from tinydl.models.dann import (DANN, WeightAverage, dann_loss, ddc_loss, domain_loss, kernel_bandwidths,
                                lambda_schedule, learning_rate_schedule)


# ---- digits-M --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits_m():
    return make_digits_m(size=16, seed=0)


def test_digits_m_shapes_dtypes_and_range(digits_m):
    plain = load_digits()
    for domain in digits_m:
        assert domain.x_train.shape == (len(plain.x_train), 3, 16, 16) and domain.x_train.dtype == np.float32
        assert domain.x_test.shape == (len(plain.x_test), 3, 16, 16) and domain.x_test.dtype == np.float32
        assert domain.x_train.min() >= 0.0 and domain.x_train.max() <= 1.0
        assert domain.x_test.min() >= 0.0 and domain.x_test.max() <= 1.0
        np.testing.assert_array_equal(domain.y_train, plain.y_train)  # the digits' fixed split, both domains
        np.testing.assert_array_equal(domain.y_test, plain.y_test)


def test_digits_m_source_is_the_grey_digit_in_three_channels(digits_m):
    source = digits_m.source.x_train
    np.testing.assert_array_equal(source[:, 0], source[:, 1])
    np.testing.assert_array_equal(source[:, 0], source[:, 2])


def test_digits_m_target_is_the_blend_and_differs_from_the_source(digits_m):
    """|texture - digit| per channel (MNIST-M's blend) with the training textures of stream (seed, 0)."""
    source, target = digits_m.source, digits_m.target
    textures = make_textures(len(source.x_train), 16, [0, 0])
    np.testing.assert_allclose(target.x_train, np.abs(textures - source.x_train[:, :1]), rtol=0, atol=1e-6)
    assert np.abs(target.x_train - source.x_train).mean() > 0.15
    assert np.abs(target.x_train[:, 0] - target.x_train[:, 1]).mean() > 0.05  # coloured, not grey
    assert np.all(np.abs(target.x_test - source.x_test).reshape(len(source.x_test), -1).max(axis=1) > 0.1)


def test_digits_m_is_deterministic_by_seed(digits_m):
    again = make_digits_m(size=16, seed=0)
    for a, b in zip(digits_m, again):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    other = make_digits_m(size=16, seed=1)
    np.testing.assert_array_equal(other.source.x_train, digits_m.source.x_train)  # the source has no texture
    assert np.abs(other.target.x_train - digits_m.target.x_train).mean() > 0.05
    assert np.abs(other.target.x_test - digits_m.target.x_test).mean() > 0.05


def test_digits_m_held_out_textures_come_from_another_stream():
    train, held_out = make_textures(50, 16, [3, 0]), make_textures(50, 16, [3, 1])
    assert np.abs(train - held_out).mean() > 0.05
    np.testing.assert_array_equal(make_textures(50, 16, [3, 0]), train)


@pytest.mark.parametrize("kwargs, message", [
    ({"size": 4}, "make_digits_m: size must be an int >= 8, got 4"),
    ({"size": 16.0}, "make_digits_m: size must be an int >= 8"),
    ({"brightness": 0.0}, r"make_digits_m: brightness must be in \(0, 1\], got 0.0"),
    ({"brightness": 1.5}, r"make_digits_m: brightness must be in \(0, 1\]"),
])
def test_digits_m_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_digits_m(**kwargs)


# ---- schedules -----------------------------------------------------------------------------------
@pytest.mark.parametrize("p, lam, mu", [
    (0.0, 0.0, 0.01),  # 2 / (1 + 1) - 1;  0.01 / 1
    (0.5, 0.9866142981514305, 0.0026084743001221454),  # 2 / (1 + e^-5) - 1;  0.01 / 6^0.75
    (1.0, 0.9999092042625952, 0.0016556002607617019),  # 2 / (1 + e^-10) - 1;  0.01 / 11^0.75
])
def test_the_papers_schedules(p, lam, mu):
    assert lambda_schedule(p) == pytest.approx(lam, rel=1e-12, abs=1e-15)
    assert learning_rate_schedule(p, mu_0=0.01) == pytest.approx(mu, rel=1e-12, abs=1e-15)


# ---- the model -----------------------------------------------------------------------------------
def small_model(device="cpu"):
    td.manual_seed(0)
    model = DANN(image_size=8, width=4, hidden=6).to(device)
    for p in model.parameters():  # float64, for exact comparisons with NumPy
        p.data = p.data.astype(np.float64)
    return model


def test_shapes(device):
    model = small_model(device)
    x = td.tensor(np.random.default_rng(0).random((5, 3, 8, 8)), device=device)
    assert tuple(model.feature_extractor(x).shape) == (5, model.feature_extractor.out_features) == (5, 24)
    assert tuple(model(x).shape) == (5, 10)


def test_domain_classifier_gradient_reaches_the_features_reversed():
    """For f -> h = relu(f W1^T + b1) -> z = h W2^T + b2 and L_d = mean BCE(z, d), by hand:
    dL/dz = (sigmoid(z) - d) / N, dL/dW2 = dL/dz^T h, dL/dh = dL/dz W2, dL/df = (dL/dh * [h > 0]) W1.
    Through R_lambda the features get -lambda dL/df; G_d's own weights get dL/dW2 unchanged."""
    model, lam = small_model(), 0.37
    rng = np.random.default_rng(1)
    f_s = td.tensor(rng.normal(size=(3, 24)), requires_grad=True)
    f_t = td.tensor(rng.normal(size=(4, 24)) + 0.5, requires_grad=True)
    model.reversal.alpha = lam
    model.zero_grad()
    loss = domain_loss(model, f_s, f_t)
    loss.backward()

    first, _, second = model.domain_classifier.layers
    w1, b1, w2, b2 = (host(p) for p in (first.weight, first.bias, second.weight, second.bias))
    f = np.concatenate([host(f_s), host(f_t)])
    d = np.concatenate([np.zeros((3, 1)), np.ones((4, 1))])
    h = np.maximum(f @ w1.T + b1, 0)
    z = h @ w2.T + b2
    assert loss.item() == pytest.approx(np.mean(np.logaddexp(0, z) - d * z), rel=1e-10)
    dz = (1 / (1 + np.exp(-z)) - d) / len(f)
    df = ((dz @ w2) * (h > 0)) @ w1
    np.testing.assert_allclose(host(f_s.grad), -lam * df[:3], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(host(f_t.grad), -lam * df[3:], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(host(second.weight.grad), dz.T @ h, rtol=1e-10, atol=1e-12)  # not reversed


def test_dann_loss_reverses_only_the_feature_extractors_share(device):
    """In one backward of dann_loss, G_f gets dL_y - lambda dL_d and G_d gets dL_d: checked against
    the two terms' own gradients, each taken without the reversal (alpha = 0 cuts L_d from G_f)."""
    model, lam = small_model(device), 0.6
    rng = np.random.default_rng(2)
    x_s, x_t = (td.tensor(rng.random((4, 3, 8, 8)), device=device) for _ in range(2))
    y_s = td.tensor(rng.integers(0, 10, 4), device=device)
    conv = model.feature_extractor.layers[0].weight
    g_d_weight = model.domain_classifier.layers[0].weight

    loss, terms = dann_loss(model, x_s, y_s, x_t, lambda_p=lam)
    g_conv, g_d = td.grad(loss, [conv, g_d_weight], retain_graph=True)
    g_conv_y, = td.grad(terms["label"], [conv], retain_graph=True)
    model.reversal.alpha = 1.0  # R_1: the plain gradient of L_d, sign flipped once
    f_s, f_t = model.feature_extractor(x_s), model.feature_extractor(x_t)
    g_conv_d, g_d_plain = td.grad(domain_loss(model, f_s, f_t), [conv, g_d_weight])
    np.testing.assert_allclose(host(g_conv), host(g_conv_y) + lam * host(g_conv_d), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(host(g_d), host(g_d_plain), rtol=1e-9, atol=1e-12)


def test_ddc_loss_adds_gamma_times_the_features_mmd():
    model = small_model()
    rng = np.random.default_rng(3)
    x_s, x_t = td.tensor(rng.random((5, 3, 8, 8))), td.tensor(rng.random((6, 3, 8, 8)))
    y_s = td.tensor(rng.integers(0, 10, 5))
    loss, terms = ddc_loss(model, x_s, y_s, x_t, gamma=2.5)
    f_s, f_t = model.feature_extractor(x_s), model.feature_extractor(x_t)
    mmd = F.mmd_loss(f_s, f_t, bandwidths=kernel_bandwidths(f_s, f_t))
    assert terms["mmd"].item() == pytest.approx(mmd.item(), rel=1e-10)
    assert loss.item() == pytest.approx(F.cross_entropy(model(x_s), y_s).item() + 2.5 * mmd.item(), rel=1e-10)


def test_kernel_bandwidths_scale_with_the_features():
    rng = np.random.default_rng(4)
    a, b = td.tensor(rng.normal(size=(6, 5))), td.tensor(rng.normal(size=(7, 5)))
    small, large = kernel_bandwidths(a, b), kernel_bandwidths(a * 10.0, b * 10.0)
    np.testing.assert_allclose(large, np.asarray(small) * 10.0, rtol=1e-9)
    f = np.concatenate([a.numpy(), b.numpy()])
    pairs = ((f[:, None] - f[None]) ** 2).sum(-1)
    assert small[2] == pytest.approx(np.sqrt(pairs.sum() / (13 * 12)), rel=1e-9)  # the middle multiplier, 1


# ---- the weight average ---------------------------------------------------------------------------
def set_weights(model, values):
    """Write values[name] into each parameter of model (a stand-in for an optimizer step)."""
    for name, p in model.named_parameters():
        p.data[...] = td.tensor(values[name], device=p.device).data


def weight_sequence(model, steps, seed=5):
    """steps random values for every parameter of model (float64)."""
    rng = np.random.default_rng(seed)
    return [{name: rng.normal(size=p.shape) for name, p in model.named_parameters()} for _ in range(steps)]


def save_to_bytes(obj):
    """obj through td.save and back: a file object to td.load."""
    buffer = io.BytesIO()
    td.save(obj, buffer)
    buffer.seek(0)
    return buffer


def linear64(device):
    """A float64 nn.Linear(3, 2) on device, the same initial weights every call."""
    td.manual_seed(0)
    model = nn.Linear(3, 2).to(device)
    for p in model.parameters():
        p.data = p.data.astype(np.float64)
    return model


def test_weight_average_polyak_is_the_mean_of_the_updates(device):
    model = linear64(device)
    average = WeightAverage(model)
    sequence = weight_sequence(model, 4)
    for values in sequence:
        set_weights(model, values)
        average.update(model)
    target = linear64(device)
    average.copy_to(target)
    for name, p in target.named_parameters():
        expected = np.mean([values[name] for values in sequence], axis=0)
        np.testing.assert_allclose(host(p), expected, rtol=1e-12, atol=1e-14, err_msg=name)
    assert average.count == 4


def test_weight_average_state_dict_continues_exactly(device):
    """Three updates after a save and load give the average of all five, as without the save."""
    model = linear64(device)
    sequence = weight_sequence(model, 5)
    once, twice = WeightAverage(model), WeightAverage(model)
    for values in sequence[:2]:
        set_weights(model, values)
        once.update(model)
        twice.update(model)
    restored = WeightAverage(linear64(device))
    restored.load_state_dict(td.load(save_to_bytes(twice.state_dict())))
    for values in sequence[2:]:
        set_weights(model, values)
        once.update(model)
        restored.update(model)
    assert restored.count == once.count == 5
    a, b = once.state_dict()["average"], restored.state_dict()["average"]
    for name in a:
        np.testing.assert_array_equal(b[name], a[name])


@pytest.mark.parametrize("make, message", [
    (lambda: WeightAverage(linear64("cpu")).update(nn.Linear(3, 4)),
     r"WeightAverage.update: the model's parameters .*\(4, 3\).* are not the averaged ones .*\(2, 3\)"),
    (lambda: WeightAverage(linear64("cpu")).copy_to(nn.Linear(3, 2, bias=False)),
     r"WeightAverage.copy_to: the model's parameters \{'weight': \(2, 3\)\} are not the averaged ones"),
    (lambda: WeightAverage(nn.Linear(3, 2, bias=False)).load_state_dict(WeightAverage(linear64("cpu")).state_dict()),
     r"WeightAverage.load_state_dict: the state averages \['bias', 'weight'\], this average \['weight'\]"),
    (lambda: WeightAverage(nn.Linear(4, 2)).load_state_dict(WeightAverage(linear64("cpu")).state_dict()),
     r"WeightAverage.load_state_dict: the state's shapes \{'weight': \(2, 3\), 'bias': \(2,\)\} are not this "
     r"average's \{'weight': \(2, 4\)"),
])
def test_weight_average_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# ---- the example ----------------------------------------------------------------------------------
def test_train_dann_smoke_cpu(tmp_path):
    metrics = smoke("train_dann.py", tmp_path, "cpu")
    for key in ("source_only_accuracy", "mmd_accuracy", "dann_accuracy", "target_only_accuracy"):
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["epochs"] == {"source_only": 1, "mmd": 1, "dann": 1, "target_only": 1}
    assert metrics["stopped_early"] is False
    # 2 steps, the second (p = 1/2) averaged: theta_bar is its weights, the last weights
    assert metrics["last_weights_accuracies"]["dann"] == metrics["dann_accuracy"]
    for name in ("features.png", "accuracy.png", "examples.png", "model_dann.npz", "checkpoint.npz"):
        assert (tmp_path / name).exists()


def test_train_dann_smoke_cuda(tmp_path, cuda):
    smoke("train_dann.py", tmp_path, cuda, on_cuda=("--size", "8", "--batch-size", "16"))


def dann_main():
    return example_main("train_dann.py")


def test_train_dann_max_minutes_stops_every_model(tmp_path):
    """--max-minutes 0: each model stops after its first of two epochs, evaluated and recorded as such."""
    metrics = run_main(dann_main(), ["--out", str(tmp_path), "--smoke", "--epochs", "2", "--max-minutes", "0"])
    assert metrics["epochs"] == {"source_only": 1, "mmd": 1, "dann": 1, "target_only": 1}
    assert metrics["stopped_early"] is True
    assert all(len(curve) == 1 for curve in metrics["target_accuracy_curves"].values())


def test_train_dann_saves_and_evaluates_the_average_not_the_last_weights(tmp_path, monkeypatch):
    """Smoke data, 3 epochs of 2 steps: the last 3 steps of each model are averaged (p >= 1/2). model_dann.npz
    must be the mean of DANN's weights after those 3 steps, which differs from its last weights."""
    snapshots = []
    update = WeightAverage.update

    def record_then_update(self, model):
        snapshots.append({name: host(p).copy() for name, p in model.named_parameters()})
        update(self, model)

    monkeypatch.setattr(WeightAverage, "update", record_then_update)
    metrics = run_main(dann_main(), ["--out", str(tmp_path), "--smoke", "--epochs", "3"])
    assert len(snapshots) == 4 * 3  # four models, 3 averaged steps each
    dann = snapshots[6:9]  # the third model trained is DANN
    saved = td.load(tmp_path / "model_dann.npz")
    for name in dann[0]:
        np.testing.assert_allclose(saved[name], np.mean([s[name] for s in dann], axis=0), rtol=1e-5, atol=1e-7,
                                   err_msg=name)
    assert any(not np.allclose(saved[name], dann[-1][name], rtol=1e-5, atol=1e-7) for name in dann[0])
    assert metrics["averaged_target_accuracy_curves"]["dann"][0] is None  # epoch 1: nothing averaged yet


def test_budget_share_divides_what_the_earlier_models_left():
    share = runpy.run_path(str(EXAMPLES / "train_dann.py"))["budget_share"]
    assert share(8, 0, 4) == 120  # 480 s among four
    assert share(8, 60, 3) == 140  # source-only used 60 s of its 120: the other three share 420 s
    assert share(8, 360, 1) == 120  # the last model gets whatever is left
    assert share(0, 0, 4) == 0


@pytest.mark.parametrize("kill_after, averaged", [(4, None), (10, 1)])  # after source-only's last save (4 per
# model: 3 epochs and the end); inside DANN's training, after its second epoch, with 1 step averaged
def test_train_dann_resume_continues_exactly(tmp_path, kill_after, averaged):
    """Three epochs of each model in one go, or a run killed after its kill_after-th checkpoint and then
    --resume: the same curves, accuracies and weights (the averaged ones) of all four models. (Smoke
    data: 2 steps an epoch, 6 in all; the average starts with the 4th, at p = 3/6.)"""
    main = dann_main()
    args = ["--smoke", "--epochs", "3"]
    run_main(main, ["--out", str(tmp_path / "once"), *args])
    saves = run_killed(main, ["--out", str(tmp_path / "twice"), *args], after=kill_after)
    last = saves[-1]["average"]
    assert (last and last["count"]) == averaged  # the killed run's last checkpoint: no average, or one in progress
    run_main(main, ["--out", str(tmp_path / "twice"), *args, "--resume"])
    once, twice = (json.loads(Path(tmp_path, name, "metrics.json").read_text()) for name in ("once", "twice"))
    assert twice["target_accuracy_curves"] == once["target_accuracy_curves"]
    assert twice["averaged_target_accuracy_curves"] == once["averaged_target_accuracy_curves"]
    for key in ("source_only_accuracy", "mmd_accuracy", "dann_accuracy", "target_only_accuracy", "epochs",
                "last_weights_accuracies"):
        assert twice[key] == once[key]
    for variant in ("source_only", "mmd", "dann", "target_only"):
        a, b = (td.load(Path(tmp_path, name, f"model_{variant}.npz")) for name in ("once", "twice"))
        for key, value in a.items():
            np.testing.assert_array_equal(b[key], value, err_msg=f"{variant}: {key}")
    assert (td.load(Path(tmp_path, "once", "checkpoint.npz"))["progress"]["losses"]
            == td.load(Path(tmp_path, "twice", "checkpoint.npz"))["progress"]["losses"])
