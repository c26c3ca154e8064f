"""Spatial transformer networks (Jaderberg et al., *Spatial Transformer Networks*, 2015).

A spatial transformer looks at its input, predicts an affine map theta, and resamples the input
through it (docs/spatial.md, section 1):

    x (N, C, H, W) -> localization net f_loc -> theta (N, 2, 3)
                   -> grid generator   T_theta(G) = F.affine_grid(theta, (N, C, H', W'))  (N, H', W', 2)
                   -> sampler          V = F.grid_sample(x, grid)                          (N, C, H', W')

For every output pixel (x_t, y_t) of the regular grid G, theta gives the input point it reads:
(x_s, y_s) = theta (x_t, y_t, 1), in normalized coordinates (-1..1 across the image).  Everything is
differentiable, so the localization net is trained by the loss of the network that follows it, with
no labels for the transformation.

With ``stages`` > 1 the transformer is coarse-to-fine (the paper's multiple transformers, composed as in Lin &
Lucey's *Inverse Compositional Spatial Transformer Networks*, 2017): localization net k looks at the image
that stages 1..k-1 produced and predicts a correction theta_k, composed with the map so far
(``compose_theta``), and every stage samples the ORIGINAL image once through the composed map (no
resampling of a resampled image, no blur piled on blur):

    theta = f_loc_1(x);  V = sampler(x, theta)
    for k = 2..stages:   theta = theta o f_loc_k(V);  V = sampler(x, theta)

``STN`` is the paper's ST-CNN: a ``SpatialTransformer`` in front of a ``DigitCNN``; the baseline is
the same ``DigitCNN`` on the untransformed image (examples/train_stn.py, docs/spatial.md section 10).
"""
import numpy as np

import tinydl as td
from .. import functional as F
from .. import nn
from ..nn import init

IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)  # theta = [[1, 0, 0], [0, 1, 0]]: read every point where it is
# The transformations f_loc may regress, each as its parameters' values at the identity map:
#   affine      theta itself, 6 numbers (A | t)
#   similarity  (log s, angle a, t_x, t_y): theta = [[s cos a, -s sin a, t_x], [s sin a, s cos a, t_y]]
#   attention   (log s, t_x, t_y): theta = [[s, 0, t_x], [0, s, t_y]]  (zoom and move only, the paper's "attention")
TRANSFORMS = {"affine": IDENTITY, "similarity": (0.0, 0.0, 0.0, 0.0), "attention": (0.0, 0.0, 0.0)}


def transform_theta(params, transform="affine"):
    """The regressed parameters (N, P) of a ``transform`` (a key of TRANSFORMS) -> theta (N, 2, 3), with
    differentiable ops, so that the loss reaches the parameters through theta."""
    n = params.shape[0]
    if transform == "affine":
        return params.reshape(n, 2, 3)
    if transform == "similarity":
        log_s, angle, tx, ty = params.unbind(1)  # (N,) each
        s = log_s.exp()
        c, si = s * angle.cos(), s * angle.sin()
        return td.stack([td.stack([c, -si, tx], 1), td.stack([si, c, ty], 1)], 1)  # (N, 2, 3)
    if transform == "attention":
        log_s, tx, ty = params.unbind(1)
        s = log_s.exp()
        zero = s * 0.0
        return td.stack([td.stack([s, zero, tx], 1), td.stack([zero, s, ty], 1)], 1)  # (N, 2, 3)
    raise ValueError(f"transform_theta: transform must be one of {sorted(TRANSFORMS)}, got {transform!r}")


