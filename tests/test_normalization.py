"""Normalization (batch, instance, layer norm, AdaIN) and dropout: values, gradients, state.

Every normalization is checked three ways over Hypothesis-drawn shapes and
settings: its forward against a NumPy reference, ``td.gradcheck`` (first
derivatives) and ``td.gradgradcheck`` (second derivatives, through the
hand-derived backward), always in float64 with gradcheck's default tolerances.
Then: running statistics, evaluation mode, dropout's masks, the modules'
parameters, buffers and state-dict keys, and the errors at the public boundary.
"""
import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinydl as td
import tinydl.functional as F
import tinydl.nn as nn
from strategies import positive_arrays, shapes, smooth_arrays
from helpers import leaf, const, host, rounding_atol

MAX_NUMEL = 24  # elements per gradgradchecked input: each example differentiates a long backward ~4 * numel times
HEAVY = settings(max_examples=25)  # the ci profile's count, also under the dev profile (gradgradcheck is slow)
EPS = st.sampled_from([1e-5, 1e-3, 0.1])


# ---- strategies (local to this family) ----------------------------------------
@st.composite
def spread_arrays(draw, shape, gap=0.3):
    """float64 values no two of which are closer than ``gap / 2``.

    Normalization divides by sigma = sqrt(var + eps): where a group's values
    nearly coincide, sigma is tiny and the function is so steep that a finite
    difference is no longer a derivative.  Here every group of two or more
    values has a standard deviation of at least gap / 4, whatever axes are
    normalized.  Hypothesis still chooses the order (a permutation of ranks),
    a jitter within each rank, and an overall shift.
    """
    numel = math.prod(shape)
    ranks = np.array(draw(st.permutations(range(numel))), dtype=np.float64)
    jitter = draw(hnp.arrays(np.float64, (numel,), elements=st.floats(0.0, gap / 2)))
    shift = draw(st.floats(-1.0, 1.0))
    return ((ranks - (numel - 1) / 2) * gap + jitter + shift).reshape(shape)


@st.composite
def spatial_sizes(draw, ndim, at_least=1):
    """``ndim`` spatial sides in 1..3 whose product is at least ``at_least`` (1 or 2)."""
    sides = [draw(st.integers(1, 3)) for _ in range(ndim)]
    if math.prod(sides) < at_least:
        sides[draw(st.integers(0, ndim - 1))] = 2
    return tuple(sides)


