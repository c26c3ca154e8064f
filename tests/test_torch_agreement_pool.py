"""Pooling, unpooling and interpolation agree with PyTorch, in float64, to 1e-8:
values, max-pool indices (ties included), gradients, and second derivatives.

Each case runs the same seeded NumPy input through tinydl and PyTorch, compares
the outputs (and indices), backpropagates one random upstream gradient v through
both, compares the input gradients, then differentiates <gradient, w> with
respect to v (the backward of the backward, what double backward runs).

PyTorch is used here only as a reference; tinydl never imports it.
"""
import itertools
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinydl as td  # noqa: E402
import tinydl.functional as F  # noqa: E402
import torch.nn.functional as TF  # noqa: E402

RTOL, ATOL = 1e-8, 1e-10


def close(actual, expected, what):
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=what)


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def ties(*shape, seed=0, levels=3):
    """Small integers as floats: many exact ties inside every window."""
    return np.random.default_rng(seed).integers(0, levels, shape).astype(np.float64)


def agree(td_fn, torch_fn, x, seed=0):
    """Values (and indices), first and second derivatives of td_fn and torch_fn at x."""
    x_td, x_t = td.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y_td, y_t = td_fn(x_td), torch_fn(x_t)
    if isinstance(y_t, tuple):  # (values, indices)
        np.testing.assert_array_equal(y_td[1].numpy(), y_t[1].numpy(), err_msg="indices")
        y_td, y_t = y_td[0], y_t[0]
    assert tuple(y_td.shape) == tuple(y_t.shape), (tuple(y_td.shape), tuple(y_t.shape))
    assert y_td.dtype == td.float64
    close(y_td.detach().numpy(), y_t.detach().numpy(), "forward values")

    rng = np.random.default_rng(seed + 1)
    v = rng.standard_normal(tuple(y_t.shape))
    v_td, v_t = td.tensor(v, requires_grad=True), torch.tensor(v, requires_grad=True)
    (g_td,) = td.grad(y_td, x_td, v_td, create_graph=True)
    (g_t,) = torch.autograd.grad(y_t, x_t, v_t, create_graph=True)
    close(g_td.detach().numpy(), g_t.detach().numpy(), "gradient")

    w = rng.standard_normal(tuple(x.shape))
    (gg_td,) = td.grad((g_td * td.tensor(w)).sum(), v_td)
    (gg_t,) = torch.autograd.grad((g_t * torch.tensor(w)).sum(), v_t)
    close(gg_td.numpy(), gg_t.numpy(), "second derivative (w.r.t. the upstream gradient)")


def out_size(size, k, s, p, d, ceil_mode):
    span = size + 2 * p - d * (k - 1) - 1
    if not ceil_mode:
        return span // s + 1
    out = math.ceil(span / s) + 1
    return out - 1 if (out - 1) * s >= size + p else out


def every_window_sees_the_image(size, k, s, p, d, ceil_mode):
    """False where PyTorch would return -inf from a window of pure padding (tinydl refuses those)."""
    out = out_size(size, k, s, p, d, ceil_mode)
    return out >= 1 and all(any(0 <= o * s - p + i * d < size for i in range(k)) for o in range(out))


