"""Region-of-interest pooling: ``roi_pool`` (Fast R-CNN) and ``roi_align`` (Mask R-CNN).

Both cut a fixed (oh, ow) grid of features out of every box, so that boxes of
any size feed the same detection head.  Boxes are rows
``[batch_index, x1, y1, x2, y2]`` in input-image coordinates, and
``spatial_scale`` maps them onto the feature map (0.25 for a stride-4 map).
The semantics are torchvision.ops' CPU kernels, down to the rounding rules;
docs/roi.md derives everything here.

* ``roi_pool``, plain version first: a loop over boxes, each box vectorized
  over its bins.  It takes the max over every bin of the box's crop and sends
  each bin's gradient to the pixel that won (``BoxScatterAdd``, whose
  backward is the gather ``BoxGather``).  Its fast version, used unless
  ``td.use_reference_kernels()`` is on, does every bin of every box at once
  through one gather from a *pixel table* (x laid out as (N*H*W, C)).
* ``roi_align`` has one version, a loop over boxes: it is linear in x and
  separable, box k's output is ``A_y[k] @ x[batch[k]] @ A_x[k].T`` with one
  (oh, H) and one (ow, W) matrix of averaged bilinear weights, and its
  gradient the transposed product (``RoIAlign`` <-> ``RoIAlignTransposed``).
  This is also faster than the batched gather it replaced (docs/roi.md, 3.4).
  Only the samples of a bin that land on the image are computed (``_samples_on_image``),
  so a huge box costs no more memory than one the image's size.

Neither op sends a gradient to the boxes.
"""
import numbers

import numpy as np

from .. import backend
from ..autograd import Function
from ..kernels import reference_kernels_enabled
from ..tensor import Tensor
from .shape import IndexAdd


# ---- RoI pooling: quantize the box, quantize the bins, take the max (docs/roi.md, section 2) ----
def _round_half_away(v, xp):
    """C's round(): halves go away from zero (NumPy's round sends them to the even neighbour)."""
    a = xp.abs(v)
    r = xp.floor(a)
    r = r + (a - r >= 0.5)  # a - floor(a) is exact, so this is exact too
    return xp.copysign(r, v)


def _pool_bin_edges(start, size, out, limit, xp):
    """Integer bins [lo, hi) along one axis for every box.

    start: (K,) float64 holding whole numbers, the rounded box start; size: (K,) float, its size
    in pixels (>= 1).  Bin p of a box covers floor(p * size/out) .. ceil((p+1) * size/out), shifted
    by the box start and clipped to the image [0, limit].  Returns lo, hi (K, out) int.
    The sums stay in float64 until clipped, so that a box corner past int64 (1e30) cannot overflow;
    below 2**53 they are exact, the integer arithmetic of torchvision.
    """
    bin_size = size / out  # (K,)
    p = xp.arange(out, dtype=bin_size.dtype)
    with np.errstate(over="ignore"):  # a bin edge past the dtype's range is inf, clipped to the image below
        lo = xp.floor(p * bin_size[:, None]) + start[:, None]
        hi = xp.ceil((p + 1) * bin_size[:, None]) + start[:, None]
    return xp.clip(lo, 0, limit).astype(np.int64), xp.clip(hi, 0, limit).astype(np.int64)


def _roi_pool_boxes(rois, output_size, spatial_scale, shape, xp):
    """Every box's image index and its bins: batch (K,) int, rows [h_lo, h_hi) (K, oh) and
    columns [w_lo, w_hi) (K, ow) of every bin, clipped to the image (docs/roi.md, section 2.1)."""
    _, _, height, width = shape
    oh, ow = output_size
    batch = rois[:, 0].astype(np.int64)  # (K,)
    # the rounded corners, whole numbers kept in float64 (an int64 would overflow past 9.2e18)
    x1, y1, x2, y2 = (_round_half_away(rois[:, i] * spatial_scale, xp).astype(np.float64) for i in range(1, 5))
    roi_w = xp.maximum(x2 - x1 + 1, 1)  # an inverted box is forced to 1 pixel
    roi_h = xp.maximum(y2 - y1 + 1, 1)
    largest = np.finfo(rois.dtype).max  # a side past the dtype's range (6e38 in float32) is kept finite
    h_lo, h_hi = _pool_bin_edges(y1, xp.minimum(roi_h, largest).astype(rois.dtype), oh, height, xp)  # (K, oh)
    w_lo, w_hi = _pool_bin_edges(x1, xp.minimum(roi_w, largest).astype(rois.dtype), ow, width, xp)  # (K, ow)
    return batch, h_lo, h_hi, w_lo, w_hi


