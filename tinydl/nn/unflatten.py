"""``nn.Unflatten``: the inverse of Flatten, dim ``dim`` split into ``unflattened_size``."""
import math

from .module import Module


class Unflatten(Module):
    """(N, C*H*W) -> (N, C, H, W) with Unflatten(1, (C, H, W)); one size may be -1."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        if not isinstance(dim, int):
            raise TypeError(f"Unflatten: dim must be an int, got {type(dim).__name__}")
        if not isinstance(unflattened_size, (tuple, list)) or not all(isinstance(s, int) for s in unflattened_size):
            raise TypeError(f"Unflatten: unflattened_size must be a tuple or list of ints, got {unflattened_size!r}")
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x):
        dim = self.dim + x.ndim if self.dim < 0 else self.dim
        if not 0 <= dim < x.ndim:
            raise IndexError(f"Unflatten: dim={self.dim} is out of range for an input of shape {tuple(x.shape)}")
        shape = tuple(x.shape[:dim]) + self.unflattened_size + tuple(x.shape[dim + 1:])
        known = math.prod(s for s in self.unflattened_size if s != -1)
        fits = known == x.shape[dim] if -1 not in self.unflattened_size else known and x.shape[dim] % known == 0
        if not fits:
            raise ValueError(f"Unflatten: unflattened_size={self.unflattened_size} does not multiply to "
                             f"dim {self.dim}'s size {x.shape[dim]} of the input of shape {tuple(x.shape)}")
        return x.reshape(shape)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
