"""What a GPU array is, seen from Python: a handle to numbers the host cannot read directly.

A ``cupy.ndarray`` holds a pointer into GPU memory. Its shape, dtype and strides
live on the host (so ``a.shape`` costs nothing), but its numbers do not: reading
one (``float(a.sum())``, ``a.get()``, ``print(a)``) makes the host wait for the
GPU and copy the value back. That is why, unlike NumPy:

- a reduction or an integer index gives a 0-d *device* array, not a Python or
  NumPy number (turning it into one is a sync the code must ask for);
- ``np.asarray(a)`` raises: NumPy cannot read GPU memory, and CuPy refuses to
  copy implicitly; ``a.get()`` / ``cupy.asnumpy(a)`` copy on purpose;
- an op mixing a device array with a NumPy array or a list raises TypeError
  ("Unsupported type"): the host data would have to be copied first, and CuPy
  wants that copy written (``cupy.asarray(host)``);
- integer index arrays are not bounds-checked (a check would be a sync): an
  out-of-range index wraps around, ``a[[5]]`` of a length-3 array is ``a[2]``;
- when an assignment ``a[idx] = v`` has repeated indices, which value lands is
  undefined (thousands of threads write at once). The stand-in keeps the *first*,
  so code that relies on NumPy's last-wins fails here as it would on a GPU.

This class is a CPU stand-in for that type: a wrapper around a NumPy array
(``_a``, never handed out) that behaves as above and counts every sync and copy
(``counters.py``). It is a wrapper, not an ndarray subclass, because a subclass
cannot refuse ``np.asarray``.
"""
import numpy as np

from . import counters, cuda

MESSAGE_IMPLICIT = (
    "Implicit conversion to a NumPy array is not allowed. "
    "Please use `.get()` to construct a NumPy array explicitly."
)


def unsupported(value):
    return TypeError(f"Unsupported type {type(value)}")


# ---- moving between the wrapper and NumPy (the stand-in's inside) -------------------------------
def wrap(result):
    """NumPy results back into device arrays: arrays and NumPy scalars (0-d), also inside tuples."""
    if isinstance(result, np.ndarray):
        return ndarray._from_numpy(result)
    if isinstance(result, np.generic):
        return ndarray._from_numpy(np.asarray(result))
    if isinstance(result, tuple):
        return tuple(wrap(r) for r in result)
    if isinstance(result, list) and any(isinstance(r, np.ndarray) for r in result):
        return [wrap(r) for r in result]
    return result


def unwrap(value, refuse_lists=False):
    """A device array's NumPy inside; host arrays refused as CuPy refuses them (lists too, for ufuncs)."""
    if isinstance(value, ndarray):
        return value._a
    if isinstance(value, np.ndarray):
        raise unsupported(value)
    if isinstance(value, (list, tuple)):
        if refuse_lists and isinstance(value, list):
            raise unsupported(value)
        return type(value)(unwrap(v) for v in value)
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    return value


