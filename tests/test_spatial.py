"""Spatial transformer ops: ``F.affine_grid`` and ``F.grid_sample``, in float64.

The forward is checked against an independent reference: PyTorch's padding
modes are the same as interpolating an image that ``np.pad`` has extended
('constant' for zeros, 'edge' for border, 'symmetric' / 'reflect' for
reflection without / with align_corners), read with a plain loop over the
sample points.  Gradients are checked with ``td.gradcheck`` and
``td.gradgradcheck`` at gradcheck's default tolerances.

The bilinear map has kinks wherever a sample point crosses a pixel
coordinate (its cell changes), the nearest map jumps at half pixels, and the
padding modes clamp at the first / last pixel centre and fold at the mirrors
(pixel centres, or half pixels for align_corners=False).  Finite differences
across a kink are not gradients, so the grids here are drawn in *pixel*
coordinates k + f with the fraction f at least 0.1 away from 0 and from 0.5,
then normalized: every kink is then more than 0.1 pixel away, while
gradcheck's step moves a point by at most a few 1e-6 pixels.
"""
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinydl as td
import tinydl.functional as F
from strategies import smooth_arrays
from helpers import leaf, host

MODES = ("bilinear", "nearest")
PADDINGS = ("zeros", "border", "reflection")
NP_PAD = {  # how np.pad extends an image the way each padding mode reads outside it
    ("zeros", False): "constant", ("zeros", True): "constant",
    ("border", False): "edge", ("border", True): "edge",
    ("reflection", False): "symmetric",  # mirrors at the outer edges: the edge pixel repeats
    ("reflection", True): "reflect",  # mirrors at the edge pixels' centres
}


def const(array, device):
    return td.tensor(np.asarray(array, dtype=np.float64), device=device)


# ---- coordinates ------------------------------------------------------------
def normalize(pixel, size, align_corners):
    """The normalized coordinate that reads ``pixel`` (the inverse of PyTorch's unnormalization)."""
    if align_corners:
        return 2 * pixel / (size - 1) - 1
    return (2 * pixel + 1) / size - 1


@st.composite
def pixel_coordinates(draw, shape, size):
    """Pixel coordinates k + f, k in [-2, size], f in [0.1, 0.4] or [0.6, 0.9]: clear of every
    integer and half integer, where the sampling maps have their kinks; some off the image."""
    k = draw(hnp.arrays(np.int64, shape, elements=st.integers(-2, size)))
    f = draw(hnp.arrays(np.float64, shape, elements=st.floats(0.1, 0.4) | st.floats(0.6, 0.9)))
    return k + f


@st.composite
def grids(draw, n, ho, wo, height, width, align_corners):
    """A grid (n, ho, wo, 2) and the pixel coordinates (px, py) it reads.

    With align_corners and a single pixel along an axis, every coordinate reads
    pixel 0 (no kinks at all): then the normalized values are drawn directly."""
    axes = []
    for size in (width, height):
        if align_corners and size == 1:
            g = draw(smooth_arrays((n, ho, wo), -1.5, 1.5))
            axes.append((g, np.zeros_like(g)))
        else:
            p = draw(pixel_coordinates((n, ho, wo), size))
            axes.append((normalize(p, size, align_corners), p))
    (gx, px), (gy, py) = axes
    return np.stack([gx, gy], axis=-1), px, py


@st.composite
def cases(draw, max_n=2, max_c=2, max_in=4, max_out=3):
    """x (N, C, H, W), a kink-free grid, its pixel coordinates, and align_corners."""
    n, c = draw(st.integers(1, max_n)), draw(st.integers(1, max_c))
    height, width = draw(st.integers(1, max_in)), draw(st.integers(1, max_in))
    ho, wo = draw(st.integers(1, max_out)), draw(st.integers(1, max_out))
    align_corners = draw(st.booleans())
    x = draw(smooth_arrays((n, c, height, width)))
    grid, px, py = draw(grids(n, ho, wo, height, width, align_corners))
    return x, grid, px, py, align_corners


# ---- an independent reference ----------------------------------------------
def reference_sample(x, px, py, mode, padding_mode, align_corners, pad=8):
    """Read x (N, C, H, W) at pixel coordinates px, py (N, Ho, Wo) from a padded copy, point by point."""
    n, c, _, _ = x.shape
    widths = ((0, 0), (0, 0), (pad, pad), (pad, pad))
    padded = np.pad(x, widths, mode=NP_PAD[padding_mode, align_corners])
    out = np.zeros((n, c) + px.shape[1:])
    for b, h, w in np.ndindex(*px.shape):
        u, v = px[b, h, w] + pad, py[b, h, w] + pad  # position in the padded image
        if mode == "nearest":
            out[b, :, h, w] = padded[b, :, int(np.rint(v)), int(np.rint(u))]
            continue
        col, row = int(np.floor(u)), int(np.floor(v))
        a, e = u - col, v - row  # how far past the top-left corner
        out[b, :, h, w] = (
            (1 - e) * (1 - a) * padded[b, :, row, col]
            + (1 - e) * a * padded[b, :, row, col + 1]
            + e * (1 - a) * padded[b, :, row + 1, col]
            + e * a * padded[b, :, row + 1, col + 1]
        )
    return out


