"""gradcheck must catch a wrong backward, and say where: which input, which
element, the analytic and the numeric value.  A checker that passes everything
would make every other gradient test in this directory worthless."""
import ast
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinydl as td
from strategies import positive_arrays, shapes, smooth_arrays
from helpers import leaf

REPORT = re.compile(
    r"the gradient for input (?P<input>\d+) \(shape (?P<shape>\([\d, ]*\))\) disagrees with finite differences "
    r"at index (?P<index>\([\d, ]*\)): analytic (?P<analytic>\S+), numeric (?P<numeric>\S+)"
)


def parse(error):
    match = REPORT.search(str(error))
    assert match, f"unexpected GradcheckError message: {error}"
    return match


class SquareForgetsTheTwo(td.Function):
    """y = x^2 with the backward missing its factor 2: every element is off by half."""

    def forward(self, x):
        return x * x

    def backward(self, gy):
        return gy * self.inputs[0]


class MulWrongForSecond(td.Function):
    """y = a * b; the gradient for a is right, the one for b is a instead of gy * a."""

    def forward(self, a, b):
        return a * b

    def backward(self, gy):
        a, b = self.inputs
        return gy * b, a


class OneWrongElement(td.Function):
    """y = 3 x, except that the backward doubles the gradient of one chosen element."""

    def __init__(self, flat_index):
        self.flat_index = flat_index

    def forward(self, x):
        return 3 * x

    def backward(self, gy):
        factor = np.full(self.inputs[0].shape, 3.0)
        factor.reshape(-1)[self.flat_index] = 6.0
        return gy * td.tensor(factor, device=gy.device)


class CubeDetachedBackward(td.Function):
    """y = x^3 with a right first derivative built from raw arrays (a constant for
    the graph): gradcheck passes, but its second derivative is silently 0."""

    def forward(self, x):
        return x**3

    def backward(self, gy):
        x = self.inputs[0]
        return gy * td.Tensor(3 * x.data**2)


class ScaledTanh(td.Function):
    """y = s * tanh(x), a correct two-input op whose backward uses Tensor ops
    (so it is itself differentiable)."""

    def forward(self, x, s):
        return s * td.backend.get_array_module(x).tanh(x)

    def backward(self, gy):
        x, s = self.inputs
        t = td.functional.tanh(x)
        gs = gy * t
        return gy * s * (1 - t * t), (gs.sum() if s.ndim == 0 else gs)


@given(data=st.data())
def test_wrong_backward_is_caught_with_input_index_and_both_values(device, data):
    x = data.draw(positive_arrays(data.draw(shapes())))
    with pytest.raises(td.GradcheckError) as info:
        td.gradcheck(lambda t: SquareForgetsTheTwo()(t).sum(), (leaf(x, device),))
    report = parse(info.value)
    assert report["input"] == "0" and report["shape"] == str(x.shape)
    index = ast.literal_eval(report["index"])
    assert len(index) == x.ndim and all(0 <= i < n for i, n in zip(index, x.shape))
    # the worst element is where c x_i, off by half, is largest (up to finite-difference noise between near-ties)
    assert x[index] == pytest.approx(x.max(), abs=1e-6)
    analytic, numeric = float(report["analytic"]), float(report["numeric"])
    assert numeric == pytest.approx(2 * analytic, rel=1e-4)  # the true derivative is twice the wrong one


@given(data=st.data())
def test_the_report_names_the_input_with_the_wrong_gradient(device, data):
    shape = data.draw(shapes(min_dims=1))
    a, b = leaf(data.draw(positive_arrays(shape)), device), leaf(data.draw(smooth_arrays(shape)), device)
    with pytest.raises(td.GradcheckError) as info:
        td.gradcheck(lambda x, y: MulWrongForSecond()(x, y), (a, b))
    assert parse(info.value)["input"] == "1"
    assert td.gradcheck(lambda x, y: MulWrongForSecond()(x, y), (a, b.detach()))  # input 0's gradient alone is right


