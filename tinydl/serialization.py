"""``td.save`` / ``td.load``: checkpoints as plain .npz files, written atomically, never pickled.

A checkpoint is a nest of dicts, lists and tuples whose leaves are arrays,
Tensors, numbers, strings, booleans or None.  ``save`` stores every array as
its own .npz entry (``a0``, ``a1``, ...) and the nesting as JSON text in the
entry ``__structure__``; nothing in the file needs pickle to read, and
``load`` opens it with ``allow_pickle=False``, so a file that would run code
when loaded is refused.

The file is first written to a temporary file in the same folder, flushed to
disk, then renamed over ``path``; a rename is atomic, so a crash mid-save
leaves the old checkpoint (or none), never half a new one.
"""
import json
import os
import tempfile
import zipfile

import numpy as np

from . import backend
from .tensor import Tensor

_STRUCTURE = "__structure__"


def _encode(obj, arrays):
    """The JSON description of ``obj``; arrays are appended to ``arrays`` and referenced by name."""
    if isinstance(obj, Tensor):
        arrays.append(backend.to_numpy(obj.data))
        return {"tensor": f"a{len(arrays) - 1}"}
    if isinstance(obj, np.ndarray) or (backend.cp is not None and isinstance(obj, backend.cp.ndarray)):
        array = backend.to_numpy(obj)
        if array.dtype == object:
            raise TypeError("save: object arrays would need pickle; store numbers, strings or numeric arrays")
        arrays.append(array)
        return {"array": f"a{len(arrays) - 1}"}
    if isinstance(obj, np.generic):
        return _encode(obj.item(), arrays)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise TypeError(f"save: dict keys must be str or int, got {type(key).__name__} ({key!r})")
            items.append([key, _encode(value, arrays)])
        return {"dict": items}
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {kind: [_encode(v, arrays) for v in obj]}
    raise TypeError(
        f"save: cannot store a {type(obj).__name__}; use dicts, lists, tuples, arrays, Tensors, numbers and strings"
    )


def _decode(node, entries):
    (kind, value), = node.items()
    if kind == "value":
        return value
    if kind == "array":
        return entries[value]
    if kind == "tensor":
        return Tensor(entries[value])
    if kind == "dict":
        return {key: _decode(v, entries) for key, v in value}
    if kind == "list":
        return [_decode(v, entries) for v in value]
    if kind == "tuple":
        return tuple(_decode(v, entries) for v in value)
    raise ValueError(f"load: unknown entry kind {kind!r} in the checkpoint's structure")


def save(obj, path):
    """Write ``obj`` to exactly ``path`` as an .npz checkpoint, atomically."""
    arrays = []
    structure = json.dumps(_encode(obj, arrays))
    entries = {f"a{i}": a for i, a in enumerate(arrays)}
    entries[_STRUCTURE] = np.frombuffer(structure.encode("utf-8"), dtype=np.uint8)
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(descriptor, "wb") as f:
            np.savez(f, **entries)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes a private 0600 file: give it the usual mode
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def load(path):
    """Read a checkpoint written by ``save``; arrays come back as NumPy arrays, Tensors as Tensors."""
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            if _STRUCTURE not in archive.files:
                raise ValueError(f"load: {path!r} is an .npz file but not a tinydl checkpoint (no {_STRUCTURE} entry)")
            entries = {name: archive[name] for name in archive.files}
    except ValueError as error:
        if "allow_pickle" in str(error) or "pickle" in str(error):
            raise ValueError(f"load: {path!r} holds pickled data; tinydl refuses to unpickle (it can run code)") from None
        raise
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(f"load: {path!r} is truncated or not an .npz checkpoint ({error})") from None
    structure = json.loads(bytes(entries.pop(_STRUCTURE)).decode("utf-8"))
    return _decode(structure, entries)
