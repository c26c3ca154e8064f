"""tinydl.vision's bookkeeping for two-stage detectors: anchors, box coding, batched IoU, matching, sampling.

The docstrings of anchors.py, box_coding.py, boxes.py (batched_box_iou) and
sampling.py are the spec.  Hand cases pin the conventions (anchor order,
thresholds, keep_best's ties); Hypothesis properties check the round trips of
the box coding and compare match_by_iou with a plain-loop transcription of
torchvision's Matcher; sample_balanced is checked by its counts on random
inputs and, with fixed seeds (so nothing can flake), by its randomness.
"""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinydl as td
from tinydl import backend
from tinydl.vision import (
    IGNORED, NEGATIVE, anchor_shapes, batched_box_iou, box_iou, clip_boxes, decode_boxes, encode_boxes, grid_anchors,
    match_by_iou, sample_balanced,
)
from tinydl.vision.box_coding import MAX_LOG_SCALE

TOL = dict(rtol=1e-9, atol=1e-9)  # float64 round trips of coordinates of at most a few hundred


# ---- strategies ---------------------------------------------------------------------------
@st.composite
def positive_boxes(draw, shape):
    """float64 boxes of ``shape + (4,)`` with widths and heights in [1, 50] (so that two of them differ in
    scale by less than the cap of decode_boxes, exp(MAX_LOG_SCALE) = 62.5), corners in [-50, 50]."""
    n = int(np.prod(shape))
    corner, side = st.floats(-50, 50), st.floats(1, 50)
    rows = [[x, y, x + w, y + h] for x, y, w, h in (draw(st.tuples(corner, corner, side, side)) for _ in range(n))]
    return np.array(rows, dtype=np.float64).reshape(*shape, 4)


small_shapes = st.lists(st.integers(1, 3), min_size=1, max_size=2).map(tuple)
weights = st.sampled_from([(1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0)]) | st.tuples(*[st.floats(0.5, 20)] * 4)
sizes = st.lists(st.sampled_from([16, 32, 64]) | st.floats(1, 512), min_size=1, max_size=3)
ratios = st.lists(st.sampled_from([0.5, 1.0, 2.0]) | st.floats(0.1, 10), min_size=1, max_size=3)


def on(device, array):
    """``array`` as a NumPy array on "cpu" or a CuPy (stand-in) array on "cuda"."""
    return backend.to_device(np.asarray(array), device)


# ---- anchors ------------------------------------------------------------------------------
def test_anchor_shapes_hand_case():
    got = anchor_shapes([32], [0.5, 1.0, 2.0])
    w, h = 32 / math.sqrt(0.5), 32 * math.sqrt(0.5)  # ratio h / w = 0.5: wide
    expected = [[-w / 2, -h / 2, w / 2, h / 2], [-16, -16, 16, 16], [-h / 2, -w / 2, h / 2, w / 2]]
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert got.dtype == np.float64


