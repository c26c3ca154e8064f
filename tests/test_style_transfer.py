"""Style transfer (issue 18): the texture and content generators, AdaIN's statistics and its alpha
trade-off, the Gram matrix by hand, float64 gradchecks of a tiny encoder/decoder and of both style losses,
the shipped encoder and judges, and examples/style_transfer.py (smoke on both devices, --resume exactly)."""
import sys
from pathlib import Path

import numpy as np
import pytest

import tinydl as td
import tinydl.functional as F
from test_examples import EXAMPLES, example_module, smoke
from tinydl.data import SHAPE_CLASSES, TEXTURE_CLASSES, make_content, make_textured_shapes, make_textures
from tinydl.models import AdaINStyleTransfer, gatys_transfer, gram_matrix
from tinydl.models.style_transfer import Decoder, Encoder, gram_style_loss, mean_std, style_loss


# ---- data -----------------------------------------------------------------------------------------------------
def test_textures_are_determined_by_the_seed_and_differ_between_seeds():
    a, b, c = make_textures(20, seed=3), make_textures(20, seed=3), make_textures(20, seed=4)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.allclose(a.images, c.images)
    assert a.images.shape == (20, 3, 32, 32) and a.images.dtype == np.float32 and a.labels.dtype == np.int64
    assert a.images.min() >= 0 and a.images.max() <= 1


def test_content_and_textured_shapes_are_determined_by_the_seed():
    np.testing.assert_array_equal(make_content(10, seed=1).images, make_content(10, seed=1).images)
    first, second = make_textured_shapes(10, seed=2), make_textured_shapes(10, seed=2)
    for x, y in zip(first, second):
        np.testing.assert_array_equal(x, y)
    assert set(make_content(60, seed=0).labels) == set(range(len(SHAPE_CLASSES)))


def test_texture_classes_have_their_orientation():
    """Horizontal stripes vary along y only, vertical ones along x only (before the noise)."""
    t = make_textures(6, labels=[0, 0, 0, 1, 1, 1], noise=0.0, seed=0).images
    assert np.abs(np.diff(t[:3], axis=3)).max() < 1e-6 and np.abs(np.diff(t[:3], axis=2)).max() > 0.1
    assert np.abs(np.diff(t[3:], axis=2)).max() < 1e-6 and np.abs(np.diff(t[3:], axis=3)).max() > 0.1


def test_make_textures_errors():
    with pytest.raises(ValueError, match="make_textures: labels"):
        make_textures(3, labels=[0, 1, len(TEXTURE_CLASSES)])
    with pytest.raises(ValueError, match="make_textures: frequency_range"):
        make_textures(3, frequency_range=(0, 2))


