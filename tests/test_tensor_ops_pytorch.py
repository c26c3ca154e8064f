"""The tensor ops PyTorch users type (issue 20), as functions ``td.NAME`` and as Tensor methods.

For each op: the values and gradients agree with PyTorch's (when torch is installed), every
differentiable op passes gradcheck (and gradgradcheck) in float64 on generated shapes, on
cpu and cuda, and wrong arguments give one clear error naming the op.
"""
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinydl as td
from helpers import const, host, leaf
from strategies import distinct_arrays, positive_arrays, shapes, smooth_arrays

METHODS = [
    "eq", "ne", "lt", "le", "gt", "ge", "view_as", "tril", "triu", "masked_fill", "masked_fill_", "topk", "bmm", "mm",
    "split", "chunk", "narrow", "t", "new_zeros", "new_ones", "new_tensor", "new_full", "new_empty", "sin", "cos",
    "norm", "multinomial", "sort", "argsort", "cumsum", "gather", "index_select", "all", "any", "isnan", "isfinite",
    "logical_not", "outer", "prod", "round", "floor", "ceil", "sign", "flip", "roll", "unbind", "masked_select", "dot",
    "add", "sub", "mul", "div", "matmul", "neg", "square", "maximum", "minimum", "where", "erf", "amax", "amin",
    "isinf", "add_", "sub_", "mul_", "div_", "clamp_", "scatter", "scatter_", "scatter_add", "scatter_add_",
    "logical_and", "logical_or", "logical_xor", "is_floating_point", "nelement", "swapaxes", "swapdims", "broadcast_to",
    "nonzero", "repeat_interleave", "isclose", "allclose", "equal", "reciprocal", "rsqrt", "uniform_", "normal_",
    "bernoulli",
]


def torch_or_skip():
    return pytest.importorskip("torch")


def check(fn, *inputs, second_order=True):
    assert td.gradcheck(fn, inputs)
    if second_order:
        assert td.gradgradcheck(fn, inputs)


def close(actual, expected):
    np.testing.assert_allclose(host(actual), np.asarray(expected), rtol=1e-10, atol=1e-12)


# ---- every name exists, as PyTorch has it ---------------------------------
def test_methods_and_functions_exist_where_pytorch_has_them():
    t = td.zeros(2)
    assert [name for name in METHODS if not hasattr(t, name)] == []
    torch = torch_or_skip()
    methods_only = {  # in tinydl
        "square", "add_", "sub_", "mul_", "div_", "clamp_", "masked_fill_", "scatter_", "scatter_add_", "is_floating_point",
        "nelement", "swapaxes", "swapdims", "broadcast_to", "reciprocal", "rsqrt", "uniform_", "normal_",
    }
    functions = [name for name in METHODS if hasattr(torch, name) and not name.startswith("new_") and name not in methods_only]
    assert [name for name in functions if not hasattr(td, name)] == []


