"""Factories: ``td.tensor``, ``td.zeros``, ``td.randn`` and friends (PyTorch's arguments)."""
import operator

import numpy as np

from . import backend, rng
from .tensor import Tensor, _check_supported_dtype, _to_array, as_dtype, float32, int64


def size_int(value, name, op):
    """``value`` as a non-negative int, or a clear error: a float size is refused rather than
    truncated (``zeros(2.5)``), and a bool is not a size (PyTorch refuses both)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}: {name} must be an int, got bool {value}")
    try:
        number = operator.index(value)  # ints, NumPy integers, one-element integer Tensors
    except TypeError:
        raise TypeError(f"{op}: {name} must be an int, got {value!r} ({type(value).__name__})") from None
    if number < 0:
        raise ValueError(f"{op}: {name} must be non-negative, got {number}")
    return number


def _shape(size, op):
    """Accept zeros(2, 3) and zeros((2, 3)); every size a non-negative int."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    return tuple(size_int(s, f"size {tuple(size)} at position {i}", op) for i, s in enumerate(size))


def tensor(data, dtype=None, requires_grad=False, device=None):
    """A new leaf Tensor holding a copy of ``data`` (array, list, number or Tensor).

    ``device=None`` (as in PyTorch) keeps the data where it is: a cuda Tensor or a CuPy
    array gives a cuda tensor, host data a cpu one; ``device=`` moves it there."""
    array = _to_array(data, dtype)
    device = backend.device_of(array) if device is None else device
    moved = backend.to_device(array, device)
    return Tensor(moved.copy() if moved is array else moved, requires_grad=requires_grad)


def _filled(fill, size, dtype, device, requires_grad, op):
    xp = backend.array_module_for(device)
    dtype = float32 if dtype is None else as_dtype(dtype)
    return Tensor(xp.full(_shape(size, op), fill, dtype=dtype), requires_grad=requires_grad)


def zeros(*size, dtype=None, device="cpu", requires_grad=False):
    """A Tensor of zeros: ``td.zeros(2, 3)`` or ``td.zeros((2, 3))``; float32 unless ``dtype`` says otherwise."""
    return _filled(0, size, dtype, device, requires_grad, "zeros")


def ones(*size, dtype=None, device="cpu", requires_grad=False):
    """A Tensor of ones (same arguments as ``zeros``)."""
    return _filled(1, size, dtype, device, requires_grad, "ones")


def empty(*size, dtype=None, device="cpu", requires_grad=False):
    """A Tensor of the given shape; tinydl fills it with zeros, so it never holds stale values."""
    return _filled(0, size, dtype, device, requires_grad, "empty")


def full(size, fill_value, dtype=None, device="cpu", requires_grad=False):
    """A Tensor of ``size`` filled with ``fill_value``."""
    return _filled(fill_value, (size,), dtype, device, requires_grad, "full")


def zeros_like(t, dtype=None, device=None, requires_grad=False):
    """Zeros with ``t``'s shape, and its dtype and device unless given."""
    return zeros(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False):
    """Ones with ``t``'s shape, and its dtype and device unless given."""
    return ones(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    """``fill_value`` with ``t``'s shape, and its dtype and device unless given."""
    return full(t.shape, fill_value, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def randn(*size, generator=None, dtype=None, device="cpu", requires_grad=False):
    """Samples of N(0, 1), from tinydl's seeded generator (see ``td.manual_seed``), or from
    ``generator`` (a ``td.Generator``) when given, as PyTorch."""
    dtype = float32 if dtype is None else as_dtype(dtype)
    return Tensor(rng.standard_normal(_shape(size, "randn"), dtype, device, source=generator),
                  requires_grad=requires_grad)


def rand(*size, generator=None, dtype=None, device="cpu", requires_grad=False):
    """Samples of U[0, 1) (from ``generator``, a ``td.Generator``, when given)."""
    dtype = float32 if dtype is None else as_dtype(dtype)
    return Tensor(rng.uniform(_shape(size, "rand"), dtype, device, source=generator), requires_grad=requires_grad)


def randint(low, high=None, size=None, *, generator=None, dtype=None, device="cpu", requires_grad=False):
    """int64 samples from [low, high), PyTorch's forms: ``randint(high, size)`` (from [0, high))
    and ``randint(low, high, size)``; ``size`` is a tuple and is required, as in PyTorch."""
    if size is None and isinstance(high, (tuple, list)):  # randint(high, size)
        low, high, size = 0, low, high
    if size is None:
        given = low if high is None else f"{low}, {high}"
        raise TypeError(f"randint: size (a tuple) is required, as in PyTorch: randint(high, (n,)) or "
                        f"randint(low, high, (n,)); got randint({given})")
    if high is None:  # randint(10, size=(3,))
        low, high = 0, low
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"randint: size must be a tuple of ints, got {size!r} ({type(size).__name__})")
    size = _shape((size,), "randint")
    low, high = _bound(low, "low"), _bound(high, "high")
    if low >= high:
        raise ValueError(f"randint: low must be less than high, got low={low}, high={high}")
    array = rng.integers(low, high, size, device, source=generator)
    return Tensor(array if dtype is None else array.astype(as_dtype(dtype)), requires_grad=requires_grad)


def _bound(value, name):
    """An int bound of randint (it may be negative); a float or a bool is refused, as PyTorch does."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"randint: {name} must be an int, got {value!r} ({type(value).__name__})")
    return int(value)


def randn_like(t, dtype=None, device=None, requires_grad=False):
    """N(0, 1) samples with ``t``'s shape, and its dtype and device unless given."""
    return randn(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def rand_like(t, dtype=None, device=None, requires_grad=False):
    """U[0, 1) samples with ``t``'s shape, and its dtype and device unless given."""
    return rand(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def randperm(n, *, generator=None, device="cpu"):
    """A random permutation of 0..n-1 as int64, from tinydl's seeded generator (or ``generator``)."""
    return Tensor(backend.to_device(rng.permutation(size_int(n, "n", "randperm"), source=generator), device))


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
    steps = size_int(steps, "steps", "linspace")
    return Tensor(xp.linspace(start, end, steps, dtype=dtype), requires_grad=requires_grad)


def eye(n, m=None, dtype=None, device="cpu", requires_grad=False):
    """The n x m identity matrix (m = n by default)."""
    xp = backend.array_module_for(device)
    dtype = float32 if dtype is None else as_dtype(dtype)
    n, m = size_int(n, "n", "eye"), (None if m is None else size_int(m, "m", "eye"))
    return Tensor(xp.eye(n, m, dtype=dtype), requires_grad=requires_grad)


def from_numpy(array):
    """A Tensor sharing memory with a NumPy array (like torch.from_numpy)."""
    array = np.asarray(array)
    _check_supported_dtype(array.dtype, "from_numpy")
    return Tensor(array)
