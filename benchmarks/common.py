"""Timing helpers shared by the benchmarks: medians of repeated runs, the matmul reference."""
import time

import numpy as np


def median_seconds(fn, repeats=7, warmup=2, sync=None, settle=0.3):
    """Median wall time of ``fn()`` over ``repeats`` runs, after ``settle`` seconds of sleep and
    ``warmup`` untimed runs.

    The sleep is for fairness between libraries: after a call, OpenBLAS's worker threads
    (NumPy, so tinydl) and PyTorch's OpenMP threads keep spinning for a while, and on 2 cores
    they slow whoever runs next.  Measured: PyTorch's dilated convolution took 6.5 ms right
    after NumPy matmuls and 2.4 ms half a second later."""
    time.sleep(settle)
    for _ in range(warmup):
        fn()
    if sync is not None:
        sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if sync is not None:
            sync()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def matmul_step(device="cpu", n=None):
    """An n x n float32 product (n = 1024 with NumPy, 4096 with CuPy/cuBLAS), its sync and flops:
    the ceiling a GEMM-based convolution can approach (2 n^3 flops)."""
    if device == "cuda":
        from tinydl import backend

        cp = backend.cp  # real CuPy, or the stand-in (there 1024: its "GPU" is NumPy on the CPU)
        n = n or (1024 if backend.FAKE_GPU else 4096)
        a = cp.random.standard_normal((n, n), dtype=cp.float32)
        return (lambda: a @ a), cp.cuda.Device().synchronize, 2 * n**3
    n = n or 1024
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n)).astype(np.float32), rng.standard_normal((n, n)).astype(np.float32)
    return (lambda: a @ b), None, 2 * n**3


def sync_for(lib, device, torch=None):
    """The function that waits for queued GPU work (None on the CPU), for honest timings."""
    if device != "cuda":
        return None
    if lib == "torch":
        return torch.cuda.synchronize
    import tinydl as td

    return td.cuda.synchronize


def torch_device(torch, device):
    """PyTorch's device for ours, or None when PyTorch cannot run there (no CUDA build)."""
    if device == "cuda" and not torch.cuda.is_available():
        return None
    return torch.device(device)


def torch_header(result):
    """The PyTorch columns of a table's header, when PyTorch was measured."""
    return f" {'torch ms':>9s} {'ratio':>6s}" if result["torch"] else ""


def torch_cells(row):
    """A row's PyTorch time and ratio, when measured."""
    return f" {row['torch_ms']:9.2f} {row['ratio']:6.2f}" if "torch_ms" in row else ""


def try_import_torch():
    """PyTorch, if it happens to be installed (never a dependency of tinydl)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


STAND_IN_WARNING = ("*** device cuda is tinydl's CPU stand-in for CuPy (TINYDL_FAKE_GPU=1, no GPU here): "
                    "these are NOT GPU figures, do not record them ***")


def on_stand_in(device):
    """True when ``device`` is "cuda" and cuda is the CuPy stand-in, whose timings mean nothing."""
    from tinydl import backend

    return device == "cuda" and backend.FAKE_GPU


def command_line(description, run, print_table, argv=None):
    """The shared ``main`` of a benchmark module: ``--quick`` (fewer repeats), ``--json PATH``, ``--device``.

    The result says ``"stand_in": true`` on the CuPy stand-in, where the table is framed by a warning."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="cuda: CuPy on the GPU")
    args = parser.parse_args(argv)
    if args.device == "cuda":
        import tinydl as td

        if not td.cuda.is_available():
            raise SystemExit("--device cuda: no GPU is usable here (td.cuda.is_available() is False)")
    result = run(args.quick, args.device)
    result["stand_in"] = on_stand_in(args.device)
    if result["stand_in"]:
        print(STAND_IN_WARNING)
    print_table(result)
    if result["stand_in"]:
        print(STAND_IN_WARNING)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return result
