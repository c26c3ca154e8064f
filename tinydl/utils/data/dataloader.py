"""``DataLoader``: minibatches from a Dataset, with PyTorch's arguments and rules.

Which examples go in which batch is decided by a sampler (``shuffle=True``: a
``RandomSampler``, else a ``SequentialSampler``, or the ``sampler`` /
``batch_sampler`` given), batched by a ``BatchSampler`` and collated by
``collate_fn`` (``default_collate``: stacked into Tensors). Each epoch (each
``iter(loader)``) draws a new order, from ``generator`` if one is given, else from
tinydl's generator, so ``td.manual_seed`` makes it reproducible (the same order
whatever device the data is on).

tinydl adds ``device=``: where to put the batches (None: where the data is, so a
TensorDataset of CuPy arrays batches on the GPU).
"""
import weakref

import numpy as np

from ... import backend
from ...generator import numpy_generator
from ...tensor import Tensor
from . import worker
from .collate import default_collate, default_convert, move_to
from .dataset import IterableDataset, TensorDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler


class _Fetcher:
    """Turns indices (or a stream, for an IterableDataset) into one collated batch; runs in the
    main process or in a worker."""

    def __init__(self, dataset, collate_fn, batch_size, drop_last, auto_collation):
        self.dataset, self.collate_fn, self.batch_size, self.drop_last = dataset, collate_fn, batch_size, drop_last
        self.auto_collation = auto_collation

    def __call__(self, indices):
        if not self.auto_collation:  # batch_size=None: one example at a time
            return self.collate_fn(self.dataset[indices])
        return self.collate_fn([self.dataset[i] for i in indices])

    def stream(self):
        return iter(self.dataset)

    def next_from(self, stream):
        """The next batch of an IterableDataset's stream, or ``worker.Exhausted()`` at its end."""
        if not self.auto_collation:
            item = next(stream, worker.Exhausted)
            return worker.Exhausted() if item is worker.Exhausted else self.collate_fn(item)
        batch = []
        for item in stream:
            batch.append(item)
            if len(batch) == self.batch_size:
                break
        if not batch or (len(batch) < self.batch_size and self.drop_last):
            return worker.Exhausted()
        return self.collate_fn(batch)


class DataLoader:
    """Minibatches of a Dataset: ``DataLoader(dataset, batch_size=64, shuffle=True)``.

    Arguments as PyTorch's ``torch.utils.data.DataLoader`` (see the module docstring for
    the order of examples). ``num_workers > 0`` loads batches in that many worker processes
    (``tinydl/utils/data/worker.py``: seeding, order, ``worker_init_fn``), in the same order
    as ``num_workers=0``. ``pin_memory`` (and ``pin_memory_device``) are accepted and do nothing:
    pinning page-locks host memory to speed up copies to a GPU, it never changes a batch.
    ``in_order=False`` lets PyTorch return batches out of order; tinydl keeps them in order,
    which that allows. ``device`` (tinydl's): where batches go (None: where the data is)."""

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device="", in_order=True, device=None):
        prefetch_factor = _check_workers(num_workers, timeout, prefetch_factor, persistent_workers)
        if num_workers > 0:
            _check_dataset_for_workers(dataset)
        iterable = isinstance(dataset, IterableDataset)
        if iterable:
            _check_iterable_options(shuffle, sampler, batch_sampler)
        shuffle = bool(shuffle)
        batch_size, drop_last = _check_batching(batch_size, shuffle, sampler, batch_sampler, drop_last)
        if sampler is None and not iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.dataset, self.batch_size, self.drop_last = dataset, batch_size, drop_last
        self.sampler, self.batch_sampler, self.generator = sampler, batch_sampler, generator
        self.num_workers, self.prefetch_factor = num_workers, prefetch_factor
        self.persistent_workers, self.timeout, self.worker_init_fn = persistent_workers, timeout, worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.pin_memory, self.pin_memory_device, self.in_order = pin_memory, pin_memory_device, in_order
        self.device = device
        auto_collation = batch_sampler is not None or (iterable and batch_size is not None)
        self.collate_fn = collate_fn or (default_collate if auto_collation else default_convert)
        self._fetch = _Fetcher(dataset, self.collate_fn, batch_size, drop_last, auto_collation)
        self._pool, self._epoch = None, 0

    @property
    def _index_sampler(self):
        return self.batch_sampler if self.batch_sampler is not None else self.sampler

    def __len__(self):
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)  # a TypeError if the stream has no length, as in PyTorch
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self._index_sampler)

    def __iter__(self):
        if self.num_workers > 0:
            batches = self._iter_workers()
        elif isinstance(self.dataset, IterableDataset):
            batches = self._iter_stream()
        elif self._fast_path():
            batches = self._iter_tensor_dataset()
        else:
            batches = (self._fetch(indices) for indices in self._index_sampler)
        try:
            for batch in batches:
                yield batch if self.device is None else move_to(batch, self.device)
        finally:
            batches.close()  # a loop left early stops its worker processes now

    def _iter_stream(self):
        stream = self._fetch.stream()
        while not isinstance(batch := self._fetch.next_from(stream), worker.Exhausted):
            yield batch

    def _fast_path(self):
        """A TensorDataset batched by the default collate through a plain BatchSampler: one fancy index per
        array and batch (what collating its rows would give, without a Python loop over examples)."""
        return (isinstance(self.dataset, TensorDataset) and self.collate_fn is default_collate
                and type(self.batch_sampler) is BatchSampler)

    def _iter_tensor_dataset(self):
        arrays, batches = self.dataset.arrays, self.batch_sampler
        order = np.fromiter(batches.sampler, dtype=np.int64)
        # the order goes to each array's device once per epoch, not as a copy per batch
        orders = [backend.to_device(order, backend.device_of(a)) for a in arrays]
        stop = len(order) - len(order) % batches.batch_size if batches.drop_last else len(order)
        for start in range(0, stop, batches.batch_size):
            yield [Tensor(a[o[start:start + batches.batch_size]]) for a, o in zip(arrays, orders)]

    def _iter_workers(self):
        """Batches from worker processes (a fresh set each epoch unless ``persistent_workers``)."""
        self._epoch += 1
        batches = None  # an IterableDataset: each worker streams its own copy
        if not isinstance(self.dataset, IterableDataset):
            batches = iter(self._index_sampler)
            if hasattr(self._index_sampler, "__len__"):
                # a finite order is drawn before the workers' seed, so it is the order num_workers=0 gives
                batches = iter(list(batches))
        pool = self._pool
        if pool is None:
            base_seed = int(numpy_generator(self.generator).integers(0, 2 ** 62))
            pool = worker.WorkerPool(self, self._fetch, base_seed)
            if self.persistent_workers:  # kept for the next epochs; stopped when the loader is collected
                self._pool = pool
                weakref.finalize(self, pool.shutdown)
        try:
            yield from worker.run_epoch(pool, self._epoch, batches, self.num_workers, self.prefetch_factor)
        finally:
            if not self.persistent_workers:
                pool.shutdown()


