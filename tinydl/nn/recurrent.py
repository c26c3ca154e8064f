"""``nn.RNN``, ``nn.LSTM`` and ``nn.GRU``: stacks of recurrent layers, PyTorch's constructor and names.

The modules only hold parameters and route a sequence through the layers;
each layer and direction is one call of a functional op (``F.rnn_tanh``,
``F.lstm``, ``F.gru``), whose backward is the hand-written BPTT.

* Parameters, per layer k and direction (suffix ``_reverse`` for the second):
  ``weight_ih_l{k}`` (G*H, input of the layer), ``weight_hh_l{k}`` (G*H, H),
  ``bias_ih_l{k}``, ``bias_hh_l{k}`` (G*H,), with G = 1, 4 or 3 gates, so a
  PyTorch ``state_dict`` loads unchanged.  All drawn from U(-1/sqrt(H), 1/sqrt(H)), like PyTorch.
* Layer k > 0 reads the output of layer k - 1 (both directions concatenated,
  so its input size is H * num_directions), with dropout in between in training.
* The reverse direction runs the same op on the time-reversed sequence and
  reverses its output back, so its output at step t has read x_t .. x_{T-1}.
* Input (T, N, I), or (N, T, I) with ``batch_first=True``, or an unbatched (T, I).
  States h_0 / c_0 (num_layers * num_directions, N, H), zeros when not given,
  ordered layer by layer, forward direction first.  ``forward`` returns
  ``(output, h_n)`` (``(output, (h_n, c_n))`` for the LSTM) with output
  (T, N, H * num_directions): the last layer's hidden state at every step.

docs/recurrent.md, "The modules" (and "Truncated BPTT" for carrying states between chunks).
"""
import math
import numbers
import warnings

from .. import backend, creation
from ..functional.dropout import dropout as dropout_op
from ..functional.recurrent import gru, lstm, rnn_relu, rnn_tanh
from ..functional.shape import cat, stack
from ..tensor import Tensor
from . import init
from .module import Module, Parameter


