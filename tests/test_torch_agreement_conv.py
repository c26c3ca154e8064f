"""conv2d / conv_transpose2d and their modules against PyTorch, float64, to 1e-8 (skipped without torch)."""
import numpy as np
import pytest

import tinydl as td
import tinydl.functional as F
import tinydl.nn as nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional
TOL = dict(rtol=1e-8, atol=1e-10)

def assert_agrees(ours_fn, torch_fn, arrays, rng):
    """Same output shape and values, then the same gradient for every input under one random upstream gradient."""
    ours = [td.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, y_ref = ours_fn(*ours), torch_fn(*theirs)
    assert y.shape == tuple(y_ref.shape)
    np.testing.assert_allclose(y.detach().numpy(), y_ref.detach().numpy(), **TOL)
    g = rng.standard_normal(y_ref.shape)
    y.backward(td.tensor(g))
    y_ref.backward(torch.tensor(g))
    for mine, ref in zip(ours, theirs):
        np.testing.assert_allclose(mine.grad.numpy(), ref.grad.numpy(), **TOL)


CONV = [  # (input shape, weight shape, stride, padding, dilation, groups)
    ((2, 3, 8, 8), (4, 3, 3, 3), 1, 1, 1, 1),
    ((1, 4, 9, 7), (6, 2, 3, 2), (2, 1), (1, 0), (1, 2), 2),
    ((2, 6, 10, 10), (6, 1, 3, 3), 2, 2, 2, 6),  # depthwise, dilated, strided
    ((1, 2, 5, 5), (3, 2, 5, 5), 1, 0, 1, 1),  # kernel as large as the input
    ((1, 3, 11, 13), (2, 3, 1, 1), 3, 0, 1, 1),  # 1x1, stride larger than 1
    ((3, 4, 6, 6), (4, 2, 3, 3), 3, 1, 1, 2),  # stride that drops the last rows
    ((1, 2, 16, 16), (2, 2, 3, 3), 1, 2, 2, 1),  # "same" dilated conv (a context block)
]


@pytest.mark.parametrize("shape, wshape, stride, padding, dilation, groups", CONV)
def test_conv2d_values_and_gradients(kernels, shape, wshape, stride, padding, dilation, groups):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal(shape), rng.standard_normal(wshape), rng.standard_normal(wshape[0])
    assert_agrees(lambda *t: F.conv2d(*t, stride, padding, dilation, groups),
                  lambda *t: TF.conv2d(*t, stride, padding, dilation, groups), (x, w, b), rng)


TRANSPOSED = [  # (input shape, weight shape, stride, padding, output_padding, groups, dilation)
    ((2, 4, 5, 5), (4, 3, 4, 4), 2, 1, 0, 1, 1),  # the DCGAN / U-Net 2x upsampler
    ((1, 4, 3, 6), (4, 2, 3, 3), (2, 3), (1, 0), (1, 2), 2, 1),
    ((2, 2, 4, 4), (2, 3, 3, 3), 1, 0, 0, 1, 2),
    ((1, 3, 3, 3), (3, 1, 2, 3), 3, (0, 1), (2, 0), 3, (2, 1)),
    ((1, 2, 4, 4), (2, 2, 3, 3), 1, 1, (1, 0), 1, 2),  # output_padding >= stride, allowed by dilation
]


@pytest.mark.parametrize("shape, wshape, stride, padding, output_padding, groups, dilation", TRANSPOSED)
def test_conv_transpose2d_values_and_gradients(kernels, shape, wshape, stride, padding, output_padding, groups, dilation):
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal(shape), rng.standard_normal(wshape), rng.standard_normal(wshape[1] * groups)
    assert_agrees(lambda *t: F.conv_transpose2d(*t, stride, padding, output_padding, groups, dilation),
                  lambda *t: TF.conv_transpose2d(*t, stride, padding, output_padding, groups, dilation), (x, w, b), rng)


def test_double_backward_through_conv_matches_pytorch(kernels):
    """The WGAN-GP pattern: penalty on ||d D(x) / dx||, differentiated w.r.t. D's weights."""
    rng = np.random.default_rng(2)
    x, w1, w2 = rng.standard_normal((2, 3, 8, 8)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal((1, 4, 4, 4))

    def penalty(lib, conv, act, tensors):
        x, w1, w2 = tensors
        score = conv(act(conv(x, w1, None, 2, 1)), w2, None, 2, 0).sum()
        (gx,) = lib.autograd.grad(score, x, create_graph=True) if lib is torch else td.grad(score, x, create_graph=True)
        return ((gx * gx).sum() - 1) ** 2

    ours = [td.tensor(a, requires_grad=True) for a in (x, w1, w2)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w1, w2)]
    p = penalty(td, F.conv2d, F.tanh, ours)
    p_ref = penalty(torch, TF.conv2d, torch.tanh, theirs)
    np.testing.assert_allclose(p.item(), p_ref.item(), rtol=1e-10)
    p.backward()
    p_ref.backward()
    for mine, ref in zip(ours, theirs):
        np.testing.assert_allclose(mine.grad.numpy(), ref.grad.numpy(), **TOL)


def test_modules_load_pytorch_state_dicts_and_agree():
    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1, groups=1), torch.nn.ReLU(),
                              torch.nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1, groups=2)).double()
    ours = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                         nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1, groups=2)).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()}, strict=True)
    x = np.random.default_rng(3).standard_normal((2, 3, 6, 6))
    np.testing.assert_allclose(ours(td.tensor(x)).detach().numpy(), ref(torch.tensor(x)).detach().numpy(), **TOL)
