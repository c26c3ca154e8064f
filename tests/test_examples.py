"""Every example runs end to end in its --smoke mode and writes its outputs, on the CPU and with
``--device cuda`` (a real GPU, or the CuPy stand-in when there is none; skipped when neither is there).

Each smoke run also checks what holds for every example on every device (``smoke``): the model it
checkpointed, and its optimizer's state, lived on the requested device; metrics.json has the same
keys on both devices, and every number in it is finite."""
import copy
import json
import math
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

import tinydl as td
from tinydl import backend


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

METRIC_KEYS = {  # every key of each example's metrics.json after a smoke run, on either device
    "quickstart.py": {"test_accuracy", "train_accuracy", "final_loss"},
    "train_vae.py": {"test_neg_elbo", "latent_dim", "epochs"},
    "reinforce_cartpole.py": {"eval_mean_return", "eval_min_return", "training_episodes", "updates",
                              "train_seconds"},
    "train_dcgan.py": {"classifier_score", "min_class_fraction", "class_histogram", "frechet_distance", "loss",
                       "epochs", "score_history", "train_seconds"},
    "char_lstm.py": {"val_bpc", "steps", "val_curve"},
    "transformer_sort.py": {"seq_accuracy", "test_sequences", "steps"},
    "train_unet.py": {"miou", "per_class_iou", "pixel_accuracy", "confusion_matrix", "variant", "upsampling",
                      "dilated_bottleneck", "width", "depth", "parameters", "epochs", "steps", "batch_size",
                      "test_scenes", "cpu_seconds", "steps_to_target"},
    "train_yolo.py": {"map50", "ap_per_class", "map75", "ap75_per_class", "epochs", "steps", "val_scenes",
                      "stopped_early", "val_map_history", "inference_ms_per_image"},
    "train_faster_rcnn.py": {"map50", "map75", "ap_per_class", "ap75_per_class", "roi", "epochs", "steps",
                             "stopped_early", "val_scenes", "train_seconds", "inference_ms_per_image"},  # --mask adds
    # mask_map50 (test_faster_rcnn.py checks that run)
    "seq2seq_attention.py": {"exact_match", "exact_match_long", "exact_match_beam", "exact_match_long_beam",
                             "greedy_on_beam_sentences", "greedy_long_on_beam_sentences", "by_length",
                             "by_length_long", "attention", "test_sentences", "long_sentences", "beam_sentences",
                             "beam_size", "max_tokens", "epochs", "steps", "stopped_early", "train_seconds"},
    "style_transfer.py": {"content_accuracy", "style_accuracy", "speedup_vs_gatys", "gatys_content_accuracy",
                          "gatys_style_accuracy", "adain_accuracy_on_gatys_pairs", "judges_on_inputs",
                          "adain_ms_per_image", "gatys_ms_per_image", "gatys_steps", "gatys_pairs", "test_pairs",
                          "style_weight", "epochs", "steps", "stopped_early", "train_seconds"},
    "caption_attention.py": {"bleu4", "exact_match", "attention_in_box", "unseen_bleu4", "unseen_exact_match",
                             "unseen_attention_in_box", "beam_bleu4", "beam_exact_match",
                             "greedy_exact_match_on_beam_scenes", "test_scenes", "unseen_scenes", "beam_scenes",
                             "attention", "penalty", "word_dropout", "label_smoothing", "two_stream", "word_in_output",
                             "beam_size", "epochs", "steps", "stopped_early",
                             "train_seconds"},
    "train_stn.py": {"error", "baseline_error", "epochs", "steps", "stopped_early", "test_images", "stn_seconds",
                     "baseline_seconds", "train_seconds"},
    "train_dann.py": {"source_only_accuracy", "mmd_accuracy", "dann_accuracy", "target_only_accuracy",
                      "source_accuracies", "gap_closed", "epochs", "stopped_early", "train_seconds",
                      "target_accuracy_curves", "target_test_images", "average_from", "last_weights_accuracies",
                      "averaged_target_accuracy_curves"},
    "cyclegan.py": {"fcn_score", "fcn_score_real", "pixel_accuracy", "pixel_accuracy_real", "class_accuracy",
                    "class_accuracy_real", "labels_accuracy", "backward_cycle_error", "backward_cycle_error_flat",
                    "fcn_score_history", "generator", "lambda_cycle", "lambda_identity",
                    "pool_size", "epochs", "steps", "stopped_early", "test_scenes", "train_seconds", "cpu_seconds"},
    "pix2pix.py": {"fcn_score", "fcn_score_real", "pixel_accuracy", "pixel_accuracy_real", "class_accuracy",
                   "class_accuracy_real", "edge_error_share", "fcn_score_history", "objective", "gan_mode",
                   "lambda_l1", "dropout", "full_resolution_skip", "averaged_steps", "epochs", "steps",
                   "stopped_early", "test_scenes", "train_seconds", "cpu_seconds"},
}
COMMON_KEYS = {"seconds", "seed", "device"}  # common.write_metrics adds seed and device


