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
