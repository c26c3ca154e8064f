"""``td.accelerator``: PyTorch's device-neutral names for "the GPU, if there is one".

A script written for ``torch.accelerator`` picks its device like this, and runs
unchanged on tinydl::

    device = td.accelerator.current_accelerator() if td.accelerator.is_available() else td.device("cpu")

tinydl's only accelerator is a CUDA GPU through CuPy (or, in the tests, the
CuPy stand-in), so each function here answers from ``td.cuda``.
"""
from . import cuda
from .device import CUDA
from .device import device as as_device


def is_available():
    """True when tinydl can run on a GPU (``td.cuda.is_available()``)."""
    return cuda.is_available()


def current_accelerator(check_available=False):
    """``td.device('cuda')`` when a GPU is usable, else None (as PyTorch without an accelerator).

    ``check_available`` is accepted for PyTorch's signature: tinydl decides at import whether CuPy
    finds a GPU, so the build-time and run-time answers are the same."""
    return CUDA if cuda.is_available() else None


def device_count():
    """How many accelerators tinydl can use: 1 with a GPU (tinydl uses one), else 0."""
    return 1 if cuda.is_available() else 0


def current_device_index():
    """The index of the GPU in use: always 0 (tinydl uses one GPU)."""
    _require("current_device_index")
    return 0


def synchronize(device=None):
    """Wait for the GPU's queued work (``td.cuda.synchronize()``); a no-op without a GPU.

    ``device`` may be None, 0, 'cuda', 'cuda:0' or ``td.device('cuda')``."""
    if device is not None and as_device(device).type != "cuda":
        raise ValueError(f"accelerator.synchronize: device must be the accelerator ('cuda'), got {device!r}")
    cuda.synchronize()


def _require(op):
    if not cuda.is_available():
        raise RuntimeError(f"accelerator.{op}: no accelerator is available (td.accelerator.is_available() is False)")