# ---- max pooling ---------------------------------------------------------------
def max_pool_cases():
    cases = []
    sizes = [(5, 5), (4, 7), (6, 3), (1, 4)]
    for (h, w), k, s, d, ceil_mode in itertools.product(sizes, [1, 2, 3, (2, 3)], [None, 1, 2, (2, 1), 3],
                                                        [1, 2, (1, 2)], [False, True]):
        kernel = k if isinstance(k, tuple) else (k, k)
        for p in sorted({0, kernel[0] // 2, min(kernel) // 2}):
            stride = kernel if s is None else (s if isinstance(s, tuple) else (s, s))
            dil = d if isinstance(d, tuple) else (d, d)
            if all(every_window_sees_the_image(n, kernel[a], stride[a], p, dil[a], ceil_mode)
                   for a, n in enumerate((h, w))):
                cases.append(((h, w), k, s, p, d, ceil_mode))
    return cases[::3]  # a third of the grid, spread over every setting


@pytest.mark.parametrize("plane, k, s, p, d, ceil_mode", max_pool_cases())
@pytest.mark.parametrize("values", ["random", "ties"])
def test_max_pool2d(kernels, plane, k, s, p, d, ceil_mode, values):
    x = (randn if values == "random" else ties)(2, 3, *plane)
    kwargs = dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil_mode, return_indices=True)
    agree(lambda t: F.max_pool2d(t, **kwargs), lambda t: TF.max_pool2d(t, **kwargs), x)


def test_max_pool2d_unbatched_and_all_equal(kernels):
    agree(lambda t: F.max_pool2d(t, 3, 2, 1, return_indices=True),
          lambda t: TF.max_pool2d(t, 3, 2, 1, return_indices=True), randn(3, 6, 5))
    agree(lambda t: F.max_pool2d(t, 2, 1, 1, return_indices=True, ceil_mode=True),
          lambda t: TF.max_pool2d(t, 2, 1, 1, return_indices=True, ceil_mode=True), np.ones((1, 2, 4, 4)))
    agree(lambda t: F.max_pool2d(t, 3, 1, 1, return_indices=True),  # -inf inputs next to -inf padding
          lambda t: TF.max_pool2d(t, 3, 1, 1, return_indices=True), np.where(ties(1, 1, 4, 4) > 0, 1.0, -np.inf))


def test_max_pool2d_nan_values_and_indices(kernels):
    x = randn(1, 2, 5, 6)
    x[0, 0, 1, 1] = x[0, 0, 0, 1] = x[0, 1, 4, 5] = x[0, 1, 2, 0] = np.nan  # two NaN in one window
    for kwargs in (dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)):
        y_td, i_td = F.max_pool2d(td.tensor(x), return_indices=True, **kwargs)
        y_t, i_t = TF.max_pool2d(torch.tensor(x), return_indices=True, **kwargs)
        np.testing.assert_array_equal(i_td.numpy(), i_t.numpy())
        np.testing.assert_array_equal(y_td.numpy(), y_t.numpy())  # NaN where PyTorch has NaN


