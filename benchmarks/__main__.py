"""``python -m benchmarks [--quick] [--device cpu|cuda] [--json PATH]``: run every benchmark and print its tables.

``--device cuda`` runs the layer, sequence and training benchmarks on CuPy (PyTorch CUDA alongside
when PyTorch has CUDA); the framework-overhead benchmark is a CPU one and runs only with
``--device cpu``.  ``--json PATH`` writes every module's results, and where they were measured, to
one file.  On tinydl's CuPy stand-in (no GPU, ``TINYDL_FAKE_GPU=1``) everything runs, but the
figures are CPU figures in disguise: the output says so, and the JSON has ``"stand_in": true``.
"""
import argparse
import json
import platform

import numpy as np

from . import layers, overhead, sequence, training
from .common import STAND_IN_WARNING, on_stand_in, try_import_torch


def environment(device):
    """Where the figures come from: machine, library versions, and the GPU when on cuda."""
    import tinydl as td
    from tinydl import backend

    torch = try_import_torch()
    env = {"device": device, "stand_in": on_stand_in(device), "machine": platform.processor() or platform.machine(),
           "python": platform.python_version(), "numpy": np.__version__, "tinydl": td.__version__,
           "torch": getattr(torch, "__version__", None),
           "torch_cuda": bool(torch is not None and torch.cuda.is_available())}
    if device == "cuda":
        env["cupy"] = backend.cp.__version__
        if not backend.FAKE_GPU:
            props = backend.cp.cuda.runtime.getDeviceProperties(backend.cp.cuda.Device().id)
            env["gpu"] = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    return env


def main(argv=None):
    parser = argparse.ArgumentParser(description="every tinydl benchmark, one table each")
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="cuda: CuPy on the GPU")
    parser.add_argument("--json", default=None, help="also write every result, and the environment, here")
    args = parser.parse_args(argv)
    shared = ["--device", args.device] + (["--quick"] if args.quick else [])
    results = {}
    for name, module in (("layers", layers), ("sequence", sequence), ("training", training)):
        results[name] = module.main(shared)
        print()
    if args.device == "cpu":
        results["overhead"] = overhead.main([])
    else:
        print("overhead: skipped (it times tinydl's Python work per op on the CPU; run it with --device cpu)")
    results["environment"] = environment(args.device)
    if on_stand_in(args.device):
        print("\n" + STAND_IN_WARNING)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
