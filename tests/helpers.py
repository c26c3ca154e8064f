"""Small helpers shared by the test files (Hypothesis strategies live in strategies.py)."""
import numpy as np

import tinydl as td


def leaf(array, device="cpu"):
    """A float64 leaf that requires grad, on ``device``."""
    return td.tensor(np.asarray(array, dtype=np.float64), requires_grad=True, device=device)


def const(array, device="cpu"):
    """A constant (no grad) on ``device``; integer and boolean arrays keep their dtype."""
    return td.tensor(np.asarray(array), device=device)


def host(t):
    """A Tensor's values as a NumPy array on the host."""
    return t.detach().numpy()


def rounding_atol(magnitude, terms, ulps=4):
    """The atol for comparing two float64 computations of the same sums, done in different orders.

    Each compared value is a sum of at most ``terms`` products whose absolute values add up to at
    most ``magnitude`` (for an average of values, the largest |value|; for a plain sum, the sum of
    the |terms|; an array is reduced to its largest |entry|).  Every product and every addition
    rounds by at most eps / 2 of a partial result, itself at most ``magnitude``, so one computation
    is off by at most ``terms * eps / 2 * magnitude`` and two of them differ by at most
    ``terms * eps * magnitude``; ``ulps`` = 4 leaves a factor of 4 over this worst case.  rtol alone cannot bound the
    difference: where the exact value cancels to about zero (Hypothesis finds such inputs, e.g.
    mean(-1, 1, 3e-229, 3e-229)), the two roundings differ by far more than rtol times the value.
    """
    return ulps * terms * np.finfo(np.float64).eps * float(np.max(np.abs(magnitude)))


def in_both_modes(fn):
    """fn() run on the plain kernels, then on the fast ones (td.use_reference_kernels): (plain, fast)."""
    with td.use_reference_kernels(True):
        plain = fn()
    with td.use_reference_kernels(False):
        fast = fn()
    return plain, fast


def assert_same_results(plain, fast, rtol=1e-12, atol=1e-12):
    """Two lists of arrays (or None) equal: integers exactly, floats to rtol and atol, NaN where NaN."""
    assert len(plain) == len(fast)
    for a, b in zip(plain, fast):
        if a is None or b is None:
            assert a is None and b is None
        elif np.asarray(a).dtype.kind in "iub":
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