# ---- agreement with PyTorch: values and gradients -------------------------
# name: (tinydl fn, torch fn, input shape); each fn takes the leaf and returns a Tensor (or a tuple
# whose first item is differentiable). Values are distinct (no ties), so every op is smooth here.
AGREEMENT = {
    "sin": (lambda x: x.sin(), lambda x: x.sin(), (3, 4)),
    "cos": (lambda x: td.cos(x), lambda x: x.cos(), (3, 4)),
    "tril": (lambda x: x.tril(), lambda x: x.tril(), (2, 3, 4)),
    "tril(-1)": (lambda x: td.tril(x, diagonal=-1), lambda x: x.tril(-1), (4, 3)),
    "triu(1)": (lambda x: x.triu(1), lambda x: x.triu(1), (2, 3, 4)),
    "masked_fill": (lambda x: x.masked_fill(x.detach() > 0, -1.5), lambda x: x.masked_fill(x.detach() > 0, -1.5), (3, 4)),
    "masked_fill row mask": (lambda x: x.masked_fill(td.tensor([True, False, True, False]), 0.0),
                             lambda x: x.masked_fill(__import__("torch").tensor([True, False, True, False]), 0.0), (3, 4)),
    "topk": (lambda x: x.topk(2, dim=1)[0], lambda x: x.topk(2, dim=1)[0], (3, 4)),
    "topk smallest": (lambda x: td.topk(x, 3, dim=0, largest=False).values, lambda x: x.topk(3, 0, largest=False).values, (3, 4)),
    "sort": (lambda x: x.sort(dim=0)[0], lambda x: x.sort(dim=0)[0], (3, 4)),
    "sort descending": (lambda x: td.sort(x, descending=True).values, lambda x: x.sort(descending=True).values, (3, 4)),
    "mm": (lambda x: x.mm(x.t()), lambda x: x.mm(x.t()), (3, 4)),
    "bmm": (lambda x: td.bmm(x, x.transpose(1, 2)), lambda x: x.bmm(x.transpose(1, 2)), (2, 3, 4)),
    "dot": (lambda x: td.dot(x[0], x[1]), lambda x: x[0].dot(x[1]), (2, 5)),
    "outer": (lambda x: td.outer(x[0], x[1, :3]), lambda x: x[0].outer(x[1, :3]), (2, 5)),
    "split": (lambda x: x.split(2, dim=1)[1], lambda x: x.split(2, dim=1)[1], (3, 5)),
    "split sizes": (lambda x: td.split(x, [1, 3, 1], 1)[1], lambda x: x.split([1, 3, 1], 1)[1], (3, 5)),
    "chunk": (lambda x: x.chunk(2, dim=-1)[1], lambda x: x.chunk(2, dim=-1)[1], (3, 5)),
    "narrow": (lambda x: x.narrow(1, -3, 2), lambda x: x.narrow(1, -3, 2), (3, 5)),
    "unbind": (lambda x: x.unbind(1)[2], lambda x: x.unbind(1)[2], (3, 5)),
    "t": (lambda x: x.t(), lambda x: x.t(), (3, 5)),
    "view_as": (lambda x: x.view_as(td.zeros(5, 3)), lambda x: x.view_as(__import__("torch").zeros(5, 3)), (3, 5)),
    "norm": (lambda x: x.norm(), lambda x: x.norm(), (3, 4)),
    "norm fro dims": (lambda x: td.norm(x, "fro", dim=(0, 2)), lambda x: x.norm("fro", dim=(0, 2)), (2, 3, 4)),
    "norm p=1 keepdim": (lambda x: x.norm(p=1, dim=1, keepdim=True), lambda x: x.norm(p=1, dim=1, keepdim=True), (3, 4)),
    "norm p=inf": (lambda x: x.norm(p=math.inf, dim=0), lambda x: x.norm(p=math.inf, dim=0), (3, 4)),
    "norm p=-inf": (lambda x: x.norm(p=-math.inf), lambda x: x.norm(p=-math.inf), (3, 4)),
    "norm p=3": (lambda x: x.norm(p=3, dim=-1), lambda x: x.norm(p=3, dim=-1), (3, 4)),
    "norm p=0.5": (lambda x: x.norm(p=0.5), lambda x: x.norm(p=0.5), (3, 4)),
    "cumsum": (lambda x: x.cumsum(1), lambda x: x.cumsum(1), (3, 4)),
    "cumsum dim 0": (lambda x: td.cumsum(x, dim=0), lambda x: x.cumsum(dim=0), (3, 4)),
    "prod": (lambda x: x.prod(), lambda x: x.prod(), (3, 4)),
    "prod dim": (lambda x: td.prod(x, 1, keepdim=True), lambda x: x.prod(1, keepdim=True), (3, 5)),
    "gather": (lambda x: x.gather(1, td.tensor([[3, 0], [1, 1], [2, 3]], device=x.device)),
               lambda x: x.gather(1, __import__("torch").tensor([[3, 0], [1, 1], [2, 3]])), (3, 4)),
    "gather smaller index": (lambda x: td.gather(x, 0, td.tensor([[2, 0]], device=x.device)),
                             lambda x: x.gather(0, __import__("torch").tensor([[2, 0]])), (3, 4)),
    "index_select": (lambda x: x.index_select(1, td.tensor([3, 0, 3], device=x.device)),
                     lambda x: x.index_select(1, __import__("torch").tensor([3, 0, 3])), (3, 4)),
    "masked_select": (lambda x: x.masked_select(x.detach() > 0), lambda x: x.masked_select(x.detach() > 0), (3, 4)),
    "flip": (lambda x: x.flip(0, 2), lambda x: x.flip(0, 2), (2, 3, 4)),
    "flip list": (lambda x: td.flip(x, [1]), lambda x: x.flip([1]), (2, 3, 4)),
    "roll": (lambda x: x.roll(1, 0), lambda x: x.roll(1, 0), (3, 4)),
    "roll dims": (lambda x: td.roll(x, (2, -1), (1, 0)), lambda x: x.roll((2, -1), (1, 0)), (3, 4)),
    "roll flat": (lambda x: x.roll(5), lambda x: x.roll(5), (3, 4)),
    "round": (lambda x: (x * 3).round() * x, lambda x: (x * 3).round() * x, (3, 4)),
    "round decimals": (lambda x: td.round(x, decimals=1) + x, lambda x: x.round(decimals=1) + x, (3, 4)),
    "add alpha": (lambda x: x.add(x * x, alpha=-0.5), lambda x: x.add(x * x, alpha=-0.5), (3, 4)),
    "sub mul div": (lambda x: x.sub(1.5, alpha=2).mul(x).div(2.0), lambda x: x.sub(1.5, alpha=2).mul(x).div(2.0), (3, 4)),
    "matmul neg square": (lambda x: x.matmul(x.t()).neg().square(), lambda x: x.matmul(x.t()).neg().square(), (3, 4)),
    "maximum minimum": (lambda x: x.maximum(x.flip(0)) + x.minimum(0.5 * x), lambda x: x.maximum(x.flip(0)) + x.minimum(0.5 * x), (3, 4)),
    "where erf": (lambda x: x.where(x.detach() > 0, x.erf()), lambda x: x.where(x.detach() > 0, x.erf()), (3, 4)),
    "amax": (lambda x: x.amax(), lambda x: x.amax(), (3, 4)),
    "amax dims": (lambda x: td.amax(x, (0, 2), keepdim=True), lambda x: x.amax((0, 2), keepdim=True), (2, 3, 4)),
    "amin": (lambda x: x.amin(dim=1), lambda x: x.amin(dim=1), (3, 4)),
    "scatter": (lambda x: x.scatter(1, td.tensor([[1, 3], [0, 2], [2, 1]], device=x.device), x[:, :2] * x[:, 2:]),
                lambda x: x.scatter(1, __import__("torch").tensor([[1, 3], [0, 2], [2, 1]]), x[:, :2] * x[:, 2:]), (3, 4)),
    "scatter value": (lambda x: td.scatter(x, 0, td.tensor([[2, 0, 1, 2]], device=x.device), -1.5),
                      lambda x: x.scatter(0, __import__("torch").tensor([[2, 0, 1, 2]]), -1.5), (3, 4)),
    "scatter_add": (lambda x: x.scatter_add(1, td.tensor([[1, 1, 3], [0, 2, 0]], device=x.device), x[1:, :3] * x[:2, 1:]),
                    lambda x: x.scatter_add(1, __import__("torch").tensor([[1, 1, 3], [0, 2, 0]]), x[1:, :3] * x[:2, 1:]),
                    (3, 4)),
    "repeat_interleave": (lambda x: x.repeat_interleave(2, dim=1), lambda x: x.repeat_interleave(2, dim=1), (3, 4)),
    "repeat_interleave counts": (lambda x: td.repeat_interleave(x, [0, 2, 1], 0), lambda x: x.repeat_interleave(
        __import__("torch").tensor([0, 2, 1]), 0), (3, 4)),
    "repeat_interleave flat": (lambda x: x.repeat_interleave(3), lambda x: x.repeat_interleave(3), (2, 3)),
    "reciprocal rsqrt": (lambda x: (x * x + 1).reciprocal() + (x * x + 0.5).rsqrt(),
                         lambda x: (x * x + 1).reciprocal() + (x * x + 0.5).rsqrt(), (3, 4)),
    "einsum": (lambda x: td.einsum("ij,kj->ik", x, x * x), lambda x: __import__("torch").einsum("ij,kj->ik", x, x * x), (3, 4)),
    "einsum list": (lambda x: td.einsum("bij,bkj", [x, x.flip(0)]), lambda x: __import__("torch").einsum("bij,bkj", [x, x.flip(0)]),
                    (2, 3, 4)),
    "floor ceil sign": (lambda x: x.floor() + td.ceil(x) * x + x.sign(), lambda x: x.floor() + x.ceil() * x + x.sign(), (3, 4)),
}


