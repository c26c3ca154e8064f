"""Modules: registration, naming, modes, dtype/device moves, state dicts, initialization."""
import math

import numpy as np
import pytest

import tinydl as td
import tinydl.nn as nn


class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(8, 3, bias=False)
        self.register_buffer("steps", td.tensor(0))
        self.register_buffer("scratch", td.zeros(2), persistent=False)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


def test_parameters_are_registered_by_assignment_with_dotted_names():
    m = TwoLayer()
    assert [n for n, _ in m.named_parameters()] == ["fc1.weight", "fc1.bias", "fc2.weight"]
    assert [n for n, _ in m.named_buffers()] == ["steps", "scratch"]
    assert list(m.state_dict()) == ["steps", "fc1.weight", "fc1.bias", "fc2.weight"]
    assert all(isinstance(v, np.ndarray) for v in m.state_dict().values())


def test_shared_parameters_are_listed_once():
    lin = nn.Linear(3, 3)
    m = nn.Sequential(lin, nn.Tanh(), lin)
    assert len(list(m.parameters())) == 2


def test_sequential_and_module_list_register_children():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert isinstance(seq[0], nn.Linear) and len(seq[1:]) == 2
    blocks = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(list(blocks.parameters())) == 6 and len(blocks) == 3


def test_forgetting_super_init_gives_a_clear_error():
    class Broken(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match="super"):
        Broken()


def test_train_and_eval_reach_every_submodule():
    m = TwoLayer().eval()
    assert not any(sub.training for sub in m.modules())
    m.train()
    assert all(sub.training for sub in m.modules())


def test_double_converts_floats_and_keeps_integer_buffers():
    m = TwoLayer()
    params = list(m.parameters())
    m.double()
    assert all(p.dtype == td.float64 for p in m.parameters())
    assert m.steps.dtype == td.int64
    assert all(a is b for a, b in zip(params, m.parameters()))  # same Parameter objects: optimizers stay valid
    y = m(td.randn(5, 4, dtype=td.float64))
    assert y.dtype == td.float64


def test_load_state_dict_copies_values_and_keeps_dtype():
    a, b = TwoLayer().double(), TwoLayer()
    b.load_state_dict(a.state_dict())
    assert b.fc1.weight.dtype == td.float32
    np.testing.assert_allclose(b.fc1.weight.data, a.fc1.weight.data.astype(np.float32))


def test_load_state_dict_reports_missing_unexpected_and_mismatched_keys():
    m = TwoLayer()
    state = m.state_dict()
    del state["fc1.bias"]
    state["extra"] = np.zeros(1)
    with pytest.raises(RuntimeError, match=r"missing keys \['fc1.bias'\].*unexpected keys \['extra'\]"):
        m.load_state_dict(state)
    result = m.load_state_dict(state, strict=False)
    assert result.missing_keys == ["fc1.bias"] and result.unexpected_keys == ["extra"]
    bad = m.state_dict()
    bad["fc1.weight"] = np.zeros((4, 8))
    with pytest.raises(RuntimeError, match=r"fc1.weight.*\(4, 8\).*\(8, 4\)"):
        m.load_state_dict(bad)


def test_linear_default_init_matches_pytorchs_bounds():
    td.manual_seed(0)
    lin = nn.Linear(100, 50)
    bound = 1 / math.sqrt(100)  # kaiming_uniform(a=sqrt(5)) gives exactly 1/sqrt(fan_in)
    w, b = lin.weight.data, lin.bias.data
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert np.abs(b).max() <= bound
    np.testing.assert_allclose(w.std(), bound / math.sqrt(3), rtol=0.05)


@pytest.mark.parametrize(
    "init, expected_std",
    [
        (lambda t: nn.init.xavier_uniform_(t), math.sqrt(2 / (200 + 300))),
        (lambda t: nn.init.xavier_normal_(t), math.sqrt(2 / (200 + 300))),
        (lambda t: nn.init.kaiming_uniform_(t, nonlinearity="relu"), math.sqrt(2 / 300)),
        (lambda t: nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"), math.sqrt(2 / 200)),
    ],
)
def test_initializers_have_the_textbook_standard_deviation(init, expected_std):
    td.manual_seed(0)
    w = init(td.empty(200, 300))
    np.testing.assert_allclose(w.data.std(), expected_std, rtol=0.03)
    assert abs(w.data.mean()) < 0.05 * expected_std  # the standard error is ~0.004 std


def test_zero_grad_sets_gradients_to_none():
    m = TwoLayer()
    m(td.randn(2, 4)).sum().backward()
    assert m.fc1.weight.grad is not None
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_clip_grad_norm_scales_to_max_norm_and_returns_the_total():
    a = td.tensor([3.0, 0.0], dtype=td.float64, requires_grad=True)
    b = td.tensor([0.0, 4.0], dtype=td.float64, requires_grad=True)
    a.grad, b.grad = td.tensor([3.0, 0.0], dtype=td.float64), td.tensor([0.0, 4.0], dtype=td.float64)
    total = nn.utils.clip_grad_norm_([a, b], max_norm=1.0)
    assert total.item() == pytest.approx(5.0)
    np.testing.assert_allclose(a.grad.numpy(), [3.0 / (5.0 + 1e-6), 0.0])
    np.testing.assert_allclose(b.grad.numpy(), [0.0, 4.0 / (5.0 + 1e-6)])
    nn.utils.clip_grad_norm_([a, b], max_norm=10.0)  # already below: unchanged
    np.testing.assert_allclose(a.grad.numpy(), [3.0 / (5.0 + 1e-6), 0.0])


def test_loss_modules_call_their_functions():
    logits = td.randn(4, 3, dtype=td.float64)
    target = td.tensor([0, 2, 1, 2])
    assert nn.CrossEntropyLoss()(logits, target).item() == pytest.approx(
        td.functional.cross_entropy(logits, target).item()
    )
    weight = td.tensor([1.0, 2.0, 3.0])
    loss = nn.CrossEntropyLoss(weight=weight)
    assert "weight" in loss.state_dict()


def test_module_repr_shows_the_tree():
    text = repr(nn.Sequential(nn.Linear(2, 3), nn.ReLU()))
    assert "(0): Linear(in_features=2, out_features=3, bias=True)" in text and "(1): ReLU()" in text


def test_module_moves_to_device(device):
    m = TwoLayer().to(device)
    assert all(p.device == device for p in m.parameters())
    y = m(td.randn(3, 4, device=device))
    y.sum().backward()
    assert m.fc1.weight.grad.device == device


def test_replacing_a_modulelist_entry_keeps_its_position():
    layers = nn.ModuleList([nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 3)])
    replacement = nn.Tanh()
    layers[1] = replacement
    assert layers[1] is replacement and isinstance(layers[2], nn.Linear)
    assert [name for name, _ in layers.named_children()] == ["0", "1", "2"]
    assert list(layers.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_reassigning_a_parameter_or_submodule_keeps_the_state_dict_order():
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    model[0].weight = nn.Parameter(td.zeros(2, 2))
    assert list(model[0].state_dict()) == ["weight", "bias"]
    setattr(model, "0", nn.Linear(2, 2))
    assert list(model.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]