def _nonempty_bins(h_lo, h_hi, w_lo, w_hi):
    """(K, oh, ow) bool: the bin has at least one pixel (a bin clipped away entirely is empty and gives 0)."""
    return (h_hi > h_lo)[:, :, None] & (w_hi > w_lo)[:, None, :]


def _roi_pool_one_box(image, h_lo, h_hi, w_lo, w_hi):
    """The max of every bin of one box, and where it is.

    image (C, H, W); the box's bins cover rows [h_lo, h_hi) (oh,) and columns [w_lo, w_hi) (ow,).
    Returns y (C, oh, ow), 0 where a bin is empty, and the row and column of each max (C, oh, ow).
    """
    xp = backend.get_array_module(image)
    c = image.shape[0]
    oh, ow = len(h_lo), len(w_lo)
    top, bottom, left, right = int(h_lo.min()), int(h_hi.max()), int(w_lo.min()), int(w_hi.max())
    if bottom <= top or right <= left:  # the box lies off the image: every bin is empty
        zeros = xp.zeros((c, oh, ow), dtype=np.int64)
        return xp.zeros((c, oh, ow), dtype=image.dtype), zeros, zeros
    crop = image[:, top:bottom, left:right]  # (C, h, w): every pixel any bin of the box covers
    h, w = crop.shape[1:]
    rows, cols = xp.arange(top, bottom), xp.arange(left, right)
    in_rows = (rows >= h_lo[:, None]) & (rows < h_hi[:, None])  # (oh, h): row r is in bin ph
    in_cols = (cols >= w_lo[:, None]) & (cols < w_hi[:, None])  # (ow, w)
    in_bin = (in_rows[:, None, :, None] & in_cols[None, :, None, :]).reshape(oh, ow, h * w)
    values = xp.where(in_bin, crop.reshape(c, 1, 1, h * w), -xp.inf)  # (C, oh, ow, h*w)

    best = values.argmax(axis=-1)  # (C, oh, ow): the first max in row-major order, as torchvision's '>' scan
    # a bin whose values are all -inf: argmax may land outside it; take its first pixel, which ties
    best_in_bin = xp.take_along_axis(xp.broadcast_to(in_bin, values.shape), best[..., None], axis=-1)[..., 0]
    best = xp.where(best_in_bin, best, in_bin.argmax(axis=-1))
    nonempty = in_bin.any(axis=-1)  # (oh, ow): a bin clipped away entirely is empty and gives 0
    y = xp.where(nonempty, xp.take_along_axis(values, best[..., None], axis=-1)[..., 0], 0)
    return y, top + best // w, left + best % w


class RoIPoolPerBox(Function):
    """The plain RoI pool: y[k] = max over each bin of box k's crop of x[batch[k]], a loop over
    boxes; the gradient goes to the pixel that won (docs/roi.md, section 2)."""

    def __init__(self, batch, h_lo, h_hi, w_lo, w_hi):
        self.batch, self.h_lo, self.h_hi, self.w_lo, self.w_hi = batch, h_lo, h_hi, w_lo, w_hi

    def forward(self, x):  # x (N, C, H, W)
        xp = backend.get_array_module(x)
        k, c, oh, ow = len(self.batch), x.shape[1], self.h_lo.shape[1], self.w_lo.shape[1]
        y = xp.zeros((k, c, oh, ow), dtype=x.dtype)
        self.rows = xp.zeros((k, c, oh, ow), dtype=np.int64)  # where each max is in x[batch[k]]
        self.cols = xp.zeros((k, c, oh, ow), dtype=np.int64)
        for i in range(k):
            b = int(self.batch[i])
            y[i], self.rows[i], self.cols[i] = _roi_pool_one_box(
                x[b], self.h_lo[i], self.h_hi[i], self.w_lo[i], self.w_hi[i]
            )
        nonempty = _nonempty_bins(self.h_lo, self.h_hi, self.w_lo, self.w_hi)  # (K, oh, ow)
        self.taken = nonempty[:, None].astype(x.dtype)  # (K, 1, oh, ow): an empty bin took no pixel
        return y

    def backward(self, gy):
        return BoxScatterAdd(self.batch, self.rows, self.cols, self.inputs[0].shape)(gy * Tensor(self.taken))


