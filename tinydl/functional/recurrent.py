"""Recurrent layers: ``rnn_tanh`` / ``rnn_relu``, ``lstm`` and ``gru``, each ONE op over the whole sequence.

Shapes (time first, like PyTorch): x (T, N, I), states h0 / c0 (N, H), output
y (T, N, H) = the hidden state after every step.  Weights are PyTorch's, with
the G gates of a layer stacked along the rows so that one matmul computes the
pre-activations of all of them at once:

    rnn    G = 1           w_ih (H, I),  w_hh (H, H)
    lstm   G = 4 (i f g o) w_ih (4H, I), w_hh (4H, H)
    gru    G = 3 (r z n)   w_ih (3H, I), w_hh (3H, H)

Every op has the same two halves (docs/recurrent.md tells the whole story):

forward
    1. the input projections of all T steps in one matmul,
       a_x = x (T*N, I) @ w_ih^T + b  ->  (T, N, G*H): nothing in it depends on the recurrence;
    2. a loop over time in which only h_{t-1} @ w_hh^T (N, H) @ (H, G*H) and the
       elementwise gate work remain.  What backward needs is cached in (T, ...) arrays.
backward (BPTT, "backpropagation through time")
    1. a loop over time *backwards*, carrying dL/dh (and dL/dc), that fills
       da (T, N, G*H), the gradient w.r.t. every step's pre-activations;
    2. then, one matmul each over all steps:
       dW_ih = da^T x,  dW_hh = da^T h_{t-1},  db = sum of da,  dx = da W_ih.

Indexing: step t = 0 .. T-1 reads x[t] and the previous state h_{t-1} and
writes h_t.  The states live in one array ``hs`` (T+1, N, H) with hs[0] = h0
and hs[t + 1] = h_t, so y is the view hs[1:] and hs[:-1] are the previous states.

Double backward: the backward is a kernel on raw arrays, applied as the op
``BackwardThroughTime``; differentiating *it* raises a clear error instead of
returning a silently wrong second derivative (docs/recurrent.md, "Double backward").
"""
from .. import backend
from ..autograd import Function
from ..tensor import Tensor


def _sigmoid(a, xp):
    """sigmoid(a) = 1 / (1 + e^-a) = (1 + tanh(a / 2)) / 2; the tanh form never overflows."""
    return 0.5 * (1 + xp.tanh(0.5 * a))


def _project_inputs(x, w_ih, b):
    """W_ih x_t + b for all T steps with one matmul: (T*N, I) @ (I, G*H) -> (T, N, G*H).

    Also returns x as the (T*N, I) matrix, which the weight gradient reuses
    (for a non-contiguous x, e.g. a reversed or batch-first sequence, reshape copies: once).
    """
    steps, n, i = x.shape
    x_rows = x.reshape(steps * n, i)
    a_x = x_rows @ w_ih.T
    a_x += b
    return x_rows, a_x.reshape(steps, n, -1)


def _states(h0, steps):
    """hs (T+1, N, H) with hs[0] = h0; hs[t + 1] will hold h_t."""
    xp = backend.get_array_module(h0)
    hs = xp.empty((steps + 1,) + h0.shape, dtype=h0.dtype)
    hs[0] = h0
    return hs


def _weight_grads(wants, da_x, da_h, x_rows, hs, w_ih):
    """dx, dW_ih, dW_hh, db_ih, db_hh from the per-step gradients, one matmul each over all steps.

    da_x (T, N, G*H): dL/d(input projection of step t); da_h: dL/d(recurrent
    projection).  For the RNN and the LSTM both are the same array: the two
    projections are simply added.  ``wants`` maps input names to whether their
    gradient is needed; the others are not computed and come back None.
    """
    steps, n, g = da_x.shape
    da_x = da_x.reshape(steps * n, g)  # (T*N, G*H)
    da_h = da_h.reshape(steps * n, g)
    dx = (da_x @ w_ih).reshape(steps, n, -1) if wants["x"] else None  # (T*N, G*H) @ (G*H, I)
    dw_ih = da_x.T @ x_rows if wants["w_ih"] else None  # (G*H, T*N) @ (T*N, I)
    dw_hh = da_h.T @ hs[:-1].reshape(steps * n, -1) if wants["w_hh"] else None  # with h_{t-1} (T*N, H)
    db_ih = da_x.sum(axis=0) if wants["b_ih"] else None
    db_hh = da_h.sum(axis=0) if wants["b_hh"] else None
    return dx, dw_ih, dw_hh, db_ih, db_hh