@pytest.mark.parametrize("name", sorted(AGREEMENT))
def test_values_and_gradients_agree_with_pytorch(device, name):
    torch = torch_or_skip()
    ours, theirs, shape = AGREEMENT[name]
    values = np.random.default_rng(0).permutation(np.linspace(-2.0, 2.0, math.prod(shape))).reshape(shape)
    x = leaf(values, device)
    xt = torch.tensor(values, requires_grad=True)
    y, yt = ours(x), theirs(xt)
    np.testing.assert_allclose(host(y), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    weights = np.random.default_rng(1).standard_normal(yt.shape)
    (y * const(weights, device)).sum().backward()
    (yt * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(host(x.grad), xt.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("p", [2, "fro", 1, math.inf, -math.inf, 3, 0.5])
def test_norm_gradient_at_zero_is_pytorchs_subgradient(device, p):
    x = leaf(np.zeros((2, 3)), device)
    x.norm(p=p).backward()
    np.testing.assert_array_equal(host(x.grad), np.zeros((2, 3)))  # torch: zeros for every p (checked below)
    torch = torch_or_skip()
    xt = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    xt.norm(p=p).backward()
    np.testing.assert_array_equal(xt.grad.numpy(), np.zeros((2, 3)))


def test_norm_inf_shares_the_gradient_among_ties_as_pytorch(device):
    for p, expected in [(math.inf, [0.5, -0.5, 0.0, 0.0]), (-math.inf, [0.0, 0.0, 0.5, 0.5])]:
        x = leaf([3.0, -3.0, 1.0, -1.0], device)
        x.norm(p=p).backward()
        close(x.grad, np.array(expected) * [1, 1, 1, -1])
        torch = torch_or_skip()
        xt = torch.tensor([3.0, -3.0, 1.0, -1.0], dtype=torch.float64, requires_grad=True)
        xt.norm(p=p).backward()
        np.testing.assert_allclose(xt.grad.numpy(), host(x.grad))


@pytest.mark.parametrize("size, pieces", [(5, 3), (6, 4), (4, 4), (3, 5), (7, 1)])
def test_chunk_and_split_give_pytorchs_pieces(device, size, pieces):
    x = const(np.arange(size * 2).reshape(2, size), device)
    chunked = [p.shape for p in x.chunk(pieces, dim=1)]
    split = [p.shape for p in td.split(x, pieces, dim=-1)]
    assert [host(p).tolist() for p in x.chunk(pieces, 1)] == [host(p).tolist() for p in td.split(x, -(-size // pieces), 1)]
    torch = torch_or_skip()
    t = torch.arange(size * 2).reshape(2, size)
    assert chunked == [tuple(p.shape) for p in t.chunk(pieces, dim=1)]
    assert split == [tuple(p.shape) for p in t.split(pieces, dim=-1)]


def test_norm_partly_zero_rows_and_p0(device):
    x = leaf([[0.0, 0.0], [3.0, -4.0]], device)
    n = x.norm(dim=1)
    close(n, [0.0, 5.0])
    n.sum().backward()
    close(x.grad, [[0.0, 0.0], [0.6, -0.8]])
    close(td.norm(const([[0.0, 2.0], [3.0, -4.0]], device).double(), p=0), 3.0)


def test_prod_gradient_with_zeros_agrees_with_pytorch(device):
    values = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 5.0], [1.5, -2.0, 4.0]])
    x = leaf(values, device)
    x.prod(dim=1).sum().backward()
    expected = np.array([[6.0, 0.0, 0.0], [0.0, 0.0, 0.0], [-8.0, 6.0, -3.0]])
    close(x.grad, expected)
    check(lambda t: t.prod(dim=1), x)  # second derivative right at the zeros too
    torch = torch_or_skip()
    xt = torch.tensor(values, requires_grad=True)
    xt.prod(dim=1).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), expected)


def test_rounding_ops_have_zero_gradient_and_keep_integers(device):
    x = leaf([0.4, 1.5, -2.5, 0.0], device)
    for fn in (td.round, td.floor, td.ceil, td.sign):
        (g,) = td.grad(fn(x).sum(), x, create_graph=True)
        close(g, np.zeros(4))
        (gg,) = td.grad(g.sum(), x, allow_unused=True)
        assert gg is None or np.all(host(gg) == 0)
    close(td.round(x), [0.0, 2.0, -2.0, 0.0])  # halves to even, as PyTorch
    ints = const(np.array([3, -2]), device)
    for fn in (td.round, td.floor, td.ceil):
        assert fn(ints).dtype == td.int64 and host(fn(ints)).tolist() == [3, -2]
    assert host(td.sign(ints)).tolist() == [1, -1]


def test_integer_and_boolean_inputs_follow_pytorchs_dtypes(device):
    ints = const(np.array([1, 2, 3]), device)
    assert ints.sin().dtype == td.float32
    assert ints.cumsum(0).dtype == td.int64 and host(ints.cumsum(0)).tolist() == [1, 3, 6]
    assert const(np.array([True, True]), device).cumsum(0).dtype == td.int64
    assert ints.prod().dtype == td.int64 and ints.prod().item() == 6
    assert const(np.array([1, 2], dtype=np.int32), device).cumsum(0).dtype == td.int64
    assert td.cumsum(ints, 0, dtype=td.float64).dtype == td.float64
    masked = ints.masked_fill(const(np.array([True, False, False]), device), 0.7)
    assert masked.dtype == td.int64 and host(masked).tolist() == [0, 2, 3]  # the value takes the input's dtype


# ---- gradchecks on generated shapes (float64, gradcheck's own tolerances) ----
@settings(max_examples=10)  # each example runs several gradchecks: keeps the file fast
@given(data=st.data())
def test_gradcheck_elementwise_and_triangles(device, data):
    shape = data.draw(shapes(min_dims=2, max_dims=3))
    x = leaf(data.draw(smooth_arrays(shape)), device)
    diagonal = data.draw(st.integers(-2, 2))
    check(lambda t: t.sin() * t.cos(), x)
    check(lambda t: t.tril(diagonal), x)
    check(lambda t: td.triu(t, diagonal=diagonal), x)


@settings(max_examples=10)  # each example runs several gradchecks: keeps the file fast
@given(data=st.data())
def test_gradcheck_masked_fill_and_masked_select(device, data):
    shape = data.draw(shapes(min_dims=1, max_dims=3))
    values = data.draw(smooth_arrays(shape))
    mask = const(data.draw(st.lists(st.booleans(), min_size=shape[-1], max_size=shape[-1])), device)  # broadcasts
    x = leaf(values, device)
    fill = leaf(0.5, device)
    check(lambda t, v: t.masked_fill(mask, v), x, fill)
    check(lambda t: t.masked_select(mask), x)


@settings(max_examples=10)  # each example runs several gradchecks: keeps the file fast
@given(data=st.data())
def test_gradcheck_sort_topk_gather_index_select(device, data):
    shape = data.draw(shapes(min_dims=1, max_dims=3))
    x = leaf(data.draw(distinct_arrays(shape)), device)  # no ties: the order is stable under the differences
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    k = data.draw(st.integers(0, shape[dim]))
    largest = data.draw(st.booleans())
    check(lambda t: t.sort(dim=dim, descending=True).values, x)
    check(lambda t: td.topk(t, k, dim=dim, largest=largest).values, x)
    index = const(data.draw(st.lists(st.integers(0, shape[dim] - 1), min_size=1, max_size=4)), device)
    check(lambda t: t.index_select(dim, index), x)
    positions = np.asarray(data.draw(st.lists(st.integers(0, shape[dim] - 1), min_size=x.numel(), max_size=x.numel())))
    check(lambda t: t.gather(dim, const(positions.reshape(shape), device)), x)  # repeats add up in the backward


@settings(max_examples=10)  # each example runs several gradchecks: keeps the file fast
@given(data=st.data())
def test_gradcheck_scatter_and_scatter_add(device, data):
    shape = data.draw(shapes(min_dims=1, max_dims=3))
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = leaf(data.draw(smooth_arrays(shape)), device)
    src = leaf(data.draw(smooth_arrays(shape)), device)
    # scatter: no repeated index along dim (a permutation in every line), so each written value is unique
    order = np.argsort(data.draw(smooth_arrays(shape)), axis=dim, kind="stable")
    check(lambda a, b: a.scatter(dim, const(order, device), b), x, src)
    repeats = np.asarray(data.draw(st.lists(st.integers(0, shape[dim] - 1), min_size=x.numel(), max_size=x.numel())))
    check(lambda a, b: td.scatter_add(a, dim, const(repeats.reshape(shape), device), b), x, src)


EINSUMS = {  # equation: operand shapes
    "ij,jk->ik": [(2, 3), (3, 4)], "bhqd,bhkd->bhqk": [(1, 2, 3, 2), (1, 2, 2, 2)], "i,i->": [(3,), (3,)],
    "ij->j": [(2, 3)], "ij->ji": [(2, 3)], "bi,bj->bij": [(2, 3), (2, 2)], "ij,jk": [(2, 3), (3, 2)],
    "ijk->": [(2, 3, 2)], "i,j->ij": [(2,), (3,)], "ij,k->i": [(2, 3), (4,)], "ij,jk,kl->il": [(2, 2), (2, 3), (3, 2)],
}


@pytest.mark.parametrize("equation", sorted(EINSUMS))
def test_einsum_gradcheck_and_pytorch(device, equation):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(shape) for shape in EINSUMS[equation]]
    leaves = [leaf(a, device) for a in arrays]
    check(lambda *xs: td.einsum(equation, *xs), *leaves)
    torch = torch_or_skip()
    np.testing.assert_allclose(host(td.einsum(equation, *leaves)),
                               torch.einsum(equation, *[torch.tensor(a) for a in arrays]).numpy(), rtol=1e-10, atol=1e-12)


