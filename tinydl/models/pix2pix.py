"""pix2pix (Isola et al. 2017): a conditional GAN for paired image-to-image translation.

Given pairs (x, y), an input image x (here a label map) and its target image y (the scene it
labels), the generator G learns y = G(x) and a discriminator D learns to tell real pairs (x, y)
from generated ones (x, G(x)).  G minimises the paper's objective (eq. 4)

    G* = arg min_G max_D  L_cGAN(G, D) + lambda L_L1(G),      lambda = 100,

    L_cGAN(G, D) = E_{x,y}[log D(x, y)] + E_x[log(1 - D(x, G(x)))]    (eq. 1, the conditional GAN)
    L_L1(G)      = E_{x,y}[ ||y - G(x)||_1 ]                           (eq. 3)

L1 alone gives blurry images (the per-pixel median of the plausible outputs, which is correct at low
frequencies); the GAN term is what makes the high frequencies sharp.  Hence the two pieces here:

- :class:`UNetGenerator`: an encoder-decoder whose decoder block k's output is concatenated with
  encoder block k's (e_k in its docstring's diagram): the skip connections that carry the low-level
  structure, e.g. the edges of the label map, straight to the output; dropout in the decoder is the
  paper's only noise z.
- :class:`PatchGANDiscriminator`: a fully convolutional D whose output is a grid of logits, each
  seeing only one N x N patch of the input (70 x 70 in the paper, :func:`receptive_field`): it
  models the high frequencies only (the L1 term handles the low ones) and averages over the grid.

The losses: :func:`gan_loss` (the paper's cGAN log loss, ``mode="vanilla"``, or LSGAN's squares,
``mode="lsgan"``), :func:`discriminator_loss` (halved, as the paper does) and :func:`l1_loss`.
CycleGAN's generator, image pool and cycle loss are in ``tinydl.models.cyclegan``; the FCN-score
that judges both in ``tinydl.models.fcn_score``.
"""
import tinydl as td

from .. import functional as F
from .. import nn
from .unet import check_encoder_decoder_input

NORMS = ("batch", "instance", None)


def norm_layer(norm, channels):
    """``"batch"`` -> BatchNorm2d, ``"instance"`` -> InstanceNorm2d (PyTorch's defaults: no affine, no running
    statistics, as CycleGAN's code uses it), None -> Identity."""
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "instance":
        return nn.InstanceNorm2d(channels)
    return nn.Identity()


def _check_norm(who, norm):
    if norm not in NORMS:
        raise ValueError(f"{who}: norm must be one of {NORMS}, got {norm!r}")


# ---- the discriminator ---------------------------------------------------------------------------------------
def receptive_field(layers):
    """The receptive field, in input pixels, of one output of a stack of convolutions.

    ``layers``: (kernel_size, stride) of each layer, input first.  Walking back from the output,
    where one logit sees r_L = 1 position, a window of r_l positions of layer l's output is made
    from a window of

        r_{l-1} = s_l r_l + (k_l - s_l)

    positions of its input (r_l kernels, s_l apart, each k_l wide: the first starts at 0, the last
    ends at s_l (r_l - 1) + k_l).  Padding moves the window but does not change its size.
    For the paper's 70 x 70 PatchGAN, (4, 2), (4, 2), (4, 2), (4, 1), (4, 1):
    1 -> 4 -> 7 -> 16 -> 34 -> 70.
    """
    r = 1
    for kernel, stride in reversed(list(layers)):
        r = stride * r + (kernel - stride)
    return r


