"""``F.one_hot``: class indices -> one-hot rows (int64), as PyTorch's."""
import numpy as np

from .. import backend
from ..device_checks import check
from ..tensor import Tensor


def one_hot(tensor, num_classes=-1):
    """(*) int64 class indices -> (*, num_classes) int64 tensor with a 1 at each index.

    ``num_classes=-1`` takes max(tensor) + 1, which reads the maximum back from the device (a
    sync, as in PyTorch: the result's shape depends on it). Not differentiable (integer output).
    """
    if tensor.dtype != np.int64:
        raise TypeError(f"one_hot: tensor must hold int64 class indices (td.long), got dtype {tensor.dtype}")
    indices = tensor.data
    if num_classes == -1:
        if indices.size == 0:
            raise ValueError(f"one_hot: can not infer num_classes from an empty tensor of shape "
                             f"{tuple(tensor.shape)}; pass num_classes")
        num_classes = int(backend.to_numpy(indices.max())) + 1
    elif num_classes < 1:
        raise ValueError(f"one_hot: num_classes must be positive or -1, got {num_classes}")
    if indices.size:
        check(indices.min() < 0, lambda: ValueError("one_hot: class values must be non-negative"))
        check(indices.max() >= num_classes, lambda: ValueError(
            f"one_hot: class values must be smaller than num_classes={num_classes}"))
    xp = backend.get_array_module(indices)
    return Tensor((indices[..., None] == xp.arange(num_classes)).astype(np.int64))
