"""Forward + backward of the vision layers on fixed shapes, float32, against NumPy's matmul limit.

    python -m benchmarks.layers [--quick] [--json PATH] [--device cpu|cuda]

For each convolution the achieved GFLOP/s counts the multiply-adds of the
forward (2 N C_out OH OW C_in/groups kH kW) and of the two backward products
(dx and dW, the same count each): 3x the forward.  "of matmul" is that rate
divided by NumPy's float32 matmul throughput (1024^3), timed right after that
convolution in the same run (on the GPU: CuPy's, that is cuBLAS's, 4096^3, and
PyTorch runs on CUDA when it can).
"""
import platform

import numpy as np

import tinydl as td
import tinydl.functional as F

from .common import (
    command_line, matmul_step, median_seconds, sync_for, torch_cells, torch_device, torch_header,
    try_import_torch,
)


def conv_flops(x_shape, w_shape, out_shape, groups=1):
    n, _, oh, ow = out_shape
    c_out, c_in_per_group, kh, kw = w_shape
    return 3 * 2 * n * c_out * oh * ow * c_in_per_group * kh * kw


def _tinydl_step(make_output, leaves):
    def step():
        for t in leaves:
            t.grad = None
        out = make_output()
        out.backward(td.ones_like(out))
    return step


def _torch_step(torch, make_output, leaves):
    def step():
        for t in leaves:
            t.grad = None
        out = make_output()
        out.backward(torch.ones_like(out))
    return step


def cases():
    """(name, builder) where builder(lib) returns (step function, flops or None)."""
    rng = np.random.default_rng(0)

    def conv_case(x_shape, w_shape, stride=1, padding=0, dilation=1, transposed=False, groups=1):
        x = rng.standard_normal(x_shape).astype(np.float32)
        w = rng.standard_normal(w_shape).astype(np.float32) * 0.1

        def build(lib, device, torch=None):
            if lib == "tinydl":
                xt, wt = (td.tensor(a, requires_grad=True, device=device) for a in (x, w))
                op = F.conv_transpose2d if transposed else F.conv2d
                if transposed:
                    make = lambda: op(xt, wt, None, stride, padding, 0, groups, dilation)  # noqa: E731
                else:
                    make = lambda: op(xt, wt, None, stride, padding, dilation, groups)  # noqa: E731
                step = _tinydl_step(make, [xt, wt])
            else:
                xt, wt = (torch.tensor(a, requires_grad=True, device=device) for a in (x, w))
                if transposed:
                    make = lambda: torch.nn.functional.conv_transpose2d(xt, wt, None, stride, padding, 0, groups, dilation)  # noqa: E731
                else:
                    make = lambda: torch.nn.functional.conv2d(xt, wt, None, stride, padding, dilation, groups)  # noqa: E731
                step = _torch_step(torch, make, [xt, wt])
            out_shape = tuple(make().shape)
            if transposed:  # a transposed conv does the products of the conv from its output to its input
                flops = conv_flops(out_shape, w_shape, x_shape, groups)
            else:
                flops = conv_flops(x_shape, w_shape, out_shape, groups)
            return step, flops
        return build

    yield "conv2d N32 3->16 32x32 k3 p1", conv_case((32, 3, 32, 32), (16, 3, 3, 3), padding=1)
    yield "conv2d N32 64->64 16x16 k3 p1", conv_case((32, 64, 16, 16), (64, 64, 3, 3), padding=1)
    yield "conv2d large N8 128->128 32x32 k3 p1", conv_case((8, 128, 32, 32), (128, 128, 3, 3), padding=1)
    yield "conv2d dilated N16 32->32 32x32 k3 d2 p2", conv_case((16, 32, 32, 32), (32, 32, 3, 3), padding=2, dilation=2)
    yield "conv_transpose2d N32 64->32 16->32 k4 s2 p1", conv_case((32, 64, 16, 16), (64, 32, 4, 4), stride=2,
                                                                     padding=1, transposed=True)
    if hasattr(F, "max_pool2d") and hasattr(F, "max_unpool2d"):
        x = rng.standard_normal((32, 64, 32, 32)).astype(np.float32)

        def pool_build(lib, device, torch=None):
            if lib == "tinydl":
                xt = td.tensor(x, requires_grad=True, device=device)

                def make():
                    y, idx = F.max_pool2d(xt, 2, return_indices=True)
                    return F.max_unpool2d(y, idx, 2)
                return _tinydl_step(make, [xt]), None
            xt = torch.tensor(x, requires_grad=True, device=device)

            def make_t():
                y, idx = torch.nn.functional.max_pool2d(xt, 2, return_indices=True)
                return torch.nn.functional.max_unpool2d(y, idx, 2)
            return _torch_step(torch, make_t, [xt]), None

        yield "max_pool2d 2x2 + max_unpool2d (32,64,32,32)", pool_build


def run(quick=False, device="cpu"):
    """Per op: tinydl, then PyTorch (when installed), then, for a convolution, the matmul
    reference, one right after the other: the machine's speed drifts from minute to minute,
    so each convolution is divided by the matmul rate measured next to it."""
    repeats = 3 if quick else 7
    torch = try_import_torch()
    t_device = torch_device(torch, device) if torch is not None else None
    matmul, matmul_sync, matmul_flops = matmul_step(device)
    rows = []
    for name, build in cases():
        step, flops = build("tinydl", device)
        seconds = median_seconds(step, repeats=repeats, sync=sync_for("tinydl", device))
        row = {"op": name, "tinydl_ms": seconds * 1e3}
        if t_device is not None:
            t_step, _ = build("torch", t_device, torch)
            t_seconds = median_seconds(t_step, repeats=repeats, sync=sync_for("torch", device, torch))
            row["torch_ms"] = t_seconds * 1e3
            row["ratio"] = seconds / t_seconds
        if flops:
            row["gflops"] = flops / seconds / 1e9
            matmul_seconds = median_seconds(matmul, repeats=repeats, sync=matmul_sync)
            row["matmul_gflops"] = matmul_flops / matmul_seconds / 1e9
            row["of_matmul"] = row["gflops"] / row["matmul_gflops"]
        rows.append(row)
    rates = [r["matmul_gflops"] for r in rows if "matmul_gflops" in r]
    return {"device": device, "matmul_gflops": float(np.median(rates)), "rows": rows,
            "machine": platform.processor() or platform.machine(), "numpy": np.__version__,
            "torch": getattr(torch, "__version__", None) if t_device is not None else None}


def print_table(result):
    source = "CuPy (cuBLAS) float32 matmul (4096^3)" if result["device"] == "cuda" else "NumPy float32 matmul (1024^3)"
    print(f"{source}: {result['matmul_gflops']:.1f} GFLOP/s (median; each conv is divided by the rate "
          "measured right after it)")
    header = f"{'op (float32, forward + backward)':48s} {'tinydl ms':>10s} {'GFLOP/s':>8s} {'of matmul':>9s}"
    print(header + torch_header(result))
    for r in result["rows"]:
        line = f"{r['op']:48s} {r['tinydl_ms']:10.2f} "
        line += f"{r['gflops']:8.1f} {r['of_matmul']:9.0%}" if "gflops" in r else f"{'':8s} {'':9s}"
        print(line + torch_cells(r))


def main(argv=None):
    return command_line("tinydl layer benchmarks", run, print_table, argv)


if __name__ == "__main__":
    main()
