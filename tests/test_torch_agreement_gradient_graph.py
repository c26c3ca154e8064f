"""The gradient's graph against PyTorch: which tensors a first derivative (create_graph=True) still
depends on.  Where an op's local derivative is a mask (relu, leaky_relu, abs), PyTorch keeps the
op's input in that graph with a zero second derivative (threshold_backward(grad, x)); where it
builds the mask apart (clamp, maximum, max), it does not.  tinydl must agree on both, because
what is in the graph decides whether td.grad raises "input was not used" and whether a parameter's
.grad is zeros or None, and so what AdamW does to it (MaskedGrad, docs/autograd.md section 4).
"""
import numpy as np
import pytest

import tinydl as td
import tinydl.functional as F
import tinydl.nn as nn
from tinydl.functional.elementwise import masked_grad

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RTOL, ATOL = 1e-8, 1e-12


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


X, B = randn(3, 4), randn(3, 4, seed=1)
X_ZERO = np.array([[-1.5, 0.0, 0.25], [2.0, -0.0, -0.75]])  # relu, abs at their kink

OPS = [
    pytest.param(F.relu, TF.relu, X, id="relu"),
    pytest.param(F.relu, TF.relu, X_ZERO, id="relu-zero"),
    pytest.param(lambda a: a.relu(), torch.relu, X, id="relu-method"),
    pytest.param(lambda a: F.leaky_relu(a, 0.2), lambda a: TF.leaky_relu(a, 0.2), X, id="leaky_relu"),
    pytest.param(lambda a: nn.LeakyReLU(0.1)(a), torch.nn.LeakyReLU(0.1), X_ZERO, id="leaky_relu-module-zero"),
    pytest.param(lambda a: a.abs(), torch.abs, X, id="abs"),
    pytest.param(lambda a: a.abs(), torch.abs, X_ZERO, id="abs-zero"),
    pytest.param(lambda a: F.l1_loss(a, td.tensor(B), reduction="none"),
                 lambda a: TF.l1_loss(a, torch.tensor(B), reduction="none"), X, id="l1_loss"),
    pytest.param(lambda a: F.smooth_l1_loss(a, td.tensor(B), reduction="none", beta=0.8),
                 lambda a: TF.smooth_l1_loss(a, torch.tensor(B), reduction="none", beta=0.8), X, id="smooth_l1"),
    pytest.param(lambda a: F.huber_loss(a, td.tensor(B), reduction="none"),
                 lambda a: TF.huber_loss(a, torch.tensor(B), reduction="none"), X, id="huber"),
    # PyTorch builds these masks outside the graph: the first derivative does not depend on x
    pytest.param(lambda a: a.clamp(-0.5, 0.5), lambda a: a.clamp(-0.5, 0.5), X, id="clamp"),
    pytest.param(lambda a: a.clamp(min=0.0), lambda a: a.clamp(min=0.0), X, id="clamp-min"),
    pytest.param(lambda a: td.maximum(a, td.tensor(B)), lambda a: torch.maximum(a, torch.tensor(B)), X, id="maximum"),
    pytest.param(lambda a: td.minimum(a, td.tensor(B)), lambda a: torch.minimum(a, torch.tensor(B)), X, id="minimum"),
    pytest.param(lambda a: a.max(), lambda a: a.max(), X, id="max"),
    pytest.param(lambda a: a.min(1)[0], lambda a: a.min(1)[0], X, id="min-dim"),
    pytest.param(lambda a: a.max((0, 1)), lambda a: a.amax((0, 1)), X, id="amax"),
]


@pytest.mark.parametrize("td_fn, torch_fn, x", OPS)
def test_first_derivative_keeps_the_input_in_its_graph_exactly_where_pytorch_does(td_fn, torch_fn, x):
    x_td, x_t = td.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y_td, y_t = td_fn(x_td), torch_fn(x_t)
    v = randn(*y_t.shape, seed=2)  # a constant cotangent: only x can put the first derivative in a graph
    (g_td,) = td.grad(y_td, x_td, td.tensor(v), create_graph=True)
    (g_t,) = torch.autograd.grad(y_t, x_t, torch.tensor(v), create_graph=True)
    np.testing.assert_allclose(g_td.detach().numpy(), g_t.detach().numpy(), rtol=RTOL, atol=ATOL)
    assert g_td.requires_grad == g_t.requires_grad
    if g_t.requires_grad:
        w = randn(*x.shape, seed=3)
        (gg_td,) = td.grad((g_td * td.tensor(w)).sum(), x_td)  # raised "input was not used" before MaskedGrad
        (gg_t,) = torch.autograd.grad((g_t * torch.tensor(w)).sum(), x_t)
        np.testing.assert_allclose(gg_td.numpy(), gg_t.numpy(force=True), rtol=RTOL, atol=ATOL)  # a ZeroTensor


# ---- the new op itself ------------------------------------------------------------------------
MASKS = {
    "relu": lambda x: (x > 0).astype(x.dtype),
    "leaky": lambda x: np.where(x > 0, 1.0, 0.2),
    "sign": np.sign,
}


