"""Issue 19, the silently wrong bad inputs of losses, optimizers, grid_sample and the RoI ops:
each now raises one clear error naming the op, the argument and the shapes, or gives PyTorch's
answer where PyTorch accepts the input.  One small test per case; each docstring names it.

The tinydl tests need no torch; the ``*_like_torch`` tests compare with PyTorch where it is installed.
"""
import math
import tracemalloc

import numpy as np
import pytest

import tinydl as td
import tinydl.functional as F
from tinydl import optim
from helpers import host, leaf

NAN, INF = float("nan"), float("inf")


# ---- losses ------------------------------------------------------------------
def _logits_and_target(device):
    rng = np.random.default_rng(0)
    return leaf(rng.standard_normal((4, 3)), device), td.tensor(np.array([0, 1, 2, 0]), device=device)


@pytest.mark.parametrize("op", ["cross_entropy", "nll_loss"])
def test_class_weight_of_shape_C_1_is_refused(op, device):
    """Case: F.cross_entropy(..., weight=(C, 1) tensor) ignored the weight; nll_loss likewise."""
    logits, target = _logits_and_target(device)
    weight = td.tensor(np.array([[1.0], [2.0], [3.0]]), device=device)
    with pytest.raises(ValueError, match=rf"{op}: weight must have shape \(C,\) = \(3,\).*\(4, 3\).*\(3, 1\)"):
        getattr(F, op)(logits, target, weight=weight)


def test_class_weight_with_probability_targets_is_checked(device):
    """Case: cross_entropy with probability targets reshaped a (C, 1) weight to (1, C) silently."""
    logits, _ = _logits_and_target(device)
    probabilities = td.tensor(np.full((4, 3), 1 / 3), device=device)
    with pytest.raises(ValueError, match=r"cross_entropy: weight must have shape \(C,\).*\(3, 1\)"):
        F.cross_entropy(logits, probabilities, weight=td.tensor(np.ones((3, 1)), device=device))


@pytest.mark.parametrize("op, name", [
    ("binary_cross_entropy", "weight"),
    ("binary_cross_entropy_with_logits", "weight"),
    ("binary_cross_entropy_with_logits", "pos_weight"),
])
def test_bce_weight_that_enlarges_the_loss_is_refused(op, name, device):
    """Case: a (2, N, C) weight / pos_weight broadcast the (N, C) loss into a (2, N, C) one."""
    p = leaf(np.full((4, 3), 0.3), device)
    t = td.tensor(np.full((4, 3), 0.5), device=device)
    message = rf"{op}: {name} of shape \(2, 4, 3\) does not broadcast to the input's shape \(4, 3\)"
    with pytest.raises(ValueError, match=message):
        getattr(F, op)(p, t, reduction="none", **{name: td.tensor(np.ones((2, 4, 3)), device=device)})
    # a weight that broadcasts without enlarging the loss is still fine
    assert getattr(F, op)(p, t, reduction="none", **{name: td.tensor(np.ones((4, 1)), device=device)}).shape == (4, 3)


@pytest.mark.parametrize("delta", [-1.0, 0.0, NAN])
def test_huber_loss_refuses_non_positive_delta(delta, device):
    """Case: F.huber_loss(..., delta=-1) returned a negative loss."""
    x, y = leaf(np.zeros(3), device), td.tensor(np.array([0.5, 2.0, -3.0]), device=device)
    with pytest.raises(ValueError, match=r"huber_loss: delta must be positive, got"):
        F.huber_loss(x, y, delta=delta)


@pytest.mark.parametrize("beta", [-1.0, NAN])
def test_smooth_l1_loss_refuses_negative_beta(beta, device):
    """Case (analogous to huber's delta): smooth_l1_loss with beta < 0 gave a negative loss; beta = 0 is L1."""
    x, y = leaf(np.zeros(3), device), td.tensor(np.array([0.5, 2.0, -3.0]), device=device)
    with pytest.raises(ValueError, match=r"smooth_l1_loss: beta must be >= 0, got"):
        F.smooth_l1_loss(x, y, beta=beta)
    assert host(F.smooth_l1_loss(x, y, beta=0.0)) == pytest.approx(11 / 6, rel=1e-12, abs=1e-12)