@settings(max_examples=10)  # each example runs several gradchecks: keeps the file fast
@given(data=st.data())
def test_gradcheck_pieces_flip_roll_cumsum(device, data):
    shape = data.draw(shapes(min_dims=1, max_dims=3))
    x = leaf(data.draw(smooth_arrays(shape)), device)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    size = data.draw(st.integers(1, 3))
    # slices (getitem's backward, second derivatives checked in test_gradcheck_ops.py)
    check(lambda t: td.cat([p * (i + 1) for i, p in enumerate(t.split(size, dim))], dim), x, second_order=False)
    check(lambda t: td.stack([p * (i + 1) for i, p in enumerate(t.unbind(dim))]), x, second_order=False)
    check(lambda t: t.chunk(size, dim)[-1], x, second_order=False)
    check(lambda t: t.narrow(dim, 0, 1), x, second_order=False)
    check(lambda t: t.flip(dim), x)
    shift = data.draw(st.integers(-5, 5))
    check(lambda t: t.roll(shift, dim), x)
    check(lambda t: t.cumsum(dim), x)
    check(lambda t: t.repeat_interleave(size, dim), x, second_order=False)
    check(lambda t: t.view_as(td.zeros(x.numel())), x, second_order=False)
    check(lambda t: t.t() if t.ndim <= 2 else t.swapaxes(0, -1), x, second_order=False)


@settings(max_examples=10)  # each example runs several gradchecks: keeps the file fast
@given(data=st.data())
def test_gradcheck_amax_amin(device, data):
    shape = data.draw(shapes(min_dims=1, max_dims=3))
    x = leaf(data.draw(distinct_arrays(shape)), device)  # no ties
    dims = data.draw(st.lists(st.integers(0, len(shape) - 1), unique=True, max_size=len(shape)))
    keepdim = data.draw(st.booleans())
    check(lambda t: t.amax(dims, keepdim=keepdim), x)
    check(lambda t: td.amin(t, dims, keepdim), x)