class BoxScatterAdd(Function):
    """gx = zeros (N, C, H, W), then for every box k: gx[batch[k], c, rows[k], cols[k]] += g[k]
    (g, rows, cols (K, C, oh, ow)); a pixel that won several bins or boxes sums their gradients.
    The adjoint of BoxGather, which is its backward."""

    def __init__(self, batch, rows, cols, shape):
        self.batch, self.rows, self.cols, self.shape = batch, rows, cols, tuple(shape)

    def forward(self, g):
        xp = backend.get_array_module(g)
        gx = xp.zeros(self.shape, dtype=g.dtype)
        channel = xp.arange(self.shape[1])[:, None, None]  # (C, 1, 1)
        for k in range(len(self.batch)):
            backend.scatter_add(gx[int(self.batch[k])], (channel, self.rows[k], self.cols[k]), g[k])
        return gx

    def backward(self, gz):
        return BoxGather(self.batch, self.rows, self.cols)(gz)


class BoxGather(Function):
    """y[k] = x[batch[k], c, rows[k], cols[k]] for every box k: (K, C, oh, ow). BoxScatterAdd's adjoint."""

    def __init__(self, batch, rows, cols):
        self.batch, self.rows, self.cols = batch, rows, cols

    def forward(self, x):
        xp = backend.get_array_module(x)
        channel = xp.arange(x.shape[1])[:, None, None]
        y = xp.zeros(self.rows.shape, dtype=x.dtype)
        for k in range(len(self.batch)):
            y[k] = x[int(self.batch[k])][channel, self.rows[k], self.cols[k]]
        return y

    def backward(self, gy):
        return BoxScatterAdd(self.batch, self.rows, self.cols, self.inputs[0].shape)(gy)


# ---- RoIAlign: bilinear samples, no quantization (docs/roi.md, section 3) ----
MAX_GRID = 2**53  # samples per bin along an axis; beyond, their count and positions are not exact numbers
MAX_SAMPLES = 2**22  # sample positions one box may read on the image along one axis (out x run): ~250 MB


def _sample_position(start, bin_size, grid, i):
    """Where sample i of bin p sits along one axis, t = start + p * bin_size + (i + 0.5) * bin_size / grid,
    in torchvision's order of operations.  start, bin_size, grid: (K, 1, 1); i: (K, out, G) int."""
    xp = backend.get_array_module(start)
    p = xp.arange(i.shape[1], dtype=start.dtype)[None, :, None]
    n = xp.maximum(grid, 1).astype(start.dtype)  # 1 for an empty grid: no division by 0
    return start + p * bin_size + (i.astype(start.dtype) + 0.5) * bin_size / n


def _first_true(predicate, n, steps, xp):
    """The smallest i in [0, n] (n: an int array) at which ``predicate(i)`` holds, for a predicate that
    is false and then true along i (i = n counts as true): a bisection of ``steps`` halvings per entry."""
    lo, hi = xp.zeros_like(n), n
    for _ in range(steps):
        mid = (lo + hi) // 2
        ok = predicate(mid)
        searching = lo < hi
        hi = xp.where(searching & ok, mid, hi)
        lo = xp.where(searching & ~ok, mid + 1, lo)
    return lo


def _samples_on_image(start, bin_size, grid, out, size, xp):
    """first, end (K, out, 1): the samples i of each bin that can read the image, the t in [-1, size]
    (torchvision's border rule), are those in [first, end).

    t moves one way along i (up if bin_size >= 0, down if not), so they form one run, found by
    bisection.  A box far larger than the image has a huge grid but a short run: the memory of
    ``_bilinear_taps`` follows the image, not the box (torchvision loops, which needs no memory)."""
    s, b, g = start[:, None, None], bin_size[:, None, None], grid[:, None, None]
    count = xp.broadcast_to(xp.maximum(g, 0), (len(start), out, 1))
    rising = b >= 0

    def u(i):  # t, or -t where t falls along i: nondecreasing in i
        t = _sample_position(s, b, g, i)
        return xp.where(rising, t, -t)

    low, high = xp.where(rising, -1, -size), xp.where(rising, size, 1)  # -1 <= t <= size, in terms of u
    steps = int(count.max()).bit_length() + 1 if count.size else 0
    first = _first_true(lambda i: u(i) >= low, count, steps, xp)
    end = _first_true(lambda i: u(i) > high, count, steps, xp)  # written so that a NaN t is in no run
    return first, end


