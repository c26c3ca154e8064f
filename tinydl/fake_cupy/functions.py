"""The functions of the stand-in's ``cupy`` namespace: NumPy's, with CuPy's rules at the border.

Inside, every function is NumPy's own. What the stand-in adds is the border a
GPU has, in three rules:

1. **Ufuncs** (``cupy.exp``, ``cupy.add``, the ``+`` of two arrays) take device
   arrays and Python or NumPy scalars; a NumPy array or a list raises
   ``TypeError: Unsupported type`` (CuPy would have to copy it, and wants that
   copy written out).
2. **Other functions** (``cupy.concatenate``, ``cupy.where``, ``cupy.pad``) take
   device arrays and Python values (shapes, axes, scalars); a NumPy array raises.
3. **Creation from host data** (``asarray``, ``array``) is the one door in: it
   copies, and the copy is counted. ``asnumpy`` is the door out: a sync.

Every result comes back as a device array (reductions as 0-d arrays). Integer
index arrays wrap around instead of raising (``take``, ``take_along_axis``),
and ``empty`` hands out poisoned memory.
"""
import functools

import numpy as np

from . import counters, names
from .ndarray import MESSAGE_IMPLICIT, _poisoned, _wrapped_index, ndarray, unsupported, unwrap, wrap


class ufunc:
    """A CuPy ufunc: NumPy's, refusing host arrays and lists among its inputs."""

    def __init__(self, numpy_ufunc):
        self._u = numpy_ufunc
        self.__name__ = numpy_ufunc.__name__
        self.nin, self.nout = numpy_ufunc.nin, numpy_ufunc.nout

    def __repr__(self):
        return f"<ufunc 'cupy.{self.__name__}' (tinydl's stand-in)>"

    def _call(self, method, args, kwargs):
        inputs = [unwrap(a, refuse_lists=True) for a in args]
        out = kwargs.pop("out", None)
        kwargs = unwrap(kwargs)
        if out is not None:
            outs = out if isinstance(out, tuple) else (out,)
            for o in outs:
                if not isinstance(o, ndarray):
                    raise unsupported(o)
            kwargs["out"] = tuple(o._a for o in outs) if isinstance(out, tuple) else out._a
        with np.errstate(all="ignore"):  # a GPU kernel never warns about log(-1) or 1/0
            result = method(*inputs, **kwargs)
        return out if out is not None else wrap(result)

    def __call__(self, *args, **kwargs):
        return self._call(self._u, args, kwargs)

    def _only(self, supported, method):
        if self.__name__ not in supported:  # CuPy implements these methods for a few ufuncs only
            raise NotImplementedError(f"`cupy.{self.__name__}.{method}` is not supported yet")

    def reduce(self, *args, **kwargs):
        self._only(("add", "multiply"), "reduce")
        return self._call(self._u.reduce, args, kwargs)

    def accumulate(self, *args, **kwargs):
        self._only(("add", "multiply"), "accumulate")
        return self._call(self._u.accumulate, args, kwargs)

    def outer(self, *args, **kwargs):
        return self._call(self._u.outer, args, kwargs)

    def at(self, a, indices, b=None):
        self._only(("add", "subtract", "maximum", "minimum", "bitwise_and", "bitwise_or", "bitwise_xor"), "at")
        if not isinstance(a, ndarray):
            raise unsupported(a)
        index, _ = _wrapped_index(indices, a.shape)
        args = () if b is None else (unwrap(b, refuse_lists=True),)
        self._u.at(a._a, index, *args)


@functools.lru_cache(maxsize=None)
def ufunc_named(name):
    """The stand-in's ufunc ``cupy.<name>``, or None where NumPy or CuPy lacks it."""
    numpy_ufunc = getattr(np, name, None)
    if not isinstance(numpy_ufunc, np.ufunc) or not names.has("cupy", name):
        return None
    return ufunc(numpy_ufunc)


def device_function(numpy_function, name):
    """A CuPy function from a NumPy one: device arrays in, device arrays out, host arrays refused."""

    def function(*args, **kwargs):
        return wrap(numpy_function(*unwrap(args), **unwrap(kwargs)))

    function.__name__ = name
    function.__doc__ = f"cupy.{name} (tinydl's stand-in: numpy.{name} behind CuPy's rules)"
    return function


# ---- the doors between host and device ----------------------------------------------------------
def _has_device(value):
    if isinstance(value, ndarray):
        return True
    return isinstance(value, (list, tuple)) and any(_has_device(v) for v in value)


def _all_device(value):
    if isinstance(value, (list, tuple)):
        return all(_all_device(v) for v in value)
    return isinstance(value, ndarray)


def _to_host_nested(value):
    """A nested list that may hold device arrays, as NumPy values (the stand-in's inside)."""
    if isinstance(value, ndarray):
        return value._a
    if isinstance(value, (list, tuple)):
        return [_to_host_nested(v) for v in value]
    return value