class _Recurrence(Function):
    """What the three ops share: backward applies ``bptt`` as the op ``BackwardThroughTime``.

    A subclass implements ``forward`` (arrays) and ``bptt(*grad_outputs)``, the
    hand-written backward on arrays returning one gradient per input (None
    where ``self.needs_input_grad`` is False).
    """

    name = "recurrence"
    input_names = ("x", "h0", "w_ih", "w_hh", "b_ih", "b_hh")

    def wants(self):
        """Input name -> whether its gradient is needed."""
        return dict(zip(self.input_names, self.needs_input_grad))

    def backward(self, *grad_outputs):
        grads = iter(BackwardThroughTime(self)(*self.inputs, *grad_outputs))
        return tuple(next(grads) if wanted else None for wanted in self.needs_input_grad)


class BackwardThroughTime(Function):
    """The BPTT of a recurrent op, as an op: inputs are the forward's inputs followed by
    the gradients of its outputs; outputs are the gradients of the inputs that want one.

    The forward's inputs are listed (though only the cache is read) so that under
    ``create_graph=True`` the gradients are recorded as depending on them: a later
    backward through this op then reaches ``backward`` below and fails loudly,
    rather than treating the gradients as constants and silently returning a
    wrong second derivative.
    """

    def __init__(self, recurrence):
        self.recurrence, self.name = recurrence, recurrence.name

    def forward(self, *arrays):
        op = self.recurrence
        grad_outputs = arrays[len(op.needs_input_grad):]
        grads = op.bptt(*grad_outputs)
        return tuple(g for g, wanted in zip(grads, op.needs_input_grad) if wanted)

    def backward(self, *grad_grads):
        raise RuntimeError(
            f"second derivatives through {self.name} are not supported: its backward (backpropagation through "
            "time) is a hand-written kernel that cannot itself be differentiated (docs/recurrent.md, "
            "'Double backward'). First derivatives with create_graph=True work; differentiating them does not."
        )


class RNN(_Recurrence):
    """Elman RNN: h_t = act(a_t), a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh, act = tanh or relu.

    BPTT (docs/recurrent.md, "BPTT for the vanilla RNN"), carrying dh = dL/dh_t:
        dh  += gy_t                      (h_t is also the output y_t)
        da_t = dh * act'(a_t)            tanh' = 1 - h_t^2,  relu' = [h_t > 0]
        dh   = da_t @ W_hh               (to h_{t-1})
    """

    def __init__(self, nonlinearity):
        self.nonlinearity = nonlinearity
        self.name = f"rnn_{nonlinearity}"

    def forward(self, x, h0, w_ih, w_hh, b_ih, b_hh):
        xp = backend.get_array_module(x)
        steps = x.shape[0]
        self.x_rows, a_x = _project_inputs(x, w_ih, b_ih + b_hh)  # (T, N, H)
        hs = _states(h0, steps)  # (T+1, N, H)
        w_hh_t = w_hh.T
        for t in range(steps):
            a = a_x[t] + hs[t] @ w_hh_t  # (N, H)
            if self.nonlinearity == "tanh":
                xp.tanh(a, out=hs[t + 1])
            else:
                xp.maximum(a, 0, out=hs[t + 1])
        self.hs = hs
        return hs[1:], hs[steps].copy()  # y (T, N, H); h_n gets memory of its own

    def bptt(self, gy, gh_n):
        xp = backend.get_array_module(gy)
        _, _, w_ih, w_hh, _, _ = (t.data for t in self.inputs)
        hs = self.hs
        da = xp.empty_like(gy)  # (T, N, H): dL/da_t
        dh = gh_n.copy()  # dL/dh_t, carried back from step t + 1
        for t in reversed(range(gy.shape[0])):
            dh += gy[t]
            h = hs[t + 1]
            if self.nonlinearity == "tanh":
                xp.multiply(dh, 1 - h * h, out=da[t])
            else:
                xp.multiply(dh, h > 0, out=da[t])
            dh = da[t] @ w_hh  # (N, H) @ (H, H)
        dx, dw_ih, dw_hh, db_ih, db_hh = _weight_grads(self.wants(), da, da, self.x_rows, hs, w_ih)
        return dx, dh, dw_ih, dw_hh, db_ih, db_hh


