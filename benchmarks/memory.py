"""What tinydl/memory.py's allocator setting buys: TINYDL_KEEP_FREED_MEMORY=0 against =1.

    python -m benchmarks.memory [--rounds 4]

The setting is applied once per process when tinydl is imported, so each
measurement runs in a fresh process, the two settings alternating (0, 1, 0,
1, ...: the machine's speed drifts, and other jobs come and go).  Each process
times the training step of benchmarks.training and two conv2d cases of
benchmarks.layers, 15 steps after 2 warm-ups, and counts the page faults
(minor faults: first writes to fresh pages) per step.  Printed: each round,
then the medians over rounds of the per-process medians.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

CONV_CASES = ("conv2d N32 64->64 16x16 k3 p1", "conv2d large N8 128->128 32x32 k3 p1")


def _measure(step, repeats=15, warmup=2):
    """(median ms, median page faults) of ``step()``."""
    for _ in range(warmup):
        step()
    ms, faults = [], []
    for _ in range(repeats):
        before, start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
        step()
        ms.append((time.perf_counter() - start) * 1e3)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return float(np.median(ms)), float(np.median(faults))


def child():
    """In a fresh process: time every case under this process's setting, print JSON."""
    from . import layers, training

    result = {"training step": _measure(training.tinydl_step())}
    for name, build in layers.cases():
        if name in CONV_CASES:
            result[name] = _measure(build("tinydl", "cpu")[0])
    print(json.dumps(result))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child()
    runs = {"0": [], "1": []}
    for r in range(args.rounds):
        for value in ("0", "1"):
            env = dict(os.environ, TINYDL_KEEP_FREED_MEMORY=value)
            load = os.getloadavg()[0]
            out = subprocess.run([sys.executable, "-m", "benchmarks.memory", "--child"], env=env,
                                 capture_output=True, text=True, check=True)
            runs[value].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"round {r + 1} TINYDL_KEEP_FREED_MEMORY={value} (load {load:.1f}): "
                  + "; ".join(f"{k} {ms:.1f} ms, {f:.0f} faults" for k, (ms, f) in runs[value][-1].items()))
    print(f"\nmedians over {args.rounds} rounds      glibc defaults (=0)      freed memory kept (=1)    ratio")
    for case in runs["0"][0]:
        (off_ms, off_f), (on_ms, on_f) = (np.median([run[case] for run in runs[v]], axis=0) for v in ("0", "1"))
        print(f"  {case:38s} {off_ms:8.1f} ms {off_f:7.0f} faults {on_ms:8.1f} ms {on_f:7.0f} faults "
              f"{off_ms / on_ms:6.2f}")


if __name__ == "__main__":
    main()
