"""``F.pad``: grow (or, with negative widths, crop) the last dims of a tensor, PyTorch's way.

``pad`` lists (left, right) widths starting from the LAST dim:
``(left_W, right_W, top_H, bottom_H, ...)``, as in PyTorch.  Four modes:

    constant   the new border holds ``value`` (0 by default)       [a b c d] -> 0 0 [a b c d] 0 0
    reflect    mirrored about the edge element (not repeated)     [a b c d] -> c b [a b c d] c b
    replicate  the edge element repeated                          [a b c d] -> a a [a b c d] d d
    circular   wrapped around, as if the tensor were periodic     [a b c d] -> c d [a b c d] a b

``constant`` copies the input into the middle of a filled tensor, so its
gradient is the middle of the output gradient.  The other three only copy
input elements, so each is a gather: output position i along a padded dim
reads input position ``source[i]``.  Its gradient is the matching
scatter-add: each output gradient is added back onto the input position it
was copied from (an edge element copied three times collects three gradients).
"""
import numbers
import operator

from .. import backend
from ..autograd import Function
from ..tensor import Tensor

MODES = ("constant", "reflect", "replicate", "circular")


# ---- constant: copy into the middle of a filled tensor ---------------------------------------
class ConstantPad(Function):
    """Pad with ``value`` by non-negative ``widths`` ((before, after) per dim, every dim);
    the gradient is the middle of the output gradient, where the input was copied."""

    def __init__(self, widths, value):
        self.widths, self.value = widths, value

    def forward(self, x):
        xp = backend.get_array_module(x)
        return xp.pad(x, self.widths, mode="constant", constant_values=self.value)

    def backward(self, gy):
        middle = tuple(slice(before, size - after) for (before, after), size in zip(self.widths, gy.shape))
        return gy[middle]


# ---- reflect, replicate, circular: a gather and its scatter-add ------------------------------
def source_indices(mode, size, before, after, xp):
    """For each output position along one dim, the input position it copies: (before + size + after,).

    Output position i (counted from -before) reads input position
        reflect    |i| mirrored again at size - 1:  (size - 1) - |(size - 1) - |i||
        replicate  i clipped to [0, size - 1]
        circular   i wrapped into the kept range [lo, hi):  lo + (i - lo) mod (hi - lo)
    A negative ``before`` or ``after`` starts or stops the range inside the input (a crop).  For
    circular, PyTorch crops first and wraps what is kept, so [lo, hi) is the range the crop keeps
    (the whole input when nothing is cropped).
    """
    i = xp.arange(-before, size + after)
    if mode == "reflect":
        last = size - 1
        return last - xp.abs(last - xp.abs(i))
    if mode == "replicate":
        return xp.clip(i, 0, size - 1)
    lo, hi = _kept_range(size, before, after)  # circular
    return lo + (i - lo) % (hi - lo)


def _kept_range(size, before, after):
    """[lo, hi): what cropping by the negative widths among (before, after) leaves of a dim of ``size``."""
    return max(-before, 0), size - max(-after, 0)


def _along(dim, index):
    """The index that applies ``index`` to dim ``dim`` only: ``x[:, ..., :, index]``."""
    return (slice(None),) * dim + (index,)


class GatherPad(Function):
    """out = x[..., source, ...] along each padded dim in turn; ``sources`` = [(dim, source), ...]."""

    def __init__(self, sources):
        self.sources = sources

    def forward(self, x):
        for dim, source in self.sources:
            x = x[_along(dim, source)]
        return x

    def backward(self, gy):
        return ScatterAddPad(self.sources, self.inputs[0].shape)(gy)


class ScatterAddPad(Function):
    """The gradient of GatherPad: along each padded dim (last gathered, first undone), every
    gradient entry is added onto the input position it was copied from (np.add.at: repeats add up)."""

    def __init__(self, sources, input_shape):
        self.sources, self.input_shape = sources, tuple(input_shape)

    def forward(self, g):
        xp = backend.get_array_module(g)
        for dim, source in reversed(self.sources):
            shape = g.shape[:dim] + (self.input_shape[dim],) + g.shape[dim + 1 :]
            gx = xp.zeros(shape, dtype=g.dtype)
            backend.scatter_add(gx, _along(dim, source), g)
            g = gx
        return g

    def backward(self, ggx):
        return GatherPad(self.sources)(ggx)  # a scatter-add is linear: its gradient is the gather again


