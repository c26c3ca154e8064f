#!/usr/bin/env bash
# The real-GPU check of tinydl, in one script, for a machine with an NVIDIA GPU:
#
#   1. checks that there is a GPU (nvidia-smi), else stops with exit status 2;
#   2. uses the active virtual environment, or creates .venv-gpu, and installs tinydl with its
#      `gpu` and `test` extras (pip install -e ".[gpu,test]": CuPy as cupy-cuda12x);
#   3. prints nvidia-smi and CuPy's version, and checks that tinydl runs on *real* CuPy
#      (td.cuda.is_available(), and not the CPU stand-in tinydl/fake_cupy);
#   4. runs the test suite on real CuPy: TINYDL_FAKE_GPU=0 CI=true python -m pytest -q -x;
#   5. runs python -m benchmarks --device cuda (CuPy, and PyTorch CUDA when installed);
#   6. prints the figures to record in docs/performance.md, "GPU (CuPy)".
#
# Everything goes to runs/gpu_check/ (GPU_CHECK_OUT): nvidia-smi.txt, pytest.log,
# benchmarks.txt, benchmarks.json, summary.md.  The whole run stays under 8 minutes: the
# install, the tests and the benchmarks share GPU_CHECK_BUDGET_S (default 440 s), each under
# `timeout` with what is left; the GPU and CuPy checks and the summary take seconds.
#
#   bash benchmarks/gpu_check.sh                 # from the repository root
#   GPU_CHECK_NO_INSTALL=1 bash benchmarks/gpu_check.sh   # offline: use what the environment has
#   GPU_CHECK_PYTEST_ARGS="-k cuda" bash benchmarks/gpu_check.sh   # only the tests' cuda copies
#
# PyTorch is not installed by this script (several GB); with a CUDA build of PyTorch in the
# environment the benchmarks put PyTorch CUDA alongside (`pip install torch` first, or
# GPU_CHECK_TORCH=1 to let this script do it, if the budget allows).
# Exit status: 0 when every step passed, 1 when a step failed or ran out of time, 2 without a GPU.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUDGET_S=${GPU_CHECK_BUDGET_S:-440}
OUT=${GPU_CHECK_OUT:-runs/gpu_check}
SECONDS=0
failed=()

say() { printf '\n== %s (%d s so far)\n' "$*" "$SECONDS"; }

# step NAME CAP RESERVE COMMAND...: COMMAND under timeout, for at most CAP seconds and never into the
# last RESERVE seconds of the budget (kept for the steps after it).  A failure or a timeout is
# recorded in `failed`, and the script goes on, to report what it can.
step() {
    local name=$1 cap=$2 reserve=$3 left
    shift 3
    left=$((BUDGET_S - SECONDS - reserve))
    if ((left < 20)); then
        echo "$name: skipped, the time budget (${BUDGET_S} s) is spent" >&2
        failed+=("$name (no time left)")
        return 0
    fi
    local status=0
    timeout -k 10 "$((cap < left ? cap : left))" "$@" || status=$?
    if ((status == 124 || status == 137)); then
        echo "$name: ran out of time" >&2
        failed+=("$name (timed out)")
    elif ((status != 0)); then
        echo "$name: failed with exit status $status" >&2
        failed+=("$name (exit status $status)")
    fi
}

echo "tinydl GPU check: installs the gpu extra, runs the test suite on real CuPy and"
echo "python -m benchmarks --device cuda, in at most ${BUDGET_S} s; output in $OUT/"

# ---- 1. a GPU? -------------------------------------------------------------------------------
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
    echo "gpu_check: no NVIDIA GPU here (nvidia-smi is missing or finds no device)." >&2
    echo "This check needs a machine with an NVIDIA GPU; without one, the CPU stand-in runs the" >&2
    echo "cuda tests instead: CI=true python -m pytest (TINYDL_FAKE_GPU=1 is the tests' default)." >&2
    exit 2
fi
mkdir -p "$OUT"
say "nvidia-smi"
nvidia-smi | tee "$OUT/nvidia-smi.txt"

# ---- 2. the environment ----------------------------------------------------------------------
if [[ -n "${VIRTUAL_ENV:-}" ]]; then
    say "using the active virtual environment $VIRTUAL_ENV"
else
    say "creating .venv-gpu"
    "${PYTHON:-python3}" -m venv .venv-gpu
    # shellcheck disable=SC1091
    source .venv-gpu/bin/activate
fi
if [[ "${GPU_CHECK_NO_INSTALL:-0}" == 1 ]]; then
    echo "GPU_CHECK_NO_INSTALL=1: installing nothing"
else
    say "pip install -e .[gpu,test]"
    step "install" 200 260 python -m pip install -q -e ".[gpu,test]"
    if [[ "${GPU_CHECK_TORCH:-0}" == 1 ]]; then
        step "install torch" 200 260 python -m pip install -q torch
    fi
fi

