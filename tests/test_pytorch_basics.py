"""PyTorch's everyday tensor API around a model (issue 20, part A1): td.device, the dtype aliases,
td.accelerator, Tensor.type() and the legacy tensor types, Tensor(2, 3), randint's forms, f-string
formatting, is_cuda, is_tensor, save/load through file objects with map_location and weights_only,
and the note an uncaught ``p.data.add_(...)`` gets. Compared with torch where it is installed."""
import io
import pickle
import re
import subprocess
import sys

import numpy as np
import pytest

import tinydl as td
from tinydl import data_hint


def torch_or_skip():
    return pytest.importorskip("torch")


# ---------------------------------------------------------------- td.device

def test_device_parses_prints_and_compares_as_torch():
    torch = torch_or_skip()
    for args in [("cpu",), ("cuda",), ("cuda:0",), ("cuda", 0), ("cuda", 1), ("cpu", 0), ("cpu:0",)]:
        ours, theirs = td.device(*args), torch.device(*args)
        assert (str(ours), repr(ours), ours.type, ours.index) == (str(theirs), repr(theirs), theirs.type, theirs.index)
    assert td.device("cuda") != td.device("cuda:0") and torch.device("cuda") != torch.device("cuda:0")
    assert td.device(td.device("cuda:0")) == td.device("cuda", 0)
    assert len({td.device("cpu"), td.device("cpu"), td.device("cuda")}) == 2
    assert pickle.loads(pickle.dumps(td.device("cuda:0"))) == td.device("cuda:0")


def test_device_refuses_what_torch_refuses():
    with pytest.raises(RuntimeError, match="unknown device type 'mps'"):
        td.device("mps")
    with pytest.raises(RuntimeError, match="index after ':'"):
        td.device("cuda:x")
    with pytest.raises(RuntimeError, match="negative"):
        td.device("cuda", -1)
    with pytest.raises(RuntimeError, match="holds an index already"):
        td.device("cuda:0", 1)
    with pytest.raises(TypeError, match="expected a string"):
        td.device(2.0)


def test_device_is_accepted_wherever_a_device_string_is(device):
    where = td.device(device)
    x = td.zeros(2, 3, device=where)
    assert x.device == device and x.device == where and x.device.type == device
    assert td.tensor([1.0], device=where).device == device
    assert td.randn(2, device=where).device == device and td.arange(3, device=where).device == device
    assert td.zeros(2).to(where).device == device and x.to(td.device("cpu")).device == "cpu"
    model = td.nn.Linear(2, 2).to(where)
    assert model.weight.device == device
    assert repr(td.zeros(1).device) == "device(type='cpu')" and str(td.zeros(1).device) == "cpu"
    assert x.is_cuda == (device == "cuda") and not td.zeros(1).is_cuda


def test_a_second_gpu_is_refused_clearly():
    with pytest.raises(ValueError, match="one GPU"):
        td.zeros(2).to(td.device("cuda:1"))


def test_tensor_to_takes_torchs_forms(device):
    x = td.tensor([1.5, 2.5], requires_grad=True)
    y = x.to(device, td.float64)
    assert (y.device, y.dtype) == (device, td.float64)
    assert x.to(device=device, dtype=td.half, non_blocking=True).dtype == td.float16
    assert x.to(y).dtype == td.float64 and x.to(y).device == device
    assert x.to(td.float32) is x and x.to(td.float32, copy=True) is not x
    (y * y).sum().backward()  # differentiable through both the cast and the move
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 5.0], rtol=1e-6, atol=1e-6)
    x64 = td.tensor(np.array([0.3, -1.2, 2.0]), requires_grad=True)
    other = td.zeros(1, dtype=td.float64, device=device)
    assert td.gradcheck(lambda t: (t.to(device, td.float64, copy=True) * t.to(other).sin()).to("cpu"), (x64,))
    with pytest.raises(TypeError, match="unexpected keyword"):
        x.to("cpu", memory_format=None)
    with pytest.raises(TypeError, match="expected a device, a dtype or a tensor"):
        x.to(object())


# ---------------------------------------------------------------- dtypes

def test_dtype_aliases_match_torch():
    torch = torch_or_skip()
    for name in ["float", "double", "long", "int", "half", "bool", "float16", "float32", "float64", "int32", "int64"]:
        ours, theirs = getattr(td, name), getattr(torch, name)
        assert str(theirs) == f"torch.{ours.name}", name
    assert td.zeros(1, dtype=td.long).dtype == td.int64 and td.zeros(1).dtype == td.float