@settings(max_examples=10)  # each example runs several gradchecks: keeps the file fast
@given(data=st.data())
def test_gradcheck_products(device, data):
    n, k, m, b = (data.draw(st.integers(1, 3)) for _ in range(4))
    a = leaf(data.draw(smooth_arrays((b, n, k))), device)
    c = leaf(data.draw(smooth_arrays((b, k, m))), device)
    check(td.bmm, a, c)
    check(lambda u, v: u[0].mm(v[0]), a, c)
    u, v = leaf(data.draw(smooth_arrays((k,))), device), leaf(data.draw(smooth_arrays((k,))), device)
    check(td.dot, u, v)
    check(td.outer, u, v)
    check(lambda t: t.prod(dim=-1), a)
    check(lambda t: t.prod(), leaf(data.draw(smooth_arrays(data.draw(shapes(max_dims=2, max_numel=9)))), device))


@settings(max_examples=10)  # each example runs several gradchecks: keeps the file fast
@given(data=st.data())
def test_gradcheck_norms(device, data):
    shape = data.draw(shapes(min_dims=1, max_dims=3))
    x = leaf(data.draw(distinct_arrays(shape)), device)  # away from 0 and from ties (p = inf)
    p = data.draw(st.sampled_from([2, "fro", 1, math.inf, 3, 1.5]))
    dim = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    keepdim = data.draw(st.booleans())
    check(lambda t: t.norm(p=p, dim=dim, keepdim=keepdim), x)
    y = leaf(data.draw(positive_arrays(shape)), device)
    check(lambda t: td.norm(t, p=0.5), y)


# ---- comparisons and tests -----------------------------------------------
@pytest.mark.parametrize("name", ["eq", "ne", "lt", "le", "gt", "ge"])
def test_comparison_methods_and_functions(device, name):
    a = const(np.array([1.0, 2.0, 3.0]), device)
    b = const(np.array([3.0, 2.0, 1.0]), device)
    expected = getattr(np, {"eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal",
                            "gt": "greater", "ge": "greater_equal"}[name])
    for result, want in [
        (getattr(a, name)(b), expected([1, 2, 3], [3, 2, 1])),
        (getattr(td, name)(a, 2), expected([1, 2, 3], 2)),
        (getattr(a, name)(2.0), expected([1, 2, 3], 2)),
    ]:
        assert result.dtype == td.bool and not result.requires_grad
        np.testing.assert_array_equal(host(result), want)
    assert not getattr(leaf([1.0], device), name)(0.0).requires_grad


def test_logical_tests_and_reductions(device):
    x = const(np.array([[1.0, np.nan], [np.inf, 0.0]]), device)
    np.testing.assert_array_equal(host(x.isnan()), [[False, True], [False, False]])
    np.testing.assert_array_equal(host(td.isfinite(x)), [[True, False], [False, True]])
    np.testing.assert_array_equal(host(x.logical_not()), [[False, False], [False, True]])
    np.testing.assert_array_equal(host(x.isinf()), [[False, False], [True, False]])
    assert host(td.isinf(x)).tolist() == host(x.isinf()).tolist()
    assert td.all(x).item() is False and x.any().item() is True
    np.testing.assert_array_equal(host(x.all(dim=1, keepdim=True)), [[True], [False]])
    np.testing.assert_array_equal(host(td.any(x == 0, 0)), [False, True])


# ---- order among ties (documented in functional/sorting.py) -----------------
def test_sort_is_stable_as_pytorchs_stable_sort(device):
    values = np.array([1.0, 3.0, 3.0, 2.0, 3.0, 1.0, np.nan, 2.0, np.nan])
    for descending in (False, True):
        got = td.sort(const(values, device), descending=descending)
        assert got.indices.dtype == td.int64
        assert host(td.argsort(const(values, device), descending=descending)).tolist() == host(got.indices).tolist()
        torch = torch_or_skip()
        want = torch.sort(torch.tensor(values), descending=descending, stable=True)
        assert host(got.indices).tolist() == want.indices.tolist()
        np.testing.assert_array_equal(host(got.values), want.values.numpy())


def test_topk_ties_lower_index_first_and_values_as_pytorch(device):
    values = np.array([1.0, 3.0, 3.0, 2.0, 3.0, 1.0])
    top = const(values, device).topk(4)
    assert host(top.indices).tolist() == [1, 2, 4, 3]  # tinydl's order among ties: lower index first
    low = td.topk(const(values, device), 3, largest=False, sorted=False)
    assert host(low.indices).tolist() == [0, 5, 3]
    torch = torch_or_skip()  # PyTorch's order among ties is its own; its values are the same
    np.testing.assert_array_equal(host(top.values), torch.tensor(values).topk(4).values.numpy())
    np.testing.assert_array_equal(host(low.values), torch.tensor(values).topk(3, largest=False).values.numpy())


# ---- new_* -----------------------------------------------------------------
def test_new_tensors_take_dtype_and_device_of_self(device):
    x = const(np.zeros((2,), dtype=np.float64), device)
    for made, shape in [(x.new_zeros(2, 3), (2, 3)), (x.new_ones((3,)), (3,)), (x.new_empty(1, 2), (1, 2)),
                        (x.new_full((2, 2), 7), (2, 2)), (x.new_tensor([1, 2]), (2,))]:
        assert made.dtype == td.float64 and made.device == device and made.shape == shape
    assert host(x.new_full((2,), 7)).tolist() == [7.0, 7.0]
    ints = const(np.array([1, 2]), device)
    assert ints.new_tensor([1.5]).dtype == td.int64  # as PyTorch: [1]
    assert x.new_zeros(2, dtype=td.int64).dtype == td.int64
    assert x.new_ones(2, requires_grad=True).requires_grad


# ---- in place --------------------------------------------------------------
def test_masked_fill_in_place(device):
    x = const(np.array([1.0, 2.0, 3.0]), device)
    assert x.masked_fill_(x > 1.5, 0.0) is x
    assert host(x).tolist() == [1.0, 0.0, 0.0]
    w = leaf([1.0, 2.0], device)
    with td.no_grad():
        w.masked_fill_(td.tensor([True, False], device=device), 5.0)
    assert host(w).tolist() == [5.0, 2.0]
    with pytest.raises(RuntimeError, match="masked_fill_"):
        (w * 2).masked_fill_(td.tensor([True, False], device=device), 0.0)
    with pytest.raises(ValueError, match=r"masked_fill_: mask of shape \(2, 3\)"):
        x.masked_fill_(td.ones(2, 3, dtype=td.bool, device=device), 0.0)
    assert x.masked_fill(td.ones(2, 3, dtype=td.bool, device=device), 0.0).shape == (2, 3)  # out of place broadcasts