def test_gradient_penalty_through_max_pool2d_reaches_the_parameters_in_front(kernels):
    """PyTorch's max-pool backward, max_pool2d_with_indices_backward(grad, self, ..., indices), keeps
    the pool's input in the gradient's graph (with a zero second derivative), so a gradient penalty
    reaches a conv bias in front of the pool: its .grad is zeros, not None, and torch.autograd.grad
    returns zeros for it rather than raising "not used"."""
    rng = np.random.default_rng(5)
    x, w, b, v = rng.standard_normal((2, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3), \
        rng.standard_normal((2, 3, 3, 3))

    def penalty(lib, fn, conv, x, w, b):
        out = (fn(conv(x, w, b, padding=1), 2) * lib.tensor(v)).sum()
        grad = td.grad if lib is td else torch.autograd.grad
        (gx,) = grad(out, x, create_graph=True)
        return (gx * gx).sum()

    t_leaves = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    d_leaves = [td.tensor(a, requires_grad=True) for a in (x, w, b)]
    gp_t = penalty(torch, TF.max_pool2d, TF.conv2d, *t_leaves)
    gp_td = penalty(td, F.max_pool2d, F.conv2d, *d_leaves)
    close(gp_td.item(), gp_t.item(), "penalty")
    gp_t.backward()
    gp_td.backward()
    for name, a, b_ in zip(("x", "weight", "bias"), d_leaves, t_leaves):
        assert a.grad is not None, f"{name}.grad is None where PyTorch has {b_.grad}"
        close(a.grad.numpy(), b_.grad.numpy(), f"{name}.grad")
    np.testing.assert_array_equal(d_leaves[2].grad.numpy(), 0.0)  # PyTorch's zeros, not None

    (g_bias_td,) = td.grad(penalty(td, F.max_pool2d, F.conv2d, *d_leaves), d_leaves[2])
    (g_bias_t,) = torch.autograd.grad(penalty(torch, TF.max_pool2d, TF.conv2d, *t_leaves), t_leaves[2])
    np.testing.assert_array_equal(g_bias_td.numpy(), g_bias_t.numpy())


# ---- max unpooling ----------------------------------------------------------------
UNPOOL_CASES = [
    pytest.param((4, 6), 2, None, 0, None, id="k2-default-size"),
    pytest.param((5, 7), 2, None, 0, (5, 7), id="k2-odd-size-given"),
    pytest.param((5, 7), 2, None, 0, (2, 3, 5, 7), id="k2-full-output-size"),
    pytest.param((5, 5), 3, 2, 1, None, id="k3-s2-p1"),
    pytest.param((6, 5), (3, 2), (2, 1), (1, 0), (6, 5), id="k3x2-s2x1-p1x0"),
    pytest.param((6, 6), 3, 3, 0, None, id="k3-s3"),
    pytest.param((5, 5), 3, 1, 1, (5, 5), id="overlapping-windows-repeat-indices"),
]


@pytest.mark.parametrize("plane, k, s, p, size", UNPOOL_CASES)
@pytest.mark.parametrize("values", ["random", "ties"])
def test_max_unpool2d(kernels, plane, k, s, p, size, values):
    x = (randn if values == "random" else ties)(2, 3, *plane)
    pooled, indices = TF.max_pool2d(torch.tensor(x), k, s, p, return_indices=True)
    idx_td, idx_t = td.tensor(indices.numpy()), indices
    agree(lambda t: F.max_unpool2d(t, idx_td, k, s, p, output_size=size),
          lambda t: TF.max_unpool2d(t, idx_t, k, s, p, output_size=size), pooled.numpy())


# ---- average pooling -------------------------------------------------------------
def avg_pool_cases():
    cases = []
    for (h, w), k, s, ceil_mode, count_include_pad in itertools.product(
        [(5, 5), (4, 7), (1, 3)], [1, 2, 3, (3, 2)], [None, 1, 2, (1, 3)], [False, True], [True, False]
    ):
        kernel = k if isinstance(k, tuple) else (k, k)
        stride = kernel if s is None else (s if isinstance(s, tuple) else (s, s))
        for p in sorted({0, min(kernel) // 2}):
            if all(out_size(n, kernel[a], stride[a], p, 1, ceil_mode) >= 1 for a, n in enumerate((h, w))):
                cases.append(((h, w), k, s, p, ceil_mode, count_include_pad))
    return cases[::2]


@pytest.mark.parametrize("plane, k, s, p, ceil_mode, count_include_pad", avg_pool_cases())
def test_avg_pool2d(plane, k, s, p, ceil_mode, count_include_pad):
    kwargs = dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    agree(lambda t: F.avg_pool2d(t, **kwargs), lambda t: TF.avg_pool2d(t, **kwargs), randn(2, 3, *plane))


@pytest.mark.parametrize("divisor", [1, 3, 7])
def test_avg_pool2d_divisor_override(divisor):
    kwargs = dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, divisor_override=divisor)
    agree(lambda t: F.avg_pool2d(t, **kwargs), lambda t: TF.avg_pool2d(t, **kwargs), randn(2, 2, 6, 5))


def test_avg_pool2d_unbatched():
    agree(lambda t: F.avg_pool2d(t, 2, 1, 1), lambda t: TF.avg_pool2d(t, 2, 1, 1), randn(3, 4, 5))


# ---- adaptive average pooling --------------------------------------------------------
@pytest.mark.parametrize("plane", [(5, 7), (8, 8), (3, 2), (1, 1)])
@pytest.mark.parametrize("size", [1, 2, 3, (4, None), (None, 2), (7, 5), (9, 9)])
def test_adaptive_avg_pool2d(plane, size):
    agree(lambda t: F.adaptive_avg_pool2d(t, size), lambda t: TF.adaptive_avg_pool2d(t, size), randn(2, 3, *plane))


# ---- interpolation ------------------------------------------------------------------
SIZES = [(1, 1), (2, 3), (3, 5), (7, 4), (8, 10), (13, 2)]  # downsampling and upsampling of (4, 5)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("mode, align_corners", [("nearest", None), ("bilinear", None), ("bilinear", False),
                                                 ("bilinear", True)])
