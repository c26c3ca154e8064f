"""Spatial transformer ops: ``affine_grid`` and ``grid_sample`` (Jaderberg et al., 2015).

A spatial transformer warps an image by *sampling* it.  For every output
pixel a grid says where in the input to read, in normalized coordinates
(x, y): -1 is the left / top of the image, +1 the right / bottom.
``affine_grid`` builds that grid from a 2x3 matrix ``theta``;
``grid_sample`` reads the image at those points, blending the four pixels
around each point (``'bilinear'``) or taking the nearest one (``'nearest'``).

Both are differentiable.  Each output pixel is a weighted sum of input pixels,
so the gradient w.r.t. the image scatters the upstream gradient back with the
same weights; the weights depend on where the point is, so there is a
gradient w.r.t. the grid (and, through ``affine_grid``, w.r.t. ``theta``) too.
Both gradients are written with Tensor ops, so they can be differentiated
again (a gradient penalty through a spatial transformer).
docs/spatial.md derives every formula with the names used here.
"""
from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from .elementwise import where
from .linalg import matmul
from .shape import GetItem, IndexAdd, stack

MODES = ("bilinear", "nearest")
PADDING_MODES = ("zeros", "border", "reflection")


# ---- from normalized coordinates to pixel coordinates ---------------------
def _source_index(coord, size, padding_mode, align_corners):
    """The pixel coordinate read for a normalized ``coord`` (array) along an axis of
    ``size`` pixels, and its slope d(index)/d(coord).

    The map is piecewise linear: an affine unnormalization, then (for 'border'
    and 'reflection') folds and clamps, each of slope +1, -1 or 0.  This is
    PyTorch's grid_sampler_compute_source_index (docs/spatial.md, "Normalized coordinates").
    A non-finite coord (inf, NaN) gets slope 0 and reads pixel 0 under 'border' and
    'reflection' (PyTorch's clamp turns NaN into 0) and nothing under 'zeros' (PyTorch's
    CUDA kernel moves it to -100, off the image; its CPU kernel gives NaN for 'bilinear').
    """
    xp = backend.get_array_module(coord)
    if align_corners:  # -1 and +1 are the centres of the first and the last pixel
        index = (coord + 1) / 2 * (size - 1)
        scale = (size - 1) / 2
    else:  # -1 and +1 are the outer edges of the first and the last pixel
        index = ((coord + 1) * size - 1) / 2
        scale = size / 2
    slope = xp.full(coord.shape, scale, dtype=coord.dtype) * xp.isfinite(coord)
    if padding_mode == "reflection":
        index = xp.where(xp.isfinite(index), index, 0)  # PyTorch's fold makes NaN of inf, its clamp 0 of NaN
        index, fold_slope = _reflect(index, size, align_corners)
        slope = slope * fold_slope
    if padding_mode in ("border", "reflection"):  # clamp onto the first / last pixel centre
        unclamped = (index > 0) & (index < size - 1)  # PyTorch counts the border itself as clamped: slope 0
        index = xp.clip(xp.where(xp.isnan(index), 0, index), 0, size - 1)  # NaN: pixel 0, as PyTorch's clamp
        slope = slope * unclamped
    index = xp.where(xp.isfinite(index), index, -100).astype(coord.dtype)  # -100: off the image ('zeros')
    return index, slope


def _reflect(index, size, align_corners):
    """Fold a pixel coordinate back into the image as a pair of mirrors would, and
    return the slope of the fold (+1 or -1).  The mirrors stand at the first and
    last pixel centres (align_corners) or at the image's outer edges
    (docs/spatial.md, "Padding modes")."""
    xp = backend.get_array_module(index)
    low, high = (0.0, size - 1.0) if align_corners else (-0.5, size - 0.5)
    span = high - low
    if span == 0:  # align_corners with a single pixel: every point reads pixel 0
        return xp.zeros_like(index), xp.zeros_like(index)
    distance = xp.abs(index - low)
    flips = xp.floor(distance / span)  # how many mirror images away the point is
    extra = xp.fmod(distance, span)
    even = flips % 2 == 0
    folded = xp.where(even, low + extra, high - extra)
    side = xp.where(index - low < 0, -1.0, 1.0)  # abs() above mirrored the points left of `low` once already
    fold_slope = side * xp.where(even, 1.0, -1.0)
    return folded, fold_slope.astype(index.dtype)


