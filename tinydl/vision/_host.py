"""Every vision metric starts here: turn its input into a host NumPy array.

The metrics of ``tinydl.vision`` (IoU, NMS, AP, mean IoU) are bookkeeping on a
few thousand numbers, not part of a model: they always run on the CPU with
NumPy, whatever device their input lives on, and return NumPy arrays. Their
loops (greedy NMS, matching detections to ground truth) ask a question of one
number at a time, which on a GPU would be one sync each; one copy to the host
up front is cheaper.
"""
from .. import backend
from ..tensor import Tensor


def to_host(x):
    """A NumPy array of ``x``: a tinydl Tensor or a raw CuPy array (copied from the GPU, one sync)
    or anything np.asarray takes (lists, NumPy arrays, numbers)."""
    if isinstance(x, Tensor):
        x = x.data
    return backend.to_numpy(x)