def test_loss_argument_checks_like_torch():
    """The loss cases above: PyTorch refuses each of them too (and accepts beta = 0)."""
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    logits, target = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    p, t = torch.full((4, 3), 0.3), torch.full((4, 3), 0.5)
    refused = [
        lambda: tf.cross_entropy(logits, target, weight=torch.ones(3, 1)),
        lambda: tf.nll_loss(logits, target, weight=torch.ones(3, 1)),
        lambda: tf.cross_entropy(logits, torch.full((4, 3), 1 / 3), weight=torch.ones(3, 1)),
        lambda: tf.binary_cross_entropy(p, t, weight=torch.ones(2, 4, 3)),
        lambda: tf.binary_cross_entropy_with_logits(p, t, weight=torch.ones(2, 4, 3)),
        lambda: tf.binary_cross_entropy_with_logits(p, t, pos_weight=torch.ones(2, 4, 3)),
        lambda: tf.huber_loss(p, t, delta=-1.0),
        lambda: tf.huber_loss(p, t, delta=0.0),
        lambda: tf.smooth_l1_loss(p, t, beta=-1.0),
    ]
    for call in refused:
        with pytest.raises(RuntimeError):
            call()
    tf.smooth_l1_loss(p, t, beta=0.0)


# ---- optimizers ----------------------------------------------------------------
OPTIMIZERS = [(optim.SGD, {"lr": 0.1}), (optim.Adam, {}), (optim.AdamW, {})]


def _param(device, shape=(3,)):
    return leaf(np.ones(shape), device)


@pytest.mark.parametrize("cls, kwargs", OPTIMIZERS)
def test_parameter_in_two_groups_is_refused(cls, kwargs, device):
    """Case: a parameter listed in two param groups was stepped twice (PyTorch raises ValueError)."""
    w = _param(device)
    with pytest.raises(ValueError, match=rf"{cls.__name__}: some parameters appear in more than one parameter group"):
        cls([{"params": [w]}, {"params": [w], "lr": 0.01}], **kwargs)
    opt = cls([w], **kwargs)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [w]})
    with pytest.raises(ValueError, match="lists the same parameter twice"):
        cls([w, w], **kwargs)


@pytest.mark.parametrize("cls, kwargs", OPTIMIZERS)
def test_gradient_of_another_shape_is_refused(cls, kwargs, device):
    """Case: a (1,) .grad was broadcast onto a (3,) parameter by the optimizer."""
    w = _param(device)
    opt = cls([w], **kwargs)
    # refused at step(), or already at the assignment (where PyTorch refuses it, with a RuntimeError)
    with pytest.raises((ValueError, RuntimeError), match=r"(?s)(?=.*\(3,\))(?=.*\(1,\))"):
        w.grad = td.tensor(np.ones(1), device=device)
        opt.step()
    np.testing.assert_array_equal(host(w), np.ones(3))


