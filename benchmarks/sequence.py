"""Forward + backward of the sequence layers, float32, with PyTorch alongside when installed.

    python -m benchmarks.sequence [--quick] [--json PATH] [--device cpu|cuda]

LSTM and GRU: T=32, N=32, input 64, hidden 128, the gradient of the sum of all
outputs. Attention: batch 4, 8 heads, L = S = 128, E = 64.
"""

import numpy as np

import tinydl as td
import tinydl.functional as F
import tinydl.nn as nn

from .common import command_line, median_seconds, sync_for, torch_cells, torch_device, torch_header, try_import_torch


def _recurrent_case(name):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 32, 64)).astype(np.float32)

    def build(lib, device, torch=None):
        if lib == "tinydl":
            module = getattr(nn, name)(64, 128).to(device)
            xt = td.tensor(x, requires_grad=True, device=device)
            ones = None

            def step():
                nonlocal ones
                module.zero_grad()
                xt.grad = None
                y, _ = module(xt)
                ones = ones if ones is not None else td.ones_like(y)
                y.backward(ones)
            return step
        torch.manual_seed(0)
        module = getattr(torch.nn, name)(64, 128).to(device)
        xt = torch.tensor(x, requires_grad=True, device=device)

        def step():
            module.zero_grad()
            xt.grad = None
            y, _ = module(xt)
            y.backward(torch.ones_like(y))
        return step
    return build


def _attention_case():
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((4, 8, 128, 64)).astype(np.float32) for _ in range(3))

    def build(lib, device, torch=None):
        if lib == "tinydl":
            ts = [td.tensor(a, requires_grad=True, device=device) for a in (q, k, v)]

            def step():
                for t in ts:
                    t.grad = None
                y = F.scaled_dot_product_attention(*ts)
                y.backward(td.ones_like(y))
            return step
        ts = [torch.tensor(a, requires_grad=True, device=device) for a in (q, k, v)]

        def step():
            for t in ts:
                t.grad = None
            y = torch.nn.functional.scaled_dot_product_attention(*ts)
            y.backward(torch.ones_like(y))
        return step
    return build


def cases():
    for name in ("LSTM", "GRU"):
        if hasattr(nn, name):
            yield f"{name} T32 N32 I64 H128", _recurrent_case(name)
    if hasattr(F, "scaled_dot_product_attention"):
        yield "attention B4 H8 L=S=128 E64", _attention_case()


def run(quick=False, device="cpu"):
    repeats = 3 if quick else 7
    torch = try_import_torch()
    t_device = torch_device(torch, device) if torch is not None else None
    rows = []
    for name, build in cases():
        seconds = median_seconds(build("tinydl", device), repeats=repeats, sync=sync_for("tinydl", device))
        row = {"op": name, "tinydl_ms": seconds * 1e3}
        if t_device is not None:
            t_seconds = median_seconds(build("torch", t_device, torch), repeats=repeats,
                                       sync=sync_for("torch", device, torch))
            row["torch_ms"] = t_seconds * 1e3
            row["ratio"] = row["tinydl_ms"] / row["torch_ms"]
        rows.append(row)
    return {"device": device, "rows": rows, "torch": getattr(torch, "__version__", None) if t_device else None}


def print_table(result):
    print(f"{'op (float32, forward + backward)':48s} {'tinydl ms':>10s}" + torch_header(result))
    for r in result["rows"]:
        print(f"{r['op']:48s} {r['tinydl_ms']:10.2f}" + torch_cells(r))


def main(argv=None):
    return command_line("tinydl sequence-layer benchmarks", run, print_table, argv)


if __name__ == "__main__":
    main()
