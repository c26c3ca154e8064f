"""PyTorch's nn pieces a typical script types (issue 20): nn.Transformer and its decoder, F.pad and
the padding layers, pixel shuffle, init.orthogonal_, Dropout2d on (N, C), the losses' legacy
size_average / reduce.  Values and gradients against torch (float64, the same weights loaded both
ways; skipped without torch), gradchecks in float64, on cpu and cuda (the stand-in)."""
import inspect
import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import tinydl as td
import tinydl.functional as F
import tinydl.nn as nn
from helpers import host, leaf

TOL = dict(rtol=1e-8, atol=1e-10)


def _torch():
    return pytest.importorskip("torch")


def close(mine, ref):
    np.testing.assert_allclose(host(mine), ref.detach().numpy(), **TOL)


def torch_leaf(array):
    torch = _torch()
    return torch.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


# ---- F.pad ------------------------------------------------------------------------------------
MODES = ["constant", "reflect", "replicate", "circular"]
NUMPY_MODE = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


@st.composite
def pad_cases(draw, allow_negative=True):
    """(mode, shape, pad): a shape and a pad tuple (last dim first) that PyTorch accepts for mode."""
    mode = draw(st.sampled_from(MODES))
    if mode == "constant":
        ndim = draw(st.integers(1, 4))
        padded = draw(st.integers(1, ndim))
    else:
        padded = draw(st.integers(1, 3))
        ndim = padded + draw(st.integers(1, 2))  # a channel dim, and maybe a batch dim
    shape = tuple(draw(st.integers(1, 4)) for _ in range(ndim))
    widths = []
    for k in range(padded):
        size = shape[ndim - 1 - k]
        low = -(size - 1) if allow_negative else 0
        high = {"constant": 3, "reflect": size - 1, "replicate": 3, "circular": size}[mode]
        before, after = draw(st.integers(low, high)), draw(st.integers(low, high))
        assume(size + before + after >= 1)
        if mode == "circular":  # PyTorch crops first, and wraps at most once around what is left
            kept = size - max(-before, 0) - max(-after, 0)
            assume(before <= kept and after <= kept)
        widths += [before, after]
    return mode, shape, tuple(widths)


@given(case=pad_cases(allow_negative=False), data=st.data())
def test_pad_equals_numpy_pad(device, case, data):
    """Each mode is NumPy's (reflect, edge, wrap, constant), pad read last dim first."""
    mode, shape, pad = case
    x = np.random.default_rng(0).standard_normal(shape)
    padded = len(pad) // 2
    widths = [(0, 0)] * (len(shape) - padded) + [(pad[2 * k], pad[2 * k + 1]) for k in range(padded)][::-1]
    kwargs = {"constant_values": 2.5} if mode == "constant" else {}
    expected = np.pad(x, widths, mode=NUMPY_MODE[mode], **kwargs)
    value = 2.5 if mode == "constant" else None
    np.testing.assert_array_equal(host(F.pad(td.tensor(x, device=device), pad, mode=mode, value=value)), expected)


@given(case=pad_cases())
def test_pad_gradcheck(device, case):
    """The gather's backward (a scatter-add onto the source positions) and its double backward."""
    mode, shape, pad = case
    x = leaf(np.random.default_rng(1).standard_normal(shape), device)
    assert td.gradcheck(lambda t: F.pad(t, pad, mode=mode), [x])
    assert td.gradgradcheck(lambda t: F.pad(t, pad, mode=mode), [x])


@given(case=pad_cases())
def test_pad_values_and_gradients_match_pytorch(device, case):
    torch = _torch()
    mode, shape, pad = case
    rng = np.random.default_rng(2)
    a = rng.standard_normal(shape)
    x, xt = leaf(a, device), torch_leaf(a)
    y, yt = F.pad(x, pad, mode=mode), torch.nn.functional.pad(xt, pad, mode=mode)
    close(y, yt)
    g = rng.standard_normal(tuple(yt.shape))
    y.backward(td.tensor(g, device=device))
    yt.backward(torch.tensor(g))
    close(x.grad, xt.grad)


def test_pad_constant_value_and_integer_input(device):
    x = td.tensor(np.arange(6).reshape(2, 3), device=device)
    y = F.pad(x, (1, 0, 0, 1), value=-1)
    assert y.dtype == x.dtype
    np.testing.assert_array_equal(host(y), [[-1, 0, 1, 2], [-1, 3, 4, 5], [-1, -1, -1, -1]])


