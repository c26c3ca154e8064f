"""Complete models in tinydl.models: their losses are right and their gradients check."""
import numpy as np

import tinydl as td
from tinydl import nn
from tinydl.models import VAE


def test_vae_kl_term_is_the_closed_form_gaussian_kl():
    td.manual_seed(0)
    model = VAE(input_dim=6, hidden=8, latent_dim=3).double()
    x = td.tensor(np.random.default_rng(0).uniform(0.05, 0.95, (4, 6)))
    _, _, kl = model.negative_elbo(x)
    mu, log_var = (t.detach().numpy() for t in model.encode(x))
    # Monte Carlo estimate of E_q[log q(z) - log p(z)] with many samples agrees with the closed form
    rng = np.random.default_rng(1)
    sigma = np.exp(0.5 * log_var)
    z = mu + sigma * rng.standard_normal((200_000, *mu.shape))
    log_q = -0.5 * (((z - mu) / sigma) ** 2 + np.log(2 * np.pi) + log_var).sum(-1)
    log_p = -0.5 * (z**2 + np.log(2 * np.pi)).sum(-1)
    np.testing.assert_allclose(kl.detach().numpy(), (log_q - log_p).mean(0), rtol=0.02, atol=0.01)


def test_vae_negative_elbo_gradcheck():
    """With z = mu (no sampling) the loss is a deterministic function of the weights: check its gradient."""
    td.manual_seed(0)
    model = VAE(input_dim=5, hidden=4, latent_dim=2).double()
    x = td.tensor(np.random.default_rng(0).uniform(0.05, 0.95, (3, 5)))
    params = list(model.parameters())
    weights = [td.tensor(p.data.copy(), requires_grad=True) for p in params]
    assert td.gradcheck(lambda *w: _rebind_and_loss(model, params, w, x), weights)


def _rebind_and_loss(model, params, weights, x):
    """Evaluate the loss with the given weight Tensors in place of the parameters (keeps the graph)."""
    saved = {}
    for module in model.modules():
        for name, p in list(module._parameters.items()):
            for i, q in enumerate(params):
                if p is q:
                    saved[(id(module), name)] = (module, name, p)
                    module._parameters[name] = weights[i]
    try:
        return model.negative_elbo(x, sample=False)[0].sum()
    finally:
        for module, name, p in saved.values():
            module._parameters[name] = p


def test_vae_reparameterization_lets_gradients_reach_the_encoder():
    td.manual_seed(0)
    model = VAE(input_dim=6, hidden=8, latent_dim=2)
    model.negative_elbo(td.rand(5, 6))[0].mean().backward()
    assert np.abs(model.to_log_var.weight.grad.numpy()).sum() > 0
    assert np.abs(model.encoder[0].weight.grad.numpy()).sum() > 0


def test_policy_score_function_is_onehot_minus_probabilities():
    """d log pi(a | s) / d logits = onehot(a) - pi(. | s): what REINFORCE's gradient is made of."""
    from tinydl.models import PolicyNetwork

    td.manual_seed(0)
    policy = PolicyNetwork(4, 3, hidden=8).double()
    s = td.tensor(np.random.default_rng(0).standard_normal((1, 4)))
    h = policy.body(s)
    logits = policy.logits(h)
    logits.retain_grad()
    log_probs = td.functional.log_softmax(logits, dim=-1)
    log_probs[0, 2].backward()
    p = np.exp(log_probs.detach().numpy()[0])
    np.testing.assert_allclose(logits.grad.numpy()[0], np.eye(3)[2] - p, rtol=1e-12, atol=1e-14)
    assert policy(s)[1] is None and PolicyNetwork(4, 3, value_head=True).double()(s)[1].shape == (1,)


def test_generator_drawing_at_8x8_outputs_its_drawing_upsampled():
    import pytest

    from tinydl.models import Generator

    g = Generator(latent_dim=8, width=4, draw_at=8)
    z = td.randn(3, 8)
    out = g(z).detach().numpy()
    drawing = g.net(z.reshape(3, 8, 1, 1))  # (3, 1, 8, 8)
    assert out.shape == (3, 1, 16, 16) and drawing.shape == (3, 1, 8, 8) and np.abs(out).max() <= 1.0
    upsampled = td.functional.interpolate(drawing, size=(16, 16), mode="bilinear").detach().numpy()
    np.testing.assert_allclose(out, upsampled, rtol=1e-6, atol=1e-7)  # the same smooth subspace as the data
    with pytest.raises(ValueError, match="draw_at"):
        Generator(draw_at=4)


def test_refining_generator_keeps_the_16x16_generators_depth():
    """refine=True: 4x4 -> 8x8 with width channels -> a stride-1 3x3 layer to the 8x8 image."""
    import pytest

    from tinydl.models import Generator

    g = Generator(latent_dim=8, width=4, draw_at=8, refine=True)
    convs = [m for m in g.net if isinstance(m, nn.ConvTranspose2d)]
    assert [tuple(c.weight.shape) for c in convs] == [(8, 8, 4, 4), (8, 4, 4, 4), (4, 1, 3, 3)]
    assert convs[-1].stride == (1, 1) and convs[-1].padding == (1, 1)
    z = td.randn(3, 8)
    assert g.net(z.reshape(3, 8, 1, 1)).shape == (3, 1, 8, 8) and g(z).shape == (3, 1, 16, 16)
    with pytest.raises(ValueError, match="refine=True needs draw_at=8"):
        Generator(draw_at=16, refine=True)
