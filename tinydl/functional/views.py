"""Small shape helpers PyTorch users type: t() and view_as()."""
from .shape import reshape, transpose


def t(x):
    """The transpose of a matrix; a 0-d or 1-d tensor is returned as it is (as PyTorch)."""
    if x.ndim > 2:
        raise ValueError(f"t: expects a tensor with <= 2 dimensions, but got shape {tuple(x.shape)} "
                         f"({x.ndim}-d); use transpose(dim0, dim1) or permute")
    return transpose(x, 0, 1) if x.ndim == 2 else x


def view_as(x, other):
    """x reshaped to ``other``'s shape."""
    shape = getattr(other, "shape", None)
    if shape is None:
        raise TypeError(f"view_as: other must be a Tensor, not {type(other).__name__}")
    return reshape(x, tuple(shape))
