"""Framework overhead: forward + backward of 10,000 adds on 1-element tensors, per op.

    python -m benchmarks.overhead

With 1-element tensors the arithmetic is free, so what is left is tinydl's own
Python work per op: making the Function, wrapping the result, recording the
edge, and visiting it in the backward walk. It must not grow with graph size:
the same per-op time for a chain of 1,000 and of 100,000 ops.
"""
import time

import numpy as np

import tinydl as td

from .common import try_import_torch


def chain_seconds(lib, n):
    """Seconds per op for forward, and for backward, of a chain of n adds."""
    if lib == "tinydl":
        x = td.tensor([1.0], requires_grad=True)
    else:
        torch = try_import_torch()
        x = torch.tensor([1.0], requires_grad=True)
    start = time.perf_counter()
    y = x
    for _ in range(n):
        y = y + x
    middle = time.perf_counter()
    y.backward()
    end = time.perf_counter()
    return (middle - start) / n, (end - middle) / n


def run():
    libs = ["tinydl"] + (["torch"] if try_import_torch() is not None else [])
    rows = []
    for n in (1_000, 10_000, 100_000):
        for lib in libs:
            forward, backward = np.median([chain_seconds(lib, n) for _ in range(3)], axis=0)
            rows.append({"lib": lib, "ops": n, "forward_us": forward * 1e6, "backward_us": backward * 1e6})
    return rows


def main(argv=None):
    rows = run()
    print(f"{'library':8s} {'chain':>8s} {'forward us/op':>14s} {'backward us/op':>15s}")
    for r in rows:
        print(f"{r['lib']:8s} {r['ops']:8d} {r['forward_us']:14.2f} {r['backward_us']:15.2f}")
    return rows


if __name__ == "__main__":
    main()
