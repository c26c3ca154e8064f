"""WGAN-GP's gradient penalty against PyTorch: the parameter gradients of a penalty that is itself
a function of a gradient (double backward through conv, leaky ReLU and the critic's head), and one AdamW
step after it."""
import numpy as np
import pytest

import tinydl as td
from tinydl import optim
from tinydl.models import Discriminator, Generator, gradient_penalty

torch = pytest.importorskip("torch")


def torch_critic(width):
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, width, 4, 2, 1), torch.nn.LeakyReLU(0.2),
        torch.nn.Conv2d(width, 2 * width, 4, 2, 1, bias=True), torch.nn.Identity(), torch.nn.LeakyReLU(0.2),
        torch.nn.Conv2d(2 * width, 1, 4, 1, 0),
    ).double()


def penalties(width):
    """The same critic in both libraries, and WGAN-GP's penalty through each."""
    td.manual_seed(0)
    ours = Discriminator(width, norm=None).double()
    reference = torch_critic(width)
    reference.load_state_dict({k.replace("net.", ""): torch.tensor(v) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(0)
    real, fake = rng.standard_normal((3, 1, 16, 16)), rng.standard_normal((3, 1, 16, 16))
    epsilon = rng.uniform(size=(3, 1, 1, 1))

    penalty = gradient_penalty(ours, td.tensor(real), td.tensor(fake), td.tensor(epsilon))
    x_hat = torch.tensor(epsilon * real + (1 - epsilon) * fake, requires_grad=True)
    (g,) = torch.autograd.grad(reference(x_hat).sum(), x_hat, create_graph=True)
    penalty_ref = ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()
    return ours, reference, penalty, penalty_ref


def test_gradient_penalty_parameter_gradients_match_pytorch(kernels):
    ours, reference, penalty, penalty_ref = penalties(width=4)
    penalty.backward()
    penalty_ref.backward()

    np.testing.assert_allclose(penalty.item(), penalty_ref.item(), rtol=1e-12)
    mine = dict(ours.named_parameters())
    # A parameter that cannot change dD/dx has gradient zero.  Both libraries report it as a tensor of
    # zeros where it is in the penalty's graph (the biases in front of a leaky ReLU, whose slope is
    # piecewise constant: MaskedGrad) and as None where it is not (the output bias).
    for name, p in reference.named_parameters():
        ours_grad = mine["net." + name].grad
        assert (ours_grad is None) == (p.grad is None), f"{name}: tinydl {ours_grad}, PyTorch {p.grad}"
        if p.grad is not None:
            np.testing.assert_allclose(ours_grad.numpy(), p.grad.numpy(), rtol=1e-8, atol=1e-12, err_msg=name)
    assert all(mine[f"net.{i}.weight"].grad is not None for i in (0, 2, 5))
    for name in ("net.0.bias", "net.2.bias"):  # in front of a leaky ReLU: zeros, not None
        assert mine[name].grad is not None and not np.any(mine[name].grad.numpy())
    assert mine["net.5.bias"].grad is None


def test_adamw_step_after_the_penalty_matches_pytorch(kernels):
    """AdamW decays every parameter that has a gradient, zeros included, and skips those with None:
    with a bias's .grad None instead of zeros, the two libraries' critics would drift apart."""
    ours, reference, penalty, penalty_ref = penalties(width=4)
    penalty.backward()
    penalty_ref.backward()
    before = {name: p.detach().numpy().copy() for name, p in ours.named_parameters()}
    optim.AdamW(ours.parameters(), lr=0.1, weight_decay=0.5).step()
    torch.optim.AdamW(reference.parameters(), lr=0.1, weight_decay=0.5).step()
    mine = dict(ours.named_parameters())
    for name, p in reference.named_parameters():
        np.testing.assert_allclose(mine["net." + name].detach().numpy(), p.detach().numpy(),
                                   rtol=1e-8, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(mine["net.0.bias"].detach().numpy(), (1 - 0.1 * 0.5) * before["net.0.bias"],
                               rtol=1e-12, atol=1e-15)  # decayed, though its gradient is zero
    np.testing.assert_array_equal(mine["net.5.bias"].detach().numpy(), before["net.5.bias"])  # no gradient


def test_critic_second_derivatives_gradgradcheck():
    """The penalty needs d/dW of d critic / dx: check the second derivatives numerically too."""
    td.manual_seed(1)
    critic = Discriminator(2, norm=None).double()
    x = td.tensor(np.random.default_rng(1).standard_normal((1, 1, 16, 16)), requires_grad=True)
    weight = critic.net[2].weight

    def critic_output(x, w):
        conv = critic.net[2]
        conv._parameters["weight"] = w  # the Tensor itself, so that the graph reaches w
        try:
            return critic(x)
        finally:
            conv._parameters["weight"] = weight

    w = td.tensor(weight.data.copy(), requires_grad=True)
    assert td.gradgradcheck(critic_output, [x, w])


def test_generator_output_shape_and_range():
    g = Generator(latent_dim=8, width=4)
    out = g(td.randn(5, 8))
    assert out.shape == (5, 1, 16, 16) and float(np.abs(out.detach().numpy()).max()) <= 1.0
