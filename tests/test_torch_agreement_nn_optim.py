"""Modules and optimizers against PyTorch (skipped when PyTorch is not installed; tinydl never needs it)."""
import numpy as np
import pytest

import tinydl as td
import tinydl.functional as F
import tinydl.nn as nn
from tinydl import optim

torch = pytest.importorskip("torch")


def torch_mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 7), torch.nn.GELU(), torch.nn.Linear(7, 3)
    ).double()


def tinydl_mlp():
    return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 7), nn.GELU(), nn.Linear(7, 3)).double()


def converted(module):
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


def test_a_pytorch_state_dict_loads_strictly_and_gives_the_same_outputs_and_gradients():
    reference, ours = torch_mlp(), tinydl_mlp()
    assert list(ours.state_dict()) == list(reference.state_dict())
    ours.load_state_dict(converted(reference), strict=True)
    x = np.random.default_rng(1).standard_normal((4, 5))
    target = np.array([0, 2, 1, 2])
    loss_ref = torch.nn.functional.cross_entropy(reference(torch.tensor(x)), torch.tensor(target))
    loss_ref.backward()
    loss = F.cross_entropy(ours(td.tensor(x)), td.tensor(target))
    loss.backward()
    np.testing.assert_allclose(loss.item(), loss_ref.item(), rtol=1e-12)
    for (name, p), q in zip(ours.named_parameters(), reference.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-8, atol=1e-12, err_msg=name)


def test_loss_module_buffers_match_pytorchs_state_dict_keys():
    weight = np.array([1.0, 2.0, 0.5])
    assert list(nn.CrossEntropyLoss(weight=td.tensor(weight)).state_dict()) == list(
        torch.nn.CrossEntropyLoss(weight=torch.tensor(weight)).state_dict()
    )
    assert list(nn.BCEWithLogitsLoss(pos_weight=td.tensor([2.0])).state_dict()) == list(
        torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor([2.0])).state_dict()
    )


OPTIMIZERS = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.2, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.05)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.02, weight_decay=0.3, amsgrad=True)),
]


@pytest.mark.parametrize("name, kwargs", OPTIMIZERS)
def test_ten_optimizer_steps_match_pytorch(name, kwargs):
    reference, ours = torch_mlp(), tinydl_mlp()
    ours.load_state_dict(converted(reference))
    opt_ref = getattr(torch.optim, name)(reference.parameters(), **kwargs)
    opt = getattr(optim, name)(ours.parameters(), **kwargs)
    rng = np.random.default_rng(2)
    for step in range(10):
        x, y = rng.standard_normal((8, 5)), rng.integers(0, 3, 8)
        opt_ref.zero_grad()
        torch.nn.functional.cross_entropy(reference(torch.tensor(x)), torch.tensor(y)).backward()
        opt_ref.step()
        opt.zero_grad()
        F.cross_entropy(ours(td.tensor(x)), td.tensor(y)).backward()
        opt.step()
    for (key, mine), theirs in zip(ours.state_dict().items(), converted(reference).values()):
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-10, err_msg=f"{name} {kwargs} {key}")


def test_clip_grad_norm_matches_pytorch():
    reference, ours = torch_mlp(), tinydl_mlp()
    ours.load_state_dict(converted(reference))
    x = np.random.default_rng(3).standard_normal((6, 5)) * 10
    (reference(torch.tensor(x)) ** 2).sum().backward()
    (ours(td.tensor(x)) ** 2).sum().backward()
    total_ref = torch.nn.utils.clip_grad_norm_(reference.parameters(), 0.5)
    total = nn.utils.clip_grad_norm_(ours.parameters(), 0.5)
    np.testing.assert_allclose(total.item(), total_ref.item(), rtol=1e-12)
    for p, q in zip(ours.parameters(), reference.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10, atol=1e-14)
