"""Gradient clipping: ``clip_grad_norm_`` and ``clip_grad_value_``."""
import math

from ... import backend
from ...tensor import Tensor


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    total = ||(g_1, ..., g_n)||_p over every element of every gradient; each
    gradient is multiplied by min(1, max_norm / (total + 1e-6)).  Returns total
    as a 0-d Tensor (PyTorch's behaviour), computed before clipping.

    Everything stays on the gradients' device: one reduction per gradient, one to
    combine them, and the scale is applied even when it is 1 (multiplying by 1 is
    exact), so the host never waits to read ``total``: on a GPU, ``if total > max_norm``
    would be a sync every step. Only ``error_if_nonfinite=True`` reads it.
    """
    grads = _grads(parameters)
    if not grads:
        return Tensor(0.0)
    xp = backend.get_array_module(grads[0].data)
    norm_type = float(norm_type)
    if math.isinf(norm_type):
        total = xp.stack([xp.abs(g.data).max() for g in grads]).max()  # 0-d, on the device
    else:
        powers = xp.stack([(xp.abs(g.data.astype(xp.float64)) ** norm_type).sum() for g in grads])
        total = powers.sum() ** (1.0 / norm_type)  # 0-d float64, on the device
    if error_if_nonfinite and not math.isfinite(float(total)):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {float(total)}")
    scale = xp.minimum(max_norm / (total + 1e-6), 1.0)  # 0-d
    for g in grads:
        g.data *= scale.astype(g.data.dtype)
    return Tensor(total.astype(grads[0].dtype))


def clip_grad_value_(parameters, clip_value):
    """Clip every gradient element into [-clip_value, clip_value]."""
    for g in _grads(parameters):
        backend.get_array_module(g.data).clip(g.data, -clip_value, clip_value, out=g.data)
