"""Why ``p.data.add_(...)`` fails in tinydl, said where the learner reads the error.

In PyTorch ``p.data`` is a Tensor; in tinydl it is the raw NumPy (or CuPy)
array, on purpose (docs/index.md).  So PyTorch habits such as
``p.data.add_(g, alpha=-lr)``, ``m.weight.data.normal_(0, 0.02)`` or
``p.data.size(0)`` end in NumPy's ``AttributeError: 'numpy.ndarray' object has
no attribute 'add_'`` (or ``TypeError: 'int' object is not callable``).

Making ``.data`` itself explain this would cost every op: tinydl's own code
reads ``.data`` in every forward and backward, and an ndarray subclass that
could raise a better error makes each NumPy call on it 300-500 ns slower (a
15-25% slowdown of tinydl's per-op overhead; docs/performance.md).  So the
explanation is added where the error is shown instead: ``install()`` (called
on ``import tinydl``) wraps ``sys.excepthook``, the function Python calls to
print an uncaught exception, and adds a note (``BaseException.add_note``,
Python 3.11+) to such an error before the usual traceback is printed.  Nothing
else changes: other errors, and errors a program catches, pass untouched.
IPython and Jupyter print errors with their own machinery: there the same note
is added through ``set_custom_exc``.  An error the program catches itself (a
``try`` block, pytest) keeps NumPy's message; ``hint_for(error)`` gives the text.
"""
import linecache
import re
import sys

import numpy as np

from . import backend
from .tensor import Tensor

# the tinydl way for the PyTorch Tensor methods most often called on .data
WAYS = {
    "add_": "p.data += x.data (or p.data += alpha * x.data), or `with td.no_grad(): p += x`",
    "sub_": "p.data -= x.data, or `with td.no_grad(): p -= x`",
    "mul_": "p.data *= x, or `with td.no_grad(): p *= x`",
    "div_": "p.data /= x, or `with td.no_grad(): p /= x`",
    "zero_": "p.data[...] = 0, or `with td.no_grad(): p.zero_()`",
    "fill_": "p.data[...] = value, or `with td.no_grad(): p.fill_(value)`",
    "copy_": "p.data[...] = source.data, or `with td.no_grad(): p.copy_(source)`",
    "clamp_": "p.data[...] = p.data.clip(low, high)",
    "normal_": "td.nn.init.normal_(p, mean, std)",
    "uniform_": "td.nn.init.uniform_(p, low, high)",
    "size": "p.size(0) or p.shape[0] (p.data.shape[0] on the array)",
    "dim": "p.dim() (p.data.ndim on the array)",
    "numel": "p.numel() (p.data.size on the array)",
    "clone": "p.detach().clone() (p.data.copy() on the array)",
    "detach": "p.detach()",
    "numpy": "p.detach().numpy() (p.data already is the array on the cpu)",
}


def hint_for(error):
    """The note for an error raised by calling a Tensor method on ``.data``'s array, or None."""
    name = _tensor_method_asked_of_an_array(error)
    if name is None:
        return None
    if name in WAYS or callable(getattr(Tensor, name)):
        what, way = f"method .{name}()", WAYS.get(name, f"call it on the Tensor, p.{name}(...)")
    else:  # an attribute such as .grad or .requires_grad
        what, way = f"attribute .{name}", f"ask the Tensor, p.{name}"
    return (
        f"tinydl: .data is the raw NumPy/CuPy array, not a Tensor as in PyTorch, so PyTorch's Tensor {what} "
        f"is not there. The tinydl way: {way}."
    )


def _tensor_method_asked_of_an_array(error):
    if isinstance(error, AttributeError):
        name, obj = getattr(error, "name", None), getattr(error, "obj", None)
        known = name in WAYS or (isinstance(name, str) and hasattr(Tensor, name))
        return name if known and _is_array(obj) else None
    if isinstance(error, TypeError) and str(error) == "'int' object is not callable":
        line = _failing_line(error)  # p.data.size(0): ndarray.size is an int
        return "size" if line is not None and re.search(r"\.data\.size\(", line) else None
    return None


def _is_array(obj):
    return isinstance(obj, np.ndarray) or (backend.cp is not None and isinstance(obj, backend.cp.ndarray))


def _failing_line(error):
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return None
    return linecache.getline(tb.tb_frame.f_code.co_filename, tb.tb_lineno)


def install():
    """Wrap ``sys.excepthook`` so that an uncaught ``.data`` misuse gets its note (once per process)."""
    previous = sys.excepthook
    if getattr(previous, "_tinydl_data_hint", False):
        return

    def excepthook(kind, error, tb):
        note = hint_for(error)
        if note is not None and hasattr(error, "add_note") and note not in getattr(error, "__notes__", ()):
            error.add_note(note)  # printed under the error's message
            note = None
        previous(kind, error, tb)
        if note is not None:  # Python 3.10: no notes, so the hint comes after the traceback
            print(note, file=sys.stderr)

    excepthook._tinydl_data_hint = True
    sys.excepthook = excepthook
    _install_in_ipython()


def _install_in_ipython():
    """In IPython or Jupyter, which print errors with their own machinery, add the same note there."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    if shell is None:
        return

    def show(shell, kind, error, tb, tb_offset=None):
        note = hint_for(error)
        if note is not None and hasattr(error, "add_note") and note not in getattr(error, "__notes__", ()):
            error.add_note(note)
        shell.showtraceback((kind, error, tb), tb_offset=tb_offset)

    shell.set_custom_exc((AttributeError, TypeError), show)
