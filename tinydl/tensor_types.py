"""PyTorch's legacy tensor types: ``td.FloatTensor``, ``td.LongTensor``, ... and ``Tensor.type()``.

Older PyTorch code names a dtype and a device together as a type:
``torch.FloatTensor(2, 3)`` (a float32 tensor of shape (2, 3), uninitialized),
``torch.LongTensor([1, 2])`` (data converted to int64), ``t.type()`` returns
``'torch.FloatTensor'`` (``'torch.cuda.FloatTensor'`` on a GPU), and the GAN
scripts of a few years ago write
``Tensor = torch.cuda.FloatTensor if cuda else torch.FloatTensor``.

tinydl has one Tensor class, so each of these names is a small callable that
makes a Tensor of its dtype and device (``td.cuda.FloatTensor`` on the GPU).
``isinstance(t, td.FloatTensor)`` works too: it checks ``t``'s dtype and
device, as PyTorch does, but ``type(t)`` is always ``td.Tensor``.
"""
import numpy as np

from . import backend
from .tensor import Tensor, _legacy_shape, _to_array, as_dtype

# PyTorch's type name for each dtype tinydl holds
NAMES = {
    "float32": "FloatTensor",
    "float64": "DoubleTensor",
    "float16": "HalfTensor",
    "int64": "LongTensor",
    "int32": "IntTensor",
    "int16": "ShortTensor",
    "int8": "CharTensor",
    "uint8": "ByteTensor",
    "bool": "BoolTensor",
}


class TensorType:
    """``td.FloatTensor`` and its kin: called, it makes a Tensor of its dtype on its device."""

    def __init__(self, name, dtype, device):
        self.__name__ = name
        self.dtype = np.dtype(dtype)
        self.device = device

    def __call__(self, *args):
        """``FloatTensor(2, 3)``: that shape (zeros in tinydl); ``FloatTensor(data)``: a copy of data
        (list, array or Tensor) converted to this dtype; ``FloatTensor()``: an empty tensor."""
        if all(isinstance(a, int) and not isinstance(a, bool) for a in args):
            array = _legacy_shape(args or (0,)).astype(self.dtype)  # FloatTensor(): shape (0,)
        elif len(args) == 1:
            array = self._data(args[0])
        else:
            raise TypeError(f"{self.type_name}: takes sizes (ints) or one sequence of data, got {args!r}")
        return Tensor(backend.to_device(array, self.device))  # array is a fresh copy already

    def _data(self, data):
        if isinstance(data, Tensor):
            if data.dtype != self.dtype:  # as PyTorch: the legacy constructor does not convert a Tensor
                raise TypeError(f"{self.type_name}: expected a tensor of dtype {self.dtype}, got {data.dtype}")
            return backend.to_device(data.data, self.device).copy()
        if isinstance(data, (float, bool)):
            raise TypeError(f"{self.type_name}: data must be a sequence (got {type(data).__name__}); "
                            f"for a 0-d tensor write td.tensor({data!r}, dtype=td.{self.dtype.name})")
        return _to_array(data, self.dtype).copy()

    @property
    def type_name(self):
        return f"torch.cuda.{self.__name__}" if self.device == "cuda" else f"torch.{self.__name__}"

    def __instancecheck__(self, value):
        return isinstance(value, Tensor) and value.dtype == self.dtype and value.device == self.device

    def __repr__(self):
        return f"<class '{self.type_name}'>"


def tensor_type_name(dtype, device):
    """``'torch.FloatTensor'`` for float32 on the cpu, ``'torch.cuda.LongTensor'`` for int64 on the GPU."""
    name = NAMES[np.dtype(dtype).name]
    return f"torch.cuda.{name}" if device == "cuda" else f"torch.{name}"


def type_target(target):
    """(device or None, dtype) that ``t.type(target)`` converts to: a ``TensorType``, a type name
    such as ``'torch.cuda.FloatTensor'`` (device and dtype), or a dtype (the device is kept)."""
    if isinstance(target, TensorType):
        return target.device, target.dtype
    if isinstance(target, str) and target.startswith("torch."):
        for device, types in (("cpu", CPU_TYPES), ("cuda", CUDA_TYPES)):
            for kind in types.values():
                if target == kind.type_name:
                    return device, kind.dtype
        raise ValueError(f"type: invalid type {target!r}; expected a name such as 'torch.FloatTensor' or a dtype")
    try:
        return None, as_dtype(target)
    except TypeError:
        raise ValueError(f"type: invalid type {target!r}; expected a dtype, td.FloatTensor or a name such as "
                         "'torch.FloatTensor'") from None


CPU_TYPES = {name: TensorType(name, dtype, "cpu") for dtype, name in NAMES.items()}
CUDA_TYPES = {name: TensorType(name, dtype, "cuda") for dtype, name in NAMES.items()}

FloatTensor, DoubleTensor, HalfTensor = CPU_TYPES["FloatTensor"], CPU_TYPES["DoubleTensor"], CPU_TYPES["HalfTensor"]
LongTensor, IntTensor, ShortTensor = CPU_TYPES["LongTensor"], CPU_TYPES["IntTensor"], CPU_TYPES["ShortTensor"]
CharTensor, ByteTensor, BoolTensor = CPU_TYPES["CharTensor"], CPU_TYPES["ByteTensor"], CPU_TYPES["BoolTensor"]
