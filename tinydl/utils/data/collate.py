"""``default_collate``: a list of examples -> one batch, with PyTorch's rules.

Arrays, Tensors and numbers are stacked along a new first axis into a Tensor
(Python floats give float64, ints int64, bools bool, as in PyTorch); tuples and
lists of fields give a list of batched fields, dicts a dict, named tuples the
same named tuple; strings stay a list. Each field is stacked by the array module
of its items (NumPy, or CuPy for data on the GPU), so it is batched where it lives.
"""
import collections.abc
import numbers

import numpy as np

from ... import backend
from ...tensor import Tensor
from .dataset import as_array

_ERROR = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"


def _is_array(x):
    return isinstance(x, (Tensor, np.ndarray, np.generic)) or backend.device_of(x) == "cuda"


def _stack(items):
    """Items of one field (arrays, Tensors or numbers) stacked into a Tensor on their device."""
    arrays = [as_array(x) for x in items]
    if arrays[0].dtype.kind in "OUSV":
        raise TypeError(_ERROR.format(arrays[0].dtype))
    other = next((i for i, a in enumerate(arrays) if a.shape != arrays[0].shape), None)
    if other is not None:
        raise RuntimeError(f"default_collate: stack expects each item to be equal size, but got "
                           f"{arrays[0].shape} at entry 0 and {arrays[other].shape} at entry {other}")
    return Tensor(backend.get_array_module(arrays[0]).stack(arrays))


def move_to(batch, device):
    """Every Tensor in a (nested) batch moved to ``device``; anything else as it is."""
    if isinstance(batch, Tensor):
        return batch.to(device)
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(move_to(b, device) for b in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: move_to(v, device) for k, v in batch.items()}
    return batch


def default_collate(batch, device=None):
    """A list of examples -> a batch (see the module docstring); ``device``: where to put the Tensors (None: where
    the data is)."""
    out = _collate(list(batch))
    return out if device is None else move_to(out, device)


def _collate(batch):
    elem = batch[0]
    if _is_array(elem) or isinstance(elem, numbers.Number):
        return _stack(batch)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return {key: _collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a namedtuple keeps its type
        return type(elem)(*(_collate(list(field)) for field in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(e) != len(elem) for e in batch):
            raise RuntimeError("default_collate: each element in list of batch should be of equal size, got "
                               f"sizes {[len(e) for e in batch]}")
        return [_collate(list(field)) for field in zip(*batch)]
    raise TypeError(_ERROR.format(type(elem)))


def default_convert(data):
    """One example as the DataLoader gives it when ``batch_size=None``: arrays become Tensors,
    containers are converted inside, numbers and strings stay as they are (as PyTorch)."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, (np.ndarray, np.generic)) or backend.device_of(data) == "cuda":
        return data if data.dtype.kind in "OUSV" else Tensor(as_array(data))
    if isinstance(data, collections.abc.Mapping):
        return {key: default_convert(value) for key, value in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return [default_convert(d) for d in data]
    return data