def _corner_index(batch, rows, cols, height, width, dtype):
    """The index ``(batch, :, rows, cols)`` that reads the corners from x (N, C, H, W),
    and ``inside`` (1.0 where the corner is a real pixel, 0.0 where it is off the image).

    rows, cols: float arrays (K, N, Ho, Wo); ``inside`` (K, N, Ho, Wo, 1) has ``dtype``.
    An off-image corner reads pixel (0, 0) and is then multiplied by 0: zero padding."""
    xp = backend.get_array_module(rows)
    inside = (rows >= 0) & (rows <= height - 1) & (cols >= 0) & (cols <= width - 1)  # NaN is outside too
    rows = xp.where(inside, rows, 0).astype(xp.int64)
    cols = xp.where(inside, cols, 0).astype(xp.int64)
    return (batch, slice(None), rows, cols), inside[..., None].astype(dtype)


def _bilinear_weights(ix, iy, x0, y0):
    """Distances that make the bilinear weights, for arrays (forward) or Tensors (backward).

    x0 = floor(ix), so wx1 = ix - x0 in [0, 1) is how far the point is from the left
    column: the weight of the right column; wx0 = 1 - wx1 that of the left one."""
    wx1 = ix - x0
    wx0 = 1 - wx1
    wy1 = iy - y0
    wy0 = 1 - wy1
    return wx0, wx1, wy0, wy1


def _corner_weights(wx0, wx1, wy0, wy1):
    """w_k for the corners k = 00, 01, 10, 11 (row offset, column offset), as in ``CORNERS``."""
    return [wy0 * wx0, wy0 * wx1, wy1 * wx0, wy1 * wx1]


CORNERS = ((0, 0), (0, 1), (1, 0), (1, 1))  # (row offset, column offset) from (y0, x0)


