"""``td.save`` / ``td.load``: checkpoints as plain .npz files, written atomically, never pickled.

A checkpoint is a nest of dicts, lists and tuples whose leaves are arrays,
Tensors, numbers, strings, booleans or None.  ``save`` stores every array as
its own .npz entry (``a0``, ``a1``, ...) and the nesting as JSON text in the
entry ``__structure__``; the JSON declares each array's name, dtype and shape.
Nothing in the file needs pickle to read, so a file that would run code when
loaded is refused.

Loading a file from someone else is reading hostile input.  ``load`` trusts
nothing in it: it reads the zip directory and every .npy header itself and
checks them against the JSON declarations and against ``max_bytes`` before it
allocates anything, and any file that is not exactly what ``save`` writes
(malformed, forged, truncated, encrypted, oversized) raises one error,
``CheckpointError`` (a ``ValueError``), naming the file and what is wrong.

Saving: the file is written to ``.<name>.tmp`` next to the target, flushed to
disk, then renamed over it.  A rename is atomic, so a save killed at any moment
leaves the old checkpoint (or none), never half a new one, plus at most that one
temporary file, which the next save to the same path replaces.
"""
import ast
import contextlib
import errno
import io
import json
import math
import os
import stat
import warnings
import zipfile

import numpy as np
from numpy.lib import format as npy_format

from . import backend
from .tensor import Tensor

_STRUCTURE = "__structure__"
MAX_BYTES = 4 * 2**30  # td.load's default limit on a checkpoint's size once decompressed
# The JSON nesting may take max_bytes / 128 bytes (at least 64 KiB): parsed, JSON takes up to about
# 35 times its text in memory (a list of empty lists: 64 bytes of Python objects per 3 bytes of text).
STRUCTURE_SHARE = 128
MIN_STRUCTURE_BYTES = 2**16
MAX_NPY_HEADER_BYTES = 10_000  # the .npy header dict's length limit, as numpy.lib.format's (np.load's)
MAX_DEPTH = 100  # levels of dicts, lists and tuples; a model's state dict has three or four
_CHUNK = 2**20  # arrays are decompressed into place one MiB at a time, so nothing is held twice
_ENCRYPTED = 0x1 | 0x40  # zip flag bits: traditional and strong encryption


class CheckpointError(ValueError):
    """Raised by ``td.load`` for a file that is not a valid tinydl checkpoint: malformed, forged,
    truncated, or larger than the ``max_bytes`` limit."""


# ---------------------------------------------------------------- save


def save(obj, f):
    """Write ``obj`` to exactly the path ``f`` as an .npz checkpoint, atomically, or to the binary
    file object ``f`` (``io.BytesIO()``, ``open(path, "wb")``), as ``torch.save`` takes either.

    ``obj`` is a nest (at most ``MAX_DEPTH`` deep) of dicts with str or int keys, lists and
    tuples, whose leaves are NumPy arrays, Tensors, numbers, strings, booleans or None.

    - The file is written to ``.<name>.tmp`` beside the target and renamed over it: a save
      killed midway leaves the old checkpoint intact and at most that one temporary file,
      which the next save replaces.  On any error the temporary file is removed.
    - Replacing a file keeps its permission bits (a 0600 checkpoint stays 0600); a new file
      gets the usual ``0666 & ~umask``.  A read-only file (no write permission for you, or
      none for anyone, such as 0444) is refused with ``PermissionError``, as ``torch.save``'s
      ``open(path, "wb")`` refuses it (for root too here: root would overwrite it).
    - A symlink is written through, as ``open(path, "wb")`` would: the file it points to is
      replaced and the link stays.
    - Two processes saving to the same path at the same time is not supported (nor is it
      with ``torch.save``).
    - A file object is written from its current position and flushed, not closed; the
      atomic replace above is then the caller's business (a file opened with "wb" is
      already truncated).
    """
    arrays = []
    structure = json.dumps(_encode(obj, arrays, depth=0)).encode("utf-8")
    limit = structure_limit(MAX_BYTES)  # what load accepts with its default max_bytes
    if len(structure) > limit:
        raise ValueError(
            f"save: the nesting of dicts, lists and numbers takes {len(structure)} bytes of JSON, over "
            f"the {limit} that load accepts; store long lists of numbers as arrays"
        )
    entries = {f"a{i}": a for i, a in enumerate(arrays)}
    entries[_STRUCTURE] = np.frombuffer(structure, dtype=np.uint8)
    if hasattr(f, "write"):
        _check_binary(f, "save")
        np.savez(f, **entries)
        f.flush()
    else:
        _write_replacing(os.fspath(f), entries)


