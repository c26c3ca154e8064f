"""The spatial transformer example: its cluttered-digits data (tinydl/data/cluttered_digits.py), the
transformer and the ST-CNN (tinydl/models/stn.py), and examples/train_stn.py's smoke and --resume runs
(docs/spatial.md, section 10)."""
import json

import numpy as np
import pytest

import tinydl as td
from tinydl import functional as F
from tinydl.data import cluttered_digits, load_digits, make_cluttered_digits
from tinydl.data.digits import Split
from tinydl.models import STN, DigitCNN, SpatialTransformer
from tinydl.models.stn import TRANSFORMS, compose_theta, transform_theta

from test_examples import run_example, smoke

EXAMPLE = "train_stn.py"


# ---- the data ---------------------------------------------------------------------------------
def test_cluttered_digits_shapes_types_and_ranges():
    data = make_cluttered_digits(30, "train", canvas=32, sizes=(10, 16), clutter=3, seed=0)
    assert data.images.shape == (30, 1, 32, 32) and data.images.dtype == np.float32
    assert data.images.min() >= 0 and data.images.max() <= 1 and data.images.max() > 0.5
    assert data.labels.shape == (30,) and data.labels.dtype == np.int64 and set(data.labels) <= set(range(10))
    assert data.theta.shape == (30, 2, 3) and data.theta.dtype == np.float32
    assert data.centres.shape == (30, 2) and data.sizes.shape == data.angles.shape == (30,)
    assert data.clutter_index.shape == (30, 3)
    assert np.all((data.sizes >= 10) & (data.sizes <= 16)) and np.all(np.abs(data.angles) <= 45)


def test_cluttered_digits_are_deterministic_by_seed():
    a, b = (make_cluttered_digits(20, "train", seed=[3, 1]) for _ in range(2))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    other = make_cluttered_digits(20, "train", seed=[3, 2])  # the next epoch: other images
    assert not np.array_equal(a.images, other.images) and not np.array_equal(a.digit_index, other.digit_index)


def test_the_drawn_digit_is_grid_sample_of_theta_and_lies_inside_the_canvas():
    """Without clutter each image is exactly F.grid_sample of its 8x8 digit on F.affine_grid(theta), and the
    corners of the turned digit square are all on the canvas (nothing of the digit is cut off)."""
    canvas = 40
    data = make_cluttered_digits(200, "test", canvas=canvas, clutter=0, seed=5)
    digits = load_digits().x_test[data.digit_index]  # (200, 1, 8, 8)
    drawn = F.grid_sample(td.tensor(digits), F.affine_grid(td.tensor(data.theta), (200, 1, canvas, canvas)))
    np.testing.assert_allclose(data.images, drawn.numpy(), atol=1e-5, rtol=1e-5)
    angle = np.deg2rad(data.angles)[:, None]
    half = data.sizes[:, None] / 2
    signs = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]])  # the square's corners, before turning
    x = data.centres[:, :1] + half * (np.cos(angle) * signs[:, 0] + np.sin(angle) * signs[:, 1])  # (200, 4)
    y = data.centres[:, 1:] + half * (-np.sin(angle) * signs[:, 0] + np.cos(angle) * signs[:, 1])
    assert np.all((x >= -1e-9) & (x <= canvas + 1e-9) & (y >= -1e-9) & (y <= canvas + 1e-9))
    # the digit's ink is all there: the same digits drawn in the middle of a canvas twice as large
    middle = make_cluttered_digits(200, "test", canvas=2 * canvas, clutter=0, seed=5)
    np.testing.assert_array_equal(middle.digit_index, data.digit_index)
    np.testing.assert_allclose(data.images.sum((1, 2, 3)), (data.sizes / middle.sizes) ** 2
                               * middle.images.sum((1, 2, 3)), rtol=0.03)


