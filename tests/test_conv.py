"""conv2d and conv_transpose2d: gradient checks over generated geometries, the adjoint
identity that links them, a naive reference, module behaviour and argument errors."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import tinydl as td
import tinydl.functional as F
import tinydl.nn as nn
from helpers import assert_same_results, in_both_modes, leaf, rounding_atol


@st.composite
def conv_settings(draw, max_side=6):
    """A valid conv2d configuration: the (dilated) kernel always fits the padded input."""
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    sides = []
    for k, d, p in zip(kernel, dilation, padding):
        smallest = max(1, d * (k - 1) + 1 - 2 * p)
        sides.append(draw(st.integers(smallest, max(smallest, max_side))))
    n = draw(st.integers(1, 2))
    return dict(shape=(n, c_in, *sides), weight_shape=(c_out, c_in // groups, *kernel),
                stride=stride, padding=padding, dilation=dilation, groups=groups)


def conv_arguments(s):
    return dict(stride=s["stride"], padding=s["padding"], dilation=s["dilation"], groups=s["groups"])


def naive_conv2d(x, w, stride, padding, dilation, groups):
    """The definition, one output pixel at a time: the slow reference the fast code must match."""
    n, c, h, wd = x.shape
    c_out, c_g, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, c_out, oh, ow))
    per_group = c_out // groups
    for b in range(n):
        for o in range(c_out):
            g = o // per_group
            for i in range(oh):
                for j in range(ow):
                    window = xp[b, g * c_g:(g + 1) * c_g, i * sh:i * sh + dh * (kh - 1) + 1:dh,
                                j * sw:j * sw + dw * (kw - 1) + 1:dw]
                    y[b, o, i, j] = (window * w[o]).sum()
    return y


@given(s=conv_settings(), seed=st.integers(0, 2**16))
def test_conv2d_matches_the_definition(kernels, s, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(s["shape"]), rng.standard_normal(s["weight_shape"])
    y = F.conv2d(td.tensor(x), td.tensor(w), **conv_arguments(s))
    np.testing.assert_allclose(y.numpy(), naive_conv2d(x, w, s["stride"], s["padding"], s["dilation"], s["groups"]),
                               rtol=1e-10, atol=1e-12)


@given(s=conv_settings(), seed=st.integers(0, 2**16), bias=st.booleans())
def test_conv2d_gradcheck(kernels, device, s, seed, bias):
    rng = np.random.default_rng(seed)
    x, w = leaf(rng.standard_normal(s["shape"]), device), leaf(rng.standard_normal(s["weight_shape"]), device)
    inputs = [x, w] + ([leaf(rng.standard_normal(s["weight_shape"][0]), device)] if bias else [])
    assert td.gradcheck(lambda *t: F.conv2d(t[0], t[1], t[2] if bias else None, **conv_arguments(s)), inputs)


@given(s=conv_settings(max_side=4), seed=st.integers(0, 2**16))
def test_conv2d_gradgradcheck(kernels, device, s, seed):
    """Second derivatives: WGAN-GP differentiates a gradient that went through the convolution."""
    rng = np.random.default_rng(seed)
    x, w = leaf(rng.standard_normal(s["shape"]), device), leaf(rng.standard_normal(s["weight_shape"]), device)
    assert td.gradgradcheck(lambda a, b: F.conv2d(a, b, **conv_arguments(s)), [x, w])


@st.composite
def transposed_settings(draw, max_side=4):
    """A valid conv_transpose2d configuration (output_padding < max(stride, dilation))."""
    groups = draw(st.integers(1, 2))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding, output_padding, sides = [], [], []
    for k, s, d in zip(kernel, stride, dilation):
        p = draw(st.integers(0, (d * (k - 1)) // 2))  # keeps the output non-empty for any side >= 1
        padding.append(p)
        output_padding.append(draw(st.integers(0, max(s, d) - 1)))
        sides.append(draw(st.integers(1, max_side)))
    return dict(shape=(draw(st.integers(1, 2)), c_in, *sides), weight_shape=(c_in, c_out // groups, *kernel),
                stride=stride, padding=tuple(padding), output_padding=tuple(output_padding),
                dilation=dilation, groups=groups)


def transposed_arguments(s):
    return dict(stride=s["stride"], padding=s["padding"], output_padding=s["output_padding"],
                groups=s["groups"], dilation=s["dilation"])


@given(s=transposed_settings(), seed=st.integers(0, 2**16))
def test_conv_transpose2d_gradcheck_and_gradgradcheck(kernels, device, s, seed):
    rng = np.random.default_rng(seed)
    x, w = leaf(rng.standard_normal(s["shape"]), device), leaf(rng.standard_normal(s["weight_shape"]), device)
    b = leaf(rng.standard_normal(s["weight_shape"][1] * s["groups"]), device)
    fn = lambda x, w, b: F.conv_transpose2d(x, w, b, **transposed_arguments(s))  # noqa: E731
    assert td.gradcheck(fn, [x, w, b])
    assert td.gradgradcheck(fn, [x, w, b])


@given(s=transposed_settings(max_side=5), seed=st.integers(0, 2**16))
def test_transposed_convolution_is_the_adjoint_of_convolution(kernels, s, seed):
    """<conv_transpose2d(y, W), x> = <y, conv2d(x, W)> for every x, y: the defining property."""
    rng = np.random.default_rng(seed)
    y = rng.standard_normal(s["shape"])
    w = rng.standard_normal(s["weight_shape"])  # as a conv weight: (C_out of conv = C_in here, ...)
    x_t = F.conv_transpose2d(td.tensor(y), td.tensor(w), **transposed_arguments(s))
    x = rng.standard_normal(x_t.shape)
    conv = F.conv2d(td.tensor(x), td.tensor(w), stride=s["stride"], padding=s["padding"],
                    dilation=s["dilation"], groups=s["groups"])
    # with output_padding >= stride (allowed while < dilation) conv2d sees extra positions past y's:
    # the transposed conv is the adjoint of the convolution restricted to y's first H x W positions
    h, w_ = y.shape[2:]
    assert conv.shape[2] >= h and conv.shape[3] >= w_
    # both sides add up the same products x_i W_ij y_j, each in its own order, and can cancel to ~0: an atol of
    # a few ulps of the sum of their |values| (<conv_transpose2d(|y|, |W|), |x|>) per term in the longest chain
    magnitude = (F.conv_transpose2d(td.tensor(np.abs(y)), td.tensor(np.abs(w)), **transposed_arguments(s)).numpy()
                 * np.abs(x)).sum()
    np.testing.assert_allclose((x_t.numpy() * x).sum(), (y * conv.numpy()[:, :, :h, :w_]).sum(), rtol=1e-10,
                               atol=rounding_atol(magnitude, terms=x.size + y.size))


def test_transposed_convolution_equals_insert_zeros_then_convolve():
    """The lecture's view: stride-s transposed conv = put s-1 zeros between inputs, pad by d(k-1)-p,
    convolve with the flipped kernel (channels swapped)."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((3, 2, 3, 3))
    stride, padding = 2, 1
    y = F.conv_transpose2d(td.tensor(x), td.tensor(w), stride=stride, padding=padding).numpy()
    dilated = np.zeros((2, 3, (4 - 1) * stride + 1, (5 - 1) * stride + 1))
    dilated[:, :, ::stride, ::stride] = x
    flipped = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # (C_out, C_in, kH, kW)
    k = 3
    z = F.conv2d(td.tensor(dilated), td.tensor(flipped.copy()), padding=k - 1 - padding).numpy()
    np.testing.assert_allclose(y, z, rtol=1e-10, atol=1e-12)