# ---- AdaIN, the Gram matrix and the losses ---------------------------------------------------------------------
def test_adain_output_has_the_style_channel_statistics(device):
    gen = np.random.default_rng(0)
    content = td.tensor(gen.normal(2.0, 3.0, size=(2, 4, 5, 6)), device=device)
    style = td.tensor(gen.normal(-1.0, 0.5, size=(2, 4, 7, 3)) * gen.uniform(0.5, 2, size=(2, 4, 1, 1)),
                      device=device)
    out = F.adaptive_instance_norm(content, style, eps=0.0).numpy()
    s = style.numpy()
    np.testing.assert_allclose(out.mean(axis=(2, 3)), s.mean(axis=(2, 3)), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(out.std(axis=(2, 3)), s.std(axis=(2, 3)), rtol=1e-6, atol=1e-9)


def tiny_net(dtype=td.float32, seed=0):
    td.manual_seed(seed)
    net = AdaINStyleTransfer(Encoder(width=2, num_classes=3, image_size=8), Decoder(width=2))
    return net.to(dtype)


def test_alpha_endpoints(device):
    """alpha = 0 decodes the content's own features f(c); alpha = 1 the AdaIN target."""
    net = tiny_net().to(device)
    gen = np.random.default_rng(1)
    c = td.tensor(gen.uniform(size=(2, 3, 8, 8)).astype(np.float32), device=device)
    s = td.tensor(gen.uniform(size=(2, 3, 8, 8)).astype(np.float32), device=device)
    with td.no_grad():
        f_c = net.encoder.features(c)["relu3_1"]
        f_s = net.encoder.features(s)["relu3_1"]
        np.testing.assert_allclose(net.target(c, s, alpha=0.0).numpy(), f_c.numpy(), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(net.target(c, s, alpha=1.0).numpy(),
                                   F.adaptive_instance_norm(f_c, f_s).numpy(), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(net(c, s, alpha=0.0).numpy(), net.decoder(f_c).numpy(), rtol=1e-5, atol=1e-6)
        half = net.target(c, s, alpha=0.5).numpy()
        np.testing.assert_allclose(half, 0.5 * f_c.numpy() + 0.5 * F.adaptive_instance_norm(f_c, f_s).numpy(),
                                   rtol=1e-5, atol=1e-6)
    assert net(c, s).shape == (2, 3, 8, 8)


def test_gram_matrix_by_hand(device):
    x = np.array([[[[1.0, 2.0], [0.0, -1.0]], [[3.0, 0.0], [1.0, 1.0]]]])  # (1, 2, 2, 2)
    # channel 0 = (1, 2, 0, -1), channel 1 = (3, 0, 1, 1): G = [[6, 2], [2, 11]] / (C H W = 8)
    expected = np.array([[[6.0, 2.0], [2.0, 11.0]]]) / 8
    np.testing.assert_allclose(gram_matrix(td.tensor(x, device=device)).numpy(), expected, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match=r"gram_matrix: x must be \(N, C, H, W\), got shape \(2, 3\)"):
        gram_matrix(td.tensor(np.zeros((2, 3))))


def test_mean_std_by_hand():
    x = td.tensor(np.array([[[[1.0, 3.0], [5.0, 7.0]]]]))
    mu, sigma = mean_std(x, eps=0.0)
    np.testing.assert_allclose(mu.numpy(), [[4.0]], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sigma.numpy(), [[np.sqrt(5.0)]], rtol=1e-12, atol=1e-12)


def test_gradcheck_tiny_encoder_and_decoder():
    net = tiny_net(td.float64)
    gen = np.random.default_rng(2)
    x = td.tensor(gen.uniform(size=(1, 3, 8, 8)), requires_grad=True)
    t = td.tensor(gen.normal(size=(1, 8, 2, 2)), requires_grad=True)
    assert td.gradcheck(lambda x: net.encoder.features(x)["relu2_1"].sum() + (net.encoder(x) ** 2).sum(), (x,))
    assert td.gradcheck(lambda t: net.decoder(t), (t,))
    # and with respect to the decoder's weights
    weight = net.decoder.block2[0].weight
    assert td.gradcheck(lambda w: net.decoder(t.detach()), (weight,))


def test_gradcheck_the_adain_loss_and_the_gram_style_loss():
    net = tiny_net(td.float64)
    gen = np.random.default_rng(3)
    c = td.tensor(gen.uniform(size=(2, 3, 8, 8)))
    s = td.tensor(gen.uniform(size=(2, 3, 8, 8)))
    weight = net.decoder.block1[2].weight
    assert td.gradcheck(lambda w: net.loss(c, s, style_weight=2.0)[0], (weight,))
    phi_s = {k: v.detach() for k, v in net.encoder.features(s[:1, :, :4, :4]).items()}  # 4x4: a faster check
    grams = {k: gram_matrix(v) for k, v in phi_s.items()}
    x = td.tensor(gen.uniform(size=(1, 3, 4, 4)), requires_grad=True)
    assert td.gradcheck(lambda x: style_loss(net.encoder.features(x), phi_s), (x,))
    assert td.gradcheck(lambda x: gram_style_loss(net.encoder.features(x), grams), (x,))


def test_the_encoder_is_frozen_and_the_decoder_learns():
    net = tiny_net()
    gen = np.random.default_rng(4)
    c, s = (td.tensor(gen.uniform(size=(2, 3, 8, 8)).astype(np.float32)) for _ in range(2))
    L, L_c, L_s = net.loss(c, s)
    L.backward()
    assert all(p.grad is None for p in net.encoder.parameters())
    assert all(p.grad is not None for p in net.decoder.parameters())
    np.testing.assert_allclose(L.item(), L_c.item() + 10.0 * L_s.item(), rtol=1e-5)


def test_gatys_lowers_the_gram_style_loss_and_keeps_pixels_in_range():
    net = tiny_net()
    gen = np.random.default_rng(5)
    c, s = (td.tensor(gen.uniform(size=(2, 3, 8, 8)).astype(np.float32)) for _ in range(2))
    grams = {k: gram_matrix(v) for k, v in net.encoder.features(s).items()}
    x, history = gatys_transfer(net.encoder, c, s, steps=30, lr=0.01, style_weight=1e4)
    with td.no_grad():
        before = gram_style_loss(net.encoder.features(c), grams).item()
        after = gram_style_loss(net.encoder.features(x), grams).item()
    assert after < 0.5 * before and history[-1] < history[0]
    out = x.numpy()
    assert out.shape == (2, 3, 8, 8) and out.min() >= 0 and out.max() <= 1


def test_shape_errors_name_the_function():
    net = tiny_net()
    with pytest.raises(ValueError, match=r"AdaINStyleTransfer: content and style .* got \(2, 3, 8, 8\) and "
                                         r"\(3, 3, 8, 8\)"):
        net(td.zeros(2, 3, 8, 8), td.zeros(3, 3, 8, 8))


# ---- the shipped networks ---------------------------------------------------------------------------------------
def test_shipped_encoder_and_judges_load_and_classify_fresh_images():
    module = example_module("train_style_encoder.py")
    encoder = module["load_encoder"]()
    shape_judge, texture_judge = module["load_judges"]()
    x, y = module["encoder_batch"](300, 4242)
    assert module["accuracy"](encoder, x, y) >= 0.85
    x, y = module["shape_judge_batch"](300, 4243)
    assert module["accuracy"](shape_judge, x, y) >= 0.93  # held-out 0.9635 when trained
    x, y = module["texture_judge_batch"](300, 4244)
    assert module["accuracy"](texture_judge, x, y) >= 0.9
    assert sum(Path(p).stat().st_size for p in (module["ENCODER_PATH"], module["SHAPE_JUDGE_PATH"],
                                                 module["TEXTURE_JUDGE_PATH"])) < 1_000_000


def test_shipped_judges_need_both_the_shape_and_the_texture():
    """Constructed images: the texture alone leaves the shape judge near chance (1/3), the shape alone the texture
    judge near chance (1/5); the shape cut out of the texture, whatever the outside, scores high on both
    (measured on these 300 images: 0.36 and 0.18; the constructed pairs 0.94-1.00 on both)."""
    module = example_module("train_style_encoder.py")
    probes = module["judge_probes"](*module["load_judges"](), n=300, seed=951)
    assert probes["style only"][0] <= 0.5 and probes["content"][1] <= 0.35
    assert probes["content"][0] >= 0.95 and probes["style only"][1] >= 0.95
    for name in ("inside style, outside grey", "inside style, outside darker", "inside style, outside inverted"):
        assert min(probes[name]) >= 0.9, (name, probes[name])


# ---- the example ------------------------------------------------------------------------------------------------
def test_style_transfer_smoke(tmp_path, device):
    metrics = smoke("style_transfer.py", tmp_path, device, on_cuda=("--test-pairs", "4"))
    assert metrics["epochs"] == 1 and metrics["stopped_early"] is False
    assert 0 <= metrics["content_accuracy"] <= 1 and 0 <= metrics["style_accuracy"] <= 1
    assert metrics["speedup_vs_gatys"] > 0
    for name in ("style_grid.png", "style_alpha.png", "style_vs_gatys.png", "loss.png"):
        assert (tmp_path / name).stat().st_size > 0


def test_style_transfer_resume_continues_exactly(tmp_path):
    """Two epochs in one go, or stopped by --max-minutes after the first and then --resume for the second:
    the same losses, step by step, and the same decoder weights."""
    main = example_module("style_transfer.py")["main"]
    sys.path.insert(0, str(EXAMPLES))
    try:
        main(["--out", str(tmp_path / "once"), "--smoke", "--epochs", "2"])
        first = main(["--out", str(tmp_path / "twice"), "--smoke", "--epochs", "2", "--max-minutes", "0"])
        main(["--out", str(tmp_path / "twice"), "--smoke", "--epochs", "2", "--resume"])
    finally:
        sys.path.remove(str(EXAMPLES))
    assert first["stopped_early"] is True and first["epochs"] == 1
    once, twice = (td.load(Path(tmp_path, name, "checkpoint.npz")) for name in ("once", "twice"))
    assert twice["progress"]["epoch"] == 2 and twice["progress"]["step"] == once["progress"]["step"] == 4
    assert list(twice["progress"]["loss"]["L"]) == list(once["progress"]["loss"]["L"])
    for key, value in once["model"].items():
        np.testing.assert_array_equal(twice["model"][key], value, err_msg=key)
