"""``td.cuda``: is a GPU usable through CuPy, and how much of its memory is in use?

CuPy does not hand freed GPU memory back to the driver: a *memory pool* keeps
every freed block and reuses it for the next array of a similar size, because
asking the driver (cudaMalloc / cudaFree) is slow and synchronizes the GPU.
So after a training step ``nvidia-smi`` shows everything the pool holds, not
what live arrays use. The functions below tell the two apart, with PyTorch's
names (docs/performance.md, "GPU memory"):

- ``memory_allocated()``: bytes in live arrays (``pool.used_bytes()``);
- ``memory_reserved()``: bytes the pool holds, live or cached (``pool.total_bytes()``),
  which is what ``nvidia-smi`` counts, plus CUDA's own context;
- ``max_memory_allocated()``: the peak of ``memory_allocated()`` since tinydl
  started tracking it (``reset_peak_memory_stats()`` restarts it);
- ``empty_cache()``: give the pool's cached blocks back to the driver.

Without a GPU each returns 0 (or does nothing).
"""
from . import backend

_peak_hook = None


def is_available():
    """True when CuPy imports and finds a GPU; tinydl then runs every op on it with device='cuda'."""
    return backend.cuda_available()


def device_count():
    """How many GPUs tinydl can use: 1 with CuPy and a GPU (tinydl drives one), else 0."""
    return 1 if backend.cuda_available() else 0


def current_device():
    """The index of the GPU in use: always 0 (tinydl drives one GPU)."""
    return 0


def get_device_name(device=None):
    """The GPU's name (``device``: None, 0, 'cuda', 'cuda:0' or td.device('cuda'); tinydl drives one GPU)."""
    if str(device) not in ("None", "0", "cuda", "cuda:0"):
        raise ValueError(f"get_device_name: tinydl drives one GPU, device 0 ('cuda'); got {device!r}")
    if not backend.cuda_available():
        raise RuntimeError("get_device_name: no GPU is available (td.cuda.is_available() is False)")
    properties = getattr(backend.cp.cuda.runtime, "getDeviceProperties", None)
    if properties is None:  # tinydl's CuPy stand-in (tests without a GPU)
        return "tinydl CuPy stand-in"
    name = properties(0)["name"]
    return name.decode() if isinstance(name, bytes) else name


def synchronize():
    """Wait for queued GPU work to finish (for honest timings), and raise any error a check queued
    on the GPU has found (device_checks.py); a no-op without a GPU."""
    if backend.cuda_available():
        backend.cp.cuda.Device().synchronize()
        from .device_checks import raise_pending

        raise_pending()


def manual_seed(seed):
    """Seed the GPU's random generator only (td.manual_seed seeds every device); nothing without a GPU."""
    from .rng import manual_seed_cuda

    manual_seed_cuda(seed)


manual_seed_all = manual_seed  # tinydl drives one GPU: seeding "all" of them is seeding that one


def _pool():
    return backend.cp.get_default_memory_pool() if backend.cuda_available() else None


def memory_allocated():
    """Bytes of GPU memory held by live arrays (0 without a GPU)."""
    pool = _pool()
    return 0 if pool is None else int(pool.used_bytes())


def memory_reserved():
    """Bytes of GPU memory CuPy's pool holds, in live arrays or cached for reuse (0 without a GPU)."""
    pool = _pool()
    return 0 if pool is None else int(pool.total_bytes())


def empty_cache():
    """Return the pool's cached (unused) blocks to the driver; live arrays are untouched."""
    pool = _pool()
    if pool is not None:
        pool.free_all_blocks()


def reset_peak_memory_stats():
    """Start (or restart) tracking the peak of memory_allocated()."""
    global _peak_hook
    if not backend.cuda_available():
        return
    if _peak_hook is None:
        _peak_hook = _make_peak_hook()
        _peak_hook.__enter__()  # CuPy calls a memory hook on every pool allocation and free
    _peak_hook.reset(memory_allocated())


def max_memory_allocated():
    """The peak of memory_allocated() since reset_peak_memory_stats() (0 without a GPU).

    The first call starts tracking, so it returns the current use."""
    if not backend.cuda_available():
        return 0
    if _peak_hook is None:
        reset_peak_memory_stats()
    return max(_peak_hook.peak, memory_allocated())


def _make_peak_hook():
    """A CuPy MemoryHook that follows the pool's live bytes and remembers their maximum."""
    class PeakHook(backend.cp.cuda.memory_hook.MemoryHook):
        name = "tinydl_peak"

        def reset(self, current):
            self.live = self.peak = current

        def malloc_postprocess(self, **info):  # an array took a block from the pool
            self.live += info["mem_size"]
            self.peak = max(self.peak, self.live)

        def free_postprocess(self, **info):  # a block went back to the pool
            self.live -= info["mem_size"]

    return PeakHook()


# PyTorch's legacy GPU tensor types: td.cuda.FloatTensor(2, 3), td.cuda.LongTensor([1, 2]) (tensor_types.py)
from .tensor_types import CUDA_TYPES  # noqa: E402

FloatTensor, DoubleTensor, HalfTensor = CUDA_TYPES["FloatTensor"], CUDA_TYPES["DoubleTensor"], CUDA_TYPES["HalfTensor"]
LongTensor, IntTensor, BoolTensor = CUDA_TYPES["LongTensor"], CUDA_TYPES["IntTensor"], CUDA_TYPES["BoolTensor"]
ByteTensor = CUDA_TYPES["ByteTensor"]
