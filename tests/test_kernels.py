"""The plain/fast switch: td.use_reference_kernels as a call, a context manager and an environment variable."""
import os
import subprocess
import sys

import numpy as np
import pytest

import tinydl as td
from tinydl.kernels import reference_kernels_enabled


def test_a_call_switches_and_a_with_block_restores():
    with td.use_reference_kernels(False):  # whatever TINYDL_REFERENCE_KERNELS set for this run
        td.use_reference_kernels()
        assert reference_kernels_enabled()
        with td.use_reference_kernels(False):
            assert not reference_kernels_enabled()
        assert reference_kernels_enabled()
        td.use_reference_kernels(False)
        assert not reference_kernels_enabled()
        with td.use_reference_kernels():
            assert reference_kernels_enabled()
        assert not reference_kernels_enabled()


def test_the_kernels_fixture_sets_the_mode_around_the_test(kernels):
    from tinydl.functional import conv

    assert reference_kernels_enabled() == (kernels == "reference")
    geo = conv.Geometry((3, 3), (1, 1), (1, 1), (1, 1), 1)
    matrix = conv.im2col(np.zeros((1, 1, 3, 3)), geo, (3, 3))  # a one-channel layer
    assert type(matrix) is (conv.Im2col if kernels == "reference" else conv.KernelRowIm2col)


@pytest.mark.parametrize("value, expected", [("1", True), ("0", False), ("", False)])
def test_the_environment_variable_sets_the_mode_at_import(value, expected):
    env = dict(os.environ, TINYDL_REFERENCE_KERNELS=value)
    code = "import tinydl.kernels as k; print(k.reference_kernels_enabled())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(expected)


def test_an_unreadable_environment_variable_is_an_error():
    env = dict(os.environ, TINYDL_REFERENCE_KERNELS="maybe")
    out = subprocess.run([sys.executable, "-c", "import tinydl"], env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "TINYDL_REFERENCE_KERNELS must be 1 or 0" in out.stderr
