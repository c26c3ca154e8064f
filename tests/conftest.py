"""Test configuration: Hypothesis profiles, the ``device`` fixture and the ``kernels`` fixture.

GPU: every test that takes ``device`` also runs on ``"cuda"``. With a real GPU that is
CuPy; without one it is tinydl's CuPy stand-in (``tinydl/fake_cupy``), switched on here
unless ``TINYDL_FAKE_GPU=0`` is set, in which case the cuda tests are skipped.

Profiles: "ci" is deterministic and short (loaded when the CI environment
variable is set), "dev" explores more examples.  HYPOTHESIS_PROFILE=name
picks one explicitly, e.g. ``HYPOTHESIS_PROFILE=ci python -m pytest tests``.
"""
import contextlib
import os
import sys

import pytest
from hypothesis import HealthCheck, settings

os.environ.setdefault("TINYDL_FAKE_GPU", "1")  # without a real GPU, the cuda tests run on the stand-in
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo root, for `import tinydl`

import tinydl as td  # noqa: E402

settings.register_profile(
    "ci", derandomize=True, max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=40, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(scope="session", params=["cpu", "cuda"])
def device(request):
    """Every test that takes ``device`` runs on the CPU, and on the GPU (real, or the stand-in).

    Session-scoped so that Hypothesis's @given tests can use it (a function-scoped
    fixture would not be reset between generated examples)."""
    if request.param == "cuda" and not td.cuda.is_available():
        pytest.skip("no GPU, and the CuPy stand-in is off (TINYDL_FAKE_GPU=0)")
    return request.param


@pytest.fixture(scope="session", params=["fast", "reference"])
def kernels(request):
    """A test that takes ``kernels`` runs twice: on the ops' fast versions and on their plain
    (reference) versions.  The mode is switched around the test's call only, by the hook below
    (a session-scoped fixture cannot hold a mode: other tests run between its setup and teardown)."""
    return request.param


@contextlib.contextmanager
def kernel_mode(mode):
    """Plain kernels for "reference"; for "fast", the fast kernels wherever an op has one, even where
    the default would not take it: conv2d takes the plain im2col matrix for layers with few input
    channels (THIN_BLOCK), which every test-sized layer has, so here THIN_BLOCK is 0 and the tests'
    small layers run KernelRowIm2col."""
    from tinydl.functional import conv

    thin_block = conv.THIN_BLOCK
    conv.THIN_BLOCK = 0 if mode == "fast" else thin_block
    try:
        with td.use_reference_kernels(mode == "reference"):
            yield
    finally:
        conv.THIN_BLOCK = thin_block


def pytest_runtest_teardown(item):
    """A check a test queued on the GPU and never read (tinydl/device_checks.py) is read when the test
    ends: a failed one is an error of that test (not silently dropped, nor raised in the next test)."""
    from tinydl import device_checks

    try:
        device_checks.raise_pending()
    except Exception as error:  # raise_pending emptied the queue first
        pytest.fail(f"a check queued on the GPU failed and the test never read it: {error!r}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    mode = item.callspec.params.get("kernels") if hasattr(item, "callspec") else None
    with kernel_mode(mode) if mode else contextlib.nullcontext():
        yield
