"""examples/cyclegan.py (issue 17): smoke runs on cpu and cuda, the domains really unpaired, the label images
read back to classes, the loss terms, --max-minutes, and --resume continuing exactly (image pools included)."""
import json
from pathlib import Path

import numpy as np
import pytest

import tinydl as td
from tinydl import nn, optim
from tinydl.data import make_shapes
from test_examples import cuda, example_main, example_module, run_killed, run_main, smoke  # noqa: F401  (cuda)


def cyclegan_main():
    return example_main("cyclegan.py")


def run(argv):
    return run_main(cyclegan_main(), argv)


def test_cyclegan_smoke_cpu(tmp_path):
    metrics = smoke("cyclegan.py", tmp_path, "cpu")
    for key in ("fcn_score", "fcn_score_real", "pixel_accuracy", "pixel_accuracy_real", "labels_accuracy"):
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["fcn_score_real"] > 0.9  # the shipped judge reads real held-out scenes (0.99 on 1000 of them)
    assert (metrics["epochs"], metrics["steps"], metrics["stopped_early"]) == (1, 2, False)
    assert (metrics["lambda_cycle"], metrics["lambda_identity"], metrics["pool_size"]) == (10.0, 0.0, 50)
    assert metrics["fcn_score_history"] == [[1, metrics["fcn_score"]]]  # the end of training is scored
    for name in ("samples.png", "losses.png", "checkpoint.npz"):
        assert (tmp_path / name).exists()


def test_cyclegan_smoke_cuda(tmp_path, cuda):
    smoke("cyclegan.py", tmp_path, cuda, "--lambda-identity", "0.5",
          on_cuda=("--batch-size", "4", "--test-scenes", "4"))


def test_cyclegan_runs_with_the_papers_resnet_generator(tmp_path):
    metrics = run(["--out", str(tmp_path), "--smoke", "--generator", "resnet", "--blocks", "1"])
    assert metrics["generator"] == "resnet" and 0.0 <= metrics["fcn_score"] <= 1.0
    model = td.load(tmp_path / "checkpoint.npz")["model"]
    # ResnetGenerator's layers are one Sequential, G.model.k; the U-Net's would be G.encoder.k and G.decoder.k
    assert any(name.startswith("G.model.") for name in model)
    assert not any(name.startswith("G.encoder.") for name in model)


def test_the_two_domains_come_from_different_scenes():
    """Each epoch's label images are the label maps of one half of its scenes, its scene images the other half,
    each half shuffled: every x is some first-half label map, every y some second-half image, and no y is the
    image of any scene whose label map is among the x."""
    module = example_module("cyclegan.py")
    args = type("Args", (), {"seed": 3, "scenes_per_epoch": 24})()
    x, y = module["unpaired_domains"](args, epoch=5)
    assert x.shape == y.shape == (24, 3, 32, 32)
    scenes = make_shapes(48, image_size=32, seed=(3, 0, 5))
    first = module["label_images"](scenes.masks[:24]).reshape(24, -1)
    second = (scenes.images[24:] * 2 - 1).reshape(24, -1)
    paired_images = (scenes.images[:24] * 2 - 1).reshape(24, -1)
    match = lambda a, b: (np.abs(a[:, None] - b[None]).max(-1) < 1e-6)  # noqa: E731  (24, 24) equal rows
    assert match(x.reshape(24, -1), first).any(1).all()
    assert match(y.reshape(24, -1), second).any(1).all()
    assert not match(y.reshape(24, -1), paired_images).any()
    assert not np.array_equal(x, module["label_images"](scenes.masks[:24]))  # shuffled, not in scene order


def test_label_images_read_back_to_their_classes():
    module = example_module("cyclegan.py")
    masks = make_shapes(6, image_size=32, seed=(0, 9)).masks
    images = module["label_images"](masks)
    assert images.shape == (6, 3, 32, 32) and images.min() >= -1 and images.max() <= 1
    np.testing.assert_array_equal(module["labels_of"](images), masks)
    noisy = images + np.random.default_rng(0).uniform(-0.3, 0.3, images.shape)  # nearest colour still wins
    np.testing.assert_array_equal(module["labels_of"](noisy), masks)


@pytest.mark.parametrize("identity, terms", [("0", {"G GAN", "F GAN", "cycle", "D_X", "D_Y"}),
                                             ("0.5", {"G GAN", "F GAN", "cycle", "identity", "D_X", "D_Y"})])
def test_cyclegan_trains_its_terms(tmp_path, identity, terms):
    run(["--out", str(tmp_path), "--smoke", "--lambda-identity", identity])
    progress = td.load(tmp_path / "checkpoint.npz")["progress"]
    assert set(progress["losses"]) == terms
    assert all(len(values) == 2 for values in progress["losses"].values())
    assert {name: state["count"] for name, state in progress["pools"].items()} == {"x": 32, "y": 32}