def compose_theta(theta_1, theta_2):
    """theta_1 o theta_2 (N, 2, 3): the affine map that reads, for an output point p, the input point
    theta_1 (theta_2 p); i.e. theta_2 maps into the coordinates of the image that theta_1 produced.

    With theta_k = [A_k | t_k] (A_k (N, 2, 2), t_k (N, 2, 1)), the 3x3 product of the two maps in
    homogeneous coordinates,  [[A_1, t_1], [0, 1]] [[A_2, t_2], [0, 1]] = [[A_1 A_2, A_1 t_2 + t_1], [0, 1]],
    whose top two rows are  theta = [A_1 A_2 | A_1 t_2 + t_1]  (docs/spatial.md, section 10)."""
    A_1, t_1 = theta_1[:, :, :2], theta_1[:, :, 2:]  # (N, 2, 2), (N, 2, 1)
    A_2, t_2 = theta_2[:, :, :2], theta_2[:, :, 2:]
    return td.cat([A_1 @ A_2, A_1 @ t_2 + t_1], 2)  # (N, 2, 3)


class LocalizationNet(nn.Module):
    """f_loc: the image, halved by a 2x2 max-pool (not with ``halve=False``: the later stages of a
    coarse-to-fine transformer read their small input at full resolution), through two 5x5 conv + batch
    norm + max-pool + ReLU layers and a hidden tanh layer, then the regression layer to the parameters
    of the ``transform`` (N, P) (six for ``affine``, theta itself; four for ``similarity``; three for
    ``attention``), and ``transform_theta`` to theta (N, 2, 3).
    (tanh, not ReLU: while the regressor's weights are still near zero its hidden units get almost no
    gradient, and Adam's normalised steps on that noise would leave most ReLU units dead for good.)

    The regression layer starts with zero weights and the identity's parameters as its bias, so that at
    initialisation theta = identity for every input: the transformer passes the image through
    (downsampled to its output size) and the classifier after it starts learning at once; the
    localization net then learns to move away from the identity only as far as that lowers the loss."""

    def __init__(self, in_channels=1, image_size=40, width=8, hidden=32, transform="affine", halve=True):
        super().__init__()
        if transform not in TRANSFORMS:
            raise ValueError(f"LocalizationNet: transform must be one of {sorted(TRANSFORMS)}, got {transform!r}")
        self.transform = transform
        self.halve = nn.MaxPool2d(2) if halve else nn.Identity()  # halve=False: read at full resolution
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 5, padding=2, bias=False), nn.BatchNorm2d(width),
            nn.MaxPool2d(2), nn.ReLU(),  # (N, width, H / 4, W / 4)
            nn.Conv2d(width, 2 * width, 5, padding=2, bias=False), nn.BatchNorm2d(2 * width),
            nn.MaxPool2d(2), nn.ReLU())  # (N, 2 width, H / 8, W / 8)
        cells = image_size // (8 if halve else 4)  # (halved), then two 2x2 poolings
        self.hidden = nn.Sequential(nn.Flatten(), nn.Linear(2 * width * cells * cells, hidden), nn.Tanh())
        identity = TRANSFORMS[transform]
        self.regressor = nn.Linear(hidden, len(identity))
        init.zeros_(self.regressor.weight)
        self.regressor.bias.data[...] = np.asarray(identity)  # built on the CPU; .to(device) moves it

    def forward(self, x):
        """x (N, C, H, W) -> theta (N, 2, 3)."""
        h = self.features(self.halve(x))  # (N, 2 width, H / 8, W / 8), H / 4 and W / 4 without halving
        return transform_theta(self.regressor(self.hidden(h)), self.transform)  # (N, P) -> (N, 2, 3)


