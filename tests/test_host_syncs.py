"""The host-sync budget: how often a training step makes the host wait for the GPU or feeds it.

On a GPU the host queues kernels and runs ahead; it stops only to read a value back (a
*sync*: ``float(loss)``, ``bool(mask.any())``) or to send data over (a *copy*). A training
step genuinely needs its batch sent over and, if anyone looks at it, the loss read back.
Everything else is overhead a real GPU pays in latency every step. The CuPy stand-in counts
both per source line (tinydl/fake_cupy/counters.py), so these tests state the budget and,
when it is exceeded, name the lines that exceed it. They run on the stand-in only (a real
GPU has no counters).
"""
import numpy as np
import pytest

import tinydl as td
import tinydl.functional as F
from tinydl import backend, nn, optim

pytestmark = pytest.mark.skipif(not backend.FAKE_GPU, reason="counting syncs needs the CuPy stand-in (TINYDL_FAKE_GPU=1)")


def counting():
    from tinydl.fake_cupy import counters

    return counters.counting()


def transfers_of(step, warmup=1):
    """The syncs and copies of one call of ``step`` after ``warmup`` calls (caches filled)."""
    for _ in range(warmup):
        step()
    with counting() as seen:
        step()
    return seen


def test_cnn_benchmark_step_needs_no_sync_and_no_copy():
    """benchmarks.training's step (3 conv/batch-norm/leaky-ReLU/max-pool blocks, MSE, SGD)
    reads nothing back: 0 syncs (max_pool2d used to sync 2 + 2 (kH*kW - 1) times per call: 8 per 2x2 pool, 24 per step)."""
    from benchmarks.training import tinydl_step

    seen = transfers_of(tinydl_step("cuda"))
    assert seen.total_syncs == 0 and seen.total_copies == 0, seen.report()


def test_lstm_benchmark_step_needs_no_sync_and_no_copy():
    from benchmarks.sequence import _recurrent_case

    for name in ("LSTM", "GRU", "RNN"):
        seen = transfers_of(_recurrent_case(name)("tinydl", "cuda"))
        assert seen.total_syncs == 0 and seen.total_copies == 0, f"{name}\n{seen.report()}"


def test_python_numbers_in_tensor_ops_are_not_copied_to_the_device():
    """``x * 2 + 1``, ``x ** 2``, ``1 - x``: a Python number next to a device tensor is filled in on
    the device (a kernel argument), never made on the host and copied over."""
    x = td.randn(4, 5, device="cuda", requires_grad=True)
    with counting() as seen:
        y = ((x * 2 + 1) ** 2 - 0.5 * x + (1 - x) / 3).sum()
        y.backward()
    assert seen.total_copies == 0 and seen.total_syncs == 0, seen.report()
    expected = 2 * (2 * x.detach().numpy() + 1) * 2 - 0.5 - 1 / 3
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_clip_grad_norm_reads_nothing_back():
    """One total on the device for any number of parameters; the scale is applied without a branch."""
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)).to("cuda")
    model(td.randn(3, 8, device="cuda")).sum().backward()
    before = [p.grad.numpy().copy() for p in model.parameters()]
    with counting() as seen:
        total = nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.1)
    assert seen.total_syncs == 0 and seen.total_copies == 0, seen.report()
    expected = np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in before))
    np.testing.assert_allclose(float(total), expected, rtol=1e-5, atol=1e-7)
    after = np.sqrt(sum((p.grad.numpy().astype(np.float64) ** 2).sum() for p in model.parameters()))
    np.testing.assert_allclose(after, min(0.1, expected), rtol=1e-4, atol=1e-7)


def test_max_pool2d_sends_its_window_tables_once_per_shape():
    """The window geometry depends on the shapes only: the first call copies it over, later ones
    (same shapes) neither copy nor sync, with or without padding (which needs the border masks)."""
    for padding in (0, 1):
        x = td.randn(2, 3, 9, 9, device="cuda", requires_grad=True)
        step = lambda: F.max_pool2d(x, 3, stride=2, padding=padding).sum().backward()  # noqa: E731
        seen = transfers_of(step)
        assert seen.total_syncs == 0 and seen.total_copies == 0, seen.report()


def test_a_loss_readout_is_one_sync_at_the_line_that_reads_it():
    """The counters name the tinydl line that reads (Tensor.item) and the line that called it,
    here this test's own ``loss.item()``."""
    model = nn.Linear(4, 2).to("cuda")
    x = td.randn(8, 4, device="cuda")
    with counting() as seen:
        loss = model(x).pow(2).mean()
        loss.item()
    assert seen.total_syncs == 1, seen.report()
    (where,) = seen.syncs
    assert where.startswith("tinydl/tensor.py:") and " <- tests/test_host_syncs.py:" in where, where


def test_quickstart_training_step_needs_its_batch_and_its_loss_only():
    """examples/quickstart.py's training step on cuda: two copies (the batch's images and labels,
    which live on the host) and one sync (``losses.append(loss.item())``); cross_entropy's check of
    the labels travels with that read (tinydl/device_checks.py), so it costs nothing more."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
    try:
        import quickstart
    finally:
        sys.path.pop(0)
    x_train, y_train, _, _ = quickstart.load_digits_split(0)
    model = quickstart.make_model().to("cuda")
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    losses, batches = [], iter(np.arange(3 * 64).reshape(3, 64))

    def step():  # the body of quickstart's training loop
        batch = next(batches)
        xb = td.tensor(x_train[batch], device="cuda")
        yb = td.tensor(y_train[batch], device="cuda")
        loss = F.cross_entropy(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

    seen = transfers_of(step)
    assert seen.total_copies == 2 and seen.total_syncs == 1, seen.report()
    assert all("tinydl/tensor.py" in where for where in seen.syncs), seen.report()  # Tensor.item
