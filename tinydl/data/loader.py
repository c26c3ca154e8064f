"""``DataLoader``: minibatches from a Dataset, shuffled reproducibly.

Each epoch (each ``iter(loader)``) draws a new permutation when
``shuffle=True``: from ``generator`` if one is given (a NumPy Generator),
else from tinydl's own seeded generator, so ``td.manual_seed`` makes the
batch order reproducible (the same order whatever device the data is on).
Examples are stacked into arrays along a new first axis, by the array module
of the examples (NumPy, or CuPy for data on the GPU), and returned as Tensors:
on ``device`` if one is given, else where the data is.
"""
import numpy as np

from .. import backend, rng
from ..tensor import Tensor
from .dataset import TensorDataset, as_array


def _batch(array, device):
    """A batched array as a Tensor on ``device`` (None: where the array already is)."""
    return Tensor(array if device is None else backend.to_device(array, device))


def default_collate(examples, device=None):
    """A list of examples (tuples of arrays, Tensors or numbers) -> a tuple of batched Tensors.

    Each field is stacked on the device its items live on (CuPy arrays and cuda Tensors
    on the GPU, numbers and NumPy arrays on the host), then moved to ``device`` if given."""
    first = examples[0]
    if isinstance(first, (tuple, list)):
        return tuple(default_collate([e[i] for e in examples], device) for i in range(len(first)))
    arrays = [as_array(e) for e in examples]
    xp = backend.get_array_module(arrays[0])
    return _batch(xp.stack(arrays), device)


class DataLoader:
    """Minibatches of a Dataset as Tensors: ``batch_size``, ``shuffle`` (reproducible with
    ``td.manual_seed`` or ``generator``), ``drop_last``, ``collate_fn``, ``device`` (None: each
    batch stays on the device of the data, so a TensorDataset of CuPy arrays batches on the GPU)."""

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, generator=None,
                 collate_fn=None, device=None):
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be positive, got {batch_size}")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, batch_size, shuffle, drop_last
        self.generator, self.collate_fn, self.device = generator, collate_fn or default_collate, device

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self):
        """This epoch's order of the examples, a host NumPy array (drawn on the host on every device)."""
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        if self.generator is not None:
            return self.generator.permutation(n)
        return rng.permutation(n)

    def __iter__(self):
        order = self._order()
        stop = len(self) * self.batch_size if self.drop_last else len(order)
        if isinstance(self.dataset, TensorDataset):  # fast path: one fancy index per array
            arrays = self.dataset.arrays
            # the order goes to each array's device once per epoch, not as a copy per batch
            orders = [backend.to_device(order, backend.device_of(a)) for a in arrays]
            for start in range(0, stop, self.batch_size):
                yield tuple(_batch(a[o[start : start + self.batch_size]], self.device) for a, o in zip(arrays, orders))
        else:
            for start in range(0, stop, self.batch_size):
                batch = order[start : start + self.batch_size]
                yield self.collate_fn([self.dataset[int(i)] for i in batch], self.device)