def _bilinear_taps(start, bin_size, grid, first, end, run, size, xp):
    """The samples along one axis that read the image, and their two linear-interpolation taps.

    start, bin_size: (K,) float, where the box starts and how long a bin is (in pixels);
    grid: (K,) int, samples per bin; first, end (K, out, 1): each bin's samples on the image
    (``_samples_on_image``), padded to the longest run G = ``run`` (padding gets weight 0).
    Sample i of bin p sits at

        t = start + p * bin_size + (i + 0.5) * bin_size / grid

    and reads pixels low = floor(t) and high = low + 1 with weights 1 - (t - low) and
    t - low.  torchvision's border rules: t < -1 or t > size contributes 0; t in [-1, 0]
    is clamped to 0; t >= size - 1 reads the last pixel with weight 1.
    Returns taps (K, out, G, 2) int [low, high] and weights (K, out, G, 2).
    """
    i = first + xp.arange(run)  # (K, out, G)
    t = _sample_position(start[:, None, None], bin_size[:, None, None], grid[:, None, None], i)

    used = (i < end) & (t >= -1) & (t <= size)  # written so that a NaN is not used
    t = xp.maximum(xp.where(used, t, 0), 0)
    low = t.astype(np.int64)  # floor, as t >= 0
    last = low >= size - 1
    low = xp.where(last, size - 1, low)
    high = xp.where(last, size - 1, low + 1)
    frac = xp.where(last, 0, t - low.astype(t.dtype))  # at the last pixel, t is moved onto it
    taps = xp.stack([low, high], axis=-1)
    weights = xp.stack([1 - frac, frac], axis=-1) * used[..., None]
    return taps, weights


def _roi_align_boxes(rois, output_size, spatial_scale, sampling_ratio, aligned, xp):
    """Every box's image index, start, bin size and samples per bin, per axis (docs/roi.md, 3.1):
    batch (K,) int; y1, x1, bin_h, bin_w (K,) float; grid_h, grid_w (K,) int."""
    k = len(rois)
    oh, ow = output_size
    batch = rois[:, 0].astype(np.int64)
    offset = 0.5 if aligned else 0.0  # aligned: pixel (h, w) has its centre at (h + 0.5, w + 0.5)
    x1, y1, x2, y2 = (rois[:, i] * spatial_scale - offset for i in range(1, 5))  # no rounding
    with np.errstate(over="ignore"):  # a side past the dtype's range is inf, refused below
        roi_w, roi_h = x2 - x1, y2 - y1
    if not aligned:  # the legacy op forces degenerate and inverted boxes to 1 x 1
        roi_w, roi_h = xp.maximum(roi_w, 1.0), xp.maximum(roi_h, 1.0)
    if sampling_ratio > 0:
        grid_h = grid_w = xp.full(k, sampling_ratio, dtype=np.int64)
    else:  # adaptive: about one sample per pixel of bin, a different count for every box
        grid_h, grid_w = xp.ceil(roi_h / oh), xp.ceil(roi_w / ow)
        too_many = ~((grid_h <= MAX_GRID) & (grid_w <= MAX_GRID))  # written so that NaN is refused too
        if bool(too_many.any()):
            first = int(xp.nonzero(too_many)[0][0])
            raise ValueError(
                f"roi_align: box {first} {backend.to_numpy(rois[first]).tolist()} would need "
                f"({float(grid_h[first]):.3g}, {float(grid_w[first]):.3g}) samples per bin (ceil(box side / output "
                f"side), spatial_scale={spatial_scale}); at most 2**53 are supported: pass a sampling_ratio > 0"
            )
        grid_h, grid_w = grid_h.astype(np.int64), grid_w.astype(np.int64)
    return batch, y1, x1, roi_h / oh, roi_w / ow, grid_h, grid_w