@pytest.mark.parametrize("cls, kwargs, message", [
    (optim.SGD, {"lr": NAN}, "SGD: Invalid learning rate: nan"),
    (optim.SGD, {"lr": -1}, "SGD: Invalid learning rate: -1"),
    (optim.SGD, {"lr": 0.1, "weight_decay": NAN}, "SGD: Invalid weight_decay value: nan"),
    (optim.SGD, {"lr": 0.1, "momentum": NAN}, "SGD: Invalid momentum value: nan"),
    (optim.Adam, {"lr": NAN}, "Adam: Invalid learning rate: nan"),
    (optim.Adam, {"weight_decay": NAN}, "Adam: Invalid weight_decay value: nan"),
    (optim.Adam, {"weight_decay": -1}, "Adam: Invalid weight_decay value: -1"),
    (optim.Adam, {"eps": -1e-8}, "Adam: Invalid epsilon value: -1e-08"),
    (optim.Adam, {"betas": (1.0, 0.999)}, "Adam: Invalid beta parameter at index 0: 1.0"),
    (optim.AdamW, {"betas": (0.9, NAN)}, "AdamW: Invalid beta parameter at index 1: nan"),
])
def test_invalid_hyper_parameters_are_refused(cls, kwargs, message, device):
    """Case: lr=nan (and weight_decay=nan) was accepted and the next step made every parameter NaN;
    also PyTorch's other constructor checks (negative lr / weight decay, eps < 0, betas outside [0, 1))."""
    with pytest.raises(ValueError, match=f"^{message}$"):
        cls([_param(device)], **kwargs)


def test_invalid_group_learning_rate_is_refused(device):
    """Case: lr=nan given to one parameter group only."""
    with pytest.raises(ValueError, match="^SGD: Invalid learning rate: nan$"):
        optim.SGD([{"params": [_param(device)], "lr": NAN}], lr=0.1)


def test_sgd_lr_none_is_a_clear_type_error(device):
    """Case: SGD(lr=None) raised a cryptic comparison error."""
    with pytest.raises(TypeError, match="^SGD: lr must be a real number, got None$"):
        optim.SGD([_param(device)], lr=None)


def test_hyper_parameter_messages_like_torch():
    """PyTorch's messages for the same bad values are part of ours (where PyTorch checks them)."""
    torch = pytest.importorskip("torch")
    w = torch.nn.Parameter(torch.ones(3))
    cases = [
        (torch.optim.SGD, optim.SGD, {"lr": -1}),
        (torch.optim.SGD, optim.SGD, {"lr": 0.1, "momentum": -1}),
        (torch.optim.Adam, optim.Adam, {"lr": NAN}),
        (torch.optim.Adam, optim.Adam, {"weight_decay": NAN}),
        (torch.optim.Adam, optim.Adam, {"eps": -1.0}),
        (torch.optim.AdamW, optim.AdamW, {"betas": (0.9, 1.0)}),
    ]
    for torch_cls, cls, kwargs in cases:
        with pytest.raises(ValueError) as theirs:
            torch_cls([w], **kwargs)
        with pytest.raises(ValueError) as ours:
            cls([_param("cpu")], **kwargs)
        assert str(theirs.value) in str(ours.value)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        torch.optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)


def _adam_checkpoint(device):
    w = _param(device)
    opt = optim.Adam([w])
    w.grad = td.tensor(np.full(3, 0.5), device=device)
    opt.step()
    return opt.state_dict()


def test_load_state_dict_refuses_state_of_the_wrong_shape(device):
    """Case: Adam.load_state_dict accepted state of the wrong shape and failed at step()."""
    checkpoint = _adam_checkpoint(device)
    checkpoint["state"][0]["exp_avg"] = np.ones(5)
    w = _param(device)
    opt = optim.Adam([w])
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: state 'exp_avg' of parameter 0 .*\(3,\), got \(5,\)"):
        opt.load_state_dict(checkpoint)
    assert opt.state == {}  # nothing was half loaded
    w.grad = td.tensor(np.ones(3), device=device)
    opt.step()


def test_load_state_dict_refuses_a_scalar_buffer(device):
    """Case: a 0-d exp_avg for a (3,) parameter was loaded as a number, broadcast silently at step()."""
    checkpoint = _adam_checkpoint(device)
    checkpoint["state"][0]["exp_avg_sq"] = np.float64(0.25)
    with pytest.raises(ValueError, match=r"state 'exp_avg_sq' of parameter 0 .*\(3,\), got \(\)"):
        optim.Adam([_param(device)]).load_state_dict(checkpoint)


