"""Datasets, as in ``torch.utils.data``: a map-style dataset has ``__len__`` and
``__getitem__(i)`` returning one example; an ``IterableDataset`` has ``__iter__``.
"""
import bisect
import math
import warnings

import numpy as np

from ... import backend
from ...generator import numpy_generator
from ...tensor import Tensor


class Dataset:
    """Base class: subclass it and implement ``__len__`` and ``__getitem__(i)``."""

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream of examples: subclass it and implement ``__iter__``.

    With ``num_workers > 0`` every worker iterates its own copy of the dataset, so
    split the stream with ``get_worker_info()`` inside ``__iter__`` (as in PyTorch),
    or each example comes once per worker."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __len__(self):
        raise TypeError(f"{type(self).__name__} is an IterableDataset without __len__")

    def __getitem__(self, index):
        raise TypeError(f"{type(self).__name__} is an IterableDataset: iterate it, it has no __getitem__")

    def __add__(self, other):
        raise TypeError("IterableDataset: ConcatDataset does not support IterableDataset")


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
    and batched by ``DataLoader``, on the GPU. ``dataset[i]`` is a tuple of array rows;
    ``dataset.tensors`` the whole arrays as Tensors (PyTorch's attribute)."""

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        self.arrays = [as_array(a) for a in arrays]
        lengths = {len(a) for a in self.arrays}
        if len(lengths) != 1:
            shapes = ", ".join(str(a.shape) for a in self.arrays)
            raise ValueError(f"TensorDataset: arrays must have the same length, got shapes {shapes}")

    @property
    def tensors(self):
        return tuple(Tensor(a) for a in self.arrays)

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)


class Subset(Dataset):
    """The examples of ``dataset`` at ``indices``, in that order: ``Subset(dataset, [0, 2, 4])``."""

    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, indices

    def __getitem__(self, index):
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __len__(self):
        return len(self.indices)


class ConcatDataset(Dataset):
    """Several map-style datasets one after the other: ``ConcatDataset([a, b])`` (or ``a + b``)."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        if index < 0:
            if -index > len(self):
                raise ValueError(f"ConcatDataset: absolute value of index {index} should not exceed "
                                 f"the dataset length {len(self)}")
            index += len(self)
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which > 0 else 0
        return self.datasets[which][index - start]


def _lengths_from_fractions(fractions, n):
    """PyTorch's rule: floor(n * f) each, then the remainder one by one, round-robin from the first."""
    lengths = [int(math.floor(n * f)) for f in fractions]
    for i in range((n - sum(lengths))):
        lengths[i % len(lengths)] += 1
    for i, length in enumerate(lengths):
        if length == 0:
            warnings.warn(f"Length of split at index {i} is 0. This might result in an empty dataset.")
    return lengths


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping random ``Subset``s of the given lengths.

    ``lengths`` are counts summing to ``len(dataset)``, or fractions summing to 1
    (``[0.8, 0.2]``: floor(n * f) each, the rest handed out one by one from the first split,
    as PyTorch). The permutation comes from ``generator`` (a ``td.Generator``), else from
    tinydl's generator (``td.manual_seed``)."""
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        if any(not 0 <= f <= 1 for f in lengths):
            raise ValueError(f"random_split: fractions must be in [0, 1], got lengths={list(lengths)}")
        lengths = _lengths_from_fractions(lengths, n)
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths {list(lengths)} = {sum(lengths)} does not equal "
                         f"the length of the input dataset ({n})")
    order = numpy_generator(generator).permutation(n).tolist()
    offsets = np.cumsum(lengths).tolist()
    return [Subset(dataset, order[end - length:end]) for length, end in zip(lengths, offsets)]
