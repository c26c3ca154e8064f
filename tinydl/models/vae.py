"""A variational autoencoder (Kingma & Welling 2014) for small images.

Encoder q(z | x) = N(mu(x), diag(sigma(x)^2)); prior p(z) = N(0, I); Bernoulli
decoder p(x | z) with pixel probabilities sigmoid(decoder(z)).  Training
maximizes the evidence lower bound (docs/vae.md, with the same symbols)

    ELBO(x) = E_q[log p(x | z)] - KL(q(z | x) || p(z))  <=  log p(x),

estimating the first term with one sample z = mu + sigma * eps, eps ~ N(0, I)
(the reparameterization trick: the randomness is moved into eps, so z is a
differentiable function of mu and sigma), and the KL term in closed form:

    KL = 1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2).
"""
from .. import functional as F
from .. import nn
from ..creation import randn_like


class VAE(nn.Module):
    """MLP encoder and decoder for images flattened to ``input_dim`` values in [0, 1]."""

    def __init__(self, input_dim=64, hidden=256, latent_dim=2):
        super().__init__()
        self.input_dim, self.latent_dim = input_dim, latent_dim
        self.encoder = nn.Sequential(nn.Linear(input_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.to_mu = nn.Linear(hidden, latent_dim)
        self.to_log_var = nn.Linear(hidden, latent_dim)  # log sigma^2: any real number is a valid variance
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                     nn.Linear(hidden, input_dim))

    def encode(self, x):
        """x (N, input_dim) -> mu, log_var, each (N, latent_dim)."""
        h = self.encoder(x)
        return self.to_mu(h), self.to_log_var(h)

    def decode(self, z):
        """z (N, latent_dim) -> pixel logits (N, input_dim); probabilities are their sigmoid."""
        return self.decoder(z)

    @staticmethod
    def reparameterize(mu, log_var):
        """z = mu + sigma * eps: a sample of q(z | x) that gradients can flow through."""
        sigma = (0.5 * log_var).exp()
        return mu + sigma * randn_like(mu)

    def forward(self, x):
        mu, log_var = self.encode(x)
        z = self.reparameterize(mu, log_var) if self.training else mu
        return self.decode(z), mu, log_var

    def negative_elbo(self, x, sample=True):
        """-ELBO per image in nats, (N,): reconstruction -log p(x | z) plus KL(q || p)."""
        mu, log_var = self.encode(x)
        z = self.reparameterize(mu, log_var) if sample else mu
        logits = self.decode(z)
        reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)
        kl = 0.5 * (mu * mu + log_var.exp() - 1 - log_var).sum(1)
        return reconstruction + kl, reconstruction, kl
