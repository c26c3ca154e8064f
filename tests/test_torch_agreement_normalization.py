"""Normalization against PyTorch, in float64, to 1e-8: values, gradients (input, weight, bias),
second derivatives, running statistics over several training steps, and checkpoints.

PyTorch is used here only as a reference; tinydl never imports it.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinydl as td  # noqa: E402
import tinydl.functional as F  # noqa: E402
import tinydl.nn as nn  # noqa: E402
import torch.nn.functional as TF  # noqa: E402

RTOL, ATOL = 1e-8, 1e-10


def close(actual, expected, what):
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=what)


def randn(*shape, seed=0, scale=1.0, shift=0.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale + shift


def positive(*shape, seed=0):
    return np.random.default_rng(seed).uniform(0.5, 2.0, shape)


def agree(td_fn, torch_fn, arrays, seed=0):
    """Both functions on the same float64 leaves: the outputs, then the gradient of every input
    for one random upstream gradient, then (create_graph) a second derivative."""
    xs_td = [td.tensor(a, requires_grad=True) for a in arrays]
    xs_t = [torch.tensor(a, requires_grad=True) for a in arrays]
    y_td, y_t = td_fn(*xs_td), torch_fn(*xs_t)
    assert tuple(y_td.shape) == tuple(y_t.shape)
    close(y_td.detach().numpy(), y_t.detach().numpy(), "forward values")

    upstream = np.random.default_rng(seed + 1).standard_normal(tuple(y_t.shape))
    grads_td = td.grad(y_td, xs_td, td.tensor(upstream), create_graph=True)
    grads_t = torch.autograd.grad(y_t, xs_t, torch.tensor(upstream), create_graph=True)
    for i, (g_td, g_t) in enumerate(zip(grads_td, grads_t)):
        close(g_td.detach().numpy(), g_t.detach().numpy(), f"gradient of input {i}")

    # second derivatives: differentiate <gradients, v> once more w.r.t. every input
    vs = [np.random.default_rng(seed + 2 + i).standard_normal(a.shape) for i, a in enumerate(arrays)]
    total_td = sum((g * td.tensor(v)).sum() for g, v in zip(grads_td, vs))
    total_t = sum((g * torch.tensor(v)).sum() for g, v in zip(grads_t, vs))
    second_t = torch.autograd.grad(total_t, xs_t, allow_unused=True) if total_t.requires_grad else [None] * len(xs_t)
    if not total_td.requires_grad:  # tinydl found the gradient constant (an affine op): its derivative is 0
        second_td = [None] * len(xs_td)
    else:
        second_td = td.grad(total_td, xs_td, allow_unused=True)
    for i, (h_td, h_t) in enumerate(zip(second_td, second_t)):
        expected = np.zeros(arrays[i].shape) if h_t is None else h_t.numpy()
        actual = np.zeros(arrays[i].shape) if h_td is None else h_td.numpy()
        close(actual, expected, f"second derivative w.r.t. input {i}")


# ---- functional ------------------------------------------------------------------
BATCH_SHAPES = [(6, 3), (4, 3, 5), (4, 3, 3, 2)]


@pytest.mark.parametrize("shape", BATCH_SHAPES, ids=str)
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_batch_norm(shape, affine, training):
    c = shape[1]
    x = randn(*shape, scale=2.0, shift=1.0)
    arrays = [x, randn(c, seed=1), randn(c, seed=2)] if affine else [x]
    mean, var = randn(c, seed=3), positive(c, seed=4)
    stats = {}

    def run(lib, x, *wb):
        as_tensor = td.tensor if lib == "td" else torch.tensor
        stats[lib] = (as_tensor(mean.copy()), as_tensor(var.copy()))
        fn = F.batch_norm if lib == "td" else TF.batch_norm
        return fn(x, *stats[lib], *wb, training=training, momentum=0.3, eps=1e-3)

    agree(lambda *a: run("td", *a), lambda *a: run("torch", *a), arrays)
    for ours, theirs, name in zip(stats["td"], stats["torch"], ["running_mean", "running_var"]):
        close(ours.numpy(), theirs.numpy(), name)


@pytest.mark.parametrize(
    "shape, normalized", [((4, 5), (5,)), ((2, 3, 4), (4,)), ((2, 3, 4), (3, 4)), ((2, 2, 3, 3), (2, 3, 3))], ids=str
)
@pytest.mark.parametrize("affine", ["both", "weight", "none"])
def test_layer_norm(shape, normalized, affine):
    arrays = [randn(*shape, scale=3.0)]
    if affine in ("both", "weight"):
        arrays.append(randn(*normalized, seed=1))
    if affine == "both":
        arrays.append(randn(*normalized, seed=2))
    agree(lambda *a: F.layer_norm(a[0], normalized, *a[1:], eps=1e-4),
          lambda *a: TF.layer_norm(a[0], normalized, *a[1:], eps=1e-4), arrays)


@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 3, 4, 3)], ids=str)
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
def test_instance_norm(shape, affine):
    c = shape[1]
    arrays = [randn(*shape, shift=2.0), randn(c, seed=1), randn(c, seed=2)] if affine else [randn(*shape, shift=2.0)]
    def ours(x, weight=None, bias=None):
        return F.instance_norm(x, 1e-3, weight=weight, bias=bias)

    def theirs(x, weight=None, bias=None):
        return TF.instance_norm(x, None, None, weight, bias, eps=1e-3)

    agree(ours, theirs, arrays)


@pytest.mark.parametrize("use_input_stats", [True, False])
def test_instance_norm_running_stats(use_input_stats):
    x = randn(3, 2, 4, 4, shift=1.0, scale=2.0)
    ours = (td.tensor(randn(2, seed=5)), td.tensor(positive(2, seed=6)))
    theirs = (torch.tensor(randn(2, seed=5)), torch.tensor(positive(2, seed=6)))
    y = F.instance_norm(
        td.tensor(x), running_mean=ours[0], running_var=ours[1], use_input_stats=use_input_stats, momentum=0.2
    )
    y_t = TF.instance_norm(torch.tensor(x), *theirs, use_input_stats=use_input_stats, momentum=0.2)
    close(y.numpy(), y_t.numpy(), "forward values")
    close(ours[0].numpy(), theirs[0].numpy(), "running_mean")
    close(ours[1].numpy(), theirs[1].numpy(), "running_var")


def adain_torch(content, style, eps):
    """AdaIN written directly in PyTorch: biased variance over H, W for content and style."""
    def stats(t):
        return t.mean(dim=(2, 3), keepdim=True), (t.var(dim=(2, 3), unbiased=False, keepdim=True) + eps).sqrt()

    mu_c, sigma_c = stats(content)
    mu_s, sigma_s = stats(style)
    return sigma_s * (content - mu_c) / sigma_c + mu_s


@pytest.mark.parametrize("style_shape", [(2, 3, 4, 4), (2, 3, 2, 5), (1, 3, 3, 3)], ids=str)
def test_adaptive_instance_norm(style_shape):
    content, style = randn(2, 3, 4, 4, shift=1.0), randn(*style_shape, seed=1, scale=0.5, shift=-2.0)
    agree(lambda c, s: F.adaptive_instance_norm(c, s, eps=1e-5), lambda c, s: adain_torch(c, s, 1e-5), [content, style])


# ---- modules: several training steps, then evaluation -----------------------------------
def converted(module):
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize(
    "kind, shape", [("BatchNorm1d", (5, 3)), ("BatchNorm1d", (4, 3, 6)), ("BatchNorm2d", (4, 3, 3, 3))]
)
def test_batch_norm_module_running_statistics_over_training_steps(kind, shape, momentum):
    ours = getattr(nn, kind)(3, momentum=momentum).double()
    theirs = getattr(torch.nn, kind)(3, momentum=momentum).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(randn(3, seed=10)))
        theirs.bias.copy_(torch.tensor(randn(3, seed=11)))
    ours.load_state_dict(converted(theirs), strict=True)
    for step in range(4):
        x = randn(*shape, seed=20 + step, scale=1 + step, shift=step - 1.0)
        g = randn(*shape, seed=40 + step)
        x_td, x_t = td.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y_td, y_t = ours(x_td), theirs(x_t)
        close(y_td.detach().numpy(), y_t.detach().numpy(), f"step {step}: output")
        y_td.backward(td.tensor(g))
        y_t.backward(torch.tensor(g))
        close(x_td.grad.numpy(), x_t.grad.numpy(), f"step {step}: input gradient")
    close(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), "weight gradient (summed over steps)")
    close(ours.bias.grad.numpy(), theirs.bias.grad.numpy(), "bias gradient (summed over steps)")
    state, expected = ours.state_dict(), converted(theirs)
    assert list(state) == list(expected)
    for key in ("running_mean", "running_var"):
        close(state[key], expected[key], key)
    assert state["num_batches_tracked"] == expected["num_batches_tracked"] == 4
    assert state["num_batches_tracked"].dtype == expected["num_batches_tracked"].dtype == np.int64

    ours.eval(), theirs.eval()
    x = randn(*shape, seed=99)
    close(ours(td.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(), "evaluation output")
    assert ours.state_dict()["num_batches_tracked"] == 4  # evaluation does not count


@pytest.mark.parametrize(
    "ours, theirs, shape",
    [
        (lambda: nn.BatchNorm2d(4), lambda: torch.nn.BatchNorm2d(4), (2, 4, 3, 3)),
        (lambda: nn.BatchNorm1d(4, affine=False), lambda: torch.nn.BatchNorm1d(4, affine=False), (3, 4)),
        (lambda: nn.LayerNorm((3, 3)), lambda: torch.nn.LayerNorm((3, 3)), (2, 4, 3, 3)),
        (lambda: nn.LayerNorm(3, bias=False), lambda: torch.nn.LayerNorm(3, bias=False), (2, 4, 3, 3)),
        (
            lambda: nn.InstanceNorm2d(4, affine=True, track_running_stats=True),
            lambda: torch.nn.InstanceNorm2d(4, affine=True, track_running_stats=True),
            (2, 4, 3, 3),
        ),
    ],
    ids=["BatchNorm2d", "BatchNorm1d-plain", "LayerNorm", "LayerNorm-no-bias", "InstanceNorm2d-tracked"],
)
def test_a_pytorch_state_dict_loads_strictly(ours, theirs, shape):
    reference = theirs().double()
    torch.manual_seed(0)
    with torch.no_grad():  # non-trivial values in every entry, so a wrong key or copy would show
        for t in reference.state_dict().values():
            if t.dtype.is_floating_point:
                t.copy_(torch.rand(t.shape, dtype=t.dtype) + 0.5)
            else:
                t.fill_(7)
    reference.train()
    x = randn(*shape)
    reference(torch.tensor(x))  # one training step moves the running statistics
    model = ours().double()
    model.load_state_dict(converted(reference), strict=True)
    state, expected = model.state_dict(), converted(reference)
    assert list(state) == list(expected)
    for key in expected:
        np.testing.assert_array_equal(state[key], expected[key], err_msg=key)
        assert state[key].dtype == expected[key].dtype, key
    model.eval(), reference.eval()
    close(model(td.tensor(x)).detach().numpy(), reference(torch.tensor(x)).detach().numpy(), "evaluation output")


def test_pytorchs_default_initialization_and_keys():
    for ours, theirs in [
        (nn.BatchNorm1d(5), torch.nn.BatchNorm1d(5)),
        (nn.BatchNorm2d(5, track_running_stats=False), torch.nn.BatchNorm2d(5, track_running_stats=False)),
        (nn.LayerNorm((2, 5)), torch.nn.LayerNorm((2, 5))),
        (nn.InstanceNorm2d(5), torch.nn.InstanceNorm2d(5)),
    ]:
        state, expected = ours.state_dict(), converted(theirs)
        assert list(state) == list(expected), type(ours).__name__
        for key in expected:
            np.testing.assert_array_equal(state[key], expected[key], err_msg=key)
            assert state[key].dtype == expected[key].dtype, key
        assert repr(ours) == repr(theirs)