# ---- 3. real CuPy, not the stand-in -----------------------------------------------------------
export TINYDL_FAKE_GPU=0  # the tests turn the stand-in on by default; here it must stay off
say "CuPy"
if ! timeout 90 python - <<'EOF'
import sys

import cupy

print("CuPy", cupy.__version__, "| CUDA runtime", cupy.cuda.runtime.runtimeGetVersion(),
      "| devices:", cupy.cuda.runtime.getDeviceCount())
import tinydl as td
from tinydl import backend

problems = []
if not td.cuda.is_available():
    problems.append("td.cuda.is_available() is False: CuPy did not import or found no GPU")
elif backend.FAKE_GPU or backend.cp.__name__ != "cupy":
    problems.append(f"tinydl's cupy is {backend.cp.__name__} (FAKE_GPU={backend.FAKE_GPU}), not real CuPy")
else:
    array_type = type(td.zeros(2, device="cuda").data)
    if not array_type.__module__.startswith("cupy"):
        problems.append(f"a cuda tensor holds {array_type.__module__}.{array_type.__name__}, not a cupy.ndarray")
for problem in problems:
    print("gpu_check:", problem, file=sys.stderr)
if problems:
    sys.exit(1)
print("tinydl runs on real CuPy:", type(td.zeros(2, device="cuda").data))
EOF
then
    echo "gpu_check: tinydl is not on real CuPy; the tests and benchmarks would not measure a GPU." >&2
    exit 1
fi

# ---- 4. the test suite on real CuPy ----------------------------------------------------------
say "the test suite on real CuPy (pytest.log)"
read -r -a pytest_args <<<"${GPU_CHECK_PYTEST_ARGS:-}"  # e.g. "-k cuda": only the cuda-parametrized tests
# (the single quotes are meant: timeout runs a new bash, which expands its own $1 and $@)
# shellcheck disable=SC2016
step "tests" 300 130 bash -c 'set -o pipefail; log=$1; shift
    CI=true python -m pytest -q -x -p no:cacheprovider "$@" 2>&1 | tee "$log"' _ "$OUT/pytest.log" "${pytest_args[@]}"

# ---- 5. the benchmarks on the GPU ------------------------------------------------------------
say "python -m benchmarks --device cuda (benchmarks.txt, benchmarks.json)"
# shellcheck disable=SC2016
step "benchmarks" 180 10 bash -c 'set -o pipefail; python -m benchmarks --device cuda --json "$1" 2>&1 | tee "$2"' \
    _ "$OUT/benchmarks.json" "$OUT/benchmarks.txt"

# ---- 6. the figures to record ----------------------------------------------------------------
say "summary (summary.md)"
python - "$OUT" <<'EOF' | tee "$OUT/summary.md"
import json
import os
import subprocess
import sys

out = sys.argv[1]
smi = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                     capture_output=True, text=True).stdout.strip()
print(f"GPU: {smi}")
log = os.path.join(out, "pytest.log")
if os.path.exists(log):
    lines = [line for line in open(log).read().splitlines() if line.strip()]
    print(f"tests on real CuPy: {lines[-1] if lines else '(no output)'}")
path = os.path.join(out, "benchmarks.json")
if not os.path.exists(path):
    print("benchmarks: no results (see benchmarks.txt)")
    sys.exit(0)
results = json.load(open(path))
env = results["environment"]
if env.get("stand_in"):
    print("*** these are the CPU stand-in's figures, not a GPU's: do not record them ***")
print(f"CuPy {env.get('cupy')}, PyTorch {env.get('torch')} (CUDA: {env.get('torch_cuda')}), "
      f"NumPy {env['numpy']}, Python {env['python']}")
print()
print("| benchmark (float32, forward + backward) | tinydl ms | PyTorch CUDA ms | ratio |")
print("|---|---:|---:|---:|")
for name in ("training", "layers", "sequence"):
    for row in results.get(name, {}).get("rows", []):
        torch_ms = f"{row['torch_ms']:.2f}" if "torch_ms" in row else "not measured"
        ratio = f"{row['ratio']:.2f}" if "ratio" in row else ""
        print(f"| {row['op']} | {row['tinydl_ms']:.2f} | {torch_ms} | {ratio} |")
print()
for row in results.get("training", {}).get("rows", []):
    print(f"CNN training step, GPU memory: tinydl peak of live arrays {row['tinydl_peak_mb']:.1f} MB "
          f"(td.cuda.max_memory_allocated), pool holds {row['tinydl_reserved_mb']:.1f} MB", end="")
    if "torch_peak_mb" in row:
        print(f"; PyTorch {row['torch_peak_mb']:.1f} MB, its pool {row['torch_reserved_mb']:.1f} MB", end="")
    print()
if "layers" in results:
    print(f"cuBLAS float32 matmul: {results['layers']['matmul_gflops']:.0f} GFLOP/s")
EOF

say "done"
if ((${#failed[@]})); then
    printf 'gpu_check: FAILED steps: %s\n' "${failed[*]}" >&2
    exit 1
fi
echo "gpu_check: every step passed; record the figures above in docs/performance.md (\"GPU (CuPy)\")."
