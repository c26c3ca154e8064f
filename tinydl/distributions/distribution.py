"""The base class of every distribution: its shapes, sampling shapes and argument checks.

A distribution holds a batch of independent distributions of the same family
(``batch_shape``), each over values of shape ``event_shape``. Drawing
``sample_shape`` samples gives a tensor of shape ``sample_shape + batch_shape +
event_shape``; ``log_prob(value)`` broadcasts ``value`` against
``batch_shape + event_shape`` and returns one number per distribution.

``sample()`` records no graph; ``rsample()`` (where a family has it) writes the
sample as a differentiable function of the parameters and of parameter-free
noise, the reparameterization trick (docs/vae.md).

With ``validate_args`` on (PyTorch's default, changed for all distributions by
``Distribution.set_default_validate_args(False)``) the parameters are checked
when the distribution is made, and values when ``log_prob`` is called, with
PyTorch's errors. The checks on GPU data are read with the next value the host
reads (tinydl/device_checks.py): no sync of their own.
"""
import numbers

import numpy as np

from .. import backend
from ..device_checks import check
from ..functional import broadcast_to
from ..tensor import Tensor


class Distribution:
    has_rsample = False
    has_enumerate_support = False
    arg_constraints = {}  # parameter name -> constraints.Constraint
    _validate_args = __debug__  # PyTorch's default: on, unless Python runs with -O

    @staticmethod
    def set_default_validate_args(value):
        """Turn argument validation on (True, the default) or off (False) for every distribution."""
        if value not in [True, False]:
            raise ValueError(f"set_default_validate_args: value must be True or False, got {value!r}")
        Distribution._validate_args = value

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None):
        self._batch_shape = tuple(batch_shape)
        self._event_shape = tuple(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            for name, constraint in self.arg_constraints.items():
                if name in self.__dict__:  # given, not derived later from the other parameter
                    self._check_parameter(name, constraint)

    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def event_shape(self):
        return self._event_shape

    # ---- what each family defines --------------------------------------------------------
    @property
    def mean(self):
        raise NotImplementedError(f"{type(self).__name__} does not implement mean")

    @property
    def mode(self):
        raise NotImplementedError(f"{type(self).__name__} does not implement mode")

    @property
    def variance(self):
        raise NotImplementedError(f"{type(self).__name__} does not implement variance")

    @property
    def stddev(self):
        return self.variance.sqrt()

    def rsample(self, sample_shape=()):
        raise NotImplementedError(
            f"{type(self).__name__} has no rsample: its samples are not a differentiable function of its "
            "parameters; use sample() and differentiate log_prob instead (the score function, docs/reinforce.md)")

    def sample(self, sample_shape=()):
        """``sample_shape`` samples, without a graph."""
        from ..autograd import no_grad

        with no_grad():
            return self.rsample(sample_shape)

    def log_prob(self, value):
        raise NotImplementedError(f"{type(self).__name__} does not implement log_prob")

    def cdf(self, value):
        raise NotImplementedError(f"{type(self).__name__} does not implement cdf")

    def icdf(self, value):
        raise NotImplementedError(f"{type(self).__name__} does not implement icdf")

    def entropy(self):
        raise NotImplementedError(f"{type(self).__name__} does not implement entropy")

    def enumerate_support(self, expand=True):
        raise NotImplementedError(f"{type(self).__name__} does not implement enumerate_support")

    def perplexity(self):
        return self.entropy().exp()

    # ---- shapes and checks shared by every family ----------------------------------------
    def _extended_shape(self, sample_shape=()):
        """sample_shape + batch_shape + event_shape."""
        try:
            sample_shape = tuple(int(n) for n in sample_shape)
        except TypeError:
            raise TypeError(f"{type(self).__name__}.sample: sample_shape must be a tuple of ints such as (5,), "
                            f"got {sample_shape!r}") from None
        return sample_shape + self._batch_shape + self._event_shape

    def _check_parameter(self, name, constraint):
        value = getattr(self, name)
        bad = ~backend.get_array_module(value.data).all(constraint.check(value.data))
        check(bad, lambda: ValueError(
            f"Expected parameter {name} (Tensor of shape {tuple(value.shape)}) of distribution {self!r} "
            f"to satisfy the constraint {constraint!r}, but found invalid values:\n{_values(value)}"))

    def _validate_sample(self, value):
        """PyTorch's checks of a value given to log_prob: a Tensor, of a broadcastable shape, in the support."""
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        event_dim = len(self._event_shape)
        if value.shape[value.ndim - event_dim:] != self._event_shape:
            raise ValueError(f"The right-most size of value must match event_shape: {tuple(value.shape)} vs "
                             f"{self._event_shape}.")
        expected = self._batch_shape + self._event_shape
        for i, j in zip(reversed(value.shape), reversed(expected)):
            if i != 1 and j != 1 and i != j:
                raise ValueError(f"Value is not broadcastable with batch_shape+event_shape: {tuple(value.shape)} "
                                 f"vs {expected}.")
        bad = ~backend.get_array_module(value.data).all(self.support.check(value.data))
        check(bad, lambda: ValueError(
            f"Expected value argument (Tensor of shape {tuple(value.shape)}) to be within the support "
            f"({self.support!r}) of the distribution {self!r}, but found invalid values:\n{_values(value)}"))

    def _value_tensor(self, value, like):
        """``value`` checked (with validate_args) or made a Tensor beside ``like`` (without)."""
        if self._validate_args:
            self._validate_sample(value)
        else:
            value = Tensor._from_value(value, like=like)
        if value.device != like.device:
            raise RuntimeError(f"{type(self).__name__}.log_prob: value is on {value.device} but the distribution's "
                               f"parameters are on {like.device}; move it with .to(device)")
        return value

    def __repr__(self):
        shown = []
        for name in self.arg_constraints:
            if name in self.__dict__:
                p = self.__dict__[name]
                shown.append(f"{name}: {p.item() if p.numel() == 1 else tuple(p.shape)}")
        return f"{type(self).__name__}({', '.join(shown)})"


def broadcast_all(*values, op="Distribution"):
    """Numbers and Tensors as Tensors of one broadcast shape (differentiably).

    Numbers take the dtype and device of the first Tensor, or float32 on the CPU without one."""
    for v in values:
        if not isinstance(v, (Tensor, numbers.Number)) or isinstance(v, bool):
            raise TypeError(f"{op}: parameters must be Tensors or numbers, got {type(v).__name__}")
    like = next((v for v in values if isinstance(v, Tensor)), None)
    if like is not None and like.dtype.kind != "f":
        like = None  # an integer tensor: numbers next to it stay floats
    tensors = [v if isinstance(v, Tensor) else Tensor._from_value(float(v), like=like) for v in values]
    try:
        shape = np.broadcast_shapes(*(t.shape for t in tensors))
    except ValueError:
        raise RuntimeError(f"{op}: the parameters' shapes {[tuple(t.shape) for t in tensors]} do not broadcast "
                           "together") from None
    return [t if t.shape == shape else broadcast_to(t, shape) for t in tensors]


def noise_dtype(dtype):
    """The dtype to draw random numbers in: NumPy and CuPy draw float32 and float64, not float16."""
    return dtype if dtype.itemsize >= 4 else np.dtype(np.float32)


def _values(t):
    """A tensor's values for an error message (read from the device only when the error is raised)."""
    return np.array2string(backend.to_numpy(t.data), threshold=20)
