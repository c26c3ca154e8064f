"""Every example runs end to end in its --smoke mode and writes its outputs."""
import json
import runpy
import sys
from pathlib import Path


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name, out, *args):
    argv = [str(EXAMPLES / name), "--out", str(out), "--smoke", *args]
    old, sys.argv = sys.argv, argv
    try:
        runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    finally:
        sys.argv = old


def test_quickstart_smoke(tmp_path):
    run_example("quickstart.py", tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert {"test_accuracy", "seconds", "seed"} <= set(metrics)
    assert metrics["test_accuracy"] > 0.5  # two epochs already beat chance (0.1) by far
    assert (tmp_path / "loss.png").stat().st_size > 0
    assert (tmp_path / "checkpoint.npz").stat().st_size > 0