def test_clutter_only_adds_ink_and_is_made_of_pieces():
    clean = make_cluttered_digits(50, "train", clutter=0, seed=7)
    cluttered = make_cluttered_digits(50, "train", clutter=4, seed=7)  # the same digits (drawn first)
    assert np.all(cluttered.images >= clean.images - 1e-6)
    extra = (cluttered.images > clean.images + 1e-3).sum((1, 2, 3))  # pixels the clutter lit
    assert np.all(extra > 0)
    digit = (clean.images > 1e-3).sum((1, 2, 3))  # pixels the digit lit
    assert np.median(extra) < np.median(digit)  # four 3x3-pixel pieces together light less than one digit


def test_train_and_test_images_come_from_disjoint_digit_images(monkeypatch):
    """The split's digit images are disjoint, and each split draws digits AND clutter only from its own:
    with the other split's images blanked out, every canvas is unchanged; with its own blanked, black."""
    real = load_digits()
    flat_train, flat_test = real.x_train.reshape(len(real.x_train), -1), real.x_test.reshape(len(real.x_test), -1)
    assert not (np.abs(flat_test[:, None] - flat_train[None]).sum(-1) == 0).any()  # no test image is a train one
    reference = {split: make_cluttered_digits(40, split, seed=11) for split in ("train", "test")}
    for blank in ("train", "test"):
        images = {"train": real.x_train * (blank != "train"), "test": real.x_test * (blank != "test")}
        fake = Split(images["train"], real.y_train, images["test"], real.y_test)
        monkeypatch.setattr(cluttered_digits, "load_digits", lambda: fake)
        for split in ("train", "test"):
            images_now = make_cluttered_digits(40, split, seed=11).images
            if split == blank:
                assert images_now.max() == 0
            else:
                np.testing.assert_array_equal(images_now, reference[split].images)


def test_make_cluttered_digits_checks_its_arguments():
    with pytest.raises(ValueError, match="make_cluttered_digits: split"):
        make_cluttered_digits(4, "validation")
    with pytest.raises(ValueError, match="make_cluttered_digits: sizes"):
        make_cluttered_digits(4, canvas=20, sizes=(10, 16))  # a turned 16-pixel digit does not fit in 20
    with pytest.raises(ValueError, match="make_cluttered_digits: fragment"):
        make_cluttered_digits(4, fragment=9)


# ---- the model --------------------------------------------------------------------------------
def test_spatial_transformer_starts_as_the_identity_map(device):
    """At initialisation theta is the identity for any input, so the output is the input resampled on the
    identity grid: the input itself at the same size, its 2x2 means at half the size."""
    td.manual_seed(0)
    x = td.tensor(np.random.default_rng(0).random((3, 1, 16, 16)).astype(np.float32), device=device)
    same = SpatialTransformer(image_size=16, out_size=16).to(device)
    with td.no_grad():
        output, theta = same.transform(x)
    np.testing.assert_allclose(theta.numpy(), np.tile([[1, 0, 0], [0, 1, 0]], (3, 1, 1)), atol=1e-7, rtol=0)
    np.testing.assert_allclose(output.numpy(), x.numpy(), atol=1e-6, rtol=1e-6)
    half = SpatialTransformer(image_size=16, out_size=8).to(device)
    identity = td.tensor(np.tile(np.float32([[1, 0, 0], [0, 1, 0]]), (3, 1, 1)), device=device)
    with td.no_grad():
        output = half(x).numpy()
    expected = F.grid_sample(x, F.affine_grid(identity, (3, 1, 8, 8))).numpy()
    np.testing.assert_allclose(output, expected, atol=1e-6, rtol=1e-6)
    means = x.numpy().reshape(3, 1, 8, 2, 8, 2).mean((3, 5))
    np.testing.assert_allclose(output, means, atol=1e-6, rtol=1e-5)


