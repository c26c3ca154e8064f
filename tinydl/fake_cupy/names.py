"""The names real CuPy has, read from ``cupy_names.txt``.

The list is generated from an installed ``cupy-cuda12x`` by ``tools/cupy_names.py``
(its first line says which version). The stand-in offers a name only if CuPy has
it, so code that uses a NumPy-only function fails here as it would on a GPU.
"""
import collections
import os

_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cupy_names.txt")


def _load():
    table = collections.defaultdict(set)
    with open(_PATH, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            namespace, _, name = line.rpartition(".")
            table[namespace].add(name)
    return table


_TABLE = _load()


def has(namespace, name):
    """Whether CuPy has ``namespace.name``, e.g. ``has("cupy", "take_along_axis")``."""
    return name in _TABLE.get(namespace, ())


def version():
    """The CuPy version the list was generated from."""
    with open(_PATH, encoding="utf-8") as f:
        first = f.readline()
    return first.lstrip("# ").strip()