def test_conversion_methods_match_torch(device):
    torch = torch_or_skip()
    x = td.tensor([1.7, -2.2], device=device)
    for method in ["float", "double", "long", "int", "half", "bool"]:
        ours, theirs = getattr(x, method)(), getattr(torch.tensor([1.7, -2.2]), method)()
        assert str(theirs.dtype) == f"torch.{ours.dtype.name}" and ours.device == device
        np.testing.assert_allclose(ours.numpy().astype(float), theirs.numpy().astype(float), rtol=1e-3, atol=1e-3)


def test_type_names_the_tensor_type_as_torch(device):
    torch = torch_or_skip()
    for dtype in ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]:
        ours = td.zeros(2, dtype=dtype, device=device).type()
        theirs = torch.zeros(2, dtype=getattr(torch, dtype)).type()
        assert ours == (theirs.replace("torch.", "torch.cuda.") if device == "cuda" else theirs)


def test_type_with_an_argument_converts(device):
    x = td.tensor([1.5, 2.5], device=device)
    assert x.type(td.long).dtype == td.int64 and x.type(td.long).device == device
    assert x.type("torch.IntTensor").dtype == td.int32 and x.type("torch.IntTensor").device == "cpu"
    assert x.type(td.DoubleTensor).dtype == td.float64
    assert x.type("torch.cuda.LongTensor").device == "cuda" if td.cuda.is_available() else True
    with pytest.raises(ValueError, match="invalid type 'torch.NotATensor'"):
        x.type("torch.NotATensor")


def test_legacy_tensor_types_construct_as_torch():
    torch = torch_or_skip()
    assert td.FloatTensor(2, 3).shape == tuple(torch.FloatTensor(2, 3).shape) == (2, 3)
    for name, data in [("FloatTensor", [1, 2]), ("LongTensor", [1.0, 2.0]), ("DoubleTensor", (2, 3)),
                       ("IntTensor", np.arange(3.0)), ("BoolTensor", [0, 1]), ("FloatTensor", [])]:
        ours, theirs = getattr(td, name)(data), getattr(torch, name)(data)
        assert str(theirs.dtype) == f"torch.{ours.dtype.name}"
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert td.FloatTensor().shape == tuple(torch.FloatTensor().shape) == (0,)
    assert isinstance(td.zeros(2), td.FloatTensor) and not isinstance(td.zeros(2).long(), td.FloatTensor)
    assert isinstance(td.zeros(2).long(), td.LongTensor) and isinstance(torch.zeros(2).long(), torch.LongTensor)
    with pytest.raises(TypeError, match="data must be a sequence"):
        td.FloatTensor(2.5)
    with pytest.raises(TypeError, match="expected a tensor of dtype float32"):
        td.FloatTensor(td.zeros(2, dtype=td.long))


def test_cuda_legacy_types_make_cuda_tensors():
    if not td.cuda.is_available():
        pytest.skip("no GPU and no stand-in")
    Tensor = td.cuda.FloatTensor  # the GAN scripts' idiom
    z = Tensor(np.random.default_rng(0).normal(size=(4, 2)))
    assert (z.device, z.dtype, z.shape) == ("cuda", td.float32, (4, 2))
    assert Tensor(4, 1).fill_(1.0).sum().item() == 4.0
    assert isinstance(z, td.cuda.FloatTensor) and not isinstance(z, td.FloatTensor)


# ---------------------------------------------------------------- Tensor(2, 3)

def test_tensor_with_sizes_is_an_uninitialized_float_tensor_as_torch():
    torch = torch_or_skip()
    for args in [(2, 3), (5,), (), (0, 4)]:
        ours, theirs = td.Tensor(*args), torch.Tensor(*args)
        assert ours.shape == tuple(theirs.shape) and ours.dtype == td.float32 and not ours.requires_grad
    assert td.Tensor(2, 3, requires_grad=True).requires_grad
    np.testing.assert_array_equal(td.Tensor((2, 3)).numpy(), torch.Tensor((2, 3)).numpy())