def test_spatial_transformer_gradcheck_reaches_the_localization_net():
    """float64, tiny sizes, the regression layer moved off its zero initialisation (at zero weights no
    gradient passes it to the layers before): the gradients of the image and of every parameter check."""
    td.manual_seed(0)
    transformer = SpatialTransformer(image_size=8, out_size=5, width=2, hidden=4).double()
    rng = np.random.default_rng(0)
    transformer.localization.regressor.weight.data[...] = rng.normal(0, 0.3, (6, 4))
    x = td.tensor(rng.random((2, 1, 8, 8)), requires_grad=True)
    parameters = list(transformer.parameters())
    assert td.gradcheck(lambda x, *p: transformer(x), [x, *parameters])
    transformer.zero_grad()
    (transformer(x) ** 2).sum().backward()
    first_conv = transformer.localization.features[0].weight
    assert np.abs(first_conv.grad.numpy()).max() > 0  # the loss reaches the first layer of f_loc


@pytest.mark.parametrize("transform", ["similarity", "attention"])
def test_restricted_transforms_start_as_the_identity_map(transform, device):
    """The similarity and attention parameterisations start at the identity too (log s = 0, angle 0, t = 0):
    theta is the identity for any input and the output at the input's size is the input."""
    td.manual_seed(0)
    x = td.tensor(np.random.default_rng(2).random((3, 1, 16, 16)).astype(np.float32), device=device)
    transformer = SpatialTransformer(image_size=16, out_size=16, transform=transform).to(device)
    assert transformer.localization.regressor.weight.shape == (len(TRANSFORMS[transform]), 32)
    with td.no_grad():
        output, theta = transformer.transform(x)
    np.testing.assert_allclose(theta.numpy(), np.tile([[1, 0, 0], [0, 1, 0]], (3, 1, 1)), atol=1e-7, rtol=0)
    np.testing.assert_allclose(output.numpy(), x.numpy(), atol=1e-6, rtol=1e-6)


def test_transform_theta_builds_the_scaled_rotation_and_shift():
    """theta = [[s cos a, -s sin a, t_x], [s sin a, s cos a, t_y]] for the similarity, [[s, 0, t_x], [0, s, t_y]]
    for the attention window, the affine parameters as they are."""
    log_s, angle, tx, ty = np.log(0.5), np.pi / 6, 0.25, -0.4
    s, c, si = 0.5, np.cos(np.pi / 6), np.sin(np.pi / 6)
    similarity = transform_theta(td.tensor(np.array([[log_s, angle, tx, ty]])), "similarity").numpy()
    np.testing.assert_allclose(similarity[0], [[s * c, -s * si, tx], [s * si, s * c, ty]], atol=1e-12, rtol=1e-12)
    attention = transform_theta(td.tensor(np.array([[log_s, tx, ty]])), "attention").numpy()
    np.testing.assert_allclose(attention[0], [[s, 0, tx], [0, s, ty]], atol=1e-12, rtol=1e-12)
    affine = np.arange(6.0)[None]
    np.testing.assert_array_equal(transform_theta(td.tensor(affine), "affine").numpy(), affine.reshape(1, 2, 3))
    with pytest.raises(ValueError, match="transform_theta: transform must be one of"):
        transform_theta(td.tensor(affine), "projective")
    with pytest.raises(ValueError, match="LocalizationNet: transform must be one of"):
        SpatialTransformer(image_size=8, transform="projective")


@pytest.mark.parametrize("transform", ["similarity", "attention"])
def test_restricted_transforms_gradcheck(transform):
    """float64: the gradients through transform_theta (exp, cos, sin, stack) and the whole transformer check."""
    rng = np.random.default_rng(3)
    params = td.tensor(rng.normal(0, 0.5, (3, len(TRANSFORMS[transform]))), requires_grad=True)
    assert td.gradcheck(lambda p: transform_theta(p, transform), [params])
    td.manual_seed(0)
    transformer = SpatialTransformer(image_size=8, out_size=5, width=2, hidden=4, transform=transform).double()
    regressor = transformer.localization.regressor
    regressor.weight.data[...] = rng.normal(0, 0.3, regressor.weight.shape)  # off zero, so f_loc gets gradients
    x = td.tensor(rng.random((2, 1, 8, 8)), requires_grad=True)
    assert td.gradcheck(lambda x, *p: transformer(x), [x, *transformer.parameters()])


