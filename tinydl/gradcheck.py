"""Check analytic gradients against central finite differences, in float64.

For a function f and inputs x, gradcheck picks a fixed random cotangent u
(one weight per output element) and compares, for every input element x_i,

    analytic:  (u^T J)_i    from one backward pass (what backward computes)
    numeric:   (u . f(x + eps e_i) - u . f(x - eps e_i)) / (2 eps)

A wrong backward gives a wrong vector-Jacobian product for all but a
measure-zero set of u, so one random u checks the whole Jacobian.  The central
difference has error O(eps^2); with eps = 1e-6 that is ~1e-12, far below
float64's rounding noise of ~1e-16 / eps = 1e-10, but far above float32's
~1e-7 / eps = 0.1: that is why the check must run in float64
(docs/autograd.md, "Gradcheck").
"""
import numpy as np

from . import backend
from .autograd import grad as autograd_grad
from .autograd import enable_grad, no_grad
from .tensor import Tensor, float64


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with its finite-difference estimate."""


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _float_outputs(outputs):
    return [y for y in _as_tuple(outputs) if isinstance(y, Tensor) and y.dtype.kind == "f"]


def _cotangents(outputs, seed):
    """One fixed random weight per output element (reproducible: seeded)."""
    rng = np.random.default_rng(seed)
    return [
        Tensor(backend.to_device(rng.standard_normal(y.shape), y.device).astype(y.dtype)) for y in outputs
    ]


def _check_inputs(inputs, who):
    checked = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError(f"{who}: no input requires grad, so there is nothing to check")
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor) and x.requires_grad and x.dtype != float64:
            raise ValueError(
                f"{who}: input {i} is {x.dtype}; finite differences need float64 (use .double() or dtype=td.float64)"
            )


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """True if every input's analytic gradient of ``fn`` matches finite differences,
    else raise GradcheckError naming the input, the worst element, and both values."""
    inputs = _as_tuple(inputs)
    _check_inputs(inputs, "gradcheck")
    outputs = _float_outputs(fn(*inputs))
    if not outputs:
        raise ValueError("gradcheck: fn returned no floating-point Tensor")
    u = _cotangents(outputs, seed)
    positions = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    wanted = [inputs[i] for i in positions]
    differentiable = [(y, g) for y, g in zip(outputs, u) if y.requires_grad]
    if differentiable:
        ys, gs = zip(*differentiable)
        analytic = autograd_grad(list(ys), wanted, list(gs), allow_unused=True)
    else:
        analytic = [None] * len(wanted)

    def projected(values):
        return sum(float((y.data * g.data).sum()) for y, g in zip(_float_outputs(values), u))

    for k, (position, x) in enumerate(zip(positions, wanted)):
        numeric = np.zeros(x.shape)
        with no_grad():
            for i in np.ndindex(*x.shape):  # write into x.data itself: perturbs x in place, whatever its layout
                original = x.data[i].item()
                x.data[i] = original + eps
                plus = projected(fn(*inputs))
                x.data[i] = original - eps
                minus = projected(fn(*inputs))
                x.data[i] = original
                numeric[i] = (plus - minus) / (2 * eps)
        a = np.zeros(x.shape) if analytic[k] is None else backend.to_numpy(analytic[k].data).astype(np.float64)
        _compare(a, numeric, atol, rtol, f"input {position} (shape {tuple(x.shape)})", "gradcheck")
    return True


def _compare(analytic, numeric, atol, rtol, what, who):
    error = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    finite = np.all(np.isfinite(analytic)) and np.all(np.isfinite(numeric))  # NaN > 0 is False: test it apart
    if error.size and error.max() > 0 or not finite:
        worst = np.unravel_index(np.argmax(np.where(np.isfinite(error), error, np.inf)), analytic.shape)
        raise GradcheckError(
            f"{who}: the gradient for {what} disagrees with finite differences at index {tuple(int(i) for i in worst)}: "
            f"analytic {analytic[worst]:.10g}, numeric {numeric[worst]:.10g} "
            f"(|difference| {abs(analytic[worst] - numeric[worst]):.3g} > atol {atol} + rtol {rtol} * |numeric|)"
        )


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """Check second derivatives: gradcheck the function that computes the first
    derivatives (a vector-Jacobian product with ``create_graph=True``), with
    respect to the inputs and to the cotangent itself."""
    inputs = _as_tuple(inputs)
    _check_inputs(inputs, "gradgradcheck")
    outputs = _float_outputs(fn(*inputs))
    if grad_outputs is None:
        grad_outputs = _cotangents(outputs, seed + 1)
    grad_outputs = [Tensor(g.data.copy(), requires_grad=True) for g in _as_tuple(grad_outputs)]
    n = len(inputs)
    wanted = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]

    def first_derivatives(*args):
        xs, vs = args[:n], args[n:]
        with enable_grad():  # gradcheck evaluates under no_grad, but a first derivative needs its graph
            ys = [y for y in _float_outputs(fn(*xs)) if y.requires_grad]
            grads = autograd_grad(ys, [xs[i] for i in wanted], list(vs[: len(ys)]), create_graph=True, allow_unused=True)
        return tuple(g if g is not None else xs[i] * 0 for g, i in zip(grads, wanted))

    return gradcheck(first_derivatives, inputs + tuple(grad_outputs), eps, atol, rtol, seed)
