"""Recurrent layers (rnn_tanh / rnn_relu, lstm, gru and nn.RNN / LSTM / GRU): values, gradients, states.

The ops are checked against a NumPy reference written from PyTorch's
documented equations, one gate matrix at a time (independent of the fused
(N, G*H) slicing in the code), and with ``td.gradcheck`` w.r.t. every input in
float64 with the default tolerances, over Hypothesis-drawn sizes and on long
(T = 50) sequences.  Then: the measured vanishing gradient of a tanh RNN
against an LSTM, the clear error for double backward, the modules' names,
shapes, layers, directions, layouts and initial states, truncated BPTT, and
the errors at the public boundary.
"""
import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import tinydl as td
import tinydl.functional as F
import tinydl.nn as nn
from helpers import const, host, leaf

GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}
OPS = {"rnn_tanh": F.rnn_tanh, "rnn_relu": F.rnn_relu, "lstm": F.lstm, "gru": F.gru}


# ---- a NumPy reference, straight from PyTorch's documented equations -------------------
def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def reference_cell(op, x_t, h, c, w_ih, w_hh, b_ih, b_hh):
    """One step on NumPy arrays, each gate with its own (H, I) and (H, H) blocks; returns (h, c)."""
    hidden = w_hh.shape[1]

    def block(k):  # gate k's pre-activation parts: input and recurrent
        rows = slice(k * hidden, (k + 1) * hidden)
        return x_t @ w_ih[rows].T + b_ih[rows], h @ w_hh[rows].T + b_hh[rows]

    if op == "rnn_tanh":
        return np.tanh(sum(block(0))), None
    if op == "rnn_relu":
        return np.maximum(sum(block(0)), 0), None
    if op == "lstm":
        i, f, g, o = sigmoid(sum(block(0))), sigmoid(sum(block(1))), np.tanh(sum(block(2))), sigmoid(sum(block(3)))
        c = f * c + i * g
        return o * np.tanh(c), c
    r, z = sigmoid(sum(block(0))), sigmoid(sum(block(1)))
    n_x, n_h = block(2)
    n = np.tanh(n_x + r * n_h)
    return (1 - z) * n + z * h, None


def reference_sequence(op, x, h, c, w_ih, w_hh, b_ih, b_hh):
    """y (T, N, H), h_n, c_n (None except for the LSTM) by looping the cell."""
    zeros = np.zeros(w_hh.shape[0])
    b_ih, b_hh = (zeros if b is None else b for b in (b_ih, b_hh))
    ys = []
    for x_t in x:
        h, c = reference_cell(op, x_t, h, c, w_ih, w_hh, b_ih, b_hh)
        ys.append(h)
    return np.stack(ys), h, c