def _sampling_matrices(start, bin_size, grid, first, end, run, size, xp):
    """A (K, out, size) for K boxes along one axis: row p of box k averages the linear-interpolation
    weights of the ``grid[k]`` samples of bin p, so that the bin's value along this axis is
    A[k] @ row_of_pixels.  start, bin_size, grid: (K,) arrays; first, end: their (K, out, 1) runs
    of samples, padded to the same longest ``run`` (``_roi_align_matrices`` groups boxes by it)."""
    K, out = first.shape[:2]
    taps, weights = _bilinear_taps(start, bin_size, grid, first, end, run, size, xp)  # (K, out, G, 2) each
    a = xp.zeros((K, out, size), dtype=weights.dtype)
    boxes = xp.broadcast_to(xp.arange(K)[:, None, None, None], taps.shape)  # (K, out, G, 2)
    bins = xp.broadcast_to(xp.arange(out)[None, :, None, None], taps.shape)
    backend.scatter_add(a, (boxes, bins, taps), weights)  # low == high at the last pixel: the weights add
    return a / xp.maximum(grid, 1).astype(a.dtype)[:, None, None]


def _longest_runs(rois, first, end, sampling_ratio, axis):
    """Every box's longest run of samples on the image along ``axis``, as a host list (one read).
    Refuses a box whose out x run sample positions exceed MAX_SAMPLES: only a huge sampling_ratio
    can ask for that, as adaptive sampling puts at most about 2 samples per pixel."""
    out = first.shape[1]
    runs = backend.to_numpy((end - first).max(axis=(1, 2))).tolist() if out else [0] * len(rois)
    for k, run in enumerate(runs):
        if out * run > MAX_SAMPLES:
            raise ValueError(
                f"roi_align: box {k} {backend.to_numpy(rois[k]).tolist()} would read {out} x {run} sample "
                f"positions along {axis} (sampling_ratio={sampling_ratio}); at most {MAX_SAMPLES}: lower sampling_ratio"
            )
    return runs


def _roi_align_matrices(rois, shape, output_size, spatial_scale, sampling_ratio, aligned, xp):
    """batch (K,), A_y (K, oh, H) and A_x (K, ow, W): box k's output is A_y[k] @ x[batch[k]] @ A_x[k].T.

    The average over the bin's grid_h x grid_w samples of the bilinear weights wy * wx is the
    product of one average per axis, so RoIAlign is separable, like a resize (docs/roi.md, 3.1)."""
    _, _, height, width = shape
    oh, ow = output_size
    batch, y1, x1, bin_h, bin_w, grid_h, grid_w = _roi_align_boxes(
        rois, output_size, spatial_scale, sampling_ratio, aligned, xp
    )
    rows = _samples_on_image(y1, bin_h, grid_h, oh, height, xp)  # (first, end), each (K, oh, 1)
    cols = _samples_on_image(x1, bin_w, grid_w, ow, width, xp)
    a_y = xp.zeros((len(rois), oh, height), dtype=rois.dtype)
    a_x = xp.zeros((len(rois), ow, width), dtype=rois.dtype)
    runs_y = _longest_runs(rois, *rows, sampling_ratio, "y")
    runs_x = _longest_runs(rois, *cols, sampling_ratio, "x")
    for a, start, bin_size, grid, (first, end), runs, size in ((a_y, y1, bin_h, grid_h, rows, runs_y, height),
                                                               (a_x, x1, bin_w, grid_w, cols, runs_x, width)):
        for group in _same_run_groups(runs, first.shape[1]):  # usually one or two groups for all the boxes
            run, group = runs[group[0]], xp.asarray(group)
            a[group] = _sampling_matrices(start[group], bin_size[group], grid[group], first[group], end[group],
                                          run, size, xp)
    return batch, a_y, a_x