@pytest.mark.parametrize("mask", MASKS.values(), ids=MASKS.keys())
def test_masked_grad_gradchecks_and_gradgradchecks(mask):
    x = td.tensor(randn(3, 4), requires_grad=True)
    gy = td.tensor(randn(3, 4, seed=1), requires_grad=True)
    m = mask(x.detach().numpy())

    def op(gy, x):
        return masked_grad(gy, x, m)

    assert td.gradcheck(op, [gy, x])
    assert td.gradgradcheck(op, [gy, x])


@pytest.mark.parametrize("td_fn, torch_fn", [(F.relu, TF.relu), (lambda a: a.abs(), torch.abs)], ids=["relu", "abs"])
def test_the_gradient_for_the_cotangent_keeps_the_input_too(td_fn, torch_fn):
    """Third order: d/dv of (v * mask) is again masked, and x stays in that graph as in PyTorch."""
    x, v, w = randn(5), randn(5, seed=1), randn(5, seed=2)
    x_td, v_td = td.tensor(x, requires_grad=True), td.tensor(v, requires_grad=True)
    x_t, v_t = torch.tensor(x, requires_grad=True), torch.tensor(v, requires_grad=True)
    (g_td,) = td.grad(td_fn(x_td), x_td, v_td, create_graph=True)
    (g_t,) = torch.autograd.grad(torch_fn(x_t), x_t, v_t, create_graph=True)
    (gv_td,) = td.grad(g_td, v_td, td.tensor(w), create_graph=True)  # w * mask
    (gv_t,) = torch.autograd.grad(g_t, v_t, torch.tensor(w), create_graph=True)
    np.testing.assert_allclose(gv_td.detach().numpy(), gv_t.detach().numpy(), rtol=RTOL, atol=ATOL)
    assert gv_td.requires_grad and gv_t.requires_grad
    (gx_td,) = td.grad(gv_td.sum(), x_td)
    (gx_t,) = torch.autograd.grad(gv_t.sum(), x_t)
    np.testing.assert_array_equal(gx_td.numpy(), gx_t.numpy(force=True))


def test_masked_grad_computes_no_zeros_nobody_asked_for():
    x = td.tensor(randn(4), requires_grad=False)
    gy = td.tensor(randn(4, seed=1), requires_grad=True)
    m = np.array([1.0, 0.0, 1.0, 0.0])
    gx = masked_grad(gy, x, m)
    assert gx.grad_fn.needs_input_grad == (True, False)
    (ggy,) = td.grad(gx, gy, td.tensor(np.ones(4)))
    np.testing.assert_array_equal(ggy.numpy(), m)


# ---- WGAN-GP: td.grad of the penalty w.r.t. the critic's parameters (.grad after backward and AdamW:
# tests/test_torch_agreement_gan.py) ----------------------------------------------------------------
def mlp_critic(activation):
    td.manual_seed(0)
    act = nn.ReLU() if activation == "relu" else nn.LeakyReLU(0.2)
    ours = nn.Sequential(nn.Linear(4, 6), act, nn.Linear(6, 5), act, nn.Linear(5, 1)).double()
    torch_act = torch.nn.ReLU() if activation == "relu" else torch.nn.LeakyReLU(0.2)
    reference = torch.nn.Sequential(
        torch.nn.Linear(4, 6), torch_act, torch.nn.Linear(6, 5), torch_act, torch.nn.Linear(5, 1)
    ).double()
    reference.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    return ours, reference


def penalty_td(critic, x_hat):
    x_hat = td.tensor(x_hat, requires_grad=True)
    (g,) = td.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (((g * g).sum(1).sqrt() - 1) ** 2).mean()


def penalty_torch(critic, x_hat):
    x_hat = torch.tensor(x_hat, requires_grad=True)
    (g,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((g.norm(dim=1) - 1) ** 2).mean()


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_td_grad_of_the_penalty_wrt_the_critic_matches_pytorch(activation):
    ours, reference = mlp_critic(activation)
    x_hat = randn(7, 4, seed=4)
    # The output bias cannot change d critic / dx: PyTorch refuses it too (it is not in the graph).
    names = ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight"]
    mine, theirs = dict(ours.named_parameters()), dict(reference.named_parameters())

    grads = td.grad(penalty_td(ours, x_hat), [mine[n] for n in names])  # raised "input 1 was not used" before
    expected = torch.autograd.grad(penalty_torch(reference, x_hat), [theirs[n] for n in names])
    for name, a, b in zip(names, grads, expected):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=RTOL, atol=ATOL, err_msg=name)
    for name in ("0.bias", "2.bias"):  # reach dD/dx only through the activation's piecewise-constant slope
        assert not np.any(grads[names.index(name)].numpy())

    every = list(theirs)
    unused_td = td.grad(penalty_td(ours, x_hat), [mine[n] for n in every], allow_unused=True)
    unused_t = torch.autograd.grad(penalty_torch(reference, x_hat), [theirs[n] for n in every], allow_unused=True)
    assert [g is None for g in unused_td] == [g is None for g in unused_t] == [n == "4.bias" for n in every]
