"""tinydl.models.UNet: shapes, what each upsampling really does, the skips, gradients, errors, the example."""
import json

import numpy as np
import pytest

import tinydl as td
import tinydl.functional as F
from tinydl import nn
from tinydl.models import UNet
from tinydl.models.unet import ContextBlock

from test_examples import run_example

VARIANTS = [(u, d) for u in ("transpose", "unpool", "bilinear") for d in (False, True)]


class Recorder(nn.Module):
    """Wraps a module, remembers its input and output (the output's gradient is kept after backward)."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        self.input = x
        self.output = self.inner(x)
        self.output.retain_grad()
        return self.output


@pytest.mark.parametrize("upsampling, dilated", VARIANTS)
def test_output_is_one_logit_per_class_and_pixel(upsampling, dilated):
    td.manual_seed(0)
    model = UNet(in_channels=2, num_classes=5, width=4, depth=2, upsampling=upsampling, dilated_bottleneck=dilated)
    assert model(td.randn(3, 2, 16, 24)).shape == (3, 5, 16, 24)
    model.eval()
    assert model(td.randn(1, 2, 8, 8)).shape == (1, 5, 8, 8)


def test_unpool_puts_each_value_at_its_encoder_argmax():
    """In the unpool variant, the upsampled half of every decoder block's input is zero except at the
    argmax of each 2x2 window of the encoder map of that level (the skip in the other half)."""
    td.manual_seed(0)
    model = UNet(width=4, depth=2, upsampling="unpool")
    model.context = Recorder(model.context)  # the bottleneck's output, which the deepest decoder level upsamples
    for up in model.decoder:
        up.block = Recorder(up.block)
    model(td.rand(2, 3, 16, 16))
    for k, up in enumerate(model.decoder):
        c = 4 * 2**k
        joined = up.block.input.detach().numpy()                  # (N, 2c, H, W): [unpooled, skip]
        unpooled, skip = joined[:, :c], joined[:, c:]
        _, indices = F.max_pool2d(td.tensor(skip), 2, return_indices=True)
        at_argmax = np.zeros(skip.shape, dtype=bool).reshape(*skip.shape[:2], -1)
        np.put_along_axis(at_argmax, indices.numpy().reshape(*skip.shape[:2], -1), True, axis=2)
        at_argmax = at_argmax.reshape(skip.shape)          # one True per 2x2 window, where its max is
        assert np.all(unpooled[~at_argmax] == 0)
        assert np.count_nonzero(unpooled[at_argmax]) > 0.95 * at_argmax.sum()
        assert not at_argmax[:, :, 0::2, 0::2].all()       # the maxima are not all top-left: indices matter
        # and the values placed are the 1x1 convolution of the level below, unchanged
        below = up.up(model.decoder[k + 1].block.output if k + 1 < model.depth else model.context.output)
        placed = np.sort(unpooled[at_argmax].reshape(-1))
        np.testing.assert_allclose(placed, np.sort(below.detach().numpy().reshape(-1)), rtol=1e-6, atol=1e-7)


def test_skip_carries_gradient_to_pixels_the_pooling_drops():
    """Max-pooling sends gradient only to the argmax of each window, so the other 3 of every 4
    pixels of the first encoder block's output get gradient only through the skip connection."""
    td.manual_seed(0)
    model = UNet(width=4, depth=2)
    first = model.encoder[0]
    first.body = Recorder(first.body)
    logits = model(td.rand(2, 3, 16, 16))
    F.cross_entropy(logits, td.tensor(np.random.default_rng(0).integers(0, 4, (2, 16, 16)))).backward()
    features, grad = first.body.output.detach(), first.body.output.grad.numpy()  # (2, 4, 16, 16)
    _, indices = F.max_pool2d(features, 2, return_indices=True)
    dropped = np.ones(grad.shape, dtype=bool).reshape(*grad.shape[:2], -1)
    np.put_along_axis(dropped, indices.numpy().reshape(*grad.shape[:2], -1), False, axis=2)
    dropped = dropped.reshape(grad.shape)
    active = features.numpy() > 0  # ReLU outputs: a zero pixel passes no gradient back either way
    assert np.count_nonzero(grad[dropped & active]) > 0.9 * np.count_nonzero(dropped & active)


