"""torch.backends.cuda: whether tinydl's GPU path (CuPy) is installed; ``matmul.allow_tf32`` is
accepted and changes nothing."""
from types import SimpleNamespace

from .. import backend

matmul = SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True)


def is_built():
    return backend.cuda_available()
