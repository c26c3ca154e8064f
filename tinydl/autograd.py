"""Define-by-run reverse-mode automatic differentiation.

Every operation is a ``Function``.  Calling one does three things:

1. ``forward(*arrays)`` computes the result on raw NumPy/CuPy arrays;
2. the result is wrapped in new Tensors whose ``grad_fn`` is this Function;
3. the Function keeps its input Tensors (``self.inputs``), so the graph is a
   chain of references from the output back to the leaves.

``backward(*grad_outputs)`` receives the gradient of the final scalar with
respect to each output, as Tensors, and returns one gradient per input.
Because it computes with Tensors and ordinary (differentiable) operations,
running it with graph recording switched on builds a graph of the gradient
itself: that is all double backward (``create_graph=True``) takes.

The walk (``run_backward``) visits Functions in decreasing *generation*: a
Function's generation is one more than the largest generation among the
Functions that made its inputs, so every consumer of a tensor is visited
before its producer, and each tensor's gradient is complete when it is used.
The walk is a loop over a heap, not a recursion, so a graph of any depth works.
docs/autograd.md tells the whole story.
"""
import functools
import heapq
import itertools
import traceback
import warnings
import weakref

from . import backend


class _Mode:
    """Global switches: is the graph being recorded, is anomaly detection on."""

    grad_enabled = True
    anomaly = False
    in_backward = False  # ops run by a backward are checked as that backward's result


_mode = _Mode()


def is_grad_enabled():
    """True unless inside ``td.no_grad()``: whether ops record the graph."""
    return _mode.grad_enabled


class set_grad_enabled:
    """Context manager (and decorator) that switches graph recording on or off."""

    def __init__(self, mode):
        self.mode = bool(mode)

    def __enter__(self):
        self.previous = _mode.grad_enabled
        _mode.grad_enabled = self.mode

    def __exit__(self, *exc):
        _mode.grad_enabled = self.previous
        return False

    def __call__(self, fn):
        """Use as a decorator: ``@td.no_grad()``."""
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper


class no_grad(set_grad_enabled):
    """``with td.no_grad():`` runs operations without recording a graph."""

    def __init__(self):
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Switch recording back on inside a ``no_grad`` block."""

    def __init__(self):
        super().__init__(True)


class inference_mode(set_grad_enabled):
    """``with td.inference_mode():`` (or ``@td.inference_mode()``): PyTorch's faster no_grad.

    In tinydl it is exactly ``no_grad`` (``inference_mode(False)``: exactly ``enable_grad``);
    tinydl has no separate "inference tensors", so the results can be used in a graph later.
    As in PyTorch it also decorates without parentheses: ``@td.inference_mode``.
    """

    def __new__(cls, mode=True):
        if callable(mode):  # @td.inference_mode on a function
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode=True):
        super().__init__(not mode)


class _VariableType(type):
    def __instancecheck__(cls, obj):  # isinstance(t, Variable) is True for every Tensor, as in PyTorch
        from .tensor import Tensor

        return isinstance(obj, Tensor)


class Variable(metaclass=_VariableType):
    """PyTorch's deprecated ``Variable(tensor, requires_grad=False)``: since PyTorch 0.4 every tensor is a Variable.

    As in PyTorch, it returns a new leaf sharing ``tensor``'s data (``tensor.detach()``) that
    requires grad when asked; ``volatile`` has no effect (a warning says to use ``td.no_grad()``).
    """

    def __new__(cls, data, requires_grad=False, volatile=False):
        from .tensor import Tensor

        if not isinstance(data, Tensor):
            raise TypeError(f"Variable: data has to be a tensor, but got {type(data).__name__}")
        if volatile:
            warnings.warn("Variable: volatile was removed and now has no effect. Use `with td.no_grad():` instead.",
                          UserWarning, stacklevel=2)
        return data.detach().requires_grad_(requires_grad)


class detect_anomaly:
    """Inside this context, the first op whose forward or backward produces NaN
    or Inf raises a RuntimeError naming the op (and, for a backward, where in
    your code its forward was called)."""

    def __enter__(self):
        self.previous = _mode.anomaly
        _mode.anomaly = True

    def __exit__(self, *exc):
        _mode.anomaly = self.previous
        return False


def _check_finite(function, arrays, where):
    for i, a in enumerate(arrays):
        if a is None or a.dtype.kind not in "fc":
            continue
        xp = backend.get_array_module(a)
        if not bool(xp.isfinite(a).all()):
            kind = "nan" if bool(xp.isnan(a).any()) else "inf"
            message = f"detect_anomaly: Function '{type(function).__name__}' returned {kind} values in {where} {i}"
            stack = getattr(function, "_forward_stack", None)
            if stack:
                message += "\nIts forward was called here:\n" + "".join(stack[-4:])
            raise RuntimeError(message)


class Function:
    """Base class of every operation, built-in or user-written.

    Subclasses implement:

    ``forward(self, *arrays)``
        the computation on raw arrays; returns an array or a tuple of arrays.
        It may save what backward needs on ``self``.
    ``backward(self, *grad_outputs)``
        gradients of the loss w.r.t. the outputs come in as Tensors; return one
        gradient Tensor per input (or None where there is none).  The inputs are
        available as Tensors in ``self.inputs``, the outputs in ``self.outputs``.

    Apply an op with ``MyOp()(x, y)`` (or ``MyOp.apply(x, y)``).
    """

    generation = 0
    released = False

    @classmethod
    def apply(cls, *inputs):
        return cls()(*inputs)

    def __call__(self, *inputs):
        inputs = tuple(x if isinstance(x, Tensor) else _as_input(self, i, x) for i, x in enumerate(inputs))
        if backend.cp is not None:  # only with CuPy can two inputs sit on different devices
            devices = {x.device for x in inputs}
            if len(devices) > 1:
                shown = ", ".join(f"{x.device} {tuple(x.shape)}" for x in inputs)
                raise RuntimeError(f"{type(self).__name__}: inputs are on different devices ({shown}); move them with .to(device)")
        record = _mode.grad_enabled and any(x.requires_grad for x in inputs)
        self.needs_input_grad = tuple(record and x.requires_grad for x in inputs)

        outputs = self.forward(*(x.data for x in inputs))
        single = not isinstance(outputs, tuple)
        if single:
            outputs = (outputs,)
        results = tuple(Tensor(y, requires_grad=record and _is_float(y)) for y in outputs)
        if _mode.anomaly and not _mode.in_backward:
            _check_finite(self, [r.data for r in results], "its forward output")

        if record:
            self.inputs = inputs
            self.generation = 1 + max(x.grad_fn.generation if x.grad_fn is not None else 0 for x in inputs)
            # Outputs are held weakly: the graph runs from outputs to inputs, never back,
            # so it is freed as soon as the last output is dropped.
            self._outputs = tuple(weakref.ref(r) for r in results)
            self._output_meta = tuple((r.shape, r.dtype) for r in results)
            for i, r in enumerate(results):
                if r.requires_grad:
                    r.grad_fn = self
            if _mode.anomaly:
                self._forward_stack = traceback.format_stack()[:-2]
        return results[0] if single else results

    @property
    def outputs(self):
        """The output Tensors (for a backward that is cheapest written with them)."""
        return tuple(ref() for ref in self._outputs)

    def forward(self, *arrays):
        raise NotImplementedError(f"{type(self).__name__} must implement forward(self, *arrays)")

    def backward(self, *grad_outputs):
        raise NotImplementedError(f"{type(self).__name__} must implement backward(self, *grad_outputs)")

    def _release(self):
        """Free what forward saved once backward has used it (unless retain_graph)."""
        name = type(self).__name__
        generation = self.generation
        self.__dict__.clear()
        self.generation = generation
        self.released = True
        self.released_name = name


def _as_input(function, i, value):
    """A non-Tensor input of ``function`` (a number or an array) as a Tensor; None is refused by name."""
    if value is None:
        raise TypeError(f"{type(function).__name__}: input {i} is None, expected a Tensor")
    return Tensor._from_value(value)


def _is_float(array):
    return array.dtype.kind == "f"


def run_backward(roots, root_grads, *, inputs=None, create_graph=False, retain_graph=None):
    """The graph walk shared by ``Tensor.backward`` and ``td.grad``.

    roots, root_grads: matching sequences of Tensors (where the walk starts).
    inputs: None to accumulate into the ``.grad`` of every leaf (``backward``),
    or the Tensors whose gradients to return without touching ``.grad``
    (``td.grad``); then the result is a dict id(tensor) -> [tensor, gradient].
    """
    if retain_graph is None:
        retain_graph = create_graph
    walk = _Walk(inputs)
    with set_grad_enabled(create_graph):  # with create_graph, the backward ops record a graph of their own
        for tensor, grad in zip(roots, root_grads):
            walk.deliver(tensor, grad)
        while walk.heap:
            function = walk.pop()  # the largest generation: every consumer of its outputs has run
            _check_not_released(function)
            outputs = function.outputs  # held, so that backward may read them and their gradients be found
            grad_outputs = [walk.take(y, meta, function) for y, meta in zip(outputs, function._output_meta)]
            input_grads = _call_backward(function, grad_outputs)
            for i, (x, gx) in enumerate(zip(function.inputs, input_grads)):
                if gx is not None and x.requires_grad:
                    walk.deliver(x, _checked_grad(function, i, x, gx))
            del outputs
            if not retain_graph:
                function._release()
    return walk.grads


class _Walk:
    """The walk's state: the heap of Functions to visit and the gradients found so far.

    grads: id(tensor) -> [tensor, gradient so far] (the entry holds the tensor alive);
    heap: (-generation, tiebreak, Function), each Function pushed once (``queued``);
    wanted: None for ``backward``, else the ids of ``td.grad``'s inputs.
    """

    def __init__(self, inputs):
        self.wanted = None if inputs is None else {id(t) for t in inputs}
        self.grads = {}
        self.heap = []
        self.queued = {}  # id(Function) -> Function
        self.counter = itertools.count()

    def wants(self, tensor):
        """Is ``tensor`` one of td.grad's inputs (whose gradient is returned, never consumed)?"""
        return self.wanted is not None and id(tensor) in self.wanted

    def deliver(self, tensor, grad):
        """Add ``grad`` to ``tensor``'s total: kept for its producer (or td.grad's result), or into a leaf's .grad."""
        if tensor.grad_fn is not None or self.wants(tensor):
            entry = self.grads.get(id(tensor))
            if entry is None:
                self.grads[id(tensor)] = [tensor, grad]
            else:
                entry[1] = entry[1] + grad
        if tensor.grad_fn is not None:
            self.push(tensor.grad_fn)
        elif self.wanted is None and tensor.requires_grad:
            _accumulate_grad(tensor, grad)

    def push(self, function):
        if id(function) not in self.queued:
            self.queued[id(function)] = function
            heapq.heappush(self.heap, (-function.generation, next(self.counter), function))

    def pop(self):
        return heapq.heappop(self.heap)[2]

    def take(self, output, meta, function):
        """The complete gradient of one of ``function``'s outputs, freed from ``grads`` once taken.

        An output that did not influence the roots (dropped, or say the ``indices`` of
        ``max(dim)``) gets zeros; one that called ``retain_grad()`` keeps a copy in ``.grad``.
        """
        entry = self.grads.get(id(output)) if output is not None else None
        if entry is None:
            shape, dtype = meta
            xp = backend.get_array_module(function.inputs[0].data)
            return Tensor(xp.zeros(shape, dtype=dtype))
        if not self.wants(output):
            del self.grads[id(output)]  # consumed: free it
        if self.wanted is None and getattr(output, "_retains_grad", False):
            _accumulate_grad(output, entry[1])
        return entry[1]