def test_in_place_arithmetic_methods(device):
    x = const(np.array([1.0, 2.0, 3.0]), device)
    assert x.add_(const(np.array([1.0, 1.0, 1.0]), device), alpha=2) is x
    assert host(x).tolist() == [3.0, 4.0, 5.0]
    x.sub_(1).mul_(2).div_(4).clamp_(min=1.5)
    assert host(x).tolist() == [1.5, 1.5, 2.0]
    p = leaf([1.0, -1.0], device)
    p.grad = const(np.array([0.5, 0.5]), device)
    with td.no_grad():  # a hand-written SGD step, as PyTorch users write it
        p.add_(p.grad, alpha=-0.1).clamp_(-0.98, 0.98)
    close(p, [0.95, -0.98])
    assert p.requires_grad and p.is_leaf
    with pytest.raises(RuntimeError, match="add_: a leaf tensor that requires grad"):
        p.add_(1.0)
    with pytest.raises(RuntimeError, match=r"mul_: the tensor is part of a recorded graph; use the out-of-place y = x.mul"):
        (p * 2).mul_(2)
    with pytest.raises(ValueError, match=r"add_: the result has shape \(2, 3\) but the tensor has shape \(3,\)"):
        x.add_(td.ones(2, 3, device=device))
    with pytest.raises(TypeError, match="div_: the result's dtype float32 can't be cast to the tensor's dtype int64"):
        const(np.array([1, 2]), device).div_(2)
    torch = torch_or_skip()
    t = torch.tensor([1.0, 2.0, 3.0]).add_(torch.ones(3), alpha=2).sub_(1).mul_(2).div_(4).clamp_(min=1.5)
    assert t.tolist() == [1.5, 1.5, 2.0]


def test_one_hot_with_scatter_as_pytorch_users_write_it(device):
    labels = const(np.array([2, 0, 1, 2]), device)
    one_hot = td.zeros(4, 3, device=device).scatter_(1, labels.unsqueeze(1), 1.0)
    np.testing.assert_array_equal(host(one_hot), np.eye(3)[[2, 0, 1, 2]])
    counts = td.zeros(3, device=device).scatter_add_(0, labels, td.ones(4, device=device))
    assert host(counts).tolist() == [1.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="scatter: reduce='multiply' is not supported"):
        td.zeros(3).scatter(0, td.tensor([0]), 1.0, reduce="multiply")
    with pytest.raises(IndexError, match="scatter_?: index 3 is out of bounds for dimension 0 with size 3"):
        td.zeros(3).scatter_(0, td.tensor([3]), 1.0)
    with pytest.raises(ValueError, match=r"scatter_add: src of shape \(1,\) must have index's dims and be at least"):
        td.zeros(3).scatter_add(0, td.tensor([0, 1]), td.ones(1))
    torch = torch_or_skip()
    t = torch.zeros(4, 3).scatter_(1, torch.tensor([2, 0, 1, 2]).unsqueeze(1), 1.0)
    np.testing.assert_array_equal(host(one_hot), t.numpy())


def test_logical_binary_ops(device):
    a = const(np.array([True, True, False, False]), device)
    b = const(np.array([1.0, 0.0, 2.0, 0.0]), device)
    assert host(a.logical_and(b)).tolist() == [True, False, False, False]
    assert host(td.logical_or(a, b)).tolist() == [True, True, True, False]
    assert host(a.logical_xor(b)).tolist() == [False, True, True, False]


def test_nonzero_and_closeness(device):
    x = const(np.array([[0, 1], [2, 0]]), device)
    assert host(x.nonzero()).tolist() == [[0, 1], [1, 0]] and x.nonzero().dtype == td.int64
    rows, cols = td.nonzero(x, as_tuple=True)
    assert host(rows).tolist() == [0, 1] and host(cols).tolist() == [1, 0]
    a, b = const(np.array([1.0, 2.0]), device), const(np.array([1.0, 2.000001]), device)
    assert a.allclose(b) is True and td.allclose(a, b, rtol=0, atol=1e-9) is False
    assert host(td.isclose(a, b, rtol=0, atol=1e-9)).tolist() == [True, False]
    assert a.equal(a.clone()) is True and a.equal(b) is False and a.equal(td.ones(3, device=device)) is False
    with pytest.raises(TypeError, match="allclose: the dtypes differ"):
        a.allclose(const(np.array([1, 2]), device))
    with pytest.raises(ValueError, match="repeat_interleave: repeats must be one count >= 0 per slice"):
        a.repeat_interleave([1, 2, 3])
    torch = torch_or_skip()
    assert torch.tensor([[0, 1], [2, 0]]).nonzero().tolist() == host(x.nonzero()).tolist()


def test_small_conveniences(device):
    x = const(np.zeros((2, 3)), device)
    assert x.is_floating_point() and not const(np.array([1]), device).is_floating_point()
    assert x.nelement() == 6 and x.swapaxes(0, 1).shape == (3, 2) and x.swapdims(1, 0).shape == (3, 2)
    assert x.broadcast_to((4, 2, 3)).shape == (4, 2, 3)


