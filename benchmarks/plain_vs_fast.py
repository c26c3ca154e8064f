"""Plain (reference) against fast versions of max_pool2d / max_unpool2d and roi_pool.

    python -m benchmarks.plain_vs_fast [--rounds 9] [--only pool|roi]

Each row times forward + backward of one op in the default (fast) mode and under
``td.use_reference_kernels()``, interleaved in one process (fast, plain, fast, plain, ...)
so that a busy machine slows both alike, and reports the medians and their ratio.
A fast path stays in the package only if it buys about 10% or more here
(docs/pooling.md and docs/roi.md, "What the fast version changes and why").
roi_align has one version (the per-box loop); docs/roi.md, 3.4 says how it was measured
against the batched gather it replaced.
"""
import argparse
import statistics
import time

import numpy as np

import tinydl as td
import tinydl.functional as F
from tinydl.functional import pool


def interleaved(steps, rounds, warmup=2):
    """Median seconds of each of ``steps`` (name -> (mode, fn)), run in turns."""
    times = {name: [] for name in steps}
    for r in range(warmup + rounds):
        for name, (reference, fn) in steps.items():
            with td.use_reference_kernels(reference):
                start = time.perf_counter()
                fn()
                elapsed = time.perf_counter() - start
            if r >= warmup:
                times[name].append(elapsed)
    return {name: statistics.median(t) for name, t in times.items()}


def forward_backward(make_output, x):
    def step():
        x.grad = None
        out = make_output()
        out.backward(td.ones_like(out))
    return step


def report(title, steps, rounds):
    t = interleaved(steps, rounds)
    fast, plain = t["fast"], t["plain"]
    print(f"{title:<58} fast {fast * 1e3:8.2f} ms   plain {plain * 1e3:8.2f} ms   plain / fast {plain / fast:5.2f}")


def pool_rows(rounds):
    rng = np.random.default_rng(0)
    x = td.tensor(rng.standard_normal((32, 64, 32, 32)).astype(np.float32), requires_grad=True)
    for k, s, p in [(2, 2, 0), (3, 2, 1)]:
        step = forward_backward(lambda: F.max_pool2d(x, k, s, p), x)
        report(f"max_pool2d k{k} s{s} p{p} (32, 64, 32, 32) fwd+bwd", {"fast": (False, step), "plain": (True, step)},
               rounds)

        def pool_only():
            F.max_pool2d(x.detach(), k, s, p)
        report(f"  its forward only", {"fast": (False, pool_only), "plain": (True, pool_only)}, rounds)

    def pool_unpool():
        x.grad = None
        v, i = F.max_pool2d(x, 2, return_indices=True)
        out = F.max_unpool2d(v, i, 2)
        out.backward(td.ones_like(out))
    report("max_pool2d 2x2 + max_unpool2d (32, 64, 32, 32) fwd+bwd",
           {"fast": (False, pool_unpool), "plain": (True, pool_unpool)}, rounds)

    # the plane scatter / gather alone (max-pool backward, unpool forward and backward)
    values, indices = F.max_pool2d(x.detach(), 2, return_indices=True)
    v, idx = values.data, indices.data

    def scatter_gather():
        z = pool._into_planes(v, idx, (32, 32), accumulate=True)
        pool._from_planes(z, idx)
    report("  plane scatter-add + gather alone", {"fast": (False, scatter_gather), "plain": (True, scatter_gather)},
           rounds)


def roi_boxes(rng, n_images, k, size, scale):
    """k boxes per batch, random corners in image coordinates (feature map size * 1/scale)."""
    side = size / scale
    x1, y1 = rng.uniform(0, side * 0.7, k), rng.uniform(0, side * 0.7, k)
    w, h = rng.uniform(side * 0.1, side * 0.6, k), rng.uniform(side * 0.1, side * 0.6, k)
    return np.stack([rng.integers(0, n_images, k), x1, y1, np.minimum(x1 + w, side), np.minimum(y1 + h, side)],
                    axis=1).astype(np.float32)


def roi_rows(rounds):
    rng = np.random.default_rng(0)
    x = td.tensor(rng.standard_normal((2, 256, 32, 32)).astype(np.float32), requires_grad=True)
    for k in (64, 128):
        boxes = roi_boxes(rng, 2, k, 32, 0.25)
        step = forward_backward(lambda: F.roi_pool(x, boxes, 7, 0.25), x)
        report(f"roi_pool (2, 256, 32, 32), {k} boxes, 7x7, fwd+bwd", {"fast": (False, step), "plain": (True, step)},
               rounds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--only", choices=["pool", "roi"])
    args = parser.parse_args()
    print(f"float32, CPU, medians of {args.rounds} interleaved rounds")
    if args.only in (None, "pool"):
        pool_rows(args.rounds)
    if args.only in (None, "roi"):
        roi_rows(args.rounds)


if __name__ == "__main__":
    main()
