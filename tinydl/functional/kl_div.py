"""``F.kl_div``: the Kullback-Leibler divergence KL(target || q), with ``input`` = log q (PyTorch's
argument order and reductions, ``'batchmean'`` included). Built from differentiable ops."""
import warnings

from .elementwise import exp, log, where
from .loss import _same_shape, legacy_reduction

REDUCTIONS = ("mean", "batchmean", "sum", "none")


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Pointwise target * (log target - input), 0 where target is 0 (with ``log_target=True`` the
    target is given as its log: exp(target) * (target - input)). ``'batchmean'`` divides the sum by
    the batch size (input's first dim), the true KL divergence per sample; ``'mean'`` divides by the
    number of elements, as PyTorch, which warns about it."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    if reduction not in REDUCTIONS:
        raise ValueError(f"kl_div: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    target = _same_shape(input, target, "kl_div")
    if log_target:
        pointwise = exp(target) * (target - input)
    else:
        positive = target.detach() > 0
        log_target_values = log(where(positive, target, 1.0))  # log 1 = 0 where target is 0
        pointwise = where(positive, target * (log_target_values - input), 0.0 * input)
    if reduction == "none":
        return pointwise
    if reduction == "sum":
        return pointwise.sum()
    if reduction == "batchmean":
        return pointwise.sum() / (input.shape[0] if input.ndim else 1)
    warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                  "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                  "'mean' will be changed to behave the same as 'batchmean' in the next major release.", stacklevel=2)
    return pointwise.mean()
