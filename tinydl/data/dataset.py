"""Datasets live in ``tinydl.utils.data`` (PyTorch's import path); this module keeps the old one working."""
from ..utils.data.dataset import ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, as_array  # noqa: F401