def test_random_fills_and_bernoulli(device):
    td.manual_seed(0)
    u = td.empty(4000, device=device).uniform_(-2, 3)
    assert u.device == device and -2 <= host(u).min() and host(u).max() < 3
    assert abs(host(u).mean() - 0.5) < 0.1
    n = td.zeros(4000, dtype=td.float64, device=device).normal_(1.0, 0.5)
    assert n.dtype == td.float64 and abs(host(n).mean() - 1.0) < 0.05 and abs(host(n).std() - 0.5) < 0.05
    b = td.bernoulli(td.full((4000,), 0.3, device=device))
    assert b.dtype == td.float32 and set(np.unique(host(b))) <= {0.0, 1.0} and abs(host(b).mean() - 0.3) < 0.05
    assert set(np.unique(host(td.zeros(50, device=device).bernoulli(0.5)))) == {0.0, 1.0}  # p= overrides the values
    td.manual_seed(5)
    first = host(td.empty(5, device=device).normal_())
    td.manual_seed(5)
    assert host(td.empty(5, device=device).normal_()).tolist() == first.tolist()
    w = leaf([0.0, 0.0], device)
    with pytest.raises(RuntimeError, match="uniform_: a leaf tensor that requires grad"):
        w.uniform_()
    with td.no_grad():
        w.normal_(0, 0.02)  # as nn.init does
    with pytest.raises(TypeError, match="normal_: the tensor must be floating point"):
        const(np.array([1, 2]), device).normal_()
    with pytest.raises(ValueError, match=r"bernoulli: the probabilities must be in \[0, 1\]"):
        td.bernoulli(const(np.array([0.5, 1.5]), device)).numpy()


# ---- multinomial -----------------------------------------------------------
def test_multinomial_draws_follow_the_probabilities(device):
    td.manual_seed(0)
    weights = const(np.array([1.0, 0.0, 3.0, 4.0]), device)  # need not sum to 1
    draws = td.multinomial(weights, 8000, replacement=True)
    assert draws.dtype == td.int64 and draws.shape == (8000,) and draws.device == device
    counts = np.bincount(host(draws), minlength=4) / 8000
    np.testing.assert_allclose(counts, [0.125, 0.0, 0.375, 0.5], atol=0.03)
    rows = weights.float().reshape(1, 4).repeat(3, 1).multinomial(2)
    assert rows.shape == (3, 2)
    for row in host(rows):
        assert len(set(row)) == 2 and 1 not in row  # without replacement: distinct, and never p = 0 while others remain
    firsts = np.bincount(host(td.multinomial(weights.reshape(1, 4).repeat(4000, 1), 1)).reshape(-1), minlength=4) / 4000
    np.testing.assert_allclose(firsts, [0.125, 0.0, 0.375, 0.5], atol=0.03)


def test_multinomial_is_seeded_and_takes_a_generator(device):
    p = const(np.array([0.2, 0.3, 0.5]), device)
    td.manual_seed(3)
    first = host(p.multinomial(10, replacement=True))
    td.manual_seed(3)
    assert host(p.multinomial(10, replacement=True)).tolist() == first.tolist()
    a = host(td.multinomial(p, 10, True, generator=td.Generator().manual_seed(1)))
    b = host(td.multinomial(p, 10, True, generator=td.Generator().manual_seed(1)))
    assert a.tolist() == b.tolist()


def test_multinomial_without_replacement_runs_out_of_positive_categories_as_pytorch(device):
    draws = host(td.multinomial(const(np.array([1.0, 0.0, 0.0]), device), 2))
    assert draws[0] == 0 and draws[1] in (1, 2)  # PyTorch: [0, 1]


@pytest.mark.parametrize("args, error, message", [
    ((np.array([1.0, 2.0]), 3), ValueError, "cannot draw 3 samples without replacement from 2 categories"),
    ((np.array([1.0, 2.0]), 0), ValueError, "num_samples must be positive"),
    ((np.ones((2, 2, 2)), 1), ValueError, "1-d or 2-d"),
    ((np.array([1, 2]), 1), TypeError, "floating point"),
    ((np.array([1.0, -1.0]), 1), ValueError, "inf, nan or an element < 0"),
    ((np.array([1.0, np.nan]), 1), ValueError, "inf, nan or an element < 0"),
    ((np.array([1.0, np.inf]), 1), ValueError, "inf, nan or an element < 0"),
    ((np.array([0.0, 0.0]), 1), ValueError, "sum to 0"),
])
def test_multinomial_errors(device, args, error, message):
    values, num_samples = args
    with pytest.raises(error, match=message):
        td.multinomial(const(values, device), num_samples).numpy()  # a GPU reports with the next read
    torch = torch_or_skip()
    with pytest.raises(RuntimeError):
        torch.multinomial(torch.tensor(values), num_samples)


# ---- td.grad(only_inputs=) -------------------------------------------------
def test_grad_accepts_only_inputs_as_pytorch(device):
    x = leaf([1.0, 2.0], device)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (g,) = td.grad((x * x).sum(), x, only_inputs=True)
    close(g, [2.0, 4.0])
    with pytest.warns(FutureWarning, match="only_inputs argument is deprecated"):
        (g,) = td.grad((x * x).sum(), [x], None, None, False, False)
    close(g, [2.0, 4.0])