@given(sizes, ratios)
def test_anchor_shapes_have_area_size_squared_ratio_h_over_w_and_the_documented_order(sizes, ratios):
    shapes = anchor_shapes(sizes, ratios)
    assert shapes.shape == (len(sizes) * len(ratios), 4)
    w, h = shapes[:, 2] - shapes[:, 0], shapes[:, 3] - shapes[:, 1]
    size = np.repeat(sizes, len(ratios))  # row s * len(ratios) + r: size s, ratio r
    ratio = np.tile(ratios, len(sizes))
    np.testing.assert_allclose(w * h, size**2, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h / w, ratio, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(shapes[:, :2] + shapes[:, 2:], 0, atol=1e-12)  # centred on (0, 0)


def reference_grid_anchors(H, W, stride, sizes, ratios):
    """The docstring's rows, with plain loops: row (i * W + j) * A + a is anchor a of cell (i, j)."""
    rows = []
    for i in range(H):
        for j in range(W):
            cx, cy = (j + 0.5) * stride, (i + 0.5) * stride
            for size in sizes:
                for ratio in ratios:
                    w, h = size / math.sqrt(ratio), size * math.sqrt(ratio)
                    rows.append([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    return np.array(rows)


@given(st.integers(1, 4), st.integers(1, 4), st.sampled_from([4, 8, 16]) | st.floats(0.5, 32), sizes, ratios)
def test_grid_anchors_match_the_plain_loops(H, W, stride, sizes, ratios):
    got = grid_anchors((H, W), stride, sizes, ratios)
    assert got.shape == (H * W * len(sizes) * len(ratios), 4) and got.dtype == np.float64
    np.testing.assert_allclose(got, reference_grid_anchors(H, W, stride, sizes, ratios), rtol=1e-12, atol=1e-9)


def test_grid_anchors_non_square_map_cell_centres_and_row_order():
    H, W, A, stride = 2, 3, 2, 8
    anchors = grid_anchors((H, W), stride, [4], [1.0, 4.0])
    assert anchors.shape == (H * W * A, 4)
    centres = (anchors[:, :2] + anchors[:, 2:]) / 2
    for i in range(H):
        for j in range(W):
            for a in range(A):
                np.testing.assert_allclose(centres[(i * W + j) * A + a], [(j + 0.5) * stride, (i + 0.5) * stride],
                                           rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(anchors[(1 * W + 2) * A + 1], [20 - 1, 12 - 4, 20 + 1, 12 + 4],  # w 2, h 8
                               rtol=1e-12, atol=1e-12)


def test_the_docstring_reshape_reads_a_head_output_in_anchor_order():
    N, A, k, H, W = 2, 3, 4, 2, 5
    n, a, c, i, j = np.meshgrid(*map(np.arange, (N, A, k, H, W)), indexing="ij")
    head = (((n * A + a) * k + c) * H + i) * W + j  # (N, A, k, H, W): each entry says where it came from
    rows = head.reshape(N, A * k, H, W).reshape(N, A, k, H, W).transpose(0, 3, 4, 1, 2).reshape(N, H * W * A, k)
    for i_, j_, a_ in [(0, 0, 0), (1, 4, 2), (1, 2, 1)]:
        np.testing.assert_array_equal(rows[1, (i_ * W + j_) * A + a_], head[1, a_, :, i_, j_])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: anchor_shapes([], [1.0]), "anchor_shapes: sizes"),
        (lambda: anchor_shapes([32, -1], [1.0]), "anchor_shapes: sizes"),
        (lambda: anchor_shapes([32], [0.0]), "anchor_shapes: aspect_ratios"),
        (lambda: anchor_shapes([math.nan], [1.0]), "anchor_shapes: sizes"),
        (lambda: anchor_shapes([True], [1.0]), "anchor_shapes: sizes"),
        (lambda: grid_anchors((0, 3), 8, [32], [1.0]), r"grid_anchors: feature_size .*\(0, 3\)"),
        (lambda: grid_anchors((2,), 8, [32], [1.0]), "grid_anchors: feature_size"),
        (lambda: grid_anchors((2, 2.5), 8, [32], [1.0]), "grid_anchors: feature_size"),
        (lambda: grid_anchors((2, 2), 0, [32], [1.0]), "grid_anchors: stride"),
    ],
)
def test_anchor_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---- box coding ---------------------------------------------------------------------------
@given(st.data(), small_shapes, weights)
def test_decode_undoes_encode(data, shape, weights):
    boxes, reference = data.draw(positive_boxes(shape)), data.draw(positive_boxes(shape))
    deltas = encode_boxes(boxes, reference, weights)
    assert deltas.shape == shape + (4,) and deltas.dtype == np.float64
    np.testing.assert_allclose(decode_boxes(deltas, reference, weights), boxes, **TOL)


@given(st.data(), small_shapes, weights)
def test_encode_undoes_decode(data, shape, weights):
    reference = data.draw(positive_boxes(shape))
    unweighted = np.array(data.draw(st.lists(st.floats(-3, 3), min_size=4 * math.prod(shape),
                                             max_size=4 * math.prod(shape)))).reshape(*shape, 4)
    deltas = unweighted * np.array(weights)  # |tw|, |th| <= 3 after the weights: far below the cap
    np.testing.assert_allclose(encode_boxes(decode_boxes(deltas, reference, weights), reference, weights),
                               deltas, rtol=1e-8, atol=1e-8 * max(weights))


@given(st.data(), small_shapes, weights)
def test_weights_multiply_the_targets(data, shape, weights):
    boxes, reference = data.draw(positive_boxes(shape)), data.draw(positive_boxes(shape))
    unweighted = encode_boxes(boxes, reference)
    np.testing.assert_allclose(encode_boxes(boxes, reference, weights), unweighted * np.array(weights),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(decode_boxes(unweighted * np.array(weights), reference, weights),
                               decode_boxes(unweighted, reference), **TOL)


def test_encode_hand_case():
    reference = np.array([[0.0, 0, 10, 20]])  # centre (5, 10), size 10 x 20
    box = np.array([[5.0, 10, 25, 30]])  # centre (15, 20), size 20 x 20
    np.testing.assert_allclose(encode_boxes(box, reference), [[1.0, 0.5, math.log(2), 0.0]], atol=1e-12)
    np.testing.assert_allclose(encode_boxes(box, reference, (10, 10, 5, 5)), [[10.0, 5, 5 * math.log(2), 0]],
                               atol=1e-12)


@given(positive_boxes((3,)), weights)
def test_zero_deltas_decode_to_the_reference_and_a_box_encodes_to_zero_against_itself(reference, weights):
    np.testing.assert_allclose(decode_boxes(np.zeros((3, 4)), reference, weights), reference, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(encode_boxes(reference, reference, weights), 0, atol=1e-12)


def test_encode_and_decode_broadcast_one_reference_set_over_images():
    reference = np.array([[0.0, 0, 4, 4], [10, 10, 12, 16]])  # (K, 4)
    boxes = np.stack([reference + 1, reference * 2])  # (N=2, K, 4)
    deltas = encode_boxes(boxes, reference)
    assert deltas.shape == (2, 2, 4)
    np.testing.assert_allclose(deltas[1], encode_boxes(boxes[1], reference), atol=1e-12)
    np.testing.assert_allclose(decode_boxes(deltas, reference), boxes, **TOL)


@pytest.mark.parametrize("huge", [50.0, 1e6, 1e300, math.inf])
def test_decode_caps_the_log_scale_so_huge_deltas_give_finite_boxes(huge):
    reference = np.array([[0.0, 0, 16, 8]])  # centre (8, 4), 16 x 8
    got = decode_boxes(np.array([[0.0, 0, huge, huge]]), reference)
    assert np.isfinite(got).all()
    cap = math.exp(MAX_LOG_SCALE)  # 1000 / 16 = 62.5
    np.testing.assert_allclose(got, [[8 - 8 * cap, 4 - 4 * cap, 8 + 8 * cap, 4 + 4 * cap]], rtol=1e-12, atol=1e-9)


def test_the_cap_applies_to_the_unweighted_log_scale():
    """tw / ww is capped, not tw: with ww = 5, tw = 5 * (cap - 0.1) is just below the cap."""
    assert MAX_LOG_SCALE == pytest.approx(math.log(1000 / 16), abs=1e-15)
    reference = np.array([[0.0, 0, 2, 2]])
    got = decode_boxes(np.array([[0.0, 0, 5 * (MAX_LOG_SCALE - 0.1), 5 * (MAX_LOG_SCALE + 1)]]), reference,
                       (10, 10, 5, 5))
    w, h = got[0, 2] - got[0, 0], got[0, 3] - got[0, 1]
    assert w == pytest.approx(2 * math.exp(MAX_LOG_SCALE - 0.1), rel=1e-12)
    assert h == pytest.approx(2 * math.exp(MAX_LOG_SCALE), rel=1e-12)


def test_box_coding_runs_on_the_device(device):
    boxes, reference = np.array([[1.0, 2, 5, 9], [0, 0, 3, 3]]), np.array([[0.0, 0, 4, 4], [1, 1, 2, 5]])
    deltas = encode_boxes(on(device, boxes), on(device, reference), (10, 10, 5, 5))
    assert backend.device_of(deltas) == device
    np.testing.assert_allclose(backend.to_numpy(deltas), encode_boxes(boxes, reference, (10, 10, 5, 5)),
                               rtol=1e-12, atol=1e-12)
    decoded = decode_boxes(deltas, on(device, reference), (10, 10, 5, 5))
    assert backend.device_of(decoded) == device
    np.testing.assert_allclose(backend.to_numpy(decoded), boxes, **TOL)
    clipped = clip_boxes(on(device, boxes), (4, 3))
    assert backend.device_of(clipped) == device
    np.testing.assert_array_equal(backend.to_numpy(clipped), [[1, 2, 3, 4], [0, 0, 3, 3]])


def test_box_coding_errors_name_the_function():
    with pytest.raises(ValueError, match=r"encode_boxes: .*\(2, 3\)"):
        encode_boxes(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"decode_boxes: .*\(2, 5\)"):
        decode_boxes(np.zeros((2, 4)), np.zeros((2, 5)))


def test_clip_boxes_non_square_image_is_height_then_width():
    boxes = np.array([[-5.0, -5, 60, 40], [10, 5, 20, 25], [45, 28, 70, 90]])
    np.testing.assert_array_equal(clip_boxes(boxes, (30, 50)), [[0, 0, 50, 30], [10, 5, 20, 25], [45, 28, 50, 30]])
    np.testing.assert_array_equal(clip_boxes(boxes, 32), [[0, 0, 32, 32], [10, 5, 20, 25], [32, 28, 32, 32]])


@given(st.data(), st.integers(1, 100), st.integers(1, 100), small_shapes)
def test_clip_boxes_stay_inside_the_image_and_keep_what_is_inside(data, H, W, shape):
    n = 4 * math.prod(shape)
    boxes = np.array(data.draw(st.lists(st.floats(-200, 200), min_size=n, max_size=n))).reshape(*shape, 4)
    clipped = clip_boxes(boxes, (H, W))
    assert clipped.shape == boxes.shape
    limit = np.array([W, H, W, H])
    assert ((clipped >= 0) & (clipped <= limit)).all()
    inside = (boxes >= 0) & (boxes <= limit)
    np.testing.assert_array_equal(clipped[inside], boxes[inside])
    outside_value = np.where(boxes < 0, 0, np.broadcast_to(limit, boxes.shape))  # the edge it crossed
    np.testing.assert_array_equal(clipped[~inside], outside_value[~inside])


# ---- batched_box_iou ----------------------------------------------------------------------
@st.composite
def lattice_batches(draw, B, max_boxes=5):
    """(B, n, 4) float64 boxes on a small integer lattice (ties, touching and empty boxes)."""
    n = draw(st.integers(0, max_boxes))
    corner = draw(st.lists(st.integers(-4, 4), min_size=2 * B * n, max_size=2 * B * n))
    side = draw(st.lists(st.integers(0, 4), min_size=2 * B * n, max_size=2 * B * n))
    corner, side = (np.array(v, dtype=np.float64).reshape(B, n, 2) for v in (corner, side))
    return np.concatenate([corner, corner + side], axis=-1)


@given(st.integers(0, 3), st.data())
def test_batched_box_iou_is_box_iou_per_image(B, data):
    a, b = data.draw(lattice_batches(B)), data.draw(lattice_batches(B))
    got = batched_box_iou(a, b)
    assert got.shape == (B, a.shape[1], b.shape[1])
    for image in range(B):
        np.testing.assert_allclose(got[image], box_iou(a[image], b[image]), rtol=1e-12, atol=1e-12)


def test_batched_box_iou_shapes_dtypes_and_tensors(device):
    a = np.array([[[0, 0, 2, 2], [0, 0, 4, 4]], [[1, 1, 2, 2], [5, 5, 6, 6]]])  # (2, 2, 4) int64
    b = np.array([[[1, 0, 3, 2]], [[1, 1, 2, 2]]])  # (2, 1, 4)
    expected = [[[1 / 3], [4 / 16]], [[1.0], [0.0]]]
    got = batched_box_iou(a, b)  # integer boxes, as box_iou takes them
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    got = batched_box_iou(td.tensor(a.astype(np.float64), device=device), on(device, b.astype(np.float32)))
    assert isinstance(got, np.ndarray)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    assert batched_box_iou(np.zeros((2, 0, 4)), np.ones((2, 3, 4))).shape == (2, 0, 3)
    assert batched_box_iou(np.zeros((2, 3, 4)), np.ones((2, 0, 4))).shape == (2, 3, 0)
    assert batched_box_iou(np.zeros((0, 3, 4)), np.ones((0, 2, 4))).shape == (0, 3, 2)


@pytest.mark.parametrize("a, b", [((2, 3, 4), (3, 1, 4)), ((3, 4), (3, 4)), ((2, 3, 4), (2, 1, 5))])
def test_batched_box_iou_errors(a, b):
    with pytest.raises(ValueError, match=r"batched_box_iou: .*\(B, N, 4\)"):
        batched_box_iou(np.zeros(a), np.zeros(b))


# ---- match_by_iou -------------------------------------------------------------------------
def reference_match(iou, valid, high, low, keep_best):
    """torchvision's Matcher (allow_low_quality_matches = keep_best) with plain loops, per image."""
    N, K, M = iou.shape
    matched = np.full((N, K), NEGATIVE)
    for n in range(N):
        real = [m for m in range(M) if valid[n, m]]
        best_truth = {}
        for k in range(K):
            if not real:
                continue
            best = max(iou[n, k, m] for m in real)
            best_truth[k] = next(m for m in real if iou[n, k, m] == best)  # the first of equal IoUs
            matched[n, k] = best_truth[k] if best >= high else NEGATIVE if best < low else IGNORED
        if keep_best:
            for m in real:
                best = max((iou[n, k, m] for k in range(K)), default=0.0)
                for k in range(K):
                    if best > 0 and iou[n, k, m] == best:
                        matched[n, k] = best_truth[k]
    return matched


@given(st.data(), st.integers(0, 3), st.integers(0, 6), st.integers(0, 4), st.booleans())
def test_match_by_iou_matches_the_plain_reference(data, N, K, M, keep_best):
    values = st.sampled_from([0.0, 0.3, 0.5, 0.7, 1.0]) | st.floats(0, 1)  # ties and exact thresholds are common
    iou = np.array(data.draw(st.lists(values, min_size=N * K * M, max_size=N * K * M))).reshape(N, K, M)
    valid = np.array(data.draw(st.lists(st.booleans(), min_size=N * M, max_size=N * M)), dtype=bool).reshape(N, M)
    low = data.draw(st.sampled_from([0.0, 0.3, 0.5]) | st.floats(0, 1))
    high = data.draw(st.sampled_from([low, 0.5, 0.7, 1.0]).filter(lambda h: h >= low) | st.floats(low, 1))
    got = match_by_iou(iou, valid, high, low, keep_best)
    assert got.shape == (N, K) and got.dtype == np.int64
    np.testing.assert_array_equal(got, reference_match(iou, valid, high, low, keep_best))
    positive = got >= 0
    assert valid[np.nonzero(positive)[0], got[positive]].all()  # padding is never matched


def test_match_by_iou_thresholds_hand_case():
    iou = np.array([[[0.7, 0.1], [0.2, 0.69], [0.29, 0.0], [0.3, 0.1], [0.5, 0.8], [0.9, 0.9]]])
    got = match_by_iou(iou, np.ones((1, 2), dtype=bool), high=0.7, low=0.3)
    # >= high: the argmax truth (the first of equal ones); < low: negative; [low, high): ignored
    np.testing.assert_array_equal(got, [[0, IGNORED, NEGATIVE, IGNORED, 1, 0]])


def test_match_by_iou_never_matches_padding():
    iou = np.array([[[0.2, 0.95], [0.8, 0.9]], [[0.9, 0.2], [0.0, 0.5]]])  # truth 1 is padding in image 0
    valid = np.array([[True, False], [True, True]])
    for keep_best in (False, True):
        got = match_by_iou(iou, valid, 0.7, 0.3, keep_best)
        np.testing.assert_array_equal(got[0], [NEGATIVE, 0])
        np.testing.assert_array_equal(got[1], [0, 1 if keep_best else IGNORED])


def test_an_image_without_real_truths_has_only_negatives():
    iou = np.full((2, 4, 3), 0.9)  # padding slots holding garbage IoUs
    valid = np.array([[False, False, False], [True, False, False]])
    for keep_best in (False, True):
        got = match_by_iou(iou, valid, 0.7, 0.3, keep_best)
        np.testing.assert_array_equal(got[0], NEGATIVE)
        np.testing.assert_array_equal(got[1], 0)
    np.testing.assert_array_equal(match_by_iou(np.zeros((2, 4, 0)), np.zeros((2, 0), bool), 0.7, 0.3, True),
                                  NEGATIVE)


def test_keep_best_makes_each_truths_best_candidates_positive():
    iou = np.array([[
        [0.4, 0.0, 0.0],  # truth 0's best (0.4 < high), tied with candidate 1
        [0.4, 0.0, 0.0],
        [0.1, 0.0, 0.0],
        [0.35, 0.6, 0.0],  # truth 1's best (0.6 < high)
        [0.38, 0.5, 0.0],  # the best candidate of no truth: stays ignored
        [0.0, 0.0, 0.0],  # truth 2 overlaps nothing: no candidate is kept for it
    ]])
    valid = np.ones((1, 3), dtype=bool)
    np.testing.assert_array_equal(match_by_iou(iou, valid, 0.7, 0.3),
                                  [[IGNORED, IGNORED, NEGATIVE, IGNORED, IGNORED, NEGATIVE]])
    np.testing.assert_array_equal(match_by_iou(iou, valid, 0.7, 0.3, keep_best=True),
                                  [[0, 0, NEGATIVE, 1, IGNORED, NEGATIVE]])


def test_keep_best_candidate_is_matched_to_its_own_best_truth():
    iou = np.array([[[0.9, 0.0], [0.5, 0.4], [0.0, 0.1]]])  # candidate 1 is truth 1's best, but overlaps truth 0 more
    got = match_by_iou(iou, np.ones((1, 2), dtype=bool), 0.7, 0.3, keep_best=True)
    np.testing.assert_array_equal(got, [[0, 0, NEGATIVE]])  # as torchvision's Matcher


@pytest.mark.parametrize("shape", [(2, 0, 3), (2, 3, 0), (0, 3, 2), (2, 0, 0)])
@pytest.mark.parametrize("keep_best", [False, True])
def test_match_by_iou_with_no_candidates_truths_or_images(shape, keep_best):
    got = match_by_iou(np.zeros(shape), np.ones((shape[0], shape[2]), dtype=bool), 0.7, 0.3, keep_best)
    assert got.shape == shape[:2] and got.dtype == np.int64
    np.testing.assert_array_equal(got, NEGATIVE)


@pytest.mark.parametrize(
    "iou, valid, high, low",
    [
        (np.zeros((1, 2, 3)), np.ones((1, 3), bool), 0.3, 0.7),  # low > high
        (np.zeros((1, 2, 3)), np.ones((1, 3), bool), 0.7, -0.1),
        (np.zeros((1, 2, 3)), np.ones((1, 3), bool), 1.5, 0.3),
        (np.zeros((1, 2, 3)), np.ones((1, 3), bool), math.nan, 0.3),
        (np.zeros((2, 3)), np.ones((1, 3), bool), 0.7, 0.3),
        (np.zeros((1, 2, 3)), np.ones((1, 2), bool), 0.7, 0.3),
        (np.zeros((1, 2, 3)), np.ones((2, 3), bool), 0.7, 0.3),
    ],
)
def test_match_by_iou_errors(iou, valid, high, low):
    with pytest.raises(ValueError, match="match_by_iou: "):
        match_by_iou(iou, valid, high, low)


# ---- sample_balanced ----------------------------------------------------------------------
@given(st.data(), st.integers(0, 3), st.integers(0, 30), st.integers(1, 20),
       st.sampled_from([0.0, 0.25, 0.5, 1.0]) | st.floats(0, 1), st.integers(0, 2**32 - 1))
def test_sample_balanced_counts(data, N, K, num_samples, fraction, seed):
    labels = st.sampled_from([NEGATIVE, IGNORED, 0, 1, 2])
    matched = np.array(data.draw(st.lists(labels, min_size=N * K, max_size=N * K)), dtype=np.int64).reshape(N, K)
    positive, negative = sample_balanced(matched, num_samples, fraction, np.random.default_rng(seed))
    assert positive.shape == negative.shape == (N, K) and positive.dtype == negative.dtype == bool
    assert not (positive & negative).any()
    assert (matched[positive] >= 0).all() and (matched[negative] == NEGATIVE).all()  # never an IGNORED one
    num_pos = np.minimum((matched >= 0).sum(1), int(num_samples * fraction))  # all positives when there are few
    np.testing.assert_array_equal(positive.sum(1), num_pos)
    np.testing.assert_array_equal(negative.sum(1), np.minimum((matched == NEGATIVE).sum(1), num_samples - num_pos))
    assert (positive.sum(1) + negative.sum(1) <= num_samples).all()


def test_sample_balanced_fills_with_negatives_when_positives_are_few():
    matched = np.array([[0, NEGATIVE, IGNORED, NEGATIVE, NEGATIVE, 1, NEGATIVE, IGNORED]])
    positive, negative = sample_balanced(matched, 5, 0.5, np.random.default_rng(0))
    np.testing.assert_array_equal(positive, matched >= 0)  # both positives (2 <= int(5 * 0.5))
    assert negative.sum() == 3 and (matched[negative] == NEGATIVE).all()


def test_sample_balanced_same_seed_same_sample_other_seed_another():
    matched = np.where(np.arange(1000) % 10 == 0, 0, NEGATIVE)[None].repeat(2, axis=0)  # 100 pos, 900 neg per image
    first = sample_balanced(matched, 256, 0.25, np.random.default_rng(7))
    again = sample_balanced(matched, 256, 0.25, np.random.default_rng(7))
    other = sample_balanced(matched, 256, 0.25, np.random.default_rng(8))
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    # fixed seeds: deterministic; for random seeds equal samples would have chance 1 / C(100, 64) / C(900, 192)
    assert (first[0] != other[0]).any() and (first[1] != other[1]).any()
    assert (first[0][0] != first[0][1]).any()  # two images do not share one draw


def test_sample_balanced_picks_uniformly():
    """Over 4000 images with the same labels, each positive (negative) is taken about equally often.

    10 positives, 4 taken: each with p = 0.4; 20 negatives, 4 taken: p = 0.2.  The counts are
    binomial(4000, p); a fixed seed makes the test deterministic, and 6 standard deviations leave
    room for any seed.  A sampler that prefers early (or late) candidates is off by hundreds."""
    draws = 4000
    matched = np.tile([0] * 10 + [NEGATIVE] * 20 + [IGNORED] * 5, (draws, 1))
    positive, negative = sample_balanced(matched, 8, 0.5, np.random.default_rng(1234))
    for mask, p in ((positive[:, :10], 0.4), (negative[:, 10:30], 0.2)):
        counts = mask.sum(0)
        sd = math.sqrt(len(mask) * p * (1 - p))
        assert (np.abs(counts - len(mask) * p) < 6 * sd).all(), counts
    assert not positive[:, 10:].any() and not negative[:, :10].any() and not negative[:, 30:].any()


@pytest.mark.parametrize("shape", [(2, 0), (0, 5), (0, 0)])
def test_sample_balanced_with_no_candidates_or_images(shape):
    positive, negative = sample_balanced(np.full(shape, NEGATIVE), 4, 0.5, np.random.default_rng(0))
    assert positive.shape == negative.shape == shape and not positive.any() and not negative.any()


@pytest.mark.parametrize(
    "matched, num_samples, fraction",
    [
        (np.zeros((1, 4), np.int64), 0, 0.5),
        (np.zeros((1, 4), np.int64), 4, 1.5),
        (np.zeros((1, 4), np.int64), 4, -0.1),
        (np.zeros(4, np.int64), 4, 0.5),  # one image must still be (1, K)
        (np.zeros((1, 2, 4), np.int64), 4, 0.5),
        (np.zeros((1, 4), np.int64), 2.5, 0.5),  # a count must be an int: 2.5 took 1 positive + 2 negatives
        (np.zeros((1, 4), np.int64), None, 0.5),
        (np.zeros((1, 4), np.int64), 4, None),
    ],
)
def test_sample_balanced_errors(matched, num_samples, fraction):
    with pytest.raises(ValueError, match="sample_balanced: "):
        sample_balanced(matched, num_samples, fraction, np.random.default_rng(0))


@pytest.mark.parametrize("call, message", [
    (lambda: encode_boxes(np.ones((1, 4)), np.ones((1, 4)), (1.0, 2.0)), "encode_boxes: weights"),
    (lambda: decode_boxes(np.zeros((1, 4)), np.ones((1, 4)), (1.0, 0.0, 1.0, 1.0)), "decode_boxes: weights"),
    (lambda: match_by_iou(np.zeros((1, 1, 1)), np.ones((1, 1), bool), "a", 0.3), "match_by_iou"),
    (lambda: clip_boxes(np.ones((1, 4)), "x"), "clip_boxes: image_size"),
    (lambda: clip_boxes(np.ones((1, 4)), (64, 64, 3)), r"clip_boxes: image_size .*\(64, 64, 3\)"),
])
def test_bad_weights_thresholds_and_sizes_name_the_function(call, message):
    with pytest.raises(ValueError, match=message):
        call()
