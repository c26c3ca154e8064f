"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay.

PyTorch's rule, with g the gradient and b the momentum buffer:

    g <- g + weight_decay * p
    b <- g                                  (first step)
    b <- momentum * b + (1 - dampening) * g (later steps)
    g <- g + momentum * b   if nesterov   else   g <- b
    p <- p - lr * g
"""
from .optimizer import Optimizer, check_number


class SGD(Optimizer):
    """SGD with momentum, dampening, Nesterov momentum and weight decay (the rule is in the module docstring)."""

    buffers = ("momentum_buffer",)

    def __init__(self, params, lr, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov)
        super().__init__(params, defaults)

    def check_group(self, group):
        check_number("SGD", "lr", group["lr"], label="learning rate")
        check_number("SGD", "momentum", group["momentum"])
        check_number("SGD", "weight_decay", group["weight_decay"])
        check_number("SGD", "dampening", group["dampening"], low=-float("inf"))  # any number but NaN
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")

    def update(self, param, grad, state, group):
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param
        momentum = group["momentum"]
        if momentum:
            buffer = state.get("momentum_buffer")
            if buffer is None:
                buffer = state["momentum_buffer"] = grad.copy()
            else:
                buffer *= momentum
                buffer += (1 - group["dampening"]) * grad
            grad = grad + momentum * buffer if group["nesterov"] else buffer
        param -= group["lr"] * grad