def _same_run_groups(runs, out):
    """The boxes' indices grouped by their longest run (a host list of ints), each group cut so that
    it holds at most MAX_SAMPLES sample positions: one batched ``_sampling_matrices`` per group."""
    runs = np.asarray(runs, dtype=np.int64)
    groups = []
    for run in np.unique(runs):
        members = np.nonzero(runs == run)[0]
        chunk = max(1, MAX_SAMPLES // max(int(out * run), 1))
        groups += [members[i:i + chunk] for i in range(0, len(members), chunk)]
    return groups


class RoIAlign(Function):
    """The plain RoIAlign: y[k] = A_y[k] @ x[batch[k]] @ A_x[k].T for every box k, (C, oh, ow) each
    (docs/roi.md, section 3). Linear in x; its backward is the transposed product."""

    def __init__(self, batch, a_y, a_x):
        self.batch, self.a_y, self.a_x = batch, a_y, a_x  # (K,), (K, oh, H), (K, ow, W)

    def forward(self, x):  # x (N, C, H, W)
        xp = backend.get_array_module(x)
        k, c, oh, ow = len(self.batch), x.shape[1], self.a_y.shape[1], self.a_x.shape[1]
        y = xp.zeros((k, c, oh, ow), dtype=x.dtype)
        for i in range(k):
            y[i] = self.a_y[i] @ x[int(self.batch[i])] @ self.a_x[i].T  # (oh, H) @ (C, H, W) @ (W, ow)
        return y

    def backward(self, gy):
        return RoIAlignTransposed(self.batch, self.a_y, self.a_x, self.inputs[0].shape)(gy)


class RoIAlignTransposed(Function):
    """gx = zeros (N, C, H, W), then gx[batch[k]] += A_y[k].T @ g[k] @ A_x[k] for every box k:
    each box hands its gradient back to the pixels its samples read (docs/roi.md, section 3.3).
    Linear in g; its backward is RoIAlign again."""

    def __init__(self, batch, a_y, a_x, shape):
        self.batch, self.a_y, self.a_x, self.shape = batch, a_y, a_x, tuple(shape)

    def forward(self, g):  # g (K, C, oh, ow)
        xp = backend.get_array_module(g)
        gx = xp.zeros(self.shape, dtype=g.dtype)
        for i in range(len(self.batch)):
            gx[int(self.batch[i])] += self.a_y[i].T @ g[i] @ self.a_x[i]  # (H, oh) @ (C, oh, ow) @ (ow, W)
        return gx

    def backward(self, gz):
        return RoIAlign(self.batch, self.a_y, self.a_x)(gz)


# ---- the fast roi_pool: every bin of every box at once, through a pixel table -------------
# It reads x (N, C, H, W) laid out as a pixel table (N*H*W, C), where row n*H*W + h*W + w holds
# every channel of pixel (h, w) of image n: every bin of every box, padded to the largest bin,
# becomes a short list of row numbers, one gather table[rows] reads all of them at once, and the
# gradient goes back with one IndexAdd. No Python loop over boxes, and each bin reads only its own
# pixels where RoIPoolPerBox masks the whole crop for every bin; the price is memory, about one
# gathered copy of every box's crop. Measured against RoIPoolPerBox (python -m benchmarks.reference;
# (2, 256, 32, 32) float32, 7x7 bins, fwd+bwd): 1.6x faster with 64 boxes, 1.7x with 128
# (docs/roi.md, "What the fast version changes and why").
def _pixel_table(x):
    """(N, C, H, W) -> (N*H*W, C): row n*H*W + h*W + w holds pixel (h, w) of image n."""
    n, c, h, w = x.shape
    return x.transpose(0, 2, 3, 1).reshape(n * h * w, c)


def _largest(extent):
    """The largest entry of an integer array as a Python int, at least 1 (1 for an empty array)."""
    return max(1, int(extent.max())) if extent.size else 1


def _roi_pool_bins(rois, output_size, spatial_scale, shape, xp):
    """The pixels of every bin of every box, as rows of the pixel table.

    Every bin is padded to the largest bin, Lh x Lw pixels.  Returns
    rows (K, oh, ow, Lh*Lw) int, inside (K, oh, ow, Lh*Lw) bool (False on padding)
    and nonempty (K, oh, ow) bool (a bin clipped away entirely is empty).
    """
    _, _, height, width = shape
    oh, ow = output_size
    batch, h_lo, h_hi, w_lo, w_hi = _roi_pool_boxes(rois, output_size, spatial_scale, shape, xp)
    lh, lw = _largest(h_hi - h_lo), _largest(w_hi - w_lo)

    row = h_lo[:, :, None] + xp.arange(lh)  # (K, oh, Lh) image row of offset i in bin ph
    col = w_lo[:, :, None] + xp.arange(lw)  # (K, ow, Lw) image column of offset j in bin pw
    row_inside, col_inside = row < h_hi[:, :, None], col < w_hi[:, :, None]
    row, col = xp.minimum(row, height - 1), xp.minimum(col, width - 1)  # padding reads a real pixel, masked

    k = len(rois)
    rows = (batch[:, None, None, None, None] * height + row[:, :, None, :, None]) * width + col[:, None, :, None, :]
    inside = row_inside[:, :, None, :, None] & col_inside[:, None, :, None, :]  # (K, oh, ow, Lh, Lw)
    nonempty = _nonempty_bins(h_lo, h_hi, w_lo, w_hi)  # (K, oh, ow)
    return rows.reshape(k, oh, ow, lh * lw), inside.reshape(k, oh, ow, lh * lw), nonempty


class RoIPool(Function):
    """Max over each bin; the gradient goes to the pixel that won (docs/roi.md, section 2.2)."""

    def __init__(self, rois, output_size, spatial_scale):
        self.rois, self.output_size, self.spatial_scale = rois, output_size, spatial_scale

    def forward(self, x):
        xp = backend.get_array_module(x)
        n, c, height, width = x.shape
        rows, inside, nonempty = _roi_pool_bins(self.rois, self.output_size, self.spatial_scale, x.shape, xp)
        values = _pixel_table(x)[rows]  # (K, oh, ow, L, C): every pixel of every bin
        values = xp.where(inside[..., None], values, -xp.inf)
        best = values.max(axis=3)  # (K, oh, ow, C)
        winner = xp.take_along_axis(rows, values.argmax(axis=3), axis=3)  # (K, oh, ow, C) table row of the max;
        # argmax keeps the first maximum in row-major order, as torchvision's strict '>' scan does
        y = xp.where(nonempty[..., None], best, 0).transpose(0, 3, 1, 2)  # (K, C, oh, ow); an empty bin gives 0

        # where each output came from, as an index into x (N, C, H, W): one (K, C, oh, ow) array per axis
        image, row, col = xp.unravel_index(winner.transpose(0, 3, 1, 2), (n, height, width))
        channel = xp.broadcast_to(xp.arange(c)[None, :, None, None], image.shape)
        self.source = (image, channel, row, col)
        self.taken = nonempty[:, None].astype(x.dtype)  # (K, 1, oh, ow): an empty bin took no pixel
        return xp.ascontiguousarray(y)

    def backward(self, gy):
        # gx[source] += gy, repeated pixels (overlapping bins and boxes) accumulating;
        # IndexAdd's own backward is the gather gy2 = gz[source], so double backward works
        return IndexAdd(self.source, True, self.inputs[0].shape)(gy * Tensor(self.taken))


# ---- argument checks and the functions users call -------------------------
def _output_size(output_size, op):
    size = (output_size, output_size) if not isinstance(output_size, (tuple, list)) else tuple(output_size)
    ok = len(size) == 2 and all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in size)
    if not ok:
        raise ValueError(f"{op}: output_size must be a positive int or a pair of positive ints (oh, ow), got {output_size!r}")
    return int(size[0]), int(size[1])


