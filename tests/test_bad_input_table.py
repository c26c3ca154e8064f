"""Bad input across the public API, one row each: what is called, the error it must raise, and the
fragments its message must contain (the op, the argument, the shapes or values involved).

Every row runs on the CPU and, unless marked ``cpu_only``, on "cuda" (a real GPU or the CuPy
stand-in). Below the table: the cases PyTorch accepts, checked against what PyTorch does.
More bad-input cases with their own tests are in test_errors.py.
"""
from collections import namedtuple

import numpy as np
import pytest

import tinydl as td
import tinydl.functional as F
import tinydl.nn as nn


Row = namedtuple("Row", "name call error fragments cpu_only", defaults=(False,))


def t(device, *shape):
    return td.zeros(*shape, device=device)


class Double(td.Function):
    def forward(self, x, y):
        return 2 * x

    def backward(self, gy):
        return 2 * gy, None


ROWS = [
    # shapes and dims
    Row("flatten start after end", lambda d: t(d, 2, 3, 4, 5).flatten(2, 1), ValueError,
        ["flatten", "start_dim 2", "end_dim 1", "(2, 3, 4, 5)"]),
    Row("BatchNorm2d given None", lambda d: nn.BatchNorm2d(3).to(d)(None), TypeError, ["BatchNorm2d", "NoneType"]),
    Row("Embedding given None", lambda d: nn.Embedding(5, 3).to(d)(None), TypeError, ["embedding", "indices", "None"]),
    Row("cat of one tensor", lambda d: td.cat(t(d, 2, 3)), TypeError, ["cat", "sequence of tensors", "(2, 3)"]),
    Row("stack of one tensor", lambda d: td.stack(t(d, 2, 3)), TypeError, ["stack", "sequence of tensors", "(2, 3)"]),
    Row("cat with None", lambda d: td.cat([t(d, 2), None]), TypeError, ["cat", "element 1", "NoneType"]),
    Row("reshape to a float size", lambda d: t(d, 2, 3).reshape(2.5, 3), TypeError, ["reshape", "(2.5, 3)", "float"]),
    Row("view as a float size", lambda d: t(d, 2, 3).view((3, 2.0)), TypeError, ["reshape", "(3, 2.0)", "position 1"]),
    Row("expand to a float size", lambda d: t(d, 1, 3).expand(2.5, 3), TypeError, ["expand", "(2.5, 3)"]),
    Row("repeat a float number of times", lambda d: t(d, 2).repeat(1.5), TypeError, ["repeat", "1.5"]),
    Row("sum over a float dim", lambda d: t(d, 2, 3).sum(1.0), TypeError, ["sum", "dim", "1.0"]),
    Row("unsqueeze at a float dim", lambda d: t(d, 2, 3).unsqueeze(1.0), TypeError, ["unsqueeze", "dim", "1.0"]),
    # creation
    Row("zeros of a float size", lambda d: td.zeros(2.5, device=d), TypeError, ["zeros", "2.5", "int"]),
    Row("zeros of a negative size", lambda d: td.zeros(-1, device=d), ValueError, ["zeros", "-1", "non-negative"]),
    Row("randn of a negative size", lambda d: td.randn(2, -3, device=d), ValueError, ["randn", "(2, -3)", "-3"]),
    Row("ones of a bool size", lambda d: td.ones(True, device=d), TypeError, ["ones", "bool"]),
    Row("full of a float size", lambda d: td.full((2.5,), 1.0, device=d), TypeError, ["full", "2.5"]),
    Row("randperm of a float", lambda d: td.randperm(2.5, device=d), TypeError, ["randperm", "n", "2.5"]),
    Row("eye of a negative size", lambda d: td.eye(-1, device=d), ValueError, ["eye", "n", "-1"]),
    Row("tensor of an object array", lambda d: td.tensor(np.array([1, None]), device=d), TypeError,
        ["tensor", "dtype object"]),
    Row("tensor of a str array", lambda d: td.tensor(np.array(["a", "b"]), device=d), TypeError, ["tensor", "<U1"]),
    Row("tensor of a complex array", lambda d: td.tensor(np.array([1j]), device=d), TypeError,
        ["tensor", "complex128", "no complex numbers"]),
    Row("from_numpy of an object array", lambda d: td.from_numpy(np.array([1, None])), TypeError,
        ["from_numpy", "dtype object"], cpu_only=True),
    # modules
    Row("Linear with float features", lambda d: nn.Linear(2.5, 3, device=d), TypeError, ["Linear", "in_features", "2.5"]),
    Row("Linear with negative features", lambda d: nn.Linear(3, -1, device=d), ValueError,
        ["Linear", "out_features", "-1"]),
    Row("Conv2d with groups=0", lambda d: nn.Conv2d(4, 4, 3, groups=0, device=d), ValueError,
        ["Conv2d", "groups must be a positive integer", "0"]),
    Row("ConvTranspose2d with groups=0", lambda d: nn.ConvTranspose2d(4, 4, 3, groups=0, device=d), ValueError,
        ["ConvTranspose2d", "groups must be a positive integer", "0"]),
    Row("Conv2d with a float kernel", lambda d: nn.Conv2d(4, 4, 2.5, device=d), TypeError,
        ["Conv2d", "kernel_size", "2.5"]),
    Row("Conv2d with float channels", lambda d: nn.Conv2d(4.0, 4, 3, device=d), TypeError,
        ["Conv2d", "in_channels", "4.0"]),
    # None or a list where a Tensor is expected
    Row("relu of None", lambda d: F.relu(None), TypeError, ["relu", "x must be a Tensor", "NoneType"]),
    Row("relu of a list", lambda d: F.relu([1.0, 2.0]), TypeError, ["relu", "x must be a Tensor", "list"]),
    Row("exp of a list", lambda d: td.exp([1.0]), TypeError, ["exp", "x must be a Tensor", "list"]),
    Row("softmax of a list", lambda d: F.softmax([1.0, 2.0], 0), TypeError, ["softmax", "x must be a Tensor", "list"]),
    Row("sum of None", lambda d: td.sum(None), TypeError, ["sum", "x must be a Tensor", "NoneType"]),
    Row("reshape of None", lambda d: F.reshape(None, 2), TypeError, ["reshape", "x must be a Tensor", "NoneType"]),
    Row("linear of None", lambda d: F.linear(None, t(d, 3, 2)), TypeError, ["linear", "x must be a Tensor", "NoneType"]),
    Row("linear with a None weight", lambda d: F.linear(t(d, 4, 2), None), TypeError,
        ["linear", "weight must be a Tensor", "NoneType"]),
    Row("conv2d of None", lambda d: F.conv2d(None, t(d, 1, 1, 1, 1)), TypeError, ["conv2d", "x must be a Tensor", "NoneType"]),
    Row("a Linear layer given None", lambda d: nn.Linear(2, 3, device=d)(None), TypeError,
        ["linear", "x must be a Tensor", "NoneType"]),
    Row("a Conv2d layer given None", lambda d: nn.Conv2d(1, 1, 3, device=d)(None), TypeError,
        ["conv2d", "x must be a Tensor", "NoneType"]),
    Row("a tensor plus None", lambda d: t(d, 2) + None, TypeError, ["add", "b must be a Tensor", "NoneType"]),
    Row("None times a tensor", lambda d: F.mul(None, t(d, 2)), TypeError, ["mul", "a must be a Tensor", "NoneType"]),
    Row("cross_entropy with a None target", lambda d: F.cross_entropy(t(d, 2, 3), None), TypeError,
        ["cross_entropy", "target must be a Tensor", "NoneType"]),
    Row("linear with a list for bias", lambda d: F.linear(t(d, 4, 2), t(d, 3, 2), [1.0, 2.0, 3.0]), TypeError,
        ["linear", "bias must be a Tensor", "list"]),
    Row("mse_loss with a None target", lambda d: F.mse_loss(t(d, 2), None), TypeError,
        ["mse_loss", "target must be a Tensor", "NoneType"]),
    Row("where with a None condition", lambda d: td.where(None, t(d, 2), t(d, 2)), TypeError,
        ["where", "condition", "NoneType"]),
    Row("a Function given None", lambda d: Double()(t(d, 2), None), TypeError, ["Double", "input 1", "None"]),
    # indexing
    Row("index out of range", lambda d: t(d, 2, 3)[5], IndexError,
        ["getitem", "[5]", "(2, 3)", "out of bounds for dimension 0 with size 2"]),
    Row("slice then index out of range", lambda d: t(d, 2, 3)[:, 7], IndexError,
        ["getitem", "[:, 7]", "(2, 3)", "dimension 1 with size 3"]),
    Row("too many indices", lambda d: t(d, 2, 3)[0, 0, 0], IndexError, ["getitem", "[0, 0, 0]", "(2, 3)", "too many"]),
    Row("a float index", lambda d: t(d, 2, 3)[1.5], IndexError, ["getitem", "[1.5]", "(2, 3)"]),
    Row("assignment out of range", lambda d: t(d, 2, 3).__setitem__(4, 1.0), IndexError,
        ["__setitem__", "[4]", "(2, 3)", "dimension 0 with size 2"]),
    # values
    Row("integer to a negative power", lambda d: td.tensor([2], device=d) ** -1, ValueError,
        ["pow", "negative integer powers", "int64", "(1,)", "-1"]),
    Row("where with a condition of the wrong shape",
        lambda d: td.where(td.tensor([True, False, True], device=d), t(d, 2), t(d, 2)), ValueError,
        ["where", "condition of shape (3,)", "(2,) and (2,)"]),
]


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_bad_input_gives_one_clear_error(device, row):
    if row.cpu_only and device != "cpu":
        pytest.skip("a host-only function")
    with pytest.raises(row.error) as caught:
        row.call(device)
    message = str(caught.value)
    missing = [fragment for fragment in row.fragments if fragment not in message]
    assert not missing, f"the message {message!r} does not name {missing}"


