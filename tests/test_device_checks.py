"""Checks of device values raise like CUDA's device-side asserts: at once on the CPU, with the next
read on a GPU, never silently (tinydl/device_checks.py)."""
import numpy as np
import pytest

import tinydl as td
import tinydl.functional as F
from tinydl import backend, device_checks

on_the_stand_in = pytest.mark.skipif(not backend.FAKE_GPU, reason="counts the CuPy stand-in's syncs")


def bad_target(device):
    return F.cross_entropy(td.zeros(2, 3, device=device), td.tensor([0, 7], device=device))


def test_the_cpu_raises_at_the_op():
    with pytest.raises(IndexError, match="target value 7 is out of range for 3 classes"):
        bad_target("cpu")


@pytest.mark.parametrize("read", [
    lambda loss: loss.item(), lambda loss: loss.numpy(), lambda loss: float(loss), lambda loss: print(loss),
    lambda loss: td.cuda.synchronize(), lambda loss: (loss * 2).tolist(),
])
def test_a_gpu_raises_at_the_next_read(device, read):
    if device == "cpu":
        pytest.skip("the CPU raises at the op (above)")
    loss = bad_target(device)  # queued, not raised: asking now would be a sync
    with pytest.raises(IndexError, match="target value 7 is out of range for 3 classes"):
        read(loss)
    assert loss.item() == pytest.approx(np.log(3))  # raised once; later reads go on (values of row 0 and 7 % 3)


def test_checks_that_pass_leave_the_values_alone(device):
    x = td.arange(6.0, device=device).reshape(2, 3)
    y = x[td.tensor([1, 0], device=device)]  # an index array: checked
    np.testing.assert_array_equal(y.numpy(), [[3.0, 4.0, 5.0], [0.0, 1.0, 2.0]])
    assert y.sum().item() == 15.0
    assert not device_checks._pending


def test_the_first_failed_check_is_raised(device):
    if device == "cpu":
        pytest.skip("the CPU raises at the first op")
    x = td.arange(3.0, device=device)
    x[td.tensor([1], device=device)]  # passes
    x[td.tensor([4], device=device)]  # fails first
    bad_target(device)  # fails second
    with pytest.raises(IndexError, match="getitem: index 4 is out of bounds"):
        x.numpy()
    x.numpy()  # the queue was emptied: nothing more is raised


@on_the_stand_in
def test_checks_travel_with_the_read_in_one_transfer():
    from tinydl.fake_cupy import counters

    x = td.arange(6.0, device="cuda")
    with counters.counting() as seen:
        for _ in range(10):
            y = x[td.tensor([5, 0], device="cuda")]  # ten queued checks, no sync
        assert seen.total_syncs == 0, seen.report()
        assert y.sum().item() == 5.0  # one sync: the value and the ten flags together
    assert seen.total_syncs == 1, seen.report()


@on_the_stand_in
def test_a_loop_that_never_reads_pays_one_sync_per_max_pending_checks():
    from tinydl.fake_cupy import counters

    x = td.arange(6.0, device="cuda")
    index = td.tensor([1], device="cuda")
    with counters.counting() as seen:
        for _ in range(device_checks.MAX_PENDING * 2):
            x[index]
    assert seen.total_syncs == 2 and len(device_checks._pending) == 0, seen.report()


@pytest.mark.parametrize("read", [
    lambda t: t.cpu(), lambda t: t.to("cpu"), lambda t: bool(t.sum()), lambda t: np.array(t.cpu()),
])
def test_every_way_to_the_host_reads_the_checks(device, read):
    x = td.arange(3.0, device=device)
    with pytest.raises(IndexError, match="getitem: index 5 is out of bounds for dimension 0 with size 3"):
        read(x[td.tensor([5], device=device)])


def test_np_array_of_a_tensor_is_a_copy_and_asarray_is_not():
    t = td.tensor([1.0, 2.0])
    a = np.array(t)
    a[0] = 99.0
    assert t[0].item() == 1.0
    np.asarray(t)[1] = 7.0  # np.asarray shares, as with torch.Tensor
    assert t[1].item() == 7.0
    with pytest.raises(ValueError, match="without a copy"):
        np.asarray(t, dtype=np.int64, copy=False)
    if td.cuda.is_available():
        with pytest.raises(TypeError, match="can't convert cuda device type tensor to numpy"):
            np.asarray(td.tensor([1.0], device="cuda"))