class GridSample(Function):
    """out[n, c, h, w] = sum_k w_k[n, h, w] * V_k[n, c, h, w]: the image read at K pixels
    around each sample point.  'bilinear': the K = 4 corners of the pixel cell around
    the point, with bilinear weights; 'nearest': K = 1, the nearest pixel, weight 1.
    V_k is zero where corner k is off the image ('zeros' padding); 'border' and
    'reflection' move the point into the image first, so there only a corner of
    weight 0 can be off it.
    """

    def __init__(self, mode, padding_mode, align_corners):
        self.mode, self.padding_mode, self.align_corners = mode, padding_mode, align_corners

    def forward(self, x, grid):  # x (N, C, H, W), grid (N, Ho, Wo, 2)
        xp = backend.get_array_module(x)
        n, _, height, width = x.shape
        grid_x, grid_y = grid[..., 0], grid[..., 1]  # (N, Ho, Wo) each
        ix, self.slope_x = _source_index(grid_x, width, self.padding_mode, self.align_corners)
        iy, self.slope_y = _source_index(grid_y, height, self.padding_mode, self.align_corners)
        # ix is piecewise linear in grid_x: on the piece it lies on, ix = slope_x * grid_x + offset_x.
        # backward rebuilds ix from the grid Tensor with this, so its weights depend on the grid;
        # a non-finite grid value reads as 0 there (its slope is 0), so that inf * 0 makes no NaN
        self.finite = xp.isfinite(grid)  # (N, Ho, Wo, 2)
        grid = xp.where(self.finite, grid, 0)
        self.offset_x = ix - self.slope_x * grid[..., 0]
        self.offset_y = iy - self.slope_y * grid[..., 1]
        if self.mode == "bilinear":
            self.x0, self.y0 = xp.floor(ix), xp.floor(iy)
            rows = xp.stack([self.y0 + dy for dy, _ in CORNERS])  # (4, N, Ho, Wo)
            cols = xp.stack([self.x0 + dx for _, dx in CORNERS])
        else:  # rint rounds halves to even, as PyTorch does
            rows, cols = xp.rint(iy)[None], xp.rint(ix)[None]  # (1, N, Ho, Wo)
        batch = xp.arange(n).reshape(1, n, 1, 1)
        self.index, self.inside = _corner_index(batch, rows, cols, height, width, x.dtype)
        values = x[self.index] * self.inside  # V_k: (K, N, Ho, Wo, C), channels last
        if self.mode == "bilinear":
            weights = xp.stack(_corner_weights(*_bilinear_weights(ix, iy, self.x0, self.y0)))[..., None]
            out = (weights * values).sum(0)  # (N, Ho, Wo, C)
        else:
            out = values[0]
        return xp.ascontiguousarray(out.transpose(0, 3, 1, 2))  # (N, C, Ho, Wo)

    def backward(self, gy):  # gy (N, C, Ho, Wo)
        x, grid = self.inputs
        xp = backend.get_array_module(gy.data)
        gy = gy.permute(0, 2, 3, 1)  # (N, Ho, Wo, C): channels last, like V_k
        inside = Tensor(self.inside)  # (K, N, Ho, Wo, 1)
        gx = ggrid = None
        if self.mode == "nearest":
            if self.needs_input_grad[0]:  # each output pixel copied one input pixel: send gy back there
                gx = IndexAdd(self.index, True, x.shape)(inside * gy.unsqueeze(0))
            if self.needs_input_grad[1]:  # the nearest pixel stays the same as the point moves: zero (as PyTorch)
                ggrid = Tensor(xp.zeros(grid.shape, dtype=grid.dtype))
            return gx, ggrid

        # the pixel coordinates as Tensors of the grid, so that a double backward sees
        # how the weights below depend on the grid (docs/spatial.md, "Second derivatives")
        grid = where(self.finite, grid, 0.0)
        ix = grid[..., 0] * Tensor(self.slope_x) + Tensor(self.offset_x)  # (N, Ho, Wo)
        iy = grid[..., 1] * Tensor(self.slope_y) + Tensor(self.offset_y)
        wx0, wx1, wy0, wy1 = _bilinear_weights(ix, iy, self.x0, self.y0)
        if self.needs_input_grad[0]:
            # d out / d V_k = w_k: corner k receives w_k * gy, added up over all points that read
            # it: a scatter-add, whose own backward is the gather again (docs/spatial.md, "Gradient w.r.t. the image")
            weights = stack(_corner_weights(wx0, wx1, wy0, wy1)).unsqueeze(-1)  # (4, N, Ho, Wo, 1)
            gx = IndexAdd(self.index, True, x.shape)(weights * inside * gy)  # (4, N, Ho, Wo, C) -> (N, C, H, W)
        if self.needs_input_grad[1]:
            # d out / d ix = wy0 (V_01 - V_00) + wy1 (V_11 - V_10), likewise for iy; then the chain rule
            # through ix = slope_x * grid_x + offset_x (docs/spatial.md, "Gradient w.r.t. the sampling positions")
            values = GetItem(self.index, True)(x) * inside  # V_k: (4, N, Ho, Wo, C)
            g = (values * gy).sum(-1)  # (4, N, Ho, Wo): sum_c gy * V_k
            g00, g01, g10, g11 = g[0], g[1], g[2], g[3]
            g_ix = wy0 * (g01 - g00) + wy1 * (g11 - g10)  # (N, Ho, Wo)
            g_iy = wx0 * (g10 - g00) + wx1 * (g11 - g01)
            ggrid = stack([g_ix * Tensor(self.slope_x), g_iy * Tensor(self.slope_y)], dim=-1)  # (N, Ho, Wo, 2)
        return gx, ggrid


# ---- the functions users call ---------------------------------------------
def _base_coordinates(steps, align_corners, xp, dtype):
    """Normalized coordinates of the ``steps`` pixel centres along one axis
    (PyTorch's linspace_from_neg_one): -1 ... 1 with align_corners, else half a
    pixel inside the edges, -1 + 1/steps ... 1 - 1/steps."""
    if steps == 1:
        return xp.zeros(1, dtype=dtype)
    coords = xp.linspace(-1, 1, steps, dtype=dtype)
    if not align_corners:
        coords = coords * (steps - 1) / steps
    return coords


