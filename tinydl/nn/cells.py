"""``nn.RNNCell``, ``nn.LSTMCell`` and ``nn.GRUCell``: one step of a recurrent layer, PyTorch's names.

Each module holds ``weight_ih`` (G*H, I), ``weight_hh`` (G*H, H), ``bias_ih`` and
``bias_hh`` (G*H,) (None with ``bias=False``), all drawn from U(-1/sqrt(H), 1/sqrt(H)),
and calls the functional cell (``F.rnn_tanh_cell``, ``F.lstm_cell``, ``F.gru_cell``,
in ``functional/cells.py``), whose backward autograd derives.

``forward(input, hx=None)``: input (N, I) or unbatched (I,); hx the state (N, H)
or (H,) (the LSTM: a tuple (h, c)), zeros when not given.  Returns the next state
in the same form: h', or (h', c') for the LSTM.  docs/recurrent.md, "One step at a time".
"""
import math

from .. import backend, creation
from ..functional.cells import gru_cell, lstm_cell, rnn_relu_cell, rnn_tanh_cell
from ..tensor import Tensor
from . import init
from .module import Module, Parameter


class RNNCellBase(Module):
    """The parameters and the input handling the three cells share.

    A subclass sets ``gates`` (rows of the weights per hidden unit) and ``state_parts``
    (1 for h, 2 for the LSTM's (h, c)) and implements ``_step(x, states)`` on batched
    (N, I) and (N, H) tensors, returning the tuple of new states.
    """

    gates = 1
    state_parts = 1

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        input_size = creation.size_int(input_size, "input_size", name)
        hidden_size = creation.size_int(hidden_size, "hidden_size", name)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bool(bias)
        device = "cpu" if device is None else device
        rows = self.gates * hidden_size
        self.weight_ih = Parameter(creation.empty(rows, input_size, device=device, dtype=dtype))
        self.weight_hh = Parameter(creation.empty(rows, hidden_size, device=device, dtype=dtype))
        if self.bias:
            self.bias_ih = Parameter(creation.empty(rows, device=device, dtype=dtype))
            self.bias_hh = Parameter(creation.empty(rows, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        """Every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H)), PyTorch's default."""
        bound = 1 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def forward(self, input, hx=None):
        x, unbatched = self._batched_input(input)  # (N, I)
        states = self._states(hx, x, unbatched)  # state_parts tensors (N, H)
        new = self._step(x, states)
        if unbatched:
            new = tuple(s.squeeze(0) for s in new)
        return new if self.state_parts > 1 else new[0]

    def _batched_input(self, input):
        """The input as (N, I), and whether it was an unbatched (I,)."""
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: expected input of shape (N, input_size) or (input_size,), "
                             f"got {tuple(input.shape)}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input of shape {tuple(input.shape)} has {input.shape[-1]} features in its "
                             f"last dim, expected input_size={self.input_size}")
        if input.dtype != self.weight_ih.dtype:
            raise TypeError(f"{name}: input is {input.dtype} but the parameters are {self.weight_ih.dtype}; "
                            "convert the input or the module (.double(), .float())")
        unbatched = input.ndim == 1
        return (input.unsqueeze(0) if unbatched else input), unbatched

    def _states(self, hx, x, unbatched):
        """hx checked, as a tuple of (N, H) tensors; zeros when hx is None."""
        name = type(self).__name__
        if hx is None:
            xp = backend.get_array_module(x.data)
            shape = (x.shape[0], self.hidden_size)
            return tuple(Tensor(xp.zeros(shape, dtype=x.dtype)) for _ in range(self.state_parts))
        parts = tuple(hx) if self.state_parts > 1 and isinstance(hx, (tuple, list)) else (hx,)
        if len(parts) != self.state_parts or not all(isinstance(p, Tensor) for p in parts):
            wanted = "a tuple (h, c) of Tensors" if self.state_parts > 1 else "a Tensor"
            raise TypeError(f"{name}: hx must be {wanted}, got {type(hx).__name__}")
        expected = (self.hidden_size,) if unbatched else (x.shape[0], self.hidden_size)
        kind = f"an unbatched input of shape {(self.input_size,)}" if unbatched else \
            f"an input of shape {tuple(x.shape)}"
        for part_name, p in zip(("h", "c"), parts):
            if tuple(p.shape) != expected:
                raise ValueError(f"{name}: {part_name} should have shape {expected} for {kind}, "
                                 f"got {tuple(p.shape)}")
        return tuple(p.unsqueeze(0) for p in parts) if unbatched else parts

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(RNNCellBase):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu); weights (H, I) and (H, H)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def _step(self, x, states):
        cell = rnn_tanh_cell if self.nonlinearity == "tanh" else rnn_relu_cell
        return (cell(x, states[0], self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh),)

    def extra_repr(self):
        text = super().extra_repr()
        return text + (", nonlinearity=relu" if self.nonlinearity == "relu" else "")


class LSTMCell(RNNCellBase):
    """One LSTM step, gate order i, f, g, o (weights (4H, ...)); forward returns (h', c')."""

    gates = 4
    state_parts = 2

    def _step(self, x, states):
        return lstm_cell(x, states[0], states[1], self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


class GRUCell(RNNCellBase):
    """One GRU step, gate order r, z, n (weights (3H, ...)), n = tanh(W_in x + b_in + r * (W_hn h + b_hn))."""

    gates = 3

    def _step(self, x, states):
        return (gru_cell(x, states[0], self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh),)