class RNNBase(Module):
    """What RNN, LSTM and GRU share: the parameters of every layer and direction, and the loop over them.

    A subclass sets ``gates`` (rows of the weights per hidden unit), ``state_parts``
    (1 for h, 2 for the LSTM's h and c) and implements ``_layer(x, states, w_ih, w_hh, b_ih, b_hh)``
    returning ``(y, final_states)`` for one layer and direction.
    """

    gates = 1
    state_parts = 1

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device="cpu", dtype=None):
        super().__init__()
        name = type(self).__name__
        for arg, value, smallest in (("input_size", input_size, 1), ("hidden_size", hidden_size, 1),
                                     ("num_layers", num_layers, 1)):
            if not isinstance(value, int) or isinstance(value, bool) or value < smallest:
                raise ValueError(f"{name}: {arg} must be an int >= {smallest}, got {value!r}")
        if not isinstance(dropout, numbers.Real) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout must be a number in [0, 1], got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{name}: dropout={dropout} acts between layers only, so with num_layers=1 it does nothing")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bool(bias), bool(batch_first), float(dropout)
        self.bidirectional = bool(bidirectional)
        self.num_directions = 2 if bidirectional else 1
        rows = self.gates * hidden_size
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * self.num_directions
            for direction in range(self.num_directions):
                suffix = self._suffix(layer, direction)
                # registered in PyTorch's order: w_ih, w_hh, b_ih, b_hh of each layer and direction
                shapes = {"weight_ih": (rows, layer_input), "weight_hh": (rows, hidden_size)}
                if self.bias:
                    shapes.update(bias_ih=(rows,), bias_hh=(rows,))
                for name, shape in shapes.items():
                    setattr(self, name + suffix, Parameter(creation.empty(*shape, device=device, dtype=dtype)))
        self.reset_parameters()

    @staticmethod
    def _suffix(layer, direction):
        return f"_l{layer}" + ("_reverse" if direction == 1 else "")

    def reset_parameters(self):
        """Every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H)), PyTorch's default."""
        bound = 1 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def flatten_parameters(self):
        """A no-op, for PyTorch compatibility (there it packs the weights for cuDNN)."""

    def _weights(self, layer, direction):
        suffix = self._suffix(layer, direction)
        w_ih, w_hh = getattr(self, "weight_ih" + suffix), getattr(self, "weight_hh" + suffix)
        if not self.bias:
            return w_ih, w_hh, None, None
        return w_ih, w_hh, getattr(self, "bias_ih" + suffix), getattr(self, "bias_hh" + suffix)

    # ---- forward -----------------------------------------------------------------
    def forward(self, input, hx=None):
        x, unbatched = self._time_major(input)  # (T, N, I)
        states = self._initial_states(hx, x, unbatched)  # state_parts tensors (L*D, N, H), or None
        finals = []  # per layer and direction, in h_n's order: the tuple of final states
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                k = layer * self.num_directions + direction
                first = self._zero_states(x) if states is None else tuple(s[k] for s in states)  # (N, H) each
                sequence = x if direction == 0 else x[::-1]  # the reverse direction reads time backwards
                y, last = self._layer(sequence, first, *self._weights(layer, direction))  # y (T, N, H)
                outputs.append(y if direction == 0 else y[::-1])
                finals.append(last)
            x = outputs[0] if len(outputs) == 1 else cat(outputs, dim=2)  # (T, N, H * D)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                x = dropout_op(x, self.dropout)
        h_n = [stack([last[part] for last in finals], dim=0) for part in range(self.state_parts)]  # (L*D, N, H)
        if unbatched:
            x, h_n = x.squeeze(1), [h.squeeze(1) for h in h_n]
        elif self.batch_first:
            x = x.transpose(0, 1)
        return x, (h_n[0] if self.state_parts == 1 else tuple(h_n))

    def _time_major(self, input):
        """The input as (T, N, I), and whether it was an unbatched (T, I)."""
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
        layout = "(N, T, input_size)" if self.batch_first else "(T, N, input_size)"
        if input.ndim not in (2, 3):
            raise ValueError(f"{name}: expected input of shape {layout} or (T, input_size), got {tuple(input.shape)}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input of shape {tuple(input.shape)} has {input.shape[-1]} features in its "
                             f"last dim, expected input_size={self.input_size}")
        weight = self.weight_ih_l0
        if input.dtype != weight.dtype:
            raise TypeError(f"{name}: input is {input.dtype} but the parameters are {weight.dtype}; "
                            "convert the input or the module (.double(), .float())")
        if input.ndim == 2:
            return input.unsqueeze(1), True
        return (input.transpose(0, 1) if self.batch_first else input), False

    def _initial_states(self, hx, x, unbatched):
        """hx checked and as a list of (L*D, N, H) tensors (one per state part), or None for zeros."""
        if hx is None:
            return None
        name = type(self).__name__
        parts = list(hx) if self.state_parts > 1 and isinstance(hx, (tuple, list)) else [hx]
        if len(parts) != self.state_parts or not all(isinstance(p, Tensor) for p in parts):
            raise TypeError(f"{name}: hx must be " + ("a tuple (h_0, c_0) of Tensors" if self.state_parts > 1
                                                     else "a Tensor") + f", got {type(hx).__name__}")
        layers = self.num_layers * self.num_directions
        expected = (layers, self.hidden_size) if unbatched else (layers, x.shape[1], self.hidden_size)
        names = ["h_0", "c_0"][: self.state_parts]
        for part_name, p in zip(names, parts):
            if tuple(p.shape) != expected:
                kind = "an unbatched (T, input_size)" if unbatched else f"a batch of {x.shape[1]}"
                raise ValueError(f"{name}: {part_name} should have shape {expected} (num_layers * num_directions, "
                                 f"{'' if unbatched else 'N, '}hidden_size) for {kind} input, got {tuple(p.shape)}")
        return [p.unsqueeze(1) for p in parts] if unbatched else parts

    def _zero_states(self, x):
        xp = backend.get_array_module(x.data)
        shape = (x.shape[1], self.hidden_size)
        return tuple(Tensor(xp.zeros(shape, dtype=x.dtype)) for _ in range(self.state_parts))

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        for name, default in (("bias", True), ("batch_first", False), ("dropout", 0.0), ("bidirectional", False)):
            if getattr(self, name) != default:
                text += f", {name}={getattr(self, name)}"
        return text


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh) (or relu); weights (H, ...)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device="cpu", dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, device, dtype)
        self.nonlinearity = nonlinearity

    def _layer(self, x, states, w_ih, w_hh, b_ih, b_hh):
        op = rnn_tanh if self.nonlinearity == "tanh" else rnn_relu
        y, h = op(x, states[0], w_ih, w_hh, b_ih, b_hh)
        return y, (h,)

    def extra_repr(self):
        text = super().extra_repr()
        return text + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")


class LSTM(RNNBase):
    """LSTM with gate order i, f, g, o (weights (4H, ...)); forward returns (output, (h_n, c_n))."""

    gates = 4
    state_parts = 2

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device="cpu", dtype=None):
        if proj_size != 0:
            raise NotImplementedError(f"LSTM: proj_size={proj_size} (projected LSTM) is not supported; use proj_size=0")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, device, dtype)

    def _layer(self, x, states, w_ih, w_hh, b_ih, b_hh):
        y, (h, c) = lstm(x, states[0], states[1], w_ih, w_hh, b_ih, b_hh)
        return y, (h, c)


class GRU(RNNBase):
    """GRU with gate order r, z, n (weights (3H, ...)), PyTorch's n = tanh(W_in x + b_in + r * (W_hn h + b_hn))."""

    gates = 3

    def _layer(self, x, states, w_ih, w_hh, b_ih, b_hh):
        y, h = gru(x, states[0], w_ih, w_hh, b_ih, b_hh)
        return y, (h,)