def _accumulate_grad(tensor, grad):
    """tensor.grad += grad.  The first time, a copy: ``grad`` may be a read-only broadcast view,
    or a Tensor that another leaf's .grad also holds, and optimizers update .grad in place."""
    tensor.grad = grad.clone() if tensor.grad is None else tensor.grad + grad


def _check_not_released(function):
    if function.released:
        raise RuntimeError(
            f"Trying to backward through the graph a second time: {function.released_name} has already "
            "freed what its forward saved. Pass retain_graph=True to the first backward if you need to."
        )


def _call_backward(function, grad_outputs):
    """``function.backward(*grad_outputs)`` as a tuple of one gradient per input, with the anomaly check."""
    outer, _mode.in_backward = _mode.in_backward, True
    try:
        input_grads = function.backward(*grad_outputs)
    finally:
        _mode.in_backward = outer
    if not isinstance(input_grads, tuple):
        input_grads = (input_grads,)
    if len(input_grads) != len(function.inputs):
        raise RuntimeError(
            f"{type(function).__name__}.backward returned {len(input_grads)} gradients "
            f"for {len(function.inputs)} inputs"
        )
    if _mode.anomaly:
        _check_finite(function, [g.data if isinstance(g, Tensor) else g for g in input_grads],
                      "the gradient for its input")
    return input_grads


