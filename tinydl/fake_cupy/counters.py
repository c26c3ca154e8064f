"""Counting the moments a GPU program waits for the device or feeds it from the host.

A GPU runs asynchronously: the host queues kernels and goes on. Two things break
that flow, and they are what makes GPU code slow in practice:

- a **sync** (device -> host): the host needs a value that lives on the device
  (``float(loss)``, ``bool(mask.any())``, ``x.get()``, printing, boolean-mask
  indexing whose output size depends on the data), so it waits for every queued
  kernel to finish and copies the value back;
- a **copy** (host -> device): data made on the host (a NumPy array, a list, a
  Python number turned into an array) is sent to the device before use.

The stand-in counts both, keyed by the source line that asked for them (the first
frame outside this package, ``tinydl/backend.py`` and ``tinydl/device_checks.py``,
which only carry out a move someone else asked for), so a test can say "one training step needs one
sync, the loss readout" and point at the line that needs more.
"""
import collections
import contextlib
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_TINYDL = os.path.dirname(_HERE)
_MOVERS = (os.path.join(_TINYDL, "backend.py"), os.path.join(_TINYDL, "device_checks.py"))


class Transfers:
    """The syncs and copies seen while a ``counting()`` block ran, per source line."""

    def __init__(self):
        self.syncs = collections.Counter()   # "tinydl/functional/pool.py:202" -> count
        self.copies = collections.Counter()

    @property
    def total_syncs(self):
        return sum(self.syncs.values())

    @property
    def total_copies(self):
        return sum(self.copies.values())

    def report(self):
        """A readable list, most frequent first, for an assertion message."""
        lines = [f"{self.total_syncs} device->host syncs:"]
        lines += [f"  {n:4d}  {where}" for where, n in self.syncs.most_common()]
        lines += [f"{self.total_copies} host->device copies:"]
        lines += [f"  {n:4d}  {where}" for where, n in self.copies.most_common()]
        return "\n".join(lines)


_active = []  # the Transfers of every open counting() block


@contextlib.contextmanager
def counting():
    """``with counting() as seen:`` records every sync and copy made inside the block."""
    seen = Transfers()
    _active.append(seen)
    try:
        yield seen
    finally:
        _active.remove(seen)


def _caller():
    """Where the transfer was asked for: ``path:line`` of the first frame outside the stand-in and
    backend.py and, when that is inside tinydl, `` <- path:line`` of the first frame outside tinydl
    (the user's line that called the op), e.g. ``tinydl/tensor.py:184 <- examples/quickstart.py:77``."""
    frame = sys._getframe(2)
    while frame is not None and _passes_on(os.path.abspath(frame.f_code.co_filename)):
        frame = frame.f_back
    if frame is None:
        return "?"
    where = _location(frame)
    if not _in_tinydl(frame):
        return where  # the user's own line asked directly
    while frame is not None and _in_tinydl(frame):
        frame = frame.f_back
    if frame is None or frame.f_code.co_filename.startswith("<"):
        return where  # no user line to name (an interactive prompt, an exec'd string)
    return f"{where} <- {_location(frame)}"


def _in_tinydl(frame):
    return os.path.abspath(frame.f_code.co_filename).startswith(_TINYDL + os.sep)


def _location(frame):
    path = os.path.abspath(frame.f_code.co_filename)
    root = os.path.dirname(_TINYDL)
    if path.startswith(root + os.sep):
        path = os.path.relpath(path, root)
    return f"{path}:{frame.f_lineno}"


def _passes_on(path):
    return os.path.dirname(path) == _HERE or path in _MOVERS


def sync():
    """Record a device -> host sync at the caller's line."""
    if _active:
        where = _caller()
        for seen in _active:
            seen.syncs[where] += 1


def copy():
    """Record a host -> device copy at the caller's line."""
    if _active:
        where = _caller()
        for seen in _active:
            seen.copies[where] += 1