def test_tensor_keeps_wrapping_data_and_refuses_a_positional_requires_grad():
    array = np.ones(3)
    assert td.Tensor(array).data is array and td.Tensor([1.0, 2.5]).dtype == td.float32
    assert td.Tensor(np.float64(2.0)).shape == () and td.Tensor(np.int64(3)).shape == ()  # NumPy scalars are values
    with pytest.raises(TypeError, match="requires_grad is keyword-only"):
        td.Tensor(array, True)
    with pytest.raises(RuntimeError, match="negative"):
        td.Tensor(2, -1)


# ---------------------------------------------------------------- randint

def test_randint_takes_torchs_forms(device):
    torch = torch_or_skip()
    td.manual_seed(0)
    for args, kwargs, low, high in [((2, (5,)), {}, 0, 2), ((10, (3,)), {}, 0, 10), ((3, 10, (2, 2)), {}, 3, 10),
                                    ((10,), {"size": (4,)}, 0, 10), ((), {"low": -3, "high": 0, "size": [6]}, -3, 0)]:
        ours, theirs = td.randint(*args, **kwargs, device=device), torch.randint(*args, **kwargs)
        assert ours.shape == tuple(theirs.shape) and ours.dtype == td.int64 and ours.device == device
        values = ours.numpy()
        assert values.min() >= low and values.max() < high
    assert set(td.randint(2, (400,)).numpy().tolist()) == {0, 1}
    assert td.randint(5, (3,), dtype=td.float32).dtype == td.float32


def test_randint_refuses_what_torch_refuses():
    with pytest.raises(TypeError, match="size \\(a tuple\\) is required"):
        td.randint(3, 10)
    with pytest.raises(TypeError, match="high must be an int"):
        td.randint(2.5, (2,))
    with pytest.raises(ValueError, match="low must be less than high"):
        td.randint(5, 5, (2,))
    with pytest.raises(TypeError, match="must be an int"):
        td.randint(5, (2.5,))


# ---------------------------------------------------------------- f-strings, is_tensor

def test_format_spec_formats_a_0d_tensor_as_torch(device):
    torch = torch_or_skip()
    loss = td.tensor(0.123456, device=device, requires_grad=True)
    assert f"{loss:.4f}" == f"{torch.tensor(0.123456, requires_grad=True):.4f}" == "0.1235"
    assert f"{td.tensor(3, device=device):d}" == "3" and f"{td.tensor(2.5)}" == f"{torch.tensor(2.5)}" == "2.5"
    assert f"{td.tensor([1.0, 2.0])}" == repr(td.tensor([1.0, 2.0]))
    for shape in [(1,), (2,)]:
        message = f"only a 0-d tensor takes a format spec, this one has shape {shape}"
        with pytest.raises(TypeError, match=re.escape(message)):
            f"{td.zeros(shape, device=device):.4f}"
        with pytest.raises(TypeError):
            f"{torch.zeros(shape):.4f}"


def test_is_tensor():
    assert td.is_tensor(td.zeros(1)) and td.is_tensor(td.nn.Linear(1, 1).weight)
    assert not td.is_tensor(np.zeros(1)) and not td.is_tensor([1.0])


# ---------------------------------------------------------------- accelerator

def test_accelerator_answers_from_td_cuda():
    available = td.cuda.is_available()
    assert td.accelerator.is_available() == available
    assert td.accelerator.current_accelerator() == (td.device("cuda") if available else None)
    assert td.accelerator.device_count() == (1 if available else 0)
    td.accelerator.synchronize()
    if available:
        assert td.accelerator.current_device_index() == 0
        td.accelerator.synchronize("cuda:0")
        device = td.accelerator.current_accelerator() if td.accelerator.is_available() else td.device("cpu")
        assert td.ones(2, device=device).device == "cuda"
    with pytest.raises(ValueError, match="must be the accelerator"):
        td.accelerator.synchronize("cpu")


# ---------------------------------------------------------------- save / load

def test_save_and_load_through_file_objects(tmp_path, device):
    state = {"w": td.arange(6.0, device=device).reshape(2, 3), "step": 7, "names": ["a", "b"]}
    buffer = io.BytesIO()
    td.save(state, buffer)
    buffer.seek(0)
    loaded = td.load(buffer)
    np.testing.assert_array_equal(loaded["w"].numpy(), np.arange(6.0).reshape(2, 3))
    assert loaded["step"] == 7 and loaded["names"] == ["a", "b"] and loaded["w"].device == "cpu"
    with open(tmp_path / "c.pt", "wb") as f:
        td.save(state, f)
    with open(tmp_path / "c.pt", "rb") as f:
        assert td.load(f, weights_only=True)["step"] == 7
    assert td.load(tmp_path / "c.pt", weights_only=False)["step"] == 7


