"""Gradient checks of every differentiable core op, in float64, over generated inputs.

Each test draws shapes and values from ``strategies.py``, builds leaves on
``device``, compares the forward with a NumPy/SciPy reference, and runs
``td.gradcheck`` (first derivatives) and ``td.gradgradcheck`` (second
derivatives, what a gradient penalty such as WGAN-GP's backpropagates through).
Tolerances are always gradcheck's defaults.
"""
import math

import numpy as np
import pytest
import scipy.special
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinydl as td
import tinydl.functional as F
from strategies import (
    basic_indices, boolean_masks, broadcastable_shapes, class_targets, dims, distinct_arrays, gaps, integer_indices,
    matmul_shapes, positive_arrays, probabilities, reductions, reshape_targets, shapes, smooth_arrays,
)
from helpers import leaf, const, host

SMALL = 16  # max elements where gradgradcheck differentiates a long backward (losses with several inputs)


def check(fn, *inputs, second_order=True):
    """gradcheck, then gradgradcheck; each raises GradcheckError naming the bad input."""
    assert td.gradcheck(fn, inputs)
    if second_order:
        assert td.gradgradcheck(fn, inputs)


def assert_forward(out, expected):
    out = host(out)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)


def reduce_np(loss, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](loss)


# ---- elementwise, binary, broadcasting -------------------------------------
BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
    "pow": (lambda a, b: a**b, np.power),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_binary_ops_broadcast(device, name, data):
    op, reference = BINARY[name]
    shape_a, shape_b = data.draw(broadcastable_shapes())
    a = data.draw(positive_arrays(shape_a) if name == "pow" else smooth_arrays(shape_a))
    if name == "div":  # a divisor bounded away from 0, of either sign
        b = data.draw(distinct_arrays(shape_b, margin=0.5))
    else:
        b = data.draw(smooth_arrays(shape_b))
    A, B = leaf(a, device), leaf(b, device)
    assert_forward(op(A, B), reference(a, b))
    check(op, A, B)


SCALAR_CASES = {
    "x + 3": lambda x: x + 3,
    "2.5 + x": lambda x: 2.5 + x,
    "x - 1.5": lambda x: x - 1.5,
    "1 - x": lambda x: 1 - x,
    "x * -2": lambda x: x * -2,
    "0.5 * x": lambda x: 0.5 * x,
    "x / 4": lambda x: x / 4,
    "3 / x": lambda x: 3 / x,
    "x ** 2": lambda x: x**2,
    "x ** 0.5": lambda x: x**0.5,
    "x ** -1.5": lambda x: x**-1.5,
    "2 ** x": lambda x: 2**x,
    "-x": lambda x: -x,
}


@pytest.mark.parametrize("name", sorted(SCALAR_CASES))
@given(data=st.data())
def test_ops_with_python_scalars(device, name, data):
    fn = SCALAR_CASES[name]
    x = data.draw(positive_arrays(data.draw(shapes())))  # positive: 3 / x, x ** 0.5 and x ** -1.5 are smooth there
    X = leaf(x, device)
    out = fn(X)
    assert out.dtype == td.float64  # a Python number adopts the tensor's dtype
    assert_forward(out, fn(x))
    check(fn, X)


# ---- elementwise, unary ----------------------------------------------------
def _gelu(x):
    return 0.5 * x * (1 + scipy.special.erf(x / math.sqrt(2)))


