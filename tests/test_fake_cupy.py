"""The CuPy stand-in refuses what CuPy refuses and behaves where CuPy differs from NumPy.

Each rule below is CuPy's (the stand-in's docstrings cite the behaviour; the evidence is
CuPy's source, cupy/_core/core.pyx and _routines_indexing.pyx). If the stand-in were
lenient, GPU bugs would pass the tests unseen; these tests keep it strict.
"""
import numpy as np
import pytest

import tinydl as td
from tinydl import fake_cupy as cp
from tinydl.fake_cupy import counters, names

on_the_stand_in = pytest.mark.skipif(
    not td.backend.FAKE_GPU, reason="device='cuda' is not the stand-in here (TINYDL_FAKE_GPU=0, or a real GPU)"
)
MESSAGE = "Implicit conversion to a NumPy array is not allowed"


# ---- the border between host and device --------------------------------------------------------
def test_numpy_cannot_read_a_device_array_implicitly():
    a = cp.arange(3.0)
    for convert in (np.asarray, np.array, lambda v: np.array([v, v])):
        with pytest.raises(TypeError, match=MESSAGE):
            convert(a)


def test_get_and_asnumpy_copy_to_the_host_on_purpose():
    a = cp.arange(4.0)
    for host in (a.get(), cp.asnumpy(a)):
        assert type(host) is np.ndarray
        np.testing.assert_array_equal(host, [0.0, 1.0, 2.0, 3.0])
    host = a.get()
    host[0] = 9  # a copy: the device array is untouched
    assert a[0].item() == 0.0
    np.testing.assert_array_equal(cp.asnumpy(np.ones(2)), [1.0, 1.0])  # a host array passes through


@pytest.mark.parametrize("host", [np.ones(3), [1.0, 1.0, 1.0], np.array(1.0)])
def test_ufuncs_refuse_host_arrays_and_lists(host):
    a = cp.ones(3)
    for op in (lambda: a + host, lambda: cp.add(a, host), lambda: np.add(a, host), lambda: cp.exp(host)):
        with pytest.raises(TypeError):
            op()


def test_ufuncs_take_python_and_numpy_scalars():
    a = cp.ones(3, dtype=np.float32)
    for b in (a + 2.0, a * np.float32(2), 2 - a, np.exp(a)):
        assert isinstance(b, cp.ndarray) and b.dtype == np.float32
    assert (a == np.array(1.0)).all().item()  # comparisons read a 0-d NumPy array as a scalar


def test_functions_refuse_host_arrays_and_dispatch_numpy_calls():
    a = cp.arange(3.0)
    with pytest.raises(TypeError):
        cp.concatenate([a, np.arange(3.0)])
    with pytest.raises(TypeError):
        np.concatenate([a, np.arange(3.0)])
    b = np.concatenate([a, a])  # NumPy's function on device arrays runs CuPy's
    assert isinstance(b, cp.ndarray) and b.shape == (6,)
    assert isinstance(np.where(a > 0, 1.0, 0.0), cp.ndarray)


def test_only_names_cupy_has():
    assert names.has("cupy", "take_along_axis") and names.has("cupyx.scipy.special", "erf")
    with pytest.raises(AttributeError, match="CuPy has no such name"):
        cp.insert  # NumPy has it, CuPy does not
    with pytest.raises(AttributeError):
        cp.arange(3).resize  # NumPy arrays have this method, CuPy's do not
    assert not hasattr(cp.ndarray, "__index__")  # range(device 0-d) fails on CuPy too
    with pytest.raises(TypeError):
        range(cp.asarray(3))


def test_assignment_rules():
    a = cp.zeros(4)
    with pytest.raises(ValueError, match="non-scalar numpy.ndarray"):
        a[0:2] = np.ones(2)  # a basic index is a fill, and fill takes scalars
    with pytest.raises(TypeError, match="Unsupported type"):
        a[...] = [1.0, 2.0, 3.0, 4.0]
    a[1] = 3.0
    a[cp.asarray([0, 2])] = np.array([5.0, 6.0])  # an advanced index copies host values over
    a[a > 5.5] = 0
    np.testing.assert_array_equal(a.get(), [5.0, 3.0, 0.0, 0.0])


# ---- where CuPy differs from NumPy ---------------------------------------------------------
def test_reductions_and_integer_indexing_give_0d_device_arrays():
    a = cp.arange(6.0).reshape(2, 3)
    for value in (a.sum(), a.max(), cp.sum(a), a[1, 2], a[0][1], np.sum(a)):
        assert isinstance(value, cp.ndarray) and value.shape == ()
    assert float(a.sum()) == 15.0


def test_out_of_range_index_arrays_wrap_around():
    a = cp.asarray([10.0, 20.0, 30.0])
    np.testing.assert_array_equal(a[cp.asarray([5, -4])].get(), [30.0, 30.0])  # 5 % 3, -4 % 3
    np.testing.assert_array_equal(cp.take(a, cp.asarray([3])).get(), [10.0])
    np.testing.assert_array_equal(a[[4]].get(), [20.0])  # a host list is copied over, then wraps too
    with pytest.raises(IndexError):
        a[3]  # a Python integer is checked on the host


