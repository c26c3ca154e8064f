"""F.gradient_reversal / nn.GradientReversal and F.mmd_loss / nn.MMDLoss (issue 18).

The reversal layer's backward is deliberately NOT the derivative of its forward (identity forward,
-alpha * gradient backward), so it cannot be gradchecked against finite differences of itself. What
is checked: the gradient through it is exactly -alpha times the gradient of the same function
without it (whose own gradient is gradchecked), and its backward, a differentiable Tensor op, has
correct derivatives itself (gradgradcheck). MMD^2 is compared with a hand computation and a
loop-by-loop reference, and gradchecked in float64 in both arguments."""
import math

import numpy as np
import pytest

import tinydl as td
import tinydl.functional as F
import tinydl.nn as nn
from helpers import host, leaf


def head(z):
    """A smooth, non-linear function after the reversal layer (a stand-in for the domain classifier)."""
    return (F.tanh(z) * F.tanh(z * 0.5 + 1.0)).sum()


@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0, 2.5])
def test_gradient_reversal_is_identity_forward_and_minus_alpha_backward(device, alpha):
    rng = np.random.default_rng(0)
    x = leaf(rng.normal(size=(3, 4)), device)
    y = F.gradient_reversal(x, alpha)
    np.testing.assert_array_equal(host(y), host(x))
    (g_reversed,) = td.grad(head(F.gradient_reversal(x * x, alpha)), [x])
    (g_plain,) = td.grad(head(x * x), [x])
    np.testing.assert_allclose(host(g_reversed), -alpha * host(g_plain), rtol=1e-12, atol=1e-12)
    assert td.gradcheck(lambda t: head(t * t), (leaf(rng.normal(size=(3, 4)), device),))  # the plain gradient itself


def test_gradient_reversal_output_does_not_alias_its_input():
    x = td.tensor(np.ones((2, 2)))
    y = F.gradient_reversal(x)
    y.data[0, 0] = 5.0
    assert host(x)[0, 0] == 1.0


@pytest.mark.parametrize("alpha", [0.4, 1.0])
def test_gradient_reversal_double_backward(device, alpha):
    rng = np.random.default_rng(1)
    x = leaf(rng.normal(size=(2, 3)), device)
    # after the layer only linear ops: a non-linear op there would feed R's output VALUE into the first
    # derivative, and differentiating that value again goes through R's (deliberately false) derivative
    assert td.gradgradcheck(lambda t: F.gradient_reversal(F.tanh(t) * t, alpha) * 1.5, (x,))
    # the second derivative is reversed too: d/dx of (-alpha * 2x) for head = sum(R(x * x))
    x = leaf(rng.normal(size=(4,)), device)
    (g,) = td.grad(F.gradient_reversal(x * x, alpha).sum(), [x], create_graph=True)
    (gg,) = td.grad(g.sum(), [x])
    np.testing.assert_allclose(host(gg), np.full(4, -2.0 * alpha), rtol=1e-12, atol=1e-12)


def test_gradient_reversal_module_follows_its_alpha():
    layer = nn.GradientReversal(alpha=0.0)
    x = td.tensor(np.ones(3), requires_grad=True)
    layer.alpha = 0.25  # a schedule sets it between steps
    (layer(x) * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(3, -0.5), rtol=1e-12, atol=0)
    assert "alpha=0.25" in repr(layer)
    assert list(layer.parameters()) == []


@pytest.mark.parametrize("alpha", [-1.0, "1", None, True])
def test_gradient_reversal_refuses_a_bad_alpha(alpha):
    with pytest.raises(ValueError, match=r"gradient_reversal: alpha must be a number >= 0.*\(2, 3\)"):
        F.gradient_reversal(td.tensor(np.zeros((2, 3))), alpha)


def test_mmd_matches_a_hand_computation():
    """x = {0, 1}, y = {2} in one dimension. With k(a, b) = exp(-(a - b)^2 / (2 sigma^2)):
    1/4 (2 + 2 k(0, 1)) + 1 - 2/2 (k(0, 2) + k(1, 2)) = 1.5 - 0.5 e^(-1/(2 s^2)) - e^(-4/(2 s^2))
    (k(1, 2) = k(0, 1) = e^(-1/(2 s^2)), k(0, 2) = e^(-4/(2 s^2)))."""
    x, y = td.tensor(np.array([[0.0], [1.0]])), td.tensor(np.array([[2.0]]))  # float64

    def by_hand(s):
        return 1.5 - 0.5 * math.exp(-1 / (2 * s * s)) - math.exp(-4 / (2 * s * s))

    assert F.mmd_loss(x, y, bandwidths=(1.0,)).item() == pytest.approx(by_hand(1.0), rel=1e-12, abs=1e-12)
    assert F.mmd_loss(x, y, bandwidths=(1.0, 2.0)).item() == pytest.approx(
        (by_hand(1.0) + by_hand(2.0)) / 2, rel=1e-12, abs=1e-12)  # the mean of the kernels


