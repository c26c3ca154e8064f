"""Small ``td.NAME`` functions PyTorch scripts call: numel, square, as_tensor, and the default dtype.

tinydl's default floating-point dtype is float32, always: ``set_default_dtype`` accepts float32
and refuses anything else with a clear error, because honouring float64 would mean every op,
module and creation function reading a global (ask for the dtype explicitly instead:
``td.zeros(3, dtype=td.float64)``, ``model.double()``).
"""
import numpy as np

from . import backend
from .creation import from_numpy, tensor
from .functional import mul
from .tensor import Tensor, as_dtype, float32


def _check_tensor(op, input):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")


def numel(input):
    """The number of elements of ``input``."""
    _check_tensor("numel", input)
    return input.numel()


def square(input):
    """input * input elementwise."""
    _check_tensor("square", input)
    return mul(input, input)


def as_tensor(data, dtype=None, device=None):
    """``data`` as a Tensor, sharing memory where it can (PyTorch's rules):

    a Tensor already of that dtype and device is returned itself (else converted with ``.to``,
    staying in the graph); a NumPy array on the cpu with no other dtype asked shares its memory
    (``from_numpy``); anything else is copied, as by ``td.tensor``.
    """
    if isinstance(data, Tensor):
        if dtype is not None:
            data = data.to(dtype=as_dtype(dtype))
        return data if device is None else data.to(device)
    is_host_array = isinstance(data, np.ndarray)
    if is_host_array and (dtype is None or as_dtype(dtype) == data.dtype) and backend.normalize_device(
            "cpu" if device is None else device) == "cpu":
        return from_numpy(data)
    return tensor(data, dtype=dtype, device=device)


def get_default_dtype():
    """The dtype of floating-point tensors made from Python floats: td.float32 (always, in tinydl)."""
    return float32


def set_default_dtype(d):
    """Accepts td.float32 (the default, a no-op); tinydl cannot switch its default dtype (module docstring)."""
    if as_dtype(d) != float32:
        raise NotImplementedError(
            f"set_default_dtype: tinydl's default dtype is always float32, got {d}; ask for the dtype "
            "explicitly instead (td.zeros(3, dtype=td.float64), model.double(), x.double())")