def _as_array(value, xp):
    data = value.data if isinstance(value, Tensor) else value  # boxes get no gradient: read their values only
    if backend.get_array_module(data) is not xp or not hasattr(data, "dtype"):
        data = backend.to_device(backend.to_numpy(data) if hasattr(data, "shape") else np.asarray(data),
                                 "cuda" if xp is not np else "cpu")
    return data


def _rois(x, boxes, op):
    """Boxes as a (K, 5) array of x's dtype on x's device, checked; a list of per-image (Ki, 4)
    boxes (torchvision's other form) gets its batch-index column."""
    xp = backend.get_array_module(x.data)
    if isinstance(boxes, (list, tuple)):
        parts = []
        for i, b in enumerate(boxes):
            b = _as_array(b, xp)
            if b.ndim != 2 or b.shape[1] != 4:
                raise ValueError(
                    f"{op}: a list of boxes holds one (Ki, 4) array of [x1, y1, x2, y2] per image, like torchvision, "
                    f"but entry {i} has shape {tuple(b.shape)}; pass a (K, 5) Tensor for [batch_index, x1, y1, x2, y2] rows"
                )
            parts.append(b)
        for b in parts:
            if b.dtype.kind != "f":
                raise TypeError(f"{op}: boxes must be floating point, got {b.dtype}")
        parts = [xp.concatenate([xp.full((len(b), 1), i, dtype=x.dtype), b.astype(x.dtype)], axis=1) for i, b in enumerate(parts)]
        rois = xp.concatenate(parts, axis=0) if parts else xp.zeros((0, 5), dtype=x.dtype)
    else:
        rois = _as_array(boxes, xp)
        if rois.ndim != 2 or rois.shape[1] != 5:
            raise ValueError(
                f"{op}: boxes must have shape (K, 5), rows [batch_index, x1, y1, x2, y2], got shape {tuple(rois.shape)} "
                f"(input shape {tuple(x.shape)})"
            )
        if rois.dtype.kind != "f":
            raise TypeError(f"{op}: boxes must be floating point, got {rois.dtype}")
        rois = rois.astype(x.dtype)
    if not bool(xp.isfinite(rois).all()):
        raise ValueError(f"{op}: boxes of shape {tuple(rois.shape)} hold NaN or infinite values")
    index = rois[:, 0]
    bad = (index != xp.floor(index)) | (index < 0) | (index >= x.shape[0])
    if bool(bad.any()):
        first = int(xp.nonzero(bad)[0][0])
        raise ValueError(
            f"{op}: boxes[:, 0] must be integer batch indices in [0, {x.shape[0]}) for an input of shape "
            f"{tuple(x.shape)}, but box {first} has {float(index[first])}"
        )
    return rois