def _checked_grad(function, i, x, gx):
    """The gradient ``gx`` that backward returned for input ``i`` (``x``): a Tensor of x's shape and dtype."""
    if not isinstance(gx, Tensor):
        gx = Tensor(gx)
    if gx.shape != x.shape:
        raise RuntimeError(
            f"{type(function).__name__}.backward returned a gradient of shape {tuple(gx.shape)} "
            f"for input {i} of shape {tuple(x.shape)}"
        )
    return gx if gx.dtype == x.dtype else gx.to(x.dtype)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=False):
    """Gradients of ``outputs`` w.r.t. ``inputs``, returned as a tuple; ``.grad`` is untouched.

    With ``create_graph=True`` the returned gradients are themselves part of a
    graph and can be differentiated again (double backward). ``only_inputs`` is
    accepted and ignored, as in PyTorch, which deprecated it (only_inputs=False warns).
    """
    if not only_inputs:
        warnings.warn("grad: only_inputs argument is deprecated and is ignored now (defaults to True). To accumulate "
                      "gradient for other parts of the graph, please use backward.", FutureWarning, stacklevel=2)
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for i, x in enumerate(inputs):
        if not x.requires_grad:
            raise RuntimeError(f"grad: input {i} (shape {tuple(x.shape)}) does not require grad")
    roots, root_grads = [], []
    for i, (y, g) in enumerate(zip(outputs, grad_outputs)):
        if not y.requires_grad:
            raise RuntimeError(f"grad: output {i} does not require grad and does not have a grad_fn")
        roots.append(y)
        root_grads.append(_initial_grad(y, g, "grad"))
    found = run_backward(roots, root_grads, inputs=inputs, create_graph=create_graph, retain_graph=retain_graph)
    result = []
    for i, x in enumerate(inputs):
        entry = found.get(id(x))
        if entry is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} (shape {tuple(x.shape)}) was not used to compute the outputs; "
                    "pass allow_unused=True to get None for it"
                )
            result.append(None)
        else:
            result.append(entry[1])
    return tuple(result)


def _initial_grad(root, grad, who):
    """The gradient the walk starts from: ones for a scalar root, else as given."""
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"{who}: grad can be implicitly created only for scalar outputs, got shape {tuple(root.shape)}; "
                "pass a gradient of that shape"
            )
        xp = backend.get_array_module(root.data)
        return Tensor(xp.ones(root.shape, dtype=root.dtype))
    if not isinstance(grad, Tensor):
        grad = Tensor._from_value(grad, like=root)
    if grad.shape != root.shape:
        raise RuntimeError(f"{who}: gradient of shape {tuple(grad.shape)} given for an output of shape {tuple(root.shape)}")
    return grad


from .tensor import Tensor  # noqa: E402  (tensor.py builds on Function above)