PAD_ERRORS = [  # (shape, pad, mode, value, error, words)
    ((1, 2, 3, 4), (0, 0, 3, 0), "reflect", None, ValueError, "less than the size of the padded dim"),
    ((2, 3, 4), (4, 0), "reflect", None, ValueError, "padding (4, 0) at dim 2"),
    ((2, 3, 4), (5, 0), "circular", None, ValueError, "wraps around more than once"),
    ((2, 3, 4), (3, -2), "circular", None, ValueError, "after cropping, 2"),
    ((4,), (1, 1), "reflect", None, NotImplementedError, "1-d input"),
    ((1, 2, 3, 4), (1, 1), "replicate", None, NotImplementedError, "padding size 2"),
    ((2, 3), (1, 0, 1, 0), "reflect", None, NotImplementedError, "padding size 4"),
    ((2, 3, 4), (1,), "constant", None, ValueError, "divisible by 2"),
    ((2, 3), (1, 1, 1, 1, 1, 1), "constant", None, ValueError, "at most two times the input dimension"),
    ((2, 3), (1.5, 0), "constant", None, TypeError, "found 1.5"),
    ((2, 3), (1, 0), "wrap", None, NotImplementedError, "unrecognised padding mode 'wrap'"),
    ((2, 3, 4), (1, 0), "reflect", 2.0, ValueError, "doesn't take in a value"),
    ((2, 3, 4), (-5, 0), "constant", None, ValueError, "negative size"),
    ((2, 1, 0), (0, 0), "replicate", None, ValueError, "non-empty"),
]


@pytest.mark.parametrize("shape, pad, mode, value, error, words", PAD_ERRORS)
def test_pad_errors_name_the_op_and_the_arguments(device, shape, pad, mode, value, error, words):
    with pytest.raises(error, match="pad: .*" + words.replace("(", r"\(").replace(")", r"\)")):
        F.pad(td.zeros(*shape, device=device), pad, mode=mode, value=value)


# PyTorch 2.13 does not refuse a circular pad that wraps more than once around what its crop left:
# it returns uninitialized memory there (or fails on overlapping memory), so that row is ours alone.
@pytest.mark.parametrize("shape, pad, mode, value, error, words", [row for row in PAD_ERRORS if row[1] != (3, -2)])
def test_pytorch_refuses_the_same_pads(shape, pad, mode, value, error, words):
    torch = _torch()
    with pytest.raises((RuntimeError, NotImplementedError, TypeError, ValueError)):
        torch.nn.functional.pad(torch.zeros(*shape), pad, mode=mode, value=value)


LAYERS = [  # (name, constructor arguments, input shape)
    ("ReflectionPad1d", (2,), (2, 3, 4)), ("ReflectionPad2d", ((1, 2, 0, 1),), (1, 2, 3, 4)),
    ("ReflectionPad3d", (1,), (1, 2, 2, 3, 4)), ("ReplicationPad1d", ((3, 0),), (3, 4)),
    ("ReplicationPad2d", (2,), (1, 2, 3, 4)), ("ReplicationPad3d", ((1, 0, 2, 0, 0, 1),), (2, 2, 3, 4)),
    ("CircularPad1d", (1,), (2, 3, 4)), ("CircularPad2d", ((1, 2, 3, 0),), (1, 2, 3, 4)),
    ("ZeroPad1d", ((1, 2),), (2, 3)), ("ZeroPad2d", (1,), (1, 2, 3, 4)),
    ("ZeroPad3d", ((1, 0, 0, 1, 2, 0),), (2, 2, 3, 4)),
    ("ConstantPad1d", (2, 3.5), (2, 3, 4)), ("ConstantPad2d", ((1, 0, -1, 2), -1.0), (1, 2, 3, 4)),
    ("ConstantPad3d", (1, 0.5), (1, 2, 2, 3)),
]


@pytest.mark.parametrize("name, args, shape", LAYERS)
def test_padding_layers_match_pytorch(device, name, args, shape):
    torch = _torch()
    ours, ref = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert ours.padding == ref.padding and repr(ours) == repr(ref)
    a = np.random.default_rng(3).standard_normal(shape)
    x, xt = leaf(a, device), torch_leaf(a)
    y, yt = ours(x), ref(xt)
    close(y, yt)
    y.sum().backward()
    yt.sum().backward()
    close(x.grad, xt.grad)


def test_padding_layer_refuses_a_wrong_padding():
    with pytest.raises(ValueError, match="ReflectionPad2d: padding must be an int or a tuple of 4 ints"):
        nn.ReflectionPad2d((1, 2))