class PatchGANDiscriminator(nn.Module):
    """The pix2pix / CycleGAN discriminator: (N, in_channels, H, W) -> (N, 1, H', W') real/fake logits.

    The paper's 70 x 70 PatchGAN is C64-C128-C256-C512, where Ck is a 4 x 4 convolution with k
    filters, then batch norm, then LeakyReLU(0.2); no norm on C64; stride 2 except for C512, then a
    4 x 4 convolution to 1 channel (no sigmoid: :func:`gan_loss` takes logits).  With ``width`` w,
    the channels are w, 2w, 4w, 8w (capped at 8w); ``n_layers`` is the number of stride-2 layers
    (3 in the paper), so that with padding 1 everywhere

        H' = floor(H / 2**n_layers) - 2,         receptive field 9 * 2**n_layers - 2 pixels
                                                  (16, 34, 70 for n_layers 1, 2, 3).

    For pix2pix, D is conditional: ``in_channels`` counts the input x and the image y concatenated
    on channels, D(cat(x, y)).  ``norm``: ``"batch"`` (pix2pix), ``"instance"`` (CycleGAN) or None.

    Each logit's *convolutions* read one receptive-field window; a norm that uses the statistics of
    the whole image (instance norm, or batch norm in training mode) also ties every logit to every
    pixel through the mean and variance.  Batch norm in eval mode (running statistics) is local.
    """

    def __init__(self, in_channels=6, width=64, n_layers=3, norm="batch"):
        super().__init__()
        _check_norm("PatchGANDiscriminator", norm)
        if in_channels < 1 or width < 1 or n_layers < 1:
            raise ValueError(f"PatchGANDiscriminator: in_channels, width and n_layers must be positive, got "
                             f"in_channels={in_channels}, width={width}, n_layers={n_layers}")
        self.in_channels, self.n_layers = in_channels, n_layers
        bias = norm != "batch"  # batch norm's shift replaces a bias (as in the paper's code)
        channels = [width * min(2**k, 8) for k in range(n_layers + 1)]       # C64, C128, C256, C512 for n = 3
        layers = [nn.Conv2d(in_channels, channels[0], 4, stride=2, padding=1), nn.LeakyReLU(0.2)]  # C64, no norm
        for k in range(1, n_layers + 1):
            stride = 2 if k < n_layers else 1                                # the last Ck (C512) has stride 1
            layers += [nn.Conv2d(channels[k - 1], channels[k], 4, stride=stride, padding=1, bias=bias),
                       norm_layer(norm, channels[k]), nn.LeakyReLU(0.2)]
        layers += [nn.Conv2d(channels[-1], 1, 4, stride=1, padding=1)]       # the grid of logits
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        """x (N, in_channels, H, W) -> logits (N, 1, H', W'), one per patch."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"PatchGANDiscriminator: expected input (N, {self.in_channels}, H, W), "
                             f"got shape {tuple(x.shape)}")
        if min(x.shape[2:]) // 2**self.n_layers < 3:
            raise ValueError(f"PatchGANDiscriminator: H and W must be at least {3 * 2**self.n_layers} for "
                             f"n_layers={self.n_layers} (the output is floor(H / 2**n_layers) - 2 wide), got "
                             f"input of shape {tuple(x.shape)}")
        return self.model(x)

    def conv_layers(self):
        """(kernel_size, stride) of each convolution, input first."""
        return [(m.kernel_size[0], m.stride[0]) for m in self.model if isinstance(m, nn.Conv2d)]

    def receptive_field(self):
        """Pixels of the input (per side) that one logit sees: :func:`receptive_field` of the layers."""
        return receptive_field(self.conv_layers())


# ---- the generator ---------------------------------------------------------------------------------------------
class EncoderBlock(nn.Module):
    """The paper's Ck in the encoder: 4 x 4 convolution with stride 2 (halves H and W), norm, LeakyReLU(0.2)."""

    def __init__(self, in_channels, out_channels, norm):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1, bias=norm != "batch"),
                                  norm_layer(norm, out_channels), nn.LeakyReLU(0.2))

    def forward(self, x):
        return self.body(x)  # (N, c_in, h, w) -> (N, c_out, h / 2, w / 2)


class DecoderBlock(nn.Module):
    """The paper's Ck / CDk in the decoder: 4 x 4 transposed convolution with stride 2 (doubles H and W), norm,
    dropout (CDk only, ``dropout`` > 0), ReLU."""

    def __init__(self, in_channels, out_channels, norm, dropout):
        super().__init__()
        self.body = nn.Sequential(
            nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1, bias=norm != "batch"),
            norm_layer(norm, out_channels), nn.Dropout(dropout) if dropout > 0 else nn.Identity(), nn.ReLU())

    def forward(self, x):
        return self.body(x)  # (N, c_in, h, w) -> (N, c_out, 2h, 2w)