def test_compose_theta_is_the_product_of_the_3x3_maps():
    """theta_1 o theta_2 = the top two rows of [[theta_1], [0 0 1]] [[theta_2], [0 0 1]], for random maps."""
    rng = np.random.default_rng(4)
    theta_1, theta_2 = rng.normal(size=(5, 2, 3)), rng.normal(size=(5, 2, 3))
    bottom = np.tile([[[0.0, 0.0, 1.0]]], (5, 1, 1))
    expected = (np.concatenate([theta_1, bottom], 1) @ np.concatenate([theta_2, bottom], 1))[:, :2]
    composed = compose_theta(td.tensor(theta_1), td.tensor(theta_2)).numpy()
    np.testing.assert_allclose(composed, expected, atol=1e-12, rtol=1e-12)


def test_sampling_once_through_the_composed_map_equals_sampling_twice():
    """A hand-made case where every grid point lands on a pixel centre, so that bilinear sampling is exact:
    theta_1 turns by 90 degrees and shifts 2 pixels right, theta_2 mirrors left-right and shifts 1 pixel up.
    Sampling x through theta_1 and the result through theta_2 is sampling x once through theta_1 o theta_2
    (zeros where a shift reads off the image, in both)."""
    size = 8
    x = td.tensor(np.random.default_rng(5).random((2, 1, size, size)))
    pixel = 2.0 / size  # one pixel in normalized coordinates
    theta_1 = td.tensor(np.tile([[[0.0, -1.0, 2 * pixel], [1.0, 0.0, 0.0]]], (2, 1, 1)))
    theta_2 = td.tensor(np.tile([[[-1.0, 0.0, 0.0], [0.0, 1.0, -pixel]]], (2, 1, 1)))
    shape = (2, 1, size, size)
    twice = F.grid_sample(F.grid_sample(x, F.affine_grid(theta_1, shape)), F.affine_grid(theta_2, shape))
    once = F.grid_sample(x, F.affine_grid(compose_theta(theta_1, theta_2), shape))
    np.testing.assert_allclose(once.numpy(), twice.numpy(), atol=1e-12, rtol=0)
    assert np.abs(twice.numpy()).sum() > 0.5 * np.abs(x.numpy()).sum()  # most of the image is still there


def test_coarse_to_fine_transformer_starts_as_the_identity_map(device):
    """Two and three stages, each identity-initialised: theta is the identity and the output is the input."""
    td.manual_seed(0)
    x = td.tensor(np.random.default_rng(6).random((3, 1, 16, 16)).astype(np.float32), device=device)
    for stages, transform in ((2, "similarity"), (3, "affine")):
        transformer = SpatialTransformer(image_size=16, out_size=16, transform=transform, stages=stages).to(device)
        assert len(transformer.refinements) == stages - 1
        with td.no_grad():
            output, theta = transformer.transform(x)
        np.testing.assert_allclose(theta.numpy(), np.tile([[1, 0, 0], [0, 1, 0]], (3, 1, 1)), atol=1e-7, rtol=0)
        np.testing.assert_allclose(output.numpy(), x.numpy(), atol=1e-6, rtol=1e-6)
    with pytest.raises(ValueError, match="SpatialTransformer: stages must be >= 1"):
        SpatialTransformer(image_size=16, out_size=12, stages=2)  # the second stage reads a 12x12 output