# ---- pixel shuffle ----------------------------------------------------------------------------
@given(r=st.integers(1, 3), c=st.integers(1, 2), h=st.integers(1, 3), w=st.integers(1, 3),
       batch=st.lists(st.integers(1, 2), max_size=2))
def test_pixel_shuffle_round_trip_and_gradcheck(device, r, c, h, w, batch):
    x = leaf(np.random.default_rng(4).standard_normal((*batch, c * r * r, h, w)), device)
    y = F.pixel_shuffle(x, r)
    assert y.shape == (*batch, c, h * r, w * r)
    # out[c, h*r + i, w*r + j] = in[c*r*r + i*r + j, h, w]
    np.testing.assert_array_equal(host(y)[..., 0, r - 1, 0], host(x)[..., (r - 1) * r, 0, 0])
    np.testing.assert_array_equal(host(F.pixel_unshuffle(y, r)), host(x))
    assert td.gradcheck(lambda t: F.pixel_shuffle(t, r), [x])
    assert td.gradcheck(lambda t: F.pixel_unshuffle(t, r), [y.detach().requires_grad_()])


@pytest.mark.parametrize("shape, r", [((2, 8, 3, 3), 2), ((9, 2, 1), 3), ((1, 2, 4, 3, 2), 1)])
def test_pixel_shuffle_layers_match_pytorch(device, shape, r):
    torch = _torch()
    a = np.random.default_rng(5).standard_normal(shape)
    x, xt = leaf(a, device), torch_leaf(a)
    y, yt = nn.PixelShuffle(r)(x), torch.nn.PixelShuffle(r)(xt)
    close(y, yt)
    g = np.random.default_rng(6).standard_normal(tuple(yt.shape))
    y.backward(td.tensor(g, device=device))
    yt.backward(torch.tensor(g))
    close(x.grad, xt.grad)
    close(nn.PixelUnshuffle(r)(y), torch.nn.PixelUnshuffle(r)(yt))
    assert repr(nn.PixelShuffle(r)) == repr(torch.nn.PixelShuffle(r))


@pytest.mark.parametrize("call, error, words", [
    (lambda: F.pixel_shuffle(td.zeros(2, 7, 3, 3), 2), ValueError, "divisible by upscale_factor"),
    (lambda: F.pixel_shuffle(td.zeros(8, 3), 2), ValueError, "at least 3 dimensions"),
    (lambda: F.pixel_shuffle(td.zeros(2, 8, 3, 3), 0), ValueError, "positive upscale_factor"),
    (lambda: F.pixel_shuffle(td.zeros(2, 8, 3, 3), 2.0), TypeError, "'upscale_factor' must be int"),
    (lambda: F.pixel_unshuffle(td.zeros(2, 2, 3, 4), 2), ValueError, "divisible by downscale_factor"),
])
def test_pixel_shuffle_errors(call, error, words):
    with pytest.raises(error, match=words):
        call()


# ---- init.orthogonal_ ------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4), (4, 2, 3), (2, 3, 2, 2)])
def test_orthogonal_gives_orthonormal_rows_or_columns(device, shape):
    td.manual_seed(0)
    w = td.zeros(*shape, dtype=td.float64, device=device)
    assert nn.init.orthogonal_(w, gain=2.0) is w
    m = host(w).reshape(shape[0], -1) / 2.0
    rows, cols = m.shape
    identity = np.eye(min(rows, cols))
    gram = m @ m.T if rows <= cols else m.T @ m  # the smaller Gram matrix is the identity
    np.testing.assert_allclose(gram, identity, rtol=0, atol=1e-12)
    assert np.abs(m).min() > 0  # filled, not left zero


def test_orthogonal_is_the_sign_fixed_q_of_a_gaussian(device):
    """PyTorch's recipe: Q of the QR of a Gaussian (of the tall orientation), each column times the
    sign of R's diagonal entry; a td.Generator gives the same Gaussian on every device."""
    for rows, cols in [(3, 5), (5, 3)]:
        w = nn.init.orthogonal_(td.zeros(rows, cols, dtype=td.float64, device=device),
                                generator=td.Generator().manual_seed(3))
        a = np.random.default_rng(3).standard_normal((rows, cols))
        q, r = np.linalg.qr(a if rows >= cols else a.T)
        q = q * np.sign(np.diag(r))
        np.testing.assert_allclose(host(w), q if rows >= cols else q.T, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fill, args", [("normal_", (0.0, 0.02)), ("zeros_", ()), ("orthogonal_", ()),
                                        ("xavier_uniform_", ()), ("kaiming_normal_", ())])