def sampler(mode, padding_mode, align_corners):
    return lambda x, grid: F.grid_sample(x, grid, mode=mode, padding_mode=padding_mode, align_corners=align_corners)


# ---- grid_sample: values -----------------------------------------------------
@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", MODES)
@given(case=cases(max_in=5, max_out=4))
def test_grid_sample_matches_a_padded_image_reference(device, mode, padding_mode, case):
    x, grid, px, py, align_corners = case
    out = F.grid_sample(const(x, device), const(grid, device), mode, padding_mode, align_corners)
    assert out.shape == x.shape[:2] + grid.shape[1:3]
    expected = reference_sample(x, px, py, mode, padding_mode, align_corners)
    np.testing.assert_allclose(host(out), expected, rtol=1e-10, atol=1e-12)


def test_nearest_rounds_halves_to_even():
    # align_corners=False on 4 columns: these x read pixel columns 0, 0.5, 1.5, 2.5, 3 exactly
    x = td.tensor(np.arange(4.0).reshape(1, 1, 1, 4))
    grid = np.zeros((1, 1, 5, 2))
    grid[0, 0, :, 0] = [-0.75, -0.5, 0.0, 0.5, 0.75]
    out = F.grid_sample(x, td.tensor(grid), mode="nearest", align_corners=False)
    assert host(out).ravel().tolist() == [0.0, 0.0, 2.0, 2.0, 3.0]  # 0.5 -> 0, 1.5 -> 2, 2.5 -> 2


def test_float32_stays_float32():
    x = td.randn(2, 3, 4, 5)
    theta = td.tensor(np.tile(np.eye(2, 3), (2, 1, 1)).astype(np.float32))
    out = F.grid_sample(x, F.affine_grid(theta, x.shape))
    assert out.dtype == td.float32 and out.shape == (2, 3, 4, 5)


# ---- grid_sample: gradients --------------------------------------------------
@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", MODES)
@given(case=cases())
def test_grid_sample_gradcheck(device, mode, padding_mode, case):
    x, grid, _, _, align_corners = case
    assert td.gradcheck(sampler(mode, padding_mode, align_corners), (leaf(x, device), leaf(grid, device)))


@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=10)
@given(case=cases(max_n=1, max_in=3, max_out=2))
def test_grid_sample_gradgradcheck(device, mode, padding_mode, case):
    x, grid, _, _, align_corners = case
    assert td.gradgradcheck(sampler(mode, padding_mode, align_corners), (leaf(x, device), leaf(grid, device)))


def test_nearest_gradients(device):
    """The image gradient counts how often each pixel was copied; the grid gradient is zero, not None."""
    x = leaf(np.arange(6.0).reshape(1, 1, 2, 3), device)
    grid = np.zeros((1, 2, 2, 2))  # every point reads near pixel (row 0, column 0) ...
    grid[..., 0], grid[..., 1] = -0.8, -0.6
    grid[0, 1, 1] = [0.9, 0.7]  # ... but one reads (row 1, column 2)
    grid = leaf(grid, device)
    out = F.grid_sample(x, grid, mode="nearest")
    np.testing.assert_array_equal(host(out).ravel(), [0.0, 0.0, 0.0, 5.0])
    out.backward(const(np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 2, 2), device))
    np.testing.assert_array_equal(host(x.grad), [[[[6.0, 0, 0], [0, 0, 4.0]]]])
    assert grid.grad is not None
    np.testing.assert_array_equal(host(grid.grad), np.zeros((1, 2, 2, 2)))


def test_grid_gradient_is_zero_where_border_clamps(device):
    x = leaf(np.random.default_rng(0).standard_normal((1, 2, 3, 4)), device)
    grid = leaf([[[[-1.7, 0.1], [0.3, 1.4]]]], device)  # x clamped at the left, y clamped at the bottom
    F.grid_sample(x, grid, padding_mode="border").sum().backward()
    g = host(grid.grad)[0, 0]
    assert g[0, 0] == 0.0 and g[0, 1] != 0.0  # first point: d/dx is zero (clamped), d/dy is not
    assert g[1, 1] == 0.0 and g[1, 0] != 0.0  # second point: d/dy is zero (clamped), d/dx is not


