"""Optimizers: hand-computed updates, checkpoints, reproducible training."""
import numpy as np
import pytest

import tinydl as td
import tinydl.functional as F
import tinydl.nn as nn
from tinydl import optim


def param(values):
    return nn.Parameter(td.tensor(np.asarray(values, dtype=np.float64)))


def test_sgd_plain_step_by_hand():
    p = param([1.0, -2.0])
    p.grad = td.tensor([0.5, 1.0], dtype=td.float64)
    optim.SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [0.95, -2.1])


def test_sgd_momentum_first_buffer_is_the_gradient_without_dampening():
    p = param([0.0])
    opt = optim.SGD([p], lr=1.0, momentum=0.9, dampening=0.5)
    p.grad = td.tensor([1.0], dtype=td.float64)
    opt.step()  # b = g = 1 (no dampening on step 1)
    np.testing.assert_allclose(p.data, [-1.0])
    opt.step()  # b = 0.9 * 1 + 0.5 * 1 = 1.4
    np.testing.assert_allclose(p.data, [-2.4])


def test_adam_first_step_moves_each_weight_by_lr():
    """With bias correction, Adam's first step is lr * g / (|g| + eps) = lr * sign(g)."""
    p = param([1.0, 1.0, 1.0])
    p.grad = td.tensor([1e-3, -5.0, 300.0], dtype=td.float64)
    optim.Adam([p], lr=0.01).step()
    np.testing.assert_allclose(p.data, [0.99, 1.01, 0.99], rtol=1e-6)


def test_adamw_decays_weights_without_gradient_scaling():
    p = param([2.0])
    p.grad = td.tensor([0.0], dtype=td.float64)
    optim.AdamW([p], lr=0.1, weight_decay=0.5).step()
    np.testing.assert_allclose(p.data, [2.0 * (1 - 0.1 * 0.5)])
    assert optim.AdamW([param([1.0])]).param_groups[0]["weight_decay"] == 1e-2


def test_parameters_without_gradients_are_skipped():
    a, b = param([1.0]), param([1.0])
    a.grad = td.tensor([1.0], dtype=td.float64)
    optim.Adam([a, b], lr=0.1).step()
    assert b.data[0] == 1.0 and a.data[0] != 1.0


def test_param_groups_have_their_own_hyperparameters():
    a, b = param([1.0]), param([1.0])
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    a.grad = b.grad = td.tensor([1.0], dtype=td.float64)
    opt.step()
    np.testing.assert_allclose([a.data[0], b.data[0]], [0.9, 0.5])


def test_empty_parameter_list_is_refused():
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)


def _data():
    rng = np.random.default_rng(0)
    return td.tensor(rng.standard_normal((16, 3))), td.tensor(rng.integers(0, 2, 16))


def _model(seed):
    td.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2)).double()


def _run(model, opt, steps):
    x, y = _data()
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("factory", [
    lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    lambda p: optim.Adam(p, lr=0.01, amsgrad=True),
    lambda p: optim.AdamW(p, lr=0.01),
])
def test_optimizer_state_dict_resumes_exactly_through_a_checkpoint(factory, tmp_path):
    model = _model(0)
    straight = _run(model, factory(model.parameters()), 8)

    model = _model(0)
    opt = factory(model.parameters())
    first = _run(model, opt, 4)
    td.save({"model": model.state_dict(), "optim": opt.state_dict()}, tmp_path / "ckpt.npz")
    checkpoint = td.load(tmp_path / "ckpt.npz")

    restored = _model(99)  # different initial weights, overwritten by the checkpoint
    restored_opt = factory(restored.parameters())
    restored.load_state_dict(checkpoint["model"])
    restored_opt.load_state_dict(checkpoint["optim"])
    resumed = _run(restored, restored_opt, 4)
    assert first == straight[:4]
    assert resumed == straight[4:]  # bit-identical: every moment and step count came back


def test_training_twice_with_the_same_seed_is_bit_identical():
    def train(seed):
        model = _model(seed)
        return _run(model, optim.Adam(model.parameters(), lr=0.01), 20)

    assert train(7) == train(7)
    assert train(7) != train(8)