def test_init_fills_a_parameters_data_array_in_place(device, fill, args):
    """The DCGAN tutorial's ``init.normal_(m.weight.data, 0.0, 0.02)``: the raw array is filled, so the
    parameter is, and the array comes back."""
    conv = nn.Conv2d(2, 4, 3).to(device)
    before = host(conv.weight).copy()
    assert getattr(nn.init, fill)(conv.weight.data, *args) is conv.weight.data
    assert not np.array_equal(host(conv.weight), before)
    with pytest.raises(TypeError, match=f"{fill}: expected a Tensor \\(or its .data array\\), got list"):
        getattr(nn.init, fill)([[1.0, 2.0]], *args)


def test_orthogonal_refuses_vectors():
    with pytest.raises(ValueError, match="orthogonal_: only tensors with 2 or more dimensions"):
        nn.init.orthogonal_(td.zeros(3))


# ---- Dropout2d on (N, C) ---------------------------------------------------------------------
def test_dropout2d_on_n_c_warns_as_pytorch_and_drops_single_entries(device):
    x = td.ones(64, 32, device=device)
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout2d, which is deprecated") as record:
        y = nn.Dropout2d(0.5)(x)
    values = host(y)
    assert set(np.unique(values)) <= {0.0, 2.0}
    assert 0.3 < (values == 0).mean() < 0.7
    assert (values == 0).any(axis=0).all()  # each (n, c) on its own: no whole column survives everywhere...
    assert not (values == 0).all(axis=0).any()  # ...nor is dropped everywhere
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        torch.nn.Dropout2d(0.5)(torch.ones(4, 3))
    assert [str(w.message) for w in record] == [str(w.message) for w in theirs]


def test_dropout2d_eval_mode_on_n_c_is_the_identity_and_3d_warns_like_pytorch(device):
    x = td.ones(4, 3, device=device)
    with pytest.warns(UserWarning, match="2-D input"):
        np.testing.assert_array_equal(host(nn.Dropout2d(0.5).eval()(x)), np.ones((4, 3)))
    with pytest.warns(UserWarning, match="interpreted as shape \\(N, C, L\\)"):
        F.dropout2d(td.ones(2, 3, 4, device=device), 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.dropout2d(td.ones(2, 3, 4, 4, device=device), 0.5)  # the intended input: no warning
    with pytest.raises(ValueError, match="dropout2d: feature dropout requires at least 2 dimensions"):
        F.dropout2d(td.ones(5, device=device), 0.5)


# ---- the losses' size_average / reduce ------------------------------------------------------
LEGACY = [(s, r) for s in (None, True, False) for r in (None, True, False) if (s, r) != (None, None)]
LOSS_MODULES = ["MSELoss", "L1Loss", "SmoothL1Loss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss"]


def _expected(size_average, reduce):
    if reduce is False:
        return "none"
    return "sum" if size_average is False else "mean"


@pytest.mark.parametrize("name", LOSS_MODULES)
@pytest.mark.parametrize("size_average, reduce", LEGACY)
def test_loss_modules_map_size_average_and_reduce(name, size_average, reduce):
    mapped = _expected(size_average, reduce)
    message = f"size_average and reduce args will be deprecated, please use reduction='{mapped}' instead."
    with pytest.warns(UserWarning, match=message.replace("(", r"\(").replace(".", r"\.")):
        loss = getattr(nn, name)(size_average=size_average, reduce=reduce, reduction="sum")
    assert loss.reduction == mapped  # reduction= is overridden, as in PyTorch
    torch = pytest.importorskip("torch")
    with pytest.warns(UserWarning):
        assert getattr(torch.nn, name)(size_average=size_average, reduce=reduce).reduction == mapped


def _loss_inputs(name, device):
    rng = np.random.default_rng(7)
    if name in ("cross_entropy", "nll_loss"):
        return td.tensor(rng.standard_normal((4, 3)), device=device), td.tensor([0, 2, 1, 2], device=device)
    if name == "binary_cross_entropy":
        probabilities, targets = rng.uniform(0.1, 0.9, (4, 3)), rng.uniform(0, 1, (4, 3))
        return td.tensor(probabilities, device=device), td.tensor(targets, device=device)
    return td.tensor(rng.standard_normal((4, 3)), device=device), td.tensor(rng.standard_normal((4, 3)), device=device)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "smooth_l1_loss", "cross_entropy", "nll_loss",
                                  "binary_cross_entropy", "binary_cross_entropy_with_logits"])
