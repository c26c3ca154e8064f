"""``td.backends``: the switches PyTorch scripts set, with PyTorch's names.

- ``backends.cudnn``: tinydl uses no cuDNN (its convolutions are im2col + matmul, on CuPy's
  cuBLAS), so ``is_available()`` is False. Scripts still set ``cudnn.benchmark = True`` or
  ``cudnn.deterministic = True``; the attributes are there and change nothing: tinydl's
  convolutions always run the same algorithm, so they are deterministic already, and
  ``benchmark`` has no algorithms to choose between.
- ``backends.cuda``: ``is_built()`` is True when tinydl can run on a GPU (CuPy found one);
  ``cuda.matmul.allow_tf32`` is accepted and changes nothing (CuPy's default float32 matmul).
- ``backends.mps``: tinydl has no Apple-GPU backend: ``is_available()`` and ``is_built()`` are False.
"""
from types import SimpleNamespace

from . import backend


class _CuDNN:
    """torch.backends.cudnn's switches; tinydl has no cuDNN, so they are recorded and change nothing."""

    def __init__(self):
        self.enabled = True  # PyTorch's defaults
        self.benchmark = False
        self.deterministic = False
        self.allow_tf32 = True

    @staticmethod
    def is_available():
        return False

    @staticmethod
    def version():
        return None


class _CUDA:
    """torch.backends.cuda: whether tinydl's GPU path (CuPy) is installed."""

    def __init__(self):
        self.matmul = SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True)

    @staticmethod
    def is_built():
        return backend.cuda_available()


class _MPS:
    """torch.backends.mps: tinydl has no Apple-GPU backend."""

    @staticmethod
    def is_available():
        return False

    @staticmethod
    def is_built():
        return False


cudnn = _CuDNN()
cuda = _CUDA()
mps = _MPS()
