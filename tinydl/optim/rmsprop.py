"""RMSprop (Hinton's lecture 6e, 2012; Graves 2013 for the centered form), PyTorch's rule.

With g the gradient, v the running mean of g^2 and alpha its smoothing constant:

    g <- g + weight_decay * p
    v <- alpha v + (1 - alpha) g^2
    m <- alpha m + (1 - alpha) g                    (centered only: a running mean of g)
    s <- sqrt(v - m^2) + eps   if centered   else   s <- sqrt(v) + eps
    b <- momentum b + g / s    and   p <- p - lr b  (with momentum > 0)
    p <- p - lr g / s                               (without)

Dividing by s, an estimate of g's recent magnitude, gives every weight a step of about lr
whatever the scale of its gradient; centered RMSprop divides by the standard deviation instead.
"""
from .. import backend
from .optimizer import Optimizer, check_number


class RMSprop(Optimizer):
    """RMSprop with weight decay, momentum and the centered variant (the rule is in the module docstring)."""

    buffers = ("square_avg", "momentum_buffer", "grad_avg")

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered)
        super().__init__(params, defaults)

    def check_group(self, group):
        check_number("RMSprop", "lr", group["lr"], label="learning rate")
        check_number("RMSprop", "eps", group["eps"], label="epsilon value")
        check_number("RMSprop", "momentum", group["momentum"])
        check_number("RMSprop", "weight_decay", group["weight_decay"])
        check_number("RMSprop", "alpha", group["alpha"])

    def update(self, param, grad, state, group):
        xp = backend.get_array_module(param)
        alpha, eps, momentum = group["alpha"], group["eps"], group["momentum"]
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(param)
            if momentum > 0:
                state["momentum_buffer"] = xp.zeros_like(param)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(param)
        state["step"] += 1
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param
        v = state["square_avg"]
        v *= alpha
        v += (1 - alpha) * grad * grad
        if group["centered"]:
            m = state["grad_avg"]
            m += (1 - alpha) * (grad - m)  # PyTorch's lerp: m + (1 - alpha)(g - m)
            s = xp.sqrt(v - m * m) + eps
        else:
            s = xp.sqrt(v) + eps
        if momentum > 0:
            if "momentum_buffer" not in state:  # momentum switched on after the first step (a scheduler)
                state["momentum_buffer"] = xp.zeros_like(param)
            b = state["momentum_buffer"]
            b *= momentum
            b += grad / s
            param -= group["lr"] * b
        else:
            param -= group["lr"] * grad / s