@pytest.mark.parametrize("size_average, reduce", LEGACY)
def test_functional_losses_map_size_average_and_reduce(device, name, size_average, reduce):
    fn = getattr(F, name)
    x, t = _loss_inputs(name, device)
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        legacy = fn(x, t, size_average=size_average, reduce=reduce)
    np.testing.assert_allclose(host(legacy), host(fn(x, t, reduction=_expected(size_average, reduce))), **TOL)


def test_loss_signatures_are_pytorchs():
    """Same parameter names in the same order (so positional calls mean the same), same defaults."""
    torch = _torch()
    for name in ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "cross_entropy", "nll_loss",
                 "binary_cross_entropy", "binary_cross_entropy_with_logits", "pad"]:
        ours = inspect.signature(getattr(F, name)).parameters
        theirs = inspect.signature(getattr(torch.nn.functional, name)).parameters
        assert [(p.name, p.default) for p in ours.values()] == [(p.name, p.default) for p in theirs.values()], name
    for name in LOSS_MODULES + ["HuberLoss"]:
        ours = inspect.signature(getattr(nn, name)).parameters
        theirs = inspect.signature(getattr(torch.nn, name)).parameters
        assert list(ours) == list(theirs), name
        assert all(ours[k].default == theirs[k].default for k in theirs if k not in ("weight", "pos_weight")), name


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_elementwise_loss_weight_matches_pytorch(device, name, reduction):
    torch = _torch()
    rng = np.random.default_rng(8)
    a, b, w = rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.uniform(0.1, 2, (3, 4))
    x, xt = leaf(a, device), torch_leaf(a)
    y = getattr(F, name)(x, td.tensor(b, device=device), reduction=reduction, weight=td.tensor(w, device=device))
    yt = getattr(torch.nn.functional, name)(xt, torch.tensor(b), reduction=reduction, weight=torch.tensor(w))
    close(y, yt)
    y.sum().backward()
    yt.sum().backward()
    close(x.grad, xt.grad)


LABEL_SMOOTHING = [  # (logits shape, target kind, class weights, ignore_index)
    ((5, 4), "index", False, -100), ((5, 4), "index", True, 2), ((3, 4, 2), "index", True, -100),
    ((3, 4, 2), "index", False, 1), ((4,), "index", True, -100), ((5, 4), "probs", True, -100),
    ((3, 4, 2), "probs", False, -100),
]


@pytest.mark.parametrize("shape, kind, weighted, ignore_index", LABEL_SMOOTHING)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_label_smoothing_matches_pytorch(device, shape, kind, weighted, ignore_index, reduction):
    torch = _torch()
    rng = np.random.default_rng(14)
    a = rng.standard_normal(shape)
    dim = 0 if len(shape) == 1 else 1
    if kind == "index":
        t = np.asarray(rng.integers(0, shape[dim], (shape[0],) + shape[2:] if len(shape) > 1 else ()))
        if ignore_index >= 0:
            t.flat[0] = ignore_index  # at least one ignored target
    else:
        t = rng.dirichlet(np.ones(shape[dim]), size=int(np.prod(shape)) // shape[dim])
        t = np.moveaxis(t.reshape((shape[0],) + shape[2:] + (shape[dim],)), -1, dim)
    w = rng.uniform(0.5, 2.0, shape[dim]) if weighted else None
    x, xt = leaf(a, device), torch_leaf(a)
    loss = nn.CrossEntropyLoss(weight=None if w is None else td.tensor(w, device=device), ignore_index=ignore_index,
                               reduction=reduction, label_smoothing=0.2)(x, td.tensor(t, device=device))
    ref = torch.nn.CrossEntropyLoss(weight=None if w is None else torch.tensor(w), ignore_index=ignore_index,
                                    reduction=reduction, label_smoothing=0.2)(xt, torch.tensor(t))
    close(loss, ref)
    loss.sum().backward()
    ref.sum().backward()
    close(x.grad, xt.grad)


def test_label_smoothing_outside_0_1_is_refused():
    with pytest.raises(ValueError, match="cross_entropy: label_smoothing must be between 0.0 and 1.0, got 1.5"):
        F.cross_entropy(td.zeros(2, 3), td.tensor([0, 1]), label_smoothing=1.5)


# ---- nn.InstanceNorm2d's defaults ------------------------------------------------------------
def test_instance_norm_2d_has_pytorchs_defaults():
    m = nn.InstanceNorm2d(3)
    assert (m.affine, m.track_running_stats, m.eps, m.momentum) == (False, False, 1e-5, 0.1)
    assert dict(m.named_parameters()) == {} and m.state_dict() == {}


# ---- the transformer ---------------------------------------------------------------------------
def _perturb(module):
    """Move torch's ones, zeros and xavier weights off their special values (the copies become different)."""
    torch = _torch()
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.3 * torch.randn_like(p))


