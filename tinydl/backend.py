"""The one place that knows whether an array lives in NumPy (CPU) or CuPy (GPU).

Every op is written once against an "array module" ``xp``, which is either
``numpy`` or ``cupy``; both expose the same API, so ``xp.exp(x)`` works on
either device.  Code asks for the right module with
``xp = get_array_module(array)``.

Which ``cupy``: the real one when it imports and finds a GPU; otherwise, with
``TINYDL_FAKE_GPU=1``, tinydl's CPU stand-in (``tinydl/fake_cupy``), which
refuses what CuPy refuses, so the GPU path runs in the tests of a machine
without a GPU; otherwise none, and tinydl runs on NumPy alone.
"""
import os

import numpy as np

from .device import CPU, CUDA


def _real_cupy():
    """CuPy and cupyx when CuPy imports and at least one GPU answers, else (None, None)."""
    try:
        import cupy
        import cupyx
        import cupyx.scipy.special  # noqa: F401  (erf)

        if cupy.cuda.runtime.getDeviceCount() > 0:
            return cupy, cupyx
    except Exception:  # ImportError, a CuPy that finds no CUDA libraries, or no device
        pass
    return None, None


def fake_gpu_requested():
    """Whether TINYDL_FAKE_GPU asks for the stand-in ('1'/'true'/'yes' on, '0'/''/'false'/'no' off)."""
    value = os.environ.get("TINYDL_FAKE_GPU", "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"TINYDL_FAKE_GPU must be 1 or 0, got {os.environ['TINYDL_FAKE_GPU']!r}")


cp, cupyx = _real_cupy()
FAKE_GPU = cp is None and fake_gpu_requested()
if FAKE_GPU:
    from . import fake_cupy as cp
    from .fake_cupy import cupyx


def cuda_available():
    """True when CuPy finds a GPU, or when the stand-in is on (TINYDL_FAKE_GPU=1)."""
    return cp is not None


def get_array_module(array):
    """``numpy`` or ``cupy``, whichever owns ``array``."""
    if cp is not None and isinstance(array, cp.ndarray):
        return cp
    return np


def device_of(array):
    """``'cuda'`` for a CuPy array, else ``'cpu'`` (as ``td.device``, a str: tinydl/device.py)."""
    return CUDA if cp is not None and isinstance(array, cp.ndarray) else CPU


def normalize_device(device):
    """Accept 'cpu', 'cuda', 'cuda:0' (one GPU is supported), a ``td.device`` of these, or None (cpu)."""
    if device is None:
        return "cpu"
    name = str(device)
    if name in ("cpu", "cpu:0"):
        return "cpu"
    if name in ("cuda", "cuda:0", "gpu"):
        return "cuda"
    if name.startswith("cuda:"):
        raise ValueError(f"unknown device {device!r}: tinydl uses one GPU, 'cuda' (or 'cuda:0')")
    raise ValueError(f"unknown device {device!r}: use 'cpu' or 'cuda'")


def array_module_for(device):
    """The array module that holds data on ``device``."""
    if normalize_device(device) == "cpu":
        return np
    if not cuda_available():
        raise RuntimeError(
            "device 'cuda' was asked for, but CuPy with a usable GPU is not available "
            "(td.cuda.is_available() is False); install tinydl[gpu] on a machine with an NVIDIA GPU"
        )
    return cp


def to_device(array, device):
    """Copy ``array`` to ``device`` ('cpu' or 'cuda'); no copy if it is already there."""
    device = normalize_device(device)
    if device_of(array) == device:
        return array
    if device == "cpu":
        return to_numpy(array)
    return array_module_for("cuda").asarray(array)


def to_numpy(array):
    """A host (NumPy) ndarray, whatever the device. From a GPU this is a sync: the host waits for
    the GPU, and the checks queued on it are read in the same transfer (device_checks.py)."""
    if device_of(array) == "cuda":
        from .device_checks import read

        return read(array)
    return np.asarray(array)


def erf(x):
    """The error function on either device (NumPy has none, SciPy and CuPy do)."""
    if get_array_module(x) is np:
        from scipy.special import erf as _erf
    else:
        _erf = cupyx.scipy.special.erf
    return _erf(x)


def scatter_add(target, index, values):
    """``target[index] += values`` where repeated indices accumulate (np.add.at)."""
    if get_array_module(target) is np:
        np.add.at(target, index, values)
    else:
        cupyx.scatter_add(target, index, values)


# Not about devices: a setting of the C library's allocator, applied once, here, because every
# array goes through this module. It changes no result, only speed (tinydl/memory.py).
from .memory import keep_freed_memory  # noqa: E402

keep_freed_memory()
