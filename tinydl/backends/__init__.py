"""``td.backends``: the switches PyTorch scripts set, with PyTorch's names and import paths
(``import tinydl.backends.cudnn as cudnn``, as the official DCGAN example writes it).

- ``backends.cudnn``: tinydl uses no cuDNN (its convolutions are im2col + matmul, on CuPy's
  cuBLAS), so ``is_available()`` is False. Scripts still set ``cudnn.benchmark = True`` or
  ``cudnn.deterministic = True``; the attributes are there and change nothing: tinydl's
  convolutions always run the same algorithm, so they are deterministic already, and
  ``benchmark`` has no algorithms to choose between.
- ``backends.cuda``: ``is_built()`` is True when tinydl can run on a GPU (CuPy found one);
  ``cuda.matmul.allow_tf32`` is accepted and changes nothing (CuPy's default float32 matmul).
- ``backends.mps``: tinydl has no Apple-GPU backend: ``is_available()`` and ``is_built()`` are False.
"""
from . import cuda, cudnn, mps  # noqa: F401
