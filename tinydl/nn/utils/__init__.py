"""``tinydl.nn.utils``: gradient clipping, and ``rnn.pad_sequence`` (PyTorch's names and paths)."""
from . import rnn
from .clip_grad import clip_grad_norm_, clip_grad_value_
