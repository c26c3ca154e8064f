"""Common extras PyTorch scripts use (issue 20, part G): autograd.Variable, td.cuda.manual_seed,
td.backends, F.one_hot, F.normalize, elu / silu, log1p, group norm, nn.Unflatten, the td.NAME
aliases (clone, pow, square, numel, as_tensor, concat, log_softmax), inference_mode, the default
dtype, and log / division by zero without NumPy's warnings.

Each differentiable op passes gradcheck and gradgradcheck in float64 on cpu and cuda, and agrees
with PyTorch in values and gradients when torch is installed.
"""
import math
import warnings

import numpy as np
import pytest

import tinydl as td
import tinydl.functional as F
import tinydl.nn as nn
from helpers import const, host, leaf


def torch_or_skip():
    return pytest.importorskip("torch")


def values(shape, seed=0, low=-2.0, high=2.0):
    """Distinct values in [low, high] (no ties, none exactly at a kink of the ops below)."""
    n = math.prod(shape)
    return np.random.default_rng(seed).permutation(np.linspace(low, high, n) + 0.013).reshape(shape)


# ---- differentiable ops: gradcheck, and agreement with PyTorch ----------------------------
OPS = {  # name: (tinydl function, torch function (called with torch, x), input shape, input range)
    "elu": (lambda x: F.elu(x), lambda torch, x: torch.nn.functional.elu(x), (3, 4), (-3, 2)),
    "elu alpha": (lambda x: F.elu(x, alpha=0.5), lambda torch, x: torch.nn.functional.elu(x, alpha=0.5),
                  (3, 4), (-3, 2)),
    "nn.ELU": (lambda x: nn.ELU(0.7)(x), lambda torch, x: torch.nn.ELU(0.7)(x), (2, 5), (-3, 2)),
    "silu": (lambda x: F.silu(x), lambda torch, x: torch.nn.functional.silu(x), (3, 4), (-4, 4)),
    "nn.SiLU": (lambda x: nn.SiLU()(x), lambda torch, x: torch.nn.SiLU()(x), (2, 5), (-4, 4)),
    "log1p": (lambda x: td.log1p(x) + x.log1p(), lambda torch, x: torch.log1p(x) + x.log1p(), (3, 4), (-0.9, 3)),
    "normalize": (lambda x: F.normalize(x), lambda torch, x: torch.nn.functional.normalize(x), (3, 4), (-2, 2)),
    "normalize p=1 dim=0": (lambda x: F.normalize(x, p=1, dim=0), lambda torch, x: torch.nn.functional.normalize(
        x, p=1, dim=0), (3, 4), (-2, 2)),
    "normalize 3d dim=-1": (lambda x: F.normalize(x, dim=-1), lambda torch, x: torch.nn.functional.normalize(
        x, dim=-1), (2, 3, 4), (-2, 2)),
    "group_norm": (lambda x: F.group_norm(x, 2), lambda torch, x: torch.nn.functional.group_norm(x, 2),
                   (2, 4, 3, 2), (-2, 2)),
    "group_norm affine": (lambda x: F.group_norm(x, 3, x[0, :, 0] * 2, x[1, :, 1], eps=1e-3),
                          lambda torch, x: torch.nn.functional.group_norm(x, 3, x[0, :, 0] * 2, x[1, :, 1], eps=1e-3),
                          (2, 6, 3), (-2, 2)),
    "group_norm (N, C)": (lambda x: F.group_norm(x, 2), lambda torch, x: torch.nn.functional.group_norm(x, 2),
                          (3, 4), (-2, 2)),
    "square pow clone": (lambda x: td.square(x) + td.pow(x, 3) + td.clone(x),
                         lambda torch, x: torch.square(x) + torch.pow(x, 3) + torch.clone(x), (3, 4), (-2, 2)),
    "log_softmax concat": (lambda x: td.log_softmax(td.concat([x, x * 2], 1), 1) + td.concatenate([x, x], dim=1),
                           lambda torch, x: torch.log_softmax(torch.concat([x, x * 2], 1), 1) + torch.concatenate(
                               [x, x], dim=1), (3, 4), (-2, 2)),
    "Unflatten": (lambda x: nn.Unflatten(1, (2, -1))(x) * 1.5, lambda torch, x: torch.nn.Unflatten(1, (2, -1))(x) * 1.5,
                  (3, 6), (-2, 2)),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_gradcheck(device, name):
    ours, _, shape, (low, high) = OPS[name]
    x = leaf(values(shape, low=low, high=high), device)
    assert td.gradcheck(ours, (x,))
    assert td.gradgradcheck(ours, (x,))


@pytest.mark.parametrize("name", sorted(OPS))
def test_values_and_gradients_agree_with_pytorch(device, name):
    torch = torch_or_skip()
    ours, theirs, shape, (low, high) = OPS[name]
    array = values(shape, low=low, high=high)
    x, xt = leaf(array, device), torch.tensor(array, requires_grad=True)
    y, yt = ours(x), theirs(torch, xt)
    assert tuple(y.shape) == tuple(yt.shape)
    np.testing.assert_allclose(host(y), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    weights = np.random.default_rng(1).standard_normal(tuple(yt.shape))
    (y * const(weights, device)).sum().backward()
    (yt * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(host(x.grad), xt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_float32_results_stay_float32(device):
    x = td.tensor([[-1.0, 0.5], [2.0, -3.0]], device=device)
    for y in [F.elu(x), F.silu(x), x.log1p(), F.normalize(x), F.group_norm(x, 1), nn.ELU()(x), nn.SiLU()(x)]:
        assert y.dtype == td.float32 and y.device == device


def test_silu_and_elu_do_not_overflow_for_large_inputs(device):
    x = leaf([-800.0, -50.0, 50.0, 800.0], device)
    F.silu(x).sum().backward()
    np.testing.assert_allclose(host(F.silu(x)), [-0.0, -50 * math.exp(-50), 50.0, 800.0], rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(host(x.grad), [0.0, 0.0, 1.0, 1.0], rtol=1e-12, atol=1e-18)
    x = leaf([-800.0, 800.0], device)
    F.elu(x).sum().backward()
    np.testing.assert_allclose(host(x.grad), [0.0, 1.0], rtol=0, atol=1e-300)


def test_normalize_leaves_a_zero_vector_zero(device):
    torch = torch_or_skip()
    array = np.array([[0.0, 0.0, 0.0], [3.0, 4.0, 0.0]])
    x, xt = leaf(array, device), torch.tensor(array, requires_grad=True)
    y, yt = F.normalize(x), torch.nn.functional.normalize(xt)
    np.testing.assert_allclose(host(y), yt.detach().numpy(), rtol=1e-12, atol=1e-15)
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(host(x.grad), xt.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_functional_inplace_is_refused_with_a_clear_error():
    with pytest.raises(NotImplementedError, match="elu: inplace=True"):
        F.elu(td.ones(2), inplace=True)
    with pytest.raises(NotImplementedError, match="silu: inplace=True"):
        F.silu(td.ones(2), inplace=True)
    assert nn.ELU(inplace=True)(td.tensor([1.0])).item() == 1.0  # modules accept it, as nn.ReLU does


# ---- group norm: module, errors --------------------------------------------------------------
def test_group_norm_module_matches_pytorch(device):
    torch = torch_or_skip()
    array = values((2, 6, 3, 3))
    ours, theirs = nn.GroupNorm(3, 6), torch.nn.GroupNorm(3, 6).double()
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict()) == ["bias", "weight"]
    ours.weight.data[...] = np.arange(1.0, 7.0, dtype=np.float32)
    ours = ours.double().to(device)
    with torch.no_grad():
        theirs.weight.copy_(torch.arange(1.0, 7.0))
    np.testing.assert_allclose(host(ours(const(array, device))), theirs(torch.tensor(array)).detach().numpy(),
                               rtol=1e-10, atol=1e-12)
    assert repr(ours) == repr(theirs)
    assert nn.GroupNorm(2, 4, affine=False).weight is None


def test_group_norm_errors_name_the_op_and_shapes():
    with pytest.raises(ValueError, match=r"group_norm: num_groups=3 .* 4 channels .*\(2, 4, 5\)"):
        F.group_norm(td.ones(2, 4, 5), 3)
    with pytest.raises(ValueError, match=r"GroupNorm: num_channels=4 .* num_groups=3"):
        nn.GroupNorm(3, 4)
    with pytest.raises(ValueError, match=r"group_norm: weight should have shape \(4,\)"):
        F.group_norm(td.ones(2, 4, 5), 2, weight=td.ones(3))


# ---- one_hot -----------------------------------------------------------------------------
def test_one_hot_matches_pytorch(device):
    torch = torch_or_skip()
    cases = [([2, 0, 1], -1), ([[1, 3], [0, 0]], 5), (2, 4), ([], 3)]
    for indices, n in cases:
        ours = F.one_hot(td.tensor(indices, dtype=td.long, device=device), n)
        theirs = torch.nn.functional.one_hot(torch.tensor(indices, dtype=torch.long), n)
        assert ours.dtype == td.int64 and ours.device == device
        np.testing.assert_array_equal(host(ours), theirs.numpy())


def test_one_hot_errors_as_pytorch(device):
    with pytest.raises(TypeError, match="one_hot: tensor must hold int64 .* got dtype float32"):
        F.one_hot(td.tensor([1.0], device=device))
    with pytest.raises(TypeError, match="got dtype int32"):
        F.one_hot(td.tensor([1], dtype=td.int32, device=device))
    with pytest.raises(ValueError, match="one_hot: can not infer num_classes from an empty tensor"):
        F.one_hot(td.tensor([], dtype=td.long, device=device))
    with pytest.raises(ValueError, match="one_hot: num_classes must be positive or -1, got 0"):
        F.one_hot(td.tensor([1], device=device), 0)
    with pytest.raises(ValueError, match="one_hot: class values must be non-negative"):
        F.one_hot(td.tensor([1, -1], device=device), 3).numpy()  # on a GPU the check is read with the values
    with pytest.raises(ValueError, match="one_hot: class values must be smaller than num_classes=3"):
        F.one_hot(td.tensor([1, 3], device=device), 3).numpy()


# ---- autograd.Variable, inference_mode --------------------------------------------------------
def test_variable_is_a_detached_alias_as_in_pytorch(device):
    x = td.ones(3, device=device)
    v = td.autograd.Variable(x, requires_grad=True)
    assert v is not x and v.requires_grad and v.is_leaf and not x.requires_grad
    v.data[0] = 5.0  # shares x's memory, as torch.autograd.Variable does
    assert x[0].item() == 5.0
    y = td.ones(2, requires_grad=True) * 2
    w = td.autograd.Variable(y)
    assert w.grad_fn is None and not w.requires_grad
    assert isinstance(x, td.autograd.Variable) and not isinstance(x.data, td.autograd.Variable)
    (td.autograd.Variable(x, requires_grad=True) * 3).sum().backward()  # the WGAN-GP idiom


def test_variable_errors_and_volatile_warning():
    with pytest.raises(TypeError, match="Variable: data has to be a tensor, but got list"):
        td.autograd.Variable([1.0, 2.0])
    with pytest.warns(UserWarning, match="volatile was removed"):
        td.autograd.Variable(td.ones(2), volatile=True)


def test_inference_mode_is_no_grad_as_context_and_decorator(device):
    x = td.ones(2, requires_grad=True, device=device)
    with td.inference_mode():
        assert not (x * 2).requires_grad
        with td.inference_mode(False):
            assert (x * 2).requires_grad

    @td.inference_mode()
    def f(t):
        return t * 2

    assert not f(x).requires_grad and td.is_grad_enabled()


# ---- td.cuda.manual_seed, td.backends -------------------------------------------------------
def test_cuda_manual_seed_seeds_the_gpu_generator_only():
    td.manual_seed(0)
    cpu_first = td.rand(3).numpy()
    td.manual_seed(0)
    td.cuda.manual_seed(123)  # must not touch the CPU generator
    np.testing.assert_array_equal(td.rand(3).numpy(), cpu_first)
    if not td.cuda.is_available():
        td.cuda.manual_seed_all(1)  # nothing to seed: silently nothing, as in PyTorch
        return
    td.cuda.manual_seed(7)
    first = td.rand(4, device="cuda").numpy()
    td.cuda.manual_seed_all(7)
    np.testing.assert_array_equal(td.rand(4, device="cuda").numpy(), first)
    td.cuda.manual_seed(8)
    assert not np.array_equal(td.rand(4, device="cuda").numpy(), first)


def test_backends_switches():
    torch = torch_or_skip()
    assert td.backends.mps.is_available() is False and td.backends.mps.is_built() is False
    assert td.backends.cuda.is_built() == td.cuda.is_available()
    assert td.backends.cudnn.is_available() is False  # tinydl has no cuDNN
    cudnn = td.backends.cudnn
    for name in ["enabled", "benchmark", "deterministic", "allow_tf32"]:
        assert getattr(cudnn, name) == getattr(torch.backends.cudnn, name)  # PyTorch's defaults
    saved = cudnn.benchmark, cudnn.deterministic, td.backends.cuda.matmul.allow_tf32
    try:
        cudnn.benchmark, cudnn.deterministic = True, True  # what scripts write; accepted, changes nothing
        td.backends.cuda.matmul.allow_tf32 = True
        assert cudnn.benchmark and cudnn.deterministic
    finally:
        cudnn.benchmark, cudnn.deterministic, td.backends.cuda.matmul.allow_tf32 = saved


# ---- td.numel, as_tensor, default dtype ------------------------------------------------------
def test_numel_and_square_of_integers(device):
    x = td.tensor([[1, 2, 3], [4, 5, 6]], device=device)
    assert td.numel(x) == 6
    y = td.square(x)
    assert y.dtype == td.int64
    np.testing.assert_array_equal(host(y), [[1, 4, 9], [16, 25, 36]])
    with pytest.raises(TypeError, match="numel: input must be a Tensor, got list"):
        td.numel([1, 2])
    with pytest.raises(TypeError, match="square: input must be a Tensor, got NoneType"):
        td.square(None)


def test_as_tensor_shares_memory_as_pytorch(device):
    torch = torch_or_skip()
    array = np.array([1.0, 2.0])  # float64: kept, as torch.as_tensor keeps it
    t = td.as_tensor(array)
    assert t.dtype == td.float64 == np.dtype(str(torch.as_tensor(array).dtype).split(".")[1])
    array[0] = 9.0
    assert t[0].item() == 9.0
    assert td.as_tensor(array, dtype=td.float32).dtype == td.float32
    assert td.as_tensor([1, 2]).dtype == td.int64 and td.as_tensor([1.0]).dtype == td.float32
    x = td.ones(2, requires_grad=True, device=device)
    assert td.as_tensor(x) is x and td.as_tensor(x, device=device) is x
    y = td.as_tensor(x, dtype=td.float64)
    assert y.dtype == td.float64 and y.requires_grad  # converted in the graph, as torch.as_tensor does
    assert td.as_tensor(array, device=device).device == device


def test_default_dtype_is_float32():
    torch = torch_or_skip()
    assert td.get_default_dtype() == td.float32 and str(torch.get_default_dtype()) == "torch.float32"
    td.set_default_dtype(td.float32)  # the default: accepted
    with pytest.raises(NotImplementedError, match="set_default_dtype: tinydl's default dtype is always float32"):
        td.set_default_dtype(td.float64)


# ---- log: PyTorch's -inf / nan, without NumPy's warning ------------------------------------
def test_log_of_zero_and_negatives_is_silent_and_matches_pytorch(device):
    torch = torch_or_skip()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy's RuntimeWarning would fail the test
        ours = [td.log(td.tril(td.ones(3, 3, device=device))),  # the word-LM transformer's mask
                td.tensor([0.0, -1.0, -2.0], device=device).log(),
                td.log1p(td.tensor([-1.0, -2.0], device=device))]
        theirs = [torch.log(torch.tril(torch.ones(3, 3))),
                  torch.tensor([0.0, -1.0, -2.0]).log(), torch.log1p(torch.tensor([-1.0, -2.0]))]
        ours = [host(y) for y in ours]
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b.numpy())  # equal, -inf, inf and nan where torch has them


def test_inference_mode_decorates_without_parentheses_as_pytorch():
    @td.inference_mode
    def f(t):
        """doc"""
        return t * 2

    assert not f(td.ones(2, requires_grad=True)).requires_grad and f.__doc__ == "doc"


# ---- softplus with PyTorch's beta and threshold ------------------------------------------------
@pytest.mark.parametrize("beta, threshold", [(1.0, 20.0), (2.0, 3.0), (0.5, 1.0)])
def test_softplus_beta_threshold_gradcheck_and_pytorch(device, beta, threshold):
    array = values((3, 5), low=-4, high=9)  # both sides of threshold / beta
    x = leaf(array, device)
    assert td.gradcheck(lambda t: F.softplus(t, beta, threshold), (x,))
    assert td.gradgradcheck(lambda t: F.softplus(t, beta=beta, threshold=threshold), (x,))
    torch = torch_or_skip()
    xt = torch.tensor(array, requires_grad=True)
    y, yt = nn.Softplus(beta, threshold)(x), torch.nn.Softplus(beta, threshold)(xt)
    np.testing.assert_allclose(host(y), yt.detach().numpy(), rtol=1e-12, atol=1e-14)
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(host(x.grad), xt.grad.numpy(), rtol=1e-12, atol=1e-14)
    assert repr(nn.Softplus(beta, threshold)) == repr(torch.nn.Softplus(beta, threshold))


def test_softplus_past_the_threshold_is_x_itself_as_pytorch():
    torch = torch_or_skip()
    array = np.array([20.5, 25.0, 40.0])
    theirs = torch.nn.functional.softplus(torch.tensor(array)).numpy()
    np.testing.assert_array_equal(host(F.softplus(const(array))), theirs)


# ---- issue 20, part H: the bugs tests/test_pytorch_scripts.py found ---------------------------------
def test_type_as_takes_the_other_tensors_device_and_dtype(device):
    x = td.tensor([1.5, -2.0], dtype=td.float64)  # on the cpu
    other = td.zeros(3, dtype=td.float32, device=device)
    y = x.type_as(other)
    assert y.dtype == other.dtype and y.device == other.device
    np.testing.assert_array_equal(host(y), np.array([1.5, -2.0], dtype=np.float32))
    back = y.type_as(x)
    assert back.dtype == td.float64 and back.device == x.device


def test_nn_functional_is_the_functional_module_under_pytorchs_name():
    import importlib

    import tinydl.nn.functional as F_nn
    from tinydl.nn import functional as F_from

    assert F_nn is F_from is F is td.nn.functional is importlib.import_module("tinydl.nn.functional")
    x = td.ones(1, 1, 2, 2)
    assert td.nn.functional.interpolate(x, scale_factor=2).shape == (1, 1, 4, 4)  # as a script's body writes it


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_as_pytorch_and_gradcheck(device, batch_first, padding_side):
    from tinydl.nn.utils.rnn import pad_sequence

    arrays = [values((length, 2), seed=length) for length in (3, 1, 4)]
    xs = [leaf(a, device) for a in arrays]

    def padded(*seqs):
        return pad_sequence(seqs, batch_first=batch_first, padding_value=-0.5, padding_side=padding_side)

    assert padded(*xs).shape == ((3, 4, 2) if batch_first else (4, 3, 2)) and padded(*xs).device == xs[0].device
    assert td.gradcheck(padded, tuple(xs))
    torch = torch_or_skip()
    theirs = torch.nn.utils.rnn.pad_sequence([torch.tensor(a) for a in arrays], batch_first=batch_first,
                                             padding_value=-0.5, padding_side=padding_side)
    np.testing.assert_allclose(host(padded(*xs)), theirs.numpy(), rtol=0, atol=0)
    ints = [td.tensor([1, 2], device=device), td.tensor([3], device=device)]
    ints_theirs = torch.nn.utils.rnn.pad_sequence([torch.tensor([1, 2]), torch.tensor([3])], padding_value=-1.5)
    np.testing.assert_array_equal(host(nn.utils.rnn.pad_sequence(ints, padding_value=-1.5)), ints_theirs.numpy())


def test_pad_sequence_errors_name_the_function_and_the_sequence():
    from tinydl.nn.utils.rnn import pad_sequence

    with pytest.raises(ValueError, match=r"pad_sequence: sequences\[1\] has shape \(2, 3\) but sequences\[0\] has"):
        pad_sequence([td.ones(2, 2), td.ones(2, 3)])
    with pytest.raises(ValueError, match="padding_side must be 'left' or 'right', got 'middle'"):
        pad_sequence([td.ones(2)], padding_side="middle")
    with pytest.raises(ValueError, match="sequences is empty"):
        pad_sequence([])
    with pytest.raises(TypeError, match=r"sequences\[0\] must be a Tensor, not list"):
        pad_sequence([[1.0, 2.0]])
    assert pad_sequence(td.ones(2, 3)).shape == (3, 2)  # a tensor: its rows are the sequences, as PyTorch


def test_backends_submodules_import_as_the_dcgan_example_writes_them():
    import tinydl.backends.cuda
    import tinydl.backends.cudnn as cudnn
    from tinydl.backends import mps

    assert cudnn is td.backends.cudnn and mps is td.backends.mps and tinydl.backends.cuda is td.backends.cuda
    saved = cudnn.benchmark
    try:
        cudnn.benchmark = True  # the DCGAN line: seen through td.backends too
        assert td.backends.cudnn.benchmark is True
    finally:
        cudnn.benchmark = saved


IN_PLACE = {  # every in-place method that writes a Tensor's values, with arguments
    "fill_": (5.0,), "zero_": (), "copy_": ([1.0, 2.0, 3.0],), "add_": (1.0,), "sub_": (1.0,), "mul_": (2.0,),
    "div_": (2.0,), "clamp_": (0.0, 1.0), "masked_fill_": ([True, False, True], 0.0), "uniform_": (), "normal_": (),
    "scatter_": (0, [0, 2], 9.0), "scatter_add_": (0, [0, 2], [1.0, 1.0]),
}


def _in_place_args(op, device):
    """IN_PLACE's arguments for ``op``, the lists made tensors on ``device`` (scatter's index as int64)."""
    def made(i, arg):
        if not isinstance(arg, list):
            return arg
        return td.tensor(arg, device=device, dtype=td.int64 if op.startswith("scatter") and i == 1 else None)

    return [made(i, arg) for i, arg in enumerate(IN_PLACE[op])]


@pytest.mark.parametrize("op", sorted(IN_PLACE))
def test_in_place_methods_refuse_a_tensor_of_a_recorded_graph(device, op):
    assert {n for n in dir(td.Tensor) if n.endswith("_") and not n.startswith("_")} - set(IN_PLACE) == {
        "requires_grad_"}  # a new in-place method belongs in IN_PLACE
    a = td.ones(3, requires_grad=True, device=device)
    b = a * 2  # a non-leaf: its backward would use the old values
    with pytest.raises(RuntimeError, match=rf"^{op}: the tensor is part of a recorded graph; use the out-of-place "):
        getattr(b, op)(*_in_place_args(op, device))
    with pytest.raises(RuntimeError, match=rf"^{op}: a leaf tensor that requires grad"):
        getattr(a, op)(*_in_place_args(op, device))
    np.testing.assert_array_equal(host(b), [2.0, 2.0, 2.0])  # nothing was written
    b.sum().backward()
    np.testing.assert_array_equal(host(a.grad), [2.0, 2.0, 2.0])


@pytest.mark.parametrize("op", sorted(IN_PLACE))
def test_in_place_methods_still_write_under_no_grad_and_outside_a_graph(device, op):
    torch = torch_or_skip()
    a = td.ones(3, requires_grad=True, device=device)
    with td.no_grad():
        assert getattr(a, op)(*_in_place_args(op, device)) is a
    plain = td.ones(3, device=device)
    assert getattr(plain, op)(*_in_place_args(op, device)) is plain
    if op not in ("uniform_", "normal_"):  # the same values as PyTorch's
        ours = getattr(td.ones(3, device=device), op)(*_in_place_args(op, device))
        args = [torch.tensor(host(x)) if isinstance(x, td.Tensor) else x for x in _in_place_args(op, "cpu")]
        np.testing.assert_allclose(host(ours), getattr(torch.ones(3), op)(*args).numpy(), rtol=0, atol=0)


# ---- common names scripts type (issue 20, part H) ----------------------------------------------------
def test_where_with_only_a_condition_is_nonzero_as_a_tuple(device):
    torch = torch_or_skip()
    array = np.array([[0.0, 1.5], [2.0, 0.0], [0.0, -1.0]])
    ours = td.where(td.tensor(array, device=device))
    theirs = torch.where(torch.tensor(array))
    assert len(ours) == len(theirs) == 2 and all(i.device == device and i.dtype == td.int64 for i in ours)
    for i, j in zip(ours, theirs):
        np.testing.assert_array_equal(host(i), j.numpy())
    assert [host(i).tolist() for i in td.where(td.tensor(3.0))] == [[0]]  # 0-d, as PyTorch: (tensor([0]),)
    with pytest.raises(TypeError, match=r"where: give both a and b, or neither \(got only a\)"):
        td.where(td.tensor([True]), td.ones(1))


def test_cuda_device_count_and_name():
    if not td.cuda.is_available():
        assert td.cuda.device_count() == 0
        with pytest.raises(RuntimeError, match="get_device_name: no GPU is available"):
            td.cuda.get_device_name()
        return
    assert td.cuda.device_count() == 1 and td.cuda.current_device() == 0
    name = td.cuda.get_device_name(0)
    assert isinstance(name, str) and name and td.cuda.get_device_name(td.device("cuda")) == name
    with pytest.raises(ValueError, match="get_device_name: tinydl drives one GPU, device 0"):
        td.cuda.get_device_name(1)


@pytest.mark.parametrize("dim, shapes", [(1, ((3, 4), (3, 4))), (-1, ((2, 3, 4), (1, 4))), (0, ((5, 2), (5, 2)))])
def test_cosine_similarity_gradcheck_and_pytorch(device, dim, shapes):
    a, b = values(shapes[0], seed=1), values(shapes[1], seed=2)
    x1, x2 = leaf(a, device), leaf(b, device)
    assert td.gradcheck(lambda s, t: F.cosine_similarity(s, t, dim=dim), (x1, x2))
    torch = torch_or_skip()
    theirs = torch.nn.functional.cosine_similarity(torch.tensor(a), torch.tensor(b), dim=dim)
    np.testing.assert_allclose(host(F.cosine_similarity(x1, x2, dim)), theirs.numpy(), rtol=1e-12, atol=1e-14)
    zero = torch.nn.functional.cosine_similarity(torch.zeros(2, 3), torch.ones(2, 3))  # eps: 0, not NaN
    np.testing.assert_array_equal(host(F.cosine_similarity(td.zeros(2, 3), td.ones(2, 3))), zero.numpy())
    with pytest.raises(TypeError, match="cosine_similarity: x2 must be a Tensor, not list"):
        F.cosine_similarity(x1, [1.0])


@pytest.mark.parametrize("shape, slopes", [((2, 3, 4), 3), ((2, 3), 1), ((5,), 1)])
def test_prelu_gradcheck_and_pytorch(device, shape, slopes):
    array, w = values(shape, seed=3), np.linspace(0.1, 0.4, slopes)
    x, weight = leaf(array, device), leaf(w, device)
    assert td.gradcheck(F.prelu, (x, weight))
    torch = torch_or_skip()
    xt, wt = torch.tensor(array, requires_grad=True), torch.tensor(w, requires_grad=True)
    y, yt = F.prelu(x, weight), torch.nn.functional.prelu(xt, wt)
    np.testing.assert_allclose(host(y), yt.detach().numpy(), rtol=1e-12, atol=1e-14)
    (y * y).sum().backward()
    (yt * yt).sum().backward()
    np.testing.assert_allclose(host(weight.grad), wt.grad.numpy(), rtol=1e-12, atol=1e-14)
    module, theirs = nn.PReLU(slopes).to(device), torch.nn.PReLU(slopes)
    assert repr(module) == repr(theirs) and module.weight.shape == (slopes,) and module.weight.device == device
    np.testing.assert_allclose(host(module.weight), theirs.weight.detach().numpy(), rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"prelu: weight has 4 slopes but x of shape \(2, 3\) has 3 channels"):
        F.prelu(td.ones(2, 3), td.ones(4))


@pytest.mark.parametrize("reduction", ["batchmean", "sum", "none", "mean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_gradcheck_and_pytorch(device, reduction, log_target):
    rng = np.random.default_rng(4)
    log_q = np.log(rng.dirichlet(np.ones(4), size=3))
    p = rng.dirichlet(np.ones(4), size=3)
    p[0, 1] = 0.0  # a zero of the target: contributes 0, as PyTorch's xlogy
    target_array = np.log(p + 0.1) if log_target else p
    x, target = leaf(log_q, device), leaf(target_array, device)

    def loss(a, b):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 'mean' warns, as PyTorch
            return F.kl_div(a, b, reduction=reduction, log_target=log_target)

    assert td.gradcheck(lambda a: loss(a, target.detach()), (x,))
    if log_target:  # in the target too (a plain target has a kink at its zero)
        assert td.gradcheck(loss, (x, target))
    torch = torch_or_skip()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = torch.nn.KLDivLoss(reduction=reduction, log_target=log_target)(
            torch.tensor(log_q), torch.tensor(target_array))
    ours = nn.KLDivLoss(reduction=reduction, log_target=log_target)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        np.testing.assert_allclose(host(ours(x, target)), theirs.numpy(), rtol=1e-12, atol=1e-14)
    assert (reduction == "mean") == any("'batchmean' divides only by the batch size" in str(w.message) for w in caught)
    with pytest.raises(ValueError, match="kl_div: reduction must be one of"):
        F.kl_div(x, target, reduction="average")


def test_data_parallel_runs_the_module_on_the_one_device():
    """import torch.nn.parallel and nn.DataParallel, as the official DCGAN writes them: the module itself,
    PyTorch's 'module.' prefix in the state dict; more than one device is refused."""
    import tinydl.nn.parallel

    net = td.nn.Linear(3, 2)
    wrapped = td.nn.DataParallel(net, device_ids=[0])
    x = td.randn(4, 3)
    with td.no_grad():
        np.testing.assert_allclose(wrapped(x).numpy(), net(x).numpy(), rtol=0, atol=0)
        np.testing.assert_allclose(tinydl.nn.parallel.data_parallel(net, x).numpy(), net(x).numpy(), rtol=0, atol=0)
    assert sorted(wrapped.state_dict()) == ["module.bias", "module.weight"]
    with pytest.raises(ValueError, match=r"DataParallel: tinydl runs on one device, so device_ids=\[0, 1\]"):
        td.nn.DataParallel(net, device_ids=[0, 1])
    with pytest.raises(ValueError, match="data_parallel: tinydl runs on one device"):
        tinydl.nn.parallel.data_parallel(net, x, device_ids=[0, 1])
    torch = pytest.importorskip("torch")
    assert sorted(torch.nn.DataParallel(torch.nn.Linear(3, 2)).state_dict()) == ["module.bias", "module.weight"]
