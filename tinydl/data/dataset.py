"""Datasets: anything with ``__len__`` and ``__getitem__`` returning one example."""
import numpy as np

from .. import backend
from ..tensor import Tensor


class Dataset:
    """Base class: subclass it and implement ``__len__`` and ``__getitem__(i)``."""

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")


def as_array(data):
    """A Tensor's data, a NumPy or CuPy array as it is (on its device), anything else through np.asarray."""
    if isinstance(data, Tensor):
        return data.data
    if backend.device_of(data) == "cuda":
        return data
    return np.asarray(data)


class TensorDataset(Dataset):
    """Examples are the i-th rows of equally long arrays (or Tensors): ``TensorDataset(images, labels)``.

    The arrays stay on their device: a dataset of CuPy arrays (or cuda Tensors) is indexed,
    and batched by ``DataLoader``, on the GPU."""

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        self.arrays = [as_array(a) for a in arrays]
        lengths = {len(a) for a in self.arrays}
        if len(lengths) != 1:
            shapes = ", ".join(str(a.shape) for a in self.arrays)
            raise ValueError(f"TensorDataset: arrays must have the same length, got shapes {shapes}")

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)