# ---- where PyTorch accepts the input: PyTorch's answer ---------------------------------------
def test_linear_with_no_input_features_gives_its_bias(device):
    layer = nn.Linear(0, 3, device=device)
    assert layer.weight.shape == (3, 0)
    x = td.zeros(2, 0, device=device, requires_grad=True)
    y = layer(x)
    np.testing.assert_allclose(y.detach().numpy(), np.broadcast_to(layer.bias.detach().numpy(), (2, 3)),
                               rtol=1e-6, atol=1e-7)
    y.sum().backward()
    np.testing.assert_allclose(layer.bias.grad.numpy(), [2.0, 2.0, 2.0], rtol=1e-6, atol=1e-7)
    assert nn.Conv2d(0, 4, 3, device=device).weight.shape == (4, 0, 3, 3)


def _pairs():
    """(name, tinydl call, torch call) for the dtype rules; the calls take a module and a device."""
    def ints(m, d, *v):
        return m.tensor(list(v), device=d)

    def floats(m, d, *v, dtype="float32"):
        return m.tensor(list(v), dtype=getattr(m, dtype), device=d)

    return [
        ("int / int", lambda m, d: ints(m, d, 1, 2) / ints(m, d, 2, 4)),
        ("int / number", lambda m, d: ints(m, d, 1, 2) / 2),
        ("number / int", lambda m, d: 3 / ints(m, d, 1, 2)),
        ("exp(int)", lambda m, d: m.exp(ints(m, d, 1, 2))),
        ("sqrt(int)", lambda m, d: m.sqrt(ints(m, d, 1, 4))),
        ("log(int)", lambda m, d: m.log(ints(m, d, 1, 4))),
        ("sigmoid(int)", lambda m, d: m.sigmoid(ints(m, d, -1, 2))),
        ("tanh(int)", lambda m, d: m.tanh(ints(m, d, -1, 2))),
        ("exp(bool)", lambda m, d: m.exp(m.tensor([True, False], device=d))),
        ("cat(float32, int64)", lambda m, d: m.cat([floats(m, d, 0.5), ints(m, d, 1, 2)])),
        ("cat(int64, float64)", lambda m, d: m.cat([ints(m, d, 1), floats(m, d, 0.5, dtype="float64")])),
        ("cat(int32, int64)", lambda m, d: m.cat([m.tensor([1], dtype=m.int32, device=d), ints(m, d, 2)])),
        ("stack(float32, int64)", lambda m, d: m.stack([floats(m, d, 0.5, 1.5), ints(m, d, 1, 2)])),
        ("float32 + int64", lambda m, d: floats(m, d, 0.5, 1.5) + ints(m, d, 1, 2)),
        ("float16 * int64", lambda m, d: floats(m, d, 0.5, 1.5, dtype="float16") * ints(m, d, 1, 2)),
        ("float32 * float64", lambda m, d: floats(m, d, 0.5) * floats(m, d, 2.0, dtype="float64")),
        ("int64 * 2.5", lambda m, d: ints(m, d, 1, 2) * 2.5),
        ("int64 ** 0.5", lambda m, d: ints(m, d, 1, 4) ** 0.5),
        ("int64 ** float32", lambda m, d: ints(m, d, 1, 4) ** floats(m, d, 0.5, 2.0)),
        ("maximum(float32, int64)", lambda m, d: m.maximum(floats(m, d, 0.5, 1.5), ints(m, d, 1, 1))),
        ("where(float32, int64)",
         lambda m, d: m.where(m.tensor([True, False], device=d), floats(m, d, 0.5, 1.5), ints(m, d, 1, 2))),
        ("int64 ** negative int64 tensor", lambda m, d: ints(m, d, 0, 1, -1, -1, 2, 3) ** ints(m, d, -1, -1, -1, -2, -3, 2)),
        ("2 ** negative int64 tensor", lambda m, d: 2 ** ints(m, d, -1, 2)),
        # already PyTorch's before: kept to show that nothing else changed
        ("int64 + int64", lambda m, d: ints(m, d, 1, 2) + ints(m, d, 3, 4)),
        ("bool + int64", lambda m, d: m.tensor([True], device=d) + ints(m, d, 1, 2)),
    ]