def affine_grid(theta, size, align_corners=False):
    """Sampling grid (N, H, W, 2) of the affine map ``theta`` (N, 2, 3) for an output of ``size`` (N, C, H, W).

    grid[n, h, w] = theta[n] @ (x_w, y_h, 1), with (x_w, y_h) the normalized
    coordinates of output pixel (h, w): one matmul of a constant base grid with
    theta^T, so it is differentiable w.r.t. theta (docs/spatial.md, "affine_grid").
    """
    if not isinstance(theta, Tensor):
        raise TypeError(f"affine_grid: theta must be a Tensor, got {type(theta).__name__}")
    size = tuple(int(s) for s in size)
    if len(size) != 4:
        raise ValueError(f"affine_grid: size must have 4 entries (N, C, H, W), got {size}")
    if any(s < 1 for s in size):
        raise ValueError(f"affine_grid: every entry of size must be positive, got {size}")
    n, _, height, width = size
    if tuple(theta.shape) != (n, 2, 3):
        raise ValueError(
            f"affine_grid: theta must have shape (N, 2, 3) = {(n, 2, 3)} for size {size}, got {tuple(theta.shape)}"
        )
    if theta.dtype.kind != "f":
        raise TypeError(f"affine_grid: theta must be floating point, got dtype {theta.dtype}")
    xp = backend.get_array_module(theta.data)
    base = xp.empty((height, width, 3), dtype=theta.dtype)  # (x, y, 1) of every output pixel
    base[..., 0] = _base_coordinates(width, align_corners, xp, theta.dtype)  # x runs along the columns
    base[..., 1] = _base_coordinates(height, align_corners, xp, theta.dtype)[:, None]  # y down the rows
    base[..., 2] = 1
    grid = matmul(Tensor(base.reshape(height * width, 3)), theta.mT)  # (H*W, 3) @ (N, 3, 2) -> (N, H*W, 2)
    return grid.reshape(n, height, width, 2)


def grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False):
    """Sample x (N, C, H_in, W_in) at grid (N, H_out, W_out, 2) -> (N, C, H_out, W_out).

    grid[n, h, w] = (x, y) in normalized coordinates: (-1, -1) is the top-left of
    the image, (1, 1) the bottom-right (pixel centres with align_corners=True,
    outer pixel edges with False).  mode: 'bilinear' or 'nearest' (halves round
    to even); padding_mode: what a point off the image reads, 'zeros', 'border'
    (the nearest edge pixel) or 'reflection' (the image mirrored at its edges).
    PyTorch's semantics; docs/spatial.md explains each choice.
    """
    if not isinstance(x, Tensor) or not isinstance(grid, Tensor):
        raise TypeError(
            f"grid_sample: input and grid must be Tensors, got {type(x).__name__} and {type(grid).__name__}"
        )
    if mode not in MODES:
        raise ValueError(f"grid_sample: mode must be one of {MODES}, got {mode!r}")
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"grid_sample: padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
    if x.ndim != 4:
        raise ValueError(f"grid_sample: input must be 4-d (N, C, H_in, W_in), got shape {tuple(x.shape)}")
    if grid.ndim != 4 or grid.shape[-1] != 2:
        raise ValueError(f"grid_sample: grid must have shape (N, H_out, W_out, 2), got {tuple(grid.shape)}")
    if grid.shape[0] != x.shape[0]:
        raise ValueError(
            f"grid_sample: grid and input must have the same batch size N, got input shape {tuple(x.shape)} "
            f"and grid shape {tuple(grid.shape)}"
        )
    if x.shape[2] == 0 or x.shape[3] == 0:
        raise ValueError(f"grid_sample: input must have non-empty spatial dims, got shape {tuple(x.shape)}")
    if x.dtype.kind != "f" or x.dtype != grid.dtype:
        raise TypeError(
            f"grid_sample: input and grid must have the same floating dtype, got {x.dtype} and {grid.dtype}"
        )
    return GridSample(mode, padding_mode, bool(align_corners))(x, grid)
