"""nn.RNNCell / LSTMCell / GRUCell and F.rnn_tanh_cell / rnn_relu_cell / lstm_cell / gru_cell.

A cell is one step of the sequence ops' equations, written with differentiable
ops: gradchecks w.r.t. the input, the states and every weight (and a double
backward), unrolling a cell over a sequence against tinydl's own nn.RNN / LSTM /
GRU with the same weights, PyTorch's names, shapes and init, unbatched inputs,
the errors at the boundary, and agreement with torch.nn.*Cell when torch is installed.
"""
import numpy as np
import pytest

import tinydl as td
import tinydl.functional as F
import tinydl.nn as nn
from helpers import host, leaf

CELLS = {  # name: (functional cell, gates, state parts, module, module keywords, sequence module)
    "rnn_tanh": (F.rnn_tanh_cell, 1, 1, nn.RNNCell, {}, nn.RNN),
    "rnn_relu": (F.rnn_relu_cell, 1, 1, nn.RNNCell, {"nonlinearity": "relu"}, nn.RNN),
    "lstm": (F.lstm_cell, 4, 2, nn.LSTMCell, {}, nn.LSTM),
    "gru": (F.gru_cell, 3, 1, nn.GRUCell, {}, nn.GRU),
}
TOL = dict(rtol=1e-10, atol=1e-12)


def draw(kind, n=3, size=4, hidden=5, seed=0, device="cpu"):
    """x (N, I), the states (N, H) and the weights of one step, float64 leaves on ``device``."""
    _, gates, parts, *_ = CELLS[kind]
    rng = np.random.default_rng(seed)
    x = leaf(rng.standard_normal((n, size)), device)
    states = [leaf(rng.standard_normal((n, hidden)), device) for _ in range(parts)]
    shapes = [(gates * hidden, size), (gates * hidden, hidden), (gates * hidden,), (gates * hidden,)]
    weights = [leaf(0.5 * rng.standard_normal(s), device) for s in shapes]
    return x, states, weights


def step(kind, x, states, weights):
    """The functional cell's new states as a tuple."""
    out = CELLS[kind][0](x, *states, *weights)
    return out if isinstance(out, tuple) else (out,)


# ---- gradients: autograd through the composed ops -------------------------------------
@pytest.mark.parametrize("kind", sorted(CELLS))
def test_cell_gradcheck_wrt_input_states_and_weights(device, kind):
    x, states, weights = draw(kind, device=device)
    assert td.gradcheck(lambda *a: step(kind, a[0], a[1:1 + len(states)], a[1 + len(states):]),
                        (x, *states, *weights))


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_cell_gradcheck_without_biases(kind):
    x, states, weights = draw(kind, seed=1)
    assert td.gradcheck(lambda *a: step(kind, a[0], a[1:-2], list(a[-2:]) + [None, None]),
                        (x, *states, *weights[:2]))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_cell_has_second_derivatives(kind):
    """Unlike the sequence ops (hand-written BPTT), a cell's backward is a graph of ops: it differentiates."""
    x, states, weights = draw(kind, n=2, size=2, hidden=2, seed=2)
    assert td.gradgradcheck(lambda *a: step(kind, a[0], a[1:1 + len(states)], a[1 + len(states):]),
                            (x, *states, *weights))


# ---- the same equations as the sequence ops ----------------------------------------------
@pytest.mark.parametrize("kind", sorted(CELLS))
def test_unrolled_cell_equals_the_sequence_module(device, kind):
    _, _, parts, cell_cls, extra, seq_cls = CELLS[kind]
    size, hidden, steps, n = 3, 4, 6, 2
    td.manual_seed(0)
    seq = seq_cls(size, hidden, **extra).double().to(device)
    cell = cell_cls(size, hidden, **extra).double().to(device)
    cell.load_state_dict({name[:-3]: p for name, p in seq.state_dict().items()}, strict=True)  # drop "_l0"
    rng = np.random.default_rng(3)
    x_np = rng.standard_normal((steps, n, size))
    states_np = [rng.standard_normal((n, hidden)) for _ in range(parts)]

    x = leaf(x_np, device)
    first = [leaf(s, device) for s in states_np]
    y, last = seq(x, tuple(s.unsqueeze(0) for s in first) if parts == 2 else first[0].unsqueeze(0))
    state = tuple(first) if parts == 2 else first[0]
    outputs = []
    for t in range(steps):
        state = cell(x[t], state)
        outputs.append(state[0] if parts == 2 else state)
    np.testing.assert_allclose(host(td.stack(outputs)), host(y), **TOL)
    for ours, theirs in zip(state if parts == 2 else (state,), last if parts == 2 else (last,)):
        np.testing.assert_allclose(host(ours), host(theirs[0]), **TOL)

    # and the gradients: autograd through the unrolled cells against the hand-written BPTT
    u = rng.standard_normal((steps, n, hidden))
    grads = []
    for out in (td.stack(outputs), y):
        loss = (out * td.tensor(u, device=device)).sum()
        grads.append([host(g) for g in td.grad(loss, [x, *first])])
    for g_cell, g_seq in zip(*grads):
        np.testing.assert_allclose(g_cell, g_seq, **TOL)


