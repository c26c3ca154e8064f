"""U-Net for semantic segmentation (Ronneberger et al. 2015), with three ways to upsample.

A fully convolutional network: every layer is a convolution, a pooling or an
upsampling, so the output is a map of class scores with the input's height and
width, one vector of ``num_classes`` logits per pixel (docs/segmentation.md).

    encoder   level k (k = 0 .. depth-1): ConvBlock, then max-pool 2x2 (halves H, W)
    bottleneck                            ConvBlock at H / 2**depth  [+ dilated ContextBlock]
    decoder   level k (k = depth-1 .. 0): upsample x2, concatenate the skip from encoder level k,
                                          ConvBlock
    head                                  1x1 convolution to num_classes logits

Channels double at every level going down (width, 2 width, 4 width, ...) and
halve going up.  Shapes for the defaults (width 16, depth 3) on a 64x64 image:

    x (N, 3, 64, 64) -> enc0 (N, 16, 64, 64) -> pool (N, 16, 32, 32)
      -> enc1 (N, 32, 32, 32) -> pool (N, 32, 16, 16)
      -> enc2 (N, 64, 16, 16) -> pool (N, 64, 8, 8)
      -> bottleneck (N, 128, 8, 8)
      -> up (N, 64, 16, 16), cat enc2 -> (N, 128, 16, 16) -> dec2 (N, 64, 16, 16)
      -> up (N, 32, 32, 32), cat enc1 -> (N, 64, 32, 32)  -> dec1 (N, 32, 32, 32)
      -> up (N, 16, 64, 64), cat enc0 -> (N, 32, 64, 64)  -> dec0 (N, 16, 64, 64)
      -> head (N, num_classes, 64, 64) logits

The three upsamplings (``upsampling=``), each mapping (N, 2c, h, w) -> (N, c, 2h, 2w):

- ``"transpose"``: a learned ConvTranspose2d with kernel 2, stride 2.  With
  kernel = stride the windows do not overlap: each input pixel paints its own
  2x2 block of the output, one learned (c, 2c) matrix per position in the
  block.  A kernel the stride divides (2 here, 4 with padding 1 in DCGAN)
  overlaps evenly, so no checkerboard from uneven overlap; the decoder's 3x3
  convolutions do the smoothing that k4's overlap would (docs/convolution.md,
  "Transposed convolution"; docs/segmentation.md).
- ``"unpool"``: SegNet's max-unpooling (Badrinarayanan et al. 2017).  A 1x1
  convolution maps 2c -> c channels (the pooled map had c), then
  ``max_unpool2d`` puts each value back at the position its window's maximum
  came from in the encoder (the indices remembered by
  ``MaxPool2d(return_indices=True)``); the other three positions of each 2x2
  block are 0 until the decoder's convolutions fill them in (docs/pooling.md,
  "Max unpooling").
- ``"bilinear"``: a 1x1 convolution 2c -> c, then fixed bilinear
  interpolation x2.  Both maps are linear, one over channels and one over
  space, so they commute exactly: doing the 1x1 convolution first gives the
  same result as after the upsampling, on four times fewer pixels.

``dilated_bottleneck=True`` adds a :class:`ContextBlock` (3x3 convolutions of
dilation 1, 2, 4, stacked) after the bottleneck's ConvBlock, which widens the
receptive field at the coarsest level without more pooling (see its docstring).
"""
from .. import functional as F
from .. import nn

UPSAMPLINGS = ("transpose", "unpool", "bilinear")


