"""Worker processes for ``DataLoader(num_workers=N)``, as PyTorch runs them.

Each worker is a process with its own copy of the dataset. The main process
hands out batches of indices round-robin (worker 0 gets batch 0, worker 1
batch 1, ...), keeps ``prefetch_factor`` batches per worker in flight, and
yields the results in the sampler's order whatever order they arrive in.

Seeding, as PyTorch: each epoch (each ``iter(loader)``, or once with
``persistent_workers=True``) draws a ``base_seed`` from the loader's generator,
and worker i seeds tinydl (``td.manual_seed``), ``random`` and NumPy's global
generator from ``base_seed + i`` before calling ``worker_init_fn(i)``, so random
augmentation differs between workers and is reproducible under ``td.manual_seed``.
``get_worker_info()`` tells code inside a worker which one it is.
"""
import multiprocessing
import pickle
import queue
import random
import time
import traceback

import numpy as np

from ... import rng

STATUS_CHECK_INTERVAL = 1.0  # seconds between checks that every worker is still alive


class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: ``id``, ``num_workers``, ``seed``, ``dataset``."""

    def __init__(self, id, num_workers, seed, dataset):
        self.id, self.num_workers, self.seed, self.dataset = id, num_workers, seed, dataset

    def __repr__(self):
        return f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed})"


_worker_info = None


def get_worker_info():
    """A ``WorkerInfo`` inside a DataLoader worker process; None in the main process."""
    return _worker_info


class Exhausted:
    """A worker's answer when its copy of an IterableDataset has no more examples this epoch."""


class Failure:
    """An exception raised in a worker, carried to the main process with its traceback."""

    def __init__(self, worker_id, error):
        self.worker_id, self.error_type = worker_id, _picklable_type(error)
        self.message = f"Caught {type(error).__name__} in DataLoader worker process {worker_id}.\n" \
                       f"Original {traceback.format_exc()}"

    def reraise(self):
        try:
            error = self.error_type(self.message)
        except Exception:  # an exception type whose constructor wants other arguments
            error = RuntimeError(self.message)
        raise error


def _picklable_type(error):
    """The error's type if the main process can rebuild it (a class defined at module level), else RuntimeError."""
    try:
        pickle.dumps(type(error))
        return type(error)
    except Exception:
        return RuntimeError


def _pickled(worker_id, batch):
    """The batch as bytes for the result queue, pickled here so a batch that cannot be pickled
    becomes an error in the main process instead of a batch that never arrives."""
    try:
        return pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as error:
        return pickle.dumps(Failure(worker_id, error))


def seed_worker(seed, worker_id):
    """Seed every random source a worker may use. tinydl's CPU generator is set directly:
    a CUDA generator is seeded lazily on first use, never initialized in a forked process."""
    random.seed(seed)
    rng._generators["cpu"] = np.random.default_rng(seed)
    rng._generators.pop("cuda", None)
    rng._seed_state["seed"] = seed
    np.random.seed(np.random.SeedSequence([worker_id, seed]).generate_state(4))


def worker_loop(worker_id, num_workers, seed, dataset, fetch, worker_init_fn, tasks, results):
    """Body of a worker process: answer each task ``(epoch, index, payload)`` with ``(epoch, index, batch)``
    until it gets None."""
    global _worker_info
    seed_worker(seed, worker_id)
    _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
    init_error = None
    if worker_init_fn is not None:
        try:
            worker_init_fn(worker_id)
        except Exception as error:
            init_error = Failure(worker_id, error)
    epoch, stream = None, None
    while True:
        task = tasks.get()
        if task is None:
            return
        task_epoch, index, payload = task
        if init_error is not None:
            results.put((task_epoch, index, pickle.dumps(init_error)))
            continue
        if task_epoch != epoch:  # a new epoch: a fresh iterator over an IterableDataset
            epoch, stream = task_epoch, None
        try:
            if payload is None:
                stream = stream if stream is not None else fetch.stream()
                batch = fetch.next_from(stream)
            else:
                batch = fetch(payload)
        except Exception as error:
            batch = Failure(worker_id, error)
        results.put((task_epoch, index, _pickled(worker_id, batch)))


class WorkerPool:
    """``num_workers`` processes, their task queues, and one queue of results."""

    def __init__(self, loader, fetch, base_seed):
        context = loader.multiprocessing_context
        if context is None or isinstance(context, str):
            context = multiprocessing.get_context(context)
        self.results = context.Queue()
        self.tasks, self.processes = [], []
        n = loader.num_workers
        for worker_id in range(n):
            tasks = context.Queue()
            process = context.Process(
                target=worker_loop, daemon=True,
                args=(worker_id, n, base_seed + worker_id, loader.dataset, fetch, loader.worker_init_fn,
                      tasks, self.results))
            process.start()
            self.tasks.append(tasks)
            self.processes.append(process)
        self.timeout = loader.timeout

    def get(self, epoch):
        """The next result of ``epoch`` (results of an abandoned earlier epoch are dropped)."""
        start = time.monotonic()
        while True:
            try:
                result = self.results.get(timeout=min(STATUS_CHECK_INTERVAL, self.timeout or STATUS_CHECK_INTERVAL))
            except queue.Empty:
                self._check_alive()
                if self.timeout and time.monotonic() - start > self.timeout:
                    raise RuntimeError(f"DataLoader timed out after {self.timeout} seconds") from None
                continue
            if result[0] == epoch:
                return result[1], pickle.loads(result[2])

    def _check_alive(self):
        for worker_id, process in enumerate(self.processes):
            if not process.is_alive():
                raise RuntimeError(f"DataLoader worker {worker_id} (pid {process.pid}) exited unexpectedly "
                                   f"with exit code {process.exitcode}")

    def shutdown(self):
        if not self.processes:  # already shut down
            return
        for tasks, process in zip(self.tasks, self.processes):
            if process.is_alive():
                tasks.put(None)
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join()
        for q in self.tasks + [self.results]:
            q.cancel_join_thread()
            q.close()
        self.processes = []


def run_epoch(pool, epoch, batches, num_workers, prefetch_factor):
    """Yield one epoch's batches through ``pool`` in order.

    ``batches``: an iterator of index lists (map-style), or None for an IterableDataset
    (each task then asks a worker for the next batch of its own stream, until every worker
    has answered Exhausted)."""
    active = [True] * num_workers
    owner, ready = {}, {}
    sent = received = 0
    next_worker = 0

    def send():
        nonlocal sent, next_worker
        if not any(active):
            return False
        payload = None
        if batches is not None:
            payload = next(batches, None)
            if payload is None:
                return False
        while not active[next_worker]:
            next_worker = (next_worker + 1) % num_workers
        pool.tasks[next_worker].put((epoch, sent, payload))
        owner[sent] = next_worker
        next_worker = (next_worker + 1) % num_workers
        sent += 1
        return True

    for _ in range(prefetch_factor * num_workers):
        send()
    while received < sent or send():
        while received not in ready:
            index, batch = pool.get(epoch)
            ready[index] = batch
        batch, worker = ready.pop(received), owner.pop(received)
        received += 1
        if isinstance(batch, Exhausted):
            active[worker] = False
            continue
        if isinstance(batch, Failure):
            batch.reraise()
        send()
        yield batch