# ---- the modules: PyTorch's names, shapes, init, unbatched input, defaults ---------------
@pytest.mark.parametrize("kind", sorted(CELLS))
def test_module_parameters_and_init(kind):
    _, gates, _, cell_cls, extra, _ = CELLS[kind]
    cell = cell_cls(3, 4, **extra)
    shapes = {name: tuple(p.shape) for name, p in cell.named_parameters()}
    assert shapes == {"weight_ih": (gates * 4, 3), "weight_hh": (gates * 4, 4),
                      "bias_ih": (gates * 4,), "bias_hh": (gates * 4,)}
    td.manual_seed(0)
    big = cell_cls(8, 100, **extra)  # U(-1/sqrt(H), 1/sqrt(H)) = U(-0.1, 0.1): std 0.1 / sqrt(3)
    values = np.concatenate([host(p).ravel() for p in big.parameters()])  # 1000 G values
    assert np.all(np.abs(values) <= 0.1)
    assert abs(np.std(values) - 0.1 / np.sqrt(3)) < 0.1 * 0.1 / np.sqrt(3)
    bare = cell_cls(3, 4, bias=False, **extra)
    assert [name for name, _ in bare.named_parameters()] == ["weight_ih", "weight_hh"]
    assert bare.bias_ih is None and bare.bias_hh is None


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_unbatched_input_and_default_state(device, kind):
    _, _, parts, cell_cls, extra, _ = CELLS[kind]
    td.manual_seed(1)
    cell = cell_cls(3, 4, **extra).double().to(device)
    x = leaf(np.random.default_rng(4).standard_normal((1, 3)), device)
    batched = cell(x)  # hx=None: zeros
    zeros = tuple(td.zeros(1, 4, dtype=td.float64, device=device) for _ in range(parts))
    explicit = cell(x, zeros if parts == 2 else zeros[0])
    single = cell(x[0])
    for b, e, s in zip(*(out if parts == 2 else (out,) for out in (batched, explicit, single))):
        assert tuple(s.shape) == (4,)
        np.testing.assert_allclose(host(b), host(e), **TOL)
        np.testing.assert_allclose(host(s), host(b)[0], **TOL)
    with_state = cell(x[0], tuple(z[0] for z in zeros) if parts == 2 else zeros[0][0])
    for s, b in zip(with_state if parts == 2 else (with_state,), batched if parts == 2 else (batched,)):
        np.testing.assert_allclose(host(s), host(b)[0], **TOL)


def test_repr_and_bad_nonlinearity():
    assert repr(nn.RNNCell(3, 4, bias=False, nonlinearity="relu")) == "RNNCell(3, 4, bias=False, nonlinearity=relu)"
    assert repr(nn.LSTMCell(3, 4)) == "LSTMCell(3, 4)"
    with pytest.raises(ValueError, match="RNNCell: nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"):
        nn.RNNCell(3, 4, nonlinearity="sigmoid")


