"""``cupy.cuda`` of the stand-in: one pretend device, its memory pool and the pool's hooks.

Real CuPy never returns freed GPU memory to the driver: its *memory pool* keeps
each freed block (rounded up to 512 bytes) for the next array of that size,
because cudaMalloc / cudaFree are slow and synchronize the device. The pool below
keeps the same books (bytes in live arrays, bytes cached) so that ``td.cuda``'s
memory functions have something real to report, and it calls memory hooks
(``cupy.cuda.memory_hook.MemoryHook``) on every allocation and free, as CuPy does.
"""
import types
import weakref

ROUND = 512  # CuPy rounds every allocation up to a multiple of 512 bytes


def _rounded(nbytes):
    return -(-max(int(nbytes), 1) // ROUND) * ROUND


# ---- memory hooks -------------------------------------------------------------------------------
_hooks = []


class MemoryHook:
    """Base class of a hook; ``with hook:`` (or ``hook.__enter__()``) installs it."""

    name = "MemoryHook"

    def __enter__(self):
        if any(hook.name == self.name for hook in _hooks):
            raise KeyError(f"memory hook {self.name} already exists")
        _hooks.append(self)
        return self

    def __exit__(self, *exc):
        _hooks.remove(self)

    def malloc_preprocess(self, **kwargs):
        pass

    def malloc_postprocess(self, **kwargs):
        pass

    def free_preprocess(self, **kwargs):
        pass

    def free_postprocess(self, **kwargs):
        pass


memory_hook = types.SimpleNamespace(MemoryHook=MemoryHook)


# ---- the pool -----------------------------------------------------------------------------------
class MemoryPool:
    """Live bytes (in arrays) and cached bytes (freed, kept for reuse), as CuPy's pool counts them."""

    def __init__(self):
        self._used = 0
        self._cached = []  # sizes of freed blocks kept for reuse
        self._ids = 0

    def used_bytes(self):
        return self._used

    def free_bytes(self):
        return sum(self._cached)

    def total_bytes(self):
        return self._used + self.free_bytes()

    def n_free_blocks(self):
        return len(self._cached)

    def free_all_blocks(self, stream=None):
        self._cached.clear()

    def set_limit(self, size=None, fraction=None):
        pass

    def get_limit(self):
        return 0

    def malloc(self, nbytes):
        """Take a block for ``nbytes``; returns a token whose collection frees it."""
        size = _rounded(nbytes)
        if size in self._cached:
            self._cached.remove(size)  # reuse a cached block of the same size
        self._ids += 1
        info = dict(device_id=0, size=int(nbytes), mem_size=size, mem_ptr=self._ids, pmem_id=id(self))
        for hook in list(_hooks):
            hook.malloc_preprocess(device_id=0, size=int(nbytes), mem_size=size)
        self._used += size
        for hook in list(_hooks):
            hook.malloc_postprocess(**info)
        return info

    def free(self, info):
        info = {k: v for k, v in info.items() if k != "size"}  # CuPy's free hooks get no `size`
        for hook in list(_hooks):
            hook.free_preprocess(**info)
        self._used -= info["mem_size"]
        self._cached.append(info["mem_size"])
        for hook in list(_hooks):
            hook.free_postprocess(**info)


_default_pool = MemoryPool()


def get_default_memory_pool():
    return _default_pool


_booked = set()  # id() of every buffer booked and not yet collected


def track(owner, nbytes):
    """Book ``nbytes`` of device memory for ``owner`` (an array buffer) until it is collected."""
    if id(owner) in _booked:
        return
    _booked.add(id(owner))
    weakref.finalize(owner, _release, id(owner), _default_pool.malloc(nbytes))


def _release(owner_id, info):
    _booked.discard(owner_id)
    _default_pool.free(info)


# ---- the device and the runtime -----------------------------------------------------------------
class Device:
    """The one pretend GPU. ``synchronize()`` returns at once: the stand-in computes eagerly."""

    def __init__(self, device=None):
        self.id = 0 if device is None else int(device)

    def synchronize(self):
        pass

    def use(self):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def __repr__(self):
        return f"<CUDA Device {self.id} (tinydl's CPU stand-in)>"


def get_device_id():
    return 0


class CUDARuntimeError(RuntimeError):
    pass


runtime = types.SimpleNamespace(
    getDeviceCount=lambda: 1,
    deviceSynchronize=lambda: None,
    getDevice=lambda: 0,
    CUDARuntimeError=CUDARuntimeError,
)


class Stream:
    null = None

    def synchronize(self):
        pass


Stream.null = Stream()
