"""examples/pix2pix.py (issue 17): smoke runs on cpu and cuda, the objectives' loss terms, --max-minutes,
--resume continuing exactly after a killed run, and --compare writing the ablation table."""
import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

import tinydl as td
from test_examples import EXAMPLES, cuda, example_module, smoke  # noqa: F401  (cuda: the fixture)


def example_main():
    return runpy.run_path(str(EXAMPLES / "pix2pix.py"))["main"]


def run_main(argv):
    sys.path.insert(0, str(EXAMPLES))  # as `python examples/pix2pix.py` does (common, train_fcn_judge)
    try:
        return example_main()(argv)
    finally:
        sys.path.remove(str(EXAMPLES))


def test_pix2pix_smoke_cpu(tmp_path):
    metrics = smoke("pix2pix.py", tmp_path, "cpu")
    for key in ("fcn_score", "fcn_score_real", "pixel_accuracy", "pixel_accuracy_real"):
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["fcn_score_real"] > 0.9  # the shipped judge reads real held-out scenes (0.99 on 1000 of them)
    assert (metrics["epochs"], metrics["steps"], metrics["stopped_early"]) == (1, 2, False)
    assert (metrics["objective"], metrics["gan_mode"], metrics["lambda_l1"]) == ("l1_cgan", "vanilla", 10.0)
    assert metrics["fcn_score_history"] == [[1, metrics["fcn_score"]]]  # the end of training is scored
    for name in ("samples.png", "losses.png", "checkpoint.npz"):
        assert (tmp_path / name).exists()


def test_pix2pix_smoke_cuda(tmp_path, cuda):
    smoke("pix2pix.py", tmp_path, cuda, "--gan-mode", "lsgan", on_cuda=("--batch-size", "4", "--test-scenes", "4"))


@pytest.mark.parametrize("objective, terms", [("l1", {"G L1"}), ("cgan", {"D", "G cGAN"}),
                                              ("l1_cgan", {"D", "G cGAN", "G L1"})])
def test_pix2pix_objectives_train_their_own_terms(tmp_path, objective, terms):
    """L1 only never trains D; cGAN only has no L1 term; L1 + cGAN has both (2 steps each)."""
    run_main(["--out", str(tmp_path), "--smoke", "--objective", objective])
    progress = td.load(tmp_path / "checkpoint.npz")["progress"]
    assert set(progress["losses"]) == terms
    assert all(len(values) == 2 for values in progress["losses"].values())


def test_pix2pix_max_minutes_stops_after_the_first_epoch(tmp_path):
    metrics = run_main(["--out", str(tmp_path), "--smoke", "--epochs", "2", "--max-minutes", "0"])
    assert (metrics["epochs"], metrics["steps"], metrics["stopped_early"]) == (1, 2, True)


class Killed(Exception):
    pass


def test_pix2pix_resume_continues_exactly(tmp_path):
    """Three epochs in one go, or a run killed after its second checkpoint and then --resume: the same loss
    curves (each epoch's scenes, order and dropout masks from (seed, epoch)), FCN-scores and weights."""
    args = ["--smoke", "--epochs", "3", "--eval-every", "1"]
    run_main(["--out", str(tmp_path / "once"), *args])
    sys.path.insert(0, str(EXAMPLES))
    try:
        import common

        save, saves = common.save_checkpoint, []

        def save_then_die(args, model, optimizer, progress):
            save(args, model, optimizer, progress)
            saves.append(progress["epoch"])
            if len(saves) == 2:
                raise Killed

        common.save_checkpoint = save_then_die
        try:
            with pytest.raises(Killed):
                example_main()(["--out", str(tmp_path / "twice"), *args])
        finally:
            common.save_checkpoint = save
    finally:
        sys.path.remove(str(EXAMPLES))
    assert saves == [1, 2]
    run_main(["--out", str(tmp_path / "twice"), *args, "--resume"])
    once, twice = (json.loads(Path(tmp_path, name, "metrics.json").read_text()) for name in ("once", "twice"))
    for key in ("fcn_score", "pixel_accuracy", "fcn_score_history", "epochs", "steps"):
        assert twice[key] == once[key], key
    assert len(once["fcn_score_history"]) == 3
    a, b = (td.load(Path(tmp_path, name, "checkpoint.npz")) for name in ("once", "twice"))
    assert a["progress"]["losses"] == b["progress"]["losses"]
    for key, value in a["model"].items():
        np.testing.assert_array_equal(b["model"][key], value, err_msg=key)


def test_pix2pix_compare_writes_the_ablation_table(tmp_path):
    metrics = run_main(["--out", str(tmp_path), "--smoke", "--compare"])
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
