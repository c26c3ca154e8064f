"""Shared Hypothesis strategies for tinydl's tests.

Gradient checks compare an analytic gradient with central differences
``(f(x + eps) - f(x - eps)) / (2 eps)``.  That comparison is only meaningful
where ``f`` is smooth in a ball of radius ``eps`` around ``x``, so the
strategies here draw inputs that stay clear of every kink:

* ``distinct_arrays`` for relu, abs, clamp, max/min, maximum/minimum, l1, ...:
  no value is near 0 and no two values are near each other (no ties);
* ``positive_arrays`` for log, sqrt and the base of pow;
* ``probabilities`` for binary cross-entropy (far from the clamped logs at 0, 1);
* ``smooth_arrays`` for everything that is smooth everywhere (exp, tanh, softmax, ...).

Shapes are small (at most 4 dims, each side 1..4, and a cap on the number of
elements) because gradcheck evaluates the function twice per input element.
Everything is float64: finite differences are meaningless in float32.
"""
import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

MAX_NUMEL = 48  # elements per gradchecked tensor: keeps each example to a few hundred evaluations
REDUCTIONS = ("mean", "sum", "none")

reductions = st.sampled_from(REDUCTIONS)  # the ``reduction=`` argument every loss takes


# ---- shapes ---------------------------------------------------------------
@st.composite
def shapes(draw, min_dims=0, max_dims=4, min_side=1, max_side=4, max_numel=MAX_NUMEL):
    """A shape with ``min_dims..max_dims`` dims, sides ``min_side..max_side``,
    and at most ``max_numel`` elements (each side is drawn within what is left)."""
    ndim = draw(st.integers(min_dims, max_dims))
    shape, numel = [], 1
    for _ in range(ndim):
        side = draw(st.integers(min_side, max(min_side, min(max_side, max_numel // numel))))
        shape.append(side)
        numel *= side
    return tuple(shape)


@st.composite
def broadcastable_shapes(draw, min_dims=0, max_dims=4, max_numel=MAX_NUMEL):
    """Two shapes that broadcast together, NumPy-style: each is the tail of a common
    shape (leading dims dropped) with some sides replaced by 1."""
    full = draw(shapes(min_dims=min_dims, max_dims=max_dims, max_numel=max_numel))

    def operand():
        dropped = draw(st.integers(0, len(full)))
        return tuple(1 if draw(st.booleans()) else n for n in full[dropped:])

    return operand(), operand()


@st.composite
def dims(draw, ndim, allow_tuple=True, allow_none=False):
    """A valid ``dim`` argument for a tensor with ``ndim`` >= 1 dims: an int in
    [-ndim, ndim), or (with ``allow_tuple``) a tuple of distinct dims, each
    written as positive or negative, or (with ``allow_none``) None."""
    options = [st.integers(-ndim, ndim - 1)]
    if allow_tuple:
        options.append(
            st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).flatmap(
                lambda axes: st.tuples(*(st.sampled_from([a, a - ndim]) for a in axes))
            )
        )
    if allow_none:
        options.append(st.none())
    return draw(st.one_of(*options))


@st.composite
def reshape_targets(draw, shape):
    """A shape with the same number of elements as ``shape`` (1..4 dims), where
    one side may be written as -1, as ``reshape`` accepts."""
    remaining = math.prod(shape)
    target = []
    while len(target) < 3 and draw(st.booleans()):
        side = draw(st.sampled_from([d for d in range(1, remaining + 1) if remaining % d == 0]))
        target.append(side)
        remaining //= side
    target.append(remaining)
    target = draw(st.permutations(target))
    if draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return tuple(target)


@st.composite
def matmul_shapes(draw):
    """Operand shapes for ``a @ b``: each 1-d (a vector), 2-d, or a batch of
    matrices whose batch dims broadcast against the other's."""
    n, k, m = (draw(st.integers(1, 3)) for _ in range(3))
    batch_a, batch_b = draw(broadcastable_shapes(max_dims=2, max_numel=4))
    a = (k,) if draw(st.integers(0, 4)) == 0 else batch_a + (n, k)
    b = (k,) if draw(st.integers(0, 4)) == 0 else batch_b + (k, m)
    return a, b


# ---- values ---------------------------------------------------------------
def smooth_arrays(shape, low=-2.0, high=2.0):
    """Any float64 values in [low, high]: for ops that are smooth everywhere."""
    return hnp.arrays(np.float64, shape, elements=st.floats(low, high, allow_nan=False, allow_infinity=False))


def positive_arrays(shape, low=0.5, high=2.0):
    """float64 values in [low, high] > 0: for log, sqrt, the base of pow, divisors."""
    return hnp.arrays(np.float64, shape, elements=st.floats(low, high))


def probabilities(shape, low=0.05, high=0.95):
    """float64 values in (0.05, 0.95): inputs and targets of binary cross-entropy."""
    return hnp.arrays(np.float64, shape, elements=st.floats(low, high))


@st.composite
def distinct_arrays(draw, shape, margin=0.1, scale=2.0):
    """float64 values bounded away from every kink: each |x| >= ``margin``, and no
    two values closer than min(2 * margin, scale / numel).

    Built from a permutation: the k-th smallest magnitude is
    ``margin + spacing * (k + offset)``, with a random sign, so magnitudes are
    distinct by construction (no ties for max/min, no |x| near 0 for relu/abs)
    while Hypothesis still controls their order and signs.
    """
    numel = math.prod(shape)
    spacing = scale / max(numel, 1)
    ranks = np.array(draw(st.permutations(range(numel))), dtype=np.float64)
    signs = np.array(draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=numel, max_size=numel)))
    offset = draw(st.floats(0.0, 0.5))
    return (signs * (margin + spacing * (ranks + offset))).reshape(shape)


def gaps(values):
    """Midpoints between consecutive distinct sorted ``values``, plus one point below
    and one above them all: thresholds (clamp bounds, smooth_l1's beta) that sit
    half a gap away from every value."""
    v = np.unique(np.asarray(values).reshape(-1))
    return np.concatenate([[v[0] - 0.5], (v[:-1] + v[1:]) / 2, [v[-1] + 0.5]])


# ---- class targets --------------------------------------------------------
@st.composite
def class_targets(draw, shape, num_classes, ignore_index=None):
    """int64 class indices in [0, num_classes) of ``shape``; with ``ignore_index``
    some entries are that value instead, but never all of them (so a 'mean'
    over the kept targets is defined)."""
    values = st.integers(0, num_classes - 1)
    if ignore_index is not None:
        values = st.one_of(values, st.just(ignore_index))
    target = draw(hnp.arrays(np.int64, shape, elements=values))
    if ignore_index is not None and target.size:
        kept = st.integers(0, num_classes - 1).filter(lambda c: c != ignore_index)
        target.reshape(-1)[draw(st.integers(0, target.size - 1))] = draw(kept)
    return target


# ---- indices --------------------------------------------------------------
@st.composite
def basic_indices(draw, shape):
    """A basic index for a tensor of ``shape`` (ndim >= 1): ints (negative too),
    slices with steps (negative too), and possibly a None or an Ellipsis."""
    count = draw(st.integers(1, len(shape)))
    from_the_end = count < len(shape) and draw(st.booleans())  # x[..., i, j] indexes the last dims
    index = []
    for n in shape[-count:] if from_the_end else shape[:count]:
        kind = draw(st.sampled_from(["int", "slice", "all"]))
        if kind == "int":
            index.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            bound = st.none() | st.integers(-n, n)
            index.append(slice(draw(bound), draw(bound), draw(st.sampled_from([None, 1, 2, -1, -2]))))
        else:
            index.append(slice(None))
    if draw(st.booleans()):
        index.insert(draw(st.integers(0, len(index))), None)
    if from_the_end:
        index.insert(0, Ellipsis)
    return tuple(index)


@st.composite
def integer_indices(draw, shape):
    """An integer-array index for a tensor of ``shape`` (ndim >= 1) that reads at
    least one element twice, so the gradient must accumulate: an index array
    into dim 0, or into dim 1 after a full slice, or one array per dim 0 and 1."""

    def index_array(n, length=None):
        values = st.integers(-n, n - 1)
        sizes = {"min_size": 1, "max_size": 4} if length is None else {"min_size": length, "max_size": length}
        picked = draw(st.lists(values, **sizes))
        return np.array(picked + [picked[0]], dtype=np.int64)  # repeat the first: a repeated read

    kind = draw(st.sampled_from(["dim0", "dim1", "pair"] if len(shape) >= 2 else ["dim0"]))
    if kind == "dim0":
        return index_array(shape[0])
    if kind == "dim1":
        return (slice(None), index_array(shape[1]))
    rows = index_array(shape[0])
    return (rows, index_array(shape[1], length=len(rows) - 1))


def boolean_masks(shape):
    """A boolean mask over the first k dims of ``shape`` (1 <= k <= ndim)."""
    return st.integers(1, len(shape)).flatmap(lambda k: hnp.arrays(np.bool_, shape[:k]))
