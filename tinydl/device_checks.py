"""Checks of values that live on the GPU, raised the way CUDA raises its device-side asserts.

Checking that every index of an index array is in range is free on the CPU: the values
are right there. On a GPU, ``if (idx >= n).any(): raise ...`` makes the host wait for the
GPU and read the answer back (a sync), for every indexing op of every step. CUDA's own
kernels (and PyTorch's) do not do that: a kernel that meets a bad index records a
"device-side assert", and the error surfaces at the host's next sync.

tinydl does the same with ``check(bad, error)``, where ``bad`` is a 0-d boolean array:

- on the CPU it reads ``bad`` at once and raises ``error()`` if it is true;
- on a GPU it queues ``bad`` and returns. The queued flags travel back with the next value
  the host reads from the device (``backend.to_numpy``: ``Tensor.item()``, ``.numpy()``,
  ``print``; and ``td.cuda.synchronize()``), in the same transfer, so checking costs no
  sync of its own. The first true flag's ``error()`` is raised there.

Between the bad op and that read the GPU went on with the wrapped-around index, so the
values (and gradients, and a parameter update) computed in between are wrong; but none of
them reaches the host without the error being raised first. Never silently wrong.
"""
import numpy as np

from . import backend

_pending = []  # (0-d device bool, error factory) of checks queued on the device
MAX_PENDING = 1024  # a loop that never reads anything back pays one sync per this many checks


def check(bad, error):
    """Raise ``error()`` if the 0-d boolean ``bad`` is true: now on the CPU, at the next read on a GPU."""
    if backend.get_array_module(bad) is np:
        if bad:
            raise error()
    else:
        _pending.append((bad, error))
        if len(_pending) >= MAX_PENDING:
            raise_pending()


def read(array):
    """A device array's values on the host, with every queued check read in the same transfer."""
    if not _pending:
        return backend.cp.asnumpy(array)
    queued = list(_pending)
    _pending.clear()
    xp = backend.cp
    flags = xp.stack([bad for bad, _ in queued]).astype(array.dtype)  # (k,)
    host = xp.concatenate([flags, array.reshape(-1)]).get()  # one transfer: k flags, then the values
    _raise_first(queued, host[: len(queued)])
    return host[len(queued):].reshape(array.shape)


def raise_pending():
    """Read the queued checks alone (for ``td.cuda.synchronize()``, which waits for the GPU anyway)."""
    if _pending:
        queued = list(_pending)
        _pending.clear()
        _raise_first(queued, backend.cp.stack([bad for bad, _ in queued]).get())


def _raise_first(queued, flags):
    for (_, error), flag in zip(queued, flags):
        if flag:
            raise error()