@st.composite
def batch_channel_shape(draw, spatial, min_batch=1, max_numel=MAX_NUMEL):
    """(N, C, *spatial) with N in min_batch..4 and C in 1..3, within ``max_numel`` where it can be."""
    room = max_numel // math.prod(spatial)
    n = draw(st.integers(min_batch, max(min_batch, min(4, room))))
    c = draw(st.integers(1, max(1, min(3, room // n))))
    return (n, c) + spatial


@st.composite
def batch_norm_shapes(draw):
    """(N, C), (N, C, L) or (N, C, H, W) with more than one value per channel (N * H * W >= 2)."""
    spatial = draw(spatial_sizes(draw(st.sampled_from([0, 1, 2]))))
    return draw(batch_channel_shape(spatial, min_batch=1 if math.prod(spatial) >= 2 else 2))


@st.composite
def instance_shapes(draw, max_numel=MAX_NUMEL):
    """(N, C, L) or (N, C, H, W) with more than one spatial element."""
    spatial = draw(spatial_sizes(draw(st.sampled_from([1, 2])), at_least=2))
    return draw(batch_channel_shape(spatial, max_numel=max_numel))


# ---- helpers ---------------------------------------------------------------------
def check(fn, *inputs):
    """gradcheck, then gradgradcheck, with the default tolerances."""
    assert td.gradcheck(fn, inputs)
    assert td.gradgradcheck(fn, inputs)


def assert_forward(out, expected):
    np.testing.assert_allclose(host(out), expected, rtol=1e-10, atol=1e-12)


def normalize_np(x, axes, eps):
    """The reference: (x - mean) / sqrt(biased var + eps) over ``axes``."""
    return (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)


def per_channel(v, ndim):
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def bn_axes(ndim):
    return (0,) + tuple(range(2, ndim))


# ---- batch norm ---------------------------------------------------------------------
@HEAVY
@given(data=st.data(), affine=st.booleans(), eps=EPS)
def test_batch_norm_training_gradchecks(device, data, affine, eps):
    shape = data.draw(batch_norm_shapes())
    c = shape[1]
    x = data.draw(spread_arrays(shape))
    X = leaf(x, device)
    params = [leaf(data.draw(smooth_arrays((c,))), device) for _ in range(2)] if affine else []

    def fn(x, *wb):
        return F.batch_norm(x, None, None, *wb, training=True, eps=eps)

    expected = normalize_np(x, bn_axes(x.ndim), eps)
    if affine:
        expected = expected * per_channel(host(params[0]), x.ndim) + per_channel(host(params[1]), x.ndim)
    assert_forward(fn(X, *params), expected)
    check(fn, X, *params)


@HEAVY
@given(data=st.data(), affine=st.booleans(), eps=EPS)
def test_batch_norm_eval_uses_running_stats_and_gradchecks(device, data, affine, eps):
    shape = data.draw(batch_norm_shapes())
    c = shape[1]
    x = data.draw(smooth_arrays(shape))
    mean, var = data.draw(smooth_arrays((c,))), data.draw(positive_arrays((c,)))
    running_mean, running_var = const(mean, device), const(var, device)
    X = leaf(x, device)
    params = [leaf(data.draw(smooth_arrays((c,))), device) for _ in range(2)] if affine else []

    def fn(x, *wb):
        return F.batch_norm(x, running_mean, running_var, *wb, training=False, eps=eps)

    expected = (x - per_channel(mean, x.ndim)) / np.sqrt(per_channel(var, x.ndim) + eps)
    if affine:
        expected = expected * per_channel(host(params[0]), x.ndim) + per_channel(host(params[1]), x.ndim)
    assert_forward(fn(X, *params), expected)
    check(fn, X, *params)
    np.testing.assert_array_equal(host(running_mean), mean)  # evaluation never changes them
    np.testing.assert_array_equal(host(running_var), var)


@given(data=st.data(), momentum=st.sampled_from([0.0, 0.1, 0.5, 1.0]))
def test_batch_norm_updates_running_stats_with_the_unbiased_variance(device, data, momentum):
    shape = data.draw(batch_norm_shapes())
    c = shape[1]
    mean0, var0 = data.draw(smooth_arrays((c,))), data.draw(positive_arrays((c,)))
    running_mean, running_var = const(mean0, device), const(var0, device)
    expected_mean, expected_var = mean0, var0
    for step in range(3):
        x = data.draw(smooth_arrays(shape))
        y = F.batch_norm(const(x, device), running_mean, running_var, training=True, momentum=momentum)
        assert_forward(y, normalize_np(x, bn_axes(x.ndim), 1e-5))  # normalized with the *batch* statistics
        axes = bn_axes(x.ndim)
        expected_mean = (1 - momentum) * expected_mean + momentum * x.mean(axis=axes)
        expected_var = (1 - momentum) * expected_var + momentum * x.var(axis=axes, ddof=1)
        np.testing.assert_allclose(host(running_mean), expected_mean, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(host(running_var), expected_var, rtol=1e-12, atol=1e-14)


def test_batch_norm_updates_the_buffers_in_place(device):
    running_mean, running_var = const(np.zeros(2), device), const(np.ones(2), device)
    arrays = running_mean.data, running_var.data
    F.batch_norm(const(np.arange(8.0).reshape(4, 2), device), running_mean, running_var, training=True)
    assert running_mean.data is arrays[0] and running_var.data is arrays[1]
    np.testing.assert_allclose(host(running_mean), [0.3, 0.4])  # 0.1 * batch mean [3, 4]
    np.testing.assert_allclose(host(running_var), [0.9 + 0.1 * 20 / 3] * 2)  # unbiased var of [0, 2, 4, 6] is 20/3


def test_batch_norm_without_running_stats_always_uses_the_batch(device):
    x = const(np.random.default_rng(0).standard_normal((5, 3, 2)), device)
    for training in (True, False):
        assert_forward(F.batch_norm(x, None, None, training=training), normalize_np(host(x), (0, 2), 1e-5))


def test_batch_norm_training_output_is_standardized_per_channel(device):
    x = np.random.default_rng(1).normal(3.0, 5.0, (8, 4, 3, 3))
    y = host(F.batch_norm(const(x, device), None, None, training=True, eps=1e-5))
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    var = x.var(axis=(0, 2, 3))
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), var / (var + 1e-5), rtol=1e-12)


def test_double_backward_keeps_the_dependence_of_sigma_on_x(device):
    """The second derivative of sum(xhat^3) through the hand-written backward, against finite
    differences of its first derivative computed in float64 with NumPy (no autograd)."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 2))
    eps = 1e-5

    def first_derivative(x):
        """d/dx sum(xhat^3) in closed form: (m g - sum g - xhat sum(g xhat)) / (m sigma) with g = 3 xhat^2."""
        xhat = normalize_np(x, (0,), eps)
        g, m = 3 * xhat**2, x.shape[0]
        sigma = np.sqrt(x.var(axis=0, keepdims=True) + eps)
        return (m * g - g.sum(0, keepdims=True) - xhat * (g * xhat).sum(0, keepdims=True)) / (m * sigma)

    X = leaf(x, device)
    (gx,) = td.grad((F.batch_norm(X, None, None, training=True) ** 3).sum(), X, create_graph=True)
    np.testing.assert_allclose(host(gx), first_derivative(x), rtol=1e-10, atol=1e-12)
    v = rng.standard_normal(x.shape)
    (hv,) = td.grad((gx * const(v, device)).sum(), X)
    h = 1e-6
    numeric = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        numeric[i] = ((first_derivative(x + e) - first_derivative(x - e)) * v).sum() / (2 * h)
    np.testing.assert_allclose(host(hv), numeric, rtol=1e-5, atol=1e-6)


# ---- layer norm ----------------------------------------------------------------------
@HEAVY
@given(data=st.data(), affine=st.sampled_from(["none", "weight", "both"]), eps=EPS)
def test_layer_norm_gradchecks(device, data, affine, eps):
    shape = data.draw(shapes(min_dims=1, max_dims=4, max_numel=MAX_NUMEL))
    k = data.draw(st.integers(1, len(shape)))
    normalized = shape[len(shape) - k:]
    x = data.draw(spread_arrays(shape))
    X = leaf(x, device)
    params = []
    if affine != "none":
        params.append(leaf(data.draw(smooth_arrays(normalized)), device))
    if affine == "both":
        params.append(leaf(data.draw(smooth_arrays(normalized)), device))

    def fn(x, weight=None, bias=None):
        return F.layer_norm(x, normalized, weight, bias, eps)

    expected = normalize_np(x, tuple(range(len(shape) - k, len(shape))), eps)
    for i, p in enumerate(params):
        expected = expected * host(p) if i == 0 else expected + host(p)
    assert_forward(fn(X, *params), expected)
    check(fn, X, *params)


def test_layer_norm_accepts_an_int_and_normalizes_each_token(device):
    x = np.random.default_rng(3).standard_normal((3, 2, 5))
    assert_forward(F.layer_norm(const(x, device), 5), normalize_np(x, (2,), 1e-5))


# ---- instance norm ------------------------------------------------------------------
@HEAVY
@given(data=st.data(), affine=st.booleans(), eps=EPS)
def test_instance_norm_gradchecks(device, data, affine, eps):
    shape = data.draw(instance_shapes())
    c = shape[1]
    x = data.draw(spread_arrays(shape))
    X = leaf(x, device)
    params = [leaf(data.draw(smooth_arrays((c,))), device) for _ in range(2)] if affine else []

    def fn(x, weight=None, bias=None):
        return F.instance_norm(x, eps, weight=weight, bias=bias)

    expected = normalize_np(x, tuple(range(2, x.ndim)), eps)
    if affine:
        expected = expected * per_channel(host(params[0]), x.ndim) + per_channel(host(params[1]), x.ndim)
    assert_forward(fn(X, *params), expected)
    check(fn, X, *params)


@given(data=st.data(), momentum=st.sampled_from([0.1, 0.7]))
def test_instance_norm_running_stats_average_the_instances(device, data, momentum):
    shape = data.draw(instance_shapes())
    c, m = shape[1], math.prod(shape[2:])
    x = data.draw(smooth_arrays(shape))
    running_mean, running_var = const(np.zeros(c), device), const(np.ones(c), device)
    F.instance_norm(const(x, device), running_mean=running_mean, running_var=running_var, momentum=momentum)
    flat = x.reshape(shape[0], c, m)
    np.testing.assert_allclose(host(running_mean), momentum * flat.mean(axis=2).mean(axis=0), atol=1e-14)
    expected_var = (1 - momentum) + momentum * flat.var(axis=2, ddof=1).mean(axis=0)
    np.testing.assert_allclose(host(running_var), expected_var, rtol=1e-12)
    # with use_input_stats=False the running statistics are used instead
    y = F.instance_norm(
        const(x, device), 1e-5, running_mean=running_mean, running_var=running_var, use_input_stats=False
    )
    expected = (x - per_channel(host(running_mean), x.ndim)) / np.sqrt(per_channel(host(running_var), x.ndim) + 1e-5)
    assert_forward(y, expected)


# ---- AdaIN ----------------------------------------------------------------------------
def adain_np(content, style, eps):
    axes = tuple(range(2, content.ndim))
    sigma_s = np.sqrt(style.var(axis=axes, keepdims=True) + eps)
    return sigma_s * normalize_np(content, axes, eps) + style.mean(axis=axes, keepdims=True)


@HEAVY
@given(data=st.data(), eps=EPS, one_style=st.booleans())
def test_adaptive_instance_norm_gradchecks_for_content_and_style(device, data, eps, one_style):
    content_shape = data.draw(shapes(min_dims=4, max_dims=4, max_numel=16))
    n, c = content_shape[:2]
    style_shape = (1 if one_style else n, c) + tuple(data.draw(st.integers(1, 3)) for _ in range(2))
    content, style = data.draw(spread_arrays(content_shape)), data.draw(spread_arrays(style_shape))
    C, S = leaf(content, device), leaf(style, device)

    def fn(content, style):
        return F.adaptive_instance_norm(content, style, eps)

    assert_forward(fn(C, S), adain_np(content, style, eps))
    check(fn, C, S)


def test_adaptive_instance_norm_transfers_the_style_statistics(device):
    rng = np.random.default_rng(4)
    content, style = rng.normal(2.0, 3.0, (2, 3, 6, 6)), rng.normal(-1.0, 0.5, (2, 3, 4, 5))
    y = host(F.adaptive_instance_norm(const(content, device), const(style, device), eps=1e-12))
    np.testing.assert_allclose(y.mean(axis=(2, 3)), style.mean(axis=(2, 3)), atol=1e-12)
    np.testing.assert_allclose(y.std(axis=(2, 3)), style.std(axis=(2, 3)), rtol=1e-9)  # biased, as AdaIN


# ---- dropout --------------------------------------------------------------------------
def test_dropout_is_reproducible_with_manual_seed(device):
    x = const(np.ones((50, 40)), device)
    td.manual_seed(7)
    first = host(F.dropout(x, 0.3))
    second = host(F.dropout(x, 0.3))
    td.manual_seed(7)
    again = host(F.dropout(x, 0.3))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, second)  # the generator moved on


@given(p=st.sampled_from([0.1, 0.25, 0.5, 0.9]), seed=st.integers(0, 2**16))
def test_dropout_zeros_or_scales_each_element(device, p, seed):
    x = np.random.default_rng(seed).uniform(0.5, 2.0, (30, 20))  # no zeros: a zero in y means dropped
    td.manual_seed(seed)
    X = leaf(x, device)
    y = F.dropout(X, p)
    y.backward(td.ones_like(y))
    y, grad = host(y), host(X.grad)
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / (1 - p), rtol=1e-15)
    np.testing.assert_array_equal(grad, kept / (1 - p))  # the gradient is the same scaled mask


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_keeps_a_fraction_one_minus_p_and_preserves_the_mean(device, p):
    td.manual_seed(0)
    n = 40_000
    y = host(F.dropout(const(np.ones(n, dtype=np.float32), device), p))
    kept = (y != 0).mean()
    tolerance = 5 * math.sqrt(p * (1 - p) / n)  # five standard deviations of a binomial fraction
    assert abs(kept - (1 - p)) < tolerance
    assert abs(y.mean() - 1.0) < tolerance / (1 - p)  # E[y] = x: what inverted scaling is for
    assert y.dtype == np.float32


def test_dropout_special_cases(device):
    x = leaf(np.random.default_rng(5).standard_normal((4, 5)), device)
    assert F.dropout(x, 0.0) is x  # p = 0: the identity
    assert F.dropout(x, 0.7, training=False) is x  # evaluation: the identity
    y = F.dropout(x, 1.0)  # p = 1: zeros, and a zero gradient
    np.testing.assert_array_equal(host(y), 0)
    y.sum().backward()
    np.testing.assert_array_equal(host(x.grad), 0)


def test_dropout_gradchecks_with_a_fixed_mask(device):
    x = leaf(np.random.default_rng(6).standard_normal((3, 4)), device)

    def fn(x):
        td.manual_seed(3)  # the same mask at every evaluation, so the function is deterministic
        return F.dropout(x, 0.4)

    check(fn, x)


def test_dropout2d_drops_whole_channels(device):
    td.manual_seed(1)
    x = np.random.default_rng(7).uniform(0.5, 2.0, (8, 6, 3, 4))
    y = host(F.dropout2d(const(x, device), 0.5))
    dropped = (y == 0).all(axis=(2, 3))
    kept = (y != 0).all(axis=(2, 3))
    assert (dropped | kept).all() and dropped.any() and kept.any()
    np.testing.assert_allclose(y[kept], 2 * x[kept])


@pytest.mark.parametrize("p", [-0.1, 1.5, None])
def test_dropout_refuses_a_probability_outside_0_1(device, p):
    x = const(np.ones(3), device)
    with pytest.raises(ValueError, match=r"dropout: .*p .*between 0 and 1"):
        F.dropout(x, p)
    with pytest.raises(ValueError, match=r"Dropout: .*between 0 and 1"):
        nn.Dropout(p)


# ---- modules --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "cls, shape", [(nn.BatchNorm1d, (4, 3)), (nn.BatchNorm1d, (4, 3, 5)), (nn.BatchNorm2d, (4, 3, 2, 2))]
)
def test_batch_norm_module_state_keys_and_init(device, cls, shape):
    bn = cls(3).to(device)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    state = bn.state_dict()
    np.testing.assert_array_equal(state["weight"], np.ones(3))
    np.testing.assert_array_equal(state["bias"], np.zeros(3))
    np.testing.assert_array_equal(state["running_mean"], np.zeros(3))
    np.testing.assert_array_equal(state["running_var"], np.ones(3))
    assert state["num_batches_tracked"].dtype == np.int64 and state["num_batches_tracked"].shape == ()
    assert state["weight"].dtype == np.float32
    bn.double()
    assert bn.weight.dtype == td.float64 and bn.num_batches_tracked.dtype == td.int64
    x = td.randn(*shape, dtype=td.float64, device=device)
    for _ in range(3):
        bn(x)
    assert int(bn.num_batches_tracked.item()) == 3
    bn.eval()
    bn(x)
    assert int(bn.num_batches_tracked.item()) == 3  # only training batches count


def test_batch_norm_module_train_then_eval(device):
    rng = np.random.default_rng(8)
    bn = nn.BatchNorm2d(2, momentum=None).double().to(device)  # None: the cumulative average of all batches
    batches = [rng.normal(i, 1 + i, (3, 2, 2, 2)) for i in range(4)]
    for x in batches:
        assert_forward(bn(const(x, device)), normalize_np(x, (0, 2, 3), 1e-5))
    mean = np.mean([x.mean(axis=(0, 2, 3)) for x in batches], axis=0)
    var = np.mean([x.var(axis=(0, 2, 3), ddof=1) for x in batches], axis=0)
    np.testing.assert_allclose(host(bn.running_mean), mean, rtol=1e-12)
    np.testing.assert_allclose(host(bn.running_var), var, rtol=1e-12)
    bn.eval()
    x = rng.standard_normal((2, 2, 3, 3))
    assert_forward(bn(const(x, device)), (x - per_channel(mean, 4)) / np.sqrt(per_channel(var, 4) + 1e-5))


def test_batch_norm_module_options(device):
    plain = nn.BatchNorm1d(3, affine=False, track_running_stats=False).to(device)
    assert list(plain.state_dict()) == [] and list(plain.parameters()) == []
    x = np.random.default_rng(9).standard_normal((5, 3))
    for mode in (True, False):  # no running statistics: batch statistics in both modes
        plain.train(mode)
        assert_forward(plain.double()(const(x, device)), normalize_np(x, (0,), 1e-5))
    without_bias = ["weight", "running_mean", "running_var", "num_batches_tracked"]
    assert list(nn.BatchNorm2d(3, bias=False).state_dict()) == without_bias
    expected = "BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)"
    assert repr(nn.BatchNorm2d(3)) == expected


def test_batch_norm_module_gradients_reach_weight_and_bias(device):
    bn = nn.BatchNorm1d(3).double().to(device)
    x = np.random.default_rng(10).standard_normal((6, 3))
    g = np.random.default_rng(11).standard_normal((6, 3))
    bn(const(x, device)).backward(const(g, device))
    xhat = normalize_np(x, (0,), 1e-5)
    # sums over the batch of random-sign terms can cancel to ~0: atol from the sums of their |values|
    np.testing.assert_allclose(host(bn.weight.grad), (g * xhat).sum(0), rtol=1e-10,
                               atol=rounding_atol(np.abs(g * xhat).sum(0), terms=6))
    np.testing.assert_allclose(host(bn.bias.grad), g.sum(0), rtol=1e-10, atol=rounding_atol(np.abs(g).sum(0), terms=6))


def test_layer_norm_module(device):
    ln = nn.LayerNorm((2, 3)).to(device)
    assert list(ln.state_dict()) == ["weight", "bias"] and ln.weight.shape == (2, 3)
    np.testing.assert_array_equal(ln.state_dict()["weight"], np.ones((2, 3)))
    np.testing.assert_array_equal(ln.state_dict()["bias"], np.zeros((2, 3)))
    assert list(nn.LayerNorm(4, elementwise_affine=False).state_dict()) == []
    assert list(nn.LayerNorm(4, bias=False).state_dict()) == ["weight"]
    x = np.random.default_rng(12).standard_normal((4, 2, 3))
    for mode in (True, False):  # the same in both modes
        assert_forward(ln.train(mode).double()(const(x, device)), normalize_np(x, (1, 2), 1e-5))
    assert repr(nn.LayerNorm(3)) == "LayerNorm((3,), eps=1e-05, elementwise_affine=True, bias=True)"


def test_instance_norm_module(device):
    x = np.random.default_rng(13).standard_normal((2, 3, 4, 4))
    norm = nn.InstanceNorm2d(3).double().to(device)
    assert list(norm.state_dict()) == []
    assert_forward(norm(const(x, device)), normalize_np(x, (2, 3), 1e-5))
    assert_forward(norm(const(x[0], device)), normalize_np(x[:1], (2, 3), 1e-5)[0])  # unbatched (C, H, W)
    tracked = nn.InstanceNorm2d(3, affine=True, track_running_stats=True).double().to(device)
    assert list(tracked.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    tracked(const(x, device))
    assert host(tracked.running_mean).any() and int(tracked.num_batches_tracked.item()) == 0  # as in PyTorch
    tracked.eval()
    mean, var = host(tracked.running_mean), host(tracked.running_var)
    assert_forward(tracked(const(x, device)), (x - per_channel(mean, 4)) / np.sqrt(per_channel(var, 4) + 1e-5))


def test_dropout_modules_follow_train_and_eval(device):
    x = const(np.ones((20, 10), dtype=np.float32), device)
    drop = nn.Dropout(0.5)
    assert (host(drop(x)) == 0).any()
    drop.eval()
    assert drop(x) is x
    drop2d = nn.Dropout2d(0.5)
    y = host(drop2d(const(np.ones((20, 10, 2, 2)), device)))
    assert ((y == 0).all(axis=(2, 3)) | (y == 2).all(axis=(2, 3))).all()
    assert repr(drop) == "Dropout(p=0.5, inplace=False)"


# ---- errors name the op, the argument and the shapes -------------------------------
def shapes_in(*shapes):
    return ".*".join(re.escape(str(tuple(s))) for s in shapes)


def test_batch_norm_errors(device):
    x = const(np.zeros((4, 3, 2, 2)), device)
    with pytest.raises(ValueError, match=r"batch_norm: running_mean .*" + shapes_in((3,), (4, 3, 2, 2), (5,))):
        F.batch_norm(x, const(np.zeros(5), device), const(np.ones(5), device))
    with pytest.raises(ValueError, match=r"batch_norm: weight .*" + shapes_in((3,), (4, 3, 2, 2), (3, 1))):
        F.batch_norm(x, None, None, const(np.ones((3, 1)), device), training=True)
    with pytest.raises(ValueError, match=r"batch_norm: .*more than 1 value per channel.*" + shapes_in((1, 3))):
        F.batch_norm(const(np.zeros((1, 3)), device), None, None, training=True)
    with pytest.raises(ValueError, match=r"batch_norm: .*" + shapes_in((3,))):
        F.batch_norm(const(np.zeros(3), device), None, None)
    with pytest.raises(TypeError, match=r"batch_norm: momentum"):
        F.batch_norm(x, const(np.zeros(3), device), const(np.ones(3), device), training=True, momentum=None)
    with pytest.raises(ValueError, match=r"batch_norm: .*both running_mean and running_var"):
        F.batch_norm(x, const(np.zeros(3), device), None)
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected 2D or 3D input \(got 4D .*" + shapes_in((4, 3, 2, 2))):
        nn.BatchNorm1d(3)(x)
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected 4D input \(got 2D input of shape \(4, 3\)\)"):
        nn.BatchNorm2d(3)(const(np.zeros((4, 3)), device))
    with pytest.raises(ValueError, match=r"batch_norm: running_mean .*" + shapes_in((4,), (2, 4, 2, 2), (3,))):
        nn.BatchNorm2d(3).to(device)(const(np.zeros((2, 4, 2, 2), dtype=np.float32), device))


def test_other_normalization_errors(device):
    x = const(np.zeros((2, 3, 4)), device)
    with pytest.raises(ValueError, match=r"layer_norm: normalized_shape=\(3,\).*" + shapes_in((2, 3, 4))):
        F.layer_norm(x, 3)
    with pytest.raises(ValueError, match=r"layer_norm: weight .*" + shapes_in((4,), (2, 3, 4), (3,))):
        F.layer_norm(x, 4, const(np.ones(3), device))
    with pytest.raises(ValueError, match=r"instance_norm: .*" + shapes_in((2, 3))):
        F.instance_norm(const(np.zeros((2, 3)), device))
    with pytest.raises(ValueError, match=r"instance_norm: .*more than 1 spatial element.*" + shapes_in((2, 3, 1, 1))):
        F.instance_norm(const(np.zeros((2, 3, 1, 1)), device))
    with pytest.raises(ValueError, match=r"adaptive_instance_norm: style .*" + shapes_in((2, 4, 3, 3), (2, 3, 3, 3))):
        F.adaptive_instance_norm(const(np.zeros((2, 3, 3, 3)), device), const(np.zeros((2, 4, 3, 3)), device))
    with pytest.raises(TypeError, match=r"layer_norm: input must be floating point"):
        F.layer_norm(const(np.zeros((2, 3), dtype=np.int64), device), 3)
    with pytest.raises(ValueError, match=r"InstanceNorm2d: .*num_features \(3\).*" + shapes_in((2, 4, 3, 3))):
        nn.InstanceNorm2d(3, affine=True)(const(np.zeros((2, 4, 3, 3), dtype=np.float32), device))
