"""RoI pooling and RoIAlign: agreement with torchvision, gradients, argument checks.
Tests that take the ``kernels`` fixture run on roi_pool's plain and fast versions
(roi_align has one version).

The reference values in tests/data/roi_reference.npz come from the real
torchvision.ops (float64 outputs and input gradients), written by
tests/data/make_roi_reference.py, which this suite never imports: it runs in
CI without torchvision.  Gradient checks run in float64 with gradcheck's
default tolerances.
"""
import os
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinydl as td
import tinydl.functional as F
from strategies import distinct_arrays, smooth_arrays
from tinydl import nn
from helpers import leaf, host

REFERENCE = np.load(os.path.join(os.path.dirname(__file__), "data", "roi_reference.npz"))
CASES = [str(name) for name in REFERENCE["names"]]


def run_case(name, device, boxes_as="array"):
    """tinydl's output and input gradient on reference case ``name``."""
    p = REFERENCE[f"{name}__params"]
    is_align, size, scale = bool(p[0]), (int(p[1]), int(p[2])), float(p[3])
    x = leaf(REFERENCE[f"{name}__x"], device)
    boxes = REFERENCE[f"{name}__boxes"]
    if boxes_as == "tensor":
        boxes = td.tensor(boxes, device=device)
    if is_align:
        y = F.roi_align(x, boxes, size, scale, int(p[4]), bool(p[5]))
    else:
        y = F.roi_pool(x, boxes, size, scale)
    y.backward(td.tensor(REFERENCE[f"{name}__g"], device=device))
    return host(y), x.grad.numpy()


# ---- agreement with torchvision ------------------------------------------
def test_reference_covers_every_setting():
    """The reference file holds what its docstring promises (so a regenerated file stays complete)."""
    params = np.stack([REFERENCE[f"{name}__params"] for name in CASES])
    align = params[params[:, 0] == 1]
    assert set(params[:, 3]) == {1.0, 0.5, 0.25}
    assert set(align[:, 4]) == {-1.0, 0.0, 1.0, 2.0} and set(align[:, 5]) == {0.0, 1.0}
    assert any(p[1] != p[2] for p in params) and (params[:, 0] == 0).sum() >= 10
    assert str(REFERENCE["versions"][1]).startswith("0.")  # written by a real torchvision


