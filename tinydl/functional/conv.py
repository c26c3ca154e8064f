"""Convolution and transposed convolution, with stride, padding, dilation and groups.

A convolution with weight W is a *linear map* of its input, y = C_W x.  Three
ops cover everything, and each one's backward is built from the other two
(docs/convolution.md, section 3, "Three ops that are each other's gradients"):

    Convolution(x, W)            y  = C_W x              conv2d
    TransposedConvolution(y, W)  x  = C_W^T y            conv_transpose2d, and dL/dx of conv2d
    ConvolutionWeightGrad(x, g)  dW = d<g, C_W x> / dW   dL/dW of conv2d

Because each backward is itself a differentiable op, double backward through
a convolution works (WGAN-GP's gradient penalty needs it).

The plain version (docs/convolution.md, section 2) is im2col + one matrix product:

    cols (N, G, K, P)  = im2col(x)       one row per weight of a filter, K = C/G * kH * kW,
                                         one column per output pixel, P = OH * OW
    y    (N, G, C_out/G, P) = W (G, C_out/G, K) @ cols                   forward
    dW   (G, C_out/G, K)    = sum over n of  g (N, G, C_out/G, P) @ cols^T   weight gradient
    x    = col2im(W^T (G, K, C_out/G) @ y)                                transposed convolution

``col2im`` is the adjoint of im2col: it adds every column back into the image
positions it was read from, one kernel offset (i, j) at a time.

The fast version (the default; ``td.use_reference_kernels()`` switches to the
plain one) changes two things, described where they are defined below:
``KernelRowIm2col`` copies the image kW times instead of kH * kW times, and a
stride-1 transposed convolution runs as an ordinary convolution.
"""
from dataclasses import dataclass

from .. import backend
from ..autograd import Function
from ..kernels import reference_kernels_enabled
from .windows import output_size, pad2d, pair, sliding_windows


@dataclass(frozen=True)
class Geometry:
    """How a kernel of size ``kernel`` slides: all pairs are (height, width)."""

    kernel: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    groups: int


# ---- the plain version: im2col, one matrix product, col2im -------------------
class Im2col:
    """im2col's matrix of x (N, C, H, W): cols[n, grp, (c, i, j), (a, b)] = x_padded[n, grp C/G + c, sH a + dH i, sW b + dW j]."""

    def __init__(self, x, geo, out_hw):
        padded = pad2d(x, geo.padding)  # (N, C, H + 2 pH, W + 2 pW)
        windows = sliding_windows(padded, geo.kernel, geo.stride, geo.dilation)  # (N, C, kH, kW, >= OH, >= OW), a view
        n, (oh, ow) = x.shape[0], out_hw
        windows = windows[..., :oh, :ow]  # the first OH x OW (a transposed conv's output_padding can leave more)
        k = x.shape[1] // geo.groups * geo.kernel[0] * geo.kernel[1]  # K = C/G * kH * kW (spelled out: N may be 0)
        self.cols = windows.reshape(n, geo.groups, k, oh * ow)  # (N, G, K, P): the copy
        self.geo, self.out_hw = geo, out_hw

    def multiply(self, w):
        """y = W @ cols: (G, C_out/G, K) @ (N, G, K, P) -> y (N, C_out, OH, OW)."""
        y = _weight_matrix(w, self.geo.groups) @ self.cols  # (N, G, C_out/G, P)
        return y.reshape(y.shape[0], w.shape[0], *self.out_hw)

    def contract(self, g, weight_shape):
        """dW = sum over images of g @ cols^T: (N, G, C_out/G, P) @ (N, G, P, K) -> (C_out, C/G, kH, kW)."""
        dw = (_grouped(g, self.geo.groups) @ self.cols.transpose(0, 1, 3, 2)).sum(axis=0)  # (G, C_out/G, K)
        return dw.reshape(weight_shape)


def col2im(cols, geo, image_shape, out_hw):
    """The adjoint of im2col: add each column back where it was read; (N, G, K, P) -> (N, C, H, W)."""
    xp = backend.get_array_module(cols)
    n, c, h, w = image_shape
    oh, ow = out_hw
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = geo.kernel, geo.stride, geo.padding, geo.dilation
    cols = cols.reshape(n, c, kh, kw, oh, ow)  # G * C/G = C
    padded = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for i in range(kh):  # a loop over kernel offsets; each step adds a whole strided slab
        for j in range(kw):
            rows = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
            columns = slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)
            padded[:, :, rows, columns] += cols[:, :, i, j]
    return padded[:, :, ph : ph + h, pw : pw + w]


