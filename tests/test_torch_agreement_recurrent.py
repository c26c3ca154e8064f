"""nn.RNN / LSTM / GRU and F.rnn_tanh / rnn_relu / lstm / gru against PyTorch, float64, to 1e-8 (skipped without torch).

Weights go from PyTorch to tinydl through a state dict converted to NumPy and
loaded with ``load_state_dict(strict=True)``; then outputs, final states and
the gradients of a loss on all of them w.r.t. the input, the initial states
and every parameter must agree.
"""
import itertools

import numpy as np
import pytest

import tinydl as td
import tinydl.functional as F
import tinydl.nn as nn

torch = pytest.importorskip("torch")
TOL = dict(rtol=1e-8, atol=1e-10)

KINDS = {  # name: (ours, theirs, constructor keywords)
    "rnn_tanh": (nn.RNN, torch.nn.RNN, {}),
    "rnn_relu": (nn.RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (nn.LSTM, torch.nn.LSTM, {}),
    "gru": (nn.GRU, torch.nn.GRU, {}),
}
SETTINGS = list(itertools.product([1, 2], [False, True], [False, True], [False, True], [True, False]))


def converted(module):
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


def loss_of(output, h_n, lib, weights):
    """A loss touching every output element with its own weight, so a wrong element anywhere shows."""
    parts = [output] + (list(h_n) if isinstance(h_n, tuple) else [h_n])
    return sum((p * lib.tensor(w)).sum() for p, w in zip(parts, weights))


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("num_layers, bidirectional, batch_first, with_states, bias", SETTINGS)
def test_modules_agree_with_pytorch(kernels, kind, num_layers, bidirectional, batch_first, with_states, bias):
    ours_cls, theirs_cls, extra = KINDS[kind]
    size, hidden, steps, n = 3, 4, 5, 2
    torch.manual_seed(0)
    ref = theirs_cls(size, hidden, num_layers=num_layers, bias=bias, batch_first=batch_first,
                     bidirectional=bidirectional, **extra).double()
    ours = ours_cls(size, hidden, num_layers=num_layers, bias=bias, batch_first=batch_first,
                    bidirectional=bidirectional, **extra).double()
    ours.load_state_dict(converted(ref), strict=True)
    assert list(ours.state_dict()) == list(ref.state_dict())

    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, steps, size) if batch_first else (steps, n, size))
    layers = num_layers * (2 if bidirectional else 1)
    states = [rng.standard_normal((layers, n, hidden)) for _ in range(2 if kind == "lstm" else 1)]
    x_ours, x_ref = td.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    s_ours = [td.tensor(s, requires_grad=True) for s in states]
    s_ref = [torch.tensor(s, requires_grad=True) for s in states]

    def hx(s):
        if not with_states:
            return None
        return tuple(s) if kind == "lstm" else s[0]

    out, h_n = ours(x_ours, hx(s_ours))
    out_ref, h_n_ref = ref(x_ref, hx(s_ref))
    finals = list(h_n) if kind == "lstm" else [h_n]
    finals_ref = list(h_n_ref) if kind == "lstm" else [h_n_ref]
    for mine, theirs in zip([out] + finals, [out_ref] + finals_ref):
        assert mine.shape == tuple(theirs.shape)
        np.testing.assert_allclose(mine.detach().numpy(), theirs.detach().numpy(), **TOL)

    weights = [rng.standard_normal(tuple(t.shape)) for t in [out_ref] + finals_ref]
    loss_of(out, h_n, td, weights).backward()
    loss_of(out_ref, h_n_ref, torch, weights).backward()
    np.testing.assert_allclose(x_ours.grad.numpy(), x_ref.grad.numpy(), **TOL)
    if with_states:
        for mine, theirs in zip(s_ours, s_ref):
            np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), **TOL)
    ref_params = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), ref_params[name].grad.numpy(), **TOL, err_msg=name)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_functional_ops_agree_with_a_one_layer_pytorch_module(kernels, kind):
    """F.* called with the module's weights is PyTorch's single layer, biases included or not."""
    _, theirs_cls, extra = KINDS[kind]
    torch.manual_seed(2)
    ref = theirs_cls(3, 5, **extra).double()
    rng = np.random.default_rng(2)
    x, h0, c0 = rng.standard_normal((7, 2, 3)), rng.standard_normal((2, 5)), rng.standard_normal((2, 5))
    weights = [td.tensor(p.detach().numpy()) for p in ref.parameters()]  # w_ih, w_hh, b_ih, b_hh
    x_ref, h_ref, c_ref = (torch.tensor(a) for a in (x, h0, c0))
    if kind == "lstm":
        y, (h, c) = F.lstm(td.tensor(x), td.tensor(h0), td.tensor(c0), *weights)
        y_ref, (h_n_ref, c_n_ref) = ref(x_ref, (h_ref[None], c_ref[None]))
        np.testing.assert_allclose(c.numpy(), c_n_ref[0].detach().numpy(), **TOL)
    else:
        y, h = getattr(F, kind)(td.tensor(x), td.tensor(h0), *weights)
        y_ref, h_n_ref = ref(x_ref, h_ref[None])
    np.testing.assert_allclose(y.numpy(), y_ref.detach().numpy(), **TOL)
    np.testing.assert_allclose(h.numpy(), h_n_ref[0].detach().numpy(), **TOL)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_unbatched_input_agrees_with_pytorch(kernels, kind):
    ours_cls, theirs_cls, _ = KINDS[kind]
    torch.manual_seed(3)
    ref = theirs_cls(3, 4, num_layers=2, bidirectional=True).double()
    ours = ours_cls(3, 4, num_layers=2, bidirectional=True).double()
    ours.load_state_dict(converted(ref), strict=True)
    x = np.random.default_rng(3).standard_normal((6, 3))
    out, h_n = ours(td.tensor(x))
    out_ref, h_n_ref = ref(torch.tensor(x))
    np.testing.assert_allclose(out.detach().numpy(), out_ref.detach().numpy(), **TOL)
    for mine, theirs in zip(h_n if kind == "lstm" else [h_n], h_n_ref if kind == "lstm" else [h_n_ref]):
        assert mine.shape == tuple(theirs.shape) == (4, 4)
        np.testing.assert_allclose(mine.detach().numpy(), theirs.detach().numpy(), **TOL)


def test_our_state_dict_loads_into_pytorch():
    """The other way round: a tinydl checkpoint is a PyTorch one."""
    td.manual_seed(4)
    ours = nn.LSTM(3, 4, num_layers=2, bidirectional=True).double()
    ref = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True).double()
    ref.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()}, strict=True)
    x = np.random.default_rng(4).standard_normal((5, 2, 3))
    np.testing.assert_allclose(ours(td.tensor(x))[0].detach().numpy(), ref(torch.tensor(x))[0].detach().numpy(), **TOL)


def test_float32_agrees_with_pytorch_to_float32_precision(kernels):
    torch.manual_seed(5)
    ref = torch.nn.LSTM(8, 16, num_layers=2)
    ours = nn.LSTM(8, 16, num_layers=2)
    ours.load_state_dict(converted(ref), strict=True)
    x = np.random.default_rng(5).standard_normal((20, 4, 8)).astype(np.float32)
    out, _ = ours(td.tensor(x))
    out_ref, _ = ref(torch.tensor(x))
    assert out.dtype == td.float32
    np.testing.assert_allclose(out.detach().numpy(), out_ref.detach().numpy(), rtol=1e-4, atol=1e-5)
