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


ENTRY = re.compile(
    r"the Jacobian entry d output (?P<output>\d+)(?P<output_index>\[[\d, ]*\]) / "
    r"d input (?P<input>\d+)(?P<input_index>\[[\d, ]*\])"
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


# ---- the report is one Jacobian entry, in numbers a learner can check by hand --------------------
def entry(error):
    match = ENTRY.search(str(error))
    assert match, f"no Jacobian entry in the GradcheckError message: {error}"
    return match


def test_the_report_of_a_detached_factor_is_the_jacobian_entry_itself():
    """f(x) = sum(x * x.detach()): the backward sees only one factor, so d f / d x_i is x_i analytically
    and 2 x_i numerically; the worst entry is the largest x_i, 3.25 against 6.5, not u times them."""
    x = leaf([1.5, -2.0, 3.25])
    with pytest.raises(td.GradcheckError) as info:
        td.gradcheck(lambda t: (t * t.detach()).sum(), [x])
    report, where = parse(info.value), entry(info.value)
    assert report["input"] == "0" and report["index"] == "(2,)"
    assert float(report["analytic"]) == 3.25
    assert float(report["numeric"]) == pytest.approx(6.5, abs=1e-6)
    assert (where["output"], where["output_index"], where["input"], where["input_index"]) == ("0", "[]", "0", "[2]")


class TwoOutputsOneWrongEntry(td.Function):
    """y0 = 2 x (x of shape (R, C)), y1 = sum over rows of x (shape (C,)); the backward gets exactly one
    Jacobian entry wrong: d y1[c] / d x[r, c] is 5 instead of 1 at the chosen (r, c)."""

    def __init__(self, r, c):
        self.r, self.c = r, c

    def forward(self, x):
        return 2 * x, x.sum(axis=0)

    def backward(self, g0, g1):
        factor = np.ones(self.inputs[0].shape)
        factor[self.r, self.c] = 5.0
        return 2 * g0 + g1.reshape(1, -1) * td.tensor(factor, device=g1.device)


@given(data=st.data())
def test_the_report_names_output_input_and_both_indices_of_a_multi_output_function(device, data):
    rows, columns = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    r, c = data.draw(st.integers(0, rows - 1)), data.draw(st.integers(0, columns - 1))
    x = leaf(data.draw(smooth_arrays((rows, columns))), device)
    w = leaf(data.draw(smooth_arrays((2,))), device)  # a second input whose gradient is right

    def fn(x, w):
        y0, y1 = TwoOutputsOneWrongEntry(r, c)(x)
        return y0 * w[0], y1, td.tensor(np.arange(3), device=device)  # an integer output is ignored

    with pytest.raises(td.GradcheckError) as info:
        td.gradcheck(fn, (x, w))
    report, where = parse(info.value), entry(info.value)
    assert report["input"] == "0" and ast.literal_eval(report["index"]) == (r, c)
    assert float(report["analytic"]) == pytest.approx(5.0, rel=1e-12)
    assert float(report["numeric"]) == pytest.approx(1.0, abs=1e-6)
    assert where["output"] == "1" and ast.literal_eval(where["output_index"]) == [c]
    assert where["input"] == "0" and ast.literal_eval(where["input_index"]) == [r, c]
    assert "(output 1 has shape (" + str(columns) + ",))" in str(info.value)


def test_gradgradcheck_reports_the_entry_of_the_first_derivatives_jacobian(device):
    """CubeDetachedBackward's first derivative v 3 x^2 is right, its own derivative for x is 0 instead of
    6 x v: the entry is d (gradient for x)[i] / d x[i] on the diagonal, numeric 6 x_i v_i."""
    x = leaf([0.5, -1.5, 2.0], device)
    v = leaf([1.0, 1.0, 1.0], device)
    with pytest.raises(td.GradcheckError) as info:
        td.gradgradcheck(lambda t: CubeDetachedBackward()(t), (x,), grad_outputs=[v])
    report, where = parse(info.value), entry(info.value)
    i = ast.literal_eval(report["index"])
    assert report["input"] == "0" and i == (2,)  # the largest |6 x_i|
    assert float(report["analytic"]) == 0 and float(report["numeric"]) == pytest.approx(12.0, abs=1e-5)
    assert (where["output"], where["output_index"], where["input_index"]) == ("0", "[2]", "[2]")
    assert "input 1 is the cotangent v for fn's output 0" in str(info.value)


def test_small_errors_that_add_up_over_many_outputs_are_reported_as_a_projection():
    """Each Jacobian entry is off by 0.9 atol (within tolerance), but u^T J sums 10,000 of them."""

    class SlightlyOff(td.Function):
        def forward(self, x):
            return np.zeros(10_000) * x  # J = 0

        def backward(self, gy):
            return gy.sum().reshape(1) * 0.9e-5  # every entry 0.9e-5

    x = leaf([1.0])
    with pytest.raises(td.GradcheckError, match="no single Jacobian entry is off by more than .* add up") as info:
        td.gradcheck(lambda t: SlightlyOff()(t), (x,))
    assert parse(info.value)["index"] == "(0,)"


def test_an_output_that_is_the_input_itself_gets_its_jacobian_right():
    """Finite differences perturb x's memory in place: an output that *is* x must be read at once,
    or its numeric Jacobian comes out 0 instead of the identity (and would be the 'worst' entry here)."""
    x = leaf([0.25, -0.5, 0.75])
    with pytest.raises(td.GradcheckError) as info:
        td.gradcheck(lambda t: (t, SquareForgetsTheTwo()(t)), (x,))
    where = entry(info.value)
    assert where["output"] == "1" and where["output_index"] == where["input_index"] == "[2]"
    assert float(parse(info.value)["numeric"]) == pytest.approx(1.5, abs=1e-6)
