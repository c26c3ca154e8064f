"""``td.Generator``: a random source of its own, as ``torch.Generator``.

Pass one where PyTorch takes ``generator=`` (``DataLoader``, the samplers,
``random_split``) to draw from it instead of tinydl's global generator, so
the order of the data does not depend on what else drew random numbers::

    g = td.Generator().manual_seed(0)
    train, val = random_split(dataset, [0.8, 0.2], generator=g)

It wraps a NumPy ``Generator`` (``g.numpy``); the numbers it draws are not
PyTorch's (the two libraries use different algorithms), only the way to use it
is the same.
"""
import numpy as np


class Generator:
    """A seeded NumPy random source behind PyTorch's ``Generator`` API (CPU only, like the data it orders)."""

    def __init__(self, device="cpu"):
        if str(device) != "cpu":
            raise ValueError(f"Generator: only device='cpu' is supported (data order is drawn on the host), "
                             f"got device={device!r}")
        self.device = "cpu"
        self.seed()

    def manual_seed(self, seed):
        """Reset the generator to ``seed``; returns the generator, so ``Generator().manual_seed(0)`` reads well."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"Generator.manual_seed: seed must be an int, got {seed!r}")
        self._initial_seed = int(seed)
        self.numpy = np.random.default_rng(self._initial_seed)
        return self

    def seed(self):
        """Reseed from the operating system's entropy; returns the new seed."""
        self.manual_seed(int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> 1))
        return self._initial_seed

    def initial_seed(self):
        """The seed the generator was last reset to."""
        return self._initial_seed

    def __repr__(self):
        return f"<tinydl.Generator seed={self._initial_seed}>"


def numpy_generator(generator):
    """The NumPy Generator to draw from: tinydl's global one for None, else the one given
    (a ``td.Generator`` or a NumPy ``Generator``)."""
    from . import rng

    if generator is None:
        return rng.generator("cpu")
    if isinstance(generator, Generator):
        return generator.numpy
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"generator must be None, a td.Generator or a numpy.random.Generator, "
                    f"got {type(generator).__name__}")
