"""Pooling, unpooling and interpolation: max_pool2d, max_unpool2d, avg_pool2d,
adaptive_avg_pool2d and interpolate (nearest, bilinear).

Every op here reads an (N, C, H, W) image and moves or mixes values inside each
(H, W) plane; none mixes channels or batch items. Their backwards come in pairs
that are each other's transposes, so every backward is itself differentiable:

    max_pool2d    -> MaxPool2dBackward (gradient to the argmax)    -> PlaneGather (and 0 for x)
    max_unpool2d  -> PlaneGather       (read back the placed values) <-> PlaneScatterAdd
    avg_pool2d    -> AvgPool2dTranspose (g / count over the window) <-> AvgPool2d
    bilinear, adaptive average: y = A_h x A_w^T -> Resample2d(A_h^T, A_w^T)
    nearest       -> indexing x[:, :, rows, cols] (GetItem <-> IndexAdd in shape.py)

Max pooling has a plain version, met first (_max_pool_plain: a window view and
an argmax), and a fast one beside it (_max_pool_fast: a running max over the
kernel offsets), and so do the plane scatter and gather that its backward and
max_unpool2d use (an (n, c, position) index, or one flat index); with
td.use_reference_kernels() the plain ones run. The other ops have one version.
The derivations are in docs/pooling.md; each op points to
its section.
"""
import functools
import math

import numpy as np

from .. import backend
from ..autograd import Function
from ..device_checks import check
from ..kernels import reference_kernels_enabled
from ..tensor import Tensor
from .shape import getitem
from .windows import output_size, pad2d, pair, sliding_windows


# ---- argument checks shared by the pooling ops -------------------------------
def _positive_pair(value, name, op):
    value = pair(value, name, op)
    if min(value) <= 0:
        raise ValueError(f"{op}: {name} must be positive, got {value}")
    return value


