"""Write the list of names that real CuPy has, for tinydl's CPU stand-in (tinydl/fake_cupy/).

The stand-in imitates CuPy's API on NumPy.  This script records which names the real CuPy
offers, so the stand-in can be checked against it without CuPy or a GPU: one name a line
(``cupy.add``, ``cupy.random.RandomState``, ``cupy.ndarray.astype``), sorted, grouped by
namespace under a header line.  Lines that start with ``#`` are comments; the first one gives
the CuPy version.

It needs CuPy installed, but no GPU: ``import cupy`` works without a CUDA driver (only calls
that touch the device fail).  Use a throwaway virtual environment outside the repository:

    python3 -m venv /tmp/cupyenv
    /tmp/cupyenv/bin/pip install cupy-cuda12x
    /tmp/cupyenv/bin/python tools/cupy_names.py --out tinydl/fake_cupy/cupy_names.txt

(or ``python tools/cupy_names.py > tinydl/fake_cupy/cupy_names.txt``).
"""
import __future__
import argparse
import importlib
import importlib.metadata
import platform
import sys
import types

# Every module the list looks into is imported before any is listed, so that what dir() shows
# (submodules appear as attributes once imported) does not depend on the order below.
MODULES = [
    "cupy",
    "cupy.random",
    "cupy.linalg",
    "cupy.lib.stride_tricks",
    "cupy.cuda",
    "cupy.cuda.runtime",
    "cupy.cuda.memory_hook",
    "cupyx",
    "cupyx.scipy.special",
]

# The namespaces listed, in this order.  Classes list their public attributes and methods.
NAMESPACES = [
    "cupy",
    "cupy.ndarray",
    "cupy.random",
    "cupy.random.RandomState",
    "cupy.linalg",
    "cupy.lib.stride_tricks",
    "cupy.cuda",
    "cupy.cuda.Device",
    "cupy.cuda.runtime",
    "cupy.cuda.memory_hook",
    "cupy.cuda.memory_hook.MemoryHook",
    "cupy.cuda.MemoryPool",
    "cupyx",
    "cupyx.scipy.special",
]

# The special methods of cupy.ndarray that matter to code written against it.  Those CuPy
# lacks are named in a comment line instead (e.g. it has no __index__).
_BINARY = "add sub mul matmul truediv floordiv mod divmod pow lshift rshift and or xor".split()
NDARRAY_DUNDERS = (
    ["__array__", "__array_ufunc__", "__array_function__", "__array_priority__",
     "__cuda_array_interface__", "__dlpack__", "__dlpack_device__",
     "__getitem__", "__setitem__", "__len__", "__iter__", "__contains__",
     "__float__", "__int__", "__complex__", "__bool__", "__index__",
     "__neg__", "__pos__", "__abs__", "__invert__",
     "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__",
     "__copy__", "__deepcopy__", "__reduce__", "__repr__", "__str__", "__format__"]
    + [f"__{op}__" for op in _BINARY]
    + [f"__r{op}__" for op in _BINARY]
    + [f"__i{op}__" for op in _BINARY if op != "divmod"]
)

OWN_PACKAGES = ("cupy", "cupyx", "cupy_backends")


def resolve(dotted):
    """The object a dotted name refers to: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def is_own(value):
    """False for what a module merely imported: other packages' modules, `from __future__`."""
    if isinstance(value, types.ModuleType):
        return value.__name__.split(".")[0] in OWN_PACKAGES
    return not isinstance(value, __future__._Feature)


def names_in(dotted):
    """(names, comment lines) of one namespace."""
    obj = resolve(dotted)
    names = {n for n in dir(obj) if not n.startswith("_") and is_own(getattr(obj, n, None))}
    comments = []
    if dotted == "cupy.ndarray":
        # A special method counts only if cupy.ndarray defines it, not object.
        have = [d for d in NDARRAY_DUNDERS
                if getattr(obj, d, None) not in (None, getattr(object, d, None))]
        names.update(have)
        missing = sorted(set(NDARRAY_DUNDERS) - set(have))
        if missing:
            comments.append(f"# cupy.ndarray does not define: {', '.join(missing)}")
    return sorted(names), comments


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", help="file to write (default: standard output)")
    args = parser.parse_args(argv)

    try:
        for module in MODULES:
            importlib.import_module(module)
    except ImportError as e:
        sys.exit(f"cupy_names.py needs CuPy installed (see its docstring): {e}")
    import cupy
    import numpy

    # The wheel CuPy came from: cupy-cuda12x, cupy-cuda13x, ... or cupy (built from source).
    dist = next(d for d in importlib.metadata.distributions()
                if d.metadata["Name"].lower().startswith("cupy"))
    lines = [
        f"# cupy {cupy.__version__}",
        f"# installed with `pip install {dist.metadata['Name']}=={dist.version}`"
        f" (numpy {numpy.__version__}, Python {platform.python_version()}), no GPU needed",
        "# written by `python tools/cupy_names.py --out tinydl/fake_cupy/cupy_names.txt`;"
        " one name a line, lines starting with # are comments",
    ]
    for namespace in NAMESPACES:
        names, comments = names_in(namespace)
        lines += ["", f"# == {namespace} ({len(names)} names) =="] + comments
        lines += [f"{namespace}.{name}" for name in names]
    text = "\n".join(lines) + "\n"

    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
