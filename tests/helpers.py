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