class UNetGenerator(nn.Module):
    """pix2pix's generator: (N, in_channels, H, W) -> (N, out_channels, H, W) in [-1, 1].

    Encoder C64-C128-C256-C512-C512-... (``depth`` EncoderBlocks, channels w, 2w, 4w, 8w, 8w, ... with
    ``width`` w), each halving H and W, so H and W must be divisible by 2**depth (the paper: 256 x 256,
    depth 8, down to 1 x 1; 32 x 32 images take depth 5).  Decoder: depth - 1 DecoderBlocks back up,
    the output d_k of each concatenated with the encoder's e_k of the same size (the skip connections),
    then a last transposed convolution to ``out_channels`` and tanh.  Shapes for width 8, depth 5, 32 x 32:

        x (N, c, 32, 32) -> e0 (N, 8, 16, 16) -> e1 (N, 16, 8, 8) -> e2 (N, 32, 4, 4) -> e3 (N, 64, 2, 2)
          -> e4 (N, 64, 1, 1)
          -> d3 (N, 64, 2, 2),  cat e3 -> (N, 128, 2, 2)  -> d2 (N, 32, 4, 4),  cat e2 -> (N, 64, 4, 4)
          -> d1 (N, 16, 8, 8),  cat e1 -> (N, 32, 8, 8)   -> d0 (N, 8, 16, 16), cat e0 -> (N, 16, 16, 16)
          -> output (N, out_channels, 32, 32), tanh

    Dropout ``dropout`` (0.5) on the first ``dropout_blocks`` (3) decoder blocks is the paper's noise z:
    "we provide noise only in the form of dropout, applied on several layers of our generator at both
    training and test time" (keep the model in train() mode to sample; eval() makes G deterministic).
    No norm on the first encoder block (as the paper) nor on the innermost one (as the paper's code: batch
    norm of a 1 x 1 map with batch size 1, the paper's, would zero it).

    The blocks follow the paper's text (Ck = Convolution-BatchNorm-ReLU, the skip taken after the
    activation, dropout on the decoder blocks nearest the bottleneck).  The authors' code orders them
    differently (the activation before each convolution, the skip taken before it) and puts dropout on
    ``depth - 5`` blocks; both are pix2pix.

    ``full_resolution_skip=True`` (not in the paper) adds one more skip, of the input itself: the last
    transposed convolution makes ``width`` channels (then ReLU) instead of the image, x is concatenated to
    them, and a 3 x 3 convolution and tanh make the image, (N, width + in_channels, H, W) -> (N, out_channels,
    H, W).  Without it the finest features the decoder sees are e0's, at half resolution, and every output
    pixel is painted from 2 x 2-pixel cells: harmless at 256 x 256, but at 32 x 32 a pixel is 3 % of the
    image's width, and the label map's edges are what a translation must get right (the examples measure why).
    """

    def __init__(self, in_channels=3, out_channels=3, width=64, depth=8, norm="batch", dropout=0.5,
                 dropout_blocks=3, full_resolution_skip=False):
        super().__init__()
        _check_norm("UNetGenerator", norm)
        if in_channels < 1 or out_channels < 1 or width < 1 or depth < 2:
            raise ValueError(f"UNetGenerator: need in_channels, out_channels, width >= 1 and depth >= 2, got "
                             f"in_channels={in_channels}, out_channels={out_channels}, width={width}, depth={depth}")
        if not 0 <= dropout < 1:
            raise ValueError(f"UNetGenerator: dropout must be in [0, 1), got {dropout}")
        self.in_channels, self.depth = in_channels, depth
        channels = [width * min(2**k, 8) for k in range(depth)]              # C64-C128-C256-C512-C512-...
        self.encoder = nn.ModuleList(
            [EncoderBlock(in_channels if k == 0 else channels[k - 1], channels[k],
                          None if k in (0, depth - 1) else norm) for k in range(depth)])
        # decoder block k maps level k + 1 up to level k; all but the innermost input carry a skip (2x channels)
        self.decoder = nn.ModuleList(
            [DecoderBlock(channels[k + 1] * (1 if k + 1 == depth - 1 else 2), channels[k], norm,
                          dropout if depth - 2 - k < dropout_blocks else 0.0) for k in range(depth - 1)])
        self.full_resolution_skip = full_resolution_skip
        if full_resolution_skip:  # up to (N, w, H, W), then cat x and a 3 x 3 convolution to the image
            self.up = nn.Sequential(nn.ConvTranspose2d(2 * channels[0], channels[0], 4, stride=2, padding=1),
                                    nn.ReLU())
            self.output = nn.Sequential(nn.Conv2d(channels[0] + in_channels, out_channels, 3, padding=1), nn.Tanh())
        else:
            self.output = nn.Sequential(nn.ConvTranspose2d(2 * channels[0], out_channels, 4, stride=2, padding=1),
                                        nn.Tanh())

    def forward(self, x):
        """x (N, in_channels, H, W) -> (N, out_channels, H, W), tanh."""
        self._check_input(x)
        image, skips = x, []
        for block in self.encoder:                     # down: H, W halve at every block
            x = block(x)
            skips.append(x)
        x = skips.pop()                                # the innermost code, (N, 8w, H / 2**depth, W / 2**depth)
        for k in reversed(range(self.depth - 1)):      # up: the innermost decoder block first
            x = F.cat([self.decoder[k](x), skips.pop()], dim=1)  # skip connection by concatenation
        if self.full_resolution_skip:                  # (N, 2w, H / 2, W / 2) -> (N, w + in_channels, H, W)
            x = F.cat([self.up(x), image], dim=1)
        return self.output(x)

    def _check_input(self, x):
        check_encoder_decoder_input("UNetGenerator", x, self.in_channels, self.depth)


