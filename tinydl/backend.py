"""The one place that knows whether an array lives in NumPy (CPU) or CuPy (GPU).

Every op is written once against an "array module" ``xp``, which is either
``numpy`` or ``cupy``; both expose the same API, so ``xp.exp(x)`` works on
either device.  Code asks for the right module with
``xp = get_array_module(array)``.
"""
import numpy as np

try:  # CuPy is optional: without it (or without a GPU) tinydl runs on NumPy alone.
    import cupy as cp
except Exception:  # ImportError, or a CuPy that finds no CUDA libraries
    cp = None


def cuda_available():
    """True when CuPy imports and at least one GPU answers."""
    if cp is None:
        return False
    try:
        return cp.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def get_array_module(array):
    """``numpy`` or ``cupy``, whichever owns ``array``."""
    if cp is not None and isinstance(array, cp.ndarray):
        return cp
    return np


def device_of(array):
    """``'cuda'`` for a CuPy array, else ``'cpu'``."""
    return "cuda" if cp is not None and isinstance(array, cp.ndarray) else "cpu"


def normalize_device(device):
    """Accept 'cpu', 'cuda', 'cuda:0' (one GPU is supported) or None (cpu)."""
    if device is None:
        return "cpu"
    name = str(device)
    if name == "cpu":
        return "cpu"
    if name in ("cuda", "cuda:0", "gpu"):
        return "cuda"
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
        return cp.asnumpy(array)
    return array_module_for("cuda").asarray(array)


def to_numpy(array):
    """A host (NumPy) ndarray, whatever the device."""
    return cp.asnumpy(array) if device_of(array) == "cuda" else np.asarray(array)


def erf(x):
    """The error function on either device (NumPy has none, SciPy and CuPy do)."""
    if get_array_module(x) is np:
        from scipy.special import erf as _erf
    else:
        from cupyx.scipy.special import erf as _erf
    return _erf(x)


def scatter_add(target, index, values):
    """``target[index] += values`` where repeated indices accumulate (np.add.at)."""
    if get_array_module(target) is np:
        np.add.at(target, index, values)
    else:
        import cupyx

        cupyx.scatter_add(target, index, values)


# Not about devices: a setting of the C library's allocator, applied once, here, because every
# array goes through this module. It changes no result, only speed (tinydl/memory.py).
from .memory import keep_freed_memory  # noqa: E402

keep_freed_memory()
