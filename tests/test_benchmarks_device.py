"""The benchmarks' GPU path (``python -m benchmarks --device cuda``, which benchmarks/gpu_check.sh runs
on a real GPU), run here on the CuPy stand-in when there is no GPU: its figures mean nothing, but the
code must not break unseen, and its output must say that it is the stand-in."""
import json

import numpy as np
import pytest

import tinydl as td
from benchmarks.common import matmul_step
from tinydl import backend


@pytest.fixture
def cuda():
    if not td.cuda.is_available():
        pytest.skip("no GPU, and the CuPy stand-in is off (TINYDL_FAKE_GPU=0)")
    return "cuda"


def test_matmul_reference_runs_on_the_device(cuda):
    fn, sync, flops = matmul_step(cuda, n=8)
    product = fn()
    sync()
    assert backend.device_of(product) == "cuda" and product.shape == (8, 8) and flops == 2 * 8**3


def test_training_benchmark_on_cuda_reports_gpu_memory_and_says_when_it_is_the_stand_in(
        cuda, tmp_path, capsys, monkeypatch):
    from benchmarks import training

    rng = np.random.default_rng(0)  # the benchmark's network on 4 images of 32x32: the same code, quicker
    small = (rng.standard_normal((4, 3, 32, 32)), rng.standard_normal((4, 8, 4, 4)))
    small = tuple(a.astype(np.float32) for a in small)
    monkeypatch.setattr(training, "_data", lambda: small)
    result = training.main(["--device", cuda, "--quick", "--json", str(tmp_path / "training.json")])
    row = result["rows"][0]
    assert row["tinydl_ms"] > 0 and row["tinydl_reserved_mb"] >= row["tinydl_peak_mb"] > 0  # MB of live arrays
    assert json.loads((tmp_path / "training.json").read_text())["stand_in"] is backend.FAKE_GPU
    assert ("NOT GPU figures" in capsys.readouterr().out) is backend.FAKE_GPU


def test_benchmark_environment_names_the_device_and_the_stand_in(cuda):
    from benchmarks.__main__ import environment

    env = environment(cuda)
    assert env["device"] == "cuda" and env["stand_in"] is backend.FAKE_GPU
    assert env["cupy"] == backend.cp.__version__ and ("gpu" in env) is not backend.FAKE_GPU
