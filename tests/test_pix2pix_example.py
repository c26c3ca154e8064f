"""examples/pix2pix.py (issue 17): smoke runs on cpu and cuda, the objectives' loss terms, --max-minutes,
--resume continuing exactly after a killed run, and --compare writing the ablation table."""
import json
from pathlib import Path

import numpy as np
import pytest

import tinydl as td
from tinydl import nn
from tinydl.models import WeightAverage
from test_examples import cuda, example_main, example_module, run_killed, run_main, smoke  # noqa: F401  (cuda)


def pix2pix_main():
    return example_main("pix2pix.py")


def run(argv):
    return run_main(pix2pix_main(), argv)


def test_pix2pix_smoke_cpu(tmp_path):
    metrics = smoke("pix2pix.py", tmp_path, "cpu")
    for key in ("fcn_score", "fcn_score_real", "pixel_accuracy", "pixel_accuracy_real"):
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["fcn_score_real"] > 0.9  # the shipped judge reads real held-out scenes (0.99 on 1000 of them)
    assert (metrics["epochs"], metrics["steps"], metrics["stopped_early"]) == (1, 2, False)
    assert (metrics["objective"], metrics["gan_mode"], metrics["lambda_l1"]) == ("l1_cgan", "vanilla", 10.0)
    assert (metrics["full_resolution_skip"], metrics["averaged_steps"]) == (True, 1)  # step 2 of 2: p = 1 > 0.5
    assert metrics["fcn_score_history"] == [[1, metrics["fcn_score"]]]  # the end of training is scored
    for name in ("samples.png", "losses.png", "checkpoint.npz"):
        assert (tmp_path / name).exists()


def test_pix2pix_smoke_cuda(tmp_path, cuda):
    smoke("pix2pix.py", tmp_path, cuda, "--gan-mode", "lsgan", on_cuda=("--batch-size", "4", "--test-scenes", "4"))


@pytest.mark.parametrize("objective, terms", [("l1", {"G L1"}), ("cgan", {"D", "G cGAN"}),
                                              ("l1_cgan", {"D", "G cGAN", "G L1"})])
def test_pix2pix_objectives_train_their_own_terms(tmp_path, objective, terms):
    """L1 only never trains D; cGAN only has no L1 term; L1 + cGAN has both (2 steps each)."""
    run(["--out", str(tmp_path), "--smoke", "--objective", objective])
    progress = td.load(tmp_path / "checkpoint.npz")["progress"]
    assert set(progress["losses"]) == terms
    assert all(len(values) == 2 for values in progress["losses"].values())


def test_pix2pix_max_minutes_stops_after_the_first_epoch(tmp_path):
    metrics = run(["--out", str(tmp_path), "--smoke", "--epochs", "2", "--max-minutes", "0"])
    assert (metrics["epochs"], metrics["steps"], metrics["stopped_early"]) == (1, 2, True)


def test_pix2pix_resume_continues_exactly(tmp_path):
    """Three epochs in one go, or a run killed after its second checkpoint and then --resume: the same loss
    curves (each epoch's scenes, order and dropout masks from (seed, epoch)), FCN-scores and weights."""
    args = ["--smoke", "--epochs", "3", "--eval-every", "1"]
    run(["--out", str(tmp_path / "once"), *args])
    saves = run_killed(pix2pix_main(), ["--out", str(tmp_path / "twice"), *args], after=2)
    assert [progress["epoch"] for progress in saves] == [1, 2]
    run(["--out", str(tmp_path / "twice"), *args, "--resume"])
    once, twice = (json.loads(Path(tmp_path, name, "metrics.json").read_text()) for name in ("once", "twice"))
    for key in ("fcn_score", "pixel_accuracy", "fcn_score_history", "epochs", "steps"):
        assert twice[key] == once[key], key
    assert len(once["fcn_score_history"]) == 3
    a, b = (td.load(Path(tmp_path, name, "checkpoint.npz")) for name in ("once", "twice"))
    assert a["progress"]["losses"] == b["progress"]["losses"]
    for key, value in a["model"].items():
        np.testing.assert_array_equal(b["model"][key], value, err_msg=key)


def test_pix2pix_compare_writes_the_ablation_table(tmp_path):
    metrics = run(["--out", str(tmp_path), "--smoke", "--compare"])
    table = json.loads((tmp_path / "compare.json").read_text())["table"]
    assert list(table) == ["L1", "cGAN", "L1 + cGAN", "real scenes"]  # the paper's rows, real images last
    for objective, title in (("l1", "L1"), ("cgan", "cGAN"), ("l1_cgan", "L1 + cGAN")):
        sub = json.loads((tmp_path / objective / "metrics.json").read_text())
        assert sub["objective"] == objective and sub["steps"] == 2
        assert table[title]["fcn_score"] == sub["fcn_score"]
        assert table[title]["pixel_accuracy"] == sub["pixel_accuracy"]
        assert (tmp_path / objective / "samples.png").exists()
    assert table["real scenes"]["fcn_score"] == metrics["fcn_score_real"]
    assert metrics["fcn_score"] == table["L1 + cGAN"]["fcn_score"]
    markdown = (tmp_path / "compare.md").read_text().strip().splitlines()
    assert markdown[-4].startswith("| L1 |") and markdown[-1].startswith("| real scenes |")
    assert len(markdown) == 2 + 2 + 4  # title, blank line, header, rule, four rows


