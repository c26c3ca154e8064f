"""Framework overhead: forward + backward of 10,000 adds on 1-element tensors, per op.

    python -m benchmarks.overhead

With 1-element tensors the arithmetic is free, so what is left is tinydl's own
Python work per op: making the Function, wrapping the result, recording the
edge, and visiting it in the backward walk. It must not grow with graph size:
the same per-op time for a chain of 1,000 and of 100,000 ops.

Each library runs in a fresh subprocess that imports only itself.  That matters
for tinydl: its graph nodes are Python objects, and CPython's cyclic garbage
collector runs full passes over *every* live object in the process while a
graph grows; with PyTorch imported alongside (about 500,000 objects) those
passes cost tinydl several times what they cost in a program of its own
(docs/performance.md, "Framework overhead").
"""
import importlib.util
import json
import subprocess
import sys
import time

import numpy as np

from .common import try_import_torch

CHAINS = (1_000, 10_000, 100_000)


def chain_seconds(lib, n):
    """Seconds per op for forward, and for backward, of a chain of n adds."""
    if lib == "tinydl":
        import tinydl as td

        x = td.tensor([1.0], requires_grad=True)
    else:
        x = try_import_torch().tensor([1.0], requires_grad=True)
    start = time.perf_counter()
    y = x
    for _ in range(n):
        y = y + x
    middle = time.perf_counter()
    y.backward()
    end = time.perf_counter()
    return (middle - start) / n, (end - middle) / n


def measure(lib):
    """The rows for one library, in this process: the median of 3 chains of each length."""
    rows = []
    for n in CHAINS:
        forward, backward = np.median([chain_seconds(lib, n) for _ in range(3)], axis=0)
        rows.append({"lib": lib, "ops": n, "forward_us": forward * 1e6, "backward_us": backward * 1e6})
    return rows


def _in_subprocess(lib):
    out = subprocess.run([sys.executable, "-m", "benchmarks.overhead", "--child", lib], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run():
    libs = ["tinydl"] + (["torch"] if importlib.util.find_spec("torch") is not None else [])
    by_lib = {lib: _in_subprocess(lib) for lib in libs}
    return [by_lib[lib][i] for i in range(len(CHAINS)) for lib in libs]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:  # one library, in a process of its own
        print(json.dumps(measure(argv[1])))
        return None
    rows = run()
    print(f"{'library':8s} {'chain':>8s} {'forward us/op':>14s} {'backward us/op':>15s}")
    for r in rows:
        print(f"{r['lib']:8s} {r['ops']:8d} {r['forward_us']:14.2f} {r['backward_us']:15.2f}")
    return rows


if __name__ == "__main__":
    main()