def test_repeated_indices_keep_the_first_value_not_numpys_last():
    a = cp.zeros(3)
    a[cp.asarray([1, 1, 2])] = cp.asarray([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(a.get(), [0.0, 1.0, 3.0])
    b = np.zeros(3)
    b[[1, 1, 2]] = [1.0, 2.0, 3.0]
    assert b[1] == 2.0  # NumPy: the last; the GPU gives no guarantee, the stand-in the first


def test_scatter_add_accumulates_and_refuses_int64():
    a = cp.zeros(3)
    cp.cupyx.scatter_add(a, cp.asarray([1, 1, 4]), cp.asarray([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(a.get(), [0.0, 6.0, 0.0])  # 4 wraps to 1
    with pytest.raises(TypeError, match="only supports"):
        cp.cupyx.scatter_add(cp.zeros(3, dtype=np.int64), cp.asarray([0]), 1)


def test_empty_is_poisoned():
    assert np.isnan(cp.empty((2, 2)).get()).all()
    assert np.isnan(cp.empty_like(cp.ones(3)).get()).all()
    assert (cp.empty(3, dtype=np.int64).get() != 0).all()


def test_ufunc_methods_only_where_cupy_has_them():
    a = cp.arange(4.0)
    assert np.add.reduce(a).item() == 6.0
    with pytest.raises(NotImplementedError):
        np.maximum.reduce(a)


def test_random_stream_is_not_numpys():
    s = cp.random.RandomState(0).standard_normal(5).get()
    assert not np.allclose(s, np.random.default_rng(0).standard_normal(5))
    assert not np.allclose(s, np.random.RandomState(0).standard_normal(5))
    np.testing.assert_array_equal(s, cp.random.RandomState(0).standard_normal(5).get())  # seeded: same again
    with pytest.raises(TypeError):
        cp.random.RandomState(0).standard_normal(3, dtype=np.float16)


@on_the_stand_in
def test_tinydl_draws_differ_between_devices_for_one_seed():
    td.manual_seed(3)
    cpu = td.randn(5).numpy()
    td.manual_seed(3)
    gpu = td.randn(5, device="cuda").numpy()
    assert not np.allclose(cpu, gpu)
    td.manual_seed(3)
    np.testing.assert_array_equal(gpu, td.randn(5, device="cuda").numpy())


# ---- the pool, its hooks, and the counters -------------------------------------------------
def test_memory_pool_books_live_and_cached_bytes_and_calls_hooks():
    pool = cp.get_default_memory_pool()
    seen = []

    class Hook(cp.cuda.memory_hook.MemoryHook):
        name = "test_hook"

        def malloc_postprocess(self, **info):
            seen.append(("malloc", info["mem_size"]))

        def free_postprocess(self, **info):
            seen.append(("free", info["mem_size"]))

    used = pool.used_bytes()
    with Hook():
        a = cp.empty(1000, dtype=np.float32)  # 4000 bytes, rounded up to 4096
        assert pool.used_bytes() == used + 4096
        del a
    assert seen == [("malloc", 4096), ("free", 4096)]
    assert pool.used_bytes() == used and pool.total_bytes() >= used + 4096  # the block stays cached
    pool.free_all_blocks()
    assert pool.total_bytes() == pool.used_bytes()


def test_views_share_their_buffer_in_the_books():
    pool = cp.get_default_memory_pool()
    a = cp.zeros(1024)
    used = pool.used_bytes()
    views = [a[1:], a.reshape(32, 32), a.T]
    assert pool.used_bytes() == used
    del views


@on_the_stand_in
def test_td_cuda_memory_functions_follow_the_pool():
    td.cuda.reset_peak_memory_stats()
    before = td.cuda.memory_allocated()
    x = td.zeros(256, 256, device="cuda")  # 256 KiB
    assert td.cuda.memory_allocated() - before == 256 * 256 * 4
    del x
    assert td.cuda.max_memory_allocated() - before >= 256 * 256 * 4
    assert td.cuda.memory_reserved() >= td.cuda.memory_allocated()


def test_counters_count_syncs_and_copies_per_line():
    with counters.counting() as seen:
        a = cp.asarray(np.ones(3))  # copy
        b = a * 2
        float(b.sum())  # sync
        b.get()  # sync
        bool(b[b > 1].any())  # mask indexing (its size depends on the data) + bool: 2 syncs
    assert seen.total_copies == 1 and seen.total_syncs == 4, seen.report()
    assert all("test_fake_cupy.py:" in where for where in list(seen.syncs) + list(seen.copies))


def test_methods_follow_cupys_rules_too():
    a = cp.asarray([10.0, 20.0, 30.0])
    np.testing.assert_array_equal(a.take(cp.asarray([5])).get(), [30.0])  # wraps, as cupy.take does
    np.testing.assert_array_equal(cp.take(a, np.array([4])).get(), [20.0])  # host indices: copied over
    with counters.counting() as seen:
        a.nonzero()  # the output's size depends on the values: a sync
        a[a > 15] = 0.0  # CuPy counts the mask's True values on the host first
    assert seen.total_syncs == 2, seen.report()
    for name in ("data", "flat"):  # would hand out host memory: not modelled, refused
        with pytest.raises(AttributeError, match="does not model"):
            getattr(a, name)
    a.fill(np.array(2.0))
    with pytest.raises(ValueError, match="non-scalar"):
        a.fill(np.ones(3))


def test_joining_takes_device_arrays_only():
    a = cp.ones(2)
    for items in ([a, [1.0]], [a, 1.0], [a, np.ones(2)]):
        with pytest.raises(TypeError):
            cp.concatenate(items)
    with pytest.raises(TypeError):
        cp.stack([a, np.ones(2)])
    assert cp.stack([a, a]).shape == (2, 2)


def test_a_host_boolean_mask_names_as_many_dimensions_as_it_has():
    a = cp.arange(24).reshape(2, 3, 4)
    mask = np.ones((2, 3), dtype=bool)
    np.testing.assert_array_equal(a[mask, ..., cp.asarray([5])].get(), a.get()[mask][:, [1]].ravel())
