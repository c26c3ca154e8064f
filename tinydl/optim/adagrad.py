"""Adagrad (Duchi, Hazan & Singer 2011), PyTorch's rule.

With g the gradient, G the running sum of g^2 (starting at initial_accumulator_value)
and t the step count:

    g <- g + weight_decay * p
    G <- G + g^2
    p <- p - lr / (1 + (t - 1) lr_decay) * g / (sqrt(G) + eps)

Each weight's step shrinks as its squared gradients pile up: weights that have seen large
or frequent gradients slow down, rarely updated ones keep a large step.
"""
from .. import backend
from .optimizer import Optimizer, check_number


class Adagrad(Optimizer):
    """Adagrad with lr_decay, weight_decay and initial_accumulator_value (the rule is in the module docstring)."""

    buffers = ("sum",)

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10):
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps)
        super().__init__(params, defaults)

    def check_group(self, group):
        check_number("Adagrad", "lr", group["lr"], label="learning rate")
        check_number("Adagrad", "lr_decay", group["lr_decay"])
        check_number("Adagrad", "weight_decay", group["weight_decay"])
        check_number("Adagrad", "initial_accumulator_value", group["initial_accumulator_value"])
        check_number("Adagrad", "eps", group["eps"], label="epsilon value")

    def update(self, param, grad, state, group):
        xp = backend.get_array_module(param)
        if not state:
            state["step"] = 0
            state["sum"] = xp.full_like(param, group["initial_accumulator_value"])
        state["step"] += 1
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param
        step_size = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        state["sum"] += grad * grad
        param -= step_size * grad / (xp.sqrt(state["sum"]) + group["eps"])
