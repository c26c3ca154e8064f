"""``F.affine_grid`` and ``F.grid_sample`` agree with PyTorch's, in float64, to 1e-8.

Values, first derivatives (w.r.t. the image, the grid and theta) and second
derivatives, for every mode, padding mode and align_corners setting, with
grids that reach well outside the image.  Seeded random inputs put sample
points at pixel coordinates only with probability zero, so both libraries
pick the same bilinear cell.

PyTorch is used here only as a reference; tinydl never imports it.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinydl as td  # noqa: E402
import tinydl.functional as F  # noqa: E402
import torch.nn.functional as TF  # noqa: E402

RTOL, ATOL = 1e-8, 1e-10
MODES = ("bilinear", "nearest")
PADDINGS = ("zeros", "border", "reflection")
SHAPES = [  # x (N, C, H, W), output (Ho, Wo)
    ((2, 3, 4, 5), (3, 6)),
    ((1, 2, 1, 4), (2, 3)),  # a single row
    ((2, 1, 3, 1), (4, 2)),  # a single column
    ((1, 1, 1, 1), (2, 2)),  # a single pixel
]


def close(actual, expected, what):
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=what)


def both(*arrays):
    """Each array as a tinydl and a torch leaf that requires grad."""
    return [td.tensor(a, requires_grad=True) for a in arrays], [torch.tensor(a, requires_grad=True) for a in arrays]


def agree_first_and_second(y_td, y_t, xs_td, xs_t, seed):
    """Outputs, then the gradients of a random projection of the outputs, then the gradients
    of a random projection of those gradients (second derivatives)."""
    close(y_td.detach().numpy(), y_t.detach().numpy(), "forward values")
    rng = np.random.default_rng(seed)
    up = rng.standard_normal(tuple(y_t.shape))
    # square the output so the first derivatives depend on every input, then project
    g_td = td.grad((y_td * y_td * td.tensor(up)).sum(), xs_td, create_graph=True)
    g_t = torch.autograd.grad((y_t * y_t * torch.tensor(up)).sum(), xs_t, create_graph=True)
    for i, (a, b) in enumerate(zip(g_td, g_t)):
        close(a.detach().numpy(), b.detach().numpy(), f"gradient of input {i}")
    vs = [rng.standard_normal(tuple(x.shape)) for x in xs_t]
    h_td = td.grad(sum((g * td.tensor(v)).sum() for g, v in zip(g_td, vs)), xs_td, allow_unused=True)
    h_t = torch.autograd.grad(sum((g * torch.tensor(v)).sum() for g, v in zip(g_t, vs)), xs_t, allow_unused=True)
    for i, (a, b) in enumerate(zip(h_td, h_t)):
        expected = np.zeros(tuple(xs_t[i].shape)) if b is None else b.numpy()
        actual = np.zeros(tuple(xs_t[i].shape)) if a is None else a.numpy()
        close(actual, expected, f"second derivative w.r.t. input {i}")


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_grid_sample_agrees(mode, padding_mode, align_corners, shapes):
    (n, c, h, w), (ho, wo) = shapes
    rng = np.random.default_rng(10 * h + w)
    x = rng.standard_normal((n, c, h, w))
    grid = rng.uniform(-2.5, 2.5, (n, ho, wo, 2))  # many points outside the image, some far outside
    (x_td, g_td), (x_t, g_t) = both(x, grid)
    kwargs = dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners)
    y_td, y_t = F.grid_sample(x_td, g_td, **kwargs), TF.grid_sample(x_t, g_t, **kwargs)
    agree_first_and_second(y_td, y_t, [x_td, g_td], [x_t, g_t], seed=1)


@pytest.mark.parametrize("align_corners", [False, True])
def test_nearest_ties_agree(align_corners):
    """Points exactly half-way between pixels: both round halves to even."""
    w = 5
    if align_corners:  # (g + 1) / 2 * 4 = 0.5, 1.5, 2.5, 3.5
        xs = np.array([-0.75, -0.25, 0.25, 0.75])
    else:  # ((g + 1) * 5 - 1) / 2 = 0.5, 1.5, 2.5, 3.5
        xs = (2 * np.array([0.5, 1.5, 2.5, 3.5]) + 1) / w - 1
    grid = np.zeros((1, 1, 4, 2))
    grid[0, 0, :, 0] = xs
    x = np.arange(float(w)).reshape(1, 1, 1, w)
    y_td = F.grid_sample(td.tensor(x), td.tensor(grid), mode="nearest", align_corners=align_corners)
    y_t = TF.grid_sample(torch.tensor(x), torch.tensor(grid), mode="nearest", align_corners=align_corners)
    np.testing.assert_array_equal(y_td.numpy(), y_t.numpy())
    np.testing.assert_array_equal(y_td.numpy().ravel(), [0.0, 2.0, 2.0, 4.0])


@pytest.mark.filterwarnings("ignore:.*unit-size grids")  # PyTorch's note on align_corners with size 1
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("size", [(2, 3, 4, 5), (1, 1, 1, 1), (3, 2, 1, 4), (1, 2, 5, 1)], ids=str)
def test_affine_grid_agrees(size, align_corners):
    theta = np.random.default_rng(size[2] * 10 + size[3]).standard_normal((size[0], 2, 3))
    (t_td,), (t_t,) = both(theta)
    y_td = F.affine_grid(t_td, size, align_corners=align_corners)
    y_t = TF.affine_grid(t_t, size, align_corners=align_corners)
    close(y_td.detach().numpy(), y_t.detach().numpy(), "forward values")
    up = np.random.default_rng(0).standard_normal(tuple(y_t.shape))
    y_td.backward(td.tensor(up))
    y_t.backward(torch.tensor(up))
    close(t_td.grad.numpy(), t_t.grad.numpy(), "gradient of theta")


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", MODES)
def test_spatial_transformer_agrees(mode, padding_mode, align_corners):
    """theta -> affine_grid -> grid_sample, with a zoom-out and a rotation that reach outside the image."""
    rng = np.random.default_rng(7)
    n, c, h, w = 2, 2, 5, 6
    angle = np.array([0.3, -1.1])
    scale = np.array([[1.4], [0.8]])
    theta = np.zeros((n, 2, 3))
    theta[:, 0, 0], theta[:, 0, 1] = np.cos(angle), -np.sin(angle)
    theta[:, 1, 0], theta[:, 1, 1] = np.sin(angle), np.cos(angle)
    theta[:, :, :2] *= scale[:, :, None]
    theta[:, :, 2] = rng.uniform(-0.4, 0.4, (n, 2))
    x = rng.standard_normal((n, c, h, w))
    (t_td, x_td), (t_t, x_t) = both(theta, x)
    kwargs = dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners)
    y_td = F.grid_sample(x_td, F.affine_grid(t_td, (n, c, h, w), align_corners=align_corners), **kwargs)
    y_t = TF.grid_sample(x_t, TF.affine_grid(t_t, (n, c, h, w), align_corners=align_corners), **kwargs)
    agree_first_and_second(y_td, y_t, [t_td, x_td], [t_t, x_t], seed=2)


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", ["border", "reflection"])
def test_points_exactly_on_the_edge_pixels_agree(padding_mode, align_corners):
    """A point exactly on the first / last pixel centre counts as clamped: its grid gradient
    is zero along that axis (PyTorch's convention, where the one-sided slopes differ)."""
    h, w = 3, 4
    first_x, last_x = (-1.0, 1.0) if align_corners else (-1 + 1 / w, 1 - 1 / w)  # columns 0 and W - 1
    first_y, last_y = (-1.0, 1.0) if align_corners else (-1 + 1 / h, 1 - 1 / h)
    grid = np.array([[[[first_x, 0.1], [last_x, -0.3], [0.2, first_y], [-0.4, last_y]]]])  # (1, 1, 4, 2)
    x = np.random.default_rng(3).standard_normal((1, 2, h, w))
    (x_td, g_td), (x_t, g_t) = both(x, grid)
    kwargs = dict(padding_mode=padding_mode, align_corners=align_corners)
    y_td, y_t = F.grid_sample(x_td, g_td, **kwargs), TF.grid_sample(x_t, g_t, **kwargs)
    agree_first_and_second(y_td, y_t, [x_td, g_td], [x_t, g_t], seed=3)
    (g,) = td.grad(F.grid_sample(x_td, g_td, **kwargs).sum(), g_td)
    assert np.all(g.numpy()[0, 0, [0, 1], 0] == 0) and np.all(g.numpy()[0, 0, [2, 3], 1] == 0)