def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0):
    """A device array from device or host data; host data is copied over (counted)."""
    if isinstance(obj, ndarray):
        return wrap(np.array(obj._a, dtype=dtype, copy=copy, order=order, ndmin=ndmin))
    if _has_device(obj):  # a list of device arrays of one shape is gathered on the device ...
        if not _all_device(obj):  # ... but one mixing them with host values goes through numpy.array
            raise TypeError(MESSAGE_IMPLICIT)
        return wrap(np.array(_to_host_nested(obj), dtype=dtype, order=order, ndmin=ndmin))
    counters.copy()  # host -> device
    return wrap(np.array(obj, dtype=dtype, copy=True, order=order, ndmin=ndmin))


def asarray(a, dtype=None, order=None):
    """``a`` itself when it is already a device array of that dtype, else a copy on the device."""
    if isinstance(a, ndarray):
        if dtype is None or np.dtype(dtype) == a.dtype:
            return a
        return wrap(a._a.astype(dtype))
    return array(a, dtype=dtype, order=order or "K")


asanyarray = asarray


def ascontiguousarray(a, dtype=None):
    if not isinstance(a, ndarray):
        raise TypeError(f"Argument 'a' has incorrect type (expected cupy.ndarray, got {type(a).__name__})")
    return wrap(np.ascontiguousarray(a._a, dtype=dtype))


def asnumpy(a, stream=None, order="C", out=None):
    """A NumPy array on the host: for a device array a sync and a copy, else ``numpy.asarray``."""
    if isinstance(a, ndarray):
        return a.get(order=order)
    return np.asarray(a, order=order)


def get_array_module(*args):
    import tinydl.fake_cupy as cupy

    return cupy if any(isinstance(a, ndarray) for a in args) else np


# ---- where CuPy differs from NumPy --------------------------------------------------------------
def empty(shape, dtype=float, order="C"):
    return wrap(_poisoned(np.empty(shape, dtype=dtype, order=order)))


def empty_like(prototype, dtype=None, order="K", subok=None, shape=None):
    return wrap(_poisoned(np.empty_like(unwrap(prototype), dtype=dtype, order=order, shape=shape)))


def take(a, indices, axis=None, out=None):
    """Out-of-range indices wrap around (CuPy does not check bounds on the device)."""
    a_np, size = unwrap(a), (a.size if axis is None else a.shape[axis])
    if isinstance(indices, (np.ndarray, list)):
        counters.copy()  # CuPy copies host indices to the device first
        indices = np.array(indices)
    else:
        indices = unwrap(indices)
    index = np.mod(indices, size) if size else indices
    return wrap(np.take(a_np, index, axis=axis))


def take_along_axis(arr, indices, axis):
    size = arr.shape[axis] if axis is not None else arr.size
    return wrap(np.take_along_axis(unwrap(arr), np.mod(unwrap(indices), size), axis=axis))


def _joining(numpy_function, name):
    """concatenate, stack, ...: every item must be a device array (CuPy refuses lists and scalars)."""
    inner = device_function(numpy_function, name)

    def function(arrays, *args, **kwargs):
        if not all(isinstance(a, ndarray) for a in arrays):
            raise TypeError("Only cupy arrays can be concatenated")
        return inner(arrays, *args, **kwargs)

    function.__name__ = name
    return function


def _syncing(numpy_function, name):
    """Functions whose output size depends on the values: the host must read them (a sync)."""
    inner = device_function(numpy_function, name)

    def function(*args, **kwargs):
        counters.sync()
        return inner(*args, **kwargs)

    function.__name__ = name
    return function


SPECIAL = {
    "array": array, "asarray": asarray, "asanyarray": asanyarray, "ascontiguousarray": ascontiguousarray,
    "asnumpy": asnumpy, "get_array_module": get_array_module, "empty": empty, "empty_like": empty_like,
    "take": take, "take_along_axis": take_along_axis, "ndarray": ndarray,
}
SYNCING = ("nonzero", "flatnonzero", "argwhere", "unique")
JOINING = ("concatenate", "stack", "vstack", "hstack", "dstack", "column_stack")


def lookup(name, namespace="cupy", numpy_namespace=np):
    """The stand-in's ``<namespace>.<name>``; AttributeError where CuPy has no such name."""
    if not names.has(namespace, name):
        raise AttributeError(f"module '{namespace}' has no attribute '{name}' (CuPy has no such name)")
    if namespace == "cupy" and name in SPECIAL:
        return SPECIAL[name]
    target = getattr(numpy_namespace, name, None)
    if target is None:
        raise AttributeError(f"tinydl's CuPy stand-in does not implement {namespace}.{name}")
    if isinstance(target, np.ufunc):
        return ufunc_named(name)
    if isinstance(target, type) or not callable(target):
        return target  # dtypes (cupy.float32 is numpy.float32), constants (cupy.inf)
    if name in SYNCING:
        return _syncing(target, name)
    if name in JOINING:
        return _joining(target, name)
    return device_function(target, name)


def function_for_numpy(func):
    """For ``__array_function__``: the stand-in's function for a NumPy one, or None if CuPy lacks it."""
    module = getattr(func, "__module__", "") or ""
    namespace = "cupy" + module[len("numpy"):] if module.startswith("numpy") else None
    name = getattr(func, "__name__", "")
    if namespace is None:
        return None
    import tinydl.fake_cupy as cupy

    try:
        if namespace == "cupy":
            return getattr(cupy, name)
        return getattr(cupy.linalg, name) if namespace == "cupy.linalg" else None
    except AttributeError:
        return None
