"""The benchmarks' timing helpers."""
from benchmarks.common import matmul_step, median_seconds


def test_median_seconds_warms_up_then_times_each_run_with_its_sync():
    calls = []
    median = median_seconds(lambda: calls.append("run"), repeats=3, warmup=2, sync=lambda: calls.append("sync"),
                            settle=0)
    assert calls == ["run", "run", "sync"] + ["run", "sync"] * 3 and median >= 0


def test_matmul_reference_counts_two_n_cubed_flops():
    fn, sync, flops = matmul_step("cpu", n=8)
    assert fn().shape == (8, 8) and sync is None and flops == 2 * 8**3


def test_overhead_chain_times_forward_and_backward_per_op():
    from benchmarks.overhead import chain_seconds

    forward, backward = chain_seconds("tinydl", 10)
    assert 0 < forward < 0.01 and 0 < backward < 0.01  # seconds per op of a 10-op chain
