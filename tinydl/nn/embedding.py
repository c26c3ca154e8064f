"""``nn.Embedding``: a trainable table of num_embeddings vectors of size embedding_dim, read by index.

weight (num_embeddings, embedding_dim) ~ N(0, 1), PyTorch's initialization;
the row ``padding_idx`` starts at zero and never receives a gradient, so it
stays zero (a "no token here" vector).  docs/attention.md, "Embeddings".
"""
from .. import creation
from ..functional.embedding import _normalize_padding_idx, embedding
from ..tensor import Tensor
from . import init
from .module import Module, Parameter


class Embedding(Module):
    """Maps integer indices (any shape) to vectors: (*indices.shape) -> (*indices.shape, embedding_dim)."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, device="cpu", dtype=None):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = _normalize_padding_idx(type(self).__name__, padding_idx, num_embeddings)
        self.weight = Parameter(creation.empty(num_embeddings, embedding_dim, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, indices):
        return embedding(indices, self.weight, self.padding_idx)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None):
        """An Embedding holding a copy of the 2-d ``embeddings``; frozen (no gradient) unless freeze=False."""
        data = embeddings.data if isinstance(embeddings, Tensor) else embeddings
        if getattr(data, "ndim", None) != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-d, got shape {getattr(data, 'shape', None)}")
        module = cls(*data.shape, padding_idx=padding_idx, device=Tensor(data).device, dtype=data.dtype)
        module.weight.data[...] = data
        module.weight.requires_grad = not freeze
        return module

    def extra_repr(self):
        padding = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}"
