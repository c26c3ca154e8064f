"""Host data meeting device tensors (issue 14, bugs 1-5).

Lists, NumPy arrays and Python numbers live on the host; a ``cuda`` tensor's numbers
live on the device, and CuPy refuses to mix the two implicitly. Each test below runs
on "cpu" and on "cuda" (a real GPU, or tinydl's CuPy stand-in) and checks that the
host data is moved where the tensor lives, or refused with an error naming the op.
"""
import numpy as np
import pytest

import tinydl as td
import tinydl.functional as F
from tinydl import backend

from helpers import const, host, leaf

RTOL, ATOL = 1e-6, 1e-6


def other_device(device):
    """The device that is not ``device`` (skips without a GPU or the stand-in)."""
    if not td.cuda.is_available():
        pytest.skip("needs a GPU or the CuPy stand-in")
    return "cpu" if device == "cuda" else "cuda"


def raw(array, device):
    """A raw (NumPy or CuPy) array on ``device``, not wrapped in a Tensor."""
    return backend.to_device(np.asarray(array), device)


# ---- bug 1: nll_loss / cross_entropy with a list, ndarray or raw device target ------------------
LOGITS = np.array([[0.5, -1.0, 2.0], [0.1, 0.2, 0.3], [-2.0, 1.0, 0.0], [1.5, 0.5, -0.5]])
CLASSES = [0, 1, 2, 0]


def _loss_and_grad(loss_fn, device, target):
    x = leaf(LOGITS, device)
    inputs = F.log_softmax(x, 1) if loss_fn is F.nll_loss else x
    loss = loss_fn(inputs, target(device))
    loss.backward()
    return loss, x.grad


TARGETS = {
    "list": lambda device: list(CLASSES),
    "ndarray": lambda device: np.array(CLASSES),
    "raw array on the device": lambda device: raw(CLASSES, device),
    "tensor on the device": lambda device: const(CLASSES, device),
}


@pytest.mark.parametrize("loss_fn", [F.cross_entropy, F.nll_loss], ids=["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("kind", list(TARGETS))
def test_class_target_of_any_array_kind(device, loss_fn, kind):
    """Bug 1: a list, ndarray or raw device target of nll_loss / cross_entropy works on every device
    (a host target is copied to the input's device) and gives the loss and gradient of a Tensor target."""
    loss, grad = _loss_and_grad(loss_fn, device, TARGETS[kind])
    expected_loss, expected_grad = _loss_and_grad(loss_fn, "cpu", TARGETS["tensor on the device"])
    assert loss.device == device and grad.device == device
    np.testing.assert_allclose(host(loss), host(expected_loss), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(host(grad), host(expected_grad), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("loss_fn", [F.cross_entropy, F.nll_loss], ids=["cross_entropy", "nll_loss"])
def test_class_target_tensor_on_another_device_is_refused(device, loss_fn):
    """Bug 1: a target Tensor on another device than the input is refused with an error naming
    the op and both devices (as PyTorch refuses it), not an obscure CuPy TypeError."""
    target = const(CLASSES, other_device(device))
    with pytest.raises(RuntimeError, match=rf"{loss_fn.__name__}: .*{device}.*{target.device}"):
        loss_fn(leaf(LOGITS, device), target)
