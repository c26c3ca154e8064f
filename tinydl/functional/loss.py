"""Losses, each with ``reduction`` = 'mean' (default), 'sum' or 'none'.

Most are short compositions of differentiable ops, so their gradients (and
second derivatives) come for free.  ``binary_cross_entropy`` is its own op so
that its input gradient stays finite where its logs are clamped, as in PyTorch.
"""
import warnings

import numpy as np

from .. import backend
from ..autograd import Function
from ..device_checks import check
from ..tensor import Tensor, _to_array
from .activation import log_softmax, softplus
from .elementwise import clamp, log, where
from .shape import getitem


def _reduce(loss, reduction, op):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _same_shape(input, target, op):
    """Pointwise losses compare elementwise; unlike PyTorch we refuse to broadcast
    (a (N, 1) input against an (N,) target silently makes an (N, N) loss)."""
    target = Tensor._from_value(target, like=input)
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(
            f"{op}: input of shape {tuple(input.shape)} and target of shape {tuple(target.shape)} must have the same shape"
        )
    return target


def legacy_reduction(size_average, reduce, reduction):
    """PyTorch's mapping of the deprecated ``size_average`` / ``reduce`` arguments onto ``reduction``,
    with its warning: given either, reduce=False gives 'none', else size_average=False 'sum', else
    'mean' (None counts as True), and ``reduction`` is ignored; given neither, ``reduction`` stands."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    mapped = "none" if not reduce else ("mean" if size_average else "sum")
    warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{mapped}' instead.",
                  stacklevel=3)
    return mapped


def _weighted(loss, weight, reduction, op, mean="over weights"):
    """An elementwise ``weight`` (the input's shape) times each loss term, as PyTorch 2.13's mse_loss,
    l1_loss and huber_loss take it; 'mean' is the sum over the sum of the weights (mse, l1), or the
    plain mean of the weighted terms (huber), as in PyTorch."""
    if weight is None:
        return _reduce(loss, reduction, op)
    if tuple(np.shape(weight)) != tuple(loss.shape):
        raise ValueError(f"{op}: weight of shape {tuple(np.shape(weight))} and input of shape {tuple(loss.shape)} "
                         "must have the same size")
    weighted = loss * Tensor._from_value(weight, like=loss)
    if reduction == "mean" and mean == "over weights":
        return weighted.sum() / Tensor._from_value(weight, like=loss).sum()
    return _reduce(weighted, reduction, op)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """(input - target)^2."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    d = input - _same_shape(input, target, "mse_loss")
    return _weighted(d * d, weight, reduction, "mse_loss")


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """|input - target|."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    return _weighted((input - _same_shape(input, target, "l1_loss")).abs(), weight, reduction, "l1_loss")


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    if not beta >= 0:  # written so that NaN is refused too, as PyTorch refuses it
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)
    d = input - _same_shape(input, target, "smooth_l1_loss")
    a = d.abs()
    return _reduce(where(a.data < beta, 0.5 * d * d / beta, a - 0.5 * beta), reduction, "smooth_l1_loss")


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta)."""
    if not delta > 0:  # a delta <= 0 (or NaN) would give negative losses; PyTorch refuses it too
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    d = input - _same_shape(input, target, "huber_loss")
    a = d.abs()
    loss = where(a.data < delta, 0.5 * d * d, delta * (a - 0.5 * delta))
    return _weighted(loss, weight, reduction, "huber_loss", mean="plain")


def _broadcastable(weight, input, name, op):
    """``weight`` unchanged, after checking that it broadcasts to the input's shape without
    enlarging the loss (a (2, N, C) weight would silently make a (2, N, C) loss; PyTorch refuses it)."""
    shape, wanted = tuple(np.shape(weight)), tuple(input.shape)
    try:
        fits = np.broadcast_shapes(shape, wanted) == wanted
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{op}: {name} of shape {shape} does not broadcast to the input's shape {wanted}")
    return weight


class BinaryCrossEntropy(Function):
    """l = -(t log p + (1 - t) log(1 - p)), each log clamped at -100 (PyTorch's rule).

    dl/dp = (p - t) / (p (1 - p)) with the denominator kept >= 1e-12;
    dl/dt = log(1 - p) - log(p), unclamped as in PyTorch (so +-inf at p = 0 or 1).
    """

    def forward(self, p, t):
        xp = backend.get_array_module(p)
        with np.errstate(divide="ignore"):
            log_p, log_q = xp.maximum(xp.log(p), -100), xp.maximum(xp.log(1 - p), -100)
        return -(t * log_p + (1 - t) * log_q)

    def backward(self, gy):
        p, t = self.inputs
        gp = gt = None
        if self.needs_input_grad[0]:
            gp = gy * (p - t) / clamp(p * (1 - p), min=1e-12)
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore"):
                gt = gy * (log(1 - p) - log(p))
        return gp, gt


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Cross-entropy of probabilities ``input`` in [0, 1] against targets in [0, 1]."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    target = _same_shape(input, target, "binary_cross_entropy")
    xp = backend.get_array_module(input.data)
    outside = xp.any((input.data < 0) | (input.data > 1))  # read at once on the CPU, with the next read on a GPU
    check(outside, lambda: ValueError("binary_cross_entropy: all elements of input should be between 0 and 1"))
    loss = BinaryCrossEntropy()(input, target)
    if weight is not None:
        loss = loss * _broadcastable(weight, input, "weight", "binary_cross_entropy")
    return _reduce(loss, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None):
    """BCE on logits x, stable for any x: l = pos_weight t softplus(-x) + (1 - t) softplus(x),
    since -log sigmoid(x) = softplus(-x) and -log(1 - sigmoid(x)) = softplus(x)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    target = _same_shape(input, target, "binary_cross_entropy_with_logits")
    positive = target * softplus(-input)
    if pos_weight is not None:
        positive = positive * _broadcastable(pos_weight, input, "pos_weight", "binary_cross_entropy_with_logits")
    loss = positive + (1 - target) * softplus(input)
    if weight is not None:
        loss = loss * _broadcastable(weight, input, "weight", "binary_cross_entropy_with_logits")
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def _target_beside(input, target, op):
    """``target`` as a Tensor on ``input``'s device.

    A target Tensor must already be there (PyTorch refuses to mix devices too); a list or a
    raw NumPy / CuPy array is copied there, since CuPy refuses host data in device ops."""
    if isinstance(target, Tensor):
        if target.device != input.device:
            raise RuntimeError(
                f"{op}: input is on {input.device} but target is on {target.device}; "
                f"move the target with target.to({input.device!r})"
            )
        return target
    return Tensor(backend.to_device(_to_array(target), input.device))


def _check_class_weight_shape(weight, input, dim, op):
    """Class weights hold one number per class: shape (C,), C = input.shape[dim] (PyTorch refuses
    any other shape; a (C, 1) weight would otherwise broadcast into the wrong losses)."""
    classes, shape = input.shape[dim], tuple(np.shape(weight))
    if shape != (classes,):
        raise ValueError(
            f"{op}: weight must have shape (C,) = ({classes},), one number per class of the input of shape "
            f"{tuple(input.shape)}, got weight of shape {shape}"
        )


def _class_weights(weight, input, op):
    """The (C,) class weights of ``input`` (N, C, ...) as an array on its device: host values (a list,
    an ndarray) are copied there; a Tensor on another device is refused, as PyTorch refuses it."""
    _check_class_weight_shape(weight, input, 1, op)
    if isinstance(weight, Tensor):
        if weight.device != input.device:
            raise RuntimeError(
                f"{op}: input is on {input.device} but weight is on {weight.device}; "
                f"move the weight with weight.to({input.device!r})"
            )
        weight = weight.data
    elif backend.device_of(weight) == "cpu":
        weight = np.asarray(weight)
    return backend.to_device(weight, input.device).astype(input.dtype, copy=False)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood: l_n = -w[t_n] input[n, t_n], skipping targets equal to ignore_index.

    input (N, C) or (N, C, d1, ...) holds log-probabilities, target (N,) or
    (N, d1, ...) class indices.  'mean' divides by the total weight of the
    targets that are not ignored (their count when weight is None).
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    target = _target_beside(input, target, "nll_loss")
    out_shape = tuple(target.shape)  # the shape of reduction='none' losses (0-d for a single sample)
    if input.ndim == 1:  # a single sample: (C,) with a 0-d target
        input, target = input.unsqueeze(0), target.reshape(1)
    if target.dtype.kind not in "iu":
        raise TypeError(f"nll_loss: target must hold integer class indices, got dtype {target.dtype}")
    expected = (input.shape[0],) + tuple(input.shape[2:])
    if input.ndim < 2 or tuple(target.shape) != expected:
        raise ValueError(
            f"nll_loss: input of shape {tuple(input.shape)} needs a target of shape {expected}, "
            f"got {tuple(target.shape)}"
        )
    xp = backend.get_array_module(input.data)
    classes = input.shape[1]
    rows = input.movedim(1, -1).reshape(-1, classes)  # (M, C), M = N * d1 * ...
    t = target.data.reshape(-1)
    keep = t != ignore_index
    bad = keep & ((t < 0) | (t >= classes))
    check(bad.any(), lambda: IndexError(f"nll_loss: target value {int(t[bad][0])} is out of range for {classes} classes"))
    safe_t = xp.where(keep, t, 0)
    picked = getitem(rows, (xp.arange(rows.shape[0]), safe_t), check_bounds=False)  # (M,) gather; checked above
    w = keep.astype(input.dtype)
    if weight is not None:
        w = w * _class_weights(weight, input, "nll_loss")[safe_t]
    losses = -picked * Tensor(w)
    if reduction == "none":
        return losses.reshape(out_shape)
    if reduction == "mean":
        return losses.sum() / Tensor(w.sum())
    return _reduce(losses, reduction, "nll_loss")


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    """log_softmax over dim 1, then nll_loss.  ``target`` holds class indices, or,
    when it is floating point and shaped like ``input`` (the logits), class probabilities.

    ``label_smoothing`` = eps mixes the target with the uniform distribution over the C classes,
    (1 - eps) target + eps / C, as PyTorch does (Szegedy et al. 2016).
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got {label_smoothing!r}")
    logits = input
    if logits.ndim == 0:
        raise ValueError("cross_entropy: logits must have at least 1 dim (C,) or (N, C, ...)")
    dim = 0 if logits.ndim == 1 else 1
    if weight is not None:
        _check_class_weight_shape(weight, logits, dim, "cross_entropy")
    target = _target_beside(logits, target, "cross_entropy")
    log_p = log_softmax(logits, dim)
    if isinstance(target, Tensor) and target.dtype.kind == "f":
        if tuple(target.shape) != tuple(logits.shape):
            raise ValueError(
                f"cross_entropy: probability targets must have the logits' shape {tuple(logits.shape)}, "
                f"got {tuple(target.shape)}"
            )
        if label_smoothing:
            target = target * (1 - label_smoothing) + label_smoothing / logits.shape[dim]
        if weight is not None:
            shape = [1] * logits.ndim
            shape[dim] = -1
            log_p = log_p * Tensor._from_value(weight, like=logits).reshape(shape)
        losses = -(target * log_p).sum(dim)
        if reduction == "mean" and logits.ndim > 1:
            return losses.sum() / (losses.data.size)
        return _reduce(losses, reduction, "cross_entropy")
    loss = nll_loss(log_p, target, weight, ignore_index=ignore_index, reduction=reduction)
    if not label_smoothing:
        return loss
    uniform = _uniform_target_loss(log_p, target, weight, dim, ignore_index, reduction)
    return (1 - label_smoothing) * loss + (label_smoothing / logits.shape[dim]) * uniform


def _uniform_target_loss(log_p, target, weight, dim, ignore_index, reduction):
    """C times the cross-entropy against the uniform target, PyTorch's label-smoothing term:
    s_n = -sum_c w_c log p[n, c], 0 where target_n is ignore_index; 'mean' divides by the total
    weight of the targets kept, as nll_loss does (their count when weight is None)."""
    xp = backend.get_array_module(log_p.data)
    keep = target.data != ignore_index  # (N, d1, ...), like the per-sample losses
    if weight is None:
        s = -log_p.sum(dim)
        kept = keep.sum()
    else:
        w = Tensor._from_value(weight, like=log_p)  # (C,)
        shape = [1] * log_p.ndim
        shape[dim] = -1
        s = -(log_p * w.reshape(shape)).sum(dim)
        kept = xp.where(keep, w.data[xp.where(keep, target.data, 0)], 0).sum()  # the weights of the kept targets
    s = s * Tensor(keep.astype(log_p.dtype))
    if reduction == "mean":
        return s.sum() / Tensor(xp.asarray(kept, dtype=log_p.dtype))
    return _reduce(s, reduction, "cross_entropy")