def load_from(ours, ref):
    """torch -> tinydl through a NumPy state dict (strict: the keys must be identical)."""
    assert list(ours.state_dict()) == list(ref.state_dict())
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()}, strict=True)


def load_into(ref, ours):
    """tinydl -> torch, the other way."""
    torch = _torch()
    ref.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in ours.state_dict().items()}, strict=True)


def _pair(array, device):
    return leaf(array, device), torch_leaf(array)


def _same_gradients(ours, ref):
    mine = dict(ours.named_parameters())
    for name, p in ref.named_parameters():
        close(mine[name].grad, p.grad)


def _decoder_masks(kind, rng, n, T, S, device):
    """The same masks for both libraries, as keyword arguments of a decoder's forward."""
    torch = _torch()
    mine, theirs = {}, {}

    def add(name, array):
        mine[name], theirs[name] = td.tensor(array, device=device), torch.tensor(array)

    if kind in ("causal", "all"):
        causal = torch.nn.Transformer.generate_square_subsequent_mask(T, dtype=torch.float64).numpy()
        add("tgt_mask", causal)
    if kind == "all":
        padding = np.zeros((n, T), dtype=bool)
        padding[1, -2:] = True
        add("tgt_key_padding_mask", padding)
        memory_padding = np.zeros((n, S), dtype=bool)
        memory_padding[0, -1] = True
        add("memory_key_padding_mask", memory_padding)
        blocked = rng.random((T, S)) < 0.3
        blocked[:, 0] = False
        add("memory_mask", blocked)
    if kind == "float":
        add("tgt_mask", rng.standard_normal((T, T)))
        add("memory_mask", rng.standard_normal((T, S)))
    return mine, theirs


DECODER = [  # (norm_first, activation, batch_first, masks)
    (False, "relu", False, "none"), (False, "gelu", True, "causal"), (True, "relu", True, "all"),
    (True, "gelu", False, "float"), (False, "relu", True, "all"),
]


@pytest.mark.parametrize("norm_first, activation, batch_first, masks", DECODER)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_decoder_layer_values_and_gradients_match_pytorch(device, norm_first, activation, batch_first, masks, mode):
    torch = _torch()
    torch.manual_seed(3)
    rng = np.random.default_rng(9)
    n, T, S, d = 2, 4, 5, 8
    # eval mode with dropout > 0 checks that .eval() switches every dropout off
    kwargs = dict(dim_feedforward=12, dropout=0.0 if mode == "train" else 0.3, activation=activation,
                  batch_first=batch_first, norm_first=norm_first)
    ref = torch.nn.TransformerDecoderLayer(d, 2, **kwargs).double()
    _perturb(ref)
    ours = nn.TransformerDecoderLayer(d, 2, **kwargs).double().to(device)
    load_from(ours, ref)
    getattr(ours, mode)()
    getattr(ref, mode)()
    tgt, tgt_t = _pair(rng.standard_normal((n, T, d) if batch_first else (T, n, d)), device)
    memory, memory_t = _pair(rng.standard_normal((n, S, d) if batch_first else (S, n, d)), device)
    mine, theirs = _decoder_masks(masks, rng, n, T, S, device)
    out, out_ref = ours(tgt, memory, **mine), ref(tgt_t, memory_t, **theirs)
    close(out, out_ref)
    g = rng.standard_normal(tuple(out_ref.shape))
    out.backward(td.tensor(g, device=device))
    out_ref.backward(torch.tensor(g))
    close(tgt.grad, tgt_t.grad)
    close(memory.grad, memory_t.grad)
    _same_gradients(ours, ref)


