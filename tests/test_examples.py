"""Every example runs end to end in its --smoke mode and writes its outputs."""
import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name, out, *args):
    argv = [str(EXAMPLES / name), "--out", str(out), "--smoke", *args]
    if "--epochs" in args:  # an explicit length overrides the smoke length
        argv.remove("--smoke")
    old_argv, old_path = sys.argv, list(sys.path)
    sys.argv = argv
    sys.path.insert(0, str(EXAMPLES))  # as `python examples/NAME.py` does, so `import common` works
    try:
        runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    finally:
        sys.argv, sys.path[:] = old_argv, old_path


def test_quickstart_smoke(tmp_path):
    run_example("quickstart.py", tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert {"test_accuracy", "seconds", "seed"} <= set(metrics)
    assert metrics["test_accuracy"] > 0.5  # two epochs already beat chance (0.1) by far
    assert (tmp_path / "loss.png").stat().st_size > 0
    assert (tmp_path / "checkpoint.npz").stat().st_size > 0


def test_quickstart_resumes_from_its_checkpoint(tmp_path):
    import tinydl as td

    run_example("quickstart.py", tmp_path)  # --smoke: 2 epochs
    assert td.load(tmp_path / "checkpoint.npz")["progress"]["epoch"] == 2
    run_example("quickstart.py", tmp_path, "--resume", "--epochs", "3")
    progress = td.load(tmp_path / "checkpoint.npz")["progress"]
    assert progress["epoch"] == 3
    steps_per_epoch = -(-1438 // 64)
    assert len(progress["losses"]) == 3 * steps_per_epoch  # the history continued, not restarted


def test_train_vae_smoke(tmp_path):
    run_example("train_vae.py", tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert 0 < metrics["test_neg_elbo"] < 64 * 0.6932  # better than predicting 0.5 for every pixel
    for name in ("reconstructions.png", "samples.png", "manifold.png", "loss.png", "checkpoint.npz"):
        assert (tmp_path / name).stat().st_size > 0


def test_reinforce_cartpole_smoke(tmp_path):
    run_example("reinforce_cartpole.py", tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["eval_mean_return"] >= 8  # CartPole gives at least ~8 steps to any policy
    assert (tmp_path / "returns.png").stat().st_size > 0 and (tmp_path / "checkpoint.npz").stat().st_size > 0


def test_rewards_to_go():
    sys.path.insert(0, str(EXAMPLES))
    try:
        from reinforce_cartpole import rewards_to_go
    finally:
        sys.path.remove(str(EXAMPLES))
    np.testing.assert_allclose(rewards_to_go(np.array([1.0, 1.0, 1.0]), 0.5), [1.75, 1.5, 1.0])


@pytest.mark.parametrize("loss", ["nsgan", "lsgan", "wgan-gp"])
def test_train_dcgan_smoke(tmp_path, loss):
    run_example("train_dcgan.py", tmp_path, "--loss", loss)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert {"classifier_score", "min_class_fraction", "frechet_distance", "seconds", "seed"} <= set(metrics)
    assert sum(metrics["class_histogram"]) == 50 and len(metrics["class_histogram"]) == 10
    assert metrics["frechet_distance"] > 0  # an untrained generator is far from the real digits
    for name in ("samples.png", "interpolation.png", "loss.png", "checkpoint.npz", "samples/epoch_001.png"):
        assert (tmp_path / name).stat().st_size > 0


def test_train_dcgan_scores_during_training(tmp_path):
    run_example("train_dcgan.py", tmp_path, "--score-every", "1", "--no-refine")
    history = json.loads((tmp_path / "metrics.json").read_text())["score_history"]
    assert [h["epoch"] for h in history] == [1]  # --smoke trains one epoch
    assert {"classifier_score", "min_class_fraction", "frechet_distance"} <= set(history[0])
    assert sum(history[0]["class_histogram"]) == 50


def test_char_lstm_smoke(tmp_path):
    run_example("char_lstm.py", tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert 0 < metrics["val_bpc"] < np.log2(103) + 0.5  # no worse than guessing uniformly among the characters
    assert (tmp_path / "sample.txt").read_text().startswith("def ")
    assert (tmp_path / "loss.png").stat().st_size > 0 and (tmp_path / "checkpoint.npz").stat().st_size > 0


def test_transformer_sort_smoke(tmp_path):
    run_example("transformer_sort.py", tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["test_sequences"] == 100 and metrics["steps"] == 5
    assert metrics["seq_accuracy"] < 0.5  # 5 steps cannot sort; a leak of targets into inputs would
    assert (tmp_path / "attention.png").stat().st_size > 0 and (tmp_path / "checkpoint.npz").stat().st_size > 0


def test_frechet_distance_matches_the_matrix_square_root_formula():
    from scipy import linalg

    sys.path.insert(0, str(EXAMPLES))
    try:
        from train_dcgan import frechet_distance
    finally:
        sys.path.remove(str(EXAMPLES))
    rng = np.random.default_rng(0)
    a = rng.standard_normal((500, 6))
    b = rng.standard_normal((400, 6)) @ rng.standard_normal((6, 6)) * 0.5 + 1
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s_a + s_b - 2 * linalg.sqrtm(s_a @ s_b).real)
    np.testing.assert_allclose(frechet_distance(a, b), expected, rtol=1e-8)
    assert abs(frechet_distance(a, a)) < 1e-8


def test_train_dcgan_resumes_both_optimizers(tmp_path):
    import tinydl as td

    run_example("train_dcgan.py", tmp_path)  # --smoke: 1 epoch
    first = td.load(tmp_path / "checkpoint.npz")
    assert set(first["optimizer"]) == {"generator", "discriminator"}
    run_example("train_dcgan.py", tmp_path, "--resume", "--epochs", "2", "--samples", "50")
    state = td.load(tmp_path / "checkpoint.npz")
    assert state["progress"]["epoch"] == 2
    assert len(state["progress"]["d_loss"]) == 2 * len(first["progress"]["d_loss"])  # continued, not restarted
    step = state["optimizer"]["discriminator"]["state"][0]["step"]
    assert step == 2 * first["optimizer"]["discriminator"]["state"][0]["step"]


def test_dcgan_learning_rate_decay_schedule():
    sys.path.insert(0, str(EXAMPLES))
    try:
        import train_dcgan
    finally:
        sys.path.remove(str(EXAMPLES))
    factors = [train_dcgan.decay_factor(epoch, 10, 0.5) for epoch in range(10)]
    np.testing.assert_allclose(factors, [1, 1, 1, 1, 1, 1, 0.8, 0.6, 0.4, 0.2])  # constant, then linear towards 0
    assert all(train_dcgan.decay_factor(epoch, 10, 1.0) == 1.0 for epoch in range(10))  # 1.0: never decays
