"""The Tensor: an n-d array, its gradient, and the Function that produced it.

A Tensor is deliberately thin.  The numbers live in ``.data`` (a NumPy or CuPy
ndarray); ``.grad`` receives the gradient after ``backward``; ``.grad_fn`` is
the Function that made it (None for a leaf you created yourself).  Every
operator and method below only forwards to an op in ``tinydl.functional``,
where the forward and backward of each operation are written side by side.
"""
import numpy as np

from . import backend
from .autograd import _initial_grad, is_grad_enabled, run_backward

float32 = np.dtype("float32")
float64 = np.dtype("float64")
float16 = np.dtype("float16")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
bool_ = np.dtype("bool")


_NO_DATA = object()  # Tensor() with no data: an empty tensor, as torch.Tensor()


def _cupy_ndarray():
    return backend.cp.ndarray if backend.cp is not None else ()


def as_dtype(dtype):
    """Accept td.float32, np.float32, 'float32', float, int, bool."""
    if dtype is float:
        return float32
    if dtype is int:
        return int64
    if dtype is bool:
        return bool_
    return np.dtype(dtype)


class Tensor:
    """An n-d array (``.data``) with autograd: ``.grad``, ``.requires_grad`` and ``.grad_fn``."""

    __slots__ = ("data", "grad", "requires_grad", "grad_fn", "_retains_grad", "__weakref__")
    __array_priority__ = 1000  # ndarray + Tensor -> Tensor.__radd__, not an object array

    def __init__(self, data=_NO_DATA, *size, requires_grad=False):
        if size:  # Tensor(2, 3): PyTorch's legacy constructor, a float32 tensor of that shape
            data = _legacy_shape((data,) + size)
        elif not isinstance(data, np.ndarray) and not isinstance(data, _cupy_ndarray()):
            # a NumPy scalar (what x.sum() returns) keeps its dtype; lists and Python numbers
            # follow td.tensor's rules (floats -> float32, ints -> int64); Tensor(5) and Tensor()
            # are shapes, as in PyTorch
            if data is _NO_DATA or _is_int(data):
                data = _legacy_shape((0,) if data is _NO_DATA else (data,))
            else:
                data = np.asarray(data) if isinstance(data, np.generic) else _to_array(data)
        _check_supported_dtype(data.dtype, "Tensor")
        if requires_grad and data.dtype.kind != "f":
            raise RuntimeError(f"only floating-point tensors can require gradients, got dtype {data.dtype}")
        self.data = data
        self.grad = None
        self.requires_grad = requires_grad
        self.grad_fn = None
        self._retains_grad = False

    @staticmethod
    def _from_value(value, like=None, dtype=None):
        """A constant Tensor from a Python number, list or array.

        Next to a floating tensor ``like``, a Python scalar takes its dtype (so
        ``x * 2`` stays float32), and the value goes to ``like``'s device.
        """
        if isinstance(value, Tensor):
            return value
        if dtype is None and like is not None and isinstance(value, (int, float, bool)) and not isinstance(value, np.ndarray):
            if like.dtype.kind == "f":
                dtype = like.dtype
            elif isinstance(value, float):
                dtype = float32
            elif isinstance(value, bool) and like.dtype == bool_:
                dtype = bool_
            elif isinstance(value, int) and not isinstance(value, bool):
                dtype = like.dtype if like.dtype.kind in "iu" else int64
        if like is not None and like.device != "cpu" and isinstance(value, (int, float, bool)):
            # a Python number next to a device tensor is filled in on the device (a kernel that
            # takes the number as an argument), not made on the host and copied over
            xp = backend.get_array_module(like.data)
            return Tensor(xp.full((), value, dtype=_to_array(value, dtype).dtype))
        array = _to_array(value, dtype)
        if like is not None and like.device != "cpu":
            array = backend.to_device(array, like.device)
        return Tensor(array)

    # ---- what a Tensor is -------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def device(self):
        """Where the data lives: ``td.device('cpu')`` or ``td.device('cuda')`` (which equal 'cpu' and 'cuda')."""
        return backend.device_of(self.data)

    @property
    def is_cuda(self):
        return self.device == "cuda"

    @property
    def is_leaf(self):
        return self.grad_fn is None

    def size(self, dim=None):
        return self.data.shape if dim is None else self.data.shape[dim]

    def numel(self):
        return int(self.data.size)

    def dim(self):
        return self.data.ndim

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __repr__(self):
        body = np.array2string(backend.to_numpy(self.data), separator=", ", precision=4, prefix="tensor(")
        extras = []
        if self.dtype != float32 and self.dtype != int64 and self.dtype != bool_:
            extras.append(f"dtype={self.dtype.name}")
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{type(self.grad_fn).__name__}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extras) + ")"

    __hash__ = object.__hash__  # == is elementwise, so hash by identity

    def __format__(self, spec):
        """``f"{loss:.4f}"``: a 0-d tensor formats as its number, as in PyTorch; any other tensor
        takes no format spec (``f"{t}"`` is its repr)."""
        if self.data.ndim == 0:
            return format(self.item(), spec)
        if spec:
            raise TypeError(
                f"unsupported format string {spec!r} passed to Tensor.__format__: only a 0-d tensor takes a "
                f"format spec, this one has shape {tuple(self.shape)}; format t.item() or t.tolist() instead"
            )
        return str(self)

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(f"the truth value of a tensor with {self.data.size} elements is ambiguous")
        return bool(self.item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    # ---- autograd ---------------------------------------------------------
    def backward(self, grad=None, retain_graph=None, create_graph=False):
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires grad."""
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad and does not have a grad_fn")
        run_backward([self], [_initial_grad(self, grad, "backward")], create_graph=create_graph, retain_graph=retain_graph)

    def detach(self):
        """The same data, cut off from the graph."""
        return Tensor(self.data)

    def requires_grad_(self, requires_grad=True):
        if requires_grad and self.dtype.kind != "f":
            raise RuntimeError(f"only floating-point tensors can require gradients, got dtype {self.dtype}")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self):
        """Keep the gradient of this non-leaf tensor in ``.grad`` after backward."""
        self._retains_grad = True

    # ---- leaving tinydl ---------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        """``np.asarray(t)``, as PyTorch allows it: a cpu tensor's data; refused for a cuda one, whose
        values NumPy cannot read without a copy the code should ask for (``t.cpu()``, ``t.numpy()``)."""
        if self.device != "cpu":
            raise TypeError(
                f"can't convert {self.device} device type tensor to numpy. "
                "Use Tensor.cpu() to copy the tensor to host memory first."
            )
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        if copy:  # np.array(t) asks for a copy, and trusts it is one
            return self.data.astype(dtype or self.data.dtype, copy=True)
        if copy is False and dtype is not None and np.dtype(dtype) != self.data.dtype:
            raise ValueError(f"__array__: a tensor of dtype {self.data.dtype} cannot become {np.dtype(dtype)} without a copy")
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    def numpy(self):
        """A host NumPy array (a copy when the data is on the GPU)."""
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on a tensor that requires grad. Use t.detach().numpy() instead.")
        return backend.to_numpy(self.data)

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors can be converted to Python scalars, got shape {tuple(self.shape)}")
        return backend.to_numpy(self.data.reshape(())).item()

    def tolist(self):
        return backend.to_numpy(self.data).tolist()

    # ---- device and dtype -------------------------------------------------
    def to(self, *args, **kwargs):
        """PyTorch's forms, differentiable: ``t.to('cuda')``, ``t.to(td.device('cpu'))``, ``t.to(td.float64)``,
        ``t.to(device, dtype)``, ``t.to(other)`` (other's device and dtype), with the keywords
        ``device=``, ``dtype=``, ``non_blocking=`` (accepted: copies here are synchronous) and ``copy=``."""
        from .functional.elementwise import cast, to_device

        device, dtype, copy = _to_arguments(args, kwargs)
        result = self if dtype is None else cast(self, dtype)
        result = result if device is None else to_device(result, device)
        return F.clone(result) if copy and result is self else result

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None, non_blocking=False):
        """This tensor on the GPU; ``device`` may be 0, 'cuda', 'cuda:0' or ``td.device('cuda')`` (one GPU)."""
        if device is not None and not isinstance(device, str):
            device = f"cuda:{device}"  # t.cuda(0), as PyTorch
        return self.to("cuda" if device is None else device)

    def double(self):
        return self.to(float64)

    def float(self):
        return self.to(float32)

    def long(self):
        return self.to(int64)

    def int(self):
        return self.to(int32)

    def half(self):
        return self.to(float16)

    def bool(self):
        return self.to(bool_)

    def type(self, dtype=None, non_blocking=False):
        """With no argument, PyTorch's name of this tensor's type (``'torch.FloatTensor'``,
        ``'torch.cuda.LongTensor'``); with a dtype, a type name or ``td.FloatTensor`` and its kind,
        this tensor converted to it."""
        from .tensor_types import tensor_type_name, type_target

        if dtype is None:
            return tensor_type_name(self.dtype, self.device)
        device, dtype = type_target(dtype)
        return self.to(dtype) if device is None else self.to(device, dtype)

    def type_as(self, other):
        """This tensor with ``other``'s dtype and on ``other``'s device, as PyTorch."""
        return self.to(other.device, other.dtype)

    def clone(self):
        return F.clone(self)

    # ---- in place: only where no graph is being recorded ----------------
    def _in_place(self, op):
        """Check that writing into ``self.data`` cannot corrupt a recorded graph.

        Under ``td.no_grad()`` (a manual SGD step: ``p -= lr * p.grad``) or on a
        tensor outside any graph, in place is safe.  A leaf that requires grad
        is refused, as in PyTorch.  A non-leaf gets the out-of-place result, so
        ``h += x`` rebinds ``h`` to a new node and the graph stays correct; the
        in-place methods (``fill_``, ``add_``, ...) refuse it (``_check_in_place``).
        """
        if not is_grad_enabled() or not self.requires_grad:
            return True
        if self.grad_fn is None:
            raise RuntimeError(
                f"{op}: a leaf tensor that requires grad cannot be changed in place while the graph is recorded; "
                "wrap the update in `with td.no_grad():`"
            )
        return False

    def _check_in_place(self, op, instead=None):
        """The check every in-place method (``add_``, ``fill_``, ``copy_``, ...) makes before writing:
        refuse a tensor a recorded graph goes through, whose backward would otherwise use the old
        values (a silently wrong gradient), and say what to write instead."""
        if not self._in_place(op):
            instead = instead or f"y = x.{op[:-1]}(...)"
            raise RuntimeError(f"{op}: the tensor is part of a recorded graph; use the out-of-place {instead}, "
                               "which the gradient can follow")

    def _assign(self, op, other, combine):
        if not self._in_place(op):
            return combine(self, other)
        value = other.data if isinstance(other, Tensor) else other
        result = combine(Tensor(self.data), Tensor._from_value(value, like=self)).data
        self.data[...] = result
        return self

    def __iadd__(self, other):
        return self._assign("+=", other, F.add)

    def __isub__(self, other):
        return self._assign("-=", other, F.sub)

    def __imul__(self, other):
        return self._assign("*=", other, F.mul)

    def __itruediv__(self, other):
        return self._assign("/=", other, F.div)

    def __setitem__(self, index, value):
        if not self._in_place("__setitem__"):
            raise RuntimeError(
                "__setitem__: assigning into a tensor that is part of a recorded graph is not supported; "
                "build the result with td.where or td.cat instead"
            )
        index = F.shape.checked_index(index, self.data, "__setitem__")
        try:
            self.data[index] = self._assignable(value)
        except IndexError as error:
            raise F.shape.index_error("__setitem__", index, self.shape, error) from None

    def _assignable(self, value):
        """``value`` ready to be written into ``self.data``: arrays and lists copied to this tensor's
        device (CuPy refuses host arrays in assignment; a Tensor from the other device is copied
        too, as PyTorch's ``copy_`` does); numbers as they are."""
        value = value.data if isinstance(value, Tensor) else value
        if isinstance(value, (int, float, bool, np.generic)):
            return value
        return backend.to_device(value, self.device)

    def copy_(self, source):
        """Copy ``source``'s values into this tensor in place (under no_grad, or outside a graph)."""
        self._check_in_place("copy_", "y = source.expand_as(x).to(x)")
        return self._assign("copy_", source, lambda a, b: F.broadcast_to(b, a.shape))

    def fill_(self, value):
        """Set every element to ``value`` in place (under no_grad, or outside a graph)."""
        self._check_in_place("fill_", "y = td.full_like(x, value)")
        self.data[...] = value
        return self

    def zero_(self):
        """Set every element to zero in place (under no_grad, or outside a graph)."""
        self._check_in_place("zero_", "y = td.zeros_like(x)")
        return self.fill_(0)

    # ---- operators --------------------------------------------------------
    def __add__(self, other):
        return F.add(self, other)

    def __radd__(self, other):
        return F.add(other, self)

    def __sub__(self, other):
        return F.sub(self, other)

    def __rsub__(self, other):
        return F.sub(other, self)

    def __mul__(self, other):
        return F.mul(self, other)

    def __rmul__(self, other):
        return F.mul(other, self)

    def __truediv__(self, other):
        return F.div(self, other)

    def __rtruediv__(self, other):
        return F.div(other, self)

    def __pow__(self, other):
        return F.pow(self, other)

    def __rpow__(self, other):
        return F.pow(other, self)

    def __matmul__(self, other):
        return F.matmul(self, other)

    def __rmatmul__(self, other):
        return F.matmul(other, self)

    def __neg__(self):
        return F.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return F.abs(self)

    def __eq__(self, other):
        return F.eq(self, other)

    def __ne__(self, other):
        return F.ne(self, other)

    def __lt__(self, other):
        return F.lt(self, other)

    def __le__(self, other):
        return F.le(self, other)

    def __gt__(self, other):
        return F.gt(self, other)

    def __ge__(self, other):
        return F.ge(self, other)

    def __getitem__(self, index):
        return F.getitem(self, index)

    # ---- elementwise methods ---------------------------------------------
    def exp(self):
        return F.exp(self)

    def log(self):
        return F.log(self)

    def log1p(self):
        return F.log1p(self)

    def sqrt(self):
        return F.sqrt(self)

    def abs(self):
        return F.abs(self)

    def clamp(self, min=None, max=None):
        return F.clamp(self, min, max)

    clip = clamp

    def pow(self, exponent):
        return F.pow(self, exponent)

    def relu(self):
        return F.relu(self)

    def sigmoid(self):
        return F.sigmoid(self)

    def tanh(self):
        return F.tanh(self)

    def softmax(self, dim):
        return F.softmax(self, dim)

    def log_softmax(self, dim):
        return F.log_softmax(self, dim)

    # ---- reductions -------------------------------------------------------
    def sum(self, dim=None, keepdim=False):
        return F.sum(self, dim, keepdim)

    def mean(self, dim=None, keepdim=False):
        return F.mean(self, dim, keepdim)

    def max(self, dim=None, keepdim=False):
        return F.max(self, dim, keepdim)

    def min(self, dim=None, keepdim=False):
        return F.min(self, dim, keepdim)

    def var(self, dim=None, unbiased=True, keepdim=False, correction=None):
        return F.var(self, dim, unbiased=unbiased, keepdim=keepdim, correction=correction)

    def std(self, dim=None, unbiased=True, keepdim=False, correction=None):
        return F.std(self, dim, unbiased=unbiased, keepdim=keepdim, correction=correction)

    def logsumexp(self, dim, keepdim=False):
        return F.logsumexp(self, dim, keepdim)

    def argmax(self, dim=None, keepdim=False):
        return F.argmax(self, dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        return F.argmin(self, dim, keepdim)

    # ---- shape ------------------------------------------------------------
    def reshape(self, *shape):
        return F.reshape(self, *shape)

    def view(self, *shape):
        return F.reshape(self, *shape)

    def transpose(self, dim0, dim1):
        return F.transpose(self, dim0, dim1)

    def permute(self, *dims):
        return F.permute(self, *dims)

    def movedim(self, source, destination):
        return F.movedim(self, source, destination)

    def flatten(self, start_dim=0, end_dim=-1):
        return F.flatten(self, start_dim, end_dim)

    def squeeze(self, dim=None):
        return F.squeeze(self, dim)

    def unsqueeze(self, dim):
        return F.unsqueeze(self, dim)

    def expand(self, *sizes):
        return F.expand(self, *sizes)

    def expand_as(self, other):
        return F.expand(self, *other.shape)

    def repeat(self, *repeats):
        return F.repeat(self, *repeats)

    def contiguous(self):
        return self

    @property
    def T(self):
        """All dimensions reversed (the matrix transpose for a 2-d tensor)."""
        return F.permute(self, *reversed(range(self.ndim)))

    @property
    def mT(self):
        """The last two dimensions swapped (a batch of matrices transposed)."""
        return F.transpose(self, -2, -1)

    def t(self):
        return F.t(self)

    def view_as(self, other):
        return F.view_as(self, other)

    def narrow(self, dim, start, length):
        return F.narrow(self, dim, start, length)

    def split(self, split_size, dim=0):
        return F.split(self, split_size, dim)

    def chunk(self, chunks, dim=0):
        return F.chunk(self, chunks, dim)

    def unbind(self, dim=0):
        return F.unbind(self, dim)

    def flip(self, *dims):
        return F.flip(self, dims[0] if len(dims) == 1 and isinstance(dims[0], (list, tuple)) else dims)

    def roll(self, shifts, dims=None):
        return F.roll(self, shifts, dims)

    def tril(self, diagonal=0):
        return F.tril(self, diagonal)

    def triu(self, diagonal=0):
        return F.triu(self, diagonal)

    # ---- comparisons and tests (boolean results, no gradient) ------------
    def eq(self, other):
        return F.eq(self, other)

    def ne(self, other):
        return F.ne(self, other)

    def lt(self, other):
        return F.lt(self, other)

    def le(self, other):
        return F.le(self, other)

    def gt(self, other):
        return F.gt(self, other)

    def ge(self, other):
        return F.ge(self, other)

    def isnan(self):
        return F.isnan(self)

    def isfinite(self):
        return F.isfinite(self)

    def logical_not(self):
        return F.logical_not(self)

    def all(self, dim=None, keepdim=False):
        return F.all(self, dim, keepdim)

    def any(self, dim=None, keepdim=False):
        return F.any(self, dim, keepdim)

    # ---- more elementwise ops and reductions -----------------------------
    def sin(self):
        return F.sin(self)

    def cos(self):
        return F.cos(self)

    def round(self, decimals=0):
        return F.round(self, decimals=decimals)

    def floor(self):
        return F.floor(self)

    def ceil(self):
        return F.ceil(self)

    def sign(self):
        return F.sign(self)

    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        return F.norm(self, p, dim, keepdim, dtype)

    def prod(self, dim=None, keepdim=False, dtype=None):
        return F.prod(self, dim, keepdim, dtype)

    def cumsum(self, dim, dtype=None):
        return F.cumsum(self, dim, dtype)

    # ---- products ---------------------------------------------------------
    def mm(self, mat2):
        return F.mm(self, mat2)

    def bmm(self, mat2):
        return F.bmm(self, mat2)

    def dot(self, other):
        return F.dot(self, other)

    def outer(self, vec2):
        return F.outer(self, vec2)

    # ---- selecting, sorting, sampling ------------------------------------
    def gather(self, dim, index):
        return F.gather(self, dim, index)

    def index_select(self, dim, index):
        return F.index_select(self, dim, index)

    def masked_select(self, mask):
        return F.masked_select(self, mask)

    def masked_fill(self, mask, value):
        return F.masked_fill(self, mask, value)

    def masked_fill_(self, mask, value):
        return F.masked_fill_(self, mask, value)

    def sort(self, dim=-1, descending=False, stable=False):
        return F.sort(self, dim, descending, stable)

    def argsort(self, dim=-1, descending=False, stable=False):
        return F.argsort(self, dim, descending, stable)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        return F.topk(self, k, dim, largest, sorted)

    def multinomial(self, num_samples, replacement=False, *, generator=None):
        return F.multinomial(self, num_samples, replacement, generator=generator)

    # ---- arithmetic as methods, out of place and in place -----------------
    def add(self, other, alpha=1):
        return F.add(self, other if alpha == 1 else other * alpha)

    def sub(self, other, alpha=1):
        return F.sub(self, other if alpha == 1 else other * alpha)

    def mul(self, other):
        return F.mul(self, other)

    def div(self, other):
        return F.div(self, other)

    def matmul(self, other):
        return F.matmul(self, other)

    def neg(self):
        return F.neg(self)

    def square(self):
        return F.mul(self, self)

    def maximum(self, other):
        return F.maximum(self, other)

    def minimum(self, other):
        return F.minimum(self, other)

    def where(self, condition, other):
        return F.where(condition, self, other)

    def erf(self):
        return F.erf(self)

    def amax(self, dim=(), keepdim=False):
        return F.amax(self, dim, keepdim)

    def amin(self, dim=(), keepdim=False):
        return F.amin(self, dim, keepdim)

    def isinf(self):
        return F.isinf(self)

    def add_(self, other, alpha=1):
        return F.inplace.add_(self, other, alpha)

    def sub_(self, other, alpha=1):
        return F.inplace.sub_(self, other, alpha)

    def mul_(self, other):
        return F.inplace.mul_(self, other)

    def div_(self, other):
        return F.inplace.div_(self, other)

    def clamp_(self, min=None, max=None):
        return F.inplace.clamp_(self, min, max)

    def scatter(self, dim, index, src, reduce=None):
        return F.scatter(self, dim, index, src, reduce)

    def scatter_(self, dim, index, src, reduce=None):
        return F.inplace.scatter_(self, dim, index, src, reduce)

    def scatter_add(self, dim, index, src):
        return F.scatter_add(self, dim, index, src)

    def scatter_add_(self, dim, index, src):
        return F.inplace.scatter_add_(self, dim, index, src)

    def logical_and(self, other):
        return F.logical_and(self, other)

    def logical_or(self, other):
        return F.logical_or(self, other)

    def logical_xor(self, other):
        return F.logical_xor(self, other)

    def is_floating_point(self):
        return self.dtype.kind == "f"

    def nelement(self):
        return self.numel()

    def swapaxes(self, axis0, axis1):
        return F.transpose(self, axis0, axis1)

    swapdims = swapaxes

    def broadcast_to(self, size):
        return F.broadcast_to(self, tuple(size))

    def nonzero(self, *, as_tuple=False):
        return F.nonzero(self, as_tuple=as_tuple)

    def repeat_interleave(self, repeats, dim=None):
        return F.repeat_interleave(self, repeats, dim)

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return F.isclose(self, other, rtol, atol, equal_nan)

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return F.allclose(self, other, rtol, atol, equal_nan)

    def equal(self, other):
        return F.equal(self, other)

    def reciprocal(self):
        return F.div(1.0, self)

    def rsqrt(self):
        return F.div(1.0, F.sqrt(self))

    def uniform_(self, from_=0.0, to=1.0):
        return F.inplace.uniform_(self, from_, to)

    def normal_(self, mean=0.0, std=1.0):
        return F.inplace.normal_(self, mean, std)

    def bernoulli(self, p=None, *, generator=None):
        return F.bernoulli(self, p, generator=generator)

    # ---- new tensors with this one's dtype and device ----------------------
    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        from .creation import tensor
        return tensor(data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        from .creation import zeros
        return zeros(*size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        from .creation import ones
        return ones(*size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        from .creation import empty
        return empty(*size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        from .creation import full
        return full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)


def is_tensor(obj):
    """True for a tinydl Tensor (``td.is_tensor``, as ``torch.is_tensor``)."""
    return isinstance(obj, Tensor)


def _to_arguments(args, kwargs):
    """(device, dtype, copy) from ``Tensor.to``'s positional and keyword arguments (None: unchanged)."""
    device, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)  # accepted: tinydl's copies between devices are synchronous
    if kwargs:
        raise TypeError(
            f"to: unexpected keyword argument(s) {sorted(kwargs)}; it takes device, dtype, non_blocking and copy"
        )
    flags = [value for value in args if isinstance(value, (bool, np.bool_))]  # to(dtype, non_blocking, copy)
    if len(flags) > 1:
        copy = flags[1]
    for value in args:
        if isinstance(value, Tensor):
            device, dtype = value.device, value.dtype
        elif isinstance(value, str) and value.startswith(("cpu", "cuda", "gpu")):
            device = value  # td.device is a str too
        elif value is not None and not isinstance(value, (bool, np.bool_)):
            dtype = value
    if device is not None:
        device = backend.normalize_device(device)
    if dtype is not None:
        try:
            dtype = as_dtype(dtype)
        except TypeError:
            what = f"{dtype!r} ({type(dtype).__name__})"
            raise TypeError(f"to: expected a device, a dtype or a tensor, got {what}") from None
    return device, dtype, bool(copy)


def _to_array(value, dtype=None):
    """An ndarray from array-like ``value`` following the contract's dtype rules:
    ndarrays keep their dtype; Python floats become float32, ints int64."""
    if isinstance(value, np.ndarray) or isinstance(value, _cupy_ndarray()):
        array = value
        _check_supported_dtype(array.dtype, "tensor")
    elif isinstance(value, Tensor):
        array = value.data
    else:
        array = _list_to_array(value) if isinstance(value, (list, tuple)) else np.asarray(value)
        if array.dtype == np.float64 and dtype is None:  # a given dtype converts the exact values, no float32 detour
            array = array.astype(float32)
        elif array.dtype.kind in "iu":
            array = array.astype(int64)
        elif array.dtype.kind not in "fb":
            raise TypeError(f"tensor: cannot make a tensor from {type(value).__name__} of dtype {array.dtype}")
    if dtype is not None:
        array = array.astype(as_dtype(dtype), copy=False)
    return array


def _is_int(value):
    """A Python int, not a bool: ``Tensor(5)`` is a shape. (A NumPy integer stays a value: it is what
    reducing an integer array returns, and tinydl wraps those results with ``Tensor(...)``.)"""
    return isinstance(value, int) and not isinstance(value, bool)


def _legacy_shape(size):
    """The float32 zeros PyTorch's ``Tensor(2, 3)`` gives (uninitialized there, zeros here)."""
    if not all(_is_int(n) for n in size):
        raise TypeError(
            f"Tensor: Tensor(*sizes) takes ints, got ({', '.join(type(n).__name__ for n in size)}); "
            "requires_grad is keyword-only: "
            "write Tensor(data, requires_grad=True), or td.tensor(data, requires_grad=True)"
        )
    if any(n < 0 for n in size):
        raise RuntimeError(f"Tensor: a size cannot be negative, got {size}")
    return np.zeros(size, float32)


def _check_supported_dtype(dtype, op):
    """Refuse arrays tinydl cannot compute with (object, str, complex, dates) at once, rather than
    letting them fail inside the first op that meets them."""
    if dtype.kind in "biuf":  # bool, signed and unsigned integers, floats
        return
    if dtype.kind == "c":
        raise TypeError(f"{op}: complex arrays (dtype {dtype}) are not supported: tinydl has no complex numbers; "
                        "pass the real and imaginary parts (.real, .imag) as separate tensors")
    raise TypeError(f"{op}: cannot make a tensor from an array of dtype {dtype}; "
                    "tinydl supports bool, integer and floating-point arrays")


def _list_to_array(values):
    """A (nested) list of numbers, arrays or Tensors as one array.

    NumPy builds it on the host. A list of device values (CuPy arrays or cuda Tensors, such as
    the 0-d results of reductions on the GPU) is stacked on the device instead: NumPy cannot
    read device memory, and reading the values back one by one would cost a sync each."""
    if _holds_device_values(values):
        return _stack_on_device(values)
    if any(isinstance(v, Tensor) for v in values):
        values = [v.data if isinstance(v, Tensor) else v for v in values]
    return np.asarray(values)


def _on_device(value):
    return isinstance(value, _cupy_ndarray()) or (isinstance(value, Tensor) and value.device != "cpu")


def _holds_device_values(values):
    """Whether a list holds device values: any of its items, or the first number of its nested
    lists (looking at every nested item would cost more than building the array)."""
    if backend.cp is None:
        return False
    first = values
    while isinstance(first, (list, tuple)) and len(first) > 0:
        first = first[0]
    return _on_device(first) or any(_on_device(v) for v in values)


def _stack_on_device(values):
    """A (nested) list holding device values, stacked on the device (host numbers copied there)."""
    cp = backend.cp
    parts = [
        _stack_on_device(v) if isinstance(v, (list, tuple)) else (v.data if isinstance(v, Tensor) else v)
        for v in values
    ]
    return cp.stack([cp.asarray(p) for p in parts])


from . import functional as F  # noqa: E402  (the ops build on Tensor, defined above)
