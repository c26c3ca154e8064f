"""WGAN-GP's gradient penalty against PyTorch: the parameter gradients of a penalty that is itself
a function of a gradient (double backward through conv, leaky ReLU and the critic's head)."""
import numpy as np
import pytest

import tinydl as td
from tinydl.models import Discriminator, Generator, gradient_penalty

torch = pytest.importorskip("torch")


def torch_critic(width):
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, width, 4, 2, 1), torch.nn.LeakyReLU(0.2),
        torch.nn.Conv2d(width, 2 * width, 4, 2, 1, bias=True), torch.nn.Identity(), torch.nn.LeakyReLU(0.2),
        torch.nn.Conv2d(2 * width, 1, 4, 1, 0),
    ).double()


def test_gradient_penalty_parameter_gradients_match_pytorch():
    width = 4
    td.manual_seed(0)
    ours = Discriminator(width, norm=None).double()
    reference = torch_critic(width)
    reference.load_state_dict({k.replace("net.", ""): torch.tensor(v) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(0)
    real, fake = rng.standard_normal((3, 1, 16, 16)), rng.standard_normal((3, 1, 16, 16))
    epsilon = rng.uniform(size=(3, 1, 1, 1))

    penalty = gradient_penalty(ours, td.tensor(real), td.tensor(fake), td.tensor(epsilon))
    penalty.backward()

    x_hat = torch.tensor(epsilon * real + (1 - epsilon) * fake, requires_grad=True)
    (g,) = torch.autograd.grad(reference(x_hat).sum(), x_hat, create_graph=True)
    penalty_ref = ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()
    penalty_ref.backward()

    np.testing.assert_allclose(penalty.item(), penalty_ref.item(), rtol=1e-12)
    mine = dict(ours.named_parameters())
    # A parameter that cannot change dD/dx has gradient zero; a library may report that as None
    # (tinydl for the first bias, which reaches dD/dx only through leaky ReLU's piecewise-constant
    # slope; both for the output bias) or as a tensor of zeros (PyTorch for the first bias).
    def as_array(grad, like):
        return np.zeros(like.shape) if grad is None else np.asarray(grad)

    for name, p in reference.named_parameters():
        ours_grad = mine["net." + name].grad
        theirs = as_array(None if p.grad is None else p.grad.numpy(), p)
        np.testing.assert_allclose(as_array(None if ours_grad is None else ours_grad.numpy(), p), theirs,
                                   rtol=1e-8, atol=1e-12, err_msg=name)
    assert all(mine[f"net.{i}.weight"].grad is not None for i in (0, 2, 5))


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