def example_module(name):
    """The globals of examples/NAME.py, imported as `python examples/...` would see them."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        return runpy.run_path(str(EXAMPLES / name), run_name=name[:-3])
    finally:
        sys.path.remove(str(EXAMPLES))


def run_example(name, out, *args):
    """``python examples/NAME.py --out OUT --smoke ARGS``, in this process.

    Returns the devices that the parameters and optimizer state of every checkpointed model were on
    (common.save_checkpoint is watched while the example runs)."""
    argv = [str(EXAMPLES / name), "--out", str(out), "--smoke", *args]
    if "--epochs" in args:  # an explicit length overrides the smoke length
        argv.remove("--smoke")
    old_argv, old_path = sys.argv, list(sys.path)
    sys.argv = argv
    sys.path.insert(0, str(EXAMPLES))  # as `python examples/NAME.py` does, so `import common` works
    try:
        import common  # examples/common.py: the module the example imports too

        devices, save = set(), common.save_checkpoint

        def save_and_record(args, model, optimizer, progress):
            devices.update(checkpointed_devices(model, optimizer))
            return save(args, model, optimizer, progress)

        common.save_checkpoint = save_and_record
        try:
            runpy.run_path(str(EXAMPLES / name), run_name="__main__")
        finally:
            common.save_checkpoint = save
    finally:
        sys.argv, sys.path[:] = old_argv, old_path
    return devices


def example_main(name):
    """The ``main`` function of examples/NAME.py (run it with run_main)."""
    return example_module(name)["main"]


def run_main(main, argv):
    """An example's ``main(argv)`` with examples/ on sys.path (for `import common`), as `python examples/NAME.py`
    has it; returns what main returns (its metrics)."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        return main(argv)
    finally:
        sys.path.remove(str(EXAMPLES))


class Killed(Exception):
    """What run_killed raises inside an example to stop it as a kill would, right after a checkpoint."""


