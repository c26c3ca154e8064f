"""Pooling, unpooling and interpolation: slow per-pixel references, gradient checks
over generated geometries (float64, gradcheck's default tolerances), the
properties that tie max_pool2d and max_unpool2d together, modules, and errors.

Max-pool inputs are drawn without ties (``distinct_arrays``): across a tie the
argmax jumps, and a finite difference across that jump is not a gradient.
"""
import math
import re

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import tinydl as td
import tinydl.functional as F
import tinydl.nn as nn
from strategies import distinct_arrays, smooth_arrays
from helpers import leaf, host, rounding_atol

MAX_PLANE_NUMEL = 64  # elements per gradchecked image (N * C * H * W)


def check(fn, *inputs):
    """gradcheck and gradgradcheck with their default tolerances."""
    assert td.gradcheck(fn, inputs)
    assert td.gradgradcheck(fn, inputs)


# ---- strategies ------------------------------------------------------------
@st.composite
def batch_for(draw, plane):
    """(N, C) for images of ``plane`` (H, W), within MAX_PLANE_NUMEL elements."""
    room = max(1, MAX_PLANE_NUMEL // (plane[0] * plane[1]))
    n = draw(st.integers(1, min(2, room)))
    c = draw(st.integers(1, max(1, min(3, room // n))))
    return n, c


@st.composite
def pool_settings(draw, dilation=True, max_extra=3):
    """A valid pooling geometry: padding at most half the kernel, and an input just
    large enough for at least one (dilated) window, up to ``max_extra`` pixels more."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    dil = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilation else (1, 1)
    plane = []
    for k, p, d in zip(kernel, padding, dil):
        smallest = max(1, d * (k - 1) + 1 - 2 * p)
        plane.append(draw(st.integers(smallest, smallest + max_extra)))
    n, c = draw(batch_for(tuple(plane)))
    return dict(shape=(n, c, *plane), kernel_size=kernel, stride=stride, padding=padding, dilation=dil,
                ceil_mode=draw(st.booleans()))


def pool_arguments(s, *names):
    return {name: s[name] for name in names}


MAX_ARGS = ("kernel_size", "stride", "padding", "dilation", "ceil_mode")
AVG_ARGS = ("kernel_size", "stride", "padding", "ceil_mode")


# ---- slow references: one output pixel at a time --------------------------------
def out_size(size, k, s, p, d, ceil_mode):
    """Windows along one axis (PyTorch's rule: with ceil_mode, a last partial window
    is kept only if it starts inside the image or its left padding)."""
    span = size + 2 * p - d * (k - 1) - 1
    if not ceil_mode:
        return span // s + 1
    out = math.ceil(span / s) + 1
    return out - 1 if (out - 1) * s >= size + p else out


def window_pixels(o, k, s, p, d, size):
    """Image positions of window o along one axis (padding left out)."""
    return [o * s - p + i * d for i in range(k) if 0 <= o * s - p + i * d < size]


def reference_max_pool(x, kernel_size, stride, padding, dilation, ceil_mode):
    """Values and flat indices; None if some window sees only padding."""
    n, c, h, w = x.shape
    oh = out_size(h, kernel_size[0], stride[0], padding[0], dilation[0], ceil_mode)
    ow = out_size(w, kernel_size[1], stride[1], padding[1], dilation[1], ceil_mode)
    values, indices = np.zeros((n, c, oh, ow)), np.zeros((n, c, oh, ow), dtype=np.int64)
    for a, b, i, j in np.ndindex(n, c, oh, ow):
        rows = window_pixels(i, kernel_size[0], stride[0], padding[0], dilation[0], h)
        cols = window_pixels(j, kernel_size[1], stride[1], padding[1], dilation[1], w)
        if not rows or not cols:
            return None
        best = max(((x[a, b, r, q], -(r * w + q)) for r in rows for q in cols))  # ties: the first position
        values[a, b, i, j], indices[a, b, i, j] = best[0], -best[1]
    return values, indices


def reference_avg_pool(x, kernel_size, stride, padding, ceil_mode, count_include_pad=True, divisor_override=None):
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    oh, ow = out_size(h, kh, sh, ph, 1, ceil_mode), out_size(w, kw, sw, pw, 1, ceil_mode)
    y = np.zeros((n, c, oh, ow))
    for i, j in np.ndindex(oh, ow):
        r0, q0 = i * sh - ph, j * sw - pw
        r1, q1 = min(r0 + kh, h + ph), min(q0 + kw, w + pw)  # the window stops at the far padding
        with_pad = (r1 - r0) * (q1 - q0)
        r0, q0, r1, q1 = max(r0, 0), max(q0, 0), min(r1, h), min(q1, w)
        divisor = divisor_override or (with_pad if count_include_pad else (r1 - r0) * (q1 - q0))
        y[:, :, i, j] = x[:, :, r0:r1, q0:q1].sum(axis=(2, 3)) / divisor
    return y


def reference_adaptive_avg_pool(x, out):
    n, c, h, w = x.shape
    y = np.zeros((n, c, *out))
    for i, j in np.ndindex(*out):
        r0, r1 = (i * h) // out[0], -(-((i + 1) * h) // out[0])
        q0, q1 = (j * w) // out[1], -(-((j + 1) * w) // out[1])
        y[:, :, i, j] = x[:, :, r0:r1, q0:q1].mean(axis=(2, 3))
    return y


def nearest_source(dst, size, out, scale):
    if out == size:
        return dst
    if out == 2 * size:
        return dst // 2
    ratio = np.float32(1.0 / scale) if scale else np.float32(size) / np.float32(out)
    return min(int(np.floor(np.float32(dst) * ratio)), size - 1)


def linear_source(dst, size, out, align_corners, scale):
    """(i0, i1, weight of i1) along one axis."""
    if out == size:
        return dst, dst, 0.0
    if align_corners:
        src = dst * (size - 1) / (out - 1) if out > 1 else 0.0
    else:
        src = max(((1 / scale) if scale else size / out) * (dst + 0.5) - 0.5, 0.0)
    i0 = min(int(math.floor(src)), size - 1)
    return i0, min(i0 + 1, size - 1), min(max(src - i0, 0.0), 1.0)


def reference_interpolate(x, out, mode, align_corners=False, scales=(None, None)):
    n, c, h, w = x.shape
    y = np.zeros((n, c, *out))
    for i, j in np.ndindex(*out):
        if mode == "nearest":
            y[:, :, i, j] = x[:, :, nearest_source(i, h, out[0], scales[0]), nearest_source(j, w, out[1], scales[1])]
        else:
            r0, r1, a = linear_source(i, h, out[0], align_corners, scales[0])
            q0, q1, b = linear_source(j, w, out[1], align_corners, scales[1])
            y[:, :, i, j] = ((1 - a) * ((1 - b) * x[:, :, r0, q0] + b * x[:, :, r0, q1])
                             + a * ((1 - b) * x[:, :, r1, q0] + b * x[:, :, r1, q1]))
    return y


# ---- max pooling -----------------------------------------------------------------
@given(s=pool_settings(), data=st.data())
def test_max_pool2d_matches_the_reference_and_gradchecks(kernels, device, s, data):
    x = data.draw(distinct_arrays(s["shape"]))
    expected = reference_max_pool(x, **pool_arguments(s, *MAX_ARGS))
    assume(expected is not None)  # a window of pure padding is refused (see the error test)
    X = leaf(x, device)
    values, indices = F.max_pool2d(X, return_indices=True, **pool_arguments(s, *MAX_ARGS))
    np.testing.assert_array_equal(host(values), expected[0])
    np.testing.assert_array_equal(indices.numpy(), expected[1])
    assert indices.dtype == td.int64
    check(lambda t: F.max_pool2d(t, **pool_arguments(s, *MAX_ARGS)), X)


@given(s=pool_settings(), data=st.data())
def test_max_pool2d_indices_point_at_the_max_inside_each_window(kernels, device, s, data):
    x = data.draw(distinct_arrays(s["shape"]))
    assume(reference_max_pool(x, **pool_arguments(s, *MAX_ARGS)) is not None)
    values, indices = F.max_pool2d(td.tensor(x, device=device), return_indices=True, **pool_arguments(s, *MAX_ARGS))
    values, indices = host(values), indices.numpy()
    n, c, h, w = x.shape
    planes = x.reshape(n, c, h * w)
    at_indices = np.take_along_axis(planes, indices.reshape(n, c, -1), 2).reshape(values.shape)
    np.testing.assert_array_equal(at_indices, values)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = s["kernel_size"], s["stride"], s["padding"], s["dilation"]
    rows, cols = indices // w, indices % w
    oh, ow = np.meshgrid(np.arange(values.shape[2]), np.arange(values.shape[3]), indexing="ij")
    i, j = (rows - (oh * sh - ph)) / dh, (cols - (ow * sw - pw)) / dw  # the kernel offset the max sits at
    assert np.all((i == np.round(i)) & (i >= 0) & (i < kh))
    assert np.all((j == np.round(j)) & (j >= 0) & (j < kw))


def test_max_pool2d_ties_take_the_first_position_in_window_order(kernels, device):
    x = td.tensor(np.array([[[[1.0, 3.0, 3.0], [3.0, 0.0, 3.0], [2.0, 3.0, 3.0]]]]), device=device)
    _, indices = F.max_pool2d(x, 2, stride=1, return_indices=True)
    np.testing.assert_array_equal(indices.numpy(), [[[[1, 1], [3, 5]]]])
    _, indices = F.max_pool2d(td.zeros(1, 1, 4, 4, device=device), 3, stride=1, padding=1, return_indices=True)
    np.testing.assert_array_equal(indices.numpy()[0, 0], [[0, 0, 1, 2], [0, 0, 1, 2], [4, 4, 5, 6], [8, 8, 9, 10]])


def test_max_pool2d_nan_is_the_max_and_the_last_nan_its_index(kernels, device):
    nan = np.nan  # as in PyTorch's CPU kernel: a window holding NaN pools to NaN, at its last NaN
    x = td.tensor(np.array([[[[1.0, nan, 7.0, 2.0], [3.0, nan, nan, 9.0]]]]), device=device)
    values, indices = F.max_pool2d(x, 2, return_indices=True)
    assert np.isnan(values.numpy()).all()
    np.testing.assert_array_equal(indices.numpy(), [[[[5, 6]]]])  # torch 2.13 gives [5, 6]


def test_max_pool2d_of_minus_infinity_never_picks_padding(kernels, device):
    x = td.full((1, 1, 2, 2), -np.inf, device=device)
    values, indices = F.max_pool2d(x, 3, stride=1, padding=1, return_indices=True)
    assert np.all(values.numpy() == -np.inf)
    np.testing.assert_array_equal(indices.numpy(), np.zeros((1, 1, 2, 2)))  # PyTorch's answer too


def test_max_pool2d_gradient_adds_up_where_windows_overlap(kernels, device):
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 5.0  # the max of all four 2x2 windows
    X = leaf(x, device)
    F.max_pool2d(X, 2, stride=1).sum().backward()
    expected = np.zeros((3, 3))
    expected[1, 1] = 4.0
    np.testing.assert_array_equal(host(X.grad)[0, 0], expected)


def test_max_pool2d_accepts_an_unbatched_input(kernels, device):
    x = np.random.default_rng(0).standard_normal((2, 5, 5))
    values, indices = F.max_pool2d(td.tensor(x, device=device), 2, return_indices=True)
    batched, batched_indices = F.max_pool2d(td.tensor(x[None], device=device), 2, return_indices=True)
    assert values.shape == (2, 2, 2)
    np.testing.assert_array_equal(host(values), host(batched)[0])
    np.testing.assert_array_equal(indices.numpy(), batched_indices.numpy()[0])


# ---- max unpooling -----------------------------------------------------------------
@given(s=pool_settings(dilation=False), data=st.data())
def test_max_unpool2d_puts_values_at_their_indices_and_zeros_elsewhere(kernels, device, s, data):
    x = data.draw(distinct_arrays(s["shape"]))
    values, indices = F.max_pool2d(td.tensor(x, device=device), return_indices=True, **pool_arguments(s, *MAX_ARGS))
    n, c, h, w = x.shape
    z = host(F.max_unpool2d(values, indices, s["kernel_size"], s["stride"], s["padding"], output_size=(h, w)))
    assert z.shape == x.shape
    expected = np.zeros((n, c, h * w))
    np.put_along_axis(expected, indices.numpy().reshape(n, c, -1), host(values).reshape(n, c, -1), 2)
    np.testing.assert_array_equal(z, expected.reshape(x.shape))
    # each placed value is the input's own value there: unpooling restores the maxima, nothing else
    placed = z != 0
    np.testing.assert_array_equal(z[placed], x[placed])


@given(s=pool_settings(dilation=False), data=st.data())
def test_pool_of_unpool_of_pool_is_pool(kernels, device, s, data):
    x = np.abs(data.draw(distinct_arrays(s["shape"])))  # positive: the zeros unpooling adds never win
    args = pool_arguments(s, *MAX_ARGS)
    values, indices = F.max_pool2d(td.tensor(x, device=device), return_indices=True, **args)
    z = F.max_unpool2d(values, indices, s["kernel_size"], s["stride"], s["padding"], output_size=x.shape)
    again, again_indices = F.max_pool2d(z, return_indices=True, **args)
    np.testing.assert_array_equal(host(again), host(values))
    np.testing.assert_array_equal(again_indices.numpy(), indices.numpy())


@st.composite
def disjoint_pool_settings(draw):
    """Windows that do not overlap (stride >= kernel): every index is distinct."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = tuple(k + draw(st.integers(0, 1)) for k in kernel)
    out = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    plane = tuple(o * s for o, s in zip(out, stride))
    return dict(shape=(*draw(batch_for(plane)), *plane), kernel_size=kernel, stride=stride)


@given(s=disjoint_pool_settings(), data=st.data())
def test_max_unpool2d_gradchecks(kernels, device, s, data):
    x = data.draw(distinct_arrays(s["shape"]))
    values, indices = F.max_pool2d(td.tensor(x), s["kernel_size"], s["stride"], return_indices=True)
    V = leaf(host(values), device)
    indices = indices.to(device)
    check(lambda t: F.max_unpool2d(t, indices, s["kernel_size"], s["stride"], output_size=x.shape), V)


def test_max_unpool2d_output_size(kernels, device):
    values, indices = F.max_pool2d(td.randn(2, 3, 4, 6, device=device), 2, return_indices=True)  # (2, 3, 2, 3)
    assert F.max_unpool2d(values, indices, 2).shape == (2, 3, 4, 6)  # (H_in - 1) * stride + kernel
    values, indices = F.max_pool2d(td.randn(2, 3, 5, 7, device=device), 2, return_indices=True)  # (2, 3, 2, 3)
    assert F.max_unpool2d(values, indices, 2, output_size=(5, 7)).shape == (2, 3, 5, 7)
    assert F.max_unpool2d(values, indices, 2, output_size=(2, 3, 5, 7)).shape == (2, 3, 5, 7)
    values, indices = F.max_pool2d(td.randn(1, 1, 5, 5, device=device), 3, stride=2, padding=1, return_indices=True)
    assert F.max_unpool2d(values, indices, 3, 2, 1).shape == (1, 1, 5, 5)  # (3 - 1) * 2 - 2 + 3


def test_max_unpool2d_gradient_reads_back_each_placed_position(kernels, device):
    x = leaf([[[[1.0, 2.0], [3.0, 4.0]]]], device)
    indices = td.tensor(np.array([[[[0, 5], [10, 15]]]]), device=device)
    z = F.max_unpool2d(x, indices, 2)
    upstream = np.arange(16.0).reshape(1, 1, 4, 4)
    z.backward(td.tensor(upstream, device=device))
    np.testing.assert_array_equal(host(x.grad), [[[[0.0, 5.0], [10.0, 15.0]]]])


# ---- average pooling ---------------------------------------------------------------
@given(s=pool_settings(dilation=False), data=st.data(), count_include_pad=st.booleans(),
       divisor_override=st.sampled_from([None, None, 3]))
def test_avg_pool2d_matches_the_reference_and_gradchecks(device, s, data, count_include_pad, divisor_override):
    x = data.draw(smooth_arrays(s["shape"]))
    args = dict(pool_arguments(s, *AVG_ARGS), count_include_pad=count_include_pad, divisor_override=divisor_override)
    X = leaf(x, device)
    np.testing.assert_allclose(host(F.avg_pool2d(X, **args)), reference_avg_pool(x, **args), rtol=1e-12, atol=1e-12)
    check(lambda t: F.avg_pool2d(t, **args), X)


def test_avg_pool2d_counts_padded_zeros_by_default(device):
    x = td.ones(1, 1, 2, 2, dtype=td.float64, device=device)
    np.testing.assert_allclose(host(F.avg_pool2d(x, 3, stride=1, padding=1)), np.full((1, 1, 2, 2), 4 / 9))
    np.testing.assert_allclose(host(F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)), np.ones((1, 1, 2, 2)))


def test_avg_pool2d_gradient_spreads_g_over_count(device):
    X = leaf(np.zeros((1, 1, 3, 3)), device)
    F.avg_pool2d(X, 2, stride=1).sum().backward()  # four windows of 4 pixels, overlapping in the middle
    np.testing.assert_allclose(host(X.grad)[0, 0], np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 4)


# ---- adaptive average pooling --------------------------------------------------------
@given(data=st.data())
def test_adaptive_avg_pool2d_matches_the_reference_and_gradchecks(device, data):
    plane = (data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6)))
    x = data.draw(smooth_arrays((*data.draw(batch_for(plane)), *plane)))
    out = (data.draw(st.integers(1, 7)), data.draw(st.integers(1, 7)))
    X = leaf(x, device)
    # each output averages a window of at most H * W values: both sides round by a few ulps of max |x|,
    # which is all the agreement there can be where the mean cancels to about 0 (e.g. -1, 1, 3e-229, 3e-229)
    np.testing.assert_allclose(host(F.adaptive_avg_pool2d(X, out)), reference_adaptive_avg_pool(x, out), rtol=1e-12,
                               atol=rounding_atol(x, terms=plane[0] * plane[1]))
    check(lambda t: F.adaptive_avg_pool2d(t, out), X)


def test_adaptive_avg_pool2d_is_avg_pool2d_when_the_size_divides(device):
    x = td.randn(2, 3, 6, 8, dtype=td.float64, device=device)
    np.testing.assert_allclose(host(F.adaptive_avg_pool2d(x, (3, 2))), host(F.avg_pool2d(x, (2, 4))), rtol=1e-12,
                               atol=rounding_atol(host(x), terms=2 * 4))  # means of 8 random values: may cancel
    assert F.adaptive_avg_pool2d(x, (None, 2)).shape == (2, 3, 6, 2)
    assert F.adaptive_avg_pool2d(x[0], 1).shape == (3, 1, 1)


# ---- interpolation -----------------------------------------------------------------
@st.composite
def resize_settings(draw):
    """An input shape and either an output size or a scale factor (downsampling and upsampling)."""
    plane = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    shape = (*draw(batch_for(plane)), *plane)
    if draw(st.booleans()):
        return shape, dict(size=(draw(st.integers(1, 8)), draw(st.integers(1, 8))))
    scales = tuple(draw(st.sampled_from([0.5, 0.75, 1.0, 1.3, 1.5, 2.0, 2.5, 3.0])) for _ in range(2))
    assume(all(math.floor(n * f) >= 1 for n, f in zip(plane, scales)))
    return shape, dict(scale_factor=scales if scales[0] != scales[1] else scales[0])


def resized_plane(shape, resize):
    if "size" in resize:
        return resize["size"], (None, None)
    f = resize["scale_factor"]
    f = f if isinstance(f, tuple) else (f, f)
    return tuple(math.floor(n * s) for n, s in zip(shape[2:], f)), f


@given(setting=resize_settings(), data=st.data())
def test_interpolate_nearest_matches_the_reference_and_gradchecks(device, setting, data):
    shape, resize = setting
    x = data.draw(smooth_arrays(shape))
    out, scales = resized_plane(shape, resize)
    X = leaf(x, device)
    y = F.interpolate(X, **resize)
    np.testing.assert_array_equal(host(y), reference_interpolate(x, out, "nearest", scales=scales))
    check(lambda t: F.interpolate(t, **resize), X)


@given(setting=resize_settings(), data=st.data(), align_corners=st.sampled_from([None, False, True]))
def test_interpolate_bilinear_matches_the_reference_and_gradchecks(device, setting, data, align_corners):
    shape, resize = setting
    x = data.draw(smooth_arrays(shape))
    out, scales = resized_plane(shape, resize)
    X = leaf(x, device)
    y = F.interpolate(X, mode="bilinear", align_corners=align_corners, **resize)
    expected = reference_interpolate(x, out, "bilinear", bool(align_corners), scales)
    np.testing.assert_allclose(host(y), expected, rtol=1e-12, atol=1e-12)
    check(lambda t: F.interpolate(t, mode="bilinear", align_corners=align_corners, **resize), X)


def test_nearest_with_an_integer_scale_repeats_each_pixel(device):
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    y = F.interpolate(td.tensor(x, device=device), scale_factor=3)
    np.testing.assert_array_equal(host(y), x.repeat(3, axis=2).repeat(3, axis=3))


@pytest.mark.parametrize("align_corners", [False, True])
def test_bilinear_reproduces_a_linear_ramp(device, align_corners):
    """On x[r, q] = 2 r - 3 q + 1, bilinear interpolation is exact at every source coordinate."""
    h, w, oh, ow = 4, 5, 7, 3
    r, q = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    x = (2.0 * r - 3.0 * q + 1.0)[None, None]
    y = host(F.interpolate(td.tensor(x, device=device), size=(oh, ow), mode="bilinear", align_corners=align_corners))
    if align_corners:
        src_r, src_q = np.arange(oh) * (h - 1) / (oh - 1), np.arange(ow) * (w - 1) / (ow - 1)
    else:  # centres aligned, clamped to the image
        src_r = np.clip((np.arange(oh) + 0.5) * h / oh - 0.5, 0, h - 1)
        src_q = np.clip((np.arange(ow) + 0.5) * w / ow - 0.5, 0, w - 1)
    np.testing.assert_allclose(y[0, 0], 2 * src_r[:, None] - 3 * src_q[None, :] + 1, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_interpolate_to_the_same_size_is_the_identity(device, mode):
    x = td.randn(2, 3, 4, 5, dtype=td.float64, device=device)
    np.testing.assert_array_equal(host(F.interpolate(x, size=(4, 5), mode=mode)), host(x))
    np.testing.assert_array_equal(host(F.interpolate(x, scale_factor=1.1, mode=mode)), host(x))  # floor(4.4) = 4


def test_outputs_keep_float32(device):
    x = td.randn(1, 2, 4, 4, device=device)
    for y in [F.max_pool2d(x, 2), F.avg_pool2d(x, 2), F.adaptive_avg_pool2d(x, 3), F.interpolate(x, scale_factor=2),
              F.interpolate(x, size=3, mode="bilinear")]:
        assert y.dtype == td.float32 and y.device == device


# ---- modules -----------------------------------------------------------------------
def test_modules_call_their_functions(device):
    x = td.randn(2, 3, 6, 6, dtype=td.float64, device=device)
    pairs = [
        (nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), lambda t: F.max_pool2d(t, 3, 2, 1, ceil_mode=True)),
        (nn.AvgPool2d(2, count_include_pad=False), lambda t: F.avg_pool2d(t, 2, count_include_pad=False)),
        (nn.AdaptiveAvgPool2d((2, 3)), lambda t: F.adaptive_avg_pool2d(t, (2, 3))),
        (nn.Upsample(scale_factor=2), lambda t: F.interpolate(t, scale_factor=2)),
        (nn.Upsample(size=(4, 9), mode="bilinear", align_corners=True),
         lambda t: F.interpolate(t, size=(4, 9), mode="bilinear", align_corners=True)),
    ]
    for module, fn in pairs:
        np.testing.assert_array_equal(host(module(x)), host(fn(x)))
        assert list(module.parameters()) == []


def test_segnet_style_encoder_decoder_pools_and_unpools(device):
    pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    x = leaf(np.random.default_rng(1).standard_normal((2, 3, 5, 4)), device)
    y, indices = pool(x)
    z = unpool(y, indices, output_size=x.shape)
    assert y.shape == (2, 3, 2, 2) and z.shape == x.shape
    (z * x).sum().backward()  # d/dx of sum(z * x): 2 x at the maxima (they reach z and, through it, the loss twice)
    expected = np.zeros(x.shape)
    n, c = x.shape[:2]
    flat_x = host(x).reshape(n, c, -1)
    np.put_along_axis(expected.reshape(n, c, -1), indices.numpy().reshape(n, c, -1),
                      np.take_along_axis(flat_x, indices.numpy().reshape(n, c, -1), 2), 2)
    np.testing.assert_allclose(host(x.grad), host(z) + expected, rtol=1e-12)


def test_module_reprs_follow_pytorch():
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert repr(nn.MaxUnpool2d(2)) == "MaxUnpool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
    assert repr(nn.AvgPool2d(3, 1, 1)) == "AvgPool2d(kernel_size=3, stride=1, padding=1)"
    assert repr(nn.AdaptiveAvgPool2d((2, None))) == "AdaptiveAvgPool2d(output_size=(2, None))"
    assert repr(nn.Upsample(scale_factor=2)) == "Upsample(scale_factor=2.0, mode='nearest')"
    assert repr(nn.Upsample(size=(3, 4), mode="bilinear")) == "Upsample(size=(3, 4), mode='bilinear')"


# ---- errors ------------------------------------------------------------------------
def shape_text(shape):
    return re.escape(str(tuple(shape)))


BAD_POOL_CALLS = [
    ("max_pool2d", dict(kernel_size=2, padding=2), r"max_pool2d: padding \(2, 2\).*half of kernel_size \(2, 2\)"),
    ("max_pool2d", dict(kernel_size=0), r"max_pool2d: kernel_size must be positive"),
    ("max_pool2d", dict(kernel_size=2, stride=(1, 0)), r"max_pool2d: stride must be positive.*\(1, 0\)"),
    ("max_pool2d", dict(kernel_size=2, dilation=0), r"max_pool2d: dilation must be positive"),
    ("max_pool2d", dict(kernel_size=2, padding=-1), r"max_pool2d: padding must be non-negative"),
    ("max_pool2d", dict(kernel_size=6), r"max_pool2d: input of shape \(1, 2, 5, 4\) is too small for kernel_size"),
    ("max_pool2d", dict(kernel_size=(1, 2, 3)), r"max_pool2d: kernel_size must be an int or a pair"),
    ("avg_pool2d", dict(kernel_size=3, padding=2), r"avg_pool2d: padding \(2, 2\).*half of kernel_size \(3, 3\)"),
    ("avg_pool2d", dict(kernel_size=(6, 2)), r"avg_pool2d: input of shape \(1, 2, 5, 4\) is too small"),
    ("avg_pool2d", dict(kernel_size=2, divisor_override=0), r"avg_pool2d: divisor_override must not be zero"),
]


@pytest.mark.parametrize("op, kwargs, message", BAD_POOL_CALLS)
def test_pooling_rejects_bad_arguments(device, op, kwargs, message):
    with pytest.raises(ValueError, match=message):
        getattr(F, op)(td.randn(1, 2, 5, 4, device=device), **kwargs)


def test_pooling_rejects_bad_input_shapes(device):
    for op in [lambda t: F.max_pool2d(t, 2), lambda t: F.avg_pool2d(t, 2), lambda t: F.adaptive_avg_pool2d(t, 2)]:
        with pytest.raises(ValueError, match=r"\(C, H, W\) or \(N, C, H, W\).*" + shape_text((4, 4))):
            op(td.randn(4, 4, device=device))
        with pytest.raises(ValueError, match=shape_text((1, 2, 0, 4))):
            op(td.randn(1, 2, 0, 4, device=device))


def test_max_pool2d_refuses_a_window_of_pure_padding(kernels, device):
    message = r"max_pool2d: .*padding \(1, 1\).*dilation \(2, 2\).*" + shape_text((1, 1, 1, 1))
    with pytest.raises(ValueError, match=message):
        F.max_pool2d(td.randn(1, 1, 1, 1, device=device), 2, stride=1, padding=1, dilation=2)


def test_max_unpool2d_rejects_bad_arguments(device):
    values, indices = F.max_pool2d(td.randn(1, 2, 4, 4, device=device), 2, return_indices=True)  # (1, 2, 2, 2)
    with pytest.raises(ValueError, match=r"max_unpool2d: indices of shape \(1, 2, 1, 2\).*" + shape_text((1, 2, 2, 2))):
        F.max_unpool2d(values, indices[:, :, :1], 2)
    message = r"max_unpool2d: output_size \(7, 4\).*" + shape_text((1, 2, 2, 2)) + ".*dim 0"
    with pytest.raises(ValueError, match=message):
        F.max_unpool2d(values, indices, 2, output_size=(7, 4))
    with pytest.raises(ValueError, match=r"max_unpool2d: output_size must be \(H, W\)"):
        F.max_unpool2d(values, indices, 2, output_size=(4,))
    with pytest.raises(ValueError, match=r"max_unpool2d: indices must lie in \[0, 9\).*\(3, 3\)"):
        F.max_unpool2d(values, indices, 2, output_size=(3, 3)).sum().item()  # a GPU raises at the read
    with pytest.raises(TypeError, match=r"max_unpool2d: indices must be integers"):
        F.max_unpool2d(values, indices.double(), 2)


BAD_INTERPOLATE_CALLS = [
    (dict(), r"interpolate: give exactly one of size and scale_factor.*" + shape_text((1, 2, 5, 4))),
    (dict(size=3, scale_factor=2), r"interpolate: give exactly one of size and scale_factor"),
    (dict(size=3, mode="bicubic"), r"interpolate: mode must be one of \('nearest', 'bilinear'\), got 'bicubic'"),
    (dict(size=3, align_corners=True), r"interpolate: align_corners can only be set with mode='bilinear'"),
    (dict(size=(3, 0)), r"interpolate: size must be positive, got \(3, 0\).*" + shape_text((1, 2, 5, 4))),
    (dict(scale_factor=0.1), r"interpolate: scale_factor 0.1 turns an input of shape \(1, 2, 5, 4\) into an empty"),
    (dict(scale_factor=-2), r"interpolate: scale_factor must be a positive number"),
    (dict(size=(1, 2, 3)), r"interpolate: size must be an int or a pair"),
]


@pytest.mark.parametrize("kwargs, message", BAD_INTERPOLATE_CALLS)
def test_interpolate_rejects_bad_arguments(device, kwargs, message):
    with pytest.raises(ValueError, match=message):
        F.interpolate(td.randn(1, 2, 5, 4, device=device), **kwargs)


def test_interpolate_needs_a_4d_input(device):
    message = r"interpolate: expected a 4-d input \(N, C, H, W\), got " + shape_text((2, 5, 4))
    with pytest.raises(ValueError, match=message):
        F.interpolate(td.randn(2, 5, 4, device=device), size=3)