def _check_binary(f, op):
    if isinstance(f, io.TextIOBase):
        mode = "wb" if op == "save" else "rb"
        raise TypeError(f"{op}: the file object is open in text mode; open it in binary mode, open(path, {mode!r})")


def _write_replacing(path, entries):
    """np.savez ``entries`` to ``.<name>.tmp``, then rename it over the file ``path`` leads to."""
    target = os.path.realpath(path)  # through a symlink, as open(path, "wb") goes
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise FileNotFoundError(errno.ENOENT, f"save: cannot write {path!r}: its folder does not exist", folder)
    mode = _mode_to_keep(target)
    temporary = os.path.join(folder, f".{os.path.basename(target)}.tmp")
    _remove_if_present(temporary)  # left by a save that was killed
    # O_EXCL and O_NOFOLLOW: never write into a file or link someone planted there meanwhile
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    descriptor = os.open(temporary, flags, 0o666 if mode is None else 0o600)  # 0o666: the umask applies
    renamed = False
    try:
        with os.fdopen(descriptor, "wb") as f:
            np.savez(f, **entries)
            f.flush()
            if mode is not None:
                os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(temporary, target)
        renamed = True
    finally:
        if not renamed:
            _remove_if_present(temporary)


def _encode(obj, arrays, depth):
    """The JSON description of ``obj``; arrays are appended to ``arrays`` and declared by name, dtype, shape."""
    if depth > MAX_DEPTH:
        raise ValueError(f"save: the object is nested more than {MAX_DEPTH} levels deep (or contains itself)")
    if isinstance(obj, Tensor):
        return {"tensor": _declare(backend.to_numpy(obj.data), arrays)}
    if isinstance(obj, np.ndarray) or (backend.cp is not None and isinstance(obj, backend.cp.ndarray)):
        array = backend.to_numpy(obj)
        if array.dtype.hasobject:
            raise TypeError("save: object arrays would need pickle; store numbers, strings or numeric arrays")
        return {"array": _declare(array, arrays)}
    if isinstance(obj, np.generic):
        return _encode(obj.item(), arrays, depth)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise TypeError(f"save: dict keys must be str or int, got {type(key).__name__} ({key!r})")
            items.append([key, _encode(value, arrays, depth + 1)])
        return {"dict": items}
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {kind: [_encode(v, arrays, depth + 1) for v in obj]}
    if callable(getattr(obj, "state_dict", None)):  # torch.save(model, f): a pickle of the object, never stored here
        raise TypeError(
            f"save: cannot store a {type(obj).__name__} itself (tinydl files hold no pickled objects); save its "
            f"state_dict() instead: td.save(model.state_dict(), f), then model.load_state_dict(td.load(f))"
        )
    raise TypeError(
        f"save: cannot store a {type(obj).__name__}; use dicts, lists, tuples, arrays, Tensors, numbers and strings"
    )


def _declare(array, arrays):
    """Append ``array`` (in C order, so that its .npy header says fortran_order False) and declare it."""
    if not array.flags.c_contiguous:
        array = array.copy(order="C")
    arrays.append(array)
    return {"name": f"a{len(arrays) - 1}", "dtype": array.dtype.str, "shape": list(array.shape)}


def _mode_to_keep(target):
    """The permission bits of the file ``save`` replaces (None for a new file); a read-only file is refused."""
    try:
        status = os.stat(target)
    except FileNotFoundError:
        return None
    mode = stat.S_IMODE(status.st_mode)
    if stat.S_ISREG(status.st_mode) and (not mode & 0o222 or not os.access(target, os.W_OK)):
        raise PermissionError(
            errno.EACCES, f"save: the file is read-only (mode {mode:04o}); make it writable or save elsewhere", target
        )
    return mode