def test_learning_rate_is_constant_then_a_cosine_to_zero():
    learning_rate = example_module("pix2pix.py")["learning_rate"]
    assert learning_rate(1e-3, 0.0, 0.5) == 1e-3 and learning_rate(1e-3, 0.49, 0.5) == 1e-3
    np.testing.assert_allclose([learning_rate(1e-3, p, 0.5) for p in (0.5, 0.75, 1.0)], [1e-3, 5e-4, 0.0],
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(learning_rate(2e-3, 0.5, 0.0), 1e-3, rtol=1e-12, atol=1e-15)  # decay_from 0: over the whole run


def test_pix2pix_averages_g_over_the_second_half(tmp_path, monkeypatch):
    """Smoke data, 3 epochs of 2 steps, --average-from 0.5: steps 4, 5, 6 are averaged (p = 4/6 ... 1); the
    checkpoint's theta_bar is the mean of G's weights after those steps."""
    snapshots = []
    update = WeightAverage.update

    def record_then_update(self, model):
        snapshots.append({name: p.data.copy() for name, p in model.named_parameters()})
        update(self, model)

    monkeypatch.setattr(WeightAverage, "update", record_then_update)
    metrics = run(["--out", str(tmp_path), "--smoke", "--epochs", "3"])
    assert (metrics["steps"], metrics["averaged_steps"], len(snapshots)) == (6, 3, 3)
    average = td.load(tmp_path / "checkpoint.npz")["progress"]["average"]
    for name in snapshots[0]:
        np.testing.assert_allclose(average["average"][name], np.mean([s[name] for s in snapshots], axis=0),
                                   rtol=1e-5, atol=1e-7, err_msg=name)
    assert run(["--out", str(tmp_path / "last"), "--smoke", "--average-from", "1"])["averaged_steps"] == 0


def test_evaluated_generator_is_a_copy_with_the_average_and_its_own_statistics():
    """evaluated_generator's copy carries theta_bar and running batch-norm statistics recomputed over one training
    epoch's label maps (2 batches of 16 here), and leaves G's weights and statistics as they were; translating in
    eval mode is image by image (a batch of 3 gives what 3 batches of 1 give)."""
    module = example_module("pix2pix.py")
    td.manual_seed(0)
    model = module["Pix2Pix"](4, 4, 1, True)
    average = WeightAverage(model.generator)
    for p in model.generator.parameters():
        p.data += 0.1                                         # G moves on after the average's first step
    before = {name: value.copy() for name, value in model.generator.state_dict().items()}
    args = type("Args", (), {"seed": 0, "scenes_per_epoch": 32, "batch_size": 16, "device": "cpu"})()
    copy = module["evaluated_generator"](args, model, average, 0)
    for name, value in model.generator.state_dict().items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)
    for name, p in copy.named_parameters():
        np.testing.assert_array_equal(p.data, average.average[name], err_msg=name)
    norms = [m for m in copy.modules() if isinstance(m, nn.BatchNorm2d)]
    assert norms and all(int(m.num_batches_tracked.item()) == 2 and m.momentum == 0.1 for m in norms)
    assert not np.allclose(norms[0].running_mean.numpy(), before["encoder.1.body.1.running_mean"], rtol=0, atol=1e-6)
    masks = np.random.default_rng(0).integers(0, 4, size=(3, 32, 32))
    together = module["generate"](args, copy, masks)
    alone = module["generate"](args, copy, masks, batch=1)
    assert together.shape == (3, 3, 32, 32) and together.min() >= 0 and together.max() <= 1
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-6)


def test_label_edges_mark_both_sides_of_every_class_change():
    label_edges = example_module("pix2pix.py")["label_edges"]
    masks = np.zeros((1, 6, 6), dtype=np.int64)
    masks[0, 2:4, 2:4] = 1                                    # a 2 x 2 square
    expected = np.zeros((6, 6), dtype=bool)
    expected[2:4, 1:5] = expected[1:5, 2:4] = True            # the square and its 4-neighbours, not the corners
    np.testing.assert_array_equal(label_edges(masks)[0], expected)
    assert not label_edges(np.zeros((2, 4, 4), dtype=np.int64)).any()