class SpatialTransformer(nn.Module):
    """The module: localization net, grid generator, sampler.  ``forward(x)`` -> the resampled image
    V (N, C, out_size, out_size); ``transform(x)`` -> (V, theta (N, 2, 3)), for figures.

    ``stages`` > 1: coarse-to-fine.  ``localization`` (f_loc_1) reads the image x; each of ``refinements``
    (f_loc_2, ...) reads the previous stage's output V (out_size x out_size) and predicts a correction that
    ``compose_theta`` composes with theta; V is always sampled from x.  Every stage starts at the identity,
    so at initialisation theta is the identity whatever ``stages`` is."""

    def __init__(self, in_channels=1, image_size=40, out_size=24, width=8, hidden=32, transform="affine", stages=1):
        super().__init__()
        if image_size % 8:
            raise ValueError(f"SpatialTransformer: image_size must be a multiple of 8, got {image_size}")
        if stages < 1 or (stages > 1 and out_size % 8):
            raise ValueError(f"SpatialTransformer: stages must be >= 1, and out_size a multiple of 8 when "
                             f"stages > 1 (the later stages read the output), got stages={stages}, out_size={out_size}")
        self.image_size, self.out_size = image_size, out_size
        self.localization = LocalizationNet(in_channels, image_size, width, hidden, transform)  # f_loc_1, on x
        self.refinements = nn.ModuleList([LocalizationNet(in_channels, out_size, width, hidden, transform, halve=False)
                                          for _ in range(stages - 1)])  # f_loc_2, ..., on V

    def sample(self, x, theta):
        """Grid generator and sampler: x (N, C, H, W), theta (N, 2, 3) -> V (N, C, out_size, out_size)."""
        n, c = x.shape[:2]
        grid = F.affine_grid(theta, (n, c, self.out_size, self.out_size))  # T_theta(G): (N, H', W', 2)
        return F.grid_sample(x, grid)  # V: (N, C, H', W')

    def transform(self, x):
        """x (N, C, H, W) -> (V (N, C, out_size, out_size), theta (N, 2, 3))."""
        if x.ndim != 4 or x.shape[2:] != (self.image_size, self.image_size):
            raise ValueError(f"SpatialTransformer: x must have shape (N, C, {self.image_size}, "
                             f"{self.image_size}), got {tuple(x.shape)}")
        theta = self.localization(x)  # stage 1: (N, 2, 3)
        V = self.sample(x, theta)
        for f_loc in self.refinements:  # stage k: a correction, read off the image stage k - 1 made
            theta = compose_theta(theta, f_loc(V))  # (N, 2, 3)
            V = self.sample(x, theta)  # from the original x, through the composed map
        return V, theta

    def forward(self, x):
        return self.transform(x)[0]


def conv_block(in_channels, out_channels):
    """3x3 convolution, batch norm, ReLU: (N, in, H, W) -> (N, out, H, W)."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU())


class DigitCNN(nn.Module):
    """The classifier, the paper's kind of CNN: three conv + batch norm + ReLU + 2x2 max-pool blocks
    (width, 2 width, 4 width channels), then a fully connected layer to the class logits.  The
    fully connected layer sees every cell of the last feature map at its place, so the network is only as
    invariant to where the digit is as its three poolings make it; the baseline (on the 40x40 canvas)
    has to learn the rest from examples, the ST-CNN's transformer can bring the digit to one place."""

    def __init__(self, in_channels=1, num_classes=10, image_size=40, width=16):
        super().__init__()
        w, cells = width, image_size // 8  # three poolings halve H and W three times
        self.features = nn.Sequential(
            conv_block(in_channels, w), nn.MaxPool2d(2),  # (N, w, H/2, W/2)
            conv_block(w, 2 * w), nn.MaxPool2d(2),  # (N, 2w, H/4, W/4)
            conv_block(2 * w, 4 * w), nn.MaxPool2d(2))  # (N, 4w, H/8, W/8)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(4 * w * cells * cells, num_classes))  # (N, 10)

    def forward(self, x):
        """x (N, C, H, W) -> logits (N, num_classes)."""
        return self.classifier(self.features(x))


class STN(nn.Module):
    """ST-CNN: ``SpatialTransformer`` then ``DigitCNN``; ``forward(x)`` -> logits (N, num_classes)."""

    def __init__(self, in_channels=1, num_classes=10, image_size=40, out_size=24, width=16, loc_width=8,
                 loc_hidden=32, transform="affine", stages=1):
        super().__init__()
        self.transformer = SpatialTransformer(in_channels, image_size, out_size, loc_width, loc_hidden, transform,
                                              stages)
        self.classifier = DigitCNN(in_channels, num_classes, out_size, width)  # on the transformer's output

    def forward(self, x):
        return self.classifier(self.transformer(x))