def test_load_reads_a_file_object_from_its_position():
    buffer = io.BytesIO(b"header")
    buffer.seek(0, io.SEEK_END)
    td.save({"x": td.ones(2)}, buffer)
    buffer.seek(len(b"header"))
    np.testing.assert_array_equal(td.load(buffer)["x"].numpy(), [1.0, 1.0])


def test_map_location_moves_the_tensors(device):
    buffer = io.BytesIO()
    td.save({"w": td.ones(2), "nested": [td.zeros(1)], "array": np.ones(1)}, buffer)
    for where in [device, td.device(device), {"cpu": device}, lambda tensor, location: tensor.to(device)]:
        buffer.seek(0)
        loaded = td.load(buffer, map_location=where)
        assert loaded["w"].device == device and loaded["nested"][0].device == device
        assert isinstance(loaded["array"], np.ndarray)
    buffer.seek(0)
    assert td.load(buffer, map_location=lambda tensor, location: None)["w"].device == "cpu"
    if device == "cuda":  # torch's idiom, with a tensor for the storage
        buffer.seek(0)
        assert td.load(buffer, map_location=lambda storage, location: storage.cuda(0))["w"].device == "cuda"


def test_load_refuses_what_it_cannot_honour():
    buffer = io.BytesIO()
    td.save({"w": td.ones(2)}, buffer)
    buffer.seek(0)
    with pytest.raises(TypeError, match="mmap"):
        td.load(buffer, mmap=True)
    with pytest.raises(TypeError, match="weights_only must be True, False or None"):
        td.load(buffer, weights_only="yes")
    with pytest.raises(TypeError, match="map_location must be a device"):
        td.load(buffer, map_location=3)
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        td.load(buffer, map_location="tpu")
    with pytest.raises(ValueError, match="one GPU"):  # the idiom lambda storage, location: storage.cuda(1)
        td.load(buffer, map_location=lambda tensor, location: tensor.cuda(1))
    buffer.seek(0)
    with pytest.raises(TypeError, match="must return a Tensor or None"):
        td.load(buffer, map_location=lambda tensor, location: 1)
    with pytest.raises(TypeError, match="binary mode"):
        td.load(io.StringIO("text"))
    with pytest.raises(TypeError, match="binary mode"):
        td.save({}, io.StringIO())
    with pytest.raises(td.CheckpointError, match="BytesIO object' is not a zip archive"):
        td.load(io.BytesIO(b"not a checkpoint"))


# ---------------------------------------------------------------- .data misuse

def _error_of(source, namespace):
    try:
        exec(compile(source, "<test>", "exec"), namespace)
    except (AttributeError, TypeError) as error:
        return error
    raise AssertionError(f"{source!r} did not fail")


@pytest.mark.skipif(sys.version_info < (3, 10), reason="AttributeError.obj is Python 3.10+")
def test_data_misuse_gets_a_hint_that_shows_the_tinydl_way(device):
    p = td.nn.Linear(2, 3).to(device).weight
    for source, way in [("p.data.add_(p.grad)", "p.data +="), ("p.data.zero_()", "p.data[...] = 0"),
                        ("p.data.normal_(0, 0.02)", "td.nn.init.normal_"), ("p.data.unsqueeze(0)", "p.unsqueeze(...)"),
                        ("p.data.requires_grad", "attribute .requires_grad is not there")]:
        hint = data_hint.hint_for(_error_of(source, {"p": p}))
        assert "raw NumPy/CuPy array" in hint and way in hint, source
    assert data_hint.hint_for(_error_of("p.data.no_such_name", {"p": p})) is None  # not a Tensor method
    assert data_hint.hint_for(_error_of("p.no_such_name", {"p": p})) is None  # not about .data
    assert data_hint.hint_for(ValueError("x")) is None