def _check(x, boxes, output_size, spatial_scale, op):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{op}: input must be 4-d (N, C, H, W), got shape {tuple(x.shape)}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: input must be floating point, got {x.dtype}")
    if not isinstance(spatial_scale, numbers.Real) or not np.isfinite(spatial_scale) or spatial_scale <= 0:
        raise ValueError(f"{op}: spatial_scale must be a positive number, got {spatial_scale!r}")
    rois = _rois(x, boxes, op)
    xp = backend.get_array_module(rois)
    with np.errstate(over="ignore"):
        scaled = rois[:, 1:] * spatial_scale
    if not bool(xp.isfinite(scaled).all()):
        raise ValueError(
            f"{op}: boxes times spatial_scale={spatial_scale} overflow {rois.dtype} "
            f"(the largest box coordinate is {float(xp.abs(rois[:, 1:]).max()):.3g})"
        )
    return rois, _output_size(output_size, op)


def roi_pool(x, boxes, output_size, spatial_scale=1.0):
    """Max-pool every box of ``boxes`` into an (oh, ow) grid of bins: (N, C, H, W) -> (K, C, oh, ow).

    boxes: (K, 5) rows [batch_index, x1, y1, x2, y2] (a Tensor or array), or a list of
    (Ki, 4) per-image boxes.  torchvision.ops.roi_pool: corners are scaled and rounded,
    bins are cut with floor/ceil and clipped to the image, an empty bin gives 0.
    (torchvision starts each max at -FLT_MAX; bins whose values all lie below -3.4e38
    are the one place the two differ.)
    """
    rois, size = _check(x, boxes, output_size, spatial_scale, "roi_pool")
    if reference_kernels_enabled():  # the plain loop over boxes
        xp = backend.get_array_module(x.data)
        return RoIPoolPerBox(*_roi_pool_boxes(rois, size, float(spatial_scale), x.shape, xp))(x)
    return RoIPool(rois, size, float(spatial_scale))(x)


def roi_align(x, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    """Average bilinear samples over an (oh, ow) grid of bins in every box: (N, C, H, W) -> (K, C, oh, ow).

    boxes as in ``roi_pool``.  sampling_ratio > 0: that many samples per bin along each
    axis; <= 0: ceil(box side / output side) of them, per box.  aligned=True shifts the
    box by half a pixel so that pixel centres sit at integer + 0.5 (torchvision.ops.roi_align).
    The gradient flows to x only, never to the boxes.

    Only the samples that land on the image are computed, so memory follows the image, not the
    box: a box a billion pixels wide costs what a box the image's size costs.  Refused with a
    ValueError: a box needing more than 2**53 samples per bin (adaptive sampling of a box past
    ~6e16 pixels), or reading more than MAX_SAMPLES = 2**22 sample positions along an axis (a
    huge sampling_ratio).
    """
    rois, size = _check(x, boxes, output_size, spatial_scale, "roi_align")
    if not isinstance(sampling_ratio, numbers.Integral) or isinstance(sampling_ratio, bool):
        raise TypeError(f"roi_align: sampling_ratio must be an int (<= 0 for adaptive), got {sampling_ratio!r}")
    if not isinstance(aligned, (bool, np.bool_)):
        raise TypeError(f"roi_align: aligned must be True or False, got {aligned!r}")
    xp = backend.get_array_module(x.data)
    args = (rois, x.shape, size, float(spatial_scale), int(sampling_ratio), bool(aligned), xp)
    return RoIAlign(*_roi_align_matrices(*args))(x)