def transposed_by_col2im(y, w, geo, image_hw):
    """C_W^T y = col2im(W^T @ y): y (N, C_out, OH, OW), W (C_out, C/G, kH, kW) -> (N, C, H, W)."""
    groups = geo.groups
    cols = _weight_matrix(w, groups).transpose(0, 2, 1) @ _grouped(y, groups)  # (G, K, C_out/G) @ (N, G, C_out/G, P)
    return col2im(cols, geo, (y.shape[0], w.shape[1] * groups, *image_hw), y.shape[2:])


def _grouped(y, groups):
    """(N, C, OH, OW) -> (N, G, C/G, OH * OW), a view: the layout the batched products use."""
    n, c, oh, ow = y.shape
    return y.reshape(n, groups, c // groups, oh * ow)


def _weight_matrix(w, groups):
    """(C_out, C/G, kH, kW) -> (G, C_out/G, K)."""
    return w.reshape(groups, w.shape[0] // groups, -1)


def im2col(x, geo, out_hw):
    """The matrix of x that the products read: the plain ``Im2col``, or with fast kernels ``KernelRowIm2col``
    (except for few input channels, see THIN_BLOCK). Both have ``multiply(w)`` and ``contract(g, weight_shape)``,
    so a backward uses whichever its forward built."""
    if reference_kernels_enabled() or x.shape[1] // geo.groups * geo.kernel[1] < THIN_BLOCK:
        return Im2col(x, geo, out_hw)
    return KernelRowIm2col(x, geo, out_hw)


# ---- the three ops -----------------------------------------------------------
class Convolution(Function):
    """y = C_W x: x (N, C, H, W), W (C_out, C/G, kH, kW) -> y (N, C_out, OH, OW)."""

    def __init__(self, geo, out_hw, cols=None):
        self.geo, self.out_hw, self.cols = geo, out_hw, cols  # cols: the im2col matrix of x, if already built

    def forward(self, x, w):
        cols = self.cols if self.cols is not None else im2col(x, self.geo, self.out_hw)
        # the weight gradient needs the same matrix: keep it (only then) instead of rebuilding it
        self.cols = cols if self.needs_input_grad[1] else None
        return cols.multiply(w)  # (N, C_out, OH, OW)

    def backward(self, gy):
        x, w = self.inputs
        gx = gw = None
        if self.needs_input_grad[0]:  # dL/dx = C_W^T gy
            gx = TransposedConvolution(self.geo, x.shape[2:])(gy, w)
        if self.needs_input_grad[1]:  # dL/dW = sum over positions of gy * window
            gw = ConvolutionWeightGrad(self.geo, w.shape, self.cols)(x, gy)
        return gx, gw


class TransposedConvolution(Function):
    """x = C_W^T y: y (N, C_out, OH, OW), W (C_out, C/G, kH, kW) -> x (N, C, H, W) with (H, W) = image_hw."""

    def __init__(self, geo, image_hw):
        self.geo, self.image_hw = geo, tuple(image_hw)

    def forward(self, y, w):
        if not reference_kernels_enabled():
            groups = self.geo.groups
            as_convolution = _as_convolution(self.geo, y.shape[2:], self.image_hw, y.shape[1], w.shape[1] * groups)
            if as_convolution is not None:  # stride 1: an ordinary convolution, no col2im (docs/convolution.md, 5)
                return im2col(y, as_convolution, self.image_hw).multiply(_flipped(w, groups))  # (N, C, H, W)
        return transposed_by_col2im(y, w, self.geo, self.image_hw)

    def backward(self, gx):
        y, w = self.inputs
        out_hw = y.shape[2:]
        both = all(self.needs_input_grad)
        cols = im2col(gx.data, self.geo, out_hw) if both else None  # both gradients read the same windows
        gy = Convolution(self.geo, out_hw, cols)(gx, w) if self.needs_input_grad[0] else None  # (C^T)^T = C
        gw = ConvolutionWeightGrad(self.geo, w.shape, cols)(gx, y) if self.needs_input_grad[1] else None
        return gy, gw


class ConvolutionWeightGrad(Function):
    """dW = d<g, C_W x>/dW for x (N, C, H, W) and g (N, C_out, OH, OW); bilinear in (x, g)."""

    def __init__(self, geo, weight_shape, cols=None):
        self.geo, self.weight_shape, self.cols = geo, tuple(weight_shape), cols

    def forward(self, x, g):
        cols = self.cols if self.cols is not None else im2col(x, self.geo, g.shape[2:])
        self.cols = None  # used once
        return cols.contract(g, self.weight_shape)

    def backward(self, gdw):
        x, g = self.inputs
        gx = TransposedConvolution(self.geo, x.shape[2:])(g, gdw) if self.needs_input_grad[0] else None
        gg = Convolution(self.geo, g.shape[2:])(x, gdw) if self.needs_input_grad[1] else None
        return gx, gg


# ---- the fast version ---------------------------------------------------------
# What it changes and why (docs/convolution.md, section 5; measured in docs/performance.md):
# 1. KernelRowIm2col copies the image kW times, not kH * kW times: kernel row i's block of the
#    im2col matrix is a view, and the product becomes a sum over the kH kernel rows.
# 2. A stride-1 transposed convolution (every stride-1 conv2d's input gradient) runs as an ordinary
#    convolution with the flipped kernel instead of a product and a col2im.
THIN_BLOCK = 16  # with fewer than this many rows (C/G * kW) per kernel-row block, BLAS idles: use Im2col


class KernelRowIm2col:
    """im2col's matrix of x (N, C, H, W), stored as kW shifted copies of the image rows.

    Output pixel (a, b) of image n reads, for kernel offset (i, j), the padded pixel
    (sH a + dH i, sW b + dW j).  ``rows`` (G, C/G, kW, sH, M, N, OW) holds, for every
    kernel column j, image row h = sH m + r of every image at [..., j, r, m, n, b], already
    sampled along the width.  Kernel row i reads rows dH i + sH a for a = 0 .. OH - 1, that
    is phase r and m = q .. q + OH - 1 with (q, r) = divmod(dH i, sH): one contiguous run,
    so ``kernel_row(i)`` is a (G, C/G * kW, OH * N * OW) view that BLAS reads in place.  The
    copy is kW times the image instead of kH * kW times, and the images sit side by side in
    the columns, so each product is one large matrix product, not N small ones.
    Columns are ordered (a, n, b): output row, image, output column.
    """

    def __init__(self, x, geo, out_hw):
        xp = backend.get_array_module(x)
        (_, kw), (sh, sw), (ph, pw), (_, dw) = geo.kernel, geo.stride, geo.padding, geo.dilation
        n, c, h, _ = x.shape
        ow = out_hw[1]
        m = -(-(h + 2 * ph) // sh)  # image rows per stride phase
        padded = xp.pad(x, ((0, 0), (0, 0), (ph, ph + m * sh - h - 2 * ph), (pw, pw)))  # (N, C, sH M, Wp)
        s_n, s_c, s_h, s_w = padded.strides
        view = xp.lib.stride_tricks.as_strided(  # (C, kW, sH, M, N, OW), no copy yet
            padded, shape=(c, kw, sh, m, n, ow), strides=(s_c, s_w * dw, s_h, s_h * sh, s_n, s_w * sw))
        self.rows = xp.ascontiguousarray(view).reshape(geo.groups, c // geo.groups, kw, sh, m, n, ow)
        self.geo, self.n, self.out_hw = geo, n, out_hw

    def kernel_row(self, i):
        """Kernel row i's part of the matrix: (G, C/G * kW, OH * N * OW), a view of ``rows``."""
        q, r = divmod(i * self.geo.dilation[0], self.geo.stride[0])
        groups, c, kw = self.rows.shape[:3]
        return self.rows[:, :, :, r, q : q + self.out_hw[0]].reshape(groups, c * kw, -1)

    def multiply(self, w):
        """y = sum over kernel rows i of W_i @ kernel_row(i): W (C_out, C/G, kH, kW) -> y (N, C_out, OH, OW)."""
        y = _kernel_row_weights(w, 0, self.geo.groups) @ self.kernel_row(0)  # (G, C_out/G, OH N OW)
        for i in range(1, self.geo.kernel[0]):  # kH products over C/G * kW rows each, summed in place
            y += _kernel_row_weights(w, i, self.geo.groups) @ self.kernel_row(i)
        oh, ow = self.out_hw
        y = y.reshape(w.shape[0], oh, self.n, ow)  # G * C_out/G = C_out
        return backend.get_array_module(y).ascontiguousarray(y.transpose(2, 0, 1, 3))  # to NCHW, a copy

    def contract(self, g, weight_shape):
        """dW[o, c, i, j] = sum over n, a, b of g[n, o, a, b] * (the matrix)[(i, c, j), (a, n, b)]."""
        xp = backend.get_array_module(g)
        groups = self.geo.groups
        kw = self.geo.kernel[1]
        c_out = weight_shape[0] // groups
        g = g.transpose(1, 2, 0, 3).reshape(groups, c_out, -1)  # (G, C_out/G, OH N OW), a copy
        dw = xp.empty((groups, c_out, weight_shape[1], *self.geo.kernel), dtype=g.dtype)
        for i in range(self.geo.kernel[0]):  # one product per kernel row sums over images and pixels at once
            dw_i = g @ self.kernel_row(i).transpose(0, 2, 1)  # (G, C_out/G, C/G * kW)
            dw[:, :, :, i, :] = dw_i.reshape(groups, c_out, -1, kw)
        return dw.reshape(weight_shape)


def _kernel_row_weights(w, i, groups):
    """Kernel row i of W (C_out, C/G, kH, kW) as a matrix W_i (G, C_out/G, C/G * kW), columns (c, j)."""
    return w[:, :, i, :].reshape(groups, w.shape[0] // groups, -1)


def _as_convolution(geo, in_hw, image_hw, in_channels, out_channels):
    """With stride 1, C_W^T is itself a convolution: padding d (k - 1) - p, the kernel flipped
    and its channel axes swapped (docs/convolution.md, section 4). That geometry, or None
    when the shortcut does not apply (stride > 1, padding above d (k - 1), output_padding)
    or does not pay: its KernelRowIm2col copies in_channels * kW values per pixel (an input thin
    enough to take Im2col copies kH times that), where col2im writes and adds out_channels * kH * kW,
    so it is taken when in_channels <= out_channels * kH.
    (For 3 -> 16 channels, in_channels 16 > 3 * 3: col2im is faster; for 16 -> 32, 32 <= 16 * 3.)"""
    if geo.stride != (1, 1) or in_channels > out_channels * geo.kernel[0]:
        return None
    padding = tuple(d * (k - 1) - p for k, p, d in zip(geo.kernel, geo.padding, geo.dilation))
    sizes = tuple(size + 2 * q - d * (k - 1) for size, q, k, d in zip(in_hw, padding, geo.kernel, geo.dilation))
    if min(padding) < 0 or sizes != tuple(image_hw):
        return None
    return Geometry(geo.kernel, geo.stride, padding, geo.dilation, geo.groups)


def _flipped(w, groups):
    """W (C_out, C/G, kH, kW) -> W' (C, C_out/G, kH, kW): per group, channel axes swapped and
    the kernel turned by 180 degrees, W'[c, o, i, j] = W[o, c, kH - 1 - i, kW - 1 - j]."""
    xp = backend.get_array_module(w)
    c_out, c_per_group, kh, kw = w.shape
    w = w.reshape(groups, c_out // groups, c_per_group, kh, kw).transpose(0, 2, 1, 3, 4)
    return xp.ascontiguousarray(w.reshape(groups * c_per_group, c_out // groups, kh, kw)[:, :, ::-1, ::-1])


# ---- argument checks and the public functions -----------------------------
def _geometry(op, weight, stride, padding, dilation, groups):
    stride, dilation = pair(stride, "stride", op), pair(dilation, "dilation", op)
    padding = pair(padding, "padding", op)
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ValueError(f"{op}: stride and dilation must be >= 1 and padding >= 0, got stride={stride}, "
                         f"padding={padding}, dilation={dilation}")
    if not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    return Geometry(tuple(weight.shape[2:]), stride, padding, dilation, groups)


def _same_padding(op, weight, stride, dilation):
    """padding='same': (d (k - 1)) / 2 on each side, which needs an even total and stride 1."""
    if pair(stride, "stride", op) != (1, 1):
        raise ValueError(f"{op}: padding='same' needs stride 1, got stride={stride}")
    pads = []
    for k, d in zip(weight.shape[2:], pair(dilation, "dilation", op)):
        if d * (k - 1) % 2:
            raise ValueError(f"{op}: padding='same' with kernel {k} and dilation {d} would need uneven padding; "
                             "pad explicitly")
        pads.append(d * (k - 1) // 2)
    return tuple(pads)


def _batched(op, x):
    if x.ndim == 3:  # an unbatched (C, H, W) image, as PyTorch accepts
        return x.unsqueeze(0), True
    if x.ndim != 4:
        raise ValueError(f"{op}: expected an input of shape (N, C, H, W) or (C, H, W), got {tuple(x.shape)}")
    return x, False


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-d cross-correlation (what deep learning calls convolution), PyTorch's conv2d.

    x (N, C_in, H, W), weight (C_out, C_in/groups, kH, kW), bias (C_out,) -> (N, C_out, OH, OW)
    with OH = floor((H + 2 padding - dilation (kH - 1) - 1) / stride) + 1.
    """
    op = "conv2d"
    x, unbatched = _batched(op, x)
    if weight.ndim != 4:
        raise ValueError(f"{op}: weight must be (C_out, C_in/groups, kH, kW), got shape {tuple(weight.shape)}")
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"{op}: padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
        padding = 0 if padding == "valid" else _same_padding(op, weight, stride, dilation)
    geo = _geometry(op, weight, stride, padding, dilation, groups)
    c_in, c_out = x.shape[1], weight.shape[0]
    if c_in % groups or c_out % groups:
        raise ValueError(f"{op}: groups={groups} must divide the input channels ({c_in}, input shape "
                         f"{tuple(x.shape)}) and the output channels ({c_out}, weight shape {tuple(weight.shape)})")
    if weight.shape[1] * groups != c_in:
        raise ValueError(f"{op}: input of shape {tuple(x.shape)} has {c_in} channels, but weight of shape "
                         f"{tuple(weight.shape)} with groups={groups} expects {weight.shape[1] * groups}")
    out_hw = []
    for axis, (size, k, s, p, d) in enumerate(zip(x.shape[2:], geo.kernel, geo.stride, geo.padding, geo.dilation)):
        if d * (k - 1) + 1 > size + 2 * p:
            raise ValueError(f"{op}: the kernel {tuple(weight.shape[2:])} (dilation {geo.dilation}) is larger than "
                             f"the padded input {tuple(x.shape[2:])} + 2 * {geo.padding}")
        out_hw.append(output_size(size, k, s, p, d))
    y = Convolution(geo, tuple(out_hw))(x, weight)
    if bias is not None:
        if tuple(bias.shape) != (c_out,):
            raise ValueError(f"{op}: bias of shape {tuple(bias.shape)} does not match {c_out} output channels")
        y = y + bias.reshape(1, -1, 1, 1)
    return y.squeeze(0) if unbatched else y


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed convolution: the adjoint (gradient) of conv2d with the same weight and settings.

    x (N, C_in, H, W), weight (C_in, C_out/groups, kH, kW) -> (N, C_out, OH, OW) with
    OH = (H - 1) stride - 2 padding + dilation (kH - 1) + output_padding + 1.
    """
    op = "conv_transpose2d"
    x, unbatched = _batched(op, x)
    if weight.ndim != 4:
        raise ValueError(f"{op}: weight must be (C_in, C_out/groups, kH, kW), got shape {tuple(weight.shape)}")
    geo = _geometry(op, weight, stride, padding, dilation, groups)
    output_padding = pair(output_padding, "output_padding", op)
    c_in = x.shape[1]
    if c_in % groups:
        raise ValueError(f"{op}: groups={groups} must divide the input channels ({c_in}, input shape {tuple(x.shape)})")
    if weight.shape[0] != c_in:
        raise ValueError(f"{op}: input of shape {tuple(x.shape)} has {c_in} channels, but weight of shape "
                         f"{tuple(weight.shape)} expects {weight.shape[0]}")
    image_hw = []
    for size, k, s, p, d, extra in zip(x.shape[2:], geo.kernel, geo.stride, geo.padding, geo.dilation, output_padding):
        if not 0 <= extra < max(s, d):
            raise ValueError(f"{op}: output_padding {output_padding} must be smaller than stride {geo.stride} "
                             f"or dilation {geo.dilation}")
        out = (size - 1) * s - 2 * p + d * (k - 1) + extra + 1
        if out < 1:
            raise ValueError(f"{op}: input of shape {tuple(x.shape)} gives an empty output ({out}) with kernel "
                             f"{geo.kernel}, stride {geo.stride}, padding {geo.padding}")
        image_hw.append(out)
    y = TransposedConvolution(geo, tuple(image_hw))(x, weight)
    if bias is not None:
        c_out = weight.shape[1] * groups
        if tuple(bias.shape) != (c_out,):
            raise ValueError(f"{op}: bias of shape {tuple(bias.shape)} does not match {c_out} output channels")
        y = y + bias.reshape(1, -1, 1, 1)
    return y.squeeze(0) if unbatched else y
