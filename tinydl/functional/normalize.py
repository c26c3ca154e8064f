"""F.normalize: each vector along ``dim`` divided by its p-norm (at least eps), as PyTorch's."""
from .elementwise import clamp
from .norm import norm


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p, eps) along ``dim``: unit vectors (zero vectors stay zero)."""
    if out is not None:
        raise NotImplementedError("normalize: out= is not supported; use the result: y = F.normalize(x)")
    return input / clamp(norm(input, p, dim, keepdim=True), min=eps)
