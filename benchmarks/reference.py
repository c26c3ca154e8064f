"""What each fast path buys: every benchmark step on the fast kernels and on the plain ones.

    python -m benchmarks.reference [--quick] [--json PATH] [--device cpu|cuda]

``td.use_reference_kernels()`` runs every op on its plain (textbook) version.
This benchmark times the same forward + backward steps as ``benchmarks.layers``
and ``benchmarks.sequence``, max pooling and RoI pooling on their own, and
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


def _forward_backward(make_output, x):
    def step():
        x.grad = None
        out = make_output()
        out.backward(td.ones_like(out))
    return step


def _max_pool_case(kernel, stride, padding):
    """max_pool2d alone, forward + backward, on (32, 64, 32, 32)."""
    x = np.random.default_rng(0).standard_normal((32, 64, 32, 32)).astype(np.float32)

    def build(device):
        xt = td.tensor(x, requires_grad=True, device=device)
        return _forward_backward(lambda: F.max_pool2d(xt, kernel, stride, padding), xt)
    return build


def _roi_pool_case(boxes_count):
    """roi_pool forward + backward: 2 images, 256 channels at 32x32 (a stride-4 map of a 128x128
    image, spatial_scale 0.25), random boxes, 7x7 bins."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 256, 32, 32)).astype(np.float32)
    side = 32 / 0.25
    x1, y1 = rng.uniform(0, side * 0.7, boxes_count), rng.uniform(0, side * 0.7, boxes_count)
    w, h = rng.uniform(side * 0.1, side * 0.6, boxes_count), rng.uniform(side * 0.1, side * 0.6, boxes_count)
    boxes = np.stack([rng.integers(0, 2, boxes_count), x1, y1, np.minimum(x1 + w, side), np.minimum(y1 + h, side)],
                     axis=1).astype(np.float32)

    def build(device):
        xt, bt = td.tensor(x, requires_grad=True, device=device), td.tensor(boxes, device=device)
        return _forward_backward(lambda: F.roi_pool(xt, bt, 7, 0.25), xt)
    return build


def cases():
    """(name, build) where build(device) returns a step function: the ops that have a fast path,
    then whole steps that use them (the sequence layers and the CNN step show what the switch
    costs a model; the recurrent layers and attention have one version, so their rows should read 1.0)."""
    for name, build in layers.cases():
        yield name, lambda device, build=build: build("tinydl", device)[0]
    yield "max_pool2d 3x3 s2 p1 (32,64,32,32)", _max_pool_case(3, 2, 1)
    yield "roi_pool (2,256,32,32), 64 boxes, 7x7", _roi_pool_case(64)
    yield "roi_pool (2,256,32,32), 128 boxes, 7x7", _roi_pool_case(128)
    for name, build in sequence.cases():
        yield name, lambda device, build=build: build("tinydl", device)
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