# name: (tinydl op, reference, values), values chosen where the op is smooth
UNARY = {
    "exp": (lambda x: x.exp(), np.exp, smooth_arrays),
    "log": (lambda x: x.log(), np.log, positive_arrays),
    "sqrt": (lambda x: x.sqrt(), np.sqrt, positive_arrays),
    "abs": (lambda x: x.abs(), np.abs, distinct_arrays),
    "erf": (td.erf, scipy.special.erf, smooth_arrays),
    "clone": (lambda x: x.clone(), np.copy, smooth_arrays),
    "relu": (F.relu, lambda x: np.maximum(x, 0), distinct_arrays),
    "sigmoid": (F.sigmoid, scipy.special.expit, lambda s: smooth_arrays(s, -6, 6)),
    "tanh": (F.tanh, np.tanh, smooth_arrays),
    "gelu": (F.gelu, _gelu, lambda s: smooth_arrays(s, -3, 3)),
    "softplus": (F.softplus, lambda x: np.logaddexp(0, x), lambda s: smooth_arrays(s, -5, 5)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_ops(device, name, data):
    op, reference, values = UNARY[name]
    x = data.draw(values(data.draw(shapes())))
    X = leaf(x, device)
    assert_forward(op(X), reference(x))
    check(op, X)


@given(data=st.data(), slope=st.sampled_from([0.01, 0.2, 1.5, -0.3]))
def test_leaky_relu(device, data, slope):
    x = data.draw(distinct_arrays(data.draw(shapes())))
    X = leaf(x, device)
    fn = lambda t: F.leaky_relu(t, negative_slope=slope)  # noqa: E731
    assert_forward(fn(X), np.where(x > 0, x, slope * x))
    check(fn, X)


@given(data=st.data(), which=st.sampled_from(["min", "max", "both"]))
def test_clamp(device, data, which):
    x = data.draw(distinct_arrays(data.draw(shapes(min_dims=1))))
    bounds = sorted(data.draw(st.lists(st.sampled_from(list(gaps(x))), min_size=2, max_size=2)))
    low = bounds[0] if which in ("min", "both") else None
    high = bounds[1] if which in ("max", "both") else None
    X = leaf(x, device)
    fn = lambda t: t.clamp(min=low, max=high)  # noqa: E731
    assert_forward(fn(X), np.clip(x, low, high))
    check(fn, X)


@pytest.mark.parametrize("name", ["maximum", "minimum"])
@given(data=st.data())
def test_maximum_minimum_broadcast(device, name, data):
    shape_a, shape_b = data.draw(broadcastable_shapes())
    size_a = math.prod(shape_a)
    values = data.draw(distinct_arrays((size_a + math.prod(shape_b),)))  # all distinct: no ties between a and b
    a, b = values[:size_a].reshape(shape_a), values[size_a:].reshape(shape_b)
    op = getattr(td, name)
    A, B = leaf(a, device), leaf(b, device)
    assert_forward(op(A, B), getattr(np, name)(a, b))
    check(op, A, B)


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_split_ties_evenly(device, name):
    a = leaf([1.0, 2.0, 3.0], device)
    b = leaf([2.0, 2.0, 2.0], device)
    getattr(td, name)(a, b).sum().backward()
    chose_a = [0.0, 0.5, 1.0] if name == "maximum" else [1.0, 0.5, 0.0]
    np.testing.assert_array_equal(host(a.grad), chose_a)
    np.testing.assert_array_equal(host(b.grad), 1 - np.array(chose_a))


@given(data=st.data())
def test_where_broadcast(device, data):
    shape_a, shape_b = data.draw(broadcastable_shapes())
    out_shape = np.broadcast_shapes(shape_a, shape_b)
    condition = data.draw(st.sampled_from([out_shape, out_shape[1:] if out_shape else ()]))
    c = data.draw(hnp.arrays(np.bool_, condition))
    a, b = data.draw(smooth_arrays(shape_a)), data.draw(smooth_arrays(shape_b))
    C, A, B = const(c, device), leaf(a, device), leaf(b, device)
    fn = lambda x, y: td.where(C, x, y)  # noqa: E731
    assert_forward(fn(A, B), np.where(c, a, b))
    check(fn, A, B)


# ---- reductions -------------------------------------------------------------
@pytest.mark.parametrize("name", ["sum", "mean"])
@given(data=st.data(), keepdim=st.booleans())
def test_sum_mean(device, name, data, keepdim):
    shape = data.draw(shapes(min_dims=1))
    dim = data.draw(dims(len(shape), allow_none=True))
    x = data.draw(smooth_arrays(shape))
    X = leaf(x, device)
    fn = lambda t: getattr(t, name)(dim=dim, keepdim=keepdim)  # noqa: E731
    assert_forward(fn(X), getattr(np, name)(x, axis=dim, keepdims=keepdim))
    check(fn, X)


@pytest.mark.parametrize("name", ["sum", "mean"])
def test_sum_mean_of_a_0d_tensor(device, name):
    x = leaf(np.array(1.5), device)
    check(lambda t: getattr(t, name)(), x)


@pytest.mark.parametrize("name", ["max", "min"])
@given(data=st.data())
def test_max_min_without_dim(device, name, data):
    x = data.draw(distinct_arrays(data.draw(shapes())))
    X = leaf(x, device)
    fn = lambda t: getattr(t, name)()  # noqa: E731
    out = fn(X)
    assert isinstance(out, td.Tensor)
    assert_forward(out, getattr(np, name)(x))
    check(fn, X)


@pytest.mark.parametrize("name", ["max", "min"])
@given(data=st.data(), keepdim=st.booleans())
def test_max_min_along_a_dim_return_values_and_indices(device, name, data, keepdim):
    shape = data.draw(shapes(min_dims=1))
    dim = data.draw(dims(len(shape), allow_tuple=False))
    x = data.draw(distinct_arrays(shape))
    X = leaf(x, device)
    fn = lambda t: getattr(t, name)(dim=dim, keepdim=keepdim)  # noqa: E731
    out = fn(X)
    values, indices = out  # a (values, indices) named tuple, as in PyTorch
    assert out.values is values and out.indices is indices
    assert_forward(values, getattr(np, name)(x, axis=dim, keepdims=keepdim))
    arg = np.argmax if name == "max" else np.argmin
    np.testing.assert_array_equal(host(indices), arg(x, axis=dim, keepdims=keepdim))
    assert indices.dtype == td.int64 and not indices.requires_grad
    check(fn, X)  # the integer indices output is skipped; the values are checked


@pytest.mark.parametrize("name", ["max", "min"])
@given(data=st.data())
def test_max_min_over_several_dims(device, name, data):
    shape = data.draw(shapes(min_dims=2))
    dim = tuple(data.draw(st.lists(st.integers(0, len(shape) - 1), min_size=2, max_size=len(shape), unique=True)))
    x = data.draw(distinct_arrays(shape))
    X = leaf(x, device)
    fn = lambda t: getattr(t, name)(dim=dim)  # noqa: E731
    assert_forward(fn(X), getattr(np, name)(x, axis=dim))
    check(fn, X)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_split_the_gradient_among_ties(device, name):
    x = leaf([3.0, 1.0, 3.0, 2.0] if name == "max" else [1.0, 3.0, 1.0, 2.0], device)
    getattr(x, name)().backward()
    np.testing.assert_array_equal(host(x.grad), [0.5, 0.0, 0.5, 0.0])


@pytest.mark.parametrize("name", ["var", "std"])
@given(data=st.data(), unbiased=st.booleans(), keepdim=st.booleans())
def test_var_std(device, name, data, unbiased, keepdim):
    shape = data.draw(shapes(min_dims=1))
    dim = data.draw(dims(len(shape), allow_none=True))
    count = math.prod(np.empty(shape).sum(axis=dim, keepdims=True).shape)
    assume(math.prod(shape) // count >= 2)  # n - 1 > 0, and a spread for std's sqrt
    x = data.draw(distinct_arrays(shape))
    X = leaf(x, device)
    fn = lambda t: getattr(t, name)(dim=dim, unbiased=unbiased, keepdim=keepdim)  # noqa: E731
    assert_forward(fn(X), getattr(np, name)(x, axis=dim, ddof=int(unbiased), keepdims=keepdim))
    check(fn, X)


def test_var_is_unbiased_by_default(device):
    x = leaf([1.0, 2.0, 4.0], device)
    assert x.var().item() == pytest.approx(np.var([1, 2, 4], ddof=1))
    assert x.std().item() == pytest.approx(np.std([1, 2, 4], ddof=1))


@given(data=st.data(), keepdim=st.booleans())
def test_logsumexp(device, data, keepdim):
    shape = data.draw(shapes(min_dims=1))
    dim = data.draw(dims(len(shape)))
    x = data.draw(smooth_arrays(shape, -10, 10))
    X = leaf(x, device)
    fn = lambda t: t.logsumexp(dim, keepdim=keepdim)  # noqa: E731
    assert_forward(fn(X), scipy.special.logsumexp(x, axis=dim, keepdims=keepdim))
    check(fn, X)


def test_logsumexp_is_stable_for_large_inputs(device):
    x = leaf([1000.0, 1000.0], device)
    out = x.logsumexp(0)
    assert out.item() == pytest.approx(1000 + math.log(2))
    out.backward()
    np.testing.assert_allclose(host(x.grad), [0.5, 0.5])


# ---- shape ops --------------------------------------------------------------
@given(data=st.data())
def test_reshape_and_view(device, data):
    shape = data.draw(shapes())
    target = data.draw(reshape_targets(shape))
    x = data.draw(smooth_arrays(shape))
    X = leaf(x, device)
    assert_forward(X.view(target), x.reshape(target))
    check(lambda t: t.reshape(*target), X)


@given(data=st.data())
def test_transpose_permute_movedim(device, data):
    shape = data.draw(shapes(min_dims=1))
    ndim = len(shape)
    d0, d1, source, destination = (data.draw(dims(ndim, allow_tuple=False)) for _ in range(4))
    order = data.draw(st.permutations(range(ndim)))
    x = data.draw(smooth_arrays(shape))
    X = leaf(x, device)
    assert_forward(X.transpose(d0, d1), np.swapaxes(x, d0, d1))
    assert_forward(X.permute(*order), np.transpose(x, order))
    assert_forward(X.movedim(source, destination), np.moveaxis(x, source, destination))
    assert_forward(X.T, x.T)
    check(lambda t: t.transpose(d0, d1), X)
    check(lambda t: t.permute(*order), X)
    check(lambda t: t.movedim(source, destination), X)
    check(lambda t: t.T, X)
    if ndim >= 2:
        check(lambda t: t.mT, X)


@given(data=st.data())
def test_flatten_squeeze_unsqueeze(device, data):
    shape = data.draw(shapes(min_dims=1))
    ndim = len(shape)
    start, end = sorted(data.draw(st.lists(st.integers(0, ndim - 1), min_size=2, max_size=2)))
    start -= data.draw(st.sampled_from([0, ndim]))  # written negative half of the time
    squeeze_dim = data.draw(dims(ndim, allow_none=True))
    new_dim = data.draw(st.integers(-ndim - 1, ndim))
    x = data.draw(smooth_arrays(shape))
    X = leaf(x, device)
    kept = shape[: start % ndim] + (-1,) + shape[end + 1 :]
    assert_forward(X.flatten(start, end), x.reshape(kept))
    squeezable = tuple(d for d in (range(ndim) if squeeze_dim is None else np.atleast_1d(squeeze_dim)) if shape[d] == 1)
    assert_forward(X.squeeze(squeeze_dim), np.squeeze(x, axis=squeezable))
    assert_forward(X.unsqueeze(new_dim), np.expand_dims(x, new_dim))
    check(lambda t: t.flatten(start, end), X)
    check(lambda t: t.squeeze(squeeze_dim), X)
    check(lambda t: t.unsqueeze(new_dim), X)


@given(data=st.data())
def test_expand(device, data):
    shape = data.draw(shapes(max_numel=8))
    lead = tuple(data.draw(st.lists(st.integers(1, 3), max_size=2)))
    # a side of 1 may be stretched; any side may be written -1 (keep it)
    sizes = lead + tuple(data.draw(st.sampled_from([-1, 2, 3] if n == 1 else [-1, n])) for n in shape)
    x = data.draw(smooth_arrays(shape))
    X = leaf(x, device)
    full = tuple(n if s == -1 else s for s, n in zip(sizes, lead + shape))
    assert_forward(X.expand(*sizes), np.broadcast_to(x, full))
    check(lambda t: t.expand(*sizes), X)


@given(data=st.data())
def test_repeat(device, data):
    shape = data.draw(shapes(max_numel=6))
    repeats = tuple(data.draw(st.lists(st.integers(1, 3), min_size=len(shape), max_size=len(shape) + 1)))
    x = data.draw(smooth_arrays(shape))
    X = leaf(x, device)
    assert_forward(X.repeat(*repeats), np.tile(x, repeats))
    check(lambda t: t.repeat(*repeats), X)


@given(data=st.data())
def test_getitem_basic(device, data):
    shape = data.draw(shapes(min_dims=1))
    index = data.draw(basic_indices(shape))
    x = data.draw(smooth_arrays(shape))
    X = leaf(x, device)
    assert_forward(X[index], x[index])
    check(lambda t: t[index], X)


@given(data=st.data(), as_type=st.sampled_from(["ndarray", "list", "tensor"]))
def test_getitem_integer_arrays_with_repeats(device, data, as_type):
    shape = data.draw(shapes(min_dims=1))
    index = data.draw(integer_indices(shape))
    wrap = {"ndarray": lambda i: i, "list": lambda i: i.tolist(), "tensor": lambda i: const(i, device)}[as_type]
    if isinstance(index, tuple):
        wrapped = tuple(wrap(i) if isinstance(i, np.ndarray) else i for i in index)
    else:
        wrapped = wrap(index)
    x = data.draw(smooth_arrays(shape))
    X = leaf(x, device)
    assert_forward(X[wrapped], x[index])
    check(lambda t: t[wrapped], X)


@given(data=st.data())
def test_integer_indexing_accumulates_the_gradient_of_repeated_reads(device, data):
    n = data.draw(st.integers(1, 4))
    index = np.array(data.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=8)))
    x = leaf(np.zeros(n), device)
    x[index].sum().backward()
    np.testing.assert_array_equal(host(x.grad), np.bincount(index % n, minlength=n))


@given(data=st.data())
def test_getitem_boolean_mask(device, data):
    shape = data.draw(shapes(min_dims=1))
    mask = data.draw(boolean_masks(shape))
    x = data.draw(smooth_arrays(shape))
    X = leaf(x, device)
    M = const(mask, device)
    assert_forward(X[M], x[mask])
    check(lambda t: t[M], X)


@given(data=st.data())
def test_getitem_integers_beside_an_index_array(device, data):
    """PyTorch's rule: the integers select first, then the index array (x[i, :, idx] is x[i][:, idx])."""
    shape = data.draw(shapes(min_dims=3, max_dims=3))
    i = data.draw(st.integers(-shape[0], shape[0] - 1))
    idx = data.draw(integer_indices(shape[2:]))  # an index array into the last dim
    x = data.draw(smooth_arrays(shape))
    X = leaf(x, device)
    assert_forward(X[i, :, idx], x[i][:, idx])
    check(lambda t: t[i, :, idx], X)


@pytest.mark.parametrize("how", ["cat", "stack"])
@given(data=st.data())
def test_cat_and_stack(device, how, data):
    shape = data.draw(shapes(min_dims=1, max_numel=8))
    ndim = len(shape)
    count = data.draw(st.integers(1, 3))
    if how == "cat":
        axis = data.draw(st.integers(0, ndim - 1))
        sizes = [data.draw(st.integers(1, 3)) for _ in range(count)]
        arrays = [data.draw(smooth_arrays(shape[:axis] + (s,) + shape[axis + 1 :])) for s in sizes]
        dim = axis - data.draw(st.sampled_from([0, ndim]))
        op, reference = td.cat, np.concatenate
    else:
        arrays = [data.draw(smooth_arrays(shape)) for _ in range(count)]
        dim = data.draw(st.integers(-ndim - 1, ndim))
        op, reference = td.stack, np.stack
    leaves = [leaf(a, device) for a in arrays]
    fn = lambda *ts: op(list(ts), dim=dim)  # noqa: E731
    assert_forward(fn(*leaves), reference(arrays, axis=dim))
    check(fn, *leaves)


# ---- matmul and linear ------------------------------------------------------
@given(data=st.data())
def test_matmul(device, data):
    shape_a, shape_b = data.draw(matmul_shapes())
    a, b = data.draw(smooth_arrays(shape_a)), data.draw(smooth_arrays(shape_b))
    A, B = leaf(a, device), leaf(b, device)
    fn = lambda x, y: x @ y  # noqa: E731
    assert_forward(fn(A, B), a @ b)
    check(fn, A, B)


@given(data=st.data(), with_bias=st.booleans())
def test_linear(device, data, with_bias):
    batch = data.draw(shapes(max_dims=2, max_side=3, max_numel=4))
    n_in, n_out = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    x = data.draw(smooth_arrays(batch + (n_in,)))
    w = data.draw(smooth_arrays((n_out, n_in)))
    b = data.draw(smooth_arrays((n_out,)))
    inputs = [leaf(x, device), leaf(w, device)] + ([leaf(b, device)] if with_bias else [])
    assert_forward(F.linear(*inputs), x @ w.T + (b if with_bias else 0))
    check(F.linear, *inputs)


# ---- softmax and log_softmax -------------------------------------------------
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(data=st.data())
def test_softmax_log_softmax(device, name, data):
    shape = data.draw(shapes(min_dims=1))
    dim = data.draw(dims(len(shape), allow_tuple=False))
    x = data.draw(smooth_arrays(shape, -10, 10))
    X = leaf(x, device)
    fn = lambda t: getattr(F, name)(t, dim)  # noqa: E731
    assert_forward(fn(X), getattr(scipy.special, name)(x, axis=dim))
    check(fn, X)


# ---- pointwise losses -------------------------------------------------------
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
@given(data=st.data(), reduction=reductions)
def test_mse_l1(device, name, data, reduction):
    shape = data.draw(shapes(max_numel=SMALL))
    target = data.draw(smooth_arrays(shape))
    difference = data.draw(distinct_arrays(shape))  # |input - target| away from l1's kink at 0
    x = target + difference
    X, T = leaf(x, device), leaf(target, device)  # differentiable w.r.t. the target too
    fn = lambda i, t: getattr(F, name)(i, t, reduction=reduction)  # noqa: E731
    pointwise = difference**2 if name == "mse_loss" else np.abs(difference)
    assert_forward(fn(X, T), reduce_np(pointwise, reduction))
    check(fn, X, T)


@pytest.mark.parametrize("name", ["smooth_l1_loss", "huber_loss"])
@given(data=st.data(), reduction=reductions)
def test_smooth_l1_and_huber(device, name, data, reduction):
    shape = data.draw(shapes(max_numel=SMALL))
    target = data.draw(smooth_arrays(shape))
    difference = data.draw(distinct_arrays(shape))
    threshold = float(data.draw(st.sampled_from([g for g in gaps(np.abs(difference)) if g > 0])))
    x = target + difference
    X, T = leaf(x, device), leaf(target, device)
    a = np.abs(difference)
    if name == "smooth_l1_loss":
        fn = lambda i, t: F.smooth_l1_loss(i, t, reduction=reduction, beta=threshold)  # noqa: E731
        pointwise = np.where(a < threshold, 0.5 * a**2 / threshold, a - 0.5 * threshold)
    else:
        fn = lambda i, t: F.huber_loss(i, t, reduction=reduction, delta=threshold)  # noqa: E731
        pointwise = np.where(a < threshold, 0.5 * a**2, threshold * (a - 0.5 * threshold))
    assert_forward(fn(X, T), reduce_np(pointwise, reduction))
    check(fn, X, T)


@given(data=st.data(), reduction=reductions, weighted=st.booleans())
def test_binary_cross_entropy(device, data, reduction, weighted):
    shape = data.draw(shapes(max_numel=SMALL))
    p, t = data.draw(probabilities(shape)), data.draw(probabilities(shape))
    w = data.draw(positive_arrays(shape))
    P, T = leaf(p, device), leaf(t, device)  # gradient w.r.t. the input and the target
    W = const(w, device) if weighted else None
    fn = lambda i, y: F.binary_cross_entropy(i, y, weight=W, reduction=reduction)  # noqa: E731
    pointwise = -(t * np.log(p) + (1 - t) * np.log(1 - p)) * (w if weighted else 1)
    assert_forward(fn(P, T), reduce_np(pointwise, reduction))
    check(fn, P, T)


def test_binary_cross_entropy_clamps_its_logs(device):
    p = leaf([0.0, 1.0], device)
    t = const(np.array([1.0, 0.0]), device)
    loss = F.binary_cross_entropy(p, t, reduction="none")
    np.testing.assert_array_equal(host(loss), [100.0, 100.0])
    loss.sum().backward()
    assert np.all(np.isfinite(host(p.grad)))


@given(data=st.data(), reduction=reductions, weighted=st.booleans(), with_pos_weight=st.booleans())
def test_binary_cross_entropy_with_logits(device, data, reduction, weighted, with_pos_weight):
    shape = data.draw(shapes(min_dims=1, max_numel=SMALL))
    x = data.draw(smooth_arrays(shape, -4, 4))
    t = data.draw(probabilities(shape))
    w = data.draw(positive_arrays(shape))
    pos = data.draw(positive_arrays(shape[-1:]))  # one weight per class (the last dim), broadcast
    X, T = leaf(x, device), leaf(t, device)
    extra = ([leaf(w, device)] if weighted else []) + ([leaf(pos, device)] if with_pos_weight else [])

    def fn(i, y, *rest):
        rest = list(rest)
        weight = rest.pop(0) if weighted else None
        pos_weight = rest.pop(0) if with_pos_weight else None
        return F.binary_cross_entropy_with_logits(i, y, weight=weight, reduction=reduction, pos_weight=pos_weight)

    log_sig, log_one_minus = -np.logaddexp(0, -x), -np.logaddexp(0, x)
    pointwise = -((pos if with_pos_weight else 1) * t * log_sig + (1 - t) * log_one_minus) * (w if weighted else 1)
    assert_forward(fn(X, T, *extra), reduce_np(pointwise, reduction))
    check(fn, X, T, *extra)


# ---- classification losses ---------------------------------------------------
@st.composite
def classification_case(draw):
    """(logits shape, target shape, number of classes): (C,) with a 0-d target,
    (N, C) with (N,), or (N, C, d1) with (N, d1)."""
    classes = draw(st.integers(2, 4))
    layout = draw(st.sampled_from(["single", "batch", "spatial"]))
    if layout == "single":
        return (classes,), (), classes
    n = draw(st.integers(1, 3))
    if layout == "batch":
        return (n, classes), (n,), classes
    d1 = draw(st.integers(1, 2))
    return (n, classes, d1), (n, d1), classes


def reference_nll(log_p, target, reduction, ignore_index, weight):
    """PyTorch's nll_loss in NumPy: l = -w[t] log_p[t], 'mean' divides by the kept weight."""
    if log_p.ndim == 1:
        log_p, target, single = log_p[None], np.reshape(target, (1,)), True
    else:
        single = False
    rows = np.moveaxis(log_p, 1, -1).reshape(-1, log_p.shape[1])
    t = target.reshape(-1)
    keep = t != ignore_index
    safe = np.where(keep, t, 0)
    w = keep * (weight[safe] if weight is not None else 1.0)
    losses = -rows[np.arange(len(t)), safe] * w
    if reduction == "mean":
        return losses.sum() / w.sum()
    if reduction == "sum":
        return losses.sum()
    return losses.reshape(()) if single else losses.reshape(target.shape)


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
@given(data=st.data(), reduction=reductions, weighted=st.booleans(), ignore_index=st.sampled_from([None, -100, 1]))
def test_cross_entropy_and_nll(device, name, data, reduction, weighted, ignore_index):
    logits_shape, target_shape, classes = data.draw(classification_case())
    x = data.draw(smooth_arrays(logits_shape, -4, 4))
    target = data.draw(class_targets(target_shape, classes, ignore_index=ignore_index))
    w = data.draw(positive_arrays((classes,)))
    X, T = leaf(x, device), const(target, device)
    kwargs = {"reduction": reduction, "weight": const(w, device) if weighted else None}
    if ignore_index is not None:
        kwargs["ignore_index"] = ignore_index
    fn = lambda i: getattr(F, name)(i, T, **kwargs)  # noqa: E731
    log_p = scipy.special.log_softmax(x, axis=0 if x.ndim == 1 else 1) if name == "cross_entropy" else x
    ignored = -100 if ignore_index is None else ignore_index
    expected = reference_nll(log_p, target, reduction, ignored, w if weighted else None)
    assert_forward(fn(X), expected)
    check(fn, X)


@given(data=st.data(), reduction=reductions, weighted=st.booleans())
def test_cross_entropy_with_probability_targets(device, data, reduction, weighted):
    logits_shape, _, classes = data.draw(classification_case())
    x = data.draw(smooth_arrays(logits_shape, -4, 4))
    t = data.draw(probabilities(logits_shape))  # soft targets, differentiable too
    w = data.draw(positive_arrays((classes,)))
    X, T = leaf(x, device), leaf(t, device)
    weight = const(w, device) if weighted else None
    fn = lambda i, y: F.cross_entropy(i, y, reduction=reduction, weight=weight)  # noqa: E731
    dim = 0 if x.ndim == 1 else 1
    class_weight = w.reshape([-1 if d == dim else 1 for d in range(x.ndim)]) if weighted else 1
    losses = -(t * scipy.special.log_softmax(x, axis=dim) * class_weight).sum(axis=dim)
    assert_forward(fn(X, T), reduce_np(losses, reduction))
    check(fn, X, T)


# ---- gradients reach and accumulate into leaves as PyTorch's do --------------
def test_leaf_gradients_are_separate_writable_arrays(device):
    a, b = leaf(np.ones((2, 3)), device), leaf(np.ones((2, 3)), device)
    (a + b).sum().backward()  # one upstream gradient, broadcast from a scalar, feeds both leaves
    a.grad.zero_()  # in place, as optimizers and clip_grad_norm_ do
    np.testing.assert_array_equal(host(a.grad), np.zeros((2, 3)))
    np.testing.assert_array_equal(host(b.grad), np.ones((2, 3)))


def test_gradients_accumulate_across_uses_and_backward_calls(device):
    x = leaf([1.0, 2.0], device)
    (x * x + x).sum().backward()
    np.testing.assert_array_equal(host(x.grad), [3.0, 5.0])
    (3 * x).sum().backward()
    np.testing.assert_array_equal(host(x.grad), [6.0, 8.0])


def test_gradient_penalty_double_backward(device):
    """WGAN-GP's pattern: (|d critic / d x| - 1)^2, differentiated w.r.t. x and the weights."""

    def penalty(x, w):
        with td.enable_grad():  # gradcheck evaluates under no_grad; the inner gradient needs its graph
            (g,) = td.grad(F.tanh(x @ w).sum(), x, create_graph=True)
        return ((g * g).sum(1).sqrt() - 1) ** 2

    x = leaf(np.array([[0.5, -1.0], [2.0, 0.3]]), device)
    w = leaf(np.array([[1.0, -2.0], [0.5, 1.5]]), device)
    penalty(x, w).sum().backward()
    assert x.grad is not None and w.grad is not None and np.any(host(w.grad) != 0)
    check(penalty, x, w, second_order=False)
