"""Adam and AdamW (Kingma & Ba 2015; Loshchilov & Hutter 2019), PyTorch's rules.

With g the gradient and t the step count:

    m <- beta1 m + (1 - beta1) g           (first moment: a running mean of g)
    v <- beta2 v + (1 - beta2) g^2         (second moment: of g squared)
    p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

The factors 1 - beta^t undo the bias of m and v towards their zero start.
Adam's ``weight_decay`` adds weight_decay * p to g (L2 regularization, which
the moments then rescale); AdamW instead shrinks p directly,
p <- p (1 - lr weight_decay), which is "decoupled" weight decay.
"""
import math

from .. import backend
from .optimizer import Optimizer, check_number


class Adam(Optimizer):
    """Adam with L2 ``weight_decay`` and optional ``amsgrad`` (the rule is in the module docstring)."""
    decoupled = False
    buffers = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
        super().__init__(params, defaults)

    def check_group(self, group):
        name = type(self).__name__
        check_number(name, "lr", group["lr"], label="learning rate")
        check_number(name, "eps", group["eps"], label="epsilon value")
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        for i, beta in enumerate(betas):
            check_number(name, f"betas[{i}]", beta, high=1.0, label=f"beta parameter at index {i}")
        group["betas"] = tuple(betas)  # a list from a checkpoint or a caller becomes the usual pair
        check_number(name, "weight_decay", group["weight_decay"])

    def update(self, param, grad, state, group):
        xp = backend.get_array_module(param)
        lr, (beta1, beta2), eps, decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(param)
            state["exp_avg_sq"] = xp.zeros_like(param)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(param)
        state["step"] += 1
        t = state["step"]
        if decay:
            if self.decoupled:
                param *= 1 - lr * decay
            else:
                grad = grad + decay * param
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= beta1
        m += (1 - beta1) * grad
        v *= beta2
        v += (1 - beta2) * grad * grad
        if group["amsgrad"]:
            xp.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        denominator = xp.sqrt(v) / math.sqrt(1 - beta2**t) + eps
        param -= (lr / (1 - beta1**t)) * m / denominator


class AdamW(Adam):
    """Adam with decoupled weight decay (default 1e-2, as in PyTorch)."""

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)
