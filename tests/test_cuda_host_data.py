"""Host data meeting device tensors (issue 14, bugs 1-5).

Lists, NumPy arrays and Python numbers live on the host; a ``cuda`` tensor's numbers
live on the device, and CuPy refuses to mix the two implicitly. Each test below runs
on "cpu" and on "cuda" (a real GPU, or tinydl's CuPy stand-in) and checks that the
host data is moved where the tensor lives, or refused with an error naming the op.
"""
import numpy as np
import pytest

import tinydl as td
import tinydl.functional as F
from tinydl import backend

from helpers import const, host, leaf

RTOL, ATOL = 1e-6, 1e-6


def other_device(device):
    """The device that is not ``device`` (skips without a GPU or the stand-in)."""
    if not td.cuda.is_available():
        pytest.skip("needs a GPU or the CuPy stand-in")
    return "cpu" if device == "cuda" else "cuda"


def raw(array, device):
    """A raw (NumPy or CuPy) array on ``device``, not wrapped in a Tensor."""
    return backend.to_device(np.asarray(array), device)


# ---- bug 1: nll_loss / cross_entropy with a list, ndarray or raw device target ------------------
LOGITS = np.array([[0.5, -1.0, 2.0], [0.1, 0.2, 0.3], [-2.0, 1.0, 0.0], [1.5, 0.5, -0.5]])
CLASSES = [0, 1, 2, 0]


def _loss_and_grad(loss_fn, device, target):
    x = leaf(LOGITS, device)
    inputs = F.log_softmax(x, 1) if loss_fn is F.nll_loss else x
    loss = loss_fn(inputs, target(device))
    loss.backward()
    return loss, x.grad


TARGETS = {
    "list": lambda device: list(CLASSES),
    "ndarray": lambda device: np.array(CLASSES),
    "raw array on the device": lambda device: raw(CLASSES, device),
    "tensor on the device": lambda device: const(CLASSES, device),
}