def test_load_state_dict_refuses_an_unknown_parameter_and_a_nan_lr(device):
    """Case: state for a parameter index the optimizer lacks (a raw IndexError), or lr=nan in a checkpoint."""
    checkpoint = _adam_checkpoint(device)
    checkpoint["state"][3] = checkpoint["state"].pop(0)
    with pytest.raises(ValueError, match="state for parameter 3, this optimizer has 1 parameters"):
        optim.Adam([_param(device)]).load_state_dict(checkpoint)
    checkpoint = _adam_checkpoint(device)
    checkpoint["param_groups"][0]["lr"] = NAN
    with pytest.raises(ValueError, match="Adam: Invalid learning rate: nan"):
        optim.Adam([_param(device)]).load_state_dict(checkpoint)


# ---- grid_sample ---------------------------------------------------------------
IMAGE = np.arange(1.0, 13.0).reshape(1, 1, 3, 4)
POINTS = [(INF, INF), (-INF, -INF), (NAN, NAN), (INF, NAN), (0.3, 0.2)]


def _expected_reads(padding_mode):
    """The pixel each non-finite point reads: none under 'zeros'; under 'border' inf clamps to the
    last pixel and -inf / NaN to the first; 'reflection' folds them all onto the first (PyTorch)."""
    first, last = IMAGE[0, 0, 0, 0], IMAGE[0, 0, -1, -1]
    return {
        "zeros": [0.0, 0.0, 0.0, 0.0],
        "border": [last, first, first, IMAGE[0, 0, 0, -1]],
        "reflection": [first, first, first, first],
    }[padding_mode]


@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_non_finite_grid(padding_mode, mode, align_corners, device):
    """Case: grid_sample with an inf grid gave NaN where PyTorch gives 0 ('zeros'), and NaN or 0 where
    PyTorch reads an edge pixel ('border', 'reflection'); the gradients stay finite."""
    x = leaf(IMAGE, device)
    grid = leaf(np.array(POINTS).reshape(1, 1, len(POINTS), 2), device)
    y = F.grid_sample(x, grid, mode=mode, padding_mode=padding_mode, align_corners=align_corners)
    np.testing.assert_array_equal(host(y)[0, 0, 0, :4], _expected_reads(padding_mode))
    assert np.isfinite(host(y)).all()
    y.sum().backward()
    assert np.isfinite(host(x.grad)).all() and np.isfinite(host(grid.grad)).all()
    np.testing.assert_array_equal(host(grid.grad)[0, 0, :4], 0.0)  # the points do not move under a nudge


def test_grid_sample_non_finite_grid_like_torch():
    """PyTorch's answers for the same points (its CPU kernel gives NaN for bilinear 'zeros', its CUDA
    kernel 0 as tinydl does, so that one combination is left out)."""
    torch = pytest.importorskip("torch")
    grid = np.array(POINTS).reshape(1, 1, len(POINTS), 2)
    for padding_mode in ["zeros", "border", "reflection"]:
        for mode in ["bilinear", "nearest"]:
            if (padding_mode, mode) == ("zeros", "bilinear"):
                continue
            for align_corners in [False, True]:
                args = dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners)
                theirs = torch.nn.functional.grid_sample(torch.tensor(IMAGE), torch.tensor(grid), **args).numpy()
                ours = host(F.grid_sample(td.tensor(IMAGE), td.tensor(grid), **args))
                np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


# ---- RoI ops ---------------------------------------------------------------------
def _torchvision_roi_align_1d(start, bin_size, grid, out, size):
    """A (out, size) by torchvision's loop, one sample at a time: row p averages the linear
    interpolation weights of bin p's ``grid`` samples (its border rules included)."""
    a = np.zeros((out, size))
    for p in range(out):
        for i in range(grid):
            t = start + p * bin_size + (i + 0.5) * bin_size / grid
            if t < -1 or t > size:
                continue
            t = max(t, 0.0)
            low = int(t)
            if low >= size - 1:
                a[p, size - 1] += 1
                continue
            a[p, low] += 1 - (t - low)
            a[p, low + 1] += t - low
    return a / max(grid, 1)


