"""Random numbers for tinydl, one seeded generator per device.

``td.manual_seed(s)`` resets both, so a run with the same seed draws the same
numbers: the same initial weights, the same dropout masks, the same batches.

On one device, that is: CuPy draws with cuRAND and NumPy with its own
generators, so the same seed gives different numbers on the CPU and on the GPU
(and on the CPU stand-in for CuPy, which draws from Philox to keep that
property in the tests). Data that must be the same on both devices is drawn on
the host (docs/gpu.md, "Random numbers").
"""
import numpy as np

from . import backend

_generators = {"cpu": np.random.default_rng()}


_seed_state = {"seed": None}  # the last manual_seed, for a GPU generator made later


def manual_seed(seed):
    """Seed every random source tinydl uses (NumPy's, and CuPy's when present)."""
    seed = int(seed)
    _generators["cpu"] = np.random.default_rng(seed)
    _generators.pop("cuda", None)
    _seed_state["seed"] = seed
    if backend.cuda_available():
        _generators["cuda"] = backend.cp.random.RandomState(seed)


def manual_seed_cuda(seed):
    """Seed only the GPU's generator (``td.cuda.manual_seed``); nothing without a GPU, as in PyTorch."""
    seed = int(seed)
    if backend.cuda_available():
        _generators["cuda"] = backend.array_module_for("cuda").random.RandomState(seed)


def generator(device="cpu"):
    """The generator for ``device``: a NumPy ``Generator`` or a CuPy ``RandomState``."""
    device = backend.normalize_device(device)
    if device not in _generators:  # first GPU draw: seed it from the last manual_seed
        seed = _seed_state["seed"]
        _generators["cuda"] = backend.array_module_for("cuda").random.RandomState(seed)
    return _generators[device]


def _drawn_as(dtype):
    """The dtype to draw in: NumPy and CuPy draw float32 and float64 only, so float16 is drawn as float32."""
    return np.float32 if np.dtype(dtype) == np.float16 else dtype


def _own(source):
    """The NumPy Generator behind ``generator=`` (a td.Generator or a NumPy Generator): its draws are
    made on the host and then sent to the device, like the data order a td.Generator decides."""
    from .generator import numpy_generator

    return numpy_generator(source)


def standard_normal(shape, dtype, device="cpu", source=None):
    """Samples of N(0, 1) with the given shape and dtype (from ``source``, a td.Generator, when given)."""
    if source is not None:
        draws = _own(source).standard_normal(shape, dtype=_drawn_as(dtype)).astype(dtype, copy=False)
        return backend.to_device(draws, device)
    return generator(device).standard_normal(shape, dtype=_drawn_as(dtype)).astype(dtype, copy=False)


def uniform(shape, dtype, device="cpu", low=0.0, high=1.0, source=None):
    """Samples of U[low, high) with the given shape and dtype (from ``source`` when given)."""
    gen = generator(device)
    if source is not None:
        u = backend.to_device(_own(source).random(shape, dtype=_drawn_as(dtype)), device)
    elif backend.normalize_device(device) == "cpu":
        u = gen.random(shape, dtype=_drawn_as(dtype))
    else:
        u = gen.random_sample(shape, dtype=_drawn_as(dtype))
    u = u.astype(dtype, copy=False)
    if low != 0.0 or high != 1.0:
        u = u * (high - low) + low
        u = u.astype(dtype, copy=False)
    return u


def integers(low, high, shape, device="cpu", source=None):
    """int64 samples from [low, high) (from ``source`` when given)."""
    if source is not None:
        return backend.to_device(_own(source).integers(low, high, size=shape, dtype=np.int64), device)
    gen = generator(device)
    if backend.normalize_device(device) == "cpu":
        return gen.integers(low, high, size=shape, dtype=np.int64)
    return gen.randint(low, high, size=shape, dtype=np.int64)


def permutation(n, device="cpu", source=None):
    """A random permutation of range(n) as int64 (from ``source`` when given)."""
    gen = generator(device) if source is None else _own(source)
    return gen.permutation(n).astype(np.int64)