def _root(array):
    """The array that owns the memory a NumPy view looks at."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


# ---- indices: CuPy's rules ----------------------------------------------------------------------
def _wrapped_index(index, shape):
    """An index with device index arrays turned into NumPy ones that wrap around like CuPy's.

    Returns (numpy_index, has_mask)."""
    items = index if isinstance(index, tuple) else (index,)
    out, axis, has_mask = [], 0, False
    n_specified = sum(  # the dimensions the items name: a boolean mask names as many as it has
        (it.ndim if isinstance(it, (ndarray, np.ndarray)) and it.dtype == np.bool_ else 1)
        for it in items if it is not None and it is not Ellipsis
    )
    for it in items:
        if it is None:
            out.append(None)
            continue
        if it is Ellipsis:
            out.append(it)
            axis += len(shape) - n_specified
            continue
        if isinstance(it, (np.ndarray, list)):  # host index arrays are copied to the device first
            counters.copy()
            it = ndarray._from_numpy(np.array(it))
        if isinstance(it, ndarray):
            a = it._a
            if a.dtype == np.bool_:
                has_mask = True
                out.append(a)
                axis += a.ndim
                continue
            if a.dtype.kind not in "iu":
                raise IndexError("arrays used as indices must be of integer (or boolean) type")
            size = shape[axis] if axis < len(shape) else 1
            out.append(np.mod(a, size) if size else a)  # no bounds check: wrap around
            axis += 1
            continue
        out.append(it)  # int, slice: checked on the host, as NumPy does
        axis += 1
    return (tuple(out) if isinstance(index, tuple) else out[0]), has_mask


def _is_advanced(index):
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(it, np.ndarray) and it.dtype != np.bool_ for it in items)


NOT_MODELLED = ("data", "flat", "put", "choose", "ctypes", "__cuda_array_interface__", "toDlpack")


class ndarray:
    """A device array (CPU stand-in). See the module docstring for how it differs from NumPy's."""

    __array_priority__ = 100  # CuPy's value: above NumPy's, below tinydl's Tensor
    __slots__ = ("_a", "__weakref__")

    # -- making one ---------------------------------------------------------------------------
    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        self._a = _poisoned(np.empty(shape, dtype=dtype, order=order))
        cuda.track(self._a, self._a.nbytes)

    @classmethod
    def _from_numpy(cls, a):
        """Wrap a NumPy array the stand-in computed; new memory is booked in the pool."""
        self = object.__new__(cls)
        self._a = a
        root = _root(a)
        cuda.track(root, root.nbytes)  # booked once per buffer: views share their root's block
        return self

    # -- what lives on the host: shape, dtype, strides ------------------------------------------
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    strides = property(lambda self: self._a.strides)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: wrap(self._a.T))
    mT = property(lambda self: wrap(np.swapaxes(self._a, -1, -2)))
    real = property(lambda self: wrap(self._a.real))
    imag = property(lambda self: wrap(self._a.imag))
    device = property(lambda self: cuda.Device(0))

    @property
    def base(self):
        return None if self._a.base is None else wrap(self._a.base) if isinstance(self._a.base, np.ndarray) else None

    def __len__(self):
        if self._a.ndim == 0:
            raise TypeError("len() of unsized object")
        return len(self._a)

    def __iter__(self):
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self._a)))

    # -- reading numbers: each of these makes the host wait for the device ----------------------
    def get(self, stream=None, order="C", out=None):
        """Copy to a NumPy array on the host (a sync)."""
        counters.sync()
        return np.array(self._a, order=order)

    def set(self, arr, stream=None):
        """Copy a NumPy array of the same shape into this one (a host -> device copy)."""
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"Only numpy.ndarray can be set to cupy.ndarray, got {type(arr)}")
        counters.copy()
        self._a[...] = arr

    def fill(self, value):
        if isinstance(value, np.ndarray) and value.ndim:
            raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
        if isinstance(value, ndarray):
            value = value._a
        self._a.fill(value)

    # item, tolist, float(a), int(a), complex(a), bool(a), repr, str, format: see _reading below

    # -- what CuPy refuses ----------------------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        raise TypeError(MESSAGE_IMPLICIT)

    def __reduce__(self):  # pickling reads the numbers; CuPy allows it, as a sync
        counters.sync()
        return (ndarray._from_numpy, (self._a.copy(),))

    # -- NumPy calling us: np.exp(device) runs CuPy's exp; a host array in the mix is refused ---
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from . import functions

        cupy_ufunc = functions.ufunc_named(ufunc.__name__)
        if cupy_ufunc is None:
            return NotImplemented
        if method == "__call__":
            return cupy_ufunc(*inputs, **kwargs)
        if method in ("reduce", "accumulate", "reduceat", "outer", "at"):
            return getattr(cupy_ufunc, method)(*inputs, **kwargs)
        return NotImplemented

    def __array_function__(self, func, types, args, kwargs):
        from . import functions

        cupy_func = functions.function_for_numpy(func)
        if cupy_func is None or not all(issubclass(t, (ndarray, np.ndarray)) for t in types):
            return NotImplemented  # NumPy then raises "no implementation found for ..."
        return cupy_func(*args, **kwargs)

    # -- indexing ---------------------------------------------------------------------------------
    def __getitem__(self, index):
        numpy_index, has_mask = _wrapped_index(index, self._a.shape)
        if has_mask:
            counters.sync()  # the output's size depends on the mask's values: the host must read them
        return wrap(self._a[numpy_index])

    def __setitem__(self, index, value):
        numpy_index, has_mask = _wrapped_index(index, self._a.shape)
        advanced = has_mask or _is_advanced(numpy_index)
        if isinstance(value, ndarray):
            value = value._a
        elif isinstance(value, (np.ndarray, list)):
            if not advanced:  # a basic index is filled in place, and CuPy's fill takes only scalars
                if isinstance(value, list):
                    raise unsupported(value)
                if value.ndim:
                    raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
            else:
                counters.copy()  # an advanced index copies the host values over first
        if has_mask:
            counters.sync()  # CuPy counts the mask's True values on the host first
        if _is_advanced(numpy_index):
            _store_first_of_repeats(self._a, numpy_index, value)
        else:
            self._a[numpy_index] = value

    # -- methods: NumPy's, on the inside, with CuPy's rules on the way in and out ---------------
    def __getattr__(self, name):
        from . import functions, names

        if not names.has("cupy.ndarray", name):
            raise AttributeError(f"'cupy.ndarray' object has no attribute '{name}'")
        if name in NOT_MODELLED:  # CuPy's would be device objects; NumPy's would leak host memory
            raise AttributeError(f"tinydl's CuPy stand-in does not model cupy.ndarray.{name}")
        if name in ("take", "nonzero"):  # CuPy's rules: take wraps around, nonzero syncs
            return lambda *args, **kwargs: functions.lookup(name)(self, *args, **kwargs)
        method = getattr(self._a, name)
        if not callable(method):
            return wrap(method)

        def call(*args, **kwargs):
            return wrap(method(*unwrap(args), **unwrap(kwargs)))

        call.__name__ = name
        return call

    def __copy__(self):
        return wrap(self._a.copy())

    def __deepcopy__(self, memo):
        return wrap(self._a.copy())


