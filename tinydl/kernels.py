"""Plain or fast: which version of an op runs.

A few ops have a default path that was optimized beyond its textbook form:
conv2d's ``KernelRowIm2col`` and its stride-1 transposed convolution as a
convolution (conv.py), max_pool2d's running max over kernel offsets and the flat
plane index of its backward (pool.py), roi_pool's gather from a pixel table
(roi.py).  Each keeps its plain version as running code, first in its file,
written the way its docs chapter derives it: im2col, one matmul, col2im; a
window view and an argmax; a loop over boxes.  This switch makes every op run
its plain version, so you can set a breakpoint inside ``Im2col`` while a real
model trains:

    td.use_reference_kernels()              # from now on, plain versions
    td.use_reference_kernels(False)         # back to the fast ones
    with td.use_reference_kernels():        # plain inside the block only
        loss = model(x).sum()

or, for a whole run, ``TINYDL_REFERENCE_KERNELS=1 python examples/train_unet.py``.
The two versions compute the same values and gradients (tests hold them equal);
only the speed differs (docs/performance.md).  An op asks which one to run with
``reference_kernels_enabled()`` when it is called.
"""
import os


def _from_environment():
    value = os.environ.get("TINYDL_REFERENCE_KERNELS", "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"TINYDL_REFERENCE_KERNELS must be 1 or 0, got {value!r}")


_reference = _from_environment()


def reference_kernels_enabled():
    """True when ops run their plain (reference) versions."""
    return _reference


class use_reference_kernels:
    """Run every op on its plain version (``mode=True``) or its fast one (``mode=False``).

    Takes effect when called; used in a ``with`` statement, the previous mode
    comes back when the block ends (like ``torch.set_grad_enabled``).
    """

    def __init__(self, mode=True):
        global _reference
        self.previous = _reference
        _reference = bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        global _reference
        _reference = self.previous
        return False