class ConvBlock(nn.Module):
    """Two (3x3 convolution, batch norm, ReLU), padding 1 so H and W are kept: (N, c_in, H, W) -> (N, c_out, H, W).

    The convolutions have no bias: the batch norm right after them subtracts the
    per-channel mean, which would remove any bias, and adds its own shift."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        )

    def forward(self, x):
        return self.body(x)


class ContextBlock(nn.Module):
    """Stacked 3x3 convolutions with dilations ``dilations`` (default 1, 2, 4), each with batch
    norm and ReLU, added to the block's input (a residual): (N, c, h, w) -> (N, c, h, w).

    A 3x3 convolution of dilation d reads pixels d apart, so it widens the receptive
    field by 2d (docs/convolution.md, "Receptive field of stacked dilated convolutions");
    with padding d it keeps the size.  Stacked, dilations 1, 2, 4 widen it by
    2 (1 + 2 + 4) = 14 cells of the bottleneck's grid, which is 14 * 2**depth input
    pixels (112 for depth 3), with 3 convolutions where undilated ones would need 7.
    The residual keeps a direct path around the block: the bottleneck's features, and
    their gradient, pass through unchanged, and the dilated convolutions add context to them."""

    def __init__(self, channels, dilations=(1, 2, 4)):
        super().__init__()
        self.dilations = tuple(dilations)
        layers = []
        for d in self.dilations:
            layers += [nn.Conv2d(channels, channels, 3, padding=d, dilation=d, bias=False),
                       nn.BatchNorm2d(channels), nn.ReLU()]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.body(x)

    def receptive_field_growth(self):
        """How many cells (of this block's grid) the block adds to the receptive field: 2 * sum(dilations)."""
        return 2 * sum(self.dilations)


class Up(nn.Module):
    """One decoder level: upsample (N, 2c, h, w) -> (N, c, 2h, 2w) by ``mode``, concatenate the
    encoder's skip (N, c, 2h, 2w) on channels -> (N, 2c, 2h, 2w), then a ConvBlock -> (N, c, 2h, 2w)."""

    def __init__(self, in_channels, out_channels, mode):
        super().__init__()
        self.mode = mode
        if mode == "transpose":
            self.up = nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2)
        else:  # "unpool" and "bilinear": a 1x1 convolution on the small map, then a fixed upsampling
            self.up = nn.Conv2d(in_channels, out_channels, 1)
        self.block = ConvBlock(2 * out_channels, out_channels)

    def forward(self, x, skip, indices=None):
        """``indices``: the argmax positions from the encoder's max-pool at this level (``unpool`` only)."""
        if self.mode == "transpose":
            x = self.up(x)                                                  # (N, c, 2h, 2w)
        elif self.mode == "unpool":
            x = F.max_unpool2d(self.up(x), indices, 2, output_size=skip.shape[-2:])  # (N, c, 2h, 2w), sparse
        else:
            x = F.interpolate(self.up(x), scale_factor=2, mode="bilinear")  # (N, c, 2h, 2w)
        return self.block(F.cat([x, skip], dim=1))                         # skip connection by concatenation


class UNet(nn.Module):
    """U-Net: (N, in_channels, H, W) images -> (N, num_classes, H, W) per-pixel logits.

    ``width``: channels of the first level (doubling per level down); ``depth``: number
    of 2x2 poolings, so H and W must be divisible by 2**depth; ``upsampling``:
    ``"transpose"``, ``"unpool"`` or ``"bilinear"`` (module docstring);
    ``dilated_bottleneck``: add the dilated :class:`ContextBlock` at the bottom.
    """

    def __init__(self, in_channels=3, num_classes=4, width=16, depth=3, upsampling="transpose",
                 dilated_bottleneck=False):
        super().__init__()
        if upsampling not in UPSAMPLINGS:
            raise ValueError(f"UNet: upsampling must be one of {UPSAMPLINGS}, got {upsampling!r}")
        if depth < 1 or width < 1 or in_channels < 1 or num_classes < 1:
            raise ValueError(f"UNet: depth, width, in_channels and num_classes must be positive, got depth={depth}, "
                             f"width={width}, in_channels={in_channels}, num_classes={num_classes}")
        self.in_channels, self.num_classes, self.width, self.depth = in_channels, num_classes, width, depth
        self.upsampling, self.dilated_bottleneck = upsampling, dilated_bottleneck
        channels = [width * 2**k for k in range(depth + 1)]                 # per level; the last is the bottleneck's
        self.encoder = nn.ModuleList(
            [ConvBlock(in_channels if k == 0 else channels[k - 1], channels[k]) for k in range(depth)]
        )
        self.pool = nn.MaxPool2d(2, return_indices=True)
        self.bottleneck = ConvBlock(channels[depth - 1], channels[depth])
        self.context = ContextBlock(channels[depth]) if dilated_bottleneck else nn.Identity()
        self.decoder = nn.ModuleList([Up(channels[k + 1], channels[k], upsampling) for k in range(depth)])
        self.head = nn.Conv2d(width, num_classes, 1)

    def forward(self, x):
        """x (N, in_channels, H, W) -> logits (N, num_classes, H, W)."""
        self._check_input(x)
        skips, all_indices = [], []
        for block in self.encoder:                    # down: H, W halve at every level
            x = block(x)
            skips.append(x)                           # kept, at this level's resolution, for the decoder
            x, indices = self.pool(x)                 # indices: argmax positions, kept for "unpool"
            all_indices.append(indices)
        x = self.context(self.bottleneck(x))
        for k in reversed(range(self.depth)):         # up: the deepest decoder level first
            x = self.decoder[k](x, skips[k], all_indices[k])
        return self.head(x)                           # (N, num_classes, H, W) logits

    def _check_input(self, x):
        check_encoder_decoder_input("UNet", x, self.in_channels, self.depth)


def check_encoder_decoder_input(name, x, in_channels, depth):
    """The input check of an encoder-decoder that halves H and W ``depth`` times and doubles them back:
    x must be (N, in_channels, H, W) with H and W divisible by 2**depth.  Raises ValueError naming ``name``."""
    if x.ndim != 4 or x.shape[1] != in_channels:
        raise ValueError(f"{name}: expected input (N, {in_channels}, H, W), got shape {tuple(x.shape)}")
    step = 2**depth
    if x.shape[2] % step or x.shape[3] % step:
        raise ValueError(f"{name}: H and W must be divisible by 2**depth = {step} (depth={depth}), "
                         f"got input of shape {tuple(x.shape)}")
