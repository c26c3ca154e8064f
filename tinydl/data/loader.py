"""``DataLoader``: minibatches from a Dataset, shuffled reproducibly.

Each epoch (each ``iter(loader)``) draws a new permutation when
``shuffle=True``: from ``generator`` if one is given (a NumPy Generator),
else from tinydl's own seeded generator, so ``td.manual_seed`` makes the
batch order reproducible.  Examples are stacked into arrays along a new first
axis and returned as Tensors (on ``device``).
"""
import numpy as np

from .. import rng
from ..creation import tensor
from ..tensor import Tensor
from .dataset import TensorDataset


def default_collate(examples, device="cpu"):
    """A list of examples (tuples of arrays or numbers) -> a tuple of batched Tensors."""
    first = examples[0]
    if isinstance(first, (tuple, list)):
        return tuple(default_collate([e[i] for e in examples], device) for i in range(len(first)))
    if isinstance(first, Tensor):
        examples = [e.detach().numpy() for e in examples]
    return tensor(np.stack([np.asarray(e) for e in examples]), device=device)


class DataLoader:
    """Minibatches of a Dataset as Tensors: ``batch_size``, ``shuffle`` (reproducible with
    ``td.manual_seed`` or ``generator``), ``drop_last``, ``collate_fn``, ``device``."""

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, generator=None,
                 collate_fn=None, device="cpu"):
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be positive, got {batch_size}")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, batch_size, shuffle, drop_last
        self.generator, self.collate_fn, self.device = generator, collate_fn or default_collate, device

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self):
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        if self.generator is not None:
            return self.generator.permutation(n)
        return rng.permutation(n)

    def __iter__(self):
        order = self._order()
        stop = len(self) * self.batch_size if self.drop_last else len(order)
        for start in range(0, stop, self.batch_size):
            batch = order[start : start + self.batch_size]
            if isinstance(self.dataset, TensorDataset):  # fast path: one fancy index per array
                yield tuple(tensor(a[batch], device=self.device) for a in self.dataset.arrays)
            else:
                yield self.collate_fn([self.dataset[int(i)] for i in batch], self.device)