@pytest.mark.parametrize("call, op, argument", [
    (lambda out: td.max(out.data, 1), "max", "x"),  # the CIFAR-10 tutorial's line
    (lambda out: td.argmax(out.data, dim=1), "argmax", "x"),
    (lambda out: td.nn.functional.softmax(out.data, dim=1), "softmax", "x"),
    (lambda out: td.nn.functional.linear(out, out.data), "linear", "weight"),
])
def test_a_raw_array_where_a_tensor_goes_is_refused_with_the_data_hint(device, call, op, argument):
    outputs = td.randn(4, 4, device=device)
    array = "numpy.ndarray" if device == "cpu" else "cupy.ndarray"
    with pytest.raises(TypeError, match=rf"^{op}: {argument} must be a Tensor, not {array} \(in tinydl, t.data is "
                                        r"the raw NumPy/CuPy array, not a Tensor as in PyTorch"):
        call(outputs)
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="got \\(numpy.ndarray, int\\)"):  # PyTorch refuses the array too
        torch.max(np.ones((2, 3)), 1)


def test_an_uncaught_data_misuse_prints_the_hint(tmp_path):
    script = tmp_path / "habit.py"
    script.write_text("import tinydl as td\np = td.nn.Linear(2, 3).weight\nn = p.data.size(0)\n")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "'int' object is not callable" in result.stderr
    assert "raw NumPy/CuPy array" in result.stderr and "p.size(0)" in result.stderr


def test_module_to_takes_torchs_forms(device):
    """model.to(device), model.to(device, dtype), model.to(tensor), model.to(device=..., dtype=...), as PyTorch."""
    model = td.nn.Linear(2, 3)
    assert model.to(td.device(device)) is model and model.weight.device == device
    model.to(device="cpu", dtype=td.float64)
    assert model.weight.device == "cpu" and model.weight.dtype == td.float64
    model.to(device, td.float32)
    assert model.weight.device == device and model.weight.dtype == td.float32
    model.to(td.zeros(1, dtype=td.float64, device="cpu"), non_blocking=True)
    assert model.weight.device == "cpu" and model.bias.dtype == td.float64
    with pytest.raises(TypeError, match="Module.to: only floating dtypes"):
        model.to(td.int64)


@pytest.mark.parametrize("make", [td.randn, td.rand])
def test_random_half_precision_tensors(make, device):
    """NumPy and CuPy draw no float16: tinydl draws float32 and rounds, so randn(..., dtype=td.half) works as in PyTorch."""
    x = make(1000, dtype=td.half, device=device)
    assert x.dtype == td.float16 and x.device == device and x.shape == (1000,)
    values = x.numpy().astype(np.float64)
    assert np.isfinite(values).all() and values.std() > 0.1


def test_the_data_hint_is_added_in_ipython_too(monkeypatch):
    """In IPython / Jupyter (their own error display), install() registers the same note with set_custom_exc."""
    import sys
    import types

    from tinydl import data_hint

    class Shell:
        def set_custom_exc(self, kinds, handler):
            self.kinds, self.handler = kinds, handler

        def showtraceback(self, exc_tuple, tb_offset=None):
            self.shown = exc_tuple

    shell = Shell()
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    data_hint._install_in_ipython()
    try:
        td.zeros(2).data.add_(1)
    except AttributeError as error:
        shell.handler(shell, type(error), error, error.__traceback__)
    assert shell.kinds == (AttributeError, TypeError)
    assert any(".data" in note for note in shell.shown[1].__notes__)


@pytest.mark.parametrize("make", [
    lambda g, d: td.randn(3, 4, generator=g, device=d),
    lambda g, d: td.rand(5, generator=g, device=d),
    lambda g, d: td.randint(0, 10, (6,), generator=g, device=d),
    lambda g, d: td.randperm(7, generator=g, device=d),
])
def test_random_tensors_take_a_generator(make, device):
    """generator= (a td.Generator) as PyTorch: the same seed gives the same draws, on either device,
    and tinydl's global generator is left untouched."""
    td.manual_seed(0)
    first = make(td.Generator().manual_seed(3), device).numpy()
    after_global = td.rand(1).numpy()
    td.manual_seed(0)
    np.testing.assert_array_equal(after_global, td.rand(1).numpy())  # the global stream did not move
    second = make(td.Generator().manual_seed(3), device).numpy()
    np.testing.assert_array_equal(first, second)
    other = make(td.Generator().manual_seed(4), device).numpy()
    assert not np.array_equal(first, other)
    assert make(td.Generator().manual_seed(3), device).device == device