@given(data=st.data())
def test_the_report_points_at_the_wrong_element(device, data):
    shape = data.draw(shapes(min_dims=1))
    flat_index = data.draw(st.integers(0, int(np.prod(shape)) - 1))
    x = leaf(data.draw(smooth_arrays(shape)), device)
    with pytest.raises(td.GradcheckError) as info:
        td.gradcheck(lambda t: OneWrongElement(flat_index)(t).sum(), (x,))
    report = parse(info.value)
    assert ast.literal_eval(report["index"]) == np.unravel_index(flat_index, shape)
    assert float(report["analytic"]) == pytest.approx(2 * float(report["numeric"]), rel=1e-6)  # 6c against 3c


def test_a_missing_gradient_is_caught(device):
    """A backward that returns None for an input the output depends on is wrong, not exempt."""

    class ForgetsB(MulWrongForSecond):
        def backward(self, gy):
            return gy * self.inputs[1], None

    a, b = leaf([1.0, 2.0], device), leaf([3.0, 4.0], device)
    with pytest.raises(td.GradcheckError) as info:
        td.gradcheck(lambda x, y: ForgetsB()(x, y), (a, b))
    report = parse(info.value)
    assert report["input"] == "1" and float(report["analytic"]) == 0


def test_gradgradcheck_catches_a_backward_that_is_not_differentiable(device):
    x = leaf([0.5, -1.5, 2.0], device)
    assert td.gradcheck(lambda t: CubeDetachedBackward()(t), (x,))  # first derivatives are right
    with pytest.raises(td.GradcheckError) as info:
        td.gradgradcheck(lambda t: CubeDetachedBackward()(t), (x,))
    assert parse(info.value)["input"] == "0"


@given(data=st.data(), scalar_scale=st.booleans())
def test_a_correct_user_function_passes_gradcheck_and_gradgradcheck(device, data, scalar_scale):
    shape = data.draw(shapes())
    x = leaf(data.draw(smooth_arrays(shape)), device)
    s = leaf(data.draw(smooth_arrays(() if scalar_scale else shape)), device)
    out = ScaledTanh()(x, s)
    np.testing.assert_allclose(out.detach().numpy(), s.detach().numpy() * np.tanh(x.detach().numpy()))
    assert td.gradcheck(lambda a, b: ScaledTanh()(a, b), (x, s))
    assert td.gradgradcheck(lambda a, b: ScaledTanh()(a, b), (x, s))


def test_gradcheck_refuses_float32_inputs(device):
    x = td.tensor(np.ones(3, dtype=np.float32), requires_grad=True, device=device)
    with pytest.raises(ValueError, match=r"input 0 is float32.*float64"):
        td.gradcheck(lambda t: t * t, (x,))
    with pytest.raises(ValueError, match=r"input 0 is float32.*float64"):
        td.gradgradcheck(lambda t: t * t, (x,))


def test_gradcheck_refuses_inputs_that_do_not_require_grad(device):
    with pytest.raises(ValueError, match="no input requires grad"):
        td.gradcheck(lambda t: t * t, (td.tensor(np.ones(3), device=device),))


def test_gradcheck_works_on_non_contiguous_inputs(device):
    """Finite differences perturb the input's own memory, whatever its layout."""
    x = leaf(np.arange(6.0).reshape(2, 3), device)
    x_t = td.Tensor(x.data.T, requires_grad=True)  # a transposed view: not C-contiguous
    assert not x_t.data.flags.c_contiguous
    assert td.gradcheck(lambda t: t * t, (x_t,))
    with pytest.raises(td.GradcheckError):
        td.gradcheck(lambda t: SquareForgetsTheTwo()(t), (x_t,))


def test_gradcheck_fails_where_the_function_is_not_finite(device):
    """A NaN finite difference proves nothing: it must fail, not pass silently."""

    class SqrtWithZeroGradient(td.Function):
        def forward(self, x):
            with np.errstate(invalid="ignore"):
                return x**0.5

        def backward(self, gy):
            return gy * 0

    x = leaf([0.0, 1.0], device)  # sqrt(0 - eps) is NaN
    with pytest.raises(td.GradcheckError) as info:
        td.gradcheck(lambda t: SqrtWithZeroGradient()(t), (x,))
    assert parse(info.value)["index"] == "(0,)"
