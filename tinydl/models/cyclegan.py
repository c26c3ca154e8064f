"""CycleGAN (Zhu et al. 2017): image-to-image translation learned from unpaired images.

Two domains X and Y, two generators G: X -> Y and F: Y -> X, two discriminators D_Y (real y or
G(x)?) and D_X (real x or F(y)?).  No image of X comes with its counterpart in Y, so nothing says
which y a given x should become; the paper's full objective (eq. 3) adds a cycle-consistency term
that asks each translation to be invertible by the other:

    L(G, F, D_X, D_Y) = L_GAN(G, D_Y, X, Y) + L_GAN(F, D_X, Y, X) + lambda L_cyc(G, F),   lambda = 10,
    L_cyc(G, F)       = E_x[ ||F(G(x)) - x||_1 ] + E_y[ ||G(F(y)) - y||_1 ]              (eq. 2)

with least-squares GAN losses (``gan_loss(..., mode="lsgan")`` from ``tinydl.models.pix2pix``),
optionally an identity term (section 5.2, for photo <-> painting), and D trained on a history of
generated images rather than on the latest ones (:class:`ImagePool`).  The pieces here:

- :class:`ResnetGenerator`: Johnson et al.'s network, c7s1-k, d2k, d4k, R4k x n_blocks, u2k, uk,
  c7s1-3 (the paper's appendix 7.2), with reflection padding and instance norm;
- :class:`ImagePool`: the 50-image history buffer (Shrivastava et al. 2017);
- :func:`cycle_consistency_loss` and :func:`identity_loss`.

The discriminators are ``PatchGANDiscriminator(3, norm="instance")`` from ``tinydl.models.pix2pix``.
"""
import numpy as np

from .. import backend
from .. import functional
from .. import nn
from ..tensor import Tensor