def test_decoder_layer_is_causal_flag_equals_the_causal_mask(device):
    torch = _torch()
    torch.manual_seed(5)
    ref = torch.nn.TransformerDecoderLayer(8, 2, dim_feedforward=12, dropout=0.0).double()
    _perturb(ref)
    ours = nn.TransformerDecoderLayer(8, 2, dim_feedforward=12, dropout=0.0).double().to(device)
    load_from(ours, ref)
    rng = np.random.default_rng(10)
    tgt, memory = rng.standard_normal((4, 2, 8)), rng.standard_normal((3, 2, 8))
    mask = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64)
    out = ours(td.tensor(tgt, device=device), td.tensor(memory, device=device), tgt_is_causal=True)
    close(out, ref(torch.tensor(tgt), torch.tensor(memory), tgt_mask=mask, tgt_is_causal=True))


def test_unbatched_transformer_matches_pytorch(device):
    """(S, E) and (T, E) without a batch dim, as PyTorch takes them."""
    torch = _torch()
    torch.manual_seed(8)
    kwargs = dict(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16, dropout=0.0)
    ref = torch.nn.Transformer(**kwargs).double()
    _perturb(ref)
    ours = nn.Transformer(**kwargs).double().to(device)
    load_from(ours, ref)
    rng = np.random.default_rng(15)
    src, src_t = _pair(rng.standard_normal((5, 8)), device)
    tgt, tgt_t = _pair(rng.standard_normal((3, 8)), device)
    padding = np.array([False, False, False, True, True])
    out = ours(src, tgt, tgt_is_causal=True, src_key_padding_mask=td.tensor(padding, device=device))
    out_ref = ref(src_t, tgt_t, tgt_mask=torch.nn.Transformer.generate_square_subsequent_mask(3, dtype=torch.float64),
                  tgt_is_causal=True, src_key_padding_mask=torch.tensor(padding))
    close(out, out_ref)
    out.sum().backward()
    out_ref.sum().backward()
    close(src.grad, src_t.grad)
    _same_gradients(ours, ref)


@pytest.mark.parametrize("batch_first, norm_first", [(False, False), (True, True)])
def test_decoder_stack_matches_pytorch(device, batch_first, norm_first):
    torch = _torch()
    torch.manual_seed(4)
    kwargs = dict(dim_feedforward=16, dropout=0.0, batch_first=batch_first, norm_first=norm_first)
    ref = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(8, 2, **kwargs), 3,
                                      norm=torch.nn.LayerNorm(8)).double()
    _perturb(ref)
    ours = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, **kwargs), 3, norm=nn.LayerNorm(8)).double()
    ours = ours.to(device)
    load_from(ours, ref)
    rng = np.random.default_rng(11)
    n, T, S = 2, 5, 3
    tgt, tgt_t = _pair(rng.standard_normal((n, T, 8) if batch_first else (T, n, 8)), device)
    memory, memory_t = _pair(rng.standard_normal((n, S, 8) if batch_first else (S, n, 8)), device)
    mine, theirs = _decoder_masks("all", rng, n, T, S, device)
    out, out_ref = ours(tgt, memory, **mine), ref(tgt_t, memory_t, **theirs)
    close(out, out_ref)
    out.sum().backward()
    out_ref.sum().backward()
    close(tgt.grad, tgt_t.grad)
    close(memory.grad, memory_t.grad)
    _same_gradients(ours, ref)


@pytest.mark.parametrize("mask_kind", ["float causal", "bool"])
def test_encoder_stack_mask_argument_matches_pytorch(device, mask_kind):
    torch = _torch()
    torch.manual_seed(6)
    layer = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0)
    ref = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).double()
    _perturb(ref)
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0), 2).double()
    ours = ours.to(device)
    load_from(ours, ref)
    rng = np.random.default_rng(12)
    T, n = 5, 3
    if mask_kind == "bool":
        mask = rng.random((T, T)) < 0.3
        mask[:, 0] = False
    else:
        mask = torch.nn.Transformer.generate_square_subsequent_mask(T, dtype=torch.float64).numpy()
    padding = np.zeros((n, T), dtype=bool)
    padding[2, -2:] = True
    x, xt = _pair(rng.standard_normal((T, n, 8)), device)
    out = ours(x, mask=td.tensor(mask, device=device), src_key_padding_mask=td.tensor(padding, device=device))
    out_ref = ref(xt, mask=torch.tensor(mask), src_key_padding_mask=torch.tensor(padding))
    close(out, out_ref)
    out.sum().backward()
    out_ref.sum().backward()
    close(x.grad, xt.grad)
    _same_gradients(ours, ref)


