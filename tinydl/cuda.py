"""``td.cuda``: is a GPU usable through CuPy?"""
from . import backend


def is_available():
    """True when CuPy imports and finds a GPU; tinydl then runs every op on it with device='cuda'."""
    return backend.cuda_available()


def synchronize():
    """Wait for queued GPU work to finish (for honest timings); a no-op without a GPU."""
    if backend.cuda_available():
        backend.cp.cuda.Device().synchronize()