def test_coarse_to_fine_transformer_gradcheck():
    """float64: compose_theta's gradients, and the whole two-stage transformer's, regressors moved off zero
    so that both localization nets get gradients; the loss reaches stage 1 through stage 2's input too."""
    rng = np.random.default_rng(7)
    theta_1, theta_2 = (td.tensor(rng.normal(size=(2, 2, 3)), requires_grad=True) for _ in range(2))
    assert td.gradcheck(compose_theta, [theta_1, theta_2])
    td.manual_seed(0)
    transformer = SpatialTransformer(image_size=8, out_size=8, width=2, hidden=4, transform="similarity",
                                     stages=2).double()
    for f_loc in (transformer.localization, transformer.refinements[0]):
        f_loc.regressor.weight.data[...] = rng.normal(0, 0.3, f_loc.regressor.weight.shape)
    x = td.tensor(rng.random((2, 1, 8, 8)), requires_grad=True)
    stage_1, stage_2 = transformer.localization, transformer.refinements[0]
    parameters = [stage_1.features[0].weight, stage_1.regressor.weight, stage_2.features[0].weight,
                  stage_2.regressor.weight]  # each stage's first and last layer (all of them: 6 s more)
    assert td.gradcheck(lambda x, *p: transformer(x), [x, *parameters])


def test_stn_and_baseline_classify_with_the_same_cnn(device):
    """The same conv layers; the fully connected layer's inputs follow the image size (4 width (S / 8)^2)."""
    td.manual_seed(0)
    stn, cnn = STN(image_size=16, out_size=8, width=4), DigitCNN(image_size=16, width=4)
    assert [p.shape for p in stn.classifier.features.parameters()] == [p.shape for p in cnn.features.parameters()]
    assert stn.classifier.classifier[1].weight.shape == (10, 16 * 1 * 1)
    assert cnn.classifier[1].weight.shape == (10, 16 * 2 * 2)
    x = td.tensor(np.random.default_rng(1).random((2, 1, 16, 16)).astype(np.float32), device=device)
    with td.no_grad():
        assert stn.to(device)(x).shape == cnn.to(device)(x).shape == (2, 10)
    message = r"SpatialTransformer: x must have shape \(N, C, 16, 16\), got \(2, 1, 8, 8\)"
    with pytest.raises(ValueError, match=message):
        stn(td.tensor(np.zeros((2, 1, 8, 8), np.float32), device=device))


# ---- the example ------------------------------------------------------------------------------
def test_train_stn_smoke(tmp_path, device):
    metrics = smoke(EXAMPLE, tmp_path, device, on_cuda=("--width", "4"))
    assert 0 <= metrics["error"] <= 1 and 0 <= metrics["baseline_error"] <= 1
    assert metrics["epochs"] == 2 and metrics["stopped_early"] is False
    for name in ("rectified.png", "curves.png", "checkpoint.npz"):
        assert (tmp_path / name).stat().st_size > 0


def test_train_stn_resumes_exactly(tmp_path):
    """Stopped after one epoch (--max-minutes 0) and resumed, a run takes the same steps, with the same
    losses, as one that was never interrupted."""
    args = ("--width", "4")
    run_example(EXAMPLE, tmp_path / "straight", *args)
    run_example(EXAMPLE, tmp_path / "resumed", *args, "--max-minutes", "0")
    stopped = json.loads((tmp_path / "resumed" / "metrics.json").read_text())
    assert stopped["stopped_early"] is True and stopped["epochs"] == 1
    run_example(EXAMPLE, tmp_path / "resumed", *args, "--resume")
    straight, resumed = (td.load(tmp_path / run / "checkpoint.npz")["progress"] for run in ("straight", "resumed"))
    assert resumed["step"] == straight["step"] == 4
    for key in ("stn", "baseline"):
        np.testing.assert_allclose(resumed["loss"][key], straight["loss"][key], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(resumed["val_error"][key], straight["val_error"][key], rtol=0, atol=1e-12)
    finished = json.loads((tmp_path / "resumed" / "metrics.json").read_text())
    assert finished["stopped_early"] is False and finished["epochs"] == 2
    assert finished["error"] == json.loads((tmp_path / "straight" / "metrics.json").read_text())["error"]
