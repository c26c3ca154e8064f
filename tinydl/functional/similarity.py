"""``F.cosine_similarity``: the cosine of the angle between two vectors, along ``dim``.

Built from differentiable ops, so its gradient is theirs (no Function of its own).
"""
from ..tensor import Tensor
from .elementwise import clamp, mul, sqrt
from .reduction import sum


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """x1 . x2 / (max(||x1||, eps) * max(||x2||, eps)) along ``dim``, with x1 and x2 broadcast
    together (PyTorch's formula; ``eps`` keeps a zero vector from dividing by zero)."""
    for name, x in (("x1", x1), ("x2", x2)):
        if not isinstance(x, Tensor):
            raise TypeError(f"cosine_similarity: {name} must be a Tensor, not {type(x).__name__}")
    dot = sum(mul(x1, x2), dim)
    norm1 = clamp(sqrt(sum(mul(x1, x1), dim)), min=eps)
    norm2 = clamp(sqrt(sum(mul(x2, x2), dim)), min=eps)
    return dot / (norm1 * norm2)
