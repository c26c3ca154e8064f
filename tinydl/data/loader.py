"""The DataLoader lives in ``tinydl.utils.data`` (PyTorch's import path); this module keeps the old one working."""
from ..utils.data.collate import default_collate  # noqa: F401
from ..utils.data.dataloader import DataLoader  # noqa: F401