def _check_image(x, op):
    """The batched form (N, C, H, W) of a 3-d or 4-d input, and whether a batch axis was added."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if x.ndim not in (3, 4) or 0 in x.shape[-3:]:
        raise ValueError(
            f"{op}: expected a (C, H, W) or (N, C, H, W) input with non-empty C, H, W, got shape {tuple(x.shape)}"
        )
    if x.ndim == 3:
        return x.unsqueeze(0), True
    return x, False


def _pooled_size(size, kernel, stride, padding, dilation, ceil_mode):
    """Windows along one axis, as PyTorch counts them (docs/pooling.md, "Output size").

    ceil_mode rounds the division up, which adds a last, partial window, but only
    if that window starts inside the image or its left padding."""
    if not ceil_mode:
        return output_size(size, kernel, stride, padding, dilation)
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = -(-span // stride) + 1  # ceil division
    if (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _pool_geometry(x, kernel_size, stride, padding, dilation, ceil_mode, op):
    """Check the pooling arguments against x (N, C, H, W) and return them as pairs with the output size."""
    kernel = _positive_pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else stride
    stride = _positive_pair(stride, "stride", op)
    padding = pair(padding, "padding", op)
    dilation = _positive_pair(dilation, "dilation", op)
    shape = tuple(x.shape)
    if min(padding) < 0:
        raise ValueError(f"{op}: padding must be non-negative, got {padding}")
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(
            f"{op}: padding {padding} must be at most half of kernel_size {kernel} (input of shape {shape})"
        )
    out = tuple(
        _pooled_size(shape[2 + a], kernel[a], stride[a], padding[a], dilation[a], ceil_mode) for a in (0, 1)
    )
    if min(out) < 1:
        raise ValueError(
            f"{op}: input of shape {shape} is too small for kernel_size {kernel}, stride {stride}, "
            f"padding {padding}, dilation {dilation}: the output would be {out}"
        )
    return kernel, stride, padding, dilation, out


def _pad_for_windows(x, kernel, stride, padding, dilation, out, value):
    """x (N, C, H, W) padded by ``padding`` on each side, and on the bottom and right
    by whatever more the last (ceil_mode) window reaches past that: (N, C, Hp, Wp)."""
    xp = backend.get_array_module(x)
    padded = pad2d(x, padding, value)
    extra = [
        max(0, (out[a] - 1) * stride[a] + dilation[a] * (kernel[a] - 1) + 1 - padded.shape[2 + a]) for a in (0, 1)
    ]
    if extra[0] or extra[1]:
        padded = xp.pad(padded, ((0, 0), (0, 0), (0, extra[0]), (0, extra[1])), constant_values=value)
    return padded


# ---- max pooling: forward finds the argmax, backward scatters to it ---------------
def _window_positions(out, kernel, stride, padding, dilation, size):
    """Where kernel offset i of output position o falls in the unpadded axis: (k, out),
    and whether that position is inside the image (not padding). NumPy: see _window_geometry."""
    position = (np.arange(out) * stride - padding)[None, :] + (np.arange(kernel) * dilation)[:, None]
    return position, (position >= 0) & (position < size)


class WindowGeometry:
    """Where every window of a max pool falls, worked out from the shapes alone.

    rows (kH, OH) and cols (kW, OW): image row / column of each kernel offset in each output
    row / column; inside (kH, kW, OH, OW): that position is in the image, not padding.
    The tables are made on the host (``*_host``, NumPy), where asking "is every window
    inside?" costs nothing, and sent to x's device once (on a GPU each such question about
    a device array would make the host wait for the GPU: a sync)."""

    def __init__(self, kernel, stride, padding, dilation, out, image_hw):
        (kh, kw), (oh, ow), (h, w) = kernel, out, image_hw
        self.rows_host, rows_inside = _window_positions(oh, kh, stride[0], padding[0], dilation[0], h)
        self.cols_host, cols_inside = _window_positions(ow, kw, stride[1], padding[1], dilation[1], w)
        self.inside_host = rows_inside[:, None, :, None] & cols_inside[None, :, None, :]  # (kH, kW, OH, OW)
        self._on = {}

    def on(self, device):
        """(rows, cols, inside) on ``device``, copied there the first time only."""
        if device not in self._on:
            self._on[device] = tuple(
                backend.to_device(a, device) for a in (self.rows_host, self.cols_host, self.inside_host)
            )
        return self._on[device]


@functools.lru_cache(maxsize=256)
def _window_geometry(kernel, stride, padding, dilation, out, image_hw):
    """One WindowGeometry per layer shape, kept: a training loop copies its tables to the device once."""
    return WindowGeometry(kernel, stride, padding, dilation, out, image_hw)


def _max_pool_plain(windows, rows, cols, inside, width):
    """The textbook max pool (docs/pooling.md, "Max pooling"): the max of every window,
    and where it sits as the flat position ``row * W + col`` of its input plane.

    windows (N, C, kH, kW, OH, OW): the view of x padded with -inf; rows (kH, OH) and
    cols (kW, OW): the image row of kernel row i in output row oh, the image column of
    kernel column j in output column ow; inside (kH, kW, OH, OW): that position is in
    the image, not padding."""
    xp = backend.get_array_module(windows)
    n, c, kh, kw, oh, ow = windows.shape
    window = windows.reshape(n, c, kh * kw, oh, ow)  # (N, C, kH*kW, OH, OW): offset i*kW + j, a copy
    values = window.max(axis=2)  # (N, C, OH, OW); a window holding NaN gives NaN

    # argmax over the window, as PyTorch's CPU kernel picks it: the first offset holding the max
    # (row-major; never padding, which ties with an image of -inf) ...
    at_max = (window == values[:, :, None]) & inside.reshape(kh * kw, oh, ow)
    offset = xp.argmax(at_max, axis=2)  # (N, C, OH, OW)
    # ... and in a window holding NaN its last NaN (the kernel moves to every NaN it meets)
    last_nan = kh * kw - 1 - xp.argmax(xp.isnan(window)[:, :, ::-1], axis=2)
    offset = xp.where(xp.isnan(values), last_nan, offset)

    i, j = offset // kw, offset % kw  # (N, C, OH, OW) kernel row and column of the max
    row = rows[i, xp.arange(oh)[:, None]]  # (N, C, OH, OW) image row of the max
    col = cols[j, xp.arange(ow)]  # (N, C, OH, OW) image column of the max
    return values, row * width + col


# The fast version: the same values and indices as a running max over the kH*kW kernel
# offsets, each a strided (N, C, OH, OW) slice of the windows (a loop over the kernel, never
# over pixels). It never copies the (N, C, kH*kW, OH, OW) windows, and it moves the index
# with one integer multiply-add instead of a compare, an argmax and gathers over that copy.
# Measured (python -m benchmarks.reference, (32, 64, 32, 32) float32, forward + backward): 1.9x
# faster with 2x2 windows (and unpooling), 1.8x with 3x3 stride 2 (docs/pooling.md, "What the fast
# version changes and why").
def _max_pool_fast(windows, rows, cols, inside, width, has_nan, inside_host):
    xp = backend.get_array_module(windows)
    kh, kw = windows.shape[2:4]
    values = indices = seen = seen_host = None
    for i in range(kh):
        for j in range(kw):
            candidate = windows[:, :, i, j]  # (N, C, OH, OW) strided slice
            here = (rows[i][:, None] * width + cols[j][None, :]).astype(xp.int64)  # (OH, OW) flat position
            if values is None:
                values, indices = candidate.copy(), xp.broadcast_to(here, candidate.shape)
                seen, seen_host = inside[0, 0], inside_host[0, 0]
                continue
            better = _moves_the_max(candidate, values, has_nan)
            if not (inside_host[i, j].all() and seen_host.all()):  # a window near the border (host-known)
                better, seen = _never_to_padding(better, seen, inside[i, j])
                seen_host = seen_host | inside_host[i, j]
            indices = indices + better * (here - indices)  # select without a branch, exact for ints
            values = xp.maximum(values, candidate)  # propagates NaN
    return values, indices


def _moves_the_max(candidate, values, has_nan):
    """Where the running max's index moves to this offset: a strictly larger value (so ties
    keep the first position), or any NaN (so the last NaN wins, as in PyTorch's CPU kernel)."""
    better = candidate > values
    if has_nan:
        better |= backend.get_array_module(candidate).isnan(candidate)
    return better


def _never_to_padding(better, seen, inside):
    """Keep the index off padding: it moves to an image position whenever it has only seen
    padding so far, and never to a padding position. ``seen`` (OH, OW): some image position
    was already visited. Called only for offsets whose windows touch padding."""
    return (better | ~seen) & inside, seen | inside


class MaxPool2d(Function):
    """values[n, c, oh, ow] = max of x over the window; indices = where it is, as row * W + col.

    Backward: only the argmax influenced the output, so the whole upstream gradient
    goes there, added up where windows overlap (docs/pooling.md, "Max pooling").
    """

    def __init__(self, kernel, stride, padding, dilation, out):
        self.kernel, self.stride, self.padding, self.dilation, self.out = kernel, stride, padding, dilation, out

    def forward(self, x):
        xp = backend.get_array_module(x)
        w = x.shape[3]
        geometry = _window_geometry(self.kernel, self.stride, self.padding, self.dilation, self.out, x.shape[2:])
        if not geometry.inside_host.any(axis=(0, 1)).all():
            raise ValueError(
                f"max_pool2d: with padding {self.padding} and dilation {self.dilation}, a window over the input "
                f"of shape {tuple(x.shape)} sees only padding; reduce the padding or the dilation"
            )
        rows, cols, inside = geometry.on(backend.device_of(x))
        padded = _pad_for_windows(x, self.kernel, self.stride, self.padding, self.dilation, self.out, -math.inf)
        windows = sliding_windows(padded, self.kernel, self.stride, self.dilation)  # (N, C, kH, kW, OH, OW) view
        if reference_kernels_enabled():
            values, indices = _max_pool_plain(windows, rows, cols, inside, w)
        else:
            # Whether x holds a NaN is cheap to ask on the CPU; on a GPU it is a sync, so there the
            # NaN test runs at every offset instead.
            has_nan = bool(xp.isnan(x).any()) if xp is np else True
            values, indices = _max_pool_fast(windows, rows, cols, inside, w, has_nan, geometry.inside_host)
        self.indices = xp.ascontiguousarray(indices, dtype=xp.int64)
        return values, self.indices

    def backward(self, gy, g_indices):
        x = self.inputs[0]
        return MaxPool2dBackward(self.indices)(gy, x)


class MaxPool2dBackward(Function):
    """g_x = zeros (N, C, H, W), then g_x.plane[indices] += g: PlaneScatterAdd of g, with x
    as a second input, like PyTorch's max_pool2d_with_indices_backward(grad, self, ..., indices).

    Its derivative w.r.t. x is zero (the argmax is constant almost everywhere), but x stays
    in the gradient's graph: a parameter in front of the pool gets a zero gradient from a
    gradient penalty, as in PyTorch, not None (docs/pooling.md, "Double backward")."""

    def __init__(self, indices):
        self.indices = indices

    def forward(self, g, x):
        return _into_planes(g, self.indices, x.shape[2:], accumulate=True)

    def backward(self, gz):
        x = self.inputs[1]
        gg = PlaneGather(self.indices)(gz) if self.needs_input_grad[0] else None
        gx = None
        if self.needs_input_grad[1]:  # zero: g_x does not change as x moves (away from ties)
            gx = Tensor(backend.get_array_module(gz.data).zeros(x.shape, dtype=x.dtype))
        return gg, gx


# ---- the plane scatter and gather that max pooling and unpooling share -------------
def _plane_index(indices):
    """The index (n, c, indices) that reads or writes, in an array (N, C, H*W), the element
    indices[n, c, ...] of plane (n, c): three arrays that broadcast to indices' shape."""
    xp = backend.get_array_module(indices)
    n, c = indices.shape[:2]
    extra = (1,) * (indices.ndim - 2)
    return xp.arange(n).reshape(n, 1, *extra), xp.arange(c).reshape(1, c, *extra), indices


def _flat_index(indices, plane_size):
    """Positions in the flattened (N * C * H * W,) array of the elements ``indices`` (N, C, ...)
    name in their planes: plane (n, c) starts at (n * C + c) * H * W."""
    xp = backend.get_array_module(indices)
    n, c = indices.shape[:2]
    starts = (xp.arange(n * c, dtype=xp.int64) * plane_size).reshape(n, c, *([1] * (indices.ndim - 2)))
    return (indices + starts).reshape(-1)


def _last_writes(positions, values, spare):
    """The writes ``z[positions] = values`` along the last axis of positions and values (..., L),
    made deterministic: a position written more than once keeps the LAST of its writes (PyTorch's
    CPU rule), the others are sent to ``spare``, a slot that the caller adds and then drops.
    Returns (positions, values), reordered, each position but ``spare`` once per row.

    Why: when an assignment names a position twice, a GPU keeps an undefined one of the values
    (its threads write at once). A stable sort by position puts the writes to each position
    together, in their original order; the last of each run is the one kept."""
    xp = backend.get_array_module(positions)
    order = xp.argsort(positions, axis=-1, kind="stable")
    positions = xp.take_along_axis(positions, order, axis=-1)
    values = xp.take_along_axis(values, order, axis=-1)
    last = xp.ones(positions.shape, dtype=bool)
    last[..., :-1] = positions[..., 1:] != positions[..., :-1]  # the next write goes elsewhere
    return xp.where(last, positions, spare), values


def _repeats(flat, total):
    """Whether a position occurs twice in the NumPy array ``flat`` of positions in [0, total)."""
    marks = np.zeros(total, dtype=bool)
    marks[flat] = True  # every write is the same True: no matter which lands
    return int(marks.sum()) < flat.size


def _into_planes(values, indices, plane, accumulate):
    """zeros (N, C, *plane), then each of values (N, C, ...) written at its plane position in
    ``indices`` (N, C, ...): added up where an index repeats if ``accumulate``, else assigned,
    the last value in the plane's row-major order winning where an index repeats."""
    xp = backend.get_array_module(values)
    n, c = values.shape[:2]
    size = plane[0] * plane[1]
    if reference_kernels_enabled():  # plain: index (n, c, position) into (N, C, H*W)
        if accumulate:
            z = xp.zeros((n, c, size), dtype=values.dtype)
            backend.scatter_add(z, _plane_index(indices), values)
            return z.reshape(n, c, *plane)
        z = xp.zeros((n, c, size + 1), dtype=values.dtype)  # column ``size``: the spare slot
        positions, values = _last_writes(indices.reshape(n, c, -1), values.reshape(n, c, -1), size)
        z[_plane_index(positions)] = values
        return z[:, :, :size].reshape(n, c, *plane)
    # fast: one 1-d index into the flattened array (N*C*H*W,), which NumPy scatters into
    # (np.add.at) and gathers from (take) much faster than through three broadcast index arrays
    flat = _flat_index(indices, size)
    if accumulate:
        z = xp.zeros(n * c * size, dtype=values.dtype)
        backend.scatter_add(z, flat, values.reshape(-1))
        return z.reshape(n, c, *plane)
    z = xp.zeros(n * c * size + 1, dtype=values.dtype)  # the last element: the spare slot
    values = values.reshape(-1)
    # Whether an index repeats is cheap to ask on the CPU; on a GPU it is a sync, so there the
    # writes are always sorted (fast there; on the CPU the sort would make unpooling 4x slower).
    if xp is not np or _repeats(flat, n * c * size):
        flat, values = _last_writes(flat, values, n * c * size)
    z[flat] = values
    return z[:-1].reshape(n, c, *plane)


def _from_planes(x, indices):
    """x (N, C, H, W) read at the plane positions indices (N, C, ...): an array of indices' shape."""
    xp = backend.get_array_module(x)
    n, c, h, w = x.shape
    if reference_kernels_enabled():
        return x.reshape(n, c, h * w)[_plane_index(indices)]
    return xp.take(x.reshape(-1), _flat_index(indices, h * w)).reshape(indices.shape)


class PlaneScatterAdd(Function):
    """z = zeros (N, C, H, W), then z.plane[indices] += g: repeated indices add up.

    The transpose of PlaneGather (and its backward)."""

    def __init__(self, indices, plane):
        self.indices, self.plane = indices, tuple(plane)

    def forward(self, g):
        return _into_planes(g, self.indices, self.plane, accumulate=True)

    def backward(self, gz):
        return PlaneGather(self.indices)(gz)


class PlaneGather(Function):
    """y = x.plane[indices]: y[n, c, ...] = x[n, c].flatten()[indices[n, c, ...]].

    Reads each element as many times as it is indexed, so the backward scatter-adds."""

    def __init__(self, indices):
        self.indices = indices

    def forward(self, x):
        return _from_planes(x, self.indices)

    def backward(self, gy):
        return PlaneScatterAdd(self.indices, self.inputs[0].shape[2:])(gy)


class MaxUnpool2d(Function):
    """z = zeros (N, C, H_out, W_out), then z.plane[indices] = x (docs/pooling.md, "Max unpooling").

    Where an index repeats within a plane, the last value in the plane's row-major order is
    kept, on every device (PyTorch's CPU kernel; on a GPU, PyTorch's result is undefined).
    Backward: each output position that got a value reads its gradient back, a
    gather at the same indices (PyTorch's rule, also where an index repeats)."""

    def __init__(self, indices, plane):
        self.indices, self.plane = indices, tuple(plane)

    def forward(self, x):
        return _into_planes(x, self.indices, self.plane, accumulate=False)

    def backward(self, gz):
        return PlaneGather(self.indices)(gz)


# ---- average pooling: forward sums each window, backward spreads over it ----------
class AvgPool2d(Function):
    """y[n, c, oh, ow] = (sum of x_padded over the window) / divisor[oh, ow]
    (docs/pooling.md, "Average pooling"); its transpose is AvgPool2dTranspose."""

    def __init__(self, kernel, stride, padding, out, divisor, shape):
        self.kernel, self.stride, self.padding, self.out = kernel, stride, padding, out
        self.divisor, self.shape = divisor, shape  # divisor (OH, OW); shape: the input's (N, C, H, W)

    def forward(self, x):
        padded = _pad_for_windows(x, self.kernel, self.stride, self.padding, (1, 1), self.out, 0.0)
        windows = sliding_windows(padded, self.kernel, self.stride, (1, 1))  # (N, C, kH, kW, OH, OW)
        return windows.sum(axis=(2, 3)) / self.divisor

    def backward(self, gy):
        return AvgPool2dTranspose(self.kernel, self.stride, self.padding, self.out, self.divisor, self.shape)(gy)


class AvgPool2dTranspose(Function):
    """g_x: every window receives g / divisor at each of its kH*kW pixels, added where windows overlap."""

    def __init__(self, kernel, stride, padding, out, divisor, shape):
        self.kernel, self.stride, self.padding, self.out = kernel, stride, padding, out
        self.divisor, self.shape = divisor, shape

    def forward(self, g):
        xp = backend.get_array_module(g)
        (kh, kw), (sh, sw), (ph, pw), (oh, ow) = self.kernel, self.stride, self.padding, self.out
        n, c, h, w = self.shape
        share = g / self.divisor  # (N, C, OH, OW): what each pixel of a window receives
        hp, wp = max(h + 2 * ph, (oh - 1) * sh + kh), max(w + 2 * pw, (ow - 1) * sw + kw)
        padded = xp.zeros((n, c, hp, wp), dtype=g.dtype)
        for i in range(kh):  # kernel offset (i, j) of every window at once: a strided slice
            for j in range(kw):
                padded[:, :, i : i + (oh - 1) * sh + 1 : sh, j : j + (ow - 1) * sw + 1 : sw] += share
        return padded[:, :, ph : ph + h, pw : pw + w]  # what landed on padding is dropped

    def backward(self, gx):
        return AvgPool2d(self.kernel, self.stride, self.padding, self.out, self.divisor, self.shape)(gx)


def _avg_divisor(size, out, kernel, stride, padding, count_include_pad):
    """PyTorch's divisor along one axis, for each of the ``out`` windows: (out,).

    A window is cut where it reaches past the right padding (ceil_mode); with
    count_include_pad it counts the padding it covers, without it only image pixels."""
    start = [o * stride - padding for o in range(out)]
    end = [min(s + kernel, size + padding) for s in start]
    if count_include_pad:
        return [e - s for s, e in zip(start, end)]
    return [min(e, size) - max(s, 0) for s, e in zip(start, end)]


# ---- separable linear resampling: y = A_h x A_w^T ---------------------------------
class Resample2d(Function):
    """y[n, c] = A_h @ x[n, c] @ A_w^T for every plane; A_h (OH, H), A_w (OW, W).

    Bilinear interpolation and adaptive average pooling are such maps. The
    backward is the transposed map, g_x = A_h^T g A_w: the same op with
    transposed matrices (docs/pooling.md, "Interpolation as a matrix")."""

    def __init__(self, a_h, a_w):
        self.a_h, self.a_w = a_h, a_w

    def forward(self, x):
        return self.a_h @ x @ self.a_w.T  # (OH, H) @ (N, C, H, W) @ (W, OW) -> (N, C, OH, OW)

    def backward(self, gy):
        return Resample2d(self.a_h.T, self.a_w.T)(gy)


def _one_hot_rows(index, size, xp):
    """(len(index), size) floats: row o is 1 at column index[o], 0 elsewhere."""
    return (xp.arange(size)[None, :] == index[:, None]).astype(xp.float64)


def _bilinear_matrix(size, out, align_corners, scale, xp):
    """A (out, size): row o holds the weights of input pixels i0 and i1 for output pixel o,
    with PyTorch's source coordinate (docs/pooling.md, "Bilinear interpolation").
    An axis whose size does not change is copied, whatever the scale_factor, as in PyTorch."""
    if out == size:
        return xp.eye(size, dtype=xp.float64)
    dst = xp.arange(out, dtype=xp.float64)
    if align_corners:  # the corner pixels' centres line up: 0 -> 0 and out-1 -> size-1
        ratio = (size - 1) / (out - 1) if out > 1 else 0.0
        src = ratio * dst
    else:  # pixel centres line up: dst + 1/2 = (src + 1/2) * out / size; clamped at 0
        ratio = 1.0 / scale if scale is not None else size / out
        src = xp.maximum(ratio * (dst + 0.5) - 0.5, 0.0)
    i0 = xp.minimum(xp.floor(src).astype(xp.int64), size - 1)
    i1 = xp.minimum(i0 + 1, size - 1)
    lam = xp.clip(src - i0, 0.0, 1.0)  # the weight of i1
    return (1 - lam)[:, None] * _one_hot_rows(i0, size, xp) + lam[:, None] * _one_hot_rows(i1, size, xp)


def _nearest_source(size, out, scale, xp):
    """PyTorch's legacy 'nearest' source index of each output pixel: (out,) int64.

    src = floor(dst * ratio), ratio = 1 / scale_factor if given, else size / out,
    computed in float32 as PyTorch does (it decides some floors), and exactly
    dst (out == size) or dst // 2 (out == 2 size) in PyTorch's two shortcuts.
    This is the map of PyTorch's backward and of its forward for OH + OW <= 128;
    for larger outputs PyTorch's CPU forward switches to a kernel with another
    rounding and no shortcuts, so there its gradient is not its forward's
    transpose. tinydl uses this one map both ways (docs/pooling.md, "Nearest")."""
    dst = xp.arange(out)
    if out == size:
        return dst
    if out == 2 * size:
        return dst // 2
    ratio = xp.float32(1.0 / scale) if scale is not None else xp.float32(size) / xp.float32(out)
    return xp.minimum(xp.floor(dst.astype(xp.float32) * ratio).astype(xp.int64), size - 1)


def _adaptive_matrix(size, out, xp):
    """A (out, size): row o averages input pixels floor(o size / out) .. ceil((o + 1) size / out) - 1."""
    o = xp.arange(out)
    start = (o * size) // out
    end = ((o + 1) * size + out - 1) // out
    i = xp.arange(size)[None, :]
    window = (i >= start[:, None]) & (i < end[:, None])
    return window / (end - start)[:, None].astype(xp.float64)


# ---- the functions users call -------------------------------------------------
def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
    """Max over each kH x kW window of x (N, C, H, W) or (C, H, W); stride defaults to kernel_size.

    Padding counts as -inf. With return_indices, also the argmax of each window
    as a flat position row * W + col in its input plane (for max_unpool2d).
    A window that would see only padding (possible with dilation) is an error,
    where PyTorch returns -inf with an index outside the plane."""
    batched, added = _check_image(x, "max_pool2d")
    kernel, stride, padding, dilation, out = _pool_geometry(
        batched, kernel_size, stride, padding, dilation, ceil_mode, "max_pool2d"
    )
    values, indices = MaxPool2d(kernel, stride, padding, dilation, out)(batched)
    if added:
        values, indices = values.squeeze(0), indices.squeeze(0)
    return (values, indices) if return_indices else values


def _unpool_size(x, kernel, stride, padding, output_size):
    """PyTorch's output plane of max_unpool2d: (H_in - 1) * stride - 2 * padding + kernel
    per axis, or ``output_size`` (last two entries used) if it is within one stride of that."""
    default = tuple((x.shape[-2 + a] - 1) * stride[a] - 2 * padding[a] + kernel[a] for a in (0, 1))
    if output_size is None:
        size = default
    else:
        size = tuple(int(s) for s in output_size)
        if len(size) == 4 or (len(size) == 3 and x.ndim == 3):
            size = size[-2:]
        if len(size) != 2:
            raise ValueError(
                f"max_unpool2d: output_size must be (H, W) or the full output shape, got {tuple(output_size)} "
                f"for an input of shape {tuple(x.shape)}"
            )
        for a in (0, 1):
            low, high = default[a] - stride[a], default[a] + stride[a]
            if not low < size[a] < high:
                raise ValueError(
                    f"max_unpool2d: output_size {size} is invalid for an input of shape {tuple(x.shape)}: "
                    f"dim {a} must be strictly between {low} and {high}"
                )
    if min(size) < 1:
        raise ValueError(f"max_unpool2d: the output plane {size} for an input of shape {tuple(x.shape)} is empty")
    return size


def max_unpool2d(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Put each value of x (N, C, H, W) at its remembered position ``indices`` (from
    max_pool2d) in a zero plane; every other position stays 0."""
    batched, added = _check_image(x, "max_unpool2d")
    kernel = _positive_pair(kernel_size, "kernel_size", "max_unpool2d")
    stride = _positive_pair(kernel if stride is None else stride, "stride", "max_unpool2d")
    padding = pair(padding, "padding", "max_unpool2d")
    plane = _unpool_size(x, kernel, stride, padding, output_size)

    xp = backend.get_array_module(batched.data)
    index = indices.data if isinstance(indices, Tensor) else xp.asarray(indices)
    if tuple(index.shape) != tuple(x.shape):
        raise ValueError(
            f"max_unpool2d: indices of shape {tuple(index.shape)} must have the input's shape {tuple(x.shape)}"
        )
    if index.dtype.kind not in "iu":
        raise TypeError(f"max_unpool2d: indices must be integers, got dtype {index.dtype}")
    if index.size:  # read at once on the CPU, with the next read on a GPU (device_checks.py)
        check(((index < 0) | (index >= plane[0] * plane[1])).any(), lambda: ValueError(
            f"max_unpool2d: indices must lie in [0, {plane[0] * plane[1]}) for an output plane {plane}, "
            f"got values in [{int(index.min())}, {int(index.max())}] (input of shape {tuple(x.shape)})"
        ))
    index = index.reshape(batched.shape).astype(xp.int64)
    y = MaxUnpool2d(index, plane)(batched)
    return y.squeeze(0) if added else y


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):
    """Mean over each kH x kW window of x (N, C, H, W) or (C, H, W); padding adds zeros,
    which count in the divisor unless count_include_pad=False; divisor_override
    replaces the divisor."""
    batched, added = _check_image(x, "avg_pool2d")
    kernel, stride, padding, _, out = _pool_geometry(batched, kernel_size, stride, padding, 1, ceil_mode, "avg_pool2d")
    xp = backend.get_array_module(batched.data)
    if divisor_override is not None:
        if divisor_override == 0:
            raise ValueError("avg_pool2d: divisor_override must not be zero")
        divisor = xp.full(out, divisor_override, dtype=x.dtype)
    else:
        h, w = batched.shape[2:]
        count_h = _avg_divisor(h, out[0], kernel[0], stride[0], padding[0], count_include_pad)
        count_w = _avg_divisor(w, out[1], kernel[1], stride[1], padding[1], count_include_pad)
        divisor = xp.asarray(count_h, dtype=x.dtype)[:, None] * xp.asarray(count_w, dtype=x.dtype)[None, :]
    y = AvgPool2d(kernel, stride, padding, out, divisor, tuple(batched.shape))(batched)
    return y.squeeze(0) if added else y


def adaptive_avg_pool2d(x, output_size):
    """Average x (N, C, H, W) or (C, H, W) into an output_size grid of windows that cover
    it evenly (PyTorch's start/end rule); a None entry keeps that input size."""
    batched, added = _check_image(x, "adaptive_avg_pool2d")
    size = (output_size, output_size) if output_size is None or isinstance(output_size, int) else tuple(output_size)
    if len(size) != 2:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be an int or a pair, got {output_size}")
    h, w = batched.shape[2:]
    out = (h if size[0] is None else int(size[0]), w if size[1] is None else int(size[1]))
    if min(out) < 1:
        raise ValueError(
            f"adaptive_avg_pool2d: output_size must be positive, got {out} for an input of shape {tuple(x.shape)}"
        )
    xp = backend.get_array_module(batched.data)
    a_h = _adaptive_matrix(h, out[0], xp).astype(x.dtype)
    a_w = _adaptive_matrix(w, out[1], xp).astype(x.dtype)
    y = Resample2d(a_h, a_w)(batched)
    return y.squeeze(0) if added else y


INTERPOLATE_MODES = ("nearest", "bilinear")


def _interpolate_size(x, size, scale_factor, recompute_scale_factor):
    """The output plane (OH, OW) and the scale factors the source index uses (None: size / out)."""
    if (size is None) == (scale_factor is None):
        raise ValueError(
            "interpolate: give exactly one of size and scale_factor "
            f"(got size={size}, scale_factor={scale_factor}) for an input of shape {tuple(x.shape)}"
        )
    h, w = x.shape[2:]
    if size is not None:
        out = pair(size, "size", "interpolate")
        if min(out) < 1:
            raise ValueError(f"interpolate: size must be positive, got {out} for an input of shape {tuple(x.shape)}")
        return out, (None, None)
    scales = (scale_factor, scale_factor) if isinstance(scale_factor, (int, float)) else tuple(scale_factor)
    if len(scales) != 2 or min(scales) <= 0:
        raise ValueError(f"interpolate: scale_factor must be a positive number or pair, got {scale_factor}")
    scales = tuple(float(s) for s in scales)
    out = (math.floor(h * scales[0]), math.floor(w * scales[1]))
    if min(out) < 1:
        raise ValueError(
            f"interpolate: scale_factor {scale_factor} turns an input of shape {tuple(x.shape)} "
            f"into an empty output {out}"
        )
    return out, ((None, None) if recompute_scale_factor else scales)


def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None):
    """Resize x (N, C, H, W) to ``size`` or by ``scale_factor`` (output floor(H * scale)).

    'nearest' copies the pixel at floor(dst * H / OH) (PyTorch's legacy nearest);
    'bilinear' mixes the two nearest pixels along each axis, with align_corners
    False unless given."""
    if not isinstance(x, Tensor) or x.ndim != 4:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"interpolate: expected a 4-d input (N, C, H, W), got {shape}")
    if mode not in INTERPOLATE_MODES:
        raise ValueError(f"interpolate: mode must be one of {INTERPOLATE_MODES}, got {mode!r}")
    if mode == "nearest" and align_corners is not None:
        raise ValueError("interpolate: align_corners can only be set with mode='bilinear', not 'nearest'")
    (oh, ow), (scale_h, scale_w) = _interpolate_size(x, size, scale_factor, recompute_scale_factor)
    h, w = x.shape[2:]
    xp = backend.get_array_module(x.data)
    if mode == "nearest":  # one source pixel per output pixel: indexing (docs/pooling.md, "Nearest")
        rows, cols = _nearest_source(h, oh, scale_h, xp), _nearest_source(w, ow, scale_w, xp)
        return getitem(x, (slice(None), slice(None), rows[:, None], cols[None, :]), check_bounds=False)  # in range
    align_corners = bool(align_corners)
    a_h = _bilinear_matrix(h, oh, align_corners, scale_h, xp).astype(x.dtype)
    a_w = _bilinear_matrix(w, ow, align_corners, scale_w, xp).astype(x.dtype)
    return Resample2d(a_h, a_w)(x)