@given(s=transposed_settings(max_side=5), seed=st.integers(0, 2**16))
def test_stride_one_shortcut_equals_the_col2im_path(s, seed):
    """Where _as_convolution applies (stride 1), its convolution gives what col2im gives."""
    from tinydl.functional import conv

    s = dict(s, stride=1, output_padding=0)
    kh, kw = s["weight_shape"][2:]
    dh, dw = F.windows.pair(s["dilation"])
    ph, pw = F.windows.pair(s["padding"])
    assume(s["shape"][2] - 2 * ph + dh * (kh - 1) > 0 and s["shape"][3] - 2 * pw + dw * (kw - 1) > 0)
    rng = np.random.default_rng(seed)
    y, w = td.tensor(rng.standard_normal(s["shape"])), td.tensor(rng.standard_normal(s["weight_shape"]))
    fast = F.conv_transpose2d(y, w, **transposed_arguments(s)).numpy()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(conv, "_as_convolution", lambda *args: None)
        slow = F.conv_transpose2d(y, w, **transposed_arguments(s)).numpy()
    np.testing.assert_allclose(fast, slow, rtol=1e-10, atol=1e-12)


def values_and_gradients(fn, arrays, seed):
    """fn's output and the gradient of every input under one random upstream gradient, as NumPy arrays."""
    inputs = [leaf(a) for a in arrays]
    y = fn(*inputs)
    y.backward(td.tensor(np.random.default_rng(seed).standard_normal(y.shape)))
    return [y.detach().numpy()] + [t.grad.numpy() for t in inputs]