def test_roi_align_box_larger_than_the_image_reads_only_the_image(device):
    """Case: roi_align's samples off the image; skipping them keeps torchvision's values exactly."""
    x = np.random.default_rng(1).standard_normal((1, 2, 9, 11))
    box = [0, -3000.3, -2000.7, 4000.2, 10.5]  # [batch, x1, y1, x2, y2]
    y = F.roi_align(leaf(x, device), td.tensor(np.array([box]), device=device), (3, 4))
    roi_w, roi_h = box[3] - box[1], box[4] - box[2]
    a_y = _torchvision_roi_align_1d(box[2], roi_h / 3, math.ceil(roi_h / 3), 3, 9)
    a_x = _torchvision_roi_align_1d(box[1], roi_w / 4, math.ceil(roi_w / 4), 4, 11)
    np.testing.assert_allclose(host(y)[0], a_y @ x[0] @ a_x.T, rtol=1e-10, atol=1e-12)


def test_roi_align_huge_box_memory_follows_the_image():
    """Case: roi_align with one 1e9-pixel box tried to allocate 1.9 GiB (its sample grid followed the
    box); a 1e7-pixel box here took ~400 MB, now a few kB, like any box the image's size."""
    x = td.tensor(np.random.default_rng(2).random((1, 2, 16, 16)).astype(np.float32))
    boxes = td.tensor(np.array([[0, 0, 0, 1e7, 1e7], [0, -1e9, -1e9, 1e9, 1e9]], dtype=np.float32))
    tracemalloc.start()
    try:
        y = F.roi_align(x, boxes, 7)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20
    assert y.shape == (2, 2, 7, 7) and np.isfinite(host(y)).all()


def test_roi_align_refuses_an_absurd_sample_count(device):
    """Case: a 1e30 box's adaptive sample count overflowed int64 (output 0); a sampling_ratio of 1e9
    would allocate gigabytes. Both are refused, naming the op, the box and the count."""
    x = leaf(np.ones((1, 1, 8, 8)), device)
    box = r"box 0 \[0.0, 0.0, 0.0, 1e\+30, 1e\+30\]"
    with pytest.raises(ValueError, match=rf"roi_align: {box} would need .* samples per bin"):
        F.roi_align(x, td.tensor(np.array([[0, 0, 0, 1e30, 1e30]]), device=device), 2)
    with pytest.raises(ValueError, match=r"roi_align: box 0 .* would read 2 x 1000000000 sample positions along y"):
        F.roi_align(x, td.tensor(np.array([[0, 0, 0, 4.0, 4.0]]), device=device), 2, sampling_ratio=10**9)


def test_roi_pool_huge_box(kernels, device):
    """Case: roi_pool cast a 1e30 box corner to int64 (overflow: garbage bins). Its first bin now covers
    the whole image (the max of each channel) and the others lie off it (0)."""
    x = np.random.default_rng(3).random((1, 2, 5, 6))
    y = host(F.roi_pool(leaf(x, device), td.tensor(np.array([[0, 0, 0, 1e30, 1e30]]), device=device), 3))
    expected = np.zeros((1, 2, 3, 3))
    expected[0, :, 0, 0] = x[0].max(axis=(1, 2))
    np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("op", ["roi_pool", "roi_align"])
def test_boxes_that_overflow_spatial_scale_are_refused(op, device):
    """Case: boxes times spatial_scale past the dtype's range became inf, then NaN bins."""
    x = td.tensor(np.ones((1, 1, 4, 4), dtype=np.float32), device=device)
    boxes = td.tensor(np.array([[0, 0, 0, 3e38, 3e38]], dtype=np.float32), device=device)
    with pytest.raises(ValueError, match=rf"{op}: boxes times spatial_scale=4.0 overflow float32"):
        getattr(F, op)(x, boxes, 2, spatial_scale=4.0)