def test_generator_step_terms_by_hand():
    """With G and F the identity, the cycle and identity terms are exactly 0 (F(G(x)) = x, G(y) = y), and the GAN
    terms are D's least-squares distances from "real" on x and y themselves."""
    module = example_module("cyclegan.py")
    td.manual_seed(0)
    model = module["CycleGAN"]("unet", 4, 1, 4, 1)
    model.G, model.F = nn.Identity(), nn.Identity()
    x = td.tensor(module["label_images"](make_shapes(4, image_size=32, seed=(0, 5)).masks))
    y = td.tensor(make_shapes(4, image_size=32, seed=(0, 6)).images * 2 - 1)
    args = type("Args", (), {"lambda_cycle": 10.0, "lambda_identity": 0.5})()
    optimizer = optim.SGD(list(model.D_X.parameters()), lr=0.0)  # G and F have no weights left to step
    terms, fake_x, fake_y = module["generator_step"](args, model, optimizer, x, y)
    np.testing.assert_allclose([terms["cycle"].item(), terms["identity"].item()], [0.0, 0.0], rtol=0, atol=1e-7)
    with td.no_grad():
        expected = [((model.D_Y(x).numpy() - 1) ** 2).mean(), ((model.D_X(y).numpy() - 1) ** 2).mean()]
    np.testing.assert_allclose([terms["G GAN"].item(), terms["F GAN"].item()], expected, rtol=1e-5, atol=1e-7)


def test_discriminator_step_leaves_the_generators_alone():
    """D's step changes D_X and D_Y only (the fakes reach it detached, through the pools), and asks each pool
    once."""
    module = example_module("cyclegan.py")
    args = type("Args", (), {"seed": 0, "generator": "unet", "width": 4, "blocks": 1, "disc_width": 4,
                             "disc_layers": 1, "lr": 1e-3, "pool_size": 8, "device": "cpu"})()
    model, optimizers, pools = module["build"](args)
    x = td.tensor(module["label_images"](make_shapes(4, image_size=32, seed=(0, 5)).masks))
    y = td.tensor(make_shapes(4, image_size=32, seed=(0, 6)).images * 2 - 1)
    fake_y, fake_x = model.G(x), model.F(y)                       # with their graphs, as generator_step returns them
    before = {name: value.copy() for name, value in model.state_dict().items()}
    module["discriminator_step"](args, model, optimizers["discriminators"], pools, x, y, fake_x, fake_y)
    after = model.state_dict()
    for name, value in before.items():
        changed = not np.array_equal(after[name], value)
        assert changed == name.startswith("D_"), name
    assert all(p.grad is None for p in list(model.G.parameters()) + list(model.F.parameters()))
    assert (pools["x"].queries, pools["y"].queries) == (1, 1)


def test_cyclegan_max_minutes_stops_after_the_first_epoch(tmp_path):
    metrics = run(["--out", str(tmp_path), "--smoke", "--epochs", "2", "--max-minutes", "0"])
    assert (metrics["epochs"], metrics["steps"], metrics["stopped_early"]) == (1, 2, True)


def test_cyclegan_resume_continues_exactly(tmp_path):
    """Three epochs in one go, or a run killed after its second checkpoint and then --resume: the same loss
    curves, FCN-scores and weights.  With a pool of 40 and 32 fakes an epoch per domain, the pools fill during
    the second epoch and swap during the third, so the resumed run must have restored them."""
    args = ["--smoke", "--epochs", "3", "--eval-every", "1", "--pool-size", "40"]
    run(["--out", str(tmp_path / "once"), *args])
    saves = run_killed(cyclegan_main(), ["--out", str(tmp_path / "twice"), *args], after=2)
    assert [(progress["epoch"], progress["pools"]["y"]["count"]) for progress in saves] == [(1, 32), (2, 40)]
    run(["--out", str(tmp_path / "twice"), *args, "--resume"])
    once, twice = (json.loads(Path(tmp_path, name, "metrics.json").read_text()) for name in ("once", "twice"))
    for key in ("fcn_score", "pixel_accuracy", "labels_accuracy", "fcn_score_history", "epochs", "steps"):
        assert twice[key] == once[key], key
    assert len(once["fcn_score_history"]) == 3
    a, b = (td.load(Path(tmp_path, name, "checkpoint.npz")) for name in ("once", "twice"))
    assert a["progress"]["losses"] == b["progress"]["losses"]
    for key, value in a["model"].items():
        np.testing.assert_array_equal(b["model"][key], value, err_msg=key)
    for name in ("x", "y"):
        np.testing.assert_array_equal(b["progress"]["pools"][name]["images"], a["progress"]["pools"][name]["images"])


@pytest.mark.parametrize("option, value, message", [("--pool-size", "-1", "--pool-size must be >= 0, got -1"),
                                                    ("--decay-from", "1", "--decay-from must be in [0, 1), got 1.0"),
                                                    ("--blocks", "0", "--blocks must be positive, got 0")])
def test_cyclegan_refuses_bad_options_by_name(tmp_path, capsys, option, value, message):
    with pytest.raises(SystemExit):
        run(["--out", str(tmp_path), "--smoke", option, value])
    assert message in capsys.readouterr().err