def assert_plain_equals_fast(fn, arrays, seed):
    assert_same_results(*in_both_modes(lambda: values_and_gradients(fn, arrays, seed)), rtol=1e-10, atol=1e-12)


@given(s=conv_settings(), seed=st.integers(0, 2**16))
def test_conv2d_plain_and_fast_agree(s, seed):
    """im2col + one product (plain) and KernelRowIm2col (fast): same output, same gradients."""
    rng = np.random.default_rng(seed)
    arrays = rng.standard_normal(s["shape"]), rng.standard_normal(s["weight_shape"])
    assert_plain_equals_fast(lambda x, w: F.conv2d(x, w, **conv_arguments(s)), arrays, seed)


@given(s=transposed_settings(max_side=5), seed=st.integers(0, 2**16))
def test_conv_transpose2d_plain_and_fast_agree(s, seed):
    """col2im (plain) and, at stride 1, the flipped-kernel convolution (fast): same output and gradients."""
    rng = np.random.default_rng(seed)
    arrays = rng.standard_normal(s["shape"]), rng.standard_normal(s["weight_shape"])
    assert_plain_equals_fast(lambda y, w: F.conv_transpose2d(y, w, **transposed_arguments(s)), arrays, seed)
    arrays = rng.standard_normal(s["shape"]), rng.standard_normal(s["weight_shape"])  # and the stride-1 shortcut
    s1 = dict(s, stride=1, output_padding=0)
    assert_plain_equals_fast(lambda y, w: F.conv_transpose2d(y, w, **transposed_arguments(s1)), arrays, seed)


def test_a_backward_uses_the_matrix_its_forward_built_whatever_the_mode():
    """Switching modes between forward and backward changes nothing: the weight gradient contracts
    with the matrix object the forward kept (plain or fast), and both give the same numbers."""
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 4, 6, 6)), rng.standard_normal((5, 4, 3, 3))
    expected = values_and_gradients(lambda a, b: F.conv2d(a, b, padding=1), (x, w), 0)
    for forward_plain in (True, False):
        xt, wt = leaf(x), leaf(w)
        with td.use_reference_kernels(forward_plain):
            y = F.conv2d(xt, wt, padding=1)
        with td.use_reference_kernels(not forward_plain):
            y.backward(td.tensor(np.random.default_rng(0).standard_normal(y.shape)))
        for got, want in zip((y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()), expected):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("c_out, side", [(6, 5), (10, 3)])  # more output pixels than filters per group, and fewer
