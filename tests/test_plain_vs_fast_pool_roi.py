"""The plain (reference) and fast versions of max_pool2d, max_unpool2d and roi_pool agree.

Each test computes values, indices and gradients once inside ``td.use_reference_kernels()``
and once outside it, on generated shapes, settings and values, in float64, and compares them.
Values are drawn with ties (small integers), and with NaN and -inf, where the two versions'
rules (first maximum, last NaN, never padding) are easiest to get wrong.
(roi_align has a single version, the per-box loop: nothing to compare.)
"""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinydl as td
import tinydl.functional as F
from helpers import assert_same_results, in_both_modes
from test_pool import pool_settings
from test_roi import roi_problems

RTOL, ATOL = 1e-12, 1e-12


def values(shape, special=True):
    """float64 arrays with many ties (small integers), and optionally NaN and -inf."""
    pool = [0.0, 1.0, -1.0, 2.0] + ([np.nan, -np.inf] if special else [])
    element = st.one_of(st.sampled_from(pool), st.floats(-3, 3, allow_nan=False))
    return hnp.arrays(np.float64, shape, elements=element)


def same(plain, fast):
    assert_same_results(plain, fast, rtol=RTOL, atol=ATOL)  # NaN where the other has NaN


def first_and_second_derivatives(op, x, rng_seed=0):
    """The op's outputs, the gradient of <y, v> w.r.t. x, and the gradient of <g_x, w> w.r.t. v."""
    rng = np.random.default_rng(rng_seed)
    X = td.tensor(x, requires_grad=True)
    out = op(X)
    y = out[0] if isinstance(out, tuple) else out
    rest = [o.numpy() for o in out[1:]] if isinstance(out, tuple) else []
    v = td.tensor(rng.standard_normal(y.shape), requires_grad=True)
    (gx,) = td.grad(y, X, v, create_graph=True)
    (gv,) = td.grad((gx * td.tensor(rng.standard_normal(x.shape))).sum(), v)
    return [y.detach().numpy(), *rest, gx.detach().numpy(), gv.numpy()]


@given(s=pool_settings(), data=st.data(), return_indices=st.booleans())
def test_max_pool2d_plain_and_fast_agree(s, data, return_indices):
    x = data.draw(values(s["shape"]))
    args = {k: s[k] for k in ("kernel_size", "stride", "padding", "dilation", "ceil_mode")}

    def run():
        try:
            return first_and_second_derivatives(lambda t: F.max_pool2d(t, return_indices=True, **args), x)
        except ValueError as error:  # a window of pure padding: both refuse it, with the same message
            return [str(error)]

    plain, fast = in_both_modes(run)
    if isinstance(plain[0], str):
        assert plain == fast
        return
    assert plain[1].dtype == fast[1].dtype == np.int64
    same(plain, fast)


@given(s=pool_settings(dilation=False), data=st.data())
def test_max_unpool2d_plain_and_fast_agree(s, data):
    x = data.draw(values(s["shape"], special=False))
    args = {k: s[k] for k in ("kernel_size", "stride", "padding", "dilation", "ceil_mode")}
    pooled, indices = F.max_pool2d(td.tensor(x), return_indices=True, **args)  # repeated indices where windows overlap
    size = x.shape[2:]

    def run():
        return first_and_second_derivatives(
            lambda t: F.max_unpool2d(t, indices, s["kernel_size"], s["stride"], s["padding"], output_size=size),
            pooled.numpy(),
        )

    same(*in_both_modes(run))


@given(problem=roi_problems(max_numel=120, max_outputs=40), data=st.data())
def test_roi_pool_plain_and_fast_agree(problem, data):
    shape, boxes, size, scale = problem
    x = data.draw(values(shape))
    plain, fast = in_both_modes(lambda: first_and_second_derivatives(lambda t: F.roi_pool(t, boxes, size, scale), x))
    same(plain, fast)