# The dtypes PyTorch 2.13 gives for _pairs(), recorded so that the rules are checked without torch too.
PYTORCH_DTYPES = {
    "int / int": "float32", "int / number": "float32", "number / int": "float32", "exp(int)": "float32",
    "sqrt(int)": "float32", "log(int)": "float32", "sigmoid(int)": "float32", "tanh(int)": "float32",
    "exp(bool)": "float32", "cat(float32, int64)": "float32", "cat(int64, float64)": "float64",
    "cat(int32, int64)": "int64", "stack(float32, int64)": "float32", "float32 + int64": "float32",
    "float16 * int64": "float16", "float32 * float64": "float64", "int64 * 2.5": "float32",
    "int64 ** 0.5": "float32", "int64 ** float32": "float32", "maximum(float32, int64)": "float32",
    "where(float32, int64)": "float32", "int64 ** negative int64 tensor": "int64",
    "2 ** negative int64 tensor": "int64", "int64 + int64": "int64", "bool + int64": "int64",
}


@pytest.mark.parametrize("name, call", _pairs(), ids=[p[0] for p in _pairs()])
def test_dtype_promotion_gives_pytorchs_dtypes(device, name, call):
    assert call(td, device).dtype == np.dtype(PYTORCH_DTYPES[name]), name