# ---- the public function --------------------------------------------------------------------
def pad(input, pad, mode="constant", value=None):
    """Pad ``input``'s last ``len(pad) // 2`` dims; ``pad`` = (left, right) per dim, last dim first.

    Negative widths crop.  ``constant`` pads any number of dims with ``value`` (default 0);
    ``reflect``, ``replicate`` and ``circular`` pad the last 1, 2 or 3 dims of a tensor with one
    or two more dims (batch and channel), and take no ``value``, as in PyTorch.
    """
    widths = _check_pad(input, pad, mode, value)  # [(before, after)] for every dim, first dim first
    if mode == "constant":
        return _constant_pad(input, widths, 0 if value is None else value)
    xp = backend.get_array_module(input.data)
    sources = [(dim, source_indices(mode, input.shape[dim], before, after, xp))
               for dim, (before, after) in enumerate(widths) if (before, after) != (0, 0)]
    return GatherPad(sources)(input) if sources else input


def _constant_pad(x, widths, value):
    """Crop where a width is negative (an ordinary slice), then pad where it is positive."""
    crop = tuple(slice(max(-before, 0), size - max(-after, 0)) for (before, after), size in zip(widths, x.shape))
    if any(before < 0 or after < 0 for before, after in widths):
        x = x[crop]
    grow = tuple((max(before, 0), max(after, 0)) for before, after in widths)
    return ConstantPad(grow, value)(x) if any(before or after for before, after in grow) else x


def _check_pad(input, pad, mode, value):
    """Validate the arguments as PyTorch does; return (before, after) for every dim of ``input``."""
    if not isinstance(input, Tensor):
        raise TypeError(f"pad: input must be a Tensor, got {type(input).__name__}")
    if mode not in MODES:
        raise NotImplementedError(f"pad: unrecognised padding mode {mode!r}; expected one of {MODES}")
    if not isinstance(pad, (tuple, list)):
        raise TypeError(f"pad: argument 'pad' must be a tuple of ints, got {type(pad).__name__}")
    widths = []
    for i, w in enumerate(pad):
        if isinstance(w, bool) or not isinstance(w, numbers.Integral):
            raise TypeError(f"pad: argument 'pad' must be a tuple of ints, but found {w!r} "
                            f"({type(w).__name__}) at position {i} of {tuple(pad)}")
        widths.append(operator.index(w))
    shape, ndim = tuple(input.shape), input.ndim
    if len(widths) % 2:
        raise ValueError(f"pad: padding length must be divisible by 2, got pad={tuple(pad)} of length {len(pad)}")
    padded = len(widths) // 2
    if padded > ndim:
        raise ValueError(f"pad: padding length should be at most two times the input dimension, but got pad="
                         f"{tuple(pad)} of length {len(pad)} for an input of shape {shape}")
    # pad lists the last dim first: (left, right) of dim ndim-1, then of dim ndim-2, ...
    per_dim = [(0, 0)] * ndim
    for k in range(padded):
        per_dim[ndim - 1 - k] = (widths[2 * k], widths[2 * k + 1])
    for dim, (before, after) in enumerate(per_dim):
        if shape[dim] + before + after < 0:
            raise ValueError(f"pad: pad={tuple(pad)} crops dim {dim} of the input of shape {shape} "
                             f"to a negative size {shape[dim] + before + after}")
    if mode != "constant":
        _check_non_constant(input, pad, mode, value, per_dim, padded)
    return per_dim


def _check_non_constant(input, pad, mode, value, per_dim, padded):
    shape, ndim = tuple(input.shape), input.ndim
    if value is not None and value != 0:
        raise ValueError(f"pad: padding mode {mode!r} doesn't take in a value argument (got value={value!r})")
    if padded not in (1, 2, 3) or ndim not in (padded + 1, padded + 2):
        raise NotImplementedError(
            f"pad: padding size {len(pad)} (pad={tuple(pad)}) is not supported for a {ndim}-d input of shape "
            f"{shape} in mode {mode!r}; supported: 2-d or 3-d input with padding size 2 (the last dim), "
            "3-d or 4-d with size 4 (the last 2 dims), 4-d or 5-d with size 6 (the last 3 dims)")
    first_padded = ndim - padded
    non_batch = shape[1:] if ndim == padded + 2 else shape  # the channel dim and the padded dims
    if any(n == 0 for n in non_batch):
        raise ValueError(f"pad: mode {mode!r} needs non-empty channel and padded dims (only the batch dim may "
                         f"be 0), got an input of shape {shape}")
    for dim in range(first_padded, ndim):
        before, after = per_dim[dim]
        size = shape[dim]
        if mode == "reflect" and (before >= size or after >= size):
            raise ValueError(f"pad: reflect padding must be less than the size of the padded dim, but got padding "
                             f"({before}, {after}) at dim {dim} of the input of shape {shape}")
        lo, hi = _kept_range(size, before, after)
        if mode == "circular" and (before > hi - lo or after > hi - lo):
            raise ValueError(f"pad: circular padding ({before}, {after}) at dim {dim} of the input of shape "
                             f"{shape} wraps around more than once (each width must be at most the size left "
                             f"after cropping, {hi - lo})")