def run_killed(main, argv, after):
    """Run an example's ``main(argv)`` (examples/ on sys.path, as `python examples/NAME.py` has it) and kill
    it just after its ``after``-th checkpoint is written.  Returns a copy of the progress of each checkpoint
    written, so that a test can say where the kill landed before it tries ``--resume``."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        import common

        save, saves = common.save_checkpoint, []

        def save_then_die(args, model, optimizer, progress):
            save(args, model, optimizer, progress)
            saves.append(copy.deepcopy(progress))
            if len(saves) == after:
                raise Killed

        common.save_checkpoint = save_then_die
        try:
            with pytest.raises(Killed):
                main(argv)
        finally:
            common.save_checkpoint = save
    finally:
        sys.path.remove(str(EXAMPLES))
    return saves


def checkpointed_devices(model, optimizer):
    """The devices of a model's parameters and of its optimizer(s)' state arrays (Adam's moments...)."""
    optimizers = optimizer.values() if isinstance(optimizer, dict) else [optimizer]
    states = [value for opt in optimizers for state in opt.state.values() for value in state.values()]
    return {p.device for p in model.parameters()} | {backend.device_of(v) for v in states if hasattr(v, "shape")}


def assert_finite(value, where="metrics"):
    """Every number in a metrics structure (nested dicts and lists) is finite; None and strings pass."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert_finite(item, f"{where}[{key!r}]")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            assert_finite(item, f"{where}[{i}]")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        assert math.isfinite(value), f"{where} is {value}"


def smoke(name, out, device, *args, on_cuda=()):
    """The smoke run of examples/NAME on ``device`` (``on_cuda``: extra arguments that shorten the
    cuda run), with the checks every example passes; returns its metrics."""
    devices = run_example(name, out, "--device", device, *args, *(on_cuda if device == "cuda" else ()))
    assert devices == {device}  # it trained there, and checkpointed from there
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == METRIC_KEYS[name] | COMMON_KEYS
    assert metrics["device"] == device
    assert_finite(metrics)
    return metrics


@pytest.fixture
def cuda():
    """For examples whose CPU smoke run lives in another test file: "cuda", or a clean skip."""
    if not td.cuda.is_available():
        pytest.skip("no GPU, and the CuPy stand-in is off (TINYDL_FAKE_GPU=0)")
    return "cuda"


def test_quickstart_smoke(tmp_path, device):
    metrics = smoke("quickstart.py", tmp_path, device)
    assert metrics["test_accuracy"] > 0.5  # two epochs already beat chance (0.1) by far
    assert (tmp_path / "loss.png").stat().st_size > 0
    assert (tmp_path / "checkpoint.npz").stat().st_size > 0


def test_quickstart_resumes_from_its_checkpoint(tmp_path, device):
    run_example("quickstart.py", tmp_path, "--device", device)  # --smoke: 2 epochs
    assert td.load(tmp_path / "checkpoint.npz")["progress"]["epoch"] == 2
    assert run_example("quickstart.py", tmp_path, "--resume", "--epochs", "3", "--device", device) == {device}
    progress = td.load(tmp_path / "checkpoint.npz")["progress"]
    assert progress["epoch"] == 3
    steps_per_epoch = -(-1438 // 64)
    assert len(progress["losses"]) == 3 * steps_per_epoch  # the history continued, not restarted


def test_train_vae_smoke(tmp_path, device):
    metrics = smoke("train_vae.py", tmp_path, device)
    assert 0 < metrics["test_neg_elbo"] < 64 * 0.6932  # better than predicting 0.5 for every pixel
    for name in ("reconstructions.png", "samples.png", "manifold.png", "loss.png", "checkpoint.npz"):
        assert (tmp_path / name).stat().st_size > 0


@pytest.mark.parametrize("baseline", ["normalize", "value"])
def test_reinforce_cartpole_smoke(tmp_path, device, baseline):
    metrics = smoke("reinforce_cartpole.py", tmp_path, device, "--baseline", baseline)  # the policy on `device`
    assert metrics["eval_mean_return"] >= 8  # CartPole gives at least ~8 steps to any policy
    assert (tmp_path / "returns.png").stat().st_size > 0 and (tmp_path / "checkpoint.npz").stat().st_size > 0


def test_reinforce_cartpole_resumes_a_finished_run(tmp_path):
    run_example("reinforce_cartpole.py", tmp_path)
    run_example("reinforce_cartpole.py", tmp_path, "--resume")  # no update left: it evaluates and writes metrics
    assert json.loads((tmp_path / "metrics.json").read_text())["updates"] == 2


@pytest.mark.parametrize("baseline", ["normalize", "value"])
def test_reinforce_cartpole_transfers_are_the_ones_its_docstring_counts(cuda, baseline):
    """On cuda an environment step costs one copy (the observation) and one sync (the sampled action
    read back); an update three copies (its batch) and no sync.  Counted by the stand-in."""
    if not backend.FAKE_GPU:
        pytest.skip("only the CuPy stand-in counts transfers")
    import argparse

    from tinydl import optim
    from tinydl.fake_cupy import counters
    from tinydl.models import PolicyNetwork

    sys.path.insert(0, str(EXAMPLES))
    try:
        import reinforce_cartpole as rc
    finally:
        sys.path.remove(str(EXAMPLES))
    policy = PolicyNetwork(4, 2, value_head=baseline == "value").to(cuda)
    optimizer = optim.Adam(policy.parameters(), lr=1e-3)
    with counters.counting() as seen:
        rc.act(policy, np.zeros(4, dtype=np.float32), cuda)
    assert (seen.total_copies, seen.total_syncs) == (1, 1), seen.report()
    episodes = [(np.zeros((3, 4), np.float32), np.array([0, 1, 0]), np.ones(3))] * 2
    args = argparse.Namespace(device=cuda, gamma=0.99, entropy=0.01, baseline=baseline)
    for _ in range(2):  # the first update and one with Adam's state in place
        with counters.counting() as seen:
            rc.update_policy(policy, optimizer, episodes, args)
        assert (seen.total_copies, seen.total_syncs) == (3, 0), seen.report()


def test_rewards_to_go():
    sys.path.insert(0, str(EXAMPLES))
    try:
        from reinforce_cartpole import rewards_to_go
    finally:
        sys.path.remove(str(EXAMPLES))
    np.testing.assert_allclose(rewards_to_go(np.array([1.0, 1.0, 1.0]), 0.5), [1.75, 1.5, 1.0])


@pytest.mark.parametrize("loss", ["nsgan", "lsgan", "wgan-gp"])
def test_train_dcgan_smoke(tmp_path, device, loss):
    # on cuda, narrower networks and 5 larger batches: the stand-in is a few times slower than NumPy
    metrics = smoke("train_dcgan.py", tmp_path, device, "--loss", loss,
                    on_cuda=("--width", "16", "--batch-size", "256"))
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


def test_char_lstm_smoke(tmp_path, device):
    metrics = smoke("char_lstm.py", tmp_path, device)
    assert 0 < metrics["val_bpc"] < np.log2(103) + 0.5  # no worse than guessing uniformly among the characters
    assert (tmp_path / "sample.txt").read_text().startswith("def ")
    assert (tmp_path / "loss.png").stat().st_size > 0 and (tmp_path / "checkpoint.npz").stat().st_size > 0


def test_transformer_sort_smoke(tmp_path, device):
    metrics = smoke("transformer_sort.py", tmp_path, device)
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


# ---- the examples whose CPU smoke runs are in test_unet.py, test_yolo.py, test_faster_rcnn.py: here on cuda
def test_train_unet_smoke_on_cuda(tmp_path, cuda):
    metrics = smoke("train_unet.py", tmp_path, cuda, "--width", "4")
    assert metrics["steps"] == 4 and 0 <= metrics["miou"] <= 1
    confusion = np.array(metrics["confusion_matrix"])
    assert confusion.sum() == metrics["test_scenes"] * 64 * 64
    assert (tmp_path / "overlays.png").stat().st_size > 0


def test_train_yolo_smoke_on_cuda(tmp_path, cuda):
    metrics = smoke("train_yolo.py", tmp_path, cuda, "--width", "4")
    assert set(metrics["ap_per_class"]) == {"circle", "square", "triangle"}
    assert 0 <= metrics["map75"] <= metrics["map50"] <= 1
    assert (tmp_path / "detections.png").stat().st_size > 0


def test_train_faster_rcnn_smoke_on_cuda(tmp_path, cuda):
    metrics = smoke("train_faster_rcnn.py", tmp_path, cuda, "--width", "4")
    assert metrics["roi"] == "align" and 0 <= metrics["map75"] <= metrics["map50"] <= 1
    assert (tmp_path / "detections.png").stat().st_size > 0