def test_weight_gradient_sums_over_images_and_pixels_per_group(c_out, side):
    """ConvolutionWeightGrad's one product per kernel row must give
    sum over n, p of g[n, o, p] * window[n, k, p], per group."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((3, 4, side, side)), rng.standard_normal((c_out, 2, 3, 3))
    g = rng.standard_normal((3, c_out, side - 2, side - 2))
    weight = leaf(w)
    F.conv2d(td.tensor(x), weight, groups=2).backward(td.tensor(g))
    windows = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(2, 3))  # (N, C, OH, OW, 3, 3)
    windows = windows.reshape(3, 2, 2, side - 2, side - 2, 3, 3)  # (N, G, C/G, OH, OW, kH, kW)
    expected = np.einsum("ngohw,ngchwij->gocij", g.reshape(3, 2, c_out // 2, side - 2, side - 2), windows)
    np.testing.assert_allclose(weight.grad.numpy(), expected.reshape(w.shape), rtol=1e-10, atol=1e-12)


@given(s=conv_settings(), seed=st.integers(0, 2**16))
def test_kernel_row_im2col_equals_the_plain_im2col(s, seed):
    """KernelRowIm2col (kernel rows as views of kW shifted copies) against Im2col, the plain matrix:
    the same output and both gradients. The test layers are small, and in fast mode layers with
    C/G * kW < THIN_BLOCK take Im2col anyway, so THIN_BLOCK = 0 forces KernelRowIm2col here."""
    from tinydl.functional import conv

    rng = np.random.default_rng(seed)
    arrays = rng.standard_normal(s["shape"]), rng.standard_normal(s["weight_shape"])
    built = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(conv, "THIN_BLOCK", 0)
        fast_init = conv.KernelRowIm2col.__init__
        patch.setattr(conv.KernelRowIm2col, "__init__", lambda self, *a: (built.append(1), fast_init(self, *a))[1])
        assert_plain_equals_fast(lambda x, w: F.conv2d(x, w, **conv_arguments(s)), arrays, seed)
    assert built  # the fast side really ran KernelRowIm2col


@given(s=conv_settings(max_side=4), seed=st.integers(0, 2**16))
def test_kernel_row_im2col_gradgradcheck(s, seed):
    """Double backward through KernelRowIm2col (forced, as above) and the stride-1 shortcut it serves."""
    from tinydl.functional import conv

    rng = np.random.default_rng(seed)
    x, w = leaf(rng.standard_normal(s["shape"])), leaf(rng.standard_normal(s["weight_shape"]))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(conv, "THIN_BLOCK", 0)
        assert td.gradgradcheck(lambda a, b: F.conv2d(a, b, **conv_arguments(s)), [x, w])


def test_few_input_channels_take_the_plain_matrix_in_fast_mode():
    """An RGB input layer (C/G * kW = 9 < THIN_BLOCK): kernel-row blocks of 9 rows keep BLAS idle, so the
    fast path builds the plain Im2col there (docs/performance.md); 8 channels (24 rows) take KernelRowIm2col."""
    from tinydl.functional import conv

    geo = conv.Geometry((3, 3), (1, 1), (1, 1), (1, 1), 1)
    with td.use_reference_kernels(False):
        assert type(conv.im2col(np.zeros((1, 3, 5, 5)), geo, (5, 5))) is conv.Im2col
        assert type(conv.im2col(np.zeros((1, 8, 5, 5)), geo, (5, 5))) is conv.KernelRowIm2col
    with td.use_reference_kernels():
        assert type(conv.im2col(np.zeros((1, 8, 5, 5)), geo, (5, 5))) is conv.Im2col


def test_conv2d_accepts_unbatched_input_and_same_padding():
    x, w = td.randn(3, 7, 6, dtype=td.float64), td.randn(4, 3, 3, 3, dtype=td.float64)
    y = F.conv2d(x, w, padding="same", dilation=2)
    assert y.shape == (4, 7, 6)
    np.testing.assert_allclose(y.numpy(), F.conv2d(x.unsqueeze(0), w, padding=2, dilation=2).numpy()[0], rtol=1e-12,
                               atol=rounding_atol(np.abs(x.numpy()).max() * np.abs(w.numpy()).sum((1, 2, 3)), terms=27))
    assert F.conv2d(x, w, padding="valid").shape == (4, 5, 4)


@pytest.mark.parametrize("call, message", [
    (lambda: F.conv2d(td.randn(1, 3, 5, 5), td.randn(4, 2, 3, 3)), r"\(1, 3, 5, 5\) has 3 channels.*\(4, 2, 3, 3\)"),
    (lambda: F.conv2d(td.randn(1, 4, 5, 5), td.randn(3, 2, 3, 3), groups=2), r"groups=2 must divide"),
    (lambda: F.conv2d(td.randn(1, 3, 2, 2), td.randn(4, 3, 3, 3)), r"kernel \(3, 3\).*larger than the padded input \(2, 2\)"),
    (lambda: F.conv2d(td.randn(3, 5, 5), td.randn(4, 3, 3)), r"weight must be.*\(4, 3, 3\)"),
    (lambda: F.conv2d(td.randn(3, 5), td.randn(4, 3, 3, 3)), r"expected an input.*\(3, 5\)"),
    (lambda: F.conv2d(td.randn(1, 3, 5, 5), td.randn(4, 3, 3, 3), td.randn(3)), r"bias of shape \(3,\).*4 output"),
    (lambda: F.conv2d(td.randn(1, 3, 5, 5), td.randn(4, 3, 3, 3), stride=0), r"stride"),
    (lambda: F.conv2d(td.randn(1, 3, 5, 5), td.randn(4, 3, 2, 2), padding="same"), r"uneven padding"),
    (lambda: F.conv_transpose2d(td.randn(1, 3, 4, 4), td.randn(2, 4, 3, 3)), r"\(1, 3, 4, 4\) has 3 channels.*\(2, 4, 3, 3\)"),
    (lambda: F.conv_transpose2d(td.randn(1, 2, 4, 4), td.randn(2, 4, 3, 3), stride=2, output_padding=2),
     r"output_padding \(2, 2\) must be smaller"),
])
def test_bad_arguments_name_the_shapes(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_conv_modules_have_pytorch_shapes_and_init():
    td.manual_seed(0)
    conv = nn.Conv2d(6, 8, 3, padding=1, groups=2)
    assert conv.weight.shape == (8, 3, 3, 3) and conv.bias.shape == (8,)
    bound = 1 / np.sqrt(3 * 3 * 3)
    assert np.abs(conv.weight.data).max() <= bound and np.abs(conv.bias.data).max() <= bound
    assert list(conv.state_dict()) == ["weight", "bias"]
    up = nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1, bias=False)
    assert up.weight.shape == (8, 4, 4, 4) and up.bias is None
    x = td.randn(2, 8, 5, 5)
    assert up(x).shape == (2, 4, 10, 10)
    assert up(x, output_size=(11, 11)).shape == (2, 4, 11, 11)


def test_a_small_cnn_learns(device):
    """End to end: conv -> relu -> conv fits a fixed target quickly (the whole chain trains)."""
    td.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 1, 3, padding=1)).to(device)
    x = td.randn(8, 1, 6, 6, device=device)
    target = F.conv2d(x, td.ones(1, 1, 3, 3, device=device) / 9, padding=1)  # a box blur to imitate
    opt = td.optim.Adam(model.parameters(), lr=0.02)
    first = None
    for _ in range(150):
        loss = F.mse_loss(model(x), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.05 * first


@pytest.mark.parametrize("c_in, k", [(3, 1), (3, 3), (64, 1), (64, 3)])  # the plain and the fast im2col
def test_conv2d_of_an_empty_batch(c_in, k):
    """N = 0 (a detector's mask head on zero RoIs): an empty output and zero weight gradients, as PyTorch."""
    conv = td.nn.Conv2d(c_in, 8, k, padding=k // 2)
    x = td.randn(0, c_in, 6, 6, requires_grad=True)
    y = conv(x)
    y.sum().backward()
    assert y.shape == (0, 8, 6, 6) and x.grad.shape == (0, c_in, 6, 6)
    assert not conv.weight.grad.numpy().any() and not conv.bias.grad.numpy().any()
