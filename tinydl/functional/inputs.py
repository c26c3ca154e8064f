"""The check at the door of every public op: a Tensor where a Tensor is expected.

Without it, ``F.linear(None, w)`` fails deep inside with "'NoneType' object has no
attribute 'ndim'", and ``F.relu([1.0, 2.0])`` quietly works where PyTorch refuses a list.
``functional/__init__.py`` wraps each public op once with ``checked``, which looks at the
arguments by their parameter names:

- ``TENSORS`` (``x``, ``input``, ``weight``, ...) must be Tensors, not even a NumPy / CuPy array
  (as PyTorch: "must be Tensor, not numpy.ndarray"; the usual cause is PyTorch's ``t.data`` habit,
  ``torch.max(outputs.data, 1)``, and the error says that ``.data`` is the raw array in tinydl);
  None only where the parameter's default is None, or where the op documents None (``batch_norm``'s
  running statistics);
- ``ARRAY_LIKE`` arguments, which the op converts itself, lists included (the operands ``a``, ``b``
  of arithmetic, a loss's ``target`` and class ``weight``, ``boxes``, ``condition``), must not be None.

The error names the op, the argument and what was given, like PyTorch's
"relu(): argument 'input' (position 1) must be Tensor, not NoneType".
"""
import functools
import inspect

import numpy as np

from .. import backend
from ..tensor import Tensor

TENSORS = {
    "x", "input", "logits", "weight", "bias", "theta", "grid", "indices", "content", "style", "q", "k", "v",
    "h0", "c0", "w_ih", "w_hh", "b_ih", "b_hh", "running_mean", "running_var", "attn_mask", "pos_weight",
    "mask", "index", "mat2", "vec2", "tensor", "other",  # masked_fill, gather, mm / bmm, outer, dot, view_as
}
ARRAY_LIKE = {"a", "b", "target", "boxes", "condition"}
LOSS_WEIGHTS = {"weight", "pos_weight"}  # the losses take class / element weights as lists or arrays too
LOSSES = {"binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss"}
NONE_ALLOWED = {"running_mean", "running_var"}  # batch_norm without running statistics
NOT_TENSORS = {("topk", "k"), ("getitem", "index")}  # a number / any index there (attention's k is a Tensor)


def _is_array(value):
    return isinstance(value, np.ndarray) or (backend.cp is not None and isinstance(value, backend.cp.ndarray))


def _type_name(value):
    if isinstance(value, np.ndarray):
        return "numpy.ndarray"
    return "cupy.ndarray" if _is_array(value) else type(value).__name__


def _array_hint(value):
    """For a raw array, the likely cause: PyTorch's ``t.data`` habit (``torch.max(outputs.data, 1)``)."""
    if not _is_array(value):
        return ""
    return (" (in tinydl, t.data is the raw NumPy/CuPy array, not a Tensor as in PyTorch: pass the Tensor "
            "itself, or td.tensor(array))")


def _kind(op, name):
    """How argument ``name`` of ``op`` is checked: "tensor", "array-like", or None (not at all)."""
    if (op, name) in NOT_TENSORS:
        return None
    if name in ARRAY_LIKE or (op in LOSSES and name in LOSS_WEIGHTS):
        return "array-like"
    return "tensor" if name in TENSORS else None


def checked(fn):
    """``fn`` with its Tensor arguments checked first (see the module's docstring)."""
    op = fn.__name__
    watched = []  # (position, or None for a keyword-only parameter; name; kind; None allowed)
    for i, p in enumerate(inspect.signature(fn).parameters.values()):
        kind = _kind(op, p.name)
        if kind:
            position = i if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD else None
            watched.append((position, p.name, kind, p.default is None or p.name in NONE_ALLOWED))
    if not watched:
        return fn

    @functools.wraps(fn)
    def op_with_checks(*args, **kwargs):
        for position, name, kind, none_allowed in watched:
            if position is not None and position < len(args):
                value = args[position]
            elif name in kwargs:
                value = kwargs[name]
            else:
                continue  # not given: the op's default, or Python's own "missing argument" error
            if isinstance(value, Tensor) or (value is None and none_allowed):
                continue
            if value is None or kind == "tensor":
                raise TypeError(f"{op}: {name} must be a Tensor, not {_type_name(value)}{_array_hint(value)}")
        return fn(*args, **kwargs)

    return op_with_checks


def check_all(namespace):
    """Wrap every public function in ``namespace`` (a module's globals) with ``checked``."""
    for name, value in list(namespace.items()):
        if inspect.isfunction(value) and not name.startswith("_"):
            namespace[name] = checked(value)
