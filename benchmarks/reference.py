"""What each fast path buys: every benchmark step on the fast kernels and on the plain ones.

    python -m benchmarks.reference [--quick] [--json PATH] [--device cpu|cuda]

``td.use_reference_kernels()`` runs every op on its plain (textbook) version.
This benchmark times the same forward + backward steps as ``benchmarks.layers``
and ``benchmarks.sequence``, RoI pooling on a detector-sized feature map, and
the CNN training step of ``benchmarks.training``, once with the fast kernels
(the default) and once with the plain ones.  The two are timed alternately,
``rounds`` times each, and the medians are compared, so a drift of the
machine's speed hits both alike.  A fast path earns its place with a gain of
about 10% or more (docs/performance.md, "Plain and fast kernels").
"""
import numpy as np

import tinydl as td
import tinydl.functional as F

from . import layers, sequence, training
from .common import command_line, median_seconds, sync_for


def _roi_case(op):
    """roi_align / roi_pool forward + backward: 2 images, 256 channels at 32x32 (a stride-16 map of a
    512x512 image), 128 boxes, 7x7 bins."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 256, 32, 32)).astype(np.float32)
    corners = rng.uniform(0, 480, (128, 2))
    sizes = rng.uniform(16, 256, (128, 2))
    boxes = np.concatenate([rng.integers(0, 2, (128, 1)), corners, np.minimum(corners + sizes, 511)], axis=1)
    boxes = boxes.astype(np.float32)

    def build(device):
        xt, bt = td.tensor(x, requires_grad=True, device=device), td.tensor(boxes, device=device)

        def step():
            xt.grad = None
            out = op(xt, bt, 7, spatial_scale=1 / 16)
            out.backward(td.ones_like(out))
        return step
    return build


def cases():
    """(name, build) where build(device) returns a step function."""
    for name, build in layers.cases():
        yield name, lambda device, build=build: build("tinydl", device)[0]
    for name, build in sequence.cases():
        yield name, lambda device, build=build: build("tinydl", device)
    yield "roi_align 2x256x32x32, 128 boxes, 7x7", _roi_case(F.roi_align)
    yield "roi_pool 2x256x32x32, 128 boxes, 7x7", _roi_case(F.roi_pool)
    yield "CNN training step (benchmarks.training)", lambda device: training.tinydl_step(device)


def in_mode(step, plain):
    def run():
        with td.use_reference_kernels(plain):
            step()
    return run


def run(quick=False, device="cpu"):
    rounds, repeats = (2, 3) if quick else (3, 5)
    sync = sync_for("tinydl", device)
    rows = []
    for name, build in cases():
        step = build(device)
        times = {"fast": [], "plain": []}
        for _ in range(rounds):  # alternate, so that both see the same machine
            for mode in times:
                times[mode].append(median_seconds(in_mode(step, mode == "plain"), repeats=repeats, sync=sync, settle=0.1))
        fast, plain = (float(np.median(times[m])) * 1e3 for m in ("fast", "plain"))
        rows.append({"op": name, "fast_ms": fast, "plain_ms": plain, "plain_over_fast": plain / fast})
    return {"device": device, "rows": rows}


def print_table(result):
    print(f"{'step (float32, forward + backward)':48s} {'fast ms':>9s} {'plain ms':>9s} {'plain/fast':>10s}")
    for r in result["rows"]:
        print(f"{r['op']:48s} {r['fast_ms']:9.2f} {r['plain_ms']:9.2f} {r['plain_over_fast']:10.2f}")


def main(argv=None):
    return command_line("tinydl: fast kernels against the plain (reference) ones", run, print_table, argv)


if __name__ == "__main__":
    main()
