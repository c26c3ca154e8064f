"""One training step of a small CNN, float32, with PyTorch alongside when installed.

    python -m benchmarks.training [--quick] [--json PATH]

The network: input (32, 3, 64, 64); three blocks [conv 3x3 (no bias, padding 1),
batch norm, leaky ReLU 0.1, max-pool 2] with 16, 32 and 64 channels; a 1x1
convolution head to 8 channels, so the output is (32, 8, 8, 8); MSE against a
fixed random target; plain SGD (lr 0.01). One step is zero_grad, forward,
backward, optimizer step.

Peak memory is measured two ways:

- ``tinydl_peak_mb``: the peak of NumPy's allocations during one step, from
  ``tracemalloc`` (NumPy reports its array buffers to it), above what was
  allocated before the step: exactly the step's own arrays.
- ``*_rss_mb``: the growth of the process's peak resident set size over the
  steps, each library in a fresh subprocess (``--child``), so both libraries
  are measured the same way, including their allocators' caching.
"""
import json
import subprocess
import sys
import tracemalloc

import numpy as np

from .common import command_line, median_seconds, try_import_torch

CHANNELS = (16, 32, 64)


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 3, 64, 64)).astype(np.float32)
    target = rng.standard_normal((32, 8, 8, 8)).astype(np.float32)
    return x, target


def tinydl_step():
    """A function that runs one training step of the benchmark CNN in tinydl."""
    import tinydl as td
    import tinydl.functional as F
    from tinydl import nn, optim

    td.manual_seed(0)
    layers, c_in = [], 3
    for c in CHANNELS:
        layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.LeakyReLU(0.1), nn.MaxPool2d(2)]
        c_in = c
    model = nn.Sequential(*layers, nn.Conv2d(c_in, 8, 1))
    opt = optim.SGD(model.parameters(), lr=0.01)
    x, target = (td.tensor(a) for a in _data())

    def step():
        opt.zero_grad()
        loss = F.mse_loss(model(x), target)
        loss.backward()
        opt.step()
    return step


def torch_step(torch):
    """The same step in PyTorch."""
    torch.manual_seed(0)
    layers, c_in = [], 3
    for c in CHANNELS:
        layers += [torch.nn.Conv2d(c_in, c, 3, padding=1, bias=False), torch.nn.BatchNorm2d(c),
                   torch.nn.LeakyReLU(0.1), torch.nn.MaxPool2d(2)]
        c_in = c
    model = torch.nn.Sequential(*layers, torch.nn.Conv2d(c_in, 8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, target = (torch.from_numpy(a) for a in _data())

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), target)
        loss.backward()
        opt.step()
    return step


def tracemalloc_peak_mb(step):
    """Peak NumPy memory of one step above what was live before it, in MB."""
    step()  # warm up: optimizer state, caches
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - before) / 1e6


def _peak_rss_mb():
    """This process's peak resident set size, in MB: VmHWM on Linux. (``ru_maxrss`` would do
    elsewhere, but on Linux a child inherits it from its parent across fork, so it would
    start at the benchmark's own peak.)"""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) * 1024 / 1e6
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # KiB on Linux, bytes on macOS


def child(lib):
    """Run in a fresh process: peak RSS growth over 5 steps, printed as JSON."""
    if lib == "tinydl":
        step = tinydl_step()
    else:
        step = torch_step(try_import_torch())
    before = _peak_rss_mb()
    for _ in range(5):
        step()
    print(json.dumps({"rss_mb": _peak_rss_mb() - before}))


def _rss_in_subprocess(lib):
    out = subprocess.run([sys.executable, "-m", "benchmarks.training", "--child", lib], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["rss_mb"]


def run(quick=False):
    repeats = 3 if quick else 7
    torch = try_import_torch()
    step = tinydl_step()
    row = {"op": "CNN training step (32x3x64x64, 3 conv blocks)",
           "tinydl_ms": median_seconds(step, repeats=repeats) * 1e3,
           "tinydl_peak_mb": tracemalloc_peak_mb(step), "tinydl_rss_mb": _rss_in_subprocess("tinydl")}
    if torch is not None:
        torch.set_num_threads(max(1, torch.get_num_threads()))
        row["torch_ms"] = median_seconds(torch_step(torch), repeats=repeats) * 1e3
        row["ratio"] = row["tinydl_ms"] / row["torch_ms"]
        row["torch_rss_mb"] = _rss_in_subprocess("torch")
    return {"rows": [row], "torch": getattr(torch, "__version__", None)}


def print_table(result):
    for r in result["rows"]:
        print(r["op"])
        print(f"  tinydl  {r['tinydl_ms']:8.2f} ms   peak step memory {r['tinydl_peak_mb']:6.1f} MB (tracemalloc), "
              f"peak RSS growth {r['tinydl_rss_mb']:6.1f} MB")
        if "torch_ms" in r:
            print(f"  PyTorch {r['torch_ms']:8.2f} ms   peak RSS growth {r['torch_rss_mb']:6.1f} MB")
            print(f"  ratio   {r['ratio']:8.2f}")


def main(argv=None):
    if argv is None and len(sys.argv) > 2 and sys.argv[1] == "--child":
        return child(sys.argv[2])
    return command_line("tinydl CNN training-step benchmark", run, print_table, argv)


if __name__ == "__main__":
    main()