def reference_mmd(x, y, bandwidths):
    """MMD^2 with a loop over every pair, straight from the V-statistic's definition."""
    def k(a, b):
        return np.mean([np.exp(-np.sum((a - b) ** 2) / (2 * s * s)) for s in bandwidths])

    n, m = len(x), len(y)
    xx = sum(k(a, b) for a in x for b in x) / n**2
    yy = sum(k(a, b) for a in y for b in y) / m**2
    xy = sum(k(a, b) for a in x for b in y) / (n * m)
    return xx + yy - 2 * xy


def test_mmd_matches_the_pairwise_definition(device):
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(7, 3)) + 0.5
    got = F.mmd_loss(td.tensor(x, device=device), td.tensor(y, device=device), bandwidths=(0.5, 1.0, 3.0)).item()
    assert got == pytest.approx(reference_mmd(x, y, (0.5, 1.0, 3.0)), rel=1e-10, abs=1e-12)


def test_mmd_is_zero_for_identical_sets_and_grows_with_a_shift():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 4))
    assert abs(F.mmd_loss(td.tensor(x), td.tensor(x.copy())).item()) < 1e-12
    values = [F.mmd_loss(td.tensor(x), td.tensor(x + shift)).item() for shift in (0.0, 0.5, 1.0, 2.0)]
    assert values[1] > 1e-3 and all(a < b for a, b in zip(values, values[1:]))


def test_mmd_gradcheck_in_both_arguments(device):
    rng = np.random.default_rng(4)
    x, y = leaf(rng.normal(size=(4, 3)), device), leaf(rng.normal(size=(5, 3)) + 0.3, device)
    assert td.gradcheck(lambda a, b: F.mmd_loss(a, b, bandwidths=(0.7, 2.0)), (x, y))
    assert td.gradgradcheck(lambda a, b: F.mmd_loss(a, b, bandwidths=(1.5,)), (x, y))


def test_mmd_module():
    rng = np.random.default_rng(5)
    x, y = td.tensor(rng.normal(size=(6, 2))), td.tensor(rng.normal(size=(3, 2)))
    loss = nn.MMDLoss(bandwidths=(1.0, 4.0))
    assert loss(x, y).item() == pytest.approx(F.mmd_loss(x, y, bandwidths=(1.0, 4.0)).item(), rel=1e-12)
    assert "bandwidths=(1.0, 4.0)" in repr(loss)


@pytest.mark.parametrize("x_shape, y_shape, message", [
    ((4, 3), (5, 2), r"mmd_loss: .*same D, got x \(4, 3\) and y \(5, 2\)"),
    ((4, 3, 1), (5, 3), r"mmd_loss: .*\(N, D\) and \(M, D\).*got x \(4, 3, 1\) and y \(5, 3\)"),
    ((0, 3), (5, 3), r"mmd_loss: x and y need at least one row each, got x \(0, 3\)"),
])
def test_mmd_shape_errors_name_the_op_and_shapes(x_shape, y_shape, message):
    with pytest.raises(ValueError, match=message):
        F.mmd_loss(td.tensor(np.zeros(x_shape)), td.tensor(np.zeros(y_shape)))


@pytest.mark.parametrize("bandwidths", [(), (1.0, 0.0), (-2.0,), "wide"])
def test_mmd_refuses_bad_bandwidths(bandwidths):
    with pytest.raises(ValueError, match="mmd_loss: bandwidths must be"):
        F.mmd_loss(td.tensor(np.zeros((2, 2))), td.tensor(np.ones((2, 2))), bandwidths=bandwidths)


def test_mmd_refuses_a_non_tensor_y():
    with pytest.raises(TypeError, match="mmd_loss: y must be a Tensor, got ndarray"):
        F.mmd_loss(td.tensor(np.zeros((2, 2))), np.zeros((2, 2)))