class LSTM(_Recurrence):
    """LSTM with PyTorch's gate order i, f, g, o (docs/recurrent.md, "LSTM"):

        a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh          (N, 4H), sliced into a_i, a_f, a_g, a_o
        i = sigmoid(a_i)  f = sigmoid(a_f)  g = tanh(a_g)  o = sigmoid(a_o)
        c_t = f * c_{t-1} + i * g
        h_t = o * tanh(c_t)

    BPTT (docs/recurrent.md, "BPTT for the LSTM"), carrying dh = dL/dh_t and dc = dL/dc_t,
    one line of ``bptt``'s loop each:
        dh  += gy_t
        dc  += dh * o * (1 - tanh(c_t)^2)
        da_i = dc * g * i (1 - i)
        da_f = dc * c_{t-1} * f (1 - f)
        da_g = dc * i * (1 - g^2)
        da_o = dh * tanh(c_t) * o (1 - o)
        dc   = dc * f                    (to c_{t-1})
        dh   = da_t @ W_hh               (to h_{t-1})
    """

    name = "lstm"
    input_names = ("x", "h0", "c0", "w_ih", "w_hh", "b_ih", "b_hh")

    def forward(self, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
        xp = backend.get_array_module(x)
        steps, hidden = x.shape[0], h0.shape[1]
        self.x_rows, a_x = _project_inputs(x, w_ih, b_ih + b_hh)  # (T, N, 4H)
        hs, cs = _states(h0, steps), _states(c0, steps)  # (T+1, N, H) each
        gates = xp.empty(a_x.shape, dtype=x.dtype)  # (T, N, 4H): i, f, g, o after their nonlinearities
        tanh_c = xp.empty(hs[1:].shape, dtype=x.dtype)  # (T, N, H): tanh(c_t)
        w_hh_t = w_hh.T
        g_cols = slice(2 * hidden, 3 * hidden)
        for t in range(steps):
            a = a_x[t] + hs[t] @ w_hh_t  # (N, 4H): every gate's pre-activation from one matmul
            gates[t] = _sigmoid(a, xp)  # i, f and o (the g columns are overwritten next)
            gates[t, :, g_cols] = xp.tanh(a[:, g_cols])
            i, f, g, o = (gates[t, :, k * hidden:(k + 1) * hidden] for k in range(4))  # views (N, H)
            cs[t + 1] = f * cs[t] + i * g
            xp.tanh(cs[t + 1], out=tanh_c[t])
            xp.multiply(o, tanh_c[t], out=hs[t + 1])
        self.hs, self.cs, self.gates, self.tanh_c = hs, cs, gates, tanh_c
        return hs[1:], hs[steps].copy(), cs[steps].copy()  # y (T, N, H), h_n, c_n

    def bptt(self, gy, gh_n, gc_n):
        xp = backend.get_array_module(gy)
        _, _, _, w_ih, w_hh, _, _ = (t.data for t in self.inputs)
        hs, cs, gates, tanh_c = self.hs, self.cs, self.gates, self.tanh_c
        hidden = gy.shape[2]
        da = xp.empty_like(gates)  # (T, N, 4H): dL/da_t for every step, columns i | f | g | o
        dh, dc = gh_n.copy(), gc_n.copy()  # dL/dh_t, dL/dc_t, carried back from step t + 1
        for t in reversed(range(gy.shape[0])):
            i, f, g, o = (gates[t, :, k * hidden:(k + 1) * hidden] for k in range(4))  # views (N, H)
            da_i, da_f, da_g, da_o = (da[t, :, k * hidden:(k + 1) * hidden] for k in range(4))  # views to fill
            dh += gy[t]  # h_t is the output y_t and feeds step t + 1
            dc += dh * o * (1 - tanh_c[t] * tanh_c[t])  # c_t feeds h_t = o tanh(c_t) and c_{t+1}
            da_i[...] = dc * g * i * (1 - i)  # sigmoid' = s (1 - s)
            da_f[...] = dc * cs[t] * f * (1 - f)  # cs[t] = c_{t-1}
            da_g[...] = dc * i * (1 - g * g)  # tanh' = 1 - tanh^2
            da_o[...] = dh * tanh_c[t] * o * (1 - o)
            dc = dc * f  # to c_{t-1}
            dh = da[t] @ w_hh  # to h_{t-1}: (N, 4H) @ (4H, H)
        dx, dw_ih, dw_hh, db_ih, db_hh = _weight_grads(self.wants(), da, da, self.x_rows, hs, w_ih)
        return dx, dh, dc, dw_ih, dw_hh, db_ih, db_hh


class GRU(_Recurrence):
    """GRU with PyTorch's gate order r, z, n (docs/recurrent.md, "GRU"):

        r = sigmoid(a_r),  a_r = W_ir x_t + b_ir + W_hr h_{t-1} + b_hr
        z = sigmoid(a_z),  a_z = W_iz x_t + b_iz + W_hz h_{t-1} + b_hz
        n = tanh(a_n),     a_n = W_in x_t + b_in + r * q,   q = W_hn h_{t-1} + b_hn
        h_t = (1 - z) * n + z * h_{t-1}

    r multiplies q, the recurrent part of a_n only, so the input and the
    recurrent projections get different gradients in the n columns.
    BPTT (docs/recurrent.md, "BPTT for the GRU"), carrying dh = dL/dh_t:
        dh  += gy_t
        da_n = dh * (1 - z) * (1 - n^2)      da_z = dh * (h_{t-1} - n) * z (1 - z)
        da_r = da_n * q * r (1 - r)
        input projection:      [da_r, da_z, da_n]
        recurrent projection:  [da_r, da_z, da_n * r]   (=: da_h)
        dh   = dh * z + da_h @ W_hh
    """

    name = "gru"

    def forward(self, x, h0, w_ih, w_hh, b_ih, b_hh):
        xp = backend.get_array_module(x)
        steps, hidden = x.shape[0], h0.shape[1]
        self.x_rows, a_x = _project_inputs(x, w_ih, b_ih)  # (T, N, 3H): W_i x_t + b_i, columns r | z | n
        hs = _states(h0, steps)  # (T+1, N, H)
        rz = xp.empty((steps, h0.shape[0], 2 * hidden), dtype=x.dtype)  # (T, N, 2H): r | z
        ns = xp.empty(hs[1:].shape, dtype=x.dtype)  # (T, N, H): n
        qs = xp.empty(hs[1:].shape, dtype=x.dtype)  # (T, N, H): q = W_hn h_{t-1} + b_hn
        w_hh_t = w_hh.T
        rz_cols, n_cols = slice(0, 2 * hidden), slice(2 * hidden, 3 * hidden)
        for t in range(steps):
            a_h = hs[t] @ w_hh_t + b_hh  # (N, 3H): the recurrent projections, r | z | n
            rz[t] = _sigmoid(a_x[t, :, rz_cols] + a_h[:, rz_cols], xp)
            r, z = rz[t, :, :hidden], rz[t, :, hidden:]
            qs[t] = a_h[:, n_cols]
            xp.tanh(a_x[t, :, n_cols] + r * qs[t], out=ns[t])
            hs[t + 1] = ns[t] + z * (hs[t] - ns[t])  # = (1 - z) n + z h_{t-1}
        self.hs, self.rz, self.ns, self.qs = hs, rz, ns, qs
        return hs[1:], hs[steps].copy()

    def bptt(self, gy, gh_n):
        xp = backend.get_array_module(gy)
        _, _, w_ih, w_hh, _, _ = (t.data for t in self.inputs)
        hs, rz, ns, qs = self.hs, self.rz, self.ns, self.qs
        hidden = gy.shape[2]
        steps, n_batch = gy.shape[:2]
        da_x = xp.empty((steps, n_batch, 3 * hidden), dtype=gy.dtype)  # dL/d(input projection), r | z | n
        da_h = xp.empty_like(da_x)  # dL/d(recurrent projection), r | z | n
        dh = gh_n.copy()  # dL/dh_t, carried back from step t + 1
        for t in reversed(range(steps)):
            r, z, n = rz[t, :, :hidden], rz[t, :, hidden:], ns[t]
            da_r, da_z, da_n = (da_x[t, :, k * hidden:(k + 1) * hidden] for k in range(3))  # views to fill
            dh += gy[t]
            da_n[...] = dh * (1 - z) * (1 - n * n)
            da_z[...] = dh * (hs[t] - n) * z * (1 - z)
            da_r[...] = da_n * qs[t] * r * (1 - r)
            da_h[t, :, :2 * hidden] = da_x[t, :, :2 * hidden]  # r and z: the two projections are added
            xp.multiply(da_n, r, out=da_h[t, :, 2 * hidden:])  # n: q enters as r * q
            dh = dh * z + da_h[t] @ w_hh  # h_{t-1} enters h_t directly and through the projections
        dx, dw_ih, dw_hh, db_ih, db_hh = _weight_grads(self.wants(), da_x, da_h, self.x_rows, hs, w_ih)
        return dx, dh, dw_ih, dw_hh, db_ih, db_hh


# ---- argument checks and the public functions ---------------------------------
def _check(op, gates, x, states, w_ih, w_hh, b_ih, b_hh):
    """Check every argument against x (T, N, I) and w_hh (G*H, H); return the biases,
    a missing one replaced by constant zeros (which never get a gradient)."""
    named = [("x", x), *states, ("w_ih", w_ih), ("w_hh", w_hh)]
    for name, t in named + [("b_ih", b_ih), ("b_hh", b_hh)]:
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
        if t is None and name not in ("b_ih", "b_hh"):
            raise TypeError(f"{op}: {name} must be a Tensor, got None")
    if x.ndim != 3:
        raise ValueError(f"{op}: x must be (T, N, input_size) (time first), got shape {tuple(x.shape)}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: x must be floating point, got dtype {x.dtype}")
    steps, n, size = x.shape
    if steps == 0:
        raise ValueError(f"{op}: x of shape {tuple(x.shape)} has no time steps (T = 0)")
    if w_hh.ndim != 2 or w_hh.shape[0] != gates * w_hh.shape[1]:
        raise ValueError(
            f"{op}: w_hh must be ({gates}*hidden_size, hidden_size), got shape {tuple(w_hh.shape)}"
        )
    hidden = w_hh.shape[1]
    expected = {"w_ih": (gates * hidden, size), "b_ih": (gates * hidden,), "b_hh": (gates * hidden,)}
    expected.update({name: (n, hidden) for name, _ in states})
    for name, t in named[1:] + [("b_ih", b_ih), ("b_hh", b_hh)]:
        if t is None or name == "w_hh":
            continue
        if tuple(t.shape) != expected[name]:
            raise ValueError(
                f"{op}: {name} should have shape {expected[name]} for x of shape {tuple(x.shape)} and w_hh of "
                f"shape {tuple(w_hh.shape)} (hidden_size {hidden}), got shape {tuple(t.shape)}"
            )
        if t.dtype != x.dtype:
            raise TypeError(f"{op}: {name} is {t.dtype} but x is {x.dtype}; convert one of them with .to()")
        if t.device != x.device:
            raise RuntimeError(f"{op}: {name} is on '{t.device}' but x is on '{x.device}'; move it with .to()")
    xp = backend.get_array_module(x.data)
    zeros = Tensor(xp.zeros(gates * hidden, dtype=x.dtype))
    return (zeros if b_ih is None else b_ih), (zeros if b_hh is None else b_hh)


def rnn_tanh(x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
    """Elman RNN with tanh over a whole sequence: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh).

    x (T, N, I), h0 (N, H), w_ih (H, I), w_hh (H, H), biases (H,) or None.
    Returns (y, h_n): y (T, N, H) every h_t, h_n (N, H) the last.
    One op with a hand-written BPTT backward (docs/recurrent.md).
    """
    b_ih, b_hh = _check("rnn_tanh", 1, x, [("h0", h0)], w_ih, w_hh, b_ih, b_hh)
    return RNN("tanh")(x, h0, w_ih, w_hh, b_ih, b_hh)


def rnn_relu(x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
    """``rnn_tanh`` with relu: h_t = max(0, W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)."""
    b_ih, b_hh = _check("rnn_relu", 1, x, [("h0", h0)], w_ih, w_hh, b_ih, b_hh)
    return RNN("relu")(x, h0, w_ih, w_hh, b_ih, b_hh)


def lstm(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None):
    """LSTM over a whole sequence, PyTorch's equations and gate order i, f, g, o.

    x (T, N, I), h0 and c0 (N, H), w_ih (4H, I), w_hh (4H, H), biases (4H,) or None.
    Returns (y, (h_n, c_n)): y (T, N, H) every h_t; h_n, c_n (N, H) the last states.
    One op with a hand-written BPTT backward (docs/recurrent.md).
    """
    b_ih, b_hh = _check("lstm", 4, x, [("h0", h0), ("c0", c0)], w_ih, w_hh, b_ih, b_hh)
    y, h_n, c_n = LSTM()(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    return y, (h_n, c_n)


def gru(x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
    """GRU over a whole sequence, PyTorch's equations and gate order r, z, n:
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h.

    x (T, N, I), h0 (N, H), w_ih (3H, I), w_hh (3H, H), biases (3H,) or None.
    Returns (y, h_n).  One op with a hand-written BPTT backward (docs/recurrent.md).
    """
    b_ih, b_hh = _check("gru", 3, x, [("h0", h0)], w_ih, w_hh, b_ih, b_hh)
    return GRU()(x, h0, w_ih, w_hh, b_ih, b_hh)
