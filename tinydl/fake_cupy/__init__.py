"""A CPU stand-in for CuPy, so that tinydl's GPU path runs (and is tested) on machines without a GPU.

``TINYDL_FAKE_GPU=1`` on a machine with no GPU makes ``tinydl.backend`` use this
package where it would use ``cupy``: ``td.cuda.is_available()`` is True and
``device="cuda"`` lives here. With a real GPU, real CuPy is used and the variable
is ignored.

It is written to be *strict*, not fast: it refuses what CuPy refuses and behaves
where CuPy behaves differently from NumPy, so a bug that would only show on a
GPU shows in the tests. Where to read:

- ``ndarray.py``: what a GPU array is, and how it differs from NumPy's (start here);
- ``functions.py``: the namespace, NumPy's functions behind CuPy's rules;
- ``counters.py``: device -> host syncs and host -> device copies, per source line;
- ``cuda.py``: the pretend device, its memory pool and hooks; ``random.py``: its random stream;
- ``names.py`` + ``cupy_names.txt``: only names real CuPy has (``tools/cupy_names.py`` regenerates the list).

It does not model timing, streams, or float rounding differences of GPU kernels.
"""
import types

import numpy as np

from . import counters, cuda, cupyx, functions, names, random  # noqa: F401
from .cuda import get_default_memory_pool  # noqa: F401
from .functions import lookup
from .ndarray import ndarray  # noqa: F401

__version__ = "stand-in for " + names.version()

lib = types.SimpleNamespace(
    stride_tricks=types.SimpleNamespace(
        as_strided=functions.device_function(np.lib.stride_tricks.as_strided, "as_strided"),
    )
)


def _namespace(name, numpy_module):
    module = types.ModuleType(f"cupy.{name}")
    module.__getattr__ = lambda attr: lookup(attr, f"cupy.{name}", numpy_module)
    return module


linalg = _namespace("linalg", np.linalg)


def get_default_pinned_memory_pool():
    return cuda.MemoryPool()


def __getattr__(name):
    value = lookup(name)
    globals()[name] = value  # look each name up once
    return value
