"""Host memory: let the process reuse the memory it frees (glibc on Linux only).

Not part of the deep learning: a setting of the C library's allocator that
tinydl applies when ``tinydl.backend`` is imported (that is, with
``import tinydl``).  It changes no result, only how fast the same arrays
can be allocated again.

A training step allocates the same large temporaries every time (im2col
matrices, gradients).  By default glibc hands freed blocks above a threshold
straight back to the operating system, so the next step's arrays land in
fresh pages, and the first write to each 4 KiB page is a page fault.
Raising glibc's mmap and trim thresholds keeps freed blocks for reuse, which
is what the caching allocators of PyTorch and CuPy do in their own way.  The
price: the process keeps its peak memory instead of shrinking.

Measured with ``python -m benchmarks.memory`` (each setting in a fresh
process, four alternating rounds, medians of 15 steps; 2-core CPU machine,
load average below 1): the training step of benchmarks.training took
189 ms with glibc's defaults and 142 ms with this (1.33x), with 15,455 page
faults per step (63 MB of fresh pages) against 3; the "conv2d large N8
128->128 32x32" case of benchmarks.layers 64.6 and 53.2 ms (1.21x).  Its
64->64 case gains little (19.9 and 19.0 ms, no page faults either way):
glibc's own dynamic threshold (mallopt(3)) already keeps those blocks after
their first free.  Peak memory is the same either way (125 MB of RSS growth
over 5 training steps, ``python -m benchmarks.training --child tinydl``);
with this on, the process keeps it between steps.

Set the environment variable ``TINYDL_KEEP_FREED_MEMORY=0`` (before
importing tinydl) to leave glibc's defaults alone.
"""
import ctypes
import os
import sys


def keep_freed_memory():
    """Raise glibc's mmap and trim thresholds so that freed blocks are reused instead of
    returned to the OS; return True if the settings were applied (False when switched off
    by TINYDL_KEEP_FREED_MEMORY=0, or where the C library is not glibc)."""
    if os.environ.get("TINYDL_KEEP_FREED_MEMORY", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (e.g. musl): nothing to tune
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's <malloc.h>
    largest_heap_block = 32 * 2**20  # glibc's ceiling for the mmap threshold on 64-bit systems
    return bool(libc.mallopt(m_mmap_threshold, largest_heap_block)) and bool(libc.mallopt(m_trim_threshold, 2**30))