def call(op, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None):
    """Any of the four ops, with its outputs flattened to (y, h_n[, c_n]) (what gradcheck compares)."""
    if op == "lstm":
        y, (h, c) = F.lstm(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
        return y, h, c
    return OPS[op](x, h0, w_ih, w_hh, b_ih, b_hh)


@st.composite
def problems(draw, max_steps=6, max_side=4):
    """An op, sizes T, N, I, H, whether there are biases, and float64 arrays for every input.

    Weights are U(-1, 1) (larger than PyTorch's init, so that the gates are
    not all near their linear regime).  For rnn_relu, examples with a
    pre-activation within 1e-3 of relu's kink at 0 are rejected: a finite
    difference (eps = 1e-6) across the kink is not a derivative.
    """
    op = draw(st.sampled_from(sorted(GATES)))
    steps, n, size, hidden = (draw(st.integers(1, m)) for m in (max_steps, 3, max_side, max_side))
    bias = draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    rows = GATES[op] * hidden
    arrays = dict(
        x=rng.standard_normal((steps, n, size)),
        h0=rng.standard_normal((n, hidden)),
        c0=rng.standard_normal((n, hidden)),
        w_ih=rng.uniform(-1, 1, (rows, size)),
        w_hh=rng.uniform(-1, 1, (rows, hidden)),
        b_ih=rng.uniform(-1, 1, rows) if bias else None,
        b_hh=rng.uniform(-1, 1, rows) if bias else None,
    )
    if op == "rnn_relu":
        assume(relu_margin(arrays) > 1e-3)
    return op, arrays


def relu_margin(a):
    """The smallest |pre-activation| of rnn_relu over the sequence (a finite difference must not cross 0)."""
    h, smallest = a["h0"], np.inf
    b = sum(v for v in (a["b_ih"], a["b_hh"]) if v is not None)
    for x_t in a["x"]:
        pre = x_t @ a["w_ih"].T + h @ a["w_hh"].T + b
        smallest = min(smallest, np.abs(pre).min())
        h = np.maximum(pre, 0)
    return smallest


def leaves(op, arrays, device):
    """The op's inputs as float64 leaves (c0 only for the LSTM), in call order; None stays None."""
    names = ["x", "h0", "c0", "w_ih", "w_hh", "b_ih", "b_hh"]
    return {k: (None if arrays[k] is None or (k == "c0" and op != "lstm") else leaf(arrays[k], device))
            for k in names}


def as_fn(op, t):
    """(fn, inputs) for gradcheck: fn takes the Tensors that exist, in order."""
    names = [k for k, v in t.items() if v is not None]

    def fn(*values):
        given_ = dict(zip(names, values))
        return call(op, *(given_.get(k) for k in ["x", "h0", "c0", "w_ih", "w_hh", "b_ih", "b_hh"]))

    return fn, [t[k] for k in names]


# ---- values and first derivatives ---------------------------------------------------
@given(problem=problems())
def test_ops_match_the_reference_equations(device, kernels, problem):
    op, a = problem
    t = leaves(op, a, device)
    outputs = call(op, *t.values())
    y_ref, h_ref, c_ref = reference_sequence(op, a["x"], a["h0"], a["c0"], a["w_ih"], a["w_hh"], a["b_ih"], a["b_hh"])
    np.testing.assert_allclose(host(outputs[0]), y_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(outputs[1]), h_ref, rtol=1e-12, atol=1e-12)
    if op == "lstm":
        np.testing.assert_allclose(host(outputs[2]), c_ref, rtol=1e-12, atol=1e-12)


@given(problem=problems())
def test_ops_gradcheck_wrt_every_input(device, kernels, problem):
    op, a = problem
    fn, inputs = as_fn(op, leaves(op, a, device))
    assert td.gradcheck(fn, inputs)


@pytest.mark.parametrize("op", sorted(GATES))
def test_long_sequences_gradcheck(device, kernels, op):
    """T = 50: BPTT carries the gradient back through every step; a mistake at one step shows up here."""
    rng = np.random.default_rng(7)
    steps, n, size, hidden = 50, 2, 2, 2
    rows, bound = GATES[op] * hidden, 1 / np.sqrt(hidden)  # PyTorch's init: neither exploding nor saturated
    a = dict(x=rng.standard_normal((steps, n, size)), h0=rng.standard_normal((n, hidden)),
             c0=rng.standard_normal((n, hidden)), w_ih=rng.uniform(-bound, bound, (rows, size)),
             w_hh=rng.uniform(-bound, bound, (rows, hidden)), b_ih=rng.uniform(-bound, bound, rows),
             b_hh=rng.uniform(-bound, bound, rows))
    if op == "rnn_relu":
        a["b_ih"] = np.abs(a["b_ih"]) + 0.5  # keep the units active, away from relu's kink
        assert relu_margin(a) > 1e-3  # no finite difference (eps = 1e-6) crosses the kink
    fn, inputs = as_fn(op, leaves(op, a, device))
    assert td.gradcheck(fn, inputs)


@pytest.mark.parametrize("op", sorted(GATES))
def test_gradient_reaches_the_initial_states_from_the_last_state_only(device, kernels, op):
    """A loss on h_n alone (no output used, so y's gradient is zero) still reaches h0 and c0 through every step."""
    rng = np.random.default_rng(3)
    h0, c0 = leaf(rng.standard_normal((2, 3)), device), leaf(rng.standard_normal((2, 3)), device)
    rows = GATES[op] * 3
    x = const(rng.standard_normal((6, 2, 2)), device)
    w_ih, w_hh = const(rng.uniform(-0.6, 0.6, (rows, 2)), device), const(rng.uniform(-0.6, 0.6, (rows, 3)), device)
    b = const(np.full(rows, 0.3), device)  # a positive bias keeps rnn_relu's units clear of 0
    if op == "lstm":
        assert td.gradcheck(lambda h, c: F.lstm(x, h, c, w_ih, w_hh, b)[1], [h0, c0])
    else:
        assert td.gradcheck(lambda h: OPS[op](x, h, w_ih, w_hh, b)[1], [h0])
        (g,) = td.grad(OPS[op](x, h0, w_ih, w_hh, b)[1].sum(), h0)
        assert np.abs(host(g)).max() > 1e-6  # really reached, not a zero that gradcheck would accept


def test_only_wanted_gradients_are_computed(device):
    """x that does not require grad (a data batch) gets no gradient; the weights still do."""
    rng = np.random.default_rng(0)
    x = const(rng.standard_normal((3, 2, 4)), device)
    h0, c0 = const(np.zeros((2, 5)), device), const(np.zeros((2, 5)), device)
    w_ih, w_hh = leaf(rng.standard_normal((20, 4)) * 0.3, device), leaf(rng.standard_normal((20, 5)) * 0.3, device)
    y, _ = F.lstm(x, h0, c0, w_ih, w_hh)
    y.sum().backward()
    assert x.grad is None and h0.grad is None
    assert w_ih.grad.shape == (20, 4) and w_hh.grad.shape == (20, 5)


def test_float32_runs_and_stays_float32(device):
    td.manual_seed(0)
    m = nn.LSTM(4, 6).to(device)
    y, (h, c) = m(td.randn(5, 3, 4, device=device))
    assert y.dtype == h.dtype == c.dtype == td.float32
    y.sum().backward()
    assert m.weight_hh_l0.grad.dtype == td.float32


# ---- the vanishing gradient, measured -------------------------------------------------
def input_gradient_norms(module, steps=100, batch=4):
    """||dL/dx_t|| for t = 0 .. T-1, with L = sum of the last step's output (float64)."""
    x = td.randn(steps, batch, module.input_size, dtype=td.float64, requires_grad=True)
    y, _ = module(x)
    y[-1].sum().backward()
    return np.linalg.norm(x.grad.numpy().reshape(steps, -1), axis=1)


def test_the_rnn_gradient_vanishes_orders_of_magnitude_faster_than_the_lstms():
    """The lecture's point, measured with PyTorch's default init over T = 100 steps.

    A tanh RNN multiplies the gradient by diag(1 - h_t^2) W_hh at every step;
    with U(-1/sqrt(H), 1/sqrt(H)) weights W_hh's spectral radius is about
    1/sqrt(3), so after 99 steps almost nothing is left.  The LSTM's cell path
    multiplies by the forget gate instead.  (At this init f is about 0.5, so
    the LSTM's gradient vanishes too, only much more slowly; see the next test.)
    """
    norms = {}
    for cls in (nn.RNN, nn.LSTM, nn.GRU):
        td.manual_seed(0)
        norms[cls.__name__] = input_gradient_norms(cls(8, 32).double())
    rnn, lstm, gru = norms["RNN"], norms["LSTM"], norms["GRU"]
    assert min(rnn[-1], lstm[-1], gru[-1]) > 0.1  # the last step's input matters for all three
    assert rnn[0] < 1e-15 * rnn[-1]  # vanished: 99 steps of a factor of ~0.6
    assert rnn[0] < 1e-4 * lstm[0]  # and orders of magnitude below the LSTM's
    assert rnn[0] < 1e-4 * gru[0]


def test_a_positive_forget_gate_bias_keeps_the_lstm_gradient_alive():
    """With f = sigmoid(a_f) near 1 the cell path dc_{t-1} = f * dc_t barely shrinks (Jozefowicz et al. 2015)."""
    ratios = []
    for forget_bias in (0.0, 3.0):
        td.manual_seed(0)
        m = nn.LSTM(8, 32).double()
        with td.no_grad():
            m.bias_ih_l0.data[32:64] += forget_bias  # rows H .. 2H are the forget gate's
        norms = input_gradient_norms(m)
        ratios.append(norms[0] / norms[-1])
    assert ratios[0] < 1e-10  # PyTorch's default: f ~ 0.5, the gradient from step 0 is gone
    assert ratios[1] > 1e-2  # f ~ 0.95: it survives 100 steps


# ---- double backward -------------------------------------------------------------------
@pytest.mark.parametrize("op", sorted(GATES))
def test_double_backward_raises_a_clear_error(device, op):
    """First derivatives with create_graph=True are right; differentiating them says it is unsupported."""
    rng = np.random.default_rng(1)
    rows = GATES[op] * 2
    x, h0, c0 = (leaf(rng.standard_normal(s), device) for s in ((3, 2, 2), (2, 2), (2, 2)))
    w_ih, w_hh = leaf(rng.standard_normal((rows, 2)), device), leaf(rng.standard_normal((rows, 2)), device)
    y = call(op, x, h0, c0, w_ih, w_hh)[0]
    (gx, gw) = td.grad((y * y).sum(), [x, w_hh], create_graph=True)
    y_again = call(op, x, h0, c0, w_ih, w_hh)[0]
    (gx_plain, gw_plain) = td.grad((y_again * y_again).sum(), [x, w_hh])
    # atol: a gradient can cancel to ~0; here they are at most 3.5 (T = 3, H = 2), their terms below ~10 in chains
    # of ~30, so two evaluation orders differ by below 30 * 10 eps ~ 7e-14
    np.testing.assert_allclose(host(gx), host(gx_plain), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(gw), host(gw_plain), rtol=1e-12, atol=1e-12)
    assert gx.requires_grad and gw.requires_grad  # recorded: a later backward must not treat them as constants
    with pytest.raises(RuntimeError, match=f"second derivatives through {op} are not supported"):
        ((gx * gx).sum() + (gw * gw).sum()).backward()


def lstm_by_hand(x, h, c, w_ih, w_hh, b):
    """docs/recurrent.md, "Double backward": the LSTM from differentiable ops, looped in Python."""
    hidden = h.shape[1]
    ys = []
    for x_t in x:
        a = x_t @ w_ih.T + h @ w_hh.T + b
        i, f = F.sigmoid(a[:, :hidden]), F.sigmoid(a[:, hidden:2 * hidden])
        g, o = F.tanh(a[:, 2 * hidden:3 * hidden]), F.sigmoid(a[:, 3 * hidden:])
        c = f * c + i * g
        h = o * F.tanh(c)
        ys.append(h)
    return td.stack(ys), (h, c)


def test_the_docs_composed_lstm_matches_and_has_second_derivatives(device):
    """The workaround the error message's chapter offers really is the same LSTM, and twice differentiable."""
    rng = np.random.default_rng(5)
    x, h0, c0 = (leaf(rng.standard_normal(s), device) for s in ((3, 2, 2), (2, 2), (2, 2)))
    w_ih, w_hh, b = (leaf(rng.standard_normal(s) * 0.5, device) for s in ((8, 2), (8, 2), (8,)))
    y, (h, c) = F.lstm(x, h0, c0, w_ih, w_hh, b)
    y2, (h2, c2) = lstm_by_hand(x, h0, c0, w_ih, w_hh, b)
    for mine, composed in ((y, y2), (h, h2), (c, c2)):
        np.testing.assert_allclose(host(mine), host(composed), rtol=1e-12, atol=1e-14)
    grads = td.grad((y * y).sum() + c.sum(), [x, h0, c0, w_ih, w_hh, b])
    grads2 = td.grad((y2 * y2).sum() + c2.sum(), [x, h0, c0, w_ih, w_hh, b])
    for g, g2 in zip(grads, grads2):  # the hand-written BPTT against the graph of primitives
        np.testing.assert_allclose(host(g), host(g2), rtol=1e-10, atol=1e-12)
    assert td.gradgradcheck(lambda *t: lstm_by_hand(*t)[0], [x, h0, c0, w_ih, w_hh, b])


def test_gradgradcheck_reports_the_error_instead_of_passing(device):
    rng = np.random.default_rng(2)
    x, h0, c0 = (leaf(rng.standard_normal(s), device) for s in ((2, 1, 2), (1, 2), (1, 2)))
    w_ih, w_hh = leaf(rng.standard_normal((8, 2)), device), leaf(rng.standard_normal((8, 2)), device)
    with pytest.raises(RuntimeError, match="second derivatives through lstm are not supported"):
        td.gradgradcheck(lambda *t: F.lstm(*t)[0], [x, h0, c0, w_ih, w_hh])


# ---- the modules ------------------------------------------------------------------------
def expected_names(num_layers, bidirectional, bias):
    names = []
    for layer in range(num_layers):
        for suffix in ("", "_reverse") if bidirectional else ("",):
            names += [f"weight_ih_l{layer}{suffix}", f"weight_hh_l{layer}{suffix}"]
            if bias:
                names += [f"bias_ih_l{layer}{suffix}", f"bias_hh_l{layer}{suffix}"]
    return names


@pytest.mark.parametrize("cls, gates", [(nn.RNN, 1), (nn.LSTM, 4), (nn.GRU, 3)])
def test_module_parameter_names_shapes_and_init(cls, gates):
    td.manual_seed(0)
    m = cls(3, 5, num_layers=2, bidirectional=True)
    assert list(m.state_dict()) == expected_names(2, True, True)
    shapes = {name: p.shape for name, p in m.named_parameters()}
    assert shapes["weight_ih_l0"] == (gates * 5, 3) and shapes["weight_ih_l0_reverse"] == (gates * 5, 3)
    assert shapes["weight_ih_l1"] == (gates * 5, 10)  # layer 1 reads both directions of layer 0
    assert shapes["weight_hh_l1_reverse"] == (gates * 5, 5) and shapes["bias_hh_l1"] == (gates * 5,)
    values = np.concatenate([p.data.ravel() for p in m.parameters()])
    bound = 1 / np.sqrt(5)
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.95 * bound  # U(-1/sqrt(H), 1/sqrt(H))
    assert abs(values.mean()) < 0.05
    assert list(cls(3, 5, bias=False).state_dict()) == ["weight_ih_l0", "weight_hh_l0"]


def reference_module(kind, state, x, hx, num_layers, bidirectional):
    """The module's forward in NumPy: x (T, N, I), hx (L*D, N, H) arrays (or a pair for the LSTM)."""
    directions = 2 if bidirectional else 1
    h_all, c_all = (hx if kind == "lstm" else (hx, hx))
    finals_h, finals_c = [], []
    for layer in range(num_layers):
        outputs = []
        for direction in range(directions):
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            k = layer * directions + direction
            seq = x if direction == 0 else x[::-1]
            y, h, c = reference_sequence(kind, seq, h_all[k], c_all[k], state["weight_ih" + suffix],
                                         state["weight_hh" + suffix], state.get("bias_ih" + suffix),
                                         state.get("bias_hh" + suffix))
            outputs.append(y if direction == 0 else y[::-1])
            finals_h.append(h)
            finals_c.append(c)
        x = np.concatenate(outputs, axis=2)
    return x, np.stack(finals_h), (np.stack(finals_c) if kind == "lstm" else None)


KINDS = {"rnn_tanh": (nn.RNN, {}), "rnn_relu": (nn.RNN, {"nonlinearity": "relu"}), "lstm": (nn.LSTM, {}),
         "gru": (nn.GRU, {})}


@given(kind=st.sampled_from(sorted(KINDS)), steps=st.integers(1, 4), n=st.integers(1, 3), size=st.integers(1, 3),
       hidden=st.integers(1, 3), num_layers=st.integers(1, 2), bidirectional=st.booleans(),
       batch_first=st.booleans(), with_states=st.booleans(), bias=st.booleans(), seed=st.integers(0, 2**16))
def test_modules_over_layers_directions_and_layouts(device, kernels, kind, steps, n, size, hidden, num_layers,
                                                    bidirectional, batch_first, with_states, bias, seed):
    """Shapes, values against the NumPy reference, and gradcheck w.r.t. the input and the initial states."""
    cls, extra = KINDS[kind]
    td.manual_seed(seed)
    m = cls(size, hidden, num_layers=num_layers, bias=bias, batch_first=batch_first, bidirectional=bidirectional,
            **extra).double().to(device)
    directions = 2 if bidirectional else 1
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((steps, n, size))
    h0 = rng.standard_normal((num_layers * directions, n, hidden)) if with_states else np.zeros(
        (num_layers * directions, n, hidden))
    c0 = rng.standard_normal(h0.shape) if with_states else np.zeros(h0.shape)
    state = m.state_dict()
    y_ref, h_ref, c_ref = reference_module(kind, state, x, (h0, c0) if kind == "lstm" else h0, num_layers,
                                           bidirectional)

    x_in = leaf(x.transpose(1, 0, 2) if batch_first else x, device)
    states = [leaf(h0, device)] + ([leaf(c0, device)] if kind == "lstm" else [])

    def run(inp, *s):
        hx = None if not with_states else (tuple(s) if kind == "lstm" else s[0])
        out, h_n = m(inp, hx)
        return (out,) + (tuple(h_n) if kind == "lstm" else (h_n,))

    outputs = run(x_in, *states)
    expected_y = y_ref.transpose(1, 0, 2) if batch_first else y_ref
    assert outputs[0].shape == expected_y.shape == ((n, steps) if batch_first else (steps, n)) + (hidden * directions,)
    np.testing.assert_allclose(host(outputs[0]), expected_y, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(host(outputs[1]), h_ref, rtol=1e-10, atol=1e-12)
    if kind == "lstm":
        np.testing.assert_allclose(host(outputs[2]), c_ref, rtol=1e-10, atol=1e-12)
    if kind != "rnn_relu":  # relu's kink: the module's pre-activations are not kept away from 0 here
        assert td.gradcheck(run, [x_in] + (states if with_states else []))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_module_gradcheck_wrt_every_parameter(device, kernels, kind):
    """Two layers, both directions, tiny sizes: every weight and bias of every layer and direction."""
    cls, extra = KINDS[kind]
    td.manual_seed(1)
    m = cls(2, 2, num_layers=2, bidirectional=True, **extra).double().to(device)
    if kind == "rnn_relu":
        for name, p in m.named_parameters():  # positive weights and inputs: every unit active, far from 0
            p.data[...] = abs(p.data) + (0.2 if "bias" in name else 0.0)
    rng = np.random.default_rng(4)
    x = const(np.abs(rng.standard_normal((3, 2, 2))) + 0.1, device)
    params = list(m.parameters())
    assert td.gradcheck(lambda *_: m(x)[0], params)


def test_the_reverse_direction_reads_the_sequence_backwards():
    """The reverse direction's output at the last step has read only x_{T-1}; its h_n has read everything."""
    td.manual_seed(0)
    m = nn.GRU(2, 3, bidirectional=True).double()
    x = td.randn(5, 1, 2, dtype=td.float64, requires_grad=True)
    y, h_n = m(x)
    (g,) = td.grad(y[-1, :, 3:].sum(), x)  # the reverse half of the last step
    assert np.all(host(g)[:-1] == 0) and np.abs(host(g)[-1]).max() > 0
    np.testing.assert_allclose(host(h_n[1]), host(y[0, :, 3:]))  # reverse h_n = its output at t = 0
    np.testing.assert_allclose(host(h_n[0]), host(y[-1, :, :3]))


def test_unbatched_input_is_a_batch_of_one():
    td.manual_seed(0)
    m = nn.LSTM(3, 4, num_layers=2, bidirectional=True).double()
    x, h0, c0 = td.randn(6, 3, dtype=td.float64), td.randn(4, 4, dtype=td.float64), td.randn(4, 4, dtype=td.float64)
    y, (h, c) = m(x, (h0, c0))
    y1, (_, c1) = m(x.unsqueeze(1), (h0.unsqueeze(1), c0.unsqueeze(1)))
    assert y.shape == (6, 8) and h.shape == c.shape == (4, 4)
    # atol: h = o tanh(c) can be ~0; |h| < 1, |c| < T = 6 and the gate sums have ~10 terms: rounding stays ~1e-14
    np.testing.assert_allclose(host(y), host(y1)[:, 0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(c), host(c1)[:, 0], rtol=1e-12, atol=1e-12)


def test_dropout_acts_between_layers_in_training_only():
    td.manual_seed(0)
    m = nn.GRU(3, 8, num_layers=2, dropout=0.5).double()
    x = td.randn(4, 2, 3, dtype=td.float64)
    plain = nn.GRU(3, 8, num_layers=2).double()
    plain.load_state_dict(m.state_dict())
    y_train, y_eval = m(x)[0], m.eval()(x)[0]
    assert np.abs(host(y_train) - host(y_eval)).max() > 1e-3
    np.testing.assert_allclose(host(y_eval), host(plain(x)[0]))
    with pytest.warns(UserWarning, match="num_layers=1"):
        nn.LSTM(3, 4, dropout=0.2)


def test_a_small_lstm_learns_to_remember():
    """The output at step t must be the input of step t - 3: only a working BPTT trains that."""
    td.manual_seed(0)
    m, head = nn.LSTM(1, 16), nn.Linear(16, 1)
    opt = td.optim.Adam(list(m.parameters()) + list(head.parameters()), lr=0.03)
    x = td.randn(12, 16, 1)
    target = td.cat([td.zeros(3, 16, 1), x[:-3]], dim=0)
    losses = []
    for _ in range(150):
        loss = F.mse_loss(head(m(x)[0]), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0]


# ---- truncated BPTT -------------------------------------------------------------------
def test_truncated_bptt_carries_detached_states_between_chunks():
    td.manual_seed(0)
    m = nn.LSTM(3, 6, num_layers=2).double()
    x = td.randn(24, 2, 3, dtype=td.float64)
    full, _ = m(x)
    chunks = [td.tensor(x.numpy()[k:k + 8], requires_grad=True) for k in range(0, 24, 8)]
    state, outputs = None, []
    for chunk in chunks:
        y, state = m(chunk, state)
        outputs.append(y)
        state = tuple(s.detach() for s in state)  # keep the values, cut the graph
    # the values: carrying the state makes the chunks one sequence
    np.testing.assert_allclose(host(td.cat(outputs, dim=0)), host(full), rtol=1e-12, atol=1e-14)
    # the gradient: the last chunk's loss reaches its own chunk and stops at the cut
    outputs[-1].sum().backward()
    assert chunks[0].grad is None and chunks[1].grad is None
    assert np.abs(chunks[2].grad.numpy()).max() > 0
    # without the cut it would have reached the first chunk
    state, kept = None, []
    for chunk in chunks:
        y, state = m(chunk, state)
        kept.append(y)
    kept[-1].sum().backward()
    assert np.abs(chunks[0].grad.numpy()).max() > 0


def test_without_detach_the_second_chunk_backward_hits_the_freed_graph():
    """Why truncated BPTT detaches: chunk 1's graph was freed by its backward, and chunk 2's would walk into it."""
    td.manual_seed(0)
    m = nn.GRU(2, 4)
    x = td.randn(10, 2, 2)
    y, h = m(x[:5])
    y.sum().backward()
    y, h = m(x[5:], h)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.sum().backward()
    m.zero_grad()
    y, h = m(x[5:], h.detach())
    y.sum().backward()  # fine once detached
    assert m.weight_hh_l0.grad is not None


def test_truncated_bptt_trains_with_gradient_clipping():
    """Chunks of 6 over a 36-step stream, target = input 2 steps back: TBPTT + clip_grad_norm_ learns it."""
    td.manual_seed(0)
    m, head = nn.GRU(1, 12), nn.Linear(12, 1)
    params = list(m.parameters()) + list(head.parameters())
    opt = td.optim.Adam(params, lr=0.03)
    x = td.randn(36, 8, 1)
    target = td.cat([td.zeros(2, 8, 1), x[:-2]], dim=0)
    epoch_losses = []
    for _ in range(40):
        h, total = None, 0.0
        for k in range(0, 36, 6):
            y, h = m(x[k:k + 6], h)
            loss = F.mse_loss(head(y), target[k:k + 6])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            h = h.detach()
            total += loss.item()
        epoch_losses.append(total)
    assert epoch_losses[-1] < 0.15 * epoch_losses[0]


# ---- errors at the public boundary ------------------------------------------------------
def _t(*shape, dtype=td.float64):
    return td.zeros(*shape, dtype=dtype)


@pytest.mark.parametrize("call_, error, message", [
    (lambda: F.lstm(_t(5, 3), _t(3, 4), _t(3, 4), _t(16, 3), _t(16, 4)), ValueError,
     r"lstm: x must be \(T, N, input_size\).*\(5, 3\)"),
    (lambda: F.lstm(_t(5, 2, 3), _t(2, 4), _t(2, 4), _t(16, 3), _t(12, 4)), ValueError,
     r"lstm: w_hh must be \(4\*hidden_size, hidden_size\), got shape \(12, 4\)"),
    (lambda: F.lstm(_t(5, 2, 3), _t(2, 4), _t(2, 4), _t(16, 2), _t(16, 4)), ValueError,
     r"lstm: w_ih should have shape \(16, 3\) for x of shape \(5, 2, 3\).*got shape \(16, 2\)"),
    (lambda: F.lstm(_t(5, 2, 3), _t(3, 4), _t(2, 4), _t(16, 3), _t(16, 4)), ValueError,
     r"lstm: h0 should have shape \(2, 4\).*got shape \(3, 4\)"),
    (lambda: F.lstm(_t(5, 2, 3), _t(2, 4), _t(2, 5), _t(16, 3), _t(16, 4)), ValueError,
     r"lstm: c0 should have shape \(2, 4\).*got shape \(2, 5\)"),
    (lambda: F.lstm(_t(5, 2, 3), _t(2, 4), _t(2, 4), _t(16, 3), _t(16, 4), _t(16), _t(4)), ValueError,
     r"lstm: b_hh should have shape \(16,\).*got shape \(4,\)"),
    (lambda: F.gru(_t(5, 2, 3), _t(2, 4), _t(16, 3), _t(16, 4)), ValueError,
     r"gru: w_hh must be \(3\*hidden_size, hidden_size\), got shape \(16, 4\)"),
    (lambda: F.rnn_tanh(_t(0, 2, 3), _t(2, 4), _t(4, 3), _t(4, 4)), ValueError,
     r"rnn_tanh: x of shape \(0, 2, 3\) has no time steps"),
    (lambda: F.rnn_tanh(_t(5, 2, 3), _t(2, 4, dtype=td.float32), _t(4, 3), _t(4, 4)), TypeError,
     r"rnn_tanh: h0 is float32 but x is float64"),
    (lambda: F.rnn_relu(_t(5, 2, 3), None, _t(4, 3), _t(4, 4)), TypeError, r"rnn_relu: h0 must be a Tensor"),
    (lambda: nn.LSTM(3, 4)(_t(5, 2, 2, dtype=td.float32)), ValueError,
     r"LSTM: input of shape \(5, 2, 2\) has 2 features.*input_size=3"),
    (lambda: nn.GRU(3, 4, num_layers=2)(_t(5, 2, 3, dtype=td.float32), _t(1, 2, 4, dtype=td.float32)), ValueError,
     r"GRU: h_0 should have shape \(2, 2, 4\).*got \(1, 2, 4\)"),
    (lambda: nn.LSTM(3, 4)(_t(5, 2, 3, dtype=td.float32), _t(1, 2, 4, dtype=td.float32)), TypeError,
     r"LSTM: hx must be a tuple \(h_0, c_0\)"),
    (lambda: nn.RNN(3, 4)(_t(5, 3, dtype=td.float32), _t(1, 2, 4, dtype=td.float32)), ValueError,
     r"RNN: h_0 should have shape \(1, 4\).*unbatched.*got \(1, 2, 4\)"),
    (lambda: nn.RNN(3, 4)(_t(5, 2, 3)), TypeError, r"RNN: input is float64 but the parameters are float32"),
    (lambda: nn.RNN(3, 4, nonlinearity="sigmoid"), ValueError, r"RNN: nonlinearity must be 'tanh' or 'relu'"),
    (lambda: nn.LSTM(3, 0), ValueError, r"LSTM: hidden_size must be an int >= 1, got 0"),
    (lambda: nn.GRU(3, 4, dropout=1.5), ValueError, r"GRU: dropout must be a number in \[0, 1\]"),
])
def test_bad_arguments_name_the_op_and_the_shapes(call_, error, message):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(error, match=message):
            call_()
