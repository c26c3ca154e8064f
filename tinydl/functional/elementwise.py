"""Elementwise ops: arithmetic, exp/log/sqrt/abs, clamp, maximum/minimum, where, casts.

Binary ops broadcast like NumPy.  Their backward first computes the gradient
at the broadcast shape, then ``sum_to`` reduces it back to each input's shape.
Every backward is written with Tensor operations, so it can be differentiated
again (docs/autograd.md, "Double backward").
"""
import math

import numpy as np

from .. import backend
from ..autograd import Function
from ..tensor import Tensor, float32
from .broadcast import sum_to


def _pair(a, b):
    """Both operands as Tensors; a Python number adopts the dtype of the other side."""
    if not isinstance(a, Tensor):
        a = Tensor._from_value(a, like=b if isinstance(b, Tensor) else None)
    if not isinstance(b, Tensor):
        b = Tensor._from_value(b, like=a)
    return a, b


def promoted_dtype(dtypes):
    """The dtype PyTorch gives to an op on tensors of these dtypes: the highest category
    (bool < integer < floating point) decides, so float32 beside int64 is float32 (NumPy would
    say float64); within one category, NumPy's promotion, which is PyTorch's there."""
    floats = [d for d in dtypes if d.kind == "f"]
    return np.result_type(*floats) if floats else np.result_type(*dtypes)


def _promoted_pair(a, b):
    """``_pair(a, b)``, with an integer or boolean side cast to the other side's float dtype
    (PyTorch's type promotion; see ``promoted_dtype``)."""
    a, b = _pair(a, b)
    if a.dtype.kind == "f" and b.dtype.kind != "f":
        b = cast(b, a.dtype)
    elif b.dtype.kind == "f" and a.dtype.kind != "f":
        a = cast(a, b.dtype)
    return a, b


def _as_float(x):
    """x itself if floating point, else x cast to float32: what PyTorch's float-only ops (exp, log,
    sqrt, sigmoid, ...) do with integer and boolean tensors."""
    return x if x.dtype.kind == "f" else cast(x, float32)


class _Binary(Function):
    """A binary op whose forward broadcasts; shapes that don't broadcast get a clear error."""

    def forward(self, a, b):
        try:
            return self.compute(a, b)
        except ValueError:
            name = type(self).__name__.lower()
            raise ValueError(
                f"{name}: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be broadcast together"
            ) from None


class Add(_Binary):
    """y = a + b;  dy/da = dy/db = 1."""

    def compute(self, a, b):
        return a + b

    def backward(self, gy):
        a, b = self.inputs
        return sum_to(gy, a.shape), sum_to(gy, b.shape)


class Sub(_Binary):
    """y = a - b;  dy/da = 1, dy/db = -1."""

    def compute(self, a, b):
        return a - b

    def backward(self, gy):
        a, b = self.inputs
        return sum_to(gy, a.shape), sum_to(-gy, b.shape)