# ---- the generator ---------------------------------------------------------------------------------------------
def conv_norm_relu(in_channels, out_channels, kernel_size, stride=1):
    """c7s1-k (kernel 7, stride 1, reflection padding 3) or dk (kernel 3, stride 2, zero padding 1): convolution,
    instance norm, ReLU."""
    if stride == 1:  # reflection padding keeps the borders free of the artefacts zero padding leaves
        pad = [nn.ReflectionPad2d(kernel_size // 2)]
        conv = nn.Conv2d(in_channels, out_channels, kernel_size)
    else:
        pad = []
        conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2)
    return nn.Sequential(*pad, conv, nn.InstanceNorm2d(out_channels), nn.ReLU())


class ResidualBlock(nn.Module):
    """Rk: two 3 x 3 convolutions with k filters (reflection padding 1, instance norm, ReLU between them), added to
    the block's input: (N, k, h, w) -> (N, k, h, w)."""

    def __init__(self, channels):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels), nn.ReLU(),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels))

    def forward(self, x):
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """CycleGAN's generator: (N, in_channels, H, W) -> (N, out_channels, H, W) in [-1, 1].

    The paper's c7s1-64, d128, d256, R256 x 9, u128, u64, c7s1-3 with k = ``width`` (64 in the paper)
    and ``n_blocks`` residual blocks (9 for 256 x 256 images, 6 for 128 x 128):

        c7s1-k   reflection pad 3, 7 x 7 conv, instance norm, ReLU     (N, k, H, W)
        d2k      3 x 3 conv stride 2, instance norm, ReLU               (N, 2k, H/2, W/2)
        d4k      3 x 3 conv stride 2, instance norm, ReLU               (N, 4k, H/4, W/4)
        R4k      n_blocks residual blocks                               (N, 4k, H/4, W/4)
        u2k      3 x 3 transposed conv stride 2, instance norm, ReLU    (N, 2k, H/2, W/2)
        uk       3 x 3 transposed conv stride 2, instance norm, ReLU    (N, k, H, W)
        c7s1-3   reflection pad 3, 7 x 7 conv, tanh                     (N, out_channels, H, W)

    The transposed convolutions (padding 1, output_padding 1) exactly double H and W, so H and W must be
    divisible by 4.  Instance norm as PyTorch's default (no affine parameters).  The convolutions keep their
    biases, as CycleGAN's code does, but a bias right before an instance norm is subtracted again with the
    mean and has no effect; only the last 7 x 7 conv's bias matters.
    """

    def __init__(self, in_channels=3, out_channels=3, width=64, n_blocks=9):
        super().__init__()
        if in_channels < 1 or out_channels < 1 or width < 1 or n_blocks < 0:
            raise ValueError(f"ResnetGenerator: need in_channels, out_channels, width >= 1 and n_blocks >= 0, got "
                             f"in_channels={in_channels}, out_channels={out_channels}, width={width}, "
                             f"n_blocks={n_blocks}")
        self.in_channels = in_channels
        k = width
        self.model = nn.Sequential(
            conv_norm_relu(in_channels, k, 7),                                 # c7s1-k
            conv_norm_relu(k, 2 * k, 3, stride=2),                             # d2k
            conv_norm_relu(2 * k, 4 * k, 3, stride=2),                         # d4k
            *[ResidualBlock(4 * k) for _ in range(n_blocks)],                  # R4k x n_blocks
            self._up(4 * k, 2 * k),                                            # u2k
            self._up(2 * k, k),                                                # uk
            nn.ReflectionPad2d(3), nn.Conv2d(k, out_channels, 7), nn.Tanh())   # c7s1-3

    @staticmethod
    def _up(in_channels, out_channels):
        """uk: 3 x 3 transposed convolution with stride 1/2 (doubles H and W), instance norm, ReLU."""
        return nn.Sequential(
            nn.ConvTranspose2d(in_channels, out_channels, 3, stride=2, padding=1, output_padding=1),
            nn.InstanceNorm2d(out_channels), nn.ReLU())

    def forward(self, x):
        """x (N, in_channels, H, W) -> (N, out_channels, H, W), tanh."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"ResnetGenerator: expected input (N, {self.in_channels}, H, W), "
                             f"got shape {tuple(x.shape)}")
        if x.shape[2] % 4 or x.shape[3] % 4:
            raise ValueError(f"ResnetGenerator: H and W must be divisible by 4 (two stride-2 layers), got input of "
                             f"shape {tuple(x.shape)}")
        return self.model(x)


# ---- the image history buffer ----------------------------------------------------------------------------------
class ImagePool:
    """A history of generated images to show the discriminator (the idea: Shrivastava et al. 2017; the rule
    below: CycleGAN's code, section 4 of its paper).

    Updating D on the latest fakes only lets G and D chase each other (D forgets what G did a few
    steps ago, G returns to it); D sees instead a mix of new fakes and older ones from a buffer of
    ``size`` images (50 in the paper).  For each new image, in batch order:

    - while the pool holds fewer than ``size`` images: store the new image, and return it;
    - once it is full: with probability 1/2, return a stored image chosen uniformly and put the new one
      in its place; otherwise return the new image (the pool is unchanged).

    ``size=0`` returns the images as they are (no pool).  The draws come from this pool's own NumPy
    generator, ``default_rng((seed, q))`` for the q-th query, so the state is a few numbers and the stored
    images (:meth:`state_dict`), and a run resumed from it makes the same draws as one that never stopped.
    """

    def __init__(self, size=50, seed=0):
        if size < 0:
            raise ValueError(f"ImagePool: size must be >= 0, got {size}")
        self.size, self.seed = int(size), int(seed)
        self.images = None  # (size, C, H, W) array on the images' device, made by the first query
        self.count = 0      # how many slots are filled
        self.queries = 0    # queries answered so far

    def __len__(self):
        return self.count

    def query(self, images):
        """images (N, C, H, W) Tensor of new fakes -> (N, C, H, W) Tensor (no gradient) to show D."""
        if not isinstance(images, Tensor) or images.ndim < 1:
            raise TypeError(f"ImagePool.query: images must be a batch Tensor (N, ...), got "
                            f"{type(images).__name__} of shape {getattr(images, 'shape', None)}")
        new = images.detach().data
        if self.size == 0:
            return Tensor(new.copy())
        self._place_pool(new)
        out = new.copy()
        xp = backend.get_array_module(new)
        n = len(new)
        # 1. While not full: store the new images and return them.
        k = min(n, self.size - self.count)
        self.images[self.count:self.count + k] = new[:k]
        self.count += k
        # 2. Once full: each remaining image swaps with a random stored one with probability 1/2.
        rng = np.random.default_rng((self.seed, self.queries))
        self.queries += 1
        swap = rng.random(n - k) < 0.5                          # (n - k,) coin of each remaining image
        slot = rng.integers(0, self.size, size=n - k)           # (n - k,) the slot it would take
        positions, slots = k + np.flatnonzero(swap), slot[swap]  # the images that swap, in batch order
        # Done one image after another, a swap returns what is in its slot *now*: an image stored before this
        # query, or a new image that an earlier swap of this batch put there.  Grouped by slot (a stable sort
        # keeps batch order within a group), the first swap of each group takes the stored image and the others
        # take the new image of the swap before them; the last one of each group stays in the slot.
        order = np.argsort(slots, kind="stable")
        positions, slots = positions[order], slots[order]
        follows = np.zeros(len(slots), dtype=bool)             # (s,) an earlier swap of this batch took this slot
        follows[1:] = slots[1:] == slots[:-1]
        previous = np.roll(positions, 1)                        # (s,) the batch position of that earlier swap
        last = np.ones(len(slots), dtype=bool)                  # (s,) the last swap into its slot stays there
        last[:-1] = ~follows[1:]
        out[xp.asarray(positions[~follows])] = self.images[xp.asarray(slots[~follows])]
        out[xp.asarray(positions[follows])] = new[xp.asarray(previous[follows])]
        self.images[xp.asarray(slots[last])] = new[xp.asarray(positions[last])]
        return Tensor(out)

    def _place_pool(self, new):
        """Allocate the buffer at the first query, move it to the images' device, check the image shape."""
        xp = backend.get_array_module(new)
        if self.images is None:
            self.images = xp.zeros((self.size,) + new.shape[1:], dtype=new.dtype)
        elif self.images.shape[1:] != new.shape[1:]:
            raise ValueError(f"ImagePool.query: the pool holds images of shape {tuple(self.images.shape[1:])}, got "
                             f"a batch of shape {tuple(new.shape)}")
        device = backend.device_of(new)
        if backend.device_of(self.images) != device:
            self.images = backend.to_device(self.images, device)
        self.images = self.images.astype(new.dtype, copy=False)

    def state_dict(self):
        """Plain numbers and a host array: ``images`` (count, C, H, W) (empty before the first query)."""
        images = np.zeros((0,)) if self.images is None else backend.to_numpy(self.images[:self.count])
        return {"size": self.size, "seed": self.seed, "count": self.count, "queries": self.queries,
                "images": images}

    def load_state_dict(self, state):
        """Restore what :meth:`state_dict` returned; later queries make exactly the draws they would have made."""
        size, count = int(state["size"]), int(state["count"])
        images = np.asarray(state["images"])
        if size != self.size:
            raise ValueError(f"ImagePool.load_state_dict: the state is of a pool of size {size}, this pool's "
                             f"size is {self.size}")
        if not 0 <= count <= size or (count and len(images) != count):
            raise ValueError(f"ImagePool.load_state_dict: count {count} does not fit size {size} and images of "
                             f"shape {images.shape}")
        self.seed, self.count, self.queries = int(state["seed"]), count, int(state["queries"])
        if count == 0:
            self.images = None
        else:
            self.images = np.zeros((size,) + images.shape[1:], dtype=images.dtype)
            self.images[:count] = images


# ---- the losses ------------------------------------------------------------------------------------------------
def _l1_pair(a, b, who):
    if a.shape != b.shape:
        raise ValueError(f"{who}: an image and its translation must have the same shape, got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    return functional.l1_loss(b, a)


def cycle_consistency_loss(x, x_reconstructed, y, y_reconstructed):
    """L_cyc(G, F) = E_x[ ||F(G(x)) - x||_1 ] + E_y[ ||G(F(y)) - y||_1 ] (eq. 2), each a mean over pixels.

    ``x_reconstructed`` = F(G(x)) (forward cycle x -> G(x) -> F(G(x)) ~ x), ``y_reconstructed`` = G(F(y))
    (backward cycle).  It makes G and F near inverses of each other, which rules out mapping every x to the same
    plausible y, but not every wrong bijection: a G that permutes the classes consistently, undone by F, pays
    no cycle loss (only the GAN terms and the data's own structure choose among those)."""
    return (_l1_pair(x, x_reconstructed, "cycle_consistency_loss")
            + _l1_pair(y, y_reconstructed, "cycle_consistency_loss"))


def identity_loss(x, f_of_x, y, g_of_y):
    """L_identity(G, F) = E_y[ ||G(y) - y||_1 ] + E_x[ ||F(x) - x||_1 ] (section 5.2): a real image of the target
    domain should pass through its generator unchanged.  The paper weighs it 0.5 lambda (lambda the cycle loss's
    weight); it keeps colours from drifting.  Needs both domains to have the same number of channels."""
    return _l1_pair(y, g_of_y, "identity_loss") + _l1_pair(x, f_of_x, "identity_loss")
