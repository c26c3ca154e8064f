"""Factories: ``td.tensor``, ``td.zeros``, ``td.randn`` and friends (PyTorch's arguments)."""
import numpy as np

from . import backend, rng
from .tensor import Tensor, _to_array, as_dtype, float32, int64


def _shape(size):
    """Accept zeros(2, 3) and zeros((2, 3))."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    return tuple(int(s) for s in size)


def tensor(data, dtype=None, requires_grad=False, device=None):
    """A new leaf Tensor holding a copy of ``data`` (array, list, number or Tensor).

    ``device=None`` (as in PyTorch) keeps the data where it is: a cuda Tensor or a CuPy
    array gives a cuda tensor, host data a cpu one; ``device=`` moves it there."""
    array = _to_array(data, dtype)
    device = backend.device_of(array) if device is None else device
    moved = backend.to_device(array, device)
    return Tensor(moved.copy() if moved is array else moved, requires_grad=requires_grad)


def _filled(fill, size, dtype, device, requires_grad):
    xp = backend.array_module_for(device)
    dtype = float32 if dtype is None else as_dtype(dtype)
    return Tensor(xp.full(_shape(size), fill, dtype=dtype), requires_grad=requires_grad)


def zeros(*size, dtype=None, device="cpu", requires_grad=False):
    """A Tensor of zeros: ``td.zeros(2, 3)`` or ``td.zeros((2, 3))``; float32 unless ``dtype`` says otherwise."""
    return _filled(0, size, dtype, device, requires_grad)


def ones(*size, dtype=None, device="cpu", requires_grad=False):
    """A Tensor of ones (same arguments as ``zeros``)."""
    return _filled(1, size, dtype, device, requires_grad)


def empty(*size, dtype=None, device="cpu", requires_grad=False):
    """A Tensor of the given shape; tinydl fills it with zeros, so it never holds stale values."""
    return _filled(0, size, dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device="cpu", requires_grad=False):
    """A Tensor of ``size`` filled with ``fill_value``."""
    return _filled(fill_value, (size,), dtype, device, requires_grad)


def zeros_like(t, dtype=None, device=None, requires_grad=False):
    """Zeros with ``t``'s shape, and its dtype and device unless given."""
    return zeros(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False):
    """Ones with ``t``'s shape, and its dtype and device unless given."""
    return ones(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    """``fill_value`` with ``t``'s shape, and its dtype and device unless given."""
    return full(t.shape, fill_value, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def randn(*size, dtype=None, device="cpu", requires_grad=False):
    """Samples of N(0, 1), from tinydl's seeded generator (see ``td.manual_seed``)."""
    dtype = float32 if dtype is None else as_dtype(dtype)
    return Tensor(rng.standard_normal(_shape(size), dtype, device), requires_grad=requires_grad)


def rand(*size, dtype=None, device="cpu", requires_grad=False):
    """Samples of U[0, 1)."""
    dtype = float32 if dtype is None else as_dtype(dtype)
    return Tensor(rng.uniform(_shape(size), dtype, device), requires_grad=requires_grad)


def randint(low, high=None, size=(), dtype=None, device="cpu"):
    """int64 samples from [low, high) (or [0, low) when high is omitted)."""
    if high is None:
        low, high = 0, low
    array = rng.integers(low, high, tuple(size), device)
    return Tensor(array if dtype is None else array.astype(as_dtype(dtype)))


def randn_like(t, dtype=None, device=None, requires_grad=False):
    """N(0, 1) samples with ``t``'s shape, and its dtype and device unless given."""
    return randn(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def rand_like(t, dtype=None, device=None, requires_grad=False):
    """U[0, 1) samples with ``t``'s shape, and its dtype and device unless given."""
    return rand(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def randperm(n, device="cpu"):
    """A random permutation of 0..n-1 as int64, from tinydl's seeded generator."""
    return Tensor(backend.to_device(rng.permutation(n), device))


def arange(start, end=None, step=1, dtype=None, device="cpu", requires_grad=False):
    """Like ``torch.arange``: int64 when every argument is an integer, else float32."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        dtype = int64 if all(isinstance(v, (int, np.integer)) for v in (start, end, step)) else float32
    xp = backend.array_module_for(device)
    return Tensor(xp.arange(start, end, step, dtype=as_dtype(dtype)), requires_grad=requires_grad)


def linspace(start, end, steps, dtype=None, device="cpu", requires_grad=False):
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    xp = backend.array_module_for(device)
    dtype = float32 if dtype is None else as_dtype(dtype)
    return Tensor(xp.linspace(start, end, steps, dtype=dtype), requires_grad=requires_grad)


def eye(n, m=None, dtype=None, device="cpu", requires_grad=False):
    """The n x m identity matrix (m = n by default)."""
    xp = backend.array_module_for(device)
    dtype = float32 if dtype is None else as_dtype(dtype)
    return Tensor(xp.eye(n, m, dtype=dtype), requires_grad=requires_grad)


def from_numpy(array):
    """A Tensor sharing memory with a NumPy array (like torch.from_numpy)."""
    return Tensor(np.asarray(array))
