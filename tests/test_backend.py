"""The backend: device names, array modules, and the glibc memory setting."""
import subprocess
import sys

import numpy as np
import pytest

import tinydl as td
from tinydl import backend


def test_device_names_are_normalized():
    assert backend.normalize_device(None) == "cpu"
    assert backend.normalize_device("cuda:0") == "cuda"
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        backend.normalize_device("tpu")


def test_numpy_arrays_live_on_the_cpu():
    a = np.zeros(2)
    assert backend.get_array_module(a) is np and backend.device_of(a) == "cpu"
    assert backend.to_device(a, "cpu") is a


def _in_a_fresh_process(code, keep_freed_memory):
    env = {"TINYDL_KEEP_FREED_MEMORY": keep_freed_memory, "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return out.stdout.strip()


def _keep_freed_memory_in_a_fresh_process(value):
    return _in_a_fresh_process("import tinydl.memory as m; print(m.keep_freed_memory())", value)


def test_keep_freed_memory_can_be_switched_off():
    import platform

    assert _keep_freed_memory_in_a_fresh_process("0") == "False"
    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert _keep_freed_memory_in_a_fresh_process("1") == str(glibc)  # applied exactly where glibc is the libc


# In a fresh process: is an 8 MB array mmapped (glibc's default above 128 KiB) or taken from the heap, which
# reuses freed blocks (the mmap threshold tinydl sets is 32 MiB)? mallinfo2's hblkhd counts the mmapped bytes.
_EIGHT_MB_IS_MMAPPED = """
import ctypes
import numpy as np
import tinydl
names = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in names.split()]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Info
before = libc.mallinfo2().hblkhd
a = np.ones(2**20)
print(libc.mallinfo2().hblkhd - before >= a.nbytes)
"""


def test_importing_tinydl_applies_the_setting_by_default():
    import ctypes
    import platform

    if not (sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"):
        pytest.skip("the setting applies to glibc only")
    if not hasattr(ctypes.CDLL("libc.so.6"), "mallinfo2"):
        pytest.skip("glibc older than 2.33: no mallinfo2 to read the effect back")
    assert _in_a_fresh_process(_EIGHT_MB_IS_MMAPPED, "1") == "False"  # import tinydl: from the reusable heap
    assert _in_a_fresh_process(_EIGHT_MB_IS_MMAPPED, "0") == "True"  # switched off: glibc's defaults


def test_importing_tinydl_still_computes_correctly_with_reused_memory():
    """Reused blocks are not zeroed: every op must write all of its output (zeros() still zeroes)."""
    for _ in range(3):
        z = td.zeros(512, 512)
        assert float(np.abs(z.numpy()).max()) == 0.0
        g = td.functional.conv2d(td.ones(2, 3, 8, 8), td.ones(4, 3, 3, 3), padding=1)
        assert g.numpy()[0, 0, 0, 0] == 12.0 and g.numpy()[0, 0, 4, 4] == 27.0


def test_gpu_memory_functions_are_zero_without_a_gpu_and_count_arrays_with_one():
    if not td.cuda.is_available():
        assert td.cuda.memory_allocated() == td.cuda.memory_reserved() == td.cuda.max_memory_allocated() == 0
        td.cuda.empty_cache()  # does nothing, raises nothing
        td.cuda.reset_peak_memory_stats()
        return
    td.cuda.reset_peak_memory_stats()
    before = td.cuda.memory_allocated()
    x = td.zeros(1024, 1024, device="cuda")  # 4 MiB of float32
    assert td.cuda.memory_allocated() - before >= 4 * 2**20
    del x
    assert td.cuda.memory_allocated() == before  # the block went back to the pool ...
    assert td.cuda.memory_reserved() >= before + 4 * 2**20  # ... which keeps it
    assert td.cuda.max_memory_allocated() >= before + 4 * 2**20
    td.cuda.empty_cache()
    assert td.cuda.memory_reserved() - td.cuda.memory_allocated() < 4 * 2**20  # the cached block is gone
