"""Every vision metric starts here: turn its input into a host NumPy array.

The metrics of ``tinydl.vision`` are bookkeeping on a few thousand numbers,
not part of a model, so they always run on the CPU with NumPy, whatever
device the Tensors that are passed in live on.
"""
import numpy as np

from ..tensor import Tensor


def to_host(x):
    """A NumPy array of ``x``: a tinydl Tensor (copied from the GPU if it lives there) or anything np.asarray takes."""
    if isinstance(x, Tensor):
        return x.detach().numpy()
    return np.asarray(x)
