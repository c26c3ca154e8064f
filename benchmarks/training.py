"""One training step of a small CNN, float32, with PyTorch alongside when installed.

    python -m benchmarks.training [--quick] [--json PATH] [--device cpu|cuda]

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
- on the GPU: the peak of live GPU arrays during one step
  (``td.cuda.max_memory_allocated`` / ``torch.cuda.max_memory_allocated``),
  and what each library's memory pool holds afterwards (``memory_reserved``).
"""
import json
import subprocess
import sys
import tracemalloc

import numpy as np

from .common import command_line, median_seconds, sync_for, torch_device, try_import_torch

CHANNELS = (16, 32, 64)


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 3, 64, 64)).astype(np.float32)
    target = rng.standard_normal((32, 8, 8, 8)).astype(np.float32)
    return x, target


def tinydl_step(device="cpu"):
    """A function that runs one training step of the benchmark CNN in tinydl."""
    import tinydl as td
    import tinydl.functional as F
    from tinydl import nn, optim

    td.manual_seed(0)
    layers, c_in = [], 3
    for c in CHANNELS:
        layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.LeakyReLU(0.1), nn.MaxPool2d(2)]
        c_in = c
    model = nn.Sequential(*layers, nn.Conv2d(c_in, 8, 1)).to(device)
    opt = optim.SGD(model.parameters(), lr=0.01)
    x, target = (td.tensor(a, device=device) for a in _data())

    def step():
        opt.zero_grad()
        loss = F.mse_loss(model(x), target)
        loss.backward()
        opt.step()
    return step


def torch_step(torch, device="cpu"):
    """The same step in PyTorch."""
    torch.manual_seed(0)
    layers, c_in = [], 3
    for c in CHANNELS:
        layers += [torch.nn.Conv2d(c_in, c, 3, padding=1, bias=False), torch.nn.BatchNorm2d(c),
                   torch.nn.LeakyReLU(0.1), torch.nn.MaxPool2d(2)]
        c_in = c
    model = torch.nn.Sequential(*layers, torch.nn.Conv2d(c_in, 8, 1)).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, target = (torch.from_numpy(a).to(device) for a in _data())

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


def gpu_peak_mb(lib, step, torch=None):
    """(peak of live GPU arrays during one step, what the memory pool holds after it), in MB."""
    if lib == "tinydl":
        import tinydl as td

        memory = td.cuda
    else:
        memory = torch.cuda
    step()
    memory.synchronize()
    memory.reset_peak_memory_stats()
    before = memory.memory_allocated()
    step()
    memory.synchronize()
    return (memory.max_memory_allocated() - before) / 1e6, memory.memory_reserved() / 1e6


def run(quick=False, device="cpu"):
    repeats = 3 if quick else 7
    torch = try_import_torch()
    t_device = torch_device(torch, device) if torch is not None else None
    step = tinydl_step(device)
    row = {"op": "CNN training step (32x3x64x64, 3 conv blocks)",
           "tinydl_ms": median_seconds(step, repeats=repeats, sync=sync_for("tinydl", device)) * 1e3}
    if device == "cuda":
        row["tinydl_peak_mb"], row["tinydl_reserved_mb"] = gpu_peak_mb("tinydl", step)
    else:
        row["tinydl_peak_mb"], row["tinydl_rss_mb"] = tracemalloc_peak_mb(step), _rss_in_subprocess("tinydl")
    if t_device is not None:
        t_step = torch_step(torch, t_device)
        row["torch_ms"] = median_seconds(t_step, repeats=repeats, sync=sync_for("torch", device, torch)) * 1e3
        row["ratio"] = row["tinydl_ms"] / row["torch_ms"]
        if device == "cuda":
            row["torch_peak_mb"], row["torch_reserved_mb"] = gpu_peak_mb("torch", t_step, torch)
        else:
            row["torch_rss_mb"] = _rss_in_subprocess("torch")
    return {"device": device, "rows": [row], "torch": getattr(torch, "__version__", None) if t_device else None}


def print_table(result):
    for r in result["rows"]:
        print(f"{r['op']} on {result['device']}")
        if result["device"] == "cuda":
            print(f"  tinydl  {r['tinydl_ms']:8.2f} ms   peak GPU arrays {r['tinydl_peak_mb']:6.1f} MB, "
                  f"pool holds {r['tinydl_reserved_mb']:6.1f} MB")
            if "torch_ms" in r:
                print(f"  PyTorch {r['torch_ms']:8.2f} ms   peak GPU arrays {r['torch_peak_mb']:6.1f} MB, "
                      f"pool holds {r['torch_reserved_mb']:6.1f} MB")
        else:
            print(f"  tinydl  {r['tinydl_ms']:8.2f} ms   peak step memory {r['tinydl_peak_mb']:6.1f} MB "
                  f"(tracemalloc), peak RSS growth {r['tinydl_rss_mb']:6.1f} MB")
            if "torch_ms" in r:
                print(f"  PyTorch {r['torch_ms']:8.2f} ms   peak RSS growth {r['torch_rss_mb']:6.1f} MB")
        if "ratio" in r:
            print(f"  ratio   {r['ratio']:8.2f}")
def main(argv=None):
    if argv is None and len(sys.argv) > 2 and sys.argv[1] == "--child":
        return child(sys.argv[2])
    return command_line("tinydl CNN training-step benchmark", run, print_table, argv)


if __name__ == "__main__":
    main()