def _remove_if_present(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


# ---------------------------------------------------------------- load

def structure_limit(max_bytes):
    """The most bytes of structure JSON ``load`` reads under ``max_bytes``, so that, parsed, it takes
    at most about a quarter of ``max_bytes`` (or 2 MiB)."""
    return max(max_bytes // STRUCTURE_SHARE, MIN_STRUCTURE_BYTES)


@contextlib.contextmanager
def _reading(what):
    """Any error zipfile or NumPy raises while reading ``what`` (BadZipFile, zlib.error, EOFError,
    NotImplementedError, RuntimeError for a password, ...) means a damaged file: a CheckpointError.
    MemoryError is not the file's fault once its sizes are checked, so it propagates."""
    try:
        yield
    except (CheckpointError, MemoryError):
        raise
    except Exception as error:
        raise CheckpointError(
            f"is truncated, damaged or not a tinydl checkpoint: {what} ({type(error).__name__}: {error})"
        ) from None


def load(f, map_location=None, *, weights_only=None, max_bytes=MAX_BYTES):
    """Read a checkpoint written by ``save`` from a path or a binary file object (read from its
    current position, which must be seekable: ``io.BytesIO``, ``open(path, "rb")``); arrays come
    back as NumPy arrays, Tensors as Tensors, on the cpu unless ``map_location`` says otherwise.

    - ``map_location``, as in ``torch.load``: a device (``'cuda'``, ``'cpu'``, ``td.device(...)``)
      that every Tensor is moved to; a dict of locations (``{'cpu': 'cuda:0'}``); or a function
      ``fn(tensor, location)`` returning the Tensor to use (or None to keep it). A tinydl checkpoint
      holds its arrays on the host, so the location of every Tensor in the file is ``'cpu'``.
    - ``weights_only`` (True, False or None) is accepted for PyTorch's signature and changes
      nothing: tinydl never unpickles, so every load is what ``weights_only=True`` is in PyTorch
      (tensors, arrays, numbers, strings and containers only; no code runs).

    Any file that is not a valid checkpoint raises ``CheckpointError`` (a ``ValueError``) naming
    the file and what is wrong; pickled content is refused and never run.  ``max_bytes``
    (default 4 GiB) bounds the memory ``load`` takes: the checkpoint's arrays once decompressed,
    as the zip directory and the .npy headers declare them, checked before anything is allocated,
    and the structure's JSON, which may take ``max_bytes / 128`` (at least 64 KiB) of text; pass
    a larger value for larger checkpoints.  A missing or unreadable file raises the usual ``OSError``.
    """
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0:
        raise ValueError(f"load: max_bytes must be a positive int, got {max_bytes!r}")
    if weights_only not in (None, True, False):
        raise TypeError(f"load: weights_only must be True, False or None, got {weights_only!r}")
    place = _placement(map_location)
    if hasattr(f, "read"):
        obj = _load_file_object(f, max_bytes)
    else:
        path = os.fspath(f)
        with open(path, "rb") as file:
            obj = _load_file_object(file, max_bytes, name=path)
    return obj if place is None else _placed(obj, place)


def _load_file_object(file, max_bytes, name=None):
    _check_binary(file, "load")
    name = name if name is not None else getattr(file, "name", f"the {type(file).__name__} object")
    if not (hasattr(file, "seekable") and file.seekable()):
        raise ValueError(f"load: {name!r} cannot seek; read it into io.BytesIO first (a zip is read from its end)")
    try:
        return _read_checkpoint(file, max_bytes)
    except CheckpointError as error:
        raise CheckpointError(f"load: {name!r} {error}") from None


def _placement(map_location):
    """The function ``load`` applies to each Tensor for ``map_location`` (None: leave them on the cpu)."""
    if map_location is None:
        return None
    if callable(map_location):
        return lambda tensor: _called(map_location, tensor)
    if isinstance(map_location, dict):
        target = map_location.get("cpu")  # every tensor in a tinydl checkpoint was stored from the host
        return None if target is None else _placement(target)
    if isinstance(map_location, str):  # 'cuda', 'cpu:0', td.device('cuda') (a str too)
        device = backend.normalize_device(map_location)
        return lambda tensor: tensor.to(device)
    raise TypeError(
        f"load: map_location must be a device ('cpu', 'cuda', td.device), a dict or a function, got {map_location!r}"
    )


def _called(map_location, tensor):
    result = map_location(tensor, "cpu")
    if result is None:
        return tensor
    if not isinstance(result, Tensor):
        raise TypeError(f"load: map_location(tensor, 'cpu') must return a Tensor or None, got {type(result).__name__}")
    return result


def _placed(obj, place):
    """``obj`` with ``place`` applied to every Tensor in its dicts, lists and tuples."""
    if isinstance(obj, Tensor):
        return place(obj)
    if isinstance(obj, dict):
        return {key: _placed(value, place) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        items = [_placed(value, place) for value in obj]
        return items if isinstance(obj, list) else tuple(items)
    return obj


def _read_checkpoint(file, max_bytes):
    origin = file.tell()  # a file object may hold the checkpoint after other bytes
    start = file.read(6)
    file.seek(origin)
    if not start:
        raise CheckpointError("is empty")
    if start == b"\x93NUMPY":
        raise CheckpointError("is a single .npy array (np.save), not a checkpoint (.npz)")
    if start[:1] == b"\x80":
        raise CheckpointError("holds pickled data (an old torch.save file?); tinydl refuses to unpickle (it can run code)")
    if not start.startswith(b"PK"):
        raise CheckpointError("is not a zip archive (.npz), so not a tinydl checkpoint")
    with _reading("its zip directory"):
        archive = zipfile.ZipFile(file)
    with archive:
        reader = _ArrayReader(archive, max_bytes)
        obj = _decode(_read_structure(reader.structure_bytes()), reader, depth=0)
        reader.check_all_read()
    return obj


def _read_structure(text):
    """The JSON nesting, parsed; any error is a CheckpointError."""
    try:
        return json.loads(text.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise CheckpointError(f"has a {_STRUCTURE} entry that is not UTF-8 text ({error})") from None
    except (ValueError, RecursionError) as error:  # JSONDecodeError, too many digits, nested too deep for json
        raise CheckpointError(f"has a {_STRUCTURE} entry that is not valid JSON ({type(error).__name__}: {error})") from None


def _decode(node, reader, depth):
    """The object a structure node describes, checking that it is a node ``save`` writes."""
    if depth > MAX_DEPTH:
        raise CheckpointError(f"has a structure nested more than {MAX_DEPTH} levels deep")
    if not isinstance(node, dict) or len(node) != 1:
        raise CheckpointError(f"has a structure node {_short(node)} that is not a single {{kind: value}} pair")
    (kind, value), = node.items()
    if kind == "value":
        if value is not None and not isinstance(value, (bool, int, float, str)):
            raise CheckpointError(f"has a 'value' node holding {_short(value)}, not a number, string, bool or null")
        return value
    if kind == "array":
        return reader.read(value)
    if kind == "tensor":
        array = reader.read(value)
        if array.dtype.kind not in "biuf" or not array.dtype.isnative:
            raise CheckpointError(f"declares a tensor of dtype {array.dtype}, which no tinydl Tensor holds")
        return Tensor(array)
    if kind == "dict":
        return _decode_dict(value, reader, depth)
    if kind in ("list", "tuple"):
        if not isinstance(value, list):
            raise CheckpointError(f"has a {kind!r} node holding {_short(value)}, not a list of nodes")
        items = [_decode(item, reader, depth + 1) for item in value]
        return items if kind == "list" else tuple(items)
    raise CheckpointError(f"has a structure node of unknown kind {_short(kind)}")


def _decode_dict(pairs, reader, depth):
    if not isinstance(pairs, list):
        raise CheckpointError(f"has a 'dict' node holding {_short(pairs)}, not a list of [key, node] pairs")
    result = {}
    for pair in pairs:
        if not isinstance(pair, list) or len(pair) != 2:
            raise CheckpointError(f"has a dict item {_short(pair)} that is not a [key, node] pair")
        key, node = pair
        if isinstance(key, bool) or not isinstance(key, (str, int)):
            raise CheckpointError(f"has a dict key {_short(key)}; save writes only str and int keys")
        if key in result:
            raise CheckpointError(f"has the dict key {_short(key)} twice")
        result[key] = _decode(node, reader, depth + 1)
    return result


def _short(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _ArrayReader:
    """The .npy members of a checkpoint, each read once, checked before anything is allocated.

    The zip directory says how many bytes each member inflates to: their sum must be within
    ``max_bytes``.  Each member's .npy header must match its declaration in the structure and
    the size the directory gives, so an edited header (or one edited and repacked with valid
    checksums) cannot make ``load`` allocate more, or silently return less, than was saved.
    """

    def __init__(self, archive, max_bytes):
        self.archive = archive
        self.members = {}
        total = 0
        for info in archive.infolist():
            name = self._check_member(info)
            if name in self.members:
                raise CheckpointError(f"holds the entry {info.filename!r} twice")
            self.members[name] = info
            total += info.file_size
        if total > max_bytes:
            raise CheckpointError(
                f"inflates to {total} bytes, over the limit max_bytes={max_bytes}; "
                f"if you trust the file, pass a larger max_bytes to td.load"
            )
        if _STRUCTURE not in self.members:
            raise CheckpointError(f"is an .npz file but not a tinydl checkpoint (no {_STRUCTURE} entry)")
        self.unread = set(self.members) - {_STRUCTURE}
        self.max_bytes = max_bytes

    @staticmethod
    def _check_member(info):
        name = info.filename
        if info.flag_bits & _ENCRYPTED:
            raise CheckpointError(f"has an encrypted entry {name!r}; checkpoints are never encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise CheckpointError(
                f"has an entry {name!r} with compression method {info.compress_type}; "
                f".npz files use stored (0) or deflated (8)"
            )
        if name.endswith(".pkl"):
            raise CheckpointError(
                f"holds pickled data ({name!r}: a PyTorch checkpoint?); tinydl refuses to unpickle (it can run code)"
            )
        if not name.endswith(".npy"):
            raise CheckpointError(f"has an entry {name!r} that is not an .npy array")
        return name[: -len(".npy")]

    def structure_bytes(self):
        array = self._read_member(_STRUCTURE, declared=None, max_nbytes=structure_limit(self.max_bytes))
        if array.dtype != np.uint8 or array.ndim != 1:
            raise CheckpointError(f"has a {_STRUCTURE} entry of dtype {array.dtype}, shape {array.shape}, not 1-D bytes")
        return array.tobytes()

    def read(self, declaration):
        """The array a node declares: {"name", "dtype", "shape"}, or a bare name (the older format)."""
        if isinstance(declaration, str):
            name, declared = declaration, None
        elif isinstance(declaration, dict) and declaration.keys() == {"name", "dtype", "shape"}:
            name, dtype, shape = declaration["name"], declaration["dtype"], declaration["shape"]
            if not isinstance(name, str) or not isinstance(dtype, str) or not _is_shape(shape):
                raise CheckpointError(f"has a malformed array declaration {_short(declaration)}")
            declared = (dtype, tuple(shape))
        else:
            raise CheckpointError(f"has a malformed array declaration {_short(declaration)}")
        if name not in self.unread:
            problem = "declared twice" if name in self.members else "missing from the archive"
            raise CheckpointError(f"declares the array {name!r}, which is {problem}")
        self.unread.remove(name)
        return self._read_member(name, declared)

    def check_all_read(self):
        if self.unread:
            names = sorted(self.unread)
            raise CheckpointError(f"holds {len(names)} arrays its structure does not declare: {_short(names)}")

    def _read_member(self, name, declared, max_nbytes=None):
        """The array in the member ``name``; ``declared`` is its (dtype, shape) in the structure, or None."""
        info = self.members[name]
        with _reading(f"the entry {name!r}"), self.archive.open(info) as stream:
            shape, fortran_order, dtype = _read_npy_header(stream, name)
            what = f"the array {name!r} (header: dtype {dtype.str}, shape {shape})"
            if declared is not None and (dtype.str, shape) != declared:
                raise CheckpointError(
                    f"has {what}, which does not match its declaration (dtype {declared[0]}, shape {declared[1]})"
                )
            if declared is not None and fortran_order:  # older files (no declarations) may hold Fortran order
                raise CheckpointError(f"has {what} in Fortran order; save writes every declared array in C order")
            nbytes = dtype.itemsize * math.prod(shape)  # Python ints: no overflow
            stored = info.file_size - stream.tell()
            if nbytes != stored:
                raise CheckpointError(f"has {what}, which takes {nbytes} bytes, but the archive holds {stored}")
            if max_nbytes is not None and nbytes > max_nbytes:
                raise CheckpointError(f"has {what}, which takes {nbytes} bytes, over the {max_nbytes} allowed")
            if nbytes == 0:
                return np.empty(shape, dtype)
            buffer = np.empty(nbytes, np.uint8)
            for start in range(0, nbytes, _CHUNK):
                chunk = stream.read(min(_CHUNK, nbytes - start))  # zipfile checks the CRC at the end
                if not chunk:
                    raise CheckpointError(f"is truncated in the array {name!r}")
                buffer[start : start + len(chunk)] = np.frombuffer(chunk, np.uint8)
            return buffer.view(dtype).reshape(shape, order="F" if fortran_order else "C")


def _read_npy_header(stream, name):
    """(shape, fortran_order, dtype) from an .npy header, read and checked here, not by NumPy:
    NumPy reads a header of any declared length before checking it, and its parser leaks TypeError
    and tokenize.TokenError on forged dicts.  Object dtypes are refused (they need pickle)."""
    magic = stream.read(8)
    if len(magic) < 8 or magic[:6] != b"\x93NUMPY":
        raise CheckpointError(f"has an entry {name!r} that is not an .npy array (no .npy magic)")
    version = (magic[6], magic[7])
    if version not in ((1, 0), (2, 0)):
        raise CheckpointError(f"has the array {name!r} in .npy format version {version}, which save never writes")
    length_size = 2 if version == (1, 0) else 4
    length_bytes = stream.read(length_size)  # little-endian
    length = int.from_bytes(length_bytes, "little")
    if length > MAX_NPY_HEADER_BYTES:  # refused before reading it
        raise CheckpointError(
            f"has the array {name!r} with an .npy header of {length} bytes, over the {MAX_NPY_HEADER_BYTES} allowed"
        )
    raw = stream.read(length)
    if len(length_bytes) < length_size or len(raw) < length:
        raise CheckpointError(f"is truncated in the .npy header of the array {name!r}")
    text = raw.decode("latin1")
    try:
        with warnings.catch_warnings():  # forged text: no SyntaxWarning for an invalid escape in it
            warnings.simplefilter("ignore")
            header = ast.literal_eval(text)
    except Exception as error:  # SyntaxError, ValueError, RecursionError, MemoryError on forged text
        raise CheckpointError(
            f"has the array {name!r} with an .npy header that is not a Python literal: {_short(text)} "
            f"({type(error).__name__})"
        ) from None
    return _checked_npy_header(header, name)


def _checked_npy_header(header, name):
    bad = f"has the array {name!r} with a malformed .npy header {_short(header)}"
    if type(header) is not dict or header.keys() != {"descr", "fortran_order", "shape"}:
        raise CheckpointError(bad)
    shape, fortran_order = header["shape"], header["fortran_order"]
    # type(...) is int: a bool is an int to NumPy, and (True,) == (1,) would pass the declaration check
    if type(shape) is not tuple or any(type(n) is not int or n < 0 for n in shape):
        raise CheckpointError(bad)
    if type(fortran_order) is not bool:
        raise CheckpointError(bad)
    try:
        dtype = npy_format.descr_to_dtype(header["descr"])
    except Exception as error:  # any forged descr: TypeError, ValueError, ...
        raise CheckpointError(f"{bad}: its descr is not a dtype ({type(error).__name__})") from None
    if dtype.hasobject:
        raise CheckpointError(
            f"has the array {name!r} of dtype object: it holds pickled data; tinydl refuses to unpickle (it can run code)"
        )
    return shape, fortran_order, dtype


def _is_shape(value):
    return isinstance(value, list) and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in value)