# ---- errors ------------------------------------------------------------------
ERRORS = [
    (lambda: td.mm(td.ones(2, 3), td.ones(4, 5)), ValueError, r"mm: mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"),
    (lambda: td.ones(2, 3, 1).mm(td.ones(1, 5)), ValueError, "mm: both operands must be matrices"),
    (lambda: td.mm(td.ones(2, 3), td.ones(3, 4, dtype=td.float64)), TypeError, "mm: .*same dtype"),
    (lambda: td.bmm(td.ones(2, 3, 4), td.ones(2, 5, 6)), ValueError, r"bmm: .*\[2, 4\], got \[2, 5\]"),
    (lambda: td.bmm(td.ones(2, 3), td.ones(2, 3, 6)), ValueError, "bmm: both operands must be 3-d"),
    (lambda: td.dot(td.ones(3), td.ones(4)), ValueError, "dot: .*same number of elements, got 3 and 4"),
    (lambda: td.dot(td.ones(3, 1), td.ones(3)), ValueError, "dot: 1-d tensors expected"),
    (lambda: td.outer(td.ones(3, 1), td.ones(3)), ValueError, "outer: 1-d tensors expected"),
    (lambda: td.ones(5).split([2, 2]), ValueError, r"split: sizes \[2, 2\] must be >= 0 and sum exactly to 5"),
    (lambda: td.ones(3).split(0), ValueError, "split: split_size must be positive"),
    (lambda: td.ones(3).split(1.5), TypeError, "split: split_size must be an int"),
    (lambda: td.ones(3).chunk(0), ValueError, "chunk: chunks must be greater than 0"),
    (lambda: td.ones(5).narrow(0, 4, 3), ValueError, r"narrow: start \(4\) \+ length \(3\) exceeds dimension size \(5\)"),
    (lambda: td.ones(5).narrow(0, 6, 0), IndexError, "narrow: start 6 is out of range"),
    (lambda: td.ones(5).narrow(2, 0, 1), IndexError, "narrow: dim 2 is out of range"),
    (lambda: td.ones(2, 2, 2).t(), ValueError, r"t: expects a tensor with <= 2 dimensions, but got shape \(2, 2, 2\)"),
    (lambda: td.ones(3).tril(), ValueError, r"tril: input tensor must have at least 2 dimensions, got shape \(3,\)"),
    (lambda: td.ones(3, 3).triu(0.5), TypeError, "triu: diagonal must be an int"),
    (lambda: td.ones(3).masked_fill(td.ones(3), 0.0), TypeError, "masked_fill: mask must be a boolean tensor, got dtype float32"),
    (lambda: td.ones(3).masked_fill(td.ones(2, dtype=td.bool), 0.0), ValueError, r"masked_fill: mask of shape \(2,\) does not broadcast"),
    (lambda: td.ones(3).masked_fill(td.ones(3, dtype=td.bool), td.ones(2)), ValueError, "masked_fill: value must be a number or a 0-d tensor"),
    (lambda: td.ones(3).masked_fill(td.ones(3, dtype=td.bool), "a"), TypeError, "masked_fill: value must be a number"),
    (lambda: td.ones(3).topk(4), ValueError, r"topk: k \(4\) is out of range for dim -1 of size 3"),
    (lambda: td.ones(3).topk(1.0), TypeError, "topk: k must be an int"),
    (lambda: td.ones(3).gather(0, td.tensor([3])), IndexError, "gather: index 3 is out of bounds for dimension 0 with size 3"),
    (lambda: td.ones(3).gather(0, td.tensor([-1])), IndexError, "gather: index -1 is out of bounds"),
    (lambda: td.ones(3).gather(0, td.tensor([1.0])), TypeError, "gather: index must be an integer tensor"),
    (lambda: td.ones(3, 2).gather(0, td.tensor([1])), ValueError, "gather: index must have as many dims as the input"),
    (lambda: td.ones(3, 2).gather(0, td.tensor([[1, 1, 1]])), ValueError, "gather: index shape .* is larger than input"),
    (lambda: td.ones(3).index_select(0, td.tensor([[1]])), ValueError, "index_select: index must be a vector"),
    (lambda: td.ones(3).index_select(0, td.tensor([5])), IndexError, "index_select: index 5 is out of bounds"),
    (lambda: td.ones(3).norm(p="nuc"), ValueError, "norm: p='nuc' is not supported"),
    (lambda: td.ones(3).norm(p=-2), ValueError, "norm: p=-2 is not supported"),
    (lambda: td.tensor([3, 4]).norm(), TypeError, "norm: expected a floating-point tensor, got dtype int64"),
    (lambda: td.ones(3).flip(0, 0), ValueError, "flip: dims .* more than once"),
    (lambda: td.ones(3).roll((1, 2), 0), ValueError, "roll: shifts .* and dims .* must have the same length"),
    (lambda: td.ones(3).round(decimals=1.5), TypeError, "round: decimals must be an int"),
    (lambda: td.ones(3).view_as([1, 2, 3]), TypeError, "view_as: other must be a Tensor, not list"),
    (lambda: td.ones(3).cumsum(1), IndexError, "cumsum: dim 1 is out of range"),
    (lambda: td.multinomial(td.ones(3), 1, generator=1), TypeError, "multinomial: generator must be a td.Generator"),
    (lambda: td.einsum("...ij->ij", td.ones(2, 2)), ValueError, r"einsum: '\.\.\.' is not supported"),
    (lambda: td.einsum("ii->i", td.ones(2, 2)), ValueError, "einsum: subscripts 'ii' must be distinct letters"),
    (lambda: td.einsum("ij,jk", td.ones(2, 3)), ValueError, "einsum: the equation 'ij,jk' names 2 operands, got 1"),
    (lambda: td.einsum("ij,jk", td.ones(2, 3), td.ones(4, 2)), ValueError, "einsum: letter 'j' has size 3 in one operand and 4"),
    (lambda: td.einsum("ij->k", td.ones(2, 3)), ValueError, "einsum: the output 'k' must be distinct letters"),
    (lambda: td.einsum("ijk->i", td.ones(2, 3)), ValueError, r"einsum: subscripts 'ijk' name 3 dims, but the operand has shape \(2, 3\)"),
    (lambda: td.einsum("ij->i", [[1.0]]), TypeError, "einsum: operand 0 must be a Tensor, not list"),
    (lambda: td.einsum("ij->i"), ValueError, "einsum: the equation 'ij->i' needs at least one operand"),
]


@pytest.mark.parametrize("case", range(len(ERRORS)))
def test_wrong_arguments_name_the_op(case):
    fn, error, message = ERRORS[case]
    with pytest.raises(error, match=message):
        fn()


@pytest.mark.parametrize("call, message", [
    (lambda: td.mm(None, td.ones(2, 2)), "mm: x must be a Tensor, not NoneType"),
    (lambda: td.mm(td.ones(2, 2), [[1.0]]), "mm: mat2 must be a Tensor, not list"),
    (lambda: td.gather(td.ones(2), 0, [0]), "gather: index must be a Tensor, not list"),
    (lambda: td.masked_fill(td.ones(2), [True, False], 0.0), "masked_fill: mask must be a Tensor, not list"),
    (lambda: td.dot(td.ones(2), None), "dot: tensor must be a Tensor, not NoneType"),
    (lambda: td.outer(td.ones(2), (1.0, 2.0)), "outer: vec2 must be a Tensor, not tuple"),
    (lambda: td.sin([1.0]), "sin: x must be a Tensor, not list"),
    (lambda: td.topk(None, 1), "topk: x must be a Tensor, not NoneType"),
])
def test_none_and_lists_give_a_type_error(call, message):
    with pytest.raises(TypeError, match=message):
        call()