def _binary(name):
    def op(self, other):
        if getattr(other, "__array_priority__", 0) > self.__array_priority__ and not isinstance(
            other, (ndarray, np.ndarray)
        ):
            return NotImplemented  # e.g. a tinydl Tensor: let it handle the operation
        from . import functions

        return functions.ufunc_named(name)(self, other)

    def rop(self, other):
        if getattr(other, "__array_priority__", 0) > self.__array_priority__ and not isinstance(
            other, (ndarray, np.ndarray)
        ):
            return NotImplemented
        from . import functions

        return functions.ufunc_named(name)(other, self)

    return op, rop


for _dunder, _ufunc in [
    ("add", "add"), ("sub", "subtract"), ("mul", "multiply"), ("truediv", "true_divide"),
    ("floordiv", "floor_divide"), ("mod", "remainder"), ("pow", "power"), ("and", "bitwise_and"),
    ("or", "bitwise_or"), ("xor", "bitwise_xor"), ("lshift", "left_shift"), ("rshift", "right_shift"),
    ("matmul", "matmul"),
]:
    _op, _rop = _binary(_ufunc)
    setattr(ndarray, f"__{_dunder}__", _op)
    setattr(ndarray, f"__r{_dunder}__", _rop)

def _comparison(name):
    op = _binary(name)[0]

    def compare(self, other):  # CuPy's __richcmp__ reads a 0-d NumPy array as a scalar
        if isinstance(other, np.ndarray) and other.ndim == 0:
            other = other.item()
        return op(self, other)

    return compare


for _dunder, _ufunc in [("lt", "less"), ("le", "less_equal"), ("gt", "greater"), ("ge", "greater_equal"),
                        ("eq", "equal"), ("ne", "not_equal")]:
    setattr(ndarray, f"__{_dunder}__", _comparison(_ufunc))

ndarray.__hash__ = None


def _reading(convert):
    """A method that turns the device values into a host value: the host waits for the device (a sync)."""
    def read(self, *args):
        counters.sync()
        return convert(self._a, *args)

    read.__name__ = getattr(convert, "__name__", "read")
    return read


for _name, _convert in [
    ("item", np.ndarray.item), ("tolist", np.ndarray.tolist), ("__float__", float), ("__int__", int),
    ("__complex__", complex), ("__bool__", bool), ("__repr__", repr), ("__str__", str), ("__format__", format),
]:
    setattr(ndarray, _name, _reading(_convert))


def _inplace(name):
    def iop(self, other):
        from . import functions

        functions.ufunc_named(name)(self, other, out=self)
        return self

    return iop


for _dunder, _ufunc in [("add", "add"), ("sub", "subtract"), ("mul", "multiply"), ("truediv", "true_divide"),
                        ("floordiv", "floor_divide"), ("mod", "remainder"), ("pow", "power"),
                        ("and", "bitwise_and"), ("or", "bitwise_or"), ("xor", "bitwise_xor")]:
    setattr(ndarray, f"__i{_dunder}__", _inplace(_ufunc))


def _unary(name):
    def op(self):
        from . import functions

        return functions.ufunc_named(name)(self)

    return op


ndarray.__neg__ = _unary("negative")
ndarray.__pos__ = _unary("positive")
ndarray.__abs__ = _unary("absolute")
ndarray.__invert__ = _unary("invert")


def _poisoned(a):
    """What uninitialized device memory looks like: garbage. NaN for floats, a large odd
    number for integers, True for booleans; code that reads ``empty`` before writing it fails."""
    if a.dtype.kind in "fc":
        a.fill(np.nan)
    elif a.dtype.kind in "iu":
        a.fill(np.iinfo(a.dtype).max // 3)
    elif a.dtype.kind == "b":
        a.fill(True)
    return a


def _store_first_of_repeats(a, index, value):
    """``a[index] = value`` where, among repeated positions, the *first* value lands (NumPy: the last).

    Every selected element's flat position is found by indexing a table of positions the
    same way; writing in reverse order then leaves the first value at each repeated spot."""
    positions = np.arange(a.size).reshape(a.shape)[index]
    values = np.broadcast_to(np.asarray(value, dtype=a.dtype), positions.shape)
    a.flat[positions.ravel()[::-1]] = values.ravel()[::-1]