@pytest.mark.parametrize("loss_fn", [F.cross_entropy, F.nll_loss], ids=["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("kind", list(TARGETS))
def test_class_target_of_any_array_kind(device, loss_fn, kind):
    """Bug 1: a list, ndarray or raw device target of nll_loss / cross_entropy works on every device
    (a host target is copied to the input's device) and gives the loss and gradient of a Tensor target."""
    loss, grad = _loss_and_grad(loss_fn, device, TARGETS[kind])
    expected_loss, expected_grad = _loss_and_grad(loss_fn, "cpu", TARGETS["tensor on the device"])
    assert loss.device == device and grad.device == device
    np.testing.assert_allclose(host(loss), host(expected_loss), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(host(grad), host(expected_grad), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("loss_fn", [F.cross_entropy, F.nll_loss], ids=["cross_entropy", "nll_loss"])
def test_class_target_tensor_on_another_device_is_refused(device, loss_fn):
    """Bug 1: a target Tensor on another device than the input is refused with an error naming
    the op and both devices (as PyTorch refuses it), not an obscure CuPy TypeError."""
    target = const(CLASSES, other_device(device))
    with pytest.raises(RuntimeError, match=rf"{loss_fn.__name__}: .*{device}.*{target.device}"):
        loss_fn(leaf(LOGITS, device), target)


# ---- bug 2: assigning host values into a device tensor -----------------------------------------
def test_setitem_host_values(device):
    """Bug 2: t[index] = list / ndarray / NumPy scalar / Python number works on a cuda tensor:
    host arrays and lists are copied to the tensor's device first (CuPy refuses them)."""
    t = td.zeros(2, 4, device=device)
    t[0, 0:2] = np.array([1.0, 2.0])
    t[1, ...] = [5, 6, 7, 8]
    t[0, 2] = np.float32(3.5)
    t[0, 3] = 4
    t[:, 1] = np.array(-1.0)  # a 0-d host array broadcasts
    assert t.device == device and t.dtype == td.float32
    np.testing.assert_array_equal(host(t), [[1.0, -1.0, 3.5, 4.0], [5.0, -1.0, 7.0, 8.0]])


def test_setitem_host_values_at_index_arrays(device):
    """Bug 2: assignment through an index array with a host value array also lands on the device."""
    t = td.zeros(5, dtype=td.int64, device=device)
    t[[0, 3]] = np.array([7, 9])
    t[const([1, 4], device)] = [2, 3]
    np.testing.assert_array_equal(host(t), [7, 2, 0, 9, 3])


def test_setitem_tensor_from_another_device_is_copied(device):
    """Bug 2: a Tensor value on the other device is copied into the tensor (as PyTorch's copy_ does
    for basic indexing), in both directions."""
    t = td.zeros(4, device=device)
    t[1:3] = td.tensor([1.5, 2.5], device=other_device(device))
    assert t.device == device
    np.testing.assert_array_equal(host(t), [0.0, 1.5, 2.5, 0.0])


# ---- bug 3: where with Python scalars ----------------------------------------------------------
def test_where_python_scalars_follow_the_condition(device):
    """Bug 3: td.where(device_condition, 1.0, 0.0) lives on the condition's device (the scalars used to
    make NumPy arrays, and NumPy cannot read the device condition); dtypes as on the CPU."""
    condition = const([True, False, True], device)
    floats = td.where(condition, 1.0, 0.0)
    ints = td.where(condition, 2, -1)
    from_raw = td.where(condition.data, 1.0, np.array([5.0, 6.0, 7.0]))  # raw device condition, host array
    assert floats.device == ints.device == from_raw.device == device
    assert floats.dtype == td.float32 and ints.dtype == td.int64
    np.testing.assert_array_equal(host(floats), [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(host(ints), [2, -1, 2])
    np.testing.assert_array_equal(host(from_raw), [1.0, 6.0, 1.0])


def test_where_scalar_beside_a_tensor_keeps_the_gradient(device):
    """Bug 3: a scalar next to a device tensor follows that tensor, and the gradient lands where the
    condition picked the tensor."""
    x = leaf([1.0, 2.0, 3.0], device)
    y = td.where(const([True, False, True], device), x, 0.0)
    y.sum().backward()
    np.testing.assert_allclose(host(y), [1.0, 0.0, 3.0], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(host(x.grad), [1.0, 0.0, 1.0], rtol=RTOL, atol=ATOL)


def test_where_condition_and_values_on_different_devices(device):
    """Bug 3: a host condition beside device values is copied to the device; a device condition
    beside host values is refused with an error naming where and both devices (no hidden sync)."""
    other = other_device(device)
    condition = const([True, False, True], device)
    values = td.tensor([1.0, 2.0, 3.0], device=other)
    if device == "cpu":
        y = td.where(condition, values, 0.0)
        assert y.device == "cuda"
        np.testing.assert_array_equal(host(y), [1.0, 0.0, 3.0])
    else:
        with pytest.raises(RuntimeError, match=rf"where: .*{device}.*{other}"):
            td.where(condition, values, 0.0)


# ---- bug 4: td.tensor of a device tensor or array ----------------------------------------------
@pytest.mark.parametrize("as_raw", [False, True], ids=["tensor", "raw array"])
def test_tensor_of_device_data_keeps_its_device(device, as_raw):
    """Bug 4: td.tensor(cuda_tensor) / td.tensor(cupy_array) with the default device keeps the data on
    its device (as torch.tensor infers the device from a tensor) and copies it."""
    source = const(np.array([[1.0, 2.0], [3.0, 4.0]]), device)
    t = td.tensor(source.data if as_raw else source)
    source.data[0, 0] = 9.0  # a copy: the new tensor does not see later writes
    assert t.device == device and t.dtype == td.float64 and t.is_leaf and not t.requires_grad
    np.testing.assert_array_equal(host(t), [[1.0, 2.0], [3.0, 4.0]])


def test_tensor_of_device_data_moves_to_an_explicit_device(device):
    """Bug 4: td.tensor(data, device=...) moves device data there, either way."""
    source = const(np.array([1.5, 2.5], dtype=np.float32), device)
    target = other_device(device)
    for data in (source, source.data):
        t = td.tensor(data, device=target, requires_grad=True)
        assert t.device == target and t.dtype == td.float32 and t.requires_grad and t.is_leaf
        np.testing.assert_array_equal(host(t), [1.5, 2.5])


def test_tensor_of_host_data_stays_on_the_cpu_by_default(device):
    """Bug 4: with the default device, host data (list, ndarray, number) still makes a cpu tensor."""
    assert td.tensor([1.0, 2.0]).device == td.tensor(np.ones(2)).device == td.tensor(3).device == "cpu"
    assert td.tensor([1.0, 2.0], device=device).device == device


# ---- bug 5: td.tensor of a list of device 0-d arrays -------------------------------------------
def test_tensor_of_a_list_of_device_scalars_is_gathered_on_the_device(device):
    """Bug 5: td.tensor([device 0-d array, ...]) stacks them on the device (with no sync), with the
    dtype a list of numbers gets on the CPU (floats -> float32)."""
    x = const(np.array([1.0, 2.0, 3.0]), device)  # float64
    parts = [x.sum().data, x.max().data, x[0].data]  # 0-d arrays on the device
    t = _without_syncs(lambda: td.tensor(parts), device)
    assert t.device == device and t.dtype == td.float32 and t.shape == (3,)
    np.testing.assert_array_equal(host(t), [6.0, 3.0, 1.0])


def test_tensor_of_a_list_of_device_tensors(device):
    """Bug 5: td.tensor([cuda 0-d tensor, ...]) (torch.tensor accepts 0-d tensors in a list) and a
    nested list of device arrays, gathered on their device; ints stay int64; device= moves the result."""
    x = const(np.array([4, 5, 6]), device)
    t = _without_syncs(lambda: td.tensor([x[2], x.sum(), x[0]]), device)
    nested = td.tensor([[x[0].data, x[1].data], [x[2].data, x.sum().data]])
    on_cpu = td.tensor([x[2], x[0]], device="cpu")
    assert t.device == nested.device == device and on_cpu.device == "cpu"
    assert t.dtype == nested.dtype == td.int64
    np.testing.assert_array_equal(host(t), [6, 15, 4])
    np.testing.assert_array_equal(host(nested), [[4, 5], [6, 15]])
    np.testing.assert_array_equal(host(on_cpu), [6, 4])


def _without_syncs(make, device):
    """make()'s result, checking on the stand-in that it read nothing back from the device."""
    if device != "cuda" or not backend.FAKE_GPU:
        return make()
    from tinydl.fake_cupy import counters

    with counters.counting() as seen:
        result = make()
    assert seen.total_syncs == 0, seen.report()
    return result


def test_class_weights_of_any_array_kind_follow_the_input(device):
    """Like bug 1, for ``weight=``: a list, a host array or a Tensor on the input's device works
    (a cpu weight beside a cuda input raised CuPy's implicit-conversion TypeError); a Tensor on
    the other device is refused with an error that names the op."""
    logits = np.random.default_rng(0).normal(size=(4, 3))
    target = [0, 2, 1, 2]
    weights = [0.5, 2.0, 1.0]
    picked = -(logits - np.log(np.exp(logits).sum(1, keepdims=True)))[np.arange(4), target]
    expected = (picked * np.take(weights, target)).sum() / np.take(weights, target).sum()
    for weight in (weights, np.array(weights), td.tensor(weights, device=device)):
        loss = F.cross_entropy(td.tensor(logits, device=device), td.tensor(target, device=device), weight=weight)
        np.testing.assert_allclose(loss.item(), expected, rtol=1e-5, atol=1e-6)
    if td.cuda.is_available():
        other = "cpu" if device == "cuda" else "cuda"
        with pytest.raises(RuntimeError, match=f"nll_loss: input is on {device} but weight is on {other}"):
            F.cross_entropy(td.tensor(logits, device=device), td.tensor(target, device=device),
                            weight=td.tensor(weights, device=other))
