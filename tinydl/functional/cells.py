"""Recurrent cells: ONE step of the equations of ``functional/recurrent.py``, written with differentiable ops.

The sequence ops (``rnn_tanh``, ``lstm``, ``gru``) run a whole sequence as one
op with a hand-written BPTT backward.  A cell is a single step, for a loop the
user writes (a decoder that feeds its own output back, attention recomputed at
every step).  Here each equation is one line of ordinary tinydl ops (``linear``,
slicing, ``sigmoid``, ``tanh``, ``*``, ``+``), so autograd derives the backward,
and the double backward too.  Symbols as in docs/recurrent.md, "One step at a time":

    x (N, I) the input of this step, h (N, H) [and c (N, H)] the previous state,
    w_ih (G*H, I), w_hh (G*H, H), b_ih, b_hh (G*H,) or None, G gates stacked along the rows:
    rnn G = 1; lstm G = 4 (i f g o); gru G = 3 (r z n).
"""
from .activation import relu, sigmoid, tanh
from .linalg import linear
from .recurrent import _check


def _gate(a, k, hidden):
    """Columns k*H .. (k+1)*H of the stacked pre-activations a (N, G*H): gate k's block (N, H)."""
    return a[:, k * hidden:(k + 1) * hidden]


def _step_input(op, gates, x, states, w_ih, w_hh, b_ih, b_hh):
    """The sequence ops' checks, on x seen as a one-step sequence (1, N, I); the biases (zeros if None)."""
    if x is not None and getattr(x, "ndim", 2) != 2:
        raise ValueError(f"{op}: x must be (N, input_size), got shape {tuple(x.shape)}")
    step = x.unsqueeze(0) if hasattr(x, "unsqueeze") else x
    try:
        return _check(op, gates, step, states, w_ih, w_hh, b_ih, b_hh)
    except ValueError as error:  # speak of x as the caller gave it, not of the one-step sequence
        raise ValueError(str(error).replace(f"x of shape {tuple(step.shape)}", f"x of shape {tuple(x.shape)}"))


def rnn_tanh_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """One step of the Elman RNN: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh), (N, H)."""
    b_ih, b_hh = _step_input("rnn_tanh_cell", 1, x, [("h", h)], w_ih, w_hh, b_ih, b_hh)
    a = linear(x, w_ih, b_ih) + linear(h, w_hh, b_hh)  # (N, H) pre-activation
    return tanh(a)


def rnn_relu_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """``rnn_tanh_cell`` with relu: h' = max(0, x W_ih^T + b_ih + h W_hh^T + b_hh)."""
    b_ih, b_hh = _step_input("rnn_relu_cell", 1, x, [("h", h)], w_ih, w_hh, b_ih, b_hh)
    a = linear(x, w_ih, b_ih) + linear(h, w_hh, b_hh)  # (N, H) pre-activation
    return relu(a)


def lstm_cell(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step, gate order i, f, g, o; returns (h', c'), each (N, H)."""
    b_ih, b_hh = _step_input("lstm_cell", 4, x, [("h", h), ("c", c)], w_ih, w_hh, b_ih, b_hh)
    hidden = h.shape[1]
    a = linear(x, w_ih, b_ih) + linear(h, w_hh, b_hh)  # (N, 4H) = a_i | a_f | a_g | a_o
    i = sigmoid(_gate(a, 0, hidden))  # input gate
    f = sigmoid(_gate(a, 1, hidden))  # forget gate
    g = tanh(_gate(a, 2, hidden))  # candidate values
    o = sigmoid(_gate(a, 3, hidden))  # output gate
    c_new = f * c + i * g
    h_new = o * tanh(c_new)
    return h_new, c_new


def gru_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step, gate order r, z, n, PyTorch's form: n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).

    Returns h' = (1 - z) * n + z * h, (N, H).
    """
    b_ih, b_hh = _step_input("gru_cell", 3, x, [("h", h)], w_ih, w_hh, b_ih, b_hh)
    hidden = h.shape[1]
    a_x = linear(x, w_ih, b_ih)  # (N, 3H): x W_i^T + b_i for r | z | n
    a_h = linear(h, w_hh, b_hh)  # (N, 3H): h W_h^T + b_h for r | z | n
    r = sigmoid(_gate(a_x, 0, hidden) + _gate(a_h, 0, hidden))  # reset gate
    z = sigmoid(_gate(a_x, 1, hidden) + _gate(a_h, 1, hidden))  # update gate
    q = _gate(a_h, 2, hidden)  # the recurrent part of n, bias b_hn included
    n = tanh(_gate(a_x, 2, hidden) + r * q)  # candidate
    return (1 - z) * n + z * h