# ---- the losses ------------------------------------------------------------------------------------------------
GAN_MODES = ("vanilla", "lsgan")


def gan_loss(logits, target_is_real, mode="vanilla"):
    """The GAN loss of D's ``logits`` (any shape, e.g. PatchGAN's (N, 1, H', W') grid, averaged over it) against
    "real" (``target_is_real=True``) or "fake".

    ``mode="vanilla"``: the paper's log loss, as a binary cross-entropy on the logits,
        real: -E[log sigmoid(D)],   fake: -E[log(1 - sigmoid(D))].
    D minimises real on real pairs plus fake on generated ones (maximising L_cGAN); G minimises *real*
    on its own outputs, -E[log D(x, G(x))], the non-saturating form (Goodfellow et al. 2014) the paper uses.

    ``mode="lsgan"``: least squares (Mao et al. 2017), what CycleGAN uses (a = 0 for fake, b = 1 for real),
        real: E[(D - 1)^2],          fake: E[D^2];
    its gradient does not vanish for fakes far on the right side of the boundary, which makes training steadier.
    """
    if mode not in GAN_MODES:
        raise ValueError(f"gan_loss: mode must be one of {GAN_MODES}, got {mode!r}")
    if not isinstance(target_is_real, bool):
        raise TypeError(f"gan_loss: target_is_real must be a bool, got {type(target_is_real).__name__}")
    target = td.full_like(logits.detach(), 1.0 if target_is_real else 0.0)  # same shape, dtype, device
    if mode == "vanilla":
        return F.binary_cross_entropy_with_logits(logits, target)
    return F.mse_loss(logits, target)


def discriminator_loss(real_logits, fake_logits, mode="vanilla"):
    """D's loss: (gan_loss(D(real), real) + gan_loss(D(fake), fake)) / 2.  The papers halve D's objective
    "to slow down the rate at which D learns relative to G".  ``fake_logits`` must come from detached fakes
    (D's step must not reach G)."""
    return 0.5 * (gan_loss(real_logits, True, mode) + gan_loss(fake_logits, False, mode))


def l1_loss(fake, real):
    """pix2pix's L_L1(G) = E_{x,y}[ ||y - G(x)||_1 ]: the mean absolute error per pixel and channel (the
    paper's lambda = 100 weighs it against L_cGAN)."""
    if fake.shape != real.shape:
        raise ValueError(f"l1_loss: fake and real must have the same shape, got {tuple(fake.shape)} and "
                         f"{tuple(real.shape)}")
    return F.l1_loss(fake, real)