@pytest.mark.parametrize("name, call", _pairs(), ids=[p[0] for p in _pairs()])
def test_dtype_promotion_follows_pytorch(device, name, call):
    torch = pytest.importorskip("torch")
    ours, theirs = call(td, device), call(torch, "cpu")
    assert str(theirs.dtype) == "torch." + PYTORCH_DTYPES[name], f"{name}: the recorded dtype is stale"
    assert ours.dtype == np.dtype(str(theirs.dtype).replace("torch.", "")), name
    np.testing.assert_allclose(ours.numpy().astype(np.float64), theirs.numpy().astype(np.float64), rtol=1e-3, atol=1e-6)


def test_gradients_flow_through_promoted_ops(device):
    x = td.tensor([0.5, 1.5], device=device, requires_grad=True)
    ints = td.tensor([2, 3], device=device)
    y = (x * ints + x / ints + td.maximum(x, ints) + td.cat([x, ints]).sum() + td.where(ints > 2, x, ints)).sum()
    y.backward()
    assert y.dtype == td.float32 and x.grad.dtype == td.float32
    # d/dx of x*n + x/n + max(x, n) (x < n: 0) + cat's sum (a scalar added to both elements: 2)
    # + where(n > 2, x, n)
    np.testing.assert_allclose(x.grad.numpy(), [2 + 1 / 2 + 0 + 2 + 0, 3 + 1 / 3 + 0 + 2 + 1], rtol=1e-6, atol=1e-7)