@pytest.mark.parametrize("name", CASES)
def test_agrees_with_torchvision(kernels, device, name):
    out, grad = run_case(name, device)
    np.testing.assert_allclose(out, REFERENCE[f"{name}__out"], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(grad, REFERENCE[f"{name}__grad"], rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", [CASES[0], next(n for n in CASES if n.startswith("align"))])
def test_boxes_as_a_tensor_or_a_per_image_list(kernels, device, name):
    """(K, 5) Tensor, (K, 5) array and torchvision's list of per-image (Ki, 4) boxes agree."""
    out, _ = run_case(name, device, boxes_as="tensor")
    np.testing.assert_allclose(out, REFERENCE[f"{name}__out"], rtol=1e-8, atol=1e-10)

    p = REFERENCE[f"{name}__params"]
    x = leaf(REFERENCE[f"{name}__x"], device)
    boxes = REFERENCE[f"{name}__boxes"]
    per_image = [td.tensor(boxes[boxes[:, 0] == i, 1:], device=device) for i in range(x.shape[0])]
    order = np.argsort(boxes[:, 0], kind="stable")  # the list form numbers boxes image by image
    fn = F.roi_align if p[0] else F.roi_pool
    y = fn(x, per_image, (int(p[1]), int(p[2])), float(p[3]))
    expected = fn(x, boxes[order], (int(p[1]), int(p[2])), float(p[3]))
    assert y.shape == expected.shape
    np.testing.assert_array_equal(host(y), host(expected))


# ---- generated boxes of every kind ----------------------------------------
BOX_KINDS = ("inside", "border", "degenerate", "partly_outside", "outside", "inverted")


@st.composite
def box_coordinates(draw, h, w):
    """[x1, y1, x2, y2] in feature-map units, of one of BOX_KINDS."""
    kind = draw(st.sampled_from(BOX_KINDS))

    def span(size):
        lo, hi = sorted(draw(st.floats(0, size - 1 if size > 1 else 1)) for _ in range(2))
        if kind == "border":  # on the first pixel, the last pixel or the far edge
            return draw(st.sampled_from([(0.0, hi), (lo, size - 1.0), (0.0, float(size))]))
        if kind == "partly_outside":
            return draw(st.floats(-3, -0.1)), draw(st.floats(0.5, size + 3))
        if kind == "outside":
            return draw(st.sampled_from([(-6.0, -2.5), (size + 1.5, size + 4.0)]))
        if kind == "inverted":
            return hi + 0.7, lo
        return lo, hi

    (x1, x2), (y1, y2) = span(w), span(h)
    if kind == "degenerate":
        if draw(st.booleans()):
            x2 = x1
        else:
            y2 = y1
    return [x1, y1, x2, y2]


@st.composite
def roi_problems(draw, max_numel=40, max_outputs=24):
    """(input shape, boxes (K, 5) in image coordinates, output_size, spatial_scale)."""
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    h = draw(st.integers(1, 6))
    w = draw(st.integers(1, max(1, min(6, max_numel // (n * c * h)))))
    scale = draw(st.sampled_from([1.0, 0.5, 0.25]))
    k = draw(st.integers(1, 3))
    oh = draw(st.integers(1, 3))
    ow = draw(st.integers(1, max(1, min(3, max_outputs // (k * c * oh)))))
    boxes = [[draw(st.integers(0, n - 1))] + [v / scale for v in draw(box_coordinates(h, w))] for _ in range(k)]
    return (n, c, h, w), np.array(boxes, dtype=np.float64), (oh, ow), scale


@given(problem=roi_problems(), data=st.data())
def test_roi_pool_gradients(kernels, device, problem, data):
    shape, boxes, size, scale = problem
    x = leaf(data.draw(distinct_arrays(shape)), device)  # no ties: the arg-max is stable under +-eps
    y = F.roi_pool(x, boxes, size, scale)
    assert y.shape == (len(boxes), shape[1]) + size
    assert td.gradcheck(lambda x: F.roi_pool(x, boxes, size, scale), (x,))
    assert td.gradgradcheck(lambda x: F.roi_pool(x, boxes, size, scale), (x,))


@given(
    problem=roi_problems(),
    sampling_ratio=st.sampled_from([-1, 0, 1, 2, 3]),
    aligned=st.booleans(),
    data=st.data(),
)
def test_roi_align_gradients(device, problem, sampling_ratio, aligned, data):
    shape, boxes, size, scale = problem
    x = leaf(data.draw(smooth_arrays(shape)), device)

    def fn(x):
        return F.roi_align(x, boxes, size, scale, sampling_ratio, aligned)

    assert fn(x).shape == (len(boxes), shape[1]) + size
    assert td.gradcheck(fn, (x,))
    assert td.gradgradcheck(fn, (x,))


# ---- what the gradient does -----------------------------------------------
def test_overlapping_boxes_accumulate_gradients(kernels, device):
    x = leaf(np.arange(16.0).reshape(1, 1, 4, 4), device)
    boxes = np.array([[0, 0, 0, 3, 3], [0, 0, 0, 3, 3], [0, 2, 2, 3, 3]], dtype=np.float64)
    F.roi_pool(x, boxes, 1).sum().backward()
    expected = np.zeros((1, 1, 4, 4))
    expected[0, 0, 3, 3] = 3  # the maximum, 15, wins all three boxes
    np.testing.assert_array_equal(x.grad.numpy(), expected)

    x.grad = None
    F.roi_align(x, boxes[:2], 1, sampling_ratio=1).sum().backward()  # one sample at (1.5, 1.5), twice
    expected = np.zeros((1, 1, 4, 4))
    expected[0, 0, 1:3, 1:3] = 2 * 0.25
    np.testing.assert_allclose(x.grad.numpy(), expected)


def test_no_gradient_reaches_the_boxes(kernels, device):
    x = leaf(np.random.default_rng(0).standard_normal((1, 2, 5, 5)), device)
    boxes = leaf([[0, 0.5, 0.5, 3.5, 4.0]], device)
    for y in (F.roi_pool(x, boxes, 2), F.roi_align(x, boxes, 2, aligned=True)):
        y.sum().backward()
    assert x.grad is not None and boxes.grad is None


def test_roi_pool_double_backward_is_the_gather(kernels, device):
    """d(gx)/d(gy) puts gy2's values back at the arg-max positions: the transpose of the scatter."""
    x = leaf(np.random.default_rng(1).permutation(25).astype(np.float64).reshape(1, 1, 5, 5), device)
    boxes = np.array([[0, 0, 0, 4, 4], [0, 1, 1, 2, 3]])
    y = F.roi_pool(x, boxes.astype(np.float64), (2, 2))
    gy = leaf(np.ones(y.shape), device)
    (gx,) = td.grad(y, x, gy, create_graph=True)
    gx2 = td.tensor(np.random.default_rng(2).standard_normal(x.shape), device=device)
    (ggy,) = td.grad((gx * gx2).sum(), gy)
    flat = x.detach().numpy().reshape(-1)
    winners = [int(np.nonzero(flat == v)[0][0]) for v in host(y).reshape(-1)]
    np.testing.assert_allclose(host(ggy).reshape(-1), gx2.numpy().reshape(-1)[winners])


def test_no_boxes_and_empty_bins(kernels, device):
    x = leaf(np.ones((2, 3, 4, 4)), device)
    for fn in (F.roi_pool, F.roi_align):
        y = fn(x, np.zeros((0, 5)), (2, 3))
        assert y.shape == (0, 3, 2, 3)
        y = fn(x, [td.zeros(0, 4, device=device), td.zeros(0, 4, device=device)], 2)
        assert y.shape == (0, 3, 2, 2)
    outside = np.array([[1, 10.0, 10.0, 12.0, 12.0]])
    np.testing.assert_array_equal(host(F.roi_pool(x, outside, 2)), 0)
    np.testing.assert_array_equal(host(F.roi_align(x, outside, 2)), 0)


def test_float32_stays_float32(kernels, device):
    x = td.tensor(np.random.default_rng(3).standard_normal((1, 2, 6, 6)).astype(np.float32), device=device)
    boxes = np.array([[0, 0.3, 1.2, 4.7, 5.1]])  # float64 boxes are read in the input's dtype
    for fn in (F.roi_pool, F.roi_align):
        assert fn(x, boxes, 3).dtype == td.float32
        np.testing.assert_allclose(host(fn(x, boxes, 3)), host(fn(x.double(), boxes, 3)), rtol=1e-5, atol=1e-6)


def test_modules_call_the_functions(device):
    x = leaf(np.random.default_rng(4).standard_normal((2, 2, 8, 8)), device)
    boxes = td.tensor([[0, 1.0, 2.0, 13.0, 11.0], [1, 4.0, 0.0, 9.0, 15.0]], dtype=td.float64, device=device)
    pool, align = nn.RoIPool((3, 2), 0.5), nn.RoIAlign(3, 0.5, 2, aligned=True)
    np.testing.assert_array_equal(host(pool(x, boxes)), host(F.roi_pool(x, boxes, (3, 2), 0.5)))
    np.testing.assert_array_equal(host(align(x, boxes)), host(F.roi_align(x, boxes, 3, 0.5, 2, True)))
    assert repr(pool) == "RoIPool(output_size=(3, 2), spatial_scale=0.5)"
    assert repr(align) == "RoIAlign(output_size=3, spatial_scale=0.5, sampling_ratio=2, aligned=True)"
    assert list(align.parameters()) == []


# ---- malformed arguments ---------------------------------------------------
def shapes_in(*shapes):
    return ".*".join(re.escape(str(tuple(s))) for s in shapes)


@pytest.mark.parametrize("op", ["roi_pool", "roi_align"])
def test_malformed_boxes_are_refused(device, op):
    fn = getattr(F, op)
    x = leaf(np.zeros((2, 3, 5, 5)), device)
    for bad in (np.zeros((3, 4)), np.zeros((3, 6)), np.zeros(5), np.zeros((1, 2, 5))):
        with pytest.raises(ValueError, match=op + r": boxes.*\(K, 5\).*" + shapes_in(bad.shape, x.shape)):
            fn(x, td.tensor(bad, device=device), 2)
    with pytest.raises(ValueError, match=op + r".*\(Ki, 4\).*entry 1.*" + shapes_in((2, 5))):
        fn(x, [np.zeros((1, 4)), np.zeros((2, 5))], 2)
    with pytest.raises(ValueError, match=op + r".*batch indices in \[0, 2\).*" + shapes_in(x.shape) + ".*box 1 has 2"):
        fn(x, np.array([[0, 1, 1, 2, 2], [2, 1, 1, 2, 2]], dtype=np.float64), 2)
    with pytest.raises(ValueError, match=op + r".*batch indices.*box 0 has 0.5"):
        fn(x, np.array([[0.5, 1, 1, 2, 2]]), 2)
    with pytest.raises(ValueError, match=op + r".*batch indices.*box 0 has -1"):
        fn(x, np.array([[-1.0, 1, 1, 2, 2]]), 2)
    with pytest.raises(ValueError, match=op + r".*boxes of shape \(1, 5\).*NaN"):
        fn(x, np.array([[0, 1, np.nan, 2, 2]]), 2)
    with pytest.raises(TypeError, match=op + r": boxes must be floating point, got int64"):
        fn(x, np.array([[0, 1, 1, 2, 2]]), 2)


@pytest.mark.parametrize("op", ["roi_pool", "roi_align"])
def test_malformed_arguments_are_refused(device, op):
    fn = getattr(F, op)
    boxes = np.array([[0, 1.0, 1.0, 3.0, 3.0]])
    with pytest.raises(ValueError, match=op + r": input must be 4-d.*" + shapes_in((3, 5, 5))):
        fn(leaf(np.zeros((3, 5, 5)), device), boxes, 2)
    x = leaf(np.zeros((1, 3, 5, 5)), device)
    for size in (0, (2, 0), (2,), 2.5, (2, 3, 4), True):
        with pytest.raises(ValueError, match=op + r": output_size must be a positive int"):
            fn(x, boxes, size)
    for scale in (0, -0.5, float("nan")):
        with pytest.raises(ValueError, match=op + r": spatial_scale must be a positive number"):
            fn(x, boxes, 2, scale)
    if op == "roi_align":
        with pytest.raises(TypeError, match=r"roi_align: sampling_ratio must be an int"):
            F.roi_align(x, boxes, 2, 1.0, 1.5)
        with pytest.raises(TypeError, match=r"roi_align: aligned must be True or False"):
            F.roi_align(x, boxes, 2, 1.0, 2, "yes")
