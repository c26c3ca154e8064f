"""Values and gradients of every core op agree with PyTorch's, in float64, to 1e-8.

Each case builds the same seeded NumPy inputs for tinydl and for PyTorch, runs
the op in both, compares the outputs, then backpropagates one random upstream
gradient through both graphs and compares the gradient of every input that
requires grad (targets of losses included, where PyTorch differentiates them).
A last group compares second derivatives (``td.grad(..., create_graph=True)``
against ``torch.autograd.grad``).

PyTorch is used here only as a reference; tinydl never imports it.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinydl as td  # noqa: E402
import tinydl.functional as F  # noqa: E402
import torch.nn.functional as TF  # noqa: E402

RTOL, ATOL = 1e-8, 1e-10


# ---- helpers ---------------------------------------------------------------
def close(actual, expected, what):
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=what)


def to_td(a, requires_grad):
    return td.tensor(a, requires_grad=requires_grad and a.dtype.kind == "f")


def to_torch(a, requires_grad):
    return torch.tensor(a, requires_grad=requires_grad and a.dtype.kind == "f")


def agree(td_fn, torch_fn, arrays, grad=None, seed=0):
    """Run both, compare the output, backprop one random upstream gradient, compare input gradients.

    arrays: NumPy arrays passed positionally to both functions (as tensors);
    grad: which of them require grad (default: every floating array).
    """
    if grad is None:
        grad = [a.dtype.kind == "f" for a in arrays]
    xs_td = [to_td(a, g) for a, g in zip(arrays, grad)]
    xs_t = [to_torch(a, g) for a, g in zip(arrays, grad)]
    y_td, y_t = td_fn(*xs_td), torch_fn(*xs_t)

    assert tuple(y_td.shape) == tuple(y_t.shape), (tuple(y_td.shape), tuple(y_t.shape))
    assert y_td.dtype == td.float64
    close(y_td.detach().numpy(), y_t.detach().numpy(), "forward values")

    upstream = np.random.default_rng(seed + 1).standard_normal(tuple(y_t.shape))
    y_td.backward(td.tensor(upstream))
    y_t.backward(torch.tensor(upstream))
    for i, (x_td, x_t) in enumerate(zip(xs_td, xs_t)):
        if not x_t.requires_grad:
            continue
        expected = np.zeros(x_t.shape) if x_t.grad is None else x_t.grad.numpy()
        assert x_td.grad is not None, f"input {i}: tinydl computed no gradient"
        assert x_td.grad.dtype == td.float64
        close(x_td.grad.numpy(), expected, f"gradient of input {i}")


def rng_for(seed):
    return np.random.default_rng(seed)


def randn(*shape, seed=0):
    return rng_for(seed).standard_normal(shape)


def positive(*shape, seed=0, low=0.5, high=2.0):
    return rng_for(seed).uniform(low, high, shape)


def ties(*shape, seed=0, levels=3):
    """Small integers as floats: many exact ties."""
    return rng_for(seed).integers(0, levels, shape).astype(np.float64)


def case(name, td_fn, torch_fn, *arrays, grad=None):
    return pytest.param(td_fn, torch_fn, arrays, grad, id=name)


def run_cases(cases):
    return pytest.mark.parametrize("td_fn, torch_fn, arrays, grad", cases)


# ---- arithmetic --------------------------------------------------------------
ARITHMETIC = [
    case("add-same", lambda a, b: a + b, lambda a, b: a + b, randn(3, 4), randn(3, 4, seed=1)),
    case("add-broadcast", lambda a, b: a + b, lambda a, b: a + b, randn(3, 1), randn(4, seed=1)),
    case("add-broadcast-3d", lambda a, b: a + b, lambda a, b: a + b, randn(2, 1, 4), randn(3, 1, seed=1)),
    case("add-scalar", lambda a: a + 2.5, lambda a: a + 2.5, randn(3, 4)),
    case("radd-scalar", lambda a: 2.5 + a, lambda a: 2.5 + a, randn(3, 4)),
    case("add-0d", lambda a, b: a + b, lambda a, b: a + b, randn(), randn(2, 3, seed=1)),
    case("add-self", lambda a: a + a, lambda a: a + a, randn(5)),
    case("sub-broadcast", lambda a, b: a - b, lambda a, b: a - b, randn(2, 3, 4), randn(4, seed=1)),
    case("rsub-scalar", lambda a: 1.5 - a, lambda a: 1.5 - a, randn(3, 4)),
    case("mul-broadcast", lambda a, b: a * b, lambda a, b: a * b, randn(3, 1), randn(1, 4, seed=1)),
    case("mul-scalar", lambda a: a * -3.0, lambda a: a * -3.0, randn(3, 4)),
    case("mul-self", lambda a: a * a, lambda a: a * a, randn(6)),
    case("div-broadcast", lambda a, b: a / b, lambda a, b: a / b, randn(2, 3), positive(3, seed=1)),
    case("div-negative", lambda a, b: a / b, lambda a, b: a / b, randn(4, 3), -positive(4, 1, seed=1)),
    case("div-scalar", lambda a: a / 4.0, lambda a: a / 4.0, randn(3, 4)),
    case("rdiv-scalar", lambda a: 2.0 / a, lambda a: 2.0 / a, positive(3, 4)),
    case("pow-scalar-2", lambda a: a**2, lambda a: a**2, randn(3, 4)),
    case("pow-scalar-3-with-zero", lambda a: a**3, lambda a: a**3, np.array([-1.5, 0.0, 0.5, 2.0])),
    case("pow-scalar-half", lambda a: a**0.5, lambda a: a**0.5, positive(3, 4)),
    case("pow-scalar-neg", lambda a: a**-1.5, lambda a: a**-1.5, positive(3, 4)),
    case("pow-scalar-zero", lambda a: a**0.0, lambda a: a**0.0, np.array([-1.0, 0.0, 2.0])),
    case("pow-scalar-one", lambda a: a**1.0, lambda a: a**1.0, np.array([-1.0, 0.0, 2.0])),
    case("pow-method", lambda a: a.pow(3.0), lambda a: a.pow(3.0), randn(4)),
    case("pow-tensor", lambda a, b: a**b, lambda a, b: a**b, positive(3, 4), randn(3, 4, seed=1)),
    case("pow-tensor-broadcast", lambda a, b: a**b, lambda a, b: a**b, positive(3, 1), randn(4, seed=1)),
    case("pow-tensor-zero-base", lambda a, b: a**b, lambda a, b: a**b,
         np.array([0.0, 0.0, 1.5, 2.0]), np.array([2.0, 0.0, 0.5, -1.0])),
    case("rpow-scalar", lambda b: 2.0**b, lambda b: 2.0**b, randn(3, 4)),
    case("rpow-scalar-e", lambda b: 0.5**b, lambda b: 0.5**b, randn(5)),
    case("neg", lambda a: -a, lambda a: -a, randn(3, 4)),
    case("neg-0d", lambda a: -a, lambda a: -a, randn()),
]


@run_cases(ARITHMETIC)
def test_arithmetic(td_fn, torch_fn, arrays, grad):
    agree(td_fn, torch_fn, arrays, grad)


# ---- elementwise functions -----------------------------------------------------
def _where_cond(shape, seed=7):
    return rng_for(seed).random(shape) > 0.5


COND = _where_cond((3, 4))
COND_B = _where_cond((3, 1), seed=8)

ELEMENTWISE = [
    case("exp", lambda a: a.exp(), torch.exp, randn(3, 4)),
    case("exp-0d", lambda a: a.exp(), torch.exp, randn()),
    case("log", lambda a: a.log(), torch.log, positive(3, 4, low=0.01, high=10)),
    case("sqrt", lambda a: a.sqrt(), torch.sqrt, positive(3, 4, low=0.01, high=10)),
    case("abs", lambda a: a.abs(), torch.abs, randn(3, 4)),
    case("abs-zero", lambda a: abs(a), torch.abs, np.array([-2.0, 0.0, 3.0, -0.0])),
    case("clamp-min", lambda a: a.clamp(min=-0.2), lambda a: a.clamp(min=-0.2), randn(4, 5)),
    case("clamp-max", lambda a: a.clamp(max=0.3), lambda a: a.clamp(max=0.3), randn(4, 5)),
    case("clamp-both", lambda a: a.clamp(-0.5, 0.5), lambda a: a.clamp(-0.5, 0.5), randn(4, 5)),
    case("clamp-at-edges", lambda a: a.clamp(-1.0, 1.0), lambda a: a.clamp(-1.0, 1.0),
         np.array([-2.0, -1.0, 0.0, 1.0, 2.0])),
    case("clamp-min-above-max", lambda a: a.clamp(1.0, -1.0), lambda a: a.clamp(1.0, -1.0), randn(6)),
    case("clamp-F", lambda a: F.clamp(a, max=0.0), lambda a: torch.clamp(a, max=0.0), randn(3, 3)),
    case("maximum", td.maximum, torch.maximum, randn(3, 4), randn(3, 4, seed=1)),
    case("maximum-broadcast", td.maximum, torch.maximum, randn(3, 1), randn(4, seed=1)),
    case("maximum-ties", td.maximum, torch.maximum, ties(4, 5), ties(4, 5, seed=1)),
    case("maximum-ties-broadcast", td.maximum, torch.maximum, ties(4, 1), ties(5, seed=1)),
    case("minimum", td.minimum, torch.minimum, randn(3, 4), randn(3, 4, seed=1)),
    case("minimum-ties", td.minimum, torch.minimum, ties(4, 5), ties(4, 5, seed=1)),
    case("maximum-self", lambda a: td.maximum(a, a), lambda a: torch.maximum(a, a), randn(5)),
    case("where", lambda a, b: td.where(COND, a, b), lambda a, b: torch.where(torch.tensor(COND), a, b),
         randn(3, 4), randn(3, 4, seed=1)),
    case("where-broadcast", lambda a, b: td.where(td.tensor(COND_B), a, b),
         lambda a, b: torch.where(torch.tensor(COND_B), a, b), randn(1, 4), randn(3, 1, seed=1)),
    case("where-scalar", lambda a: td.where(COND, a, 0.0), lambda a: torch.where(torch.tensor(COND), a, 0.0),
         randn(3, 4)),
    case("where-condition-from-comparison", lambda a: td.where(a > 0, a, a * 0.1),
         lambda a: torch.where(a > 0, a, a * 0.1), randn(3, 4)),
]


@run_cases(ELEMENTWISE)
def test_elementwise(td_fn, torch_fn, arrays, grad):
    agree(td_fn, torch_fn, arrays, grad)


# ---- reductions ------------------------------------------------------------------
REDUCTIONS = [
    case("sum", lambda a: a.sum(), lambda a: a.sum(), randn(3, 4)),
    case("sum-dim", lambda a: a.sum(1), lambda a: a.sum(1), randn(3, 4, 5)),
    case("sum-dim-neg-keepdim", lambda a: a.sum(-1, keepdim=True), lambda a: a.sum(-1, keepdim=True), randn(3, 4)),
    case("sum-dims", lambda a: a.sum((0, 2)), lambda a: a.sum((0, 2)), randn(3, 4, 5)),
    case("sum-dims-keepdim", lambda a: a.sum(dim=(0, 2), keepdim=True), lambda a: a.sum(dim=(0, 2), keepdim=True),
         randn(3, 4, 5)),
    case("sum-0d", lambda a: a.sum(), lambda a: a.sum(), randn()),
    case("mean", lambda a: a.mean(), lambda a: a.mean(), randn(3, 4)),
    case("mean-dim", lambda a: a.mean(0), lambda a: a.mean(0), randn(3, 4)),
    case("mean-dims-keepdim", lambda a: a.mean((1, 2), keepdim=True), lambda a: a.mean((1, 2), keepdim=True),
         randn(2, 3, 4)),
    case("max", lambda a: a.max(), lambda a: a.max(), randn(3, 4)),
    case("max-ties", lambda a: a.max(), lambda a: a.max(), ties(3, 4)),
    case("max-all-equal", lambda a: a.max(), lambda a: a.max(), np.full((2, 3), 1.5)),
    case("min", lambda a: a.min(), lambda a: a.min(), randn(3, 4)),
    case("min-ties", lambda a: a.min(), lambda a: a.min(), ties(3, 4)),
    case("max-dim", lambda a: a.max(1)[0], lambda a: a.max(1)[0], randn(3, 4, 5)),
    case("max-dim-keepdim", lambda a: a.max(dim=0, keepdim=True).values,
         lambda a: a.max(dim=0, keepdim=True).values, randn(3, 4)),
    case("max-dim-ties", lambda a: a.max(-1)[0], lambda a: a.max(-1)[0], ties(4, 6)),
    case("min-dim", lambda a: a.min(1)[0], lambda a: a.min(1)[0], randn(3, 4)),
    case("min-dim-keepdim-ties", lambda a: a.min(0, keepdim=True)[0], lambda a: a.min(0, keepdim=True)[0],
         ties(5, 3)),
    case("max-dims-tuple-ties", lambda a: a.max((0, 2)), lambda a: torch.amax(a, (0, 2)), ties(3, 2, 4)),
    case("var", lambda a: a.var(), lambda a: a.var(), randn(3, 4)),
    case("var-biased", lambda a: a.var(unbiased=False), lambda a: a.var(unbiased=False), randn(3, 4)),
    case("var-dim", lambda a: a.var(1), lambda a: a.var(1), randn(3, 4, 5)),
    case("var-dim-biased-keepdim", lambda a: a.var(0, unbiased=False, keepdim=True),
         lambda a: a.var(0, unbiased=False, keepdim=True), randn(3, 4)),
    case("var-dims", lambda a: a.var((0, 2)), lambda a: a.var((0, 2)), randn(3, 4, 5)),
    case("std", lambda a: a.std(), lambda a: a.std(), randn(3, 4)),
    case("std-biased", lambda a: a.std(unbiased=False), lambda a: a.std(unbiased=False), randn(3, 4)),
    case("std-dim", lambda a: a.std(-1), lambda a: a.std(-1), randn(3, 4)),
    case("std-dim-biased-keepdim", lambda a: a.std(1, unbiased=False, keepdim=True),
         lambda a: a.std(1, unbiased=False, keepdim=True), randn(3, 4, 2)),
    case("logsumexp", lambda a: a.logsumexp(1), lambda a: a.logsumexp(1), randn(3, 4)),
    case("logsumexp-keepdim", lambda a: a.logsumexp(0, keepdim=True), lambda a: a.logsumexp(0, keepdim=True),
         randn(3, 4)),
    case("logsumexp-dims", lambda a: F.logsumexp(a, (0, 2)), lambda a: torch.logsumexp(a, (0, 2)), randn(2, 3, 4)),
    case("logsumexp-large", lambda a: a.logsumexp(-1), lambda a: a.logsumexp(-1), 1e4 * randn(3, 5)),
    case("logsumexp-ties", lambda a: a.logsumexp(-1), lambda a: a.logsumexp(-1), ties(3, 5)),
]


@run_cases(REDUCTIONS)
def test_reductions(td_fn, torch_fn, arrays, grad):
    agree(td_fn, torch_fn, arrays, grad)


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_dim_indices_match_torch(largest, keepdim):
    """With ties, both pick the first index, so the gradient lands on the same element."""
    x = ties(5, 7, seed=3)
    name = "max" if largest else "min"
    for dim in (0, 1, -1):
        v_td, i_td = getattr(td.tensor(x), name)(dim, keepdim=keepdim)
        v_t, i_t = getattr(torch.tensor(x), name)(dim, keepdim=keepdim)
        close(v_td.numpy(), v_t.numpy(), "values")
        assert i_td.dtype == td.int64
        np.testing.assert_array_equal(i_td.numpy(), i_t.numpy())


# ---- shape ops --------------------------------------------------------------------
SHAPE = [
    case("reshape", lambda a: a.reshape(4, 6), lambda a: a.reshape(4, 6), randn(2, 3, 4)),
    case("reshape-infer", lambda a: a.reshape(-1, 2), lambda a: a.reshape(-1, 2), randn(2, 3, 4)),
    case("reshape-tuple", lambda a: a.reshape((3, 8)), lambda a: a.reshape((3, 8)), randn(2, 3, 4)),
    case("reshape-to-0d", lambda a: a.reshape(()), lambda a: a.reshape(()), randn(1, 1)),
    case("view", lambda a: a.view(6, 4), lambda a: a.view(6, 4), randn(2, 3, 4)),
    case("transpose", lambda a: a.transpose(0, 2), lambda a: a.transpose(0, 2), randn(2, 3, 4)),
    case("transpose-neg", lambda a: a.transpose(-1, -2), lambda a: a.transpose(-1, -2), randn(2, 3, 4)),
    case("T", lambda a: a.T, lambda a: a.T, randn(3, 5)),
    case("permute", lambda a: a.permute(2, 0, 1), lambda a: a.permute(2, 0, 1), randn(2, 3, 4)),
    case("permute-tuple", lambda a: a.permute((1, 2, 0)), lambda a: a.permute((1, 2, 0)), randn(2, 3, 4)),
    case("flatten", lambda a: a.flatten(), lambda a: a.flatten(), randn(2, 3, 4)),
    case("flatten-start", lambda a: a.flatten(1), lambda a: a.flatten(1), randn(2, 3, 4)),
    case("flatten-range", lambda a: a.flatten(1, 2), lambda a: a.flatten(1, 2), randn(2, 3, 4, 5)),
    case("flatten-0d", lambda a: a.flatten(), lambda a: a.flatten(), randn()),
    case("squeeze", lambda a: a.squeeze(), lambda a: a.squeeze(), randn(1, 3, 1, 4)),
    case("squeeze-dim", lambda a: a.squeeze(2), lambda a: a.squeeze(2), randn(1, 3, 1, 4)),
    case("squeeze-dim-not-one", lambda a: a.squeeze(1), lambda a: a.squeeze(1), randn(1, 3, 1, 4)),
    case("unsqueeze", lambda a: a.unsqueeze(1), lambda a: a.unsqueeze(1), randn(3, 4)),
    case("unsqueeze-neg", lambda a: a.unsqueeze(-1), lambda a: a.unsqueeze(-1), randn(3, 4)),
    case("expand", lambda a: a.expand(2, 3, 4), lambda a: a.expand(2, 3, 4), randn(3, 1)),
    case("expand-keep", lambda a: a.expand(-1, 5), lambda a: a.expand(-1, 5), randn(3, 1)),
    case("expand-as", lambda a, b: a.expand_as(b) * b, lambda a, b: a.expand_as(b) * b,
         randn(1, 4), randn(3, 4, seed=1)),
    case("repeat", lambda a: a.repeat(2, 3), lambda a: a.repeat(2, 3), randn(3, 4)),
    case("repeat-more-dims", lambda a: a.repeat(2, 1, 3), lambda a: a.repeat(2, 1, 3), randn(3, 4)),
    case("repeat-tuple", lambda a: a.repeat((1, 2)), lambda a: a.repeat((1, 2)), randn(3)),
    case("cat", lambda a, b: td.cat([a, b]), lambda a, b: torch.cat([a, b]), randn(2, 3), randn(4, 3, seed=1)),
    case("cat-dim", lambda a, b, c: td.cat([a, b, c], dim=1), lambda a, b, c: torch.cat([a, b, c], dim=1),
         randn(2, 3), randn(2, 1, seed=1), randn(2, 2, seed=2)),
    case("cat-neg-dim", lambda a, b: td.cat((a, b), -1), lambda a, b: torch.cat((a, b), -1),
         randn(2, 3, 4), randn(2, 3, 2, seed=1)),
    case("cat-same-tensor", lambda a: td.cat([a, a, a]), lambda a: torch.cat([a, a, a]), randn(2, 3)),
    case("stack", lambda a, b: td.stack([a, b]), lambda a, b: torch.stack([a, b]), randn(2, 3), randn(2, 3, seed=1)),
    case("stack-dim", lambda a, b: td.stack([a, b], dim=1), lambda a, b: torch.stack([a, b], dim=1),
         randn(2, 3), randn(2, 3, seed=1)),
    case("stack-neg-dim", lambda a, b, c: td.stack([a, b, c], -1), lambda a, b, c: torch.stack([a, b, c], -1),
         randn(2, 3), randn(2, 3, seed=1), randn(2, 3, seed=2)),
]


@run_cases(SHAPE)
def test_shape_ops(td_fn, torch_fn, arrays, grad):
    agree(td_fn, torch_fn, arrays, grad)


# ---- indexing ------------------------------------------------------------------------
MASK = rng_for(11).random((4, 5)) > 0.4
MASK_56 = rng_for(12).random((5, 6)) > 0.5
ROW_MASK = np.array([True, False, True, True])
IDX = np.array([0, 2, 2, 3, 0])


def index_case(name, index_td, index_torch=None, shape=(4, 5, 6)):
    """index_torch defaults to index_td (slices, ints and lists mean the same in both)."""
    index_torch = index_td if index_torch is None else index_torch
    return case(name, lambda a: a[index_td], lambda a: a[index_torch], randn(*shape))


INDEXING = [
    index_case("int", 1),
    index_case("neg-int", -1),
    index_case("slice", slice(1, 3)),
    index_case("slices", (slice(None), slice(1, None, 2), slice(None, -1))),
    index_case("int-and-slice", (2, slice(None, None, 3))),
    index_case("ellipsis", (Ellipsis, 0)),
    index_case("none", (None, 1, Ellipsis, None)),
    index_case("all-ints-0d", (1, 2, 3)),
    index_case("list-repeated", [0, 2, 2, 0]),
    index_case("array-repeated", IDX, torch.tensor(IDX)),
    index_case("tensor-repeated", td.tensor(IDX), torch.tensor(IDX)),
    index_case("2d-index-array", np.array([[0, 1], [1, 1]]), torch.tensor([[0, 1], [1, 1]])),
    index_case("two-arrays", ([0, 3, 3], [1, 1, 4])),
    index_case("two-arrays-broadcast", (np.array([[0], [3]]), np.array([1, 1, 2])),
               (torch.tensor([[0], [3]]), torch.tensor([1, 1, 2]))),
    index_case("bool-mask", MASK, torch.tensor(MASK), shape=(4, 5)),
    index_case("bool-mask-rows", ROW_MASK, torch.tensor(ROW_MASK)),
    index_case("bool-mask-partial", MASK, torch.tensor(MASK)),
    index_case("bool-mask-from-tensor", td.tensor(MASK), torch.tensor(MASK), shape=(4, 5)),
    index_case("mixed-slice-array", (slice(None), [4, 0, 4])),
    index_case("mixed-array-slice", ([1, 1, 3], slice(2, 5))),
    index_case("mixed-int-array", (2, slice(None), [0, 5, 5])),
    index_case("mixed-separated-arrays", ([0, 1, 1], slice(None), [2, 2, 3])),
    index_case("mixed-ellipsis-array", (Ellipsis, [1, 0, 1])),
    index_case("mixed-mask-slice", (ROW_MASK, slice(1, 3)), (torch.tensor(ROW_MASK), slice(1, 3))),
    # integers beside index arrays: PyTorch selects with the integers first (NumPy would not)
    index_case("int-slice-array", (2, slice(None), [0, 5, 5])),
    index_case("numpy-int-slice-array", (np.int64(2), slice(None), [0, 5, 5])),
    index_case("array-slice-int", ([1, 1, 3], slice(None), 0)),
    index_case("int-array-slice", (0, [1, 2], slice(None))),
    index_case("slice-int-array", (slice(None), 0, [1, 2])),
    index_case("array-int-array", ([0, 1], 2, [1, 2])),
    index_case("int-ellipsis-array", (1, Ellipsis, [0, 0])),
    index_case("none-int-slice-array", (None, 2, slice(1, 4), [1, 0])),
    index_case("int-mask", (1, MASK_56), (1, torch.tensor(MASK_56))),
    index_case("mask-slice-int", (ROW_MASK, slice(None), 3), (torch.tensor(ROW_MASK), slice(None), 3)),
    index_case("neg-int-slice-2d-array", (-1, slice(None, 3), np.array([[0, 5], [5, 1]])),
               (-1, slice(None, 3), torch.tensor([[0, 5], [5, 1]]))),
]


@run_cases(INDEXING)
def test_getitem(td_fn, torch_fn, arrays, grad):
    agree(td_fn, torch_fn, arrays, grad)


# ---- matrix products ---------------------------------------------------------------------
MATMUL = [
    case("1d-1d", td.Tensor.__matmul__, torch.matmul, randn(4), randn(4, seed=1)),
    case("1d-2d", td.Tensor.__matmul__, torch.matmul, randn(4), randn(4, 3, seed=1)),
    case("2d-1d", td.Tensor.__matmul__, torch.matmul, randn(3, 4), randn(4, seed=1)),
    case("2d-2d", td.Tensor.__matmul__, torch.matmul, randn(3, 4), randn(4, 5, seed=1)),
    case("1d-3d", td.Tensor.__matmul__, torch.matmul, randn(4), randn(2, 4, 3, seed=1)),
    case("3d-1d", td.Tensor.__matmul__, torch.matmul, randn(2, 3, 4), randn(4, seed=1)),
    case("3d-2d", td.Tensor.__matmul__, torch.matmul, randn(2, 3, 4), randn(4, 5, seed=1)),
    case("2d-3d", td.Tensor.__matmul__, torch.matmul, randn(3, 4), randn(2, 4, 5, seed=1)),
    case("3d-3d", td.Tensor.__matmul__, torch.matmul, randn(2, 3, 4), randn(2, 4, 5, seed=1)),
    case("batch-broadcast", td.Tensor.__matmul__, torch.matmul, randn(2, 1, 3, 4), randn(5, 4, 2, seed=1)),
    case("batch-broadcast-both", td.Tensor.__matmul__, torch.matmul, randn(1, 3, 2, 4), randn(2, 1, 4, 3, seed=1)),
    case("4d-2d", td.Tensor.__matmul__, torch.matmul, randn(2, 3, 2, 4), randn(4, 3, seed=1)),
    case("self", lambda a: a @ a, lambda a: a @ a, randn(3, 3)),
    case("linear", lambda x, w: F.linear(x, w), lambda x, w: TF.linear(x, w), randn(5, 4), randn(3, 4, seed=1)),
    case("linear-bias", F.linear, TF.linear, randn(5, 4), randn(3, 4, seed=1), randn(3, seed=2)),
    case("linear-bias-3d", F.linear, TF.linear, randn(2, 5, 4), randn(3, 4, seed=1), randn(3, seed=2)),
    case("linear-1d", F.linear, TF.linear, randn(4), randn(3, 4, seed=1), randn(3, seed=2)),
]


@run_cases(MATMUL)
def test_matmul(td_fn, torch_fn, arrays, grad):
    agree(td_fn, torch_fn, arrays, grad)


# ---- activations ------------------------------------------------------------------------------
WITH_ZERO = np.array([[-2.0, -0.5, 0.0], [0.0, 0.5, 3.0]])
WIDE = np.concatenate([np.linspace(-40, 40, 17), [-1e-3, 1e-3, 19.9, 20.1, 700.0, -700.0]])

ACTIVATIONS = [
    case("relu", F.relu, TF.relu, randn(3, 4)),
    case("relu-zero", F.relu, TF.relu, WITH_ZERO),
    case("relu-method", lambda a: a.relu(), torch.relu, randn(5)),
    case("leaky_relu", F.leaky_relu, TF.leaky_relu, randn(3, 4)),
    case("leaky_relu-slope", lambda a: F.leaky_relu(a, 0.2), lambda a: TF.leaky_relu(a, 0.2), randn(3, 4)),
    case("leaky_relu-zero", lambda a: F.leaky_relu(a, negative_slope=0.1),
         lambda a: TF.leaky_relu(a, negative_slope=0.1), WITH_ZERO),
    case("sigmoid", F.sigmoid, torch.sigmoid, 3 * randn(3, 4)),
    case("sigmoid-wide", F.sigmoid, torch.sigmoid, WIDE),
    case("tanh", F.tanh, torch.tanh, 2 * randn(3, 4)),
    case("tanh-wide", F.tanh, torch.tanh, WIDE),
    case("gelu", F.gelu, TF.gelu, 2 * randn(3, 4)),
    case("gelu-wide", F.gelu, TF.gelu, np.linspace(-8, 8, 33)),
    case("softplus", F.softplus, TF.softplus, 3 * randn(3, 4)),
    case("softplus-wide", F.softplus, TF.softplus, WIDE),
    case("softmax", lambda a: F.softmax(a, -1), lambda a: TF.softmax(a, -1), randn(3, 5)),
    case("softmax-dim0", lambda a: F.softmax(a, 0), lambda a: TF.softmax(a, 0), randn(3, 5)),
    case("softmax-3d", lambda a: F.softmax(a, 1), lambda a: TF.softmax(a, 1), randn(2, 4, 3)),
    case("softmax-method", lambda a: a.softmax(-1), lambda a: a.softmax(-1), randn(4)),
    case("softmax-large", lambda a: F.softmax(a, -1), lambda a: TF.softmax(a, -1), 1e4 * randn(3, 5)),
    case("log_softmax", lambda a: F.log_softmax(a, -1), lambda a: TF.log_softmax(a, -1), randn(3, 5)),
    case("log_softmax-dim0", lambda a: F.log_softmax(a, 0), lambda a: TF.log_softmax(a, 0), randn(3, 5)),
    case("log_softmax-3d", lambda a: F.log_softmax(a, 1), lambda a: TF.log_softmax(a, 1), randn(2, 4, 3)),
    case("log_softmax-large", lambda a: F.log_softmax(a, -1), lambda a: TF.log_softmax(a, -1),
         np.array([[1e4, 0.0, -1e4], [1e4, 1e4, 0.0], [-1e4, -1e4 + 1, -1e4 + 2]])),
]


@run_cases(ACTIVATIONS)
def test_activations(td_fn, torch_fn, arrays, grad):
    agree(td_fn, torch_fn, arrays, grad)


def test_log_softmax_of_huge_logits_is_finite():
    x = td.tensor(np.array([[1e4, 0.0, -1e4]]), requires_grad=True)
    y = F.log_softmax(x, -1)
    assert np.isfinite(y.detach().numpy()).all()
    y.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


# ---- losses ---------------------------------------------------------------------------------
N, C = 6, 4
LABELS = rng_for(21).integers(0, C, N)
LABELS_IGNORED = np.where(np.arange(N) % 3 == 1, -100, LABELS)
LABELS_CUSTOM_IGNORE = np.where(np.arange(N) % 2 == 0, 2, LABELS)
LABELS_4D = rng_for(22).integers(0, C, (2, 3, 2))
LABELS_4D_IGNORED = np.where(rng_for(23).random((2, 3, 2)) < 0.3, -100, LABELS_4D)
CLASS_WEIGHT = positive(C, seed=24)
PROBS = rng_for(25).dirichlet(np.ones(C), N)
PROBS_4D = np.moveaxis(rng_for(26).dirichlet(np.ones(C), (2, 3, 2)), -1, 1)  # (2, C, 3, 2)
REDUCTIONS_ALL = ["mean", "sum", "none"]


def ce_case(name, logits, labels, **kw):
    """Class-index targets: the labels are a constant int64 tensor in both."""
    lab_td, lab_t = td.tensor(labels), torch.tensor(labels)
    kw_td = dict(kw)
    kw_t = dict(kw)
    if "weight" in kw:
        kw_td["weight"], kw_t["weight"] = td.tensor(kw["weight"]), torch.tensor(kw["weight"])
    return case(name, lambda x: F.cross_entropy(x, lab_td, **kw_td), lambda x: TF.cross_entropy(x, lab_t, **kw_t),
                logits)


CROSS_ENTROPY = []
for reduction in REDUCTIONS_ALL:
    CROSS_ENTROPY += [
        ce_case(f"plain-{reduction}", randn(N, C), LABELS, reduction=reduction),
        ce_case(f"ignore-{reduction}", randn(N, C), LABELS_IGNORED, reduction=reduction),
        ce_case(f"custom-ignore-{reduction}", randn(N, C), LABELS_CUSTOM_IGNORE, reduction=reduction, ignore_index=2),
        ce_case(f"weight-{reduction}", randn(N, C), LABELS, reduction=reduction, weight=CLASS_WEIGHT),
        ce_case(f"weight-ignore-{reduction}", randn(N, C), LABELS_IGNORED, reduction=reduction, weight=CLASS_WEIGHT),
        ce_case(f"4d-{reduction}", randn(2, C, 3, 2), LABELS_4D, reduction=reduction),
        ce_case(f"4d-weight-ignore-{reduction}", randn(2, C, 3, 2), LABELS_4D_IGNORED, reduction=reduction,
                weight=CLASS_WEIGHT),
        ce_case(f"unbatched-{reduction}", randn(C), np.array(2), reduction=reduction),
        ce_case(f"large-logits-{reduction}", 1e4 * randn(N, C), LABELS, reduction=reduction),
    ]
    for weighted in (False, True):
        kw_td = {"reduction": reduction}
        kw_t = {"reduction": reduction}
        if weighted:
            kw_td["weight"], kw_t["weight"] = td.tensor(CLASS_WEIGHT), torch.tensor(CLASS_WEIGHT)
        tag = "-weight" if weighted else ""
        CROSS_ENTROPY += [
            case(f"probs{tag}-{reduction}", lambda x, p, kw_td=kw_td: F.cross_entropy(x, p, **kw_td),
                 lambda x, p, kw_t=kw_t: TF.cross_entropy(x, p, **kw_t), randn(N, C), PROBS),
            case(f"probs-4d{tag}-{reduction}", lambda x, p, kw_td=kw_td: F.cross_entropy(x, p, **kw_td),
                 lambda x, p, kw_t=kw_t: TF.cross_entropy(x, p, **kw_t), randn(2, C, 3, 2), PROBS_4D),
        ]
    CROSS_ENTROPY.append(
        case(f"probs-unbatched-{reduction}", lambda x, p, r=reduction: F.cross_entropy(x, p, reduction=r),
             lambda x, p, r=reduction: TF.cross_entropy(x, p, reduction=r), randn(C), PROBS[0])
    )


@run_cases(CROSS_ENTROPY)
def test_cross_entropy(td_fn, torch_fn, arrays, grad):
    agree(td_fn, torch_fn, arrays, grad)


def nll_case(name, log_probs, labels, **kw):
    lab_td, lab_t = td.tensor(labels), torch.tensor(labels)
    kw_td, kw_t = dict(kw), dict(kw)
    if "weight" in kw:
        kw_td["weight"], kw_t["weight"] = td.tensor(kw["weight"]), torch.tensor(kw["weight"])
    return case(name, lambda x: F.nll_loss(x, lab_td, **kw_td), lambda x: TF.nll_loss(x, lab_t, **kw_t), log_probs)


NLL = []
for reduction in REDUCTIONS_ALL:
    NLL += [
        nll_case(f"plain-{reduction}", randn(N, C), LABELS, reduction=reduction),
        nll_case(f"ignore-{reduction}", randn(N, C), LABELS_IGNORED, reduction=reduction),
        nll_case(f"weight-ignore-{reduction}", randn(N, C), LABELS_IGNORED, reduction=reduction, weight=CLASS_WEIGHT),
        nll_case(f"4d-weight-{reduction}", randn(2, C, 3, 2), LABELS_4D_IGNORED, reduction=reduction,
                 weight=CLASS_WEIGHT),
        nll_case(f"3d-{reduction}", randn(2, C, 5), rng_for(27).integers(0, C, (2, 5)), reduction=reduction),
        nll_case(f"unbatched-{reduction}", randn(C), np.array(1), reduction=reduction),
    ]


@run_cases(NLL)
def test_nll_loss(td_fn, torch_fn, arrays, grad):
    agree(td_fn, torch_fn, arrays, grad)


def test_nll_loss_mean_with_every_target_ignored_is_nan_like_torch():
    x = randn(3, C)
    labels = np.full(3, -100)
    with np.errstate(invalid="ignore"):  # 0 / 0
        y_td = F.nll_loss(td.tensor(x), td.tensor(labels))
    y_t = TF.nll_loss(torch.tensor(x), torch.tensor(labels))
    assert np.isnan(y_t.item()) and np.isnan(y_td.item())


def pointwise_case(name, td_loss, torch_loss, input, target, **kw):
    return case(name, lambda x, t: td_loss(x, t, **kw), lambda x, t: torch_loss(x, t, **kw), input, target)


# Differences spread across both sides of 0.5 and 1.0 (the smooth_l1 / huber kinks), some exactly zero.
D_INPUT = 1.5 * randn(5, 4, seed=31)
D_TARGET = D_INPUT - np.linspace(-2.2, 2.2, 20).reshape(5, 4)
D_TARGET_TIES = D_INPUT.copy()
D_TARGET_TIES[::2] += 0.3

PROB_INPUT = positive(5, 4, seed=32, low=0.02, high=0.98)
PROB_TARGET = rng_for(33).random((5, 4))
PROB_EDGE = np.array([[0.0, 1.0, 1e-50, 1 - 1e-12], [0.3, 0.7, 0.5, 1e-12]])
HARD_TARGET = np.array([[0.0, 1.0, 0.0, 1.0], [1.0, 0.0, 1.0, 0.0]])
BCE_WEIGHT = positive(5, 4, seed=34)
BCE_WEIGHT_ROW = positive(4, seed=35)
POS_WEIGHT = positive(4, seed=36, low=0.5, high=3.0)

POINTWISE = []
for reduction in REDUCTIONS_ALL:
    r = reduction
    POINTWISE += [
        pointwise_case(f"mse-{r}", F.mse_loss, TF.mse_loss, D_INPUT, D_TARGET, reduction=r),
        pointwise_case(f"l1-{r}", F.l1_loss, TF.l1_loss, D_INPUT, D_TARGET, reduction=r),
        pointwise_case(f"l1-zero-diff-{r}", F.l1_loss, TF.l1_loss, D_INPUT, D_TARGET_TIES, reduction=r),
        pointwise_case(f"smooth_l1-{r}", F.smooth_l1_loss, TF.smooth_l1_loss, D_INPUT, D_TARGET, reduction=r),
        pointwise_case(f"smooth_l1-beta0.5-{r}", F.smooth_l1_loss, TF.smooth_l1_loss, D_INPUT, D_TARGET,
                       reduction=r, beta=0.5),
        pointwise_case(f"smooth_l1-beta1-{r}", F.smooth_l1_loss, TF.smooth_l1_loss, D_INPUT, D_TARGET,
                       reduction=r, beta=1.0),
        pointwise_case(f"smooth_l1-zero-diff-{r}", F.smooth_l1_loss, TF.smooth_l1_loss, D_INPUT, D_TARGET_TIES,
                       reduction=r),
        pointwise_case(f"huber-{r}", F.huber_loss, TF.huber_loss, D_INPUT, D_TARGET, reduction=r),
        pointwise_case(f"huber-delta0.5-{r}", F.huber_loss, TF.huber_loss, D_INPUT, D_TARGET, reduction=r, delta=0.5),
        pointwise_case(f"huber-delta2-{r}", F.huber_loss, TF.huber_loss, D_INPUT, D_TARGET, reduction=r, delta=2.0),
        pointwise_case(f"bce-{r}", F.binary_cross_entropy, TF.binary_cross_entropy, PROB_INPUT, PROB_TARGET,
                       reduction=r),
        pointwise_case(f"bce-hard-target-{r}", F.binary_cross_entropy, TF.binary_cross_entropy, PROB_INPUT[:2],
                       HARD_TARGET, reduction=r),
        case(f"bce-weight-{r}",
             lambda p, t, r=r: F.binary_cross_entropy(p, t, weight=td.tensor(BCE_WEIGHT), reduction=r),
             lambda p, t, r=r: TF.binary_cross_entropy(p, t, weight=torch.tensor(BCE_WEIGHT), reduction=r),
             PROB_INPUT, PROB_TARGET),
        case(f"bce-weight-broadcast-{r}",
             lambda p, t, r=r: F.binary_cross_entropy(p, t, weight=td.tensor(BCE_WEIGHT_ROW), reduction=r),
             lambda p, t, r=r: TF.binary_cross_entropy(p, t, weight=torch.tensor(BCE_WEIGHT_ROW), reduction=r),
             PROB_INPUT, PROB_TARGET),
        # p at 0, 1 and beyond the -100 log clamp: the input gradient stays finite (its denominator is
        # clamped at 1e-12); the target gradient is PyTorch's unclamped -logit(p), +-inf at p = 0 or 1
        pointwise_case(f"bce-edge-probs-{r}", F.binary_cross_entropy, TF.binary_cross_entropy, PROB_EDGE,
                       np.array([[0.0, 1.0, 0.2, 0.9], [0.3, 0.7, 0.0, 1.0]]), reduction=r),
        pointwise_case(f"bce_logits-{r}", F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits,
                       3 * randn(5, 4, seed=37), PROB_TARGET, reduction=r),
        pointwise_case(f"bce_logits-wide-{r}", F.binary_cross_entropy_with_logits,
                       TF.binary_cross_entropy_with_logits, WIDE.reshape(1, -1),
                       rng_for(38).random((1, WIDE.size)), reduction=r),
        case(f"bce_logits-pos_weight-{r}",
             lambda x, t, r=r: F.binary_cross_entropy_with_logits(x, t, pos_weight=td.tensor(POS_WEIGHT), reduction=r),
             lambda x, t, r=r: TF.binary_cross_entropy_with_logits(x, t, pos_weight=torch.tensor(POS_WEIGHT),
                                                                   reduction=r),
             3 * randn(5, 4, seed=37), PROB_TARGET),
        case(f"bce_logits-weight-{r}",
             lambda x, t, r=r: F.binary_cross_entropy_with_logits(x, t, weight=td.tensor(BCE_WEIGHT), reduction=r),
             lambda x, t, r=r: TF.binary_cross_entropy_with_logits(x, t, weight=torch.tensor(BCE_WEIGHT), reduction=r),
             3 * randn(5, 4, seed=37), PROB_TARGET),
        case(f"bce_logits-both-weights-{r}",
             lambda x, t, r=r: F.binary_cross_entropy_with_logits(
                 x, t, weight=td.tensor(BCE_WEIGHT_ROW), pos_weight=td.tensor(POS_WEIGHT), reduction=r),
             lambda x, t, r=r: TF.binary_cross_entropy_with_logits(
                 x, t, weight=torch.tensor(BCE_WEIGHT_ROW), pos_weight=torch.tensor(POS_WEIGHT), reduction=r),
             3 * randn(5, 4, seed=37), PROB_TARGET),
    ]


@run_cases(POINTWISE)
def test_pointwise_losses(td_fn, torch_fn, arrays, grad):
    agree(td_fn, torch_fn, arrays, grad)


def test_bce_input_gradient_at_edge_probabilities():
    """At p in {0, 1} PyTorch keeps the input gradient finite (denominator clamped at 1e-12)."""
    t = np.array([[0.0, 1.0, 0.2, 0.9], [0.3, 0.7, 0.0, 1.0]])
    agree(lambda p, t: F.binary_cross_entropy(p, t, reduction="sum"),
          lambda p, t: TF.binary_cross_entropy(p, t, reduction="sum"), [PROB_EDGE, t], grad=[True, False])


# ---- double backward ------------------------------------------------------------------------
def agree_double(td_fn, torch_fn, arrays, seed=0):
    """First gradients with create_graph=True, then the gradient of <first gradients, v>
    w.r.t. the inputs and the upstream gradient (a Hessian-vector and a Jacobian-vector product)."""
    rng = rng_for(seed + 100)
    xs_td = [td.tensor(a, requires_grad=True) for a in arrays]
    xs_t = [torch.tensor(a, requires_grad=True) for a in arrays]
    y_td, y_t = td_fn(*xs_td), torch_fn(*xs_t)
    close(y_td.detach().numpy(), y_t.detach().numpy(), "forward values")
    g = rng.standard_normal(tuple(y_t.shape))
    vs = [rng.standard_normal(a.shape) for a in arrays]
    g_td, g_t = td.tensor(g, requires_grad=True), torch.tensor(g, requires_grad=True)

    first_td = td.grad(y_td, xs_td, g_td, create_graph=True)
    first_t = torch.autograd.grad(y_t, xs_t, g_t, create_graph=True)
    for i, (a, b) in enumerate(zip(first_td, first_t)):
        close(a.detach().numpy(), b.detach().numpy(), f"first gradient of input {i}")

    s_td = sum((gx * td.tensor(v)).sum() for gx, v in zip(first_td, vs))
    s_t = sum((gx * torch.tensor(v)).sum() for gx, v in zip(first_t, vs))
    second_td = td.grad(s_td, xs_td + [g_td], allow_unused=True)
    second_t = torch.autograd.grad(s_t, xs_t + [g_t], allow_unused=True)
    for i, (a, b) in enumerate(zip(second_td, second_t)):
        shape = (xs_t + [g_t])[i].shape
        a = np.zeros(shape) if a is None else a.detach().numpy()
        b = np.zeros(shape) if b is None else b.detach().numpy()
        close(a, b, f"second gradient w.r.t. {'the upstream gradient' if i == len(arrays) else f'input {i}'}")


DOUBLE = [
    case("tanh", F.tanh, torch.tanh, randn(3, 4)),
    case("sigmoid", F.sigmoid, torch.sigmoid, 2 * randn(3, 4)),
    case("exp-times-log", lambda a, b: a.exp() * b.log(), lambda a, b: a.exp() * b.log(), randn(3, 4), positive(3, 4)),
    case("pow-tensor", lambda a, b: a**b, lambda a, b: a**b, positive(3, 4), randn(3, 4, seed=1)),
    case("div", lambda a, b: a / b, lambda a, b: a / b, randn(3, 4), positive(4, seed=1)),
    case("sqrt", lambda a: a.sqrt(), torch.sqrt, positive(5)),
    case("matmul", td.Tensor.__matmul__, torch.matmul, randn(3, 4), randn(4, 2, seed=1)),
    case("matmul-batched", td.Tensor.__matmul__, torch.matmul, randn(2, 3, 4), randn(4, 2, seed=1)),
    case("matmul-squared", lambda a: (a @ a).sum(0), lambda a: (a @ a).sum(0), randn(3, 3)),
    case("softmax", lambda a: F.softmax(a, -1), lambda a: TF.softmax(a, -1), randn(3, 5)),
    case("log_softmax", lambda a: F.log_softmax(a, 1), lambda a: TF.log_softmax(a, 1), randn(3, 5)),
    case("gelu", F.gelu, TF.gelu, 2 * randn(3, 4)),
    case("softplus", F.softplus, TF.softplus, 3 * randn(3, 4)),
    case("var", lambda a: a.var(1), lambda a: a.var(1), randn(3, 4)),
    case("std", lambda a: a.std(), lambda a: a.std(), randn(3, 4)),
    case("logsumexp", lambda a: a.logsumexp(1), lambda a: a.logsumexp(1), randn(3, 4)),
    case("mse_loss", F.mse_loss, TF.mse_loss, randn(3, 4), randn(3, 4, seed=1)),
    case("linear-tanh", lambda x, w, b: F.tanh(F.linear(x, w, b)), lambda x, w, b: torch.tanh(TF.linear(x, w, b)),
         randn(5, 4), randn(3, 4, seed=1), randn(3, seed=2)),
    case("cross_entropy", lambda x: F.cross_entropy(x, td.tensor(LABELS_IGNORED)),
         lambda x: TF.cross_entropy(x, torch.tensor(LABELS_IGNORED)), randn(N, C)),
    case("bce_with_logits", F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits,
         randn(5, 4), PROB_TARGET),
    case("bce_with_logits-pos_weight", lambda x, t: F.binary_cross_entropy_with_logits(
        x, t, pos_weight=td.tensor(POS_WEIGHT)), lambda x, t: TF.binary_cross_entropy_with_logits(
        x, t, pos_weight=torch.tensor(POS_WEIGHT)), randn(5, 4), PROB_TARGET),
    case("bce", F.binary_cross_entropy, TF.binary_cross_entropy, PROB_INPUT, PROB_TARGET),
    case("smooth_l1_loss", lambda x, t: F.smooth_l1_loss(x, t, beta=0.5),
         lambda x, t: TF.smooth_l1_loss(x, t, beta=0.5), D_INPUT, D_TARGET),
    case("huber_loss", F.huber_loss, TF.huber_loss, D_INPUT, D_TARGET),
    case("leaky_relu", lambda a: F.leaky_relu(a, 0.2), lambda a: TF.leaky_relu(a, 0.2), randn(3, 4)),
    case("pow-scalar", lambda a: a**3.0, lambda a: a**3.0, randn(3, 4)),
    case("rpow-scalar", lambda a: 2.0**a, lambda a: 2.0**a, randn(3, 4)),
    case("max-ties", lambda a: a.max(), lambda a: a.max(), ties(3, 4)),
    case("max-dim", lambda a: a.max(1)[0] * a.min(1)[0], lambda a: a.max(1)[0] * a.min(1)[0], randn(3, 4)),
    case("getitem-repeated", lambda a: a[[0, 2, 2], 1:] ** 2, lambda a: a[[0, 2, 2], 1:] ** 2, randn(3, 4)),
    case("cat-stack", lambda a, b: td.stack([td.cat([a, b], 1), td.cat([b, a], 1)]) ** 2,
         lambda a, b: torch.stack([torch.cat([a, b], 1), torch.cat([b, a], 1)]) ** 2, randn(2, 3), randn(2, 3, seed=1)),
    case("maximum", lambda a, b: td.maximum(a, b) ** 2, lambda a, b: torch.maximum(a, b) ** 2,
         randn(3, 4), randn(3, 4, seed=1)),
]


@run_cases(DOUBLE)
def test_double_backward(td_fn, torch_fn, arrays, grad):
    agree_double(td_fn, torch_fn, arrays)
