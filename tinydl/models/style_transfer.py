"""Neural style transfer: AdaIN (Huang & Belongie 2017) and its baseline, Gatys et al. 2016.

Both use one frozen, VGG-like encoder ``f`` (:class:`Encoder`) whose ReLU outputs ``phi_i`` are named
as in VGG: ``relu1_1`` (N, w, 32, 32), ``relu2_1`` (N, 2w, 16, 16), ``relu3_1`` (N, 4w, 8, 8) for a
32x32 input.

- **Gatys et al.** (:func:`gatys_transfer`): optimise the pixels of an image ``x`` (from the content
  image) so that its features at one layer match the content's (the content loss) and its Gram
  matrices ``G = phi phi^T / (C H W)`` at several layers match the style's (the style loss); hundreds of
  gradient steps for every image.
- **AdaIN** (:class:`AdaINStyleTransfer`): one forward pass.  ``t = AdaIN(f(c), f(s))`` gives the
  content features the style's channel means and deviations, a trained decoder ``g`` (the encoder's
  mirror, nearest upsampling) maps ``t`` back to an image ``g(t)``.  Its loss ``L = L_c + lambda L_s``::

      L_c = || f(g(t)) - t ||^2
      L_s = sum_i || mu(phi_i(g(t))) - mu(phi_i(s)) ||^2 + || sigma(phi_i(g(t))) - sigma(phi_i(s)) ||^2

  and the content-style trade-off ``t = (1 - alpha) f(c) + alpha AdaIN(f(c), f(s))`` at test time.

docs/transfer.md derives both and explains why the channel statistics are a summary of the Gram matrix.
"""
import tinydl as td
import tinydl.functional as F
import tinydl.nn as nn
from tinydl import optim

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1")


def gram_matrix(x):
    """The Gram matrix of feature maps, (N, C, H, W) -> (N, C, C): ``G[c, d] = sum_p x[c, p] x[d, p] / (C H W)``,
    the (uncentred) correlations between channels, the positions summed out."""
    if x.ndim != 4:
        raise ValueError(f"gram_matrix: x must be (N, C, H, W), got shape {tuple(x.shape)}")
    N, C, H, W = x.shape
    features = x.reshape(N, C, H * W)                                   # (N, C, HW)
    return features @ features.transpose(1, 2) / (C * H * W)             # (N, C, C)


def mean_std(x, eps=1e-5):
    """Channel means and deviations over the positions, (N, C, H, W) -> two (N, C): mu(x), sigma(x) (biased)."""
    mu = x.mean((2, 3))                                                  # (N, C)
    sigma = (x.var((2, 3), unbiased=False) + eps).sqrt()                  # (N, C)
    return mu, sigma