def _check_batching(batch_size, shuffle, sampler, batch_sampler, drop_last):
    """PyTorch's rules for the batching options; returns (batch_size, drop_last), both off with a batch_sampler."""
    if sampler is not None and shuffle:
        raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
    if batch_sampler is not None:
        if batch_size != 1 or shuffle or sampler is not None or drop_last:
            raise ValueError("DataLoader: batch_sampler option is mutually exclusive with batch_size, shuffle, "
                             "sampler, and drop_last")
        return None, False
    if batch_size is None:
        if drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
    elif isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"DataLoader: batch_size should be a positive integer value or None, "
                         f"but got batch_size={batch_size!r}")
    return batch_size, drop_last


def _check_dataset_for_workers(dataset):
    """Workers are forked processes: data already on the GPU cannot be used there."""
    if isinstance(dataset, TensorDataset) and any(backend.device_of(a) == "cuda" for a in dataset.arrays):
        raise ValueError("DataLoader: num_workers > 0 with a TensorDataset on the GPU: worker processes are "
                         "forked, and CUDA does not survive a fork. Keep the data on the host and pass "
                         "device='cuda' (batches move in the main process), or use num_workers=0")


def _check_workers(num_workers, timeout, prefetch_factor, persistent_workers):
    """PyTorch's checks of the multiprocessing options; returns the prefetch factor to use."""
    if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)) or num_workers < 0:
        raise ValueError(f"DataLoader: num_workers option should be a non-negative integer; use num_workers=0 "
                         f"to disable multiprocessing, got num_workers={num_workers!r}")
    if timeout < 0:
        raise ValueError(f"DataLoader: timeout option should be non-negative, got timeout={timeout!r}")
    if num_workers == 0 and prefetch_factor is not None:
        raise ValueError("DataLoader: prefetch_factor option could only be specified in multiprocessing. "
                         "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None.")
    if prefetch_factor is not None and prefetch_factor < 1:
        raise ValueError(f"DataLoader: prefetch_factor option should be a positive integer, "
                         f"got prefetch_factor={prefetch_factor!r}")
    if persistent_workers and num_workers == 0:
        raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
    return 2 if num_workers > 0 and prefetch_factor is None else prefetch_factor


def _check_iterable_options(shuffle, sampler, batch_sampler):
    """An IterableDataset sets its own order: shuffle, sampler and batch_sampler must stay unspecified."""
    if shuffle not in (False, None):
        raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, "
                         f"but got shuffle={shuffle}")
    if sampler is not None:
        raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler option, "
                         f"but got sampler={sampler}")
    if batch_sampler is not None:
        raise ValueError(f"DataLoader with IterableDataset: expected unspecified batch_sampler option, "
                         f"but got batch_sampler={batch_sampler}")
