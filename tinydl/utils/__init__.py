"""``tinydl.utils``: the parts of ``torch.utils`` a training script imports (``tinydl.utils.data``)."""
from . import data  # noqa: F401