class Mul(_Binary):
    """y = a * b;  dy/da = b, dy/db = a."""

    def compute(self, a, b):
        return a * b

    def backward(self, gy):
        a, b = self.inputs
        ga = sum_to(gy * b, a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(gy * a, b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Div(_Binary):
    """y = a / b;  dy/da = 1 / b, dy/db = -a / b^2."""

    def compute(self, a, b):
        # NumPy warns at x / 0 where PyTorch is silent; not silenced here: np.errstate costs ~2 us a call,
        # a third of a small division, and Div runs in many backward formulas
        return a / b

    def backward(self, gy):
        a, b = self.inputs
        ga = sum_to(gy / b, a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(-gy * a / (b * b), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Pow(_Binary):
    """y = a ** b;  dy/da = b a^(b-1),  dy/db = y log a.

    As in PyTorch, dy/da is 0 where b = 0 (a^0 = 1 is flat, even at a = 0, where
    b a^(b-1) would be 0 * inf), and dy/db is 0 where a = 0 and b >= 0 (where y log a
    would be 0 * -inf).  The first mask is applied only where a = 0 too: elsewhere
    b a^(b-1) is already 0 at b = 0, and keeping it keeps d/db (dy/da) = a^-1 there.
    """

    def compute(self, a, b):
        if a.dtype.kind in "iu" and b.dtype.kind in "iu":
            return _integer_power(a, b)
        return a**b

    def backward(self, gy):
        a, b = self.inputs
        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore"):  # the inf / nan computed at a = 0 are masked out
            if self.needs_input_grad[0]:
                ga = sum_to(gy * where((b.data == 0) & (a.data == 0), 0.0, b * a ** (b - 1)), a.shape)
            if self.needs_input_grad[1]:
                base_zero = (a.data == 0) & (b.data >= 0)
                gb = sum_to(gy * where(base_zero, 0.0, self.outputs[0] * log(a)), b.shape)
        return ga, gb


def _integer_power(a, b):
    """a ** b for integer arrays, with PyTorch's answer where b < 0 (NumPy refuses): the integer
    part of 1 / a^|b|, which is 0 except for a = 1 (1) and a = -1 (+1 or -1 by b's parity)."""
    xp = backend.get_array_module(a)
    result = a ** xp.abs(b)
    ones = xp.where(b % 2 == 0, 1, a).astype(result.dtype)  # (+-1)^|b|; 1/(+-1)^|b| is the same number
    return xp.where(b >= 0, result, xp.where(xp.abs(a) == 1, ones, 0).astype(result.dtype))


class Neg(Function):
    """y = -x;  dy/dx = -1."""

    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class Exp(Function):
    """y = e^x;  dy/dx = y."""

    def forward(self, x):
        return backend.get_array_module(x).exp(x)

    def backward(self, gy):
        return gy * self.outputs[0]


class Log(Function):
    """y = log x;  dy/dx = 1 / x."""

    def forward(self, x):
        with np.errstate(divide="ignore", invalid="ignore"):  # log 0 = -inf, log -1 = nan: PyTorch's, silently
            return backend.get_array_module(x).log(x)

    def backward(self, gy):
        return gy / self.inputs[0]


class Sqrt(Function):
    """y = sqrt(x);  dy/dx = 1 / (2 y)."""

    def forward(self, x):
        return backend.get_array_module(x).sqrt(x)

    def backward(self, gy):
        return gy / (2 * self.outputs[0])


class MaskedGrad(Function):
    """gx = gy * mask: the backward of an op whose local derivative is piecewise constant
    (relu: mask = [x > 0]; leaky_relu: 1 or slope; abs: sign(x)).

    The mask depends on x only through comparisons, so d mask / dx = 0.  Writing the
    backward as ``gy * Tensor(mask)`` would give the right numbers but cut x out of the
    gradient's graph.  MaskedGrad takes x as an input anyway, as PyTorch's
    ``threshold_backward(grad, x)`` does, so that x stays in that graph with a zero
    second derivative: ``td.grad(gx, x)`` is zeros rather than "input was not used", and a
    parameter in front of x gets ``.grad`` zeros (not None) from a penalty on gx, which is
    what AdamW's weight decay and Adam's moments see in PyTorch (docs/autograd.md, section 4).

        forward(gy, x) = gy * mask                       gy, x, mask: the same shape
        backward(ggx)  = (ggx * mask, 0)                 d/dgy = mask, d/dx = 0

    The gradient for gy goes through MaskedGrad again, so x stays in the graph at every order.
    """

    def __init__(self, mask):
        self.mask = mask  # a constant array of x's shape and dtype

    def forward(self, gy, x):
        return gy * self.mask

    def backward(self, ggx):
        gy, x = self.inputs
        g_gy = MaskedGrad(self.mask)(ggx, x) if self.needs_input_grad[0] else None
        g_x = Tensor(backend.get_array_module(x.data).zeros(x.shape, dtype=x.dtype)) if self.needs_input_grad[1] else None
        return g_gy, g_x


def masked_grad(gy, x, mask):
    """``gy * mask`` with ``x`` kept in the gradient's graph (see MaskedGrad)."""
    return MaskedGrad(mask)(gy, x)


class Abs(Function):
    """y = |x|;  dy/dx = sign(x) (0 at x = 0, as in PyTorch)."""

    def forward(self, x):
        return backend.get_array_module(x).abs(x)

    def backward(self, gy):
        x = self.inputs[0]
        return masked_grad(gy, x, backend.get_array_module(x.data).sign(x.data))


class Erf(Function):
    """y = erf(x);  dy/dx = 2 / sqrt(pi) * exp(-x^2)."""

    def forward(self, x):
        return backend.erf(x).astype(x.dtype, copy=False)

    def backward(self, gy):
        x = self.inputs[0]
        return gy * (2 / math.sqrt(math.pi)) * exp(-(x * x))


class Clamp(Function):
    """Clip to [low, high]; the gradient passes where low <= x <= high (PyTorch's choice at the edges)."""

    def __init__(self, low, high):
        self.low, self.high = low, high

    def forward(self, x):
        return backend.get_array_module(x).clip(x, self.low, self.high)

    def backward(self, gy):
        x = self.inputs[0].data
        inside = backend.get_array_module(x).ones(x.shape, dtype=bool)
        if self.low is not None:
            inside &= x >= self.low
        if self.high is not None:
            inside &= x <= self.high
        return gy * Tensor(inside.astype(x.dtype))


class _Select(_Binary):
    """maximum / minimum: the gradient goes to the chosen side, split evenly at ties."""

    def backward(self, gy):
        a, b = self.inputs
        xp = backend.get_array_module(a.data)
        chose_a = self.picks_a(a.data, b.data) + 0.5 * (a.data == b.data)  # 1, 0, or 0.5 at a tie
        chose_a = Tensor(xp.asarray(chose_a, dtype=gy.dtype))
        return sum_to(gy * chose_a, a.shape), sum_to(gy * (1 - chose_a), b.shape)


class Maximum(_Select):
    """y = max(a, b) elementwise."""

    def compute(self, a, b):
        return backend.get_array_module(a).maximum(a, b)

    @staticmethod
    def picks_a(a, b):
        return a > b


class Minimum(_Select):
    """y = min(a, b) elementwise."""

    def compute(self, a, b):
        return backend.get_array_module(a).minimum(a, b)

    @staticmethod
    def picks_a(a, b):
        return a < b


class Where(_Binary):
    """``condition ? a : b`` elementwise; the condition is a constant boolean array."""

    def __init__(self, condition):
        self.condition = condition

    def forward(self, a, b):
        try:
            return backend.get_array_module(a).where(self.condition, a, b)
        except ValueError:
            raise ValueError(
                f"where: condition of shape {tuple(self.condition.shape)} and values of shapes {tuple(a.shape)} "
                f"and {tuple(b.shape)} cannot be broadcast together"
            ) from None

    def backward(self, gy):
        a, b = self.inputs
        zero = Tensor._from_value(0.0, like=gy)
        ga = sum_to(where(self.condition, gy, zero), a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(where(self.condition, zero, gy), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Cast(Function):
    """Change dtype; the gradient is cast back to the input's dtype."""

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        return x.astype(self.dtype)

    def backward(self, gy):
        return cast(gy, self.inputs[0].dtype)


class ToDevice(Function):
    """Move between CPU and GPU; the gradient moves back."""

    def __init__(self, device):
        self.device = device

    def forward(self, x):
        return backend.to_device(x, self.device)

    def backward(self, gy):
        return to_device(gy, self.inputs[0].device)


class Clone(Function):
    """A copy; the gradient passes through unchanged."""

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy


# ---- the functions users call ---------------------------------------------
def add(a, b):
    """a + b with broadcasting; either side may be a Python number."""
    return Add()(*_promoted_pair(a, b))


def sub(a, b):
    """a - b with broadcasting."""
    return Sub()(*_promoted_pair(a, b))


def mul(a, b):
    """a * b with broadcasting."""
    return Mul()(*_promoted_pair(a, b))


def div(a, b):
    """a / b with broadcasting (true division: integers give float32, as in PyTorch)."""
    a, b = _pair(a, b)
    if a.dtype.kind != "f" and b.dtype.kind != "f":  # true division of integers gives floats
        a = cast(a, float32)
    return Div()(*_promoted_pair(a, b))


def pow(a, b):
    """a ** b with broadcasting (tensor or number on either side).

    Integer tensors follow PyTorch: ``t ** -1`` with a negative Python int is refused (the answer
    is not an integer); a negative integer *tensor* exponent gives the integer part of the result."""
    _check_integer_power(a, b)
    return Pow()(*_promoted_pair(a, b))


def _check_integer_power(a, b):
    integer_base = isinstance(a, Tensor) and a.dtype.kind in "iub"
    negative_int = isinstance(b, (int, np.integer)) and not isinstance(b, (bool, np.bool_)) and b < 0
    if integer_base and negative_int:
        raise ValueError(
            f"pow: integers to negative integer powers are not allowed (a tensor of dtype {a.dtype} and shape "
            f"{tuple(a.shape)} ** {b}); use a float tensor, e.g. x.float() ** {b}"
        )


def neg(x):
    """-x."""
    return Neg()(x)


def exp(x):
    """e^x elementwise."""
    return Exp()(_as_float(x))


def log(x):
    """The natural logarithm elementwise."""
    return Log()(_as_float(x))


def sqrt(x):
    """The square root elementwise."""
    return Sqrt()(_as_float(x))


def abs(x):
    """|x| elementwise."""
    return Abs()(x)


def erf(x):
    """The error function elementwise."""
    return Erf()(_as_float(x))


def clamp(x, min=None, max=None):
    """x clipped to [min, max] (either bound may be None)."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    return Clamp(min, max)(x)


def maximum(a, b):
    """The elementwise larger of a and b (ties split the gradient evenly)."""
    return Maximum()(*_promoted_pair(a, b))


def minimum(a, b):
    """The elementwise smaller of a and b (ties split the gradient evenly)."""
    return Minimum()(*_promoted_pair(a, b))


def where(condition, a=None, b=None):
    """Elementwise ``a`` where ``condition`` is True, else ``b``; differentiable in a and b.

    Numbers and host arrays follow the tensors' device, or the condition's when neither
    ``a`` nor ``b`` is a Tensor: ``td.where(mask, 1.0, 0.0)`` lives where ``mask`` does.
    ``td.where(condition)`` alone is ``td.nonzero(condition, as_tuple=True)``, as in PyTorch."""
    if a is None and b is None:
        from .counting import nonzero  # imported here: counting.py imports modules that import this one

        return nonzero(_bool_condition(condition), as_tuple=True)
    if a is None or b is None:
        raise TypeError(f"where: give both a and b, or neither (got only {'b' if a is None else 'a'})")
    condition = _bool_condition(condition)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = Tensor._from_value(a, like=condition)
    a, b = _promoted_pair(a, b)
    return Where(_condition_on(condition, a.device))(a, b)


def _bool_condition(condition):
    """A condition (Tensor, NumPy / CuPy array, list or bool) as a boolean Tensor where it lives."""
    if condition is None:
        raise TypeError("where: argument 'condition' must be a Tensor, not NoneType")
    data = condition.data if isinstance(condition, Tensor) else Tensor(condition).data
    return Tensor(data.astype(bool, copy=False))


def _condition_on(condition, device):
    """The condition's array on the values' device. A host condition is copied to the GPU; a
    GPU condition beside host values is refused (reading it back would be a hidden sync)."""
    if condition.device != device and device == "cpu":
        raise RuntimeError(
            f"where: the condition is on {condition.device} but the values are on {device}; "
            "move one of them with .to(...)"
        )
    return backend.to_device(condition.data, device)


def cast(x, dtype):
    """x converted to ``dtype`` (differentiable; the gradient comes back in x's dtype)."""
    if x.dtype == dtype:
        return x
    return Cast(dtype)(x)


def to_device(x, device):
    """x moved to 'cpu' or 'cuda' (differentiable)."""
    if x.device == device:
        return x
    return ToDevice(device)(x)


def clone(x):
    """A copy of x that stays in the graph."""
    return Clone()(x)


def _compare(name):
    """Comparisons give boolean Tensors and carry no gradient."""

    def compare(a, b):
        a, b = _pair(a, b)
        try:
            return Tensor(getattr(a.data, name)(b.data))
        except ValueError:
            raise ValueError(
                f"{name.strip('_')}: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be broadcast together"
            ) from None

    return compare


eq = _compare("__eq__")
ne = _compare("__ne__")
lt = _compare("__lt__")
le = _compare("__le__")
gt = _compare("__gt__")
ge = _compare("__ge__")