# ---- errors at the boundary --------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(CELLS))
def test_module_bad_shapes_name_the_cell_and_the_shapes(kind):
    _, _, parts, cell_cls, extra, _ = CELLS[kind]
    name = cell_cls.__name__
    cell = cell_cls(3, 4, **extra).double()
    with pytest.raises(ValueError, match=rf"{name}: expected input of shape \(N, input_size\).*got \(2, 2, 3\)"):
        cell(td.zeros(2, 2, 3, dtype=td.float64))
    with pytest.raises(ValueError, match=rf"{name}: input of shape \(2, 5\) has 5 features.*input_size=3"):
        cell(td.zeros(2, 5, dtype=td.float64))
    wrong = td.zeros(3, 4, dtype=td.float64)  # a batch of 3 for an input batch of 2
    with pytest.raises(ValueError, match=rf"{name}: h should have shape \(2, 4\) for an input of shape \(2, 3\), "
                                         r"got \(3, 4\)"):
        cell(td.zeros(2, 3, dtype=td.float64), (wrong, wrong) if parts == 2 else wrong)
    with pytest.raises(ValueError, match=rf"{name}: h should have shape \(4,\) for an unbatched input"):
        state = td.zeros(1, 4, dtype=td.float64)
        cell(td.zeros(3, dtype=td.float64), (state, state) if parts == 2 else state)
    with pytest.raises(TypeError, match=rf"{name}: input is float32 but the parameters are float64"):
        cell(td.zeros(2, 3, dtype=td.float32))


def test_lstm_cell_hx_must_be_a_pair():
    cell = nn.LSTMCell(3, 4)
    h = td.zeros(2, 4)
    with pytest.raises(TypeError, match=r"LSTMCell: hx must be a tuple \(h, c\) of Tensors, got Tensor"):
        cell(td.zeros(2, 3), h)
    with pytest.raises(ValueError, match=r"LSTMCell: c should have shape \(2, 4\).*got \(2, 5\)"):
        cell(td.zeros(2, 3), (h, td.zeros(2, 5)))


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_functional_bad_shapes_name_the_op_and_the_shapes(kind):
    op = CELLS[kind][0]
    name = op.__name__
    x, states, (w_ih, w_hh, b_ih, b_hh) = draw(kind)  # x (3, 4), states (3, 5)
    with pytest.raises(ValueError, match=rf"{name}: x must be \(N, input_size\), got shape \(1, 3, 4\)"):
        op(x.unsqueeze(0), *states, w_ih, w_hh, b_ih, b_hh)
    with pytest.raises(ValueError, match=rf"{name}: h should have shape \(3, 5\) for x of shape \(3, 4\).*"
                                         r"got shape \(2, 5\)"):
        op(x, *(s[:2] for s in states), w_ih, w_hh, b_ih, b_hh)
    with pytest.raises(ValueError, match=rf"{name}: w_ih should have shape .* for x of shape \(3, 4\)"):
        op(x, *states, w_ih[:, :3], w_hh, b_ih, b_hh)
    with pytest.raises(TypeError, match=rf"{name}: h must be a Tensor, got None"):
        op(x, *([None] * len(states)), w_ih, w_hh, b_ih, b_hh)


# ---- against PyTorch ---------------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(CELLS))
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("unbatched", [False, True])
def test_cells_agree_with_pytorch(kind, bias, unbatched):
    torch = pytest.importorskip("torch")
    _, _, parts, cell_cls, extra, _ = CELLS[kind]
    theirs_cls = getattr(torch.nn, cell_cls.__name__)
    torch.manual_seed(0)
    ref = theirs_cls(3, 4, bias=bias, **extra).double()
    ours = cell_cls(3, 4, bias=bias, **extra).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()}, strict=True)
    assert list(ours.state_dict()) == list(ref.state_dict())

    rng = np.random.default_rng(5)
    batch = () if unbatched else (2,)
    x = rng.standard_normal(batch + (3,))
    states = [rng.standard_normal(batch + (4,)) for _ in range(parts)]
    weights = [rng.standard_normal(batch + (4,)) for _ in range(parts)]
    results = []
    for lib, module in ((td, ours), (torch, ref)):
        x_t = lib.tensor(x, requires_grad=True)
        s_t = [lib.tensor(s, requires_grad=True) for s in states]
        out = module(x_t, tuple(s_t) if parts == 2 else s_t[0])
        outs = out if parts == 2 else (out,)
        loss = sum((o * lib.tensor(w)).sum() for o, w in zip(outs, weights))
        loss.backward()
        tensors = [*outs, x_t.grad, *(s.grad for s in s_t), *(p.grad for p in module.parameters())]
        results.append([t.detach().numpy() if lib is torch else host(t) for t in tensors])
    assert len(results[0]) == len(results[1])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