class Encoder(nn.Module):
    """The frozen encoder f: VGG-like blocks of 3x3 convs and ReLUs with 2x2 max pooling between them,
    and a classifier head used only to train it (shapes and textures)."""

    def __init__(self, width=16, num_classes=8, image_size=32):
        super().__init__()
        w, side = width, image_size // 8
        self.block1 = nn.Sequential(nn.Conv2d(3, w, 3, padding=1), nn.ReLU())           # relu1_1 (N, w, S, S)
        self.block2 = nn.Sequential(nn.Conv2d(w, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                    nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU())        # relu2_1 (N, 2w, S/2, S/2)
        self.block3 = nn.Sequential(nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                    nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.ReLU())    # relu3_1 (N, 4w, S/4, S/4)
        self.classifier = nn.Sequential(nn.MaxPool2d(2), nn.Flatten(),
                                        nn.Linear(4 * w * side * side, num_classes))             # (N, classes)
        self.channels = 4 * w

    def features(self, x):
        """{'relu1_1': ..., 'relu2_1': ..., 'relu3_1': ...} for images x (N, 3, S, S)."""
        relu1_1 = self.block1(x)
        relu2_1 = self.block2(relu1_1)
        relu3_1 = self.block3(relu2_1)
        return {"relu1_1": relu1_1, "relu2_1": relu2_1, "relu3_1": relu3_1}

    def forward(self, x):
        """Class logits (N, num_classes), for training the encoder as a classifier."""
        return self.classifier(self.features(x)["relu3_1"])


class Decoder(nn.Module):
    """The decoder g: the encoder's mirror up to ``layer``, pooling replaced by nearest upsampling;
    (N, 4w, S/4, S/4) from relu3_1, or (N, 2w, S/2, S/2) from relu2_1 -> (N, 3, S, S)."""

    def __init__(self, width=16, layer="relu3_1"):
        super().__init__()
        if layer not in ("relu2_1", "relu3_1"):
            raise ValueError(f"Decoder: layer must be 'relu2_1' or 'relu3_1', got {layer!r}")
        w = width
        self.layer = layer
        self.block3 = nn.Sequential(nn.Conv2d(4 * w, 2 * w, 3, padding=1), nn.ReLU(),
                                    nn.Upsample(scale_factor=2, mode="nearest")) \
            if layer == "relu3_1" else nn.Sequential()                                    # (N, 2w, S/2, S/2)
        self.block2 = nn.Sequential(nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.ReLU(),
                                    nn.Conv2d(2 * w, w, 3, padding=1), nn.ReLU(),
                                    nn.Upsample(scale_factor=2, mode="nearest"))          # (N, w, S, S)
        self.block1 = nn.Sequential(nn.Conv2d(w, w, 3, padding=1), nn.ReLU(),
                                    nn.Conv2d(w, 3, 3, padding=1))                        # (N, 3, S, S)

    def forward(self, t):
        return self.block1(self.block2(self.block3(t)))


def freeze(module):
    """No gradients for the module's parameters, and eval mode: it stays as it is."""
    for p in module.parameters():
        p.requires_grad = False
    return module.eval()


class AdaINStyleTransfer(nn.Module):
    """Huang & Belongie's network: frozen encoder f, AdaIN at its last layer, trained decoder g."""

    def __init__(self, encoder, decoder=None, style_layers=STYLE_LAYERS):
        super().__init__()
        self.encoder = freeze(encoder)
        self.decoder = decoder if decoder is not None else Decoder(encoder.channels // 4)
        self.layer = self.decoder.layer                                  # where AdaIN aligns the statistics
        self.style_layers = tuple(style_layers)

    def train(self, mode=True):
        super().train(mode)
        self.encoder.eval()  # the encoder is frozen, in training too
        return self

    def target(self, content, style, alpha=1.0):
        """t = (1 - alpha) f(c) + alpha AdaIN(f(c), f(s)), (N, 4w, S/4, S/4)."""
        _check_pair("AdaINStyleTransfer", content, style)
        f_c = self.encoder.features(content)[self.layer]
        f_s = self.encoder.features(style)[self.layer]
        t = F.adaptive_instance_norm(f_c, f_s)
        return t if alpha == 1.0 else (1 - alpha) * f_c + alpha * t

    def forward(self, content, style, alpha=1.0):
        """The stylised images g(t), (N, 3, S, S)."""
        return self.decoder(self.target(content, style, alpha))

    def loss(self, content, style, style_weight=10.0):
        """L = L_c + lambda L_s for a batch of (content, style) pairs; returns (L, L_c, L_s)."""
        _check_pair("AdaINStyleTransfer.loss", content, style)
        f_c = self.encoder.features(content)[self.layer]
        phi_s = self.encoder.features(style)
        t = F.adaptive_instance_norm(f_c, phi_s[self.layer]).detach()     # (N, 4w, S/4, S/4), the decoder's target
        g_t = self.decoder(t)                                            # (N, 3, S, S)
        phi_g = self.encoder.features(g_t)
        L_c = F.mse_loss(phi_g[self.layer], t)
        L_s = style_loss(phi_g, phi_s, self.style_layers)
        return L_c + style_weight * L_s, L_c, L_s


def style_loss(phi_g, phi_s, layers=STYLE_LAYERS):
    """AdaIN's style loss: sum over layers of ||mu(phi_i(g)) - mu(phi_i(s))||^2 + ||sigma(...) - sigma(...)||^2
    (squared errors averaged over samples and channels, as the paper's code does)."""
    total = 0.0
    for name in layers:
        mu_g, sigma_g = mean_std(phi_g[name])
        mu_s, sigma_s = mean_std(phi_s[name])
        total = total + F.mse_loss(mu_g, mu_s) + F.mse_loss(sigma_g, sigma_s)
    return total


def gram_style_loss(phi_x, grams_s, layers=STYLE_LAYERS):
    """Gatys' style loss: sum over layers of the mean squared difference of the Gram matrices."""
    total = 0.0
    for name in layers:
        total = total + F.mse_loss(gram_matrix(phi_x[name]), grams_s[name])
    return total


def gatys_transfer(encoder, content, style, steps=300, lr=0.03, style_weight=1e3, content_layer="relu3_1",
                   style_layers=STYLE_LAYERS):
    """Gatys et al.'s style transfer: the pixels x (from the content image) minimise
    ``||phi_l(x) - phi_l(c)||^2 + style_weight * sum_i ||G(phi_i(x)) - G(phi_i(s))||^2`` with Adam for ``steps``
    steps; returns the images (N, 3, S, S) clamped to [0, 1] and the loss after each step."""
    _check_pair("gatys_transfer", content, style)
    encoder = freeze(encoder)
    with td.no_grad():
        P = encoder.features(content)[content_layer]                     # the content's features
        phi_s = encoder.features(style)
        grams_s = {name: gram_matrix(phi_s[name]) for name in style_layers}
    x = nn.Parameter(content.detach().clone() if hasattr(content, "clone") else content.detach())
    optimizer = optim.Adam([x], lr=lr)
    history = []
    for _ in range(steps):
        phi_x = encoder.features(x)
        loss = F.mse_loss(phi_x[content_layer], P) + style_weight * gram_style_loss(phi_x, grams_s, style_layers)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    return x.detach().clamp(0.0, 1.0), history


def _check_pair(name, content, style):
    if content.ndim != 4 or style.ndim != 4 or content.shape[1] != 3 or style.shape[1] != 3 \
            or style.shape[0] not in (1, content.shape[0]):
        raise ValueError(f"{name}: content and style must be (N, 3, H, W) and (N or 1, 3, H', W'), "
                         f"got {tuple(content.shape)} and {tuple(style.shape)}")
