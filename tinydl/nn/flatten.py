"""``nn.Flatten``: (N, C, H, W) -> (N, C*H*W) by default (start_dim=1, like PyTorch)."""
from .module import Module


class Flatten(Module):
    """Merges dims ``start_dim``..``end_dim``: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
