"""Adadelta (Zeiler 2012), PyTorch's rule.

With g the gradient, v the running mean of g^2 and u the running mean of the squared updates:

    g <- g + weight_decay * p
    v <- rho v + (1 - rho) g^2
    delta <- sqrt(u + eps) / sqrt(v + eps) * g
    u <- rho u + (1 - rho) delta^2
    p <- p - lr delta

The ratio of the two root-mean-squares gives the update the units of p (Zeiler's point),
so the paper has no learning rate at all: PyTorch's lr (default 1.0) only scales delta.
"""
from .. import backend
from .optimizer import Optimizer, check_number


class Adadelta(Optimizer):
    """Adadelta with weight decay (the rule is in the module docstring)."""

    buffers = ("square_avg", "acc_delta")

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay))

    def check_group(self, group):
        check_number("Adadelta", "lr", group["lr"], label="learning rate")
        rho = group["rho"]
        check_number("Adadelta", "rho", rho)
        if rho > 1.0:  # rho = 1 is allowed, as in PyTorch (the averages then never move)
            raise ValueError(f"Adadelta: Invalid rho value: {rho}")
        check_number("Adadelta", "eps", group["eps"], label="epsilon value")
        check_number("Adadelta", "weight_decay", group["weight_decay"])

    def update(self, param, grad, state, group):
        xp = backend.get_array_module(param)
        rho, eps = group["rho"], group["eps"]
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(param)
            state["acc_delta"] = xp.zeros_like(param)
        state["step"] += 1
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param
        v, u = state["square_avg"], state["acc_delta"]
        v *= rho
        v += (1 - rho) * grad * grad
        delta = xp.sqrt(u + eps) / xp.sqrt(v + eps) * grad
        u *= rho
        u += (1 - rho) * delta * delta
        param -= group["lr"] * delta