def test_context_block_widens_the_receptive_field_by_twice_the_sum_of_dilations():
    """Dilations 1, 2, 4: an output pixel sees a (1 + 2 (1 + 2 + 4)) = 15 pixel wide square of the input."""
    block = ContextBlock(2).double().eval()
    for m in block.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.constant_(m.weight, 0.1)  # positive weights on a positive input: every ReLU passes
    x = td.tensor(np.random.default_rng(0).uniform(0.5, 1.0, (1, 2, 31, 31)), requires_grad=True)
    block.body(x)[0, :, 15, 15].sum().backward()
    rows, cols = np.nonzero(np.abs(x.grad.numpy()).sum((0, 1)))
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (8, 22, 8, 22)
    assert block.receptive_field_growth() == 14


def receptive_field(model, size=128):
    """Width in pixels of the largest input region that one output pixel depends on (where its gradient
    is non-zero), over the 2**depth positions of a pixel within the coarsest pooling cell. Positive
    weights on a positive input keep every ReLU on, so no path is cut off by chance."""
    model = model.double().eval()
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.constant_(m.weight, 0.3)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    x = td.tensor(np.random.default_rng(0).uniform(0.5, 1.0, (1, 3, size, size)), requires_grad=True)
    logits = model(x)
    widths = []
    for p in range(size // 2, size // 2 + 2**model.depth):
        (g,) = td.grad(logits[0, :, p, p].sum(), x, retain_graph=True)
        rows = np.nonzero(np.abs(g.numpy()).sum((0, 1, 3)))[0]
        widths.append(rows.max() - rows.min() + 1)
    return max(widths)


def test_receptive_field_of_a_depth_2_unet_and_what_the_context_block_adds():
    """docs/segmentation.md: depth 2 sees 44 pixels (1 + 4 + 1 + 8 + 2 + 16 down, + 8 + 4 up); the context
    block at the bottleneck (stride 4) adds 2 (1 + 2 + 4) * 4 = 56."""
    assert receptive_field(UNet(width=1, depth=2)) == 44
    assert receptive_field(UNet(width=1, depth=2, dilated_bottleneck=True)) == 44 + 56


@pytest.mark.parametrize("upsampling, dilated, size", [("transpose", False, 8), ("unpool", False, 8),
                                                     ("bilinear", False, 8), ("transpose", True, 16)])
def test_gradcheck_tiny_unet(upsampling, dilated, size):
    """Every weight and the input, in float64, in training mode: batch norm then normalizes with the
    batch's own statistics (the graph training differentiates), so each logit depends on both images.
    Running statistics are updated by every call but do not enter the output in training mode.
    Depth 1 keeps the check to seconds; with the context block the input is 16x16, so that the
    bottleneck (8x8) is wide enough for the dilation-4 taps to reach real pixels, not only padding."""
    td.manual_seed(0)
    model = UNet(in_channels=2, num_classes=3, width=2, depth=1, upsampling=upsampling,
                 dilated_bottleneck=dilated).double()
    x = td.tensor(np.random.default_rng(1).standard_normal((2, 2, size, size)), requires_grad=True)
    # gradcheck perturbs each input's data in place, the parameters included, and model(x) reads them
    assert td.gradcheck(lambda x, *weights: model(x), [x, *model.parameters()])


def test_bad_input_and_arguments_raise_clear_errors():
    model = UNet(width=4, depth=3)
    with pytest.raises(ValueError, match=r"UNet: H and W must be divisible by 2\*\*depth = 8.*\(2, 3, 20, 16\)"):
        model(td.randn(2, 3, 20, 16))
    with pytest.raises(ValueError, match=r"UNet: expected input \(N, 3, H, W\), got shape \(2, 1, 16, 16\)"):
        model(td.randn(2, 1, 16, 16))
    with pytest.raises(ValueError, match=r"UNet: upsampling must be one of .*'nearest'"):
        UNet(upsampling="nearest")
    with pytest.raises(ValueError, match="UNet: depth, width"):
        UNet(depth=0)


def test_train_unet_smoke(tmp_path):
    run_example("train_unet.py", tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert {"miou", "per_class_iou", "pixel_accuracy", "seconds", "seed", "variant"} <= set(metrics)
    assert metrics["variant"] == "transpose" and metrics["steps"] == 4
    confusion = np.array(metrics["confusion_matrix"])
    assert confusion.shape == (4, 4) and confusion.sum() == metrics["test_scenes"] * 64 * 64
    assert metrics["pixel_accuracy"] == pytest.approx(np.trace(confusion) / confusion.sum())
    per_class = [v for v in metrics["per_class_iou"].values() if v is not None]
    assert list(metrics["per_class_iou"]) == ["background", "circle", "square", "triangle"]
    assert metrics["miou"] == pytest.approx(np.mean(per_class)) and 0 <= metrics["miou"] < 0.9  # 4 steps: not yet
    for name in ("loss.png", "miou.png", "overlays.png", "checkpoint.npz"):
        assert (tmp_path / name).stat().st_size > 0


def test_train_unet_resumes_and_continues_the_history(tmp_path):
    small = ("--epoch-size", "16", "--batch-size", "8", "--test-scenes", "8", "--width", "4")
    run_example("train_unet.py", tmp_path, "--epochs", "2", *small)
    assert td.load(tmp_path / "checkpoint.npz")["progress"]["step"] == 4
    run_example("train_unet.py", tmp_path, "--resume", "--epochs", "3", *small)
    state = td.load(tmp_path / "checkpoint.npz")
    assert state["progress"]["epoch"] == 3 and len(state["progress"]["losses"]) == 6  # continued, not restarted
    assert state["optimizer"]["state"][0]["step"] == 6
    assert json.loads((tmp_path / "metrics.json").read_text())["steps"] == 6


def test_train_unet_compare_smoke(tmp_path):
    run_example("train_unet.py", tmp_path, "--compare", "--width", "4")
    rows = json.loads((tmp_path / "compare.json").read_text())
    names = ["transpose", "unpool", "bilinear", "transpose+dilated", "transpose, depth 2", "transpose+dilated, depth 2"]
    assert [row["variant"] for row in rows] == names
    assert {row["steps"] for row in rows} == {4}  # equal budgets
    assert rows[3]["parameters"] > rows[0]["parameters"] > rows[4]["parameters"]  # context block adds, depth removes
    assert rows[1]["parameters"] == rows[2]["parameters"] < rows[0]["parameters"]  # 1x1 conv vs 2x2 transposed
    table = (tmp_path / "compare.md").read_text().splitlines()
    assert table[2].startswith("| variant | parameters | mIoU |")
    assert [line.split(" | ")[0][2:] for line in table[4:]] == names
    for name, folder in zip(names, ["transpose", "unpool", "bilinear", "transpose_dilated", "transpose_depth_2",
                                    "transpose_dilated_depth_2"]):
        assert json.loads((tmp_path / folder / "metrics.json").read_text())["variant"] == name
        assert (tmp_path / folder / "overlays.png").stat().st_size > 0


def test_train_unet_learning_rate_warms_up_then_decays():
    """Linear warm-up to --lr over --warmup steps (a knife-edge seed fell into a bad minimum without it,
    docs/segmentation.md), then the cosine decay to 0 at the last step."""
    import argparse
    import sys
    from pathlib import Path

    examples = str(Path(__file__).resolve().parent.parent / "examples")
    sys.path.insert(0, examples)
    try:
        import train_unet
    finally:
        sys.path.remove(examples)
    args = argparse.Namespace(lr=3e-3, warmup=4)
    rates = [train_unet.learning_rate(args, step, 100) for step in range(6)]
    np.testing.assert_allclose(rates[:4], [0.75e-3, 1.5e-3, 2.25e-3, 3e-3], rtol=1e-12, atol=0)
    assert rates[4] == pytest.approx(3e-3 * 0.5 * (1 + np.cos(np.pi * 4 / 100)), rel=1e-12, abs=1e-15)
    assert train_unet.learning_rate(args, 100, 100) == pytest.approx(0, abs=1e-15)
    no_warmup = argparse.Namespace(lr=3e-3, warmup=0)
    assert train_unet.learning_rate(no_warmup, 0, 100) == pytest.approx(3e-3, rel=1e-12, abs=0)