# ---- affine_grid ---------------------------------------------------------------
def reference_affine_grid(theta, size, align_corners):
    n, _, height, width = size

    def centres(steps):  # normalized coordinate of each pixel centre
        if steps == 1:
            return np.zeros(1)
        j = np.arange(steps)
        return 2 * j / (steps - 1) - 1 if align_corners else (2 * j + 1) / steps - 1

    xs, ys = centres(width), centres(height)
    grid = np.zeros((n, height, width, 2))
    for b, h, w in np.ndindex(n, height, width):
        grid[b, h, w] = theta[b] @ np.array([xs[w], ys[h], 1.0])
    return grid


@given(
    n=st.integers(1, 3), height=st.integers(1, 4), width=st.integers(1, 4), c=st.integers(1, 3),
    align_corners=st.booleans(), data=st.data(),
)
def test_affine_grid(device, n, height, width, c, align_corners, data):
    theta = data.draw(smooth_arrays((n, 2, 3)))
    size = (n, c, height, width)
    grid = F.affine_grid(const(theta, device), size, align_corners=align_corners)
    assert grid.shape == (n, height, width, 2)
    np.testing.assert_allclose(host(grid), reference_affine_grid(theta, size, align_corners), rtol=1e-10, atol=1e-12)
    fn = lambda t: F.affine_grid(t, size, align_corners=align_corners)  # noqa: E731
    assert td.gradcheck(fn, (leaf(theta, device),))
    assert td.gradgradcheck(fn, (leaf(theta, device),))


# ---- the two together: a spatial transformer -----------------------------------
IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", MODES)
@given(shape=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 5), st.integers(1, 5)),
       align_corners=st.booleans(), data=st.data())
def test_identity_theta_reproduces_the_input(device, mode, padding_mode, shape, align_corners, data):
    # align_corners=True: the grid hits the pixel centres by definition; False: the base
    # grid sits on the pixel centres too ((2j + 1) / W - 1), and unnormalizes back to j
    x = data.draw(smooth_arrays(shape))
    theta = const(np.tile(IDENTITY, (shape[0], 1, 1)), device)
    grid = F.affine_grid(theta, shape, align_corners=align_corners)
    out = F.grid_sample(const(x, device), grid, mode, padding_mode, align_corners)
    np.testing.assert_allclose(host(out), x, rtol=1e-10, atol=1e-12)


# what the column past the right edge reads after a shift left by one pixel
PAST_THE_EDGE = {
    ("zeros", False): lambda x: np.zeros_like(x[..., -1]),
    ("zeros", True): lambda x: np.zeros_like(x[..., -1]),
    ("border", False): lambda x: x[..., -1],
    ("border", True): lambda x: x[..., -1],
    ("reflection", False): lambda x: x[..., -1],  # mirror at the right edge: column W reads W - 1
    ("reflection", True): lambda x: x[..., -2],  # mirror at the last centre: column W reads W - 2
}


@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("axis", ["x", "y"])
@given(shape=st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(2, 5), st.integers(2, 5)),
       align_corners=st.booleans(), data=st.data())
def test_translation_by_one_pixel_shifts_the_image(device, axis, mode, padding_mode, shape, align_corners, data):
    x = data.draw(smooth_arrays(shape))
    if axis == "y":  # test the rows as columns of the transposed image
        x_cols = x.swapaxes(2, 3)
    else:
        x_cols = x
    size = x.shape[3] if axis == "x" else x.shape[2]
    pixel = 2 / (size - 1) if align_corners else 2 / size  # one pixel in normalized units
    theta = np.tile(IDENTITY, (shape[0], 1, 1))
    theta[:, 0 if axis == "x" else 1, 2] = pixel  # output pixel j reads input pixel j + 1
    grid = F.affine_grid(const(theta, device), shape, align_corners=align_corners)
    out = host(F.grid_sample(const(x, device), grid, mode, padding_mode, align_corners))
    out_cols = out.swapaxes(2, 3) if axis == "y" else out
    np.testing.assert_allclose(out_cols[..., :-1], x_cols[..., 1:], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out_cols[..., -1], PAST_THE_EDGE[padding_mode, align_corners](x_cols), atol=1e-12)


def distance_to_kinks(theta, size, align_corners, kinks):
    """How close any point of theta's grid comes, in pixels, to a pixel coordinate plus one of
    ``kinks`` (0.0: cell edges and clamps; 0.5: the mirrors of reflection without align_corners)."""
    _, _, height, width = size
    grid = reference_affine_grid(theta, size, align_corners)
    distances = [1.0]
    for k, steps in ((0, width), (1, height)):
        if align_corners and steps == 1:  # every point reads pixel 0: no kinks along this axis
            continue
        p = (grid[..., k] + 1) / 2 * (steps - 1) if align_corners else ((grid[..., k] + 1) * steps - 1) / 2
        distances += [float(np.abs(p - kink - np.rint(p - kink)).min()) for kink in kinks]
    return min(distances)