@pytest.mark.parametrize("batch_first, norm_first", [(False, True), (True, False)])
def test_transformer_matches_pytorch_and_weights_load_both_ways(device, batch_first, norm_first):
    torch = _torch()
    torch.manual_seed(7)
    kwargs = dict(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=16,
                  dropout=0.1, batch_first=batch_first, norm_first=norm_first)
    ref = torch.nn.Transformer(**kwargs).double().eval()  # eval: dropout off in both
    _perturb(ref)
    ours = nn.Transformer(**kwargs).double().to(device).eval()
    load_from(ours, ref)
    rng = np.random.default_rng(13)
    n, S, T = 2, 5, 4
    src, src_t = _pair(rng.standard_normal((n, S, 8) if batch_first else (S, n, 8)), device)
    tgt, tgt_t = _pair(rng.standard_normal((n, T, 8) if batch_first else (T, n, 8)), device)
    src_padding = np.zeros((n, S), dtype=bool)
    src_padding[1, -2:] = True
    tgt_mask = torch.nn.Transformer.generate_square_subsequent_mask(T, dtype=torch.float64)
    out = ours(src, tgt, tgt_mask=td.tensor(tgt_mask.numpy(), device=device),
               src_key_padding_mask=td.tensor(src_padding, device=device),
               memory_key_padding_mask=td.tensor(src_padding, device=device))
    out_ref = ref(src_t, tgt_t, tgt_mask=tgt_mask, src_key_padding_mask=torch.tensor(src_padding),
                  memory_key_padding_mask=torch.tensor(src_padding))
    close(out, out_ref)
    g = rng.standard_normal(tuple(out_ref.shape))
    out.backward(td.tensor(g, device=device))
    out_ref.backward(torch.tensor(g))
    close(src.grad, src_t.grad)
    close(tgt.grad, tgt_t.grad)
    _same_gradients(ours, ref)

    # and back: a freshly initialized tinydl model's weights loaded into a fresh torch model
    td.manual_seed(1)
    mine = nn.Transformer(**kwargs).double().eval()
    theirs = torch.nn.Transformer(**kwargs).double().eval()
    load_into(theirs, mine)
    with torch.no_grad():
        close(mine(td.tensor(src_t.detach().numpy()), td.tensor(tgt_t.detach().numpy())),
              theirs(src_t.detach(), tgt_t.detach()))


def test_transformer_defaults_and_init_are_pytorchs():
    torch = _torch()
    ours = inspect.signature(nn.Transformer).parameters
    theirs = inspect.signature(torch.nn.Transformer).parameters
    assert list(ours) == list(theirs)
    skip = ("activation", "device")  # 'relu' spelled as a string here, 'cpu' for torch's None
    assert all(ours[k].default == theirs[k].default for k in theirs if k not in skip)
    for cls in ("TransformerDecoderLayer", "TransformerDecoder", "TransformerEncoder"):
        assert list(inspect.signature(getattr(nn, cls)).parameters) == list(
            inspect.signature(getattr(torch.nn, cls)).parameters), cls
        assert list(inspect.signature(getattr(nn, cls).forward).parameters) == list(
            inspect.signature(getattr(torch.nn, cls).forward).parameters), cls
    assert list(inspect.signature(nn.Transformer.forward).parameters) == list(
        inspect.signature(torch.nn.Transformer.forward).parameters)
    model = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=32)
    assert list(model.state_dict()) == list(torch.nn.Transformer(8, 2, 1, 1, 32).state_dict())
    w = host(model.decoder.layers[0].linear1.weight)  # xavier_uniform: U(-b, b), b = sqrt(6 / (8 + 32))
    assert np.abs(w).max() <= np.sqrt(6 / 40) and np.abs(w).max() > 0.8 * np.sqrt(6 / 40)


def test_generate_square_subsequent_mask_is_pytorchs(device):
    torch = _torch()
    mask = nn.Transformer.generate_square_subsequent_mask(4, device=device)
    assert mask.dtype == np.float32 and mask.device == device
    np.testing.assert_array_equal(host(mask), torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())
    assert nn.Transformer.generate_square_subsequent_mask(3, dtype=td.float64).dtype == np.float64


def test_transformer_refuses_mismatched_src_and_tgt():
    model = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=8)
    with pytest.raises(ValueError, match=r"Transformer: the batch number of src \(5, 2, 8\) and tgt \(4, 3, 8\)"):
        model(td.zeros(5, 2, 8), td.zeros(4, 3, 8))
    with pytest.raises(ValueError, match="must be equal to d_model = 8"):
        model(td.zeros(5, 2, 8), td.zeros(4, 2, 6))
