"""DCGAN generator and discriminator for 16x16 single-channel images (Radford et al. 2016).

The DCGAN rules: no pooling (the generator upsamples with transposed
convolutions, the discriminator downsamples with strided convolutions),
batch norm in both (except the generator's output and the discriminator's
input layer), ReLU in the generator with tanh at its output, leaky ReLU (0.2)
in the discriminator.  For WGAN-GP the critic takes ``norm=None``: the
gradient penalty is defined per sample, and batch norm would couple the
samples of a batch (docs/gan.md).

Shapes: z (N, latent_dim) -> G -> (N, 1, 16, 16) in [-1, 1] -> D -> (N,) logits.
"""
from .. import nn


class Generator(nn.Module):
    """``draw_at=8`` draws an 8x8 image and upsamples it to 16x16 with a fixed bilinear
    interpolation: for data that are themselves upsampled 8x8 images (scikit-learn's digits),
    the fakes then lie in the same smooth subspace as the real images.

    ``refine=True`` (with ``draw_at=8``) keeps the depth of the 16x16 generator: 4x4 -> 8x8
    with ``width`` channels, then a stride-1 3x3 transposed convolution down to one channel,
    instead of going from 4x4 straight to the 8x8 image."""

    def __init__(self, latent_dim=32, width=64, draw_at=16, refine=False):
        super().__init__()
        if draw_at not in (8, 16):
            raise ValueError(f"Generator: draw_at must be 8 or 16, got {draw_at!r}")
        if refine and draw_at != 8:
            raise ValueError(f"Generator: refine=True needs draw_at=8, got draw_at={draw_at}")
        self.latent_dim, self.draw_at = latent_dim, draw_at
        layers = [
            nn.ConvTranspose2d(latent_dim, 2 * width, 4, 1, 0, bias=False),  # (N, z, 1, 1) -> (N, 2w, 4, 4)
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
        ]
        if draw_at == 16 or refine:
            layers += [nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False),  # -> (N, w, 8, 8)
                       nn.BatchNorm2d(width), nn.ReLU()]
        if draw_at == 16:
            layers += [nn.ConvTranspose2d(width, 1, 4, 2, 1)]  # -> (N, 1, 16, 16)
        elif refine:
            layers += [nn.ConvTranspose2d(width, 1, 3, 1, 1)]  # -> (N, 1, 8, 8)
        else:
            layers += [nn.ConvTranspose2d(2 * width, 1, 4, 2, 1)]  # -> (N, 1, 8, 8)
        self.net = nn.Sequential(*layers, nn.Tanh())
        self.upsample = nn.Upsample(size=(16, 16), mode="bilinear") if draw_at == 8 else nn.Identity()

    def forward(self, z):
        return self.upsample(self.net(z.reshape(z.shape[0], self.latent_dim, 1, 1)))


class Discriminator(nn.Module):
    """``norm='batch'`` (DCGAN) or None (a WGAN-GP critic)."""

    def __init__(self, width=64, norm="batch"):
        super().__init__()
        if norm not in ("batch", None):
            raise ValueError(f"Discriminator: norm must be 'batch' or None, got {norm!r}")
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 4, 2, 1),  # (N, 1, 16, 16) -> (N, w, 8, 8)
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=norm is None),  # -> (N, 2w, 4, 4)
            nn.BatchNorm2d(2 * width) if norm == "batch" else nn.Identity(),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * width, 1, 4, 1, 0),  # -> (N, 1, 1, 1)
        )

    def forward(self, x):
        return self.net(x).reshape(x.shape[0])


def dcgan_init(module):
    """DCGAN's initialization: conv weights ~ N(0, 0.02), batch-norm scales ~ N(1, 0.02), shifts 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return module


class DCGAN(nn.Module):
    """A generator and a discriminator together (one state dict, one checkpoint)."""

    def __init__(self, latent_dim=32, width=64, norm="batch", draw_at=16, refine=False):
        super().__init__()
        self.generator = dcgan_init(Generator(latent_dim, width, draw_at, refine))
        self.discriminator = dcgan_init(Discriminator(width, norm))


def gradient_penalty(critic, real, fake, epsilon):
    """WGAN-GP's penalty (Gulrajani et al. 2017): mean over x_hat of (||d critic(x_hat) / d x_hat||_2 - 1)^2,
    x_hat = epsilon real + (1 - epsilon) fake with epsilon (N, 1, 1, 1) in [0, 1].

    The gradient is taken with create_graph=True so that the penalty, a function of
    a gradient, can itself be differentiated w.r.t. the critic's weights: double
    backward through every layer of the critic (docs/gan.md).
    """
    from ..autograd import grad

    x_hat = epsilon * real.detach() + (1 - epsilon) * fake.detach()
    x_hat.requires_grad_()
    (g,) = grad(critic(x_hat).sum(), x_hat, create_graph=True)  # (N, C, H, W)
    norms = (g * g).sum((1, 2, 3)).sqrt()
    return ((norms - 1) ** 2).mean()