def test_interpolate_to_a_size(size, mode, align_corners):
    kwargs = dict(size=size, mode=mode, align_corners=align_corners)
    agree(lambda t: F.interpolate(t, **kwargs), lambda t: TF.interpolate(t, **kwargs), randn(2, 3, 4, 5))


SCALES = [0.5, 0.6, 0.75, 1.1, 1.3, 1.5, 2, 2.1, 2.5, 3, (0.5, 2.0), (1.7, 0.8)]


@pytest.mark.parametrize("scale_factor", SCALES)
@pytest.mark.parametrize("mode, align_corners", [("nearest", None), ("bilinear", False), ("bilinear", True)])
@pytest.mark.parametrize("recompute_scale_factor", [None, True])
def test_interpolate_by_a_scale_factor(scale_factor, mode, align_corners, recompute_scale_factor):
    kwargs = dict(scale_factor=scale_factor, mode=mode, align_corners=align_corners,
                  recompute_scale_factor=recompute_scale_factor)
    agree(lambda t: F.interpolate(t, **kwargs), lambda t: TF.interpolate(t, **kwargs), randn(2, 2, 5, 7))


@pytest.mark.parametrize("plane, kwargs", [
    pytest.param((2, 3), dict(size=(82, 3)), id="float32-ratio-size"),  # float64 would pick row 1 at dst 41
    pytest.param((31, 40), dict(scale_factor=1.3), id="float32-ratio-scale"),
    pytest.param((5, 5), dict(scale_factor=2.1), id="out-is-twice-in-shortcut"),  # 10 = 2 * 5: dst // 2
    pytest.param((5, 9), dict(scale_factor=1.1), id="out-is-in-shortcut"),
    pytest.param((5, 9), dict(scale_factor=1.1, mode="bilinear"), id="bilinear-unchanged-axes-copied"),
    pytest.param((5, 3), dict(scale_factor=(1.1, 2.0), mode="bilinear"), id="bilinear-one-axis-unchanged"),
    pytest.param((6, 6), dict(size=(1, 4), mode="bilinear", align_corners=True), id="align-corners-to-one-pixel"),
    pytest.param((1, 1), dict(size=(3, 4), mode="bilinear"), id="bilinear-from-one-pixel"),
])
def test_interpolate_corner_cases(plane, kwargs):
    agree(lambda t: F.interpolate(t, **kwargs), lambda t: TF.interpolate(t, **kwargs), randn(1, 2, *plane))


def test_nearest_on_large_outputs_keeps_pytorchs_backward_map():
    """For OH + OW > 128 PyTorch's CPU forward uses another kernel (other rounding, no
    out == in shortcut) than its backward, so PyTorch fails its own gradcheck there.
    tinydl keeps the backward's map both ways: the gradients agree, and the forward
    is the transpose of that gradient (td.gradcheck passes)."""
    for plane, kwargs in [((2, 3), dict(size=(82, 94))), ((70, 70), dict(scale_factor=1.01))]:
        x = randn(1, 2, *plane)
        x_td, x_t = td.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y_td, y_t = F.interpolate(x_td, **kwargs), TF.interpolate(x_t, **kwargs)
        v = randn(*y_t.shape, seed=3)
        y_td.backward(td.tensor(v))
        y_t.backward(torch.tensor(v))
        close(x_td.grad.numpy(), x_t.grad.numpy(), f"gradient {kwargs}")
        assert not np.allclose(y_td.detach().numpy(), y_t.detach().numpy())  # PyTorch's forward map differs here
    x = randn(1, 1, 2, 3)
    assert not torch.autograd.gradcheck(lambda t: TF.interpolate(t, size=(82, 94)), torch.tensor(x, requires_grad=True),
                                        raise_exception=False)
    assert td.gradcheck(lambda t: F.interpolate(t, size=(82, 94)), [td.tensor(x, requires_grad=True)])