@pytest.mark.parametrize("padding_mode", PADDINGS)
@settings(max_examples=10)
@given(shape=st.tuples(st.just(1), st.integers(1, 2), st.integers(1, 3), st.integers(1, 3)),
       align_corners=st.booleans(), data=st.data())
def test_spatial_transformer_second_derivatives(device, padding_mode, shape, align_corners, data):
    """A gradient penalty through a spatial transformer needs d/dtheta of d out/dx: gradgradcheck
    the whole transformer w.r.t. theta and the image."""
    theta = IDENTITY[None] + data.draw(smooth_arrays((1, 2, 3), -0.5, 0.5))
    kinks = (0.0, 0.5) if padding_mode == "reflection" and not align_corners else (0.0,)
    assume(distance_to_kinks(theta, shape, align_corners, kinks) > 1e-3)
    x = data.draw(smooth_arrays(shape))

    def transformer(theta, x):
        grid = F.affine_grid(theta, x.shape, align_corners=align_corners)
        return F.grid_sample(x, grid, padding_mode=padding_mode, align_corners=align_corners)

    inputs = (leaf(theta, device), leaf(x, device))
    assert td.gradcheck(transformer, inputs)
    assert td.gradgradcheck(transformer, inputs)


# ---- argument checks -------------------------------------------------------------
def sample(x_shape, grid_shape, **kwargs):
    return lambda: F.grid_sample(td.zeros(*x_shape), td.zeros(*grid_shape), **kwargs)


def affine(theta_shape, size):
    return lambda: F.affine_grid(td.zeros(*theta_shape), size)


BAD_ARGUMENTS = {  # what is wrong: (call, error, what the message says)
    "input not 4-d": (sample((3, 4, 5), (3, 2, 2, 2)), ValueError, r"grid_sample: input must be 4-d .*\(3, 4, 5\)"),
    "grid not 4-d": (sample((2, 3, 4, 5), (2, 3, 3)), ValueError, r"grid_sample: grid must have shape .*\(2, 3, 3\)"),
    "grid's last dim": (sample((2, 3, 4, 5), (2, 3, 3, 3)), ValueError, r"grid_sample: grid .*\(2, 3, 3, 3\)"),
    "batch sizes": (
        sample((2, 3, 4, 5), (1, 3, 3, 2)), ValueError, r"grid_sample: .*batch size.*\(2, 3, 4, 5\).*\(1, 3, 3, 2\)"
    ),
    "empty image": (sample((2, 3, 0, 5), (2, 3, 3, 2)), ValueError, r"grid_sample: .*non-empty.*\(2, 3, 0, 5\)"),
    "mode": (sample((2, 3, 4, 5), (2, 3, 3, 2), mode="bicubic"), ValueError, r"grid_sample: mode .*'bicubic'"),
    "padding_mode": (
        sample((2, 3, 4, 5), (2, 3, 3, 2), padding_mode="wrap"), ValueError, r"grid_sample: padding_mode .*'wrap'"
    ),
    "dtypes": (
        lambda: F.grid_sample(td.zeros(2, 3, 4, 5), td.zeros(2, 3, 3, 2, dtype=td.float64)),
        TypeError, r"grid_sample: .*float32 and float64",
    ),
    "an ndarray": (
        lambda: F.grid_sample(np.zeros((2, 3, 4, 5)), td.zeros(2, 3, 3, 2)), TypeError, r"grid_sample: x must be a Tensor, not numpy.ndarray"
    ),
    "theta's shape": (affine((2, 3, 3), (2, 1, 4, 4)), ValueError, r"affine_grid: theta must have shape .*\(2, 3, 3\)"),
    "theta's batch": (affine((2, 2, 3), (3, 1, 4, 4)), ValueError, r"affine_grid: theta .*\(3, 2, 3\).*\(2, 2, 3\)"),
    "size": (affine((2, 2, 3), (2, 4, 4)), ValueError, r"affine_grid: size must have 4 entries .*\(2, 4, 4\)"),
    "size 0": (affine((2, 2, 3), (2, 1, 0, 4)), ValueError, r"affine_grid: .*positive.*\(2, 1, 0, 4\)"),
    "theta an ndarray": (
        lambda: F.affine_grid(np.zeros((2, 2, 3)), (2, 1, 4, 4)), TypeError, r"affine_grid: theta must be a Tensor"
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_ARGUMENTS))
def test_bad_arguments_name_the_op_and_the_shapes(case):
    call, error, message = BAD_ARGUMENTS[case]
    with pytest.raises(error, match=message):
        call()
