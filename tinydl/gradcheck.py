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

When an input fails, the random projections are no numbers to check by hand, so
the failing input's full Jacobians are computed, the numeric one column by
column (one perturbed element at a time) and the analytic one row by row (one
backward pass per output element, with a one-hot cotangent), and the report
names their worst entry: output index, input index, analytic and numeric value.
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
    return _gradcheck(fn, _as_tuple(inputs), eps, atol, rtol, seed, "gradcheck", note="")


def _gradcheck(fn, inputs, eps, atol, rtol, seed, who, note):
    """gradcheck's body, shared with gradgradcheck (``who`` and ``note`` name the check in the report).

    The fast pass: one backward with the random cotangent u against the projected finite differences,
    input by input; the first input that fails gets its full Jacobians compared (``_report``)."""
    _check_inputs(inputs, who)
    outputs = _float_outputs(fn(*inputs))
    if not outputs:
        raise ValueError(f"{who}: fn returned no floating-point Tensor")
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
        for i in np.ndindex(*x.shape):
            plus, minus = _evaluate_around(fn, inputs, x, i, eps, projected)
            numeric[i] = (plus - minus) / (2 * eps)
        a = np.zeros(x.shape) if analytic[k] is None else backend.to_numpy(analytic[k].data).astype(np.float64)
        if _worst(a, numeric, atol, rtol) is not None:  # u^T J is wrong: find the Jacobian entry that is
            _report(fn, inputs, position, eps, atol, rtol, who, note, projected=(a, numeric))
    return True


def _evaluate_around(fn, inputs, x, i, eps, measure):
    """measure(fn's outputs) at x + eps e_i and at x - eps e_i.  x is perturbed in x.data itself (so whatever
    its layout), and each result is measured at once: an output may be x itself, or share its memory."""
    original = x.data[i].item()
    with no_grad():
        try:
            x.data[i] = original + eps
            plus = measure(fn(*inputs))
            x.data[i] = original - eps
            minus = measure(fn(*inputs))
        finally:
            x.data[i] = original
    return plus, minus


def _flat(outputs):
    """The float outputs' values, raveled and concatenated into one float64 vector (a copy)."""
    return np.concatenate([backend.to_numpy(y.data).astype(np.float64).ravel() for y in _float_outputs(outputs)])


def _output_of_row(row, sizes):
    """Which output a row of the stacked Jacobian belongs to, and the flat index inside that output."""
    k = int(np.searchsorted(np.cumsum(sizes), row, side="right"))
    return k, row - sum(sizes[:k])


def _jacobians(fn, inputs, position, eps):
    """The numeric and analytic Jacobians (total outputs, x.size) of fn's float outputs w.r.t. input ``position``.

    Numeric, column by column: column i is (f(x + eps e_i) - f(x - eps e_i)) / (2 eps).
    Analytic, row by row: row j is the gradient for x of the one-hot cotangent e_j.
    """
    x = inputs[position]
    columns = []
    for i in np.ndindex(*x.shape):
        plus, minus = _evaluate_around(fn, inputs, x, i, eps, _flat)
        columns.append((plus - minus) / (2 * eps))
    with enable_grad():
        outputs = _float_outputs(fn(*inputs))
    sizes = [y.data.size for y in outputs]
    numeric = np.stack(columns, axis=1).reshape(sum(sizes), x.data.size)
    analytic = np.zeros_like(numeric)
    differentiable = [k for k, y in enumerate(outputs) if y.requires_grad]
    for row in range(sum(sizes)):
        k, flat = _output_of_row(row, sizes)
        if k not in differentiable:
            continue  # an output outside the graph: its row of the analytic Jacobian is zero
        cotangents = [Tensor(backend.get_array_module(y.data).zeros(y.shape, dtype=y.dtype)) for y in outputs]
        cotangents[k].data.reshape(-1)[flat] = 1
        (g,) = autograd_grad([outputs[j] for j in differentiable], [x], [cotangents[j] for j in differentiable],
                             retain_graph=True, allow_unused=True)
        if g is not None:
            analytic[row] = backend.to_numpy(g.data).astype(np.float64).ravel()
    return analytic, numeric, outputs


def _worst(analytic, numeric, atol, rtol):
    """The index of the entry furthest outside |analytic - numeric| <= atol + rtol |numeric|, or None if all agree."""
    error = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    error = np.where(np.isnan(error), np.inf, error)  # NaN > 0 is False: a NaN entry fails, and first
    if not error.size or error.max() <= 0:
        return None
    return np.unravel_index(np.argmax(error), error.shape)


def _index(flat, shape):
    return tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ()


def _report(fn, inputs, position, eps, atol, rtol, who, note, projected):
    """Raise GradcheckError with the worst entry of input ``position``'s full Jacobians."""
    x = inputs[position]
    analytic, numeric, outputs = _jacobians(fn, inputs, position, eps)
    where = f"{who}: the gradient for input {position} (shape {tuple(x.shape)}) disagrees with finite differences"
    tolerance = f"atol {atol} + rtol {rtol} * |numeric|"
    worst = _worst(analytic, numeric, atol, rtol)
    if worst is None:  # every entry is within tolerance, but their errors add up in u^T J
        a, n = projected
        i = _worst(a, n, atol, rtol)
        raise GradcheckError(
            f"{where} at index {tuple(int(j) for j in i)}: analytic {a[i]:.8g}, numeric {n[i]:.8g}\n"
            f"  these are (u^T J)[i] for a random cotangent u; no single Jacobian entry is off by more than "
            f"{tolerance}, but their errors add up over the outputs{note}"
        )
    row, column = (int(j) for j in worst)
    k, flat = _output_of_row(row, [y.data.size for y in outputs])
    out_index, in_index = _index(flat, tuple(outputs[k].shape)), _index(column, tuple(x.shape))
    a, n = analytic[row, column], numeric[row, column]
    raise GradcheckError(
        f"{where} at index {in_index}: analytic {a:.8g}, numeric {n:.8g}\n"
        f"  the Jacobian entry d output {k}{list(out_index)} / d input {position}{list(in_index)} "
        f"(output {k} has shape {tuple(outputs[k].shape)}); |difference| {abs(a - n):.3g} > {tolerance}{note}"
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

    note = "\n  (gradgradcheck checks fn's first derivatives: " + ", ".join(
        [f"output {k} is the gradient for fn's input {i}" for k, i in enumerate(wanted)]
        + [f"input {n + j} is the cotangent v for fn's output {j}" for j in range(len(grad_outputs))]
    ) + ")"
    return _gradcheck(first_derivatives, inputs + tuple(grad_outputs), eps, atol, rtol, seed, "gradgradcheck", note)
