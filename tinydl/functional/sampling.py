"""multinomial: draw category indices from rows of (unnormalized) probabilities; and bernoulli:
a 0 or 1 for each probability.

With replacement, each draw is a uniform u in [0, 1) looked up in the running sums of the
row's probabilities (normalized to end at 1): the category whose interval [cdf[i-1], cdf[i])
holds u. Without replacement, each category gets a "time" E / p with E ~ Exponential(1),
and the k earliest are taken: the same law as drawing one at a time and removing it
(the race of exponential clocks; PyTorch samples it the same way).

Draws come from tinydl's seeded generator (``td.manual_seed``), or from ``generator=`` (a
``td.Generator``) when given. No gradient.
"""
import numbers

import numpy as np

from .. import backend, rng
from ..device_checks import check
from ..tensor import Tensor
from .sorting import stable_order


def _check(x, num_samples, replacement):
    if x.dtype.kind != "f":
        raise TypeError(f"multinomial: input must be floating point (probabilities or weights), got dtype {x.dtype}")
    if x.ndim not in (1, 2):
        raise ValueError(f"multinomial: input must be 1-d or 2-d (rows of probabilities), got shape {tuple(x.shape)}")
    if isinstance(num_samples, bool) or not isinstance(num_samples, numbers.Integral):
        raise TypeError(f"multinomial: num_samples must be an int, got {num_samples!r}")
    if num_samples <= 0:
        raise ValueError(f"multinomial: num_samples must be positive, got {num_samples}")
    categories = x.shape[-1]
    if not replacement and num_samples > categories:
        raise ValueError(f"multinomial: cannot draw {num_samples} samples without replacement from "
                         f"{categories} categories (input shape {tuple(x.shape)})")
    xp = backend.get_array_module(x.data)
    check(~xp.isfinite(x.data).all() | (x.data < 0).any(), lambda: ValueError(
        "multinomial: the probabilities contain inf, nan or an element < 0"))
    check((x.data.sum(axis=-1) <= 0).any(), lambda: ValueError(
        "multinomial: invalid distribution: a row's probabilities sum to 0"))


def _uniform(shape, p, generator):
    """Uniform draws in [0, 1) on p's device: from ``generator`` (a td.Generator, on the host) when
    given, else from tinydl's generator for that device."""
    device = backend.device_of(p)
    if generator is None:
        return rng.uniform(shape, np.float64, device)
    return backend.to_device(generator.numpy.random(shape), device)


def _with_replacement(p, num_samples, xp, generator):
    """(rows, num_samples) draws: each uniform looked up in its row's normalized running sums."""
    rows, n = p.shape
    cdf = xp.cumsum(p, axis=1)
    cdf = cdf / cdf[:, -1:]
    u = _uniform((rows, num_samples), p, generator)
    # all rows in one sorted array: row r's sums are moved up by 2r, so rows never overlap
    offsets = 2.0 * xp.arange(rows, dtype=np.float64).reshape(rows, 1)
    found = xp.searchsorted((cdf + offsets).reshape(-1), (u + offsets).reshape(-1), side="right")
    index = found.reshape(rows, num_samples) - n * xp.arange(rows).reshape(rows, 1)
    # adding the offsets rounds: a u a hair below 1 can land past the row's last sum, at index n;
    # such a draw belongs to the row's last category with p > 0
    last_positive = n - 1 - xp.argmax(p[:, ::-1] > 0, axis=1).reshape(rows, 1)
    return xp.minimum(index, last_positive)


def _without_replacement(p, num_samples, xp, generator):
    """(rows, num_samples) draws: the categories whose exponential clocks E / p ring first."""
    u = _uniform(p.shape, p, generator)
    waits = -xp.log1p(-u)  # Exponential(1), finite since u < 1
    times = xp.where(p > 0, waits / xp.where(p > 0, p, 1.0), xp.inf)  # p = 0: never (after all the others)
    return stable_order(times, 1, descending=False)[:, :num_samples]


def multinomial(x, num_samples, replacement=False, *, generator=None):
    """``num_samples`` category indices (int64) per row of x, drawn with probabilities
    proportional to the row (it need not sum to 1); shape (num_samples,) or (rows, num_samples)."""
    if generator is not None and not isinstance(getattr(generator, "numpy", None), np.random.Generator):
        raise TypeError(f"multinomial: generator must be a td.Generator, not {type(generator).__name__}")
    _check(x, num_samples, replacement)
    xp = backend.get_array_module(x.data)
    p = x.data.reshape(-1, x.shape[-1]).astype(np.float64)
    draw = _with_replacement if replacement else _without_replacement
    index = draw(p, num_samples, xp, generator).astype(np.int64)
    return Tensor(index.reshape(num_samples) if x.ndim == 1 else index)


def bernoulli(x, p=None, *, generator=None):
    """1 with probability x (or ``p``), else 0, for each element; x's shape and dtype, no gradient."""
    if x.dtype.kind != "f":
        raise TypeError(f"bernoulli: input must be floating point (probabilities), got dtype {x.dtype}")
    if generator is not None and not isinstance(getattr(generator, "numpy", None), np.random.Generator):
        raise TypeError(f"bernoulli: generator must be a td.Generator, not {type(generator).__name__}")
    xp = backend.get_array_module(x.data)
    probs = x.data if p is None else xp.full(x.shape, p, dtype=x.dtype)
    check(((probs < 0) | (probs > 1) | xp.isnan(probs)).any(), lambda: ValueError(
        "bernoulli: the probabilities must be in [0, 1]"))
    u = _uniform(x.shape, x.data, generator)
    return Tensor((u < probs).astype(x.dtype))
