"""tinydl.vision: IoU, NMS, VOC average precision and mAP, segmentation confusion matrix and mean IoU.

Hand-computed cases pin the semantics (torchvision's for boxes, PASCAL VOC's
for AP); Hypothesis properties and plainly written reference implementations
(Python loops over boxes and detections, the VOC devkit's algorithm) check
the vectorized code on random inputs.  Where torchvision is importable,
box_iou and nms are compared with torchvision.ops too.
"""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinydl as td
from tinydl.vision import (
    APResult, MAPResult, MeanIoU, average_precision, batched_nms, box_area, box_iou, confusion_matrix,
    iou_per_class, mean_average_precision, mean_iou, nms,
)


# ---- strategies and plain references ------------------------------------------------
@st.composite
def box_arrays(draw, min_size=0, max_size=8, lattice=None):
    """(n, 4) float64 boxes [x1, y1, x2, y2].  On a small integer lattice (many exact ties,
    touching edges, identical and zero-area boxes) or with float corners."""
    if lattice is None:
        lattice = draw(st.booleans())
    n = draw(st.integers(min_size, max_size))
    if lattice:
        corner, side = st.integers(-6, 6), st.integers(0, 6)
    else:
        corner, side = st.floats(-10, 10), st.one_of(st.just(0.0), st.floats(0.1, 10))
    rows = []
    for _ in range(n):
        x1, y1, w, h = draw(corner), draw(corner), draw(side), draw(side)
        rows.append([x1, y1, x1 + w, y1 + h])
    return np.array(rows, dtype=np.float64).reshape(n, 4)


def score_arrays(n, distinct=False):
    """(n,) float64 scores; unless ``distinct``, drawn from a few values so that ties are common."""
    if distinct:
        return st.permutations(range(n)).map(lambda p: (np.array(p, dtype=np.float64) + 1) / (n + 1))
    return st.lists(st.sampled_from([0.1, 0.5, 0.9]) | st.floats(0, 1), min_size=n, max_size=n).map(np.array)


thresholds = st.sampled_from([0.0, 0.3, 0.5, 0.7, 1.0]) | st.floats(0, 1)


def plain_iou(a, b):
    """IoU of two boxes, with Python floats and no vectorization (same arithmetic order as box_iou)."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def ranking(scores):
    """Indices by decreasing score, ties in input order (Python's sort is stable)."""
    return sorted(range(len(scores)), key=lambda i: -scores[i])


def reference_nms(boxes, scores, threshold):
    """The definition of greedy NMS: down the ranking, keep a box if it overlaps no kept box by > threshold."""
    kept = []
    for i in ranking(scores):
        if all(plain_iou(boxes[i], boxes[k]) <= threshold for k in kept):
            kept.append(i)
    return kept


def reference_voc_ap(pred_boxes, pred_scores, gt_boxes, threshold):
    """The PASCAL VOC devkit's evaluation (voc_eval + voc_ap, all-point), transcribed with plain loops."""
    detections = [(s, i, b) for i, (bs, ss) in enumerate(zip(pred_boxes, pred_scores)) for b, s in zip(bs, ss)]
    detections = [detections[k] for k in ranking([d[0] for d in detections])]
    matched = [[False] * len(g) for g in gt_boxes]
    num_gt = sum(len(g) for g in gt_boxes)
    tp, fp = [], []
    for _, image, box in detections:
        ious = [plain_iou(box, g) for g in gt_boxes[image]]
        best = max(ious) if ious else -math.inf
        j = ious.index(best) if ious else -1  # the first of equal IoUs
        hit = best >= threshold and not matched[image][j]
        if hit:
            matched[image][j] = True
        tp.append(1.0 if hit else 0.0)
        fp.append(0.0 if hit else 1.0)
    if num_gt == 0:
        return math.nan
    # voc_ap: sentinels, precision envelope from the right, sum where recall changes
    rec, prec, t, f = [], [], 0.0, 0.0
    for a, b in zip(tp, fp):
        t, f = t + a, f + b
        rec.append(t / num_gt)
        prec.append(t / (t + f))
    mrec, mpre = [0.0] + rec + [1.0], [0.0] + prec + [0.0]
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    return sum((mrec[i + 1] - mrec[i]) * mpre[i + 1] for i in range(len(mrec) - 1) if mrec[i + 1] != mrec[i])


@st.composite
def detection_sets(draw, max_images=3, distinct=False):
    """(pred_boxes, pred_scores, gt_boxes) lists over 1..max_images images; the detections are
    jittered copies of ground truths (so hits, misses and duplicates all happen) or random boxes."""
    n_images = draw(st.integers(1, max_images))
    truths = [draw(box_arrays(max_size=4, lattice=True)) for _ in range(n_images)]
    preds = []
    for g in truths:
        rows = []
        for _ in range(draw(st.integers(0, 5))):
            if len(g) and draw(st.booleans()):
                dx, dy = draw(st.integers(-2, 2)), draw(st.integers(-2, 2))
                rows.append(g[draw(st.integers(0, len(g) - 1))] + [dx, dy, dx, dy])
            else:
                rows.append(draw(box_arrays(min_size=1, max_size=1, lattice=True))[0])
        preds.append(np.array(rows, dtype=np.float64).reshape(-1, 4))
    total = sum(len(p) for p in preds)
    flat = draw(score_arrays(total, distinct=distinct))
    cuts = np.cumsum([len(p) for p in preds])[:-1]
    return preds, list(np.split(np.asarray(flat, dtype=np.float64), cuts)), truths


# ---- box_area and box_iou ----------------------------------------------------------------
def test_box_area_hand_case():
    np.testing.assert_array_equal(box_area([[0, 0, 2, 3], [1, 1, 1, 5], [-1, -2, 1, 2]]), [6, 0, 8])


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ([0, 0, 2, 2], [0, 0, 2, 2], 1.0),  # identical
        ([0, 0, 1, 1], [5, 5, 6, 6], 0.0),  # disjoint
        ([0, 0, 1, 1], [1, 0, 2, 1], 0.0),  # touching along an edge
        ([0, 0, 1, 1], [1, 1, 2, 2], 0.0),  # touching at a corner
        ([0, 0, 2, 1], [0, 0, 1, 1], 0.5),  # one box is half of the other: 1 / 2
        ([0, 0, 2, 2], [1, 0, 3, 2], 1 / 3),  # half of each overlaps: inter 2, union 4 + 4 - 2 = 6
        ([0, 0, 4, 4], [1, 1, 3, 3], 0.25),  # contained: 4 / 16
        ([0, 0, 2, 2], [1, 1, 3, 3], 1 / 7),  # corners overlap: inter 1, union 7
        ([1, 1, 1, 1], [1, 1, 1, 1], 0.0),  # two points: empty union gives 0, not nan
        ([1, 1, 1, 1], [0, 0, 2, 2], 0.0),  # a point inside a box
    ],
)
def test_box_iou_hand_cases(a, b, expected):
    iou = box_iou([a], [b])
    assert iou.shape == (1, 1)
    assert iou[0, 0] == pytest.approx(expected, abs=1e-12)


def test_box_iou_shapes_and_dtypes():
    a, b = np.zeros((3, 4)), np.ones((5, 4))
    assert box_iou(a, b).shape == (3, 5)
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 5)
    assert box_iou([], b).shape == (0, 5)  # an empty list is no boxes
    assert box_iou(a.astype(np.float32), b.astype(np.float32)).dtype == np.float32  # as torchvision
    assert box_iou(a.astype(np.int64), b.astype(np.int64)).dtype == np.float64


def test_box_iou_takes_tensors(device):
    a, b = np.array([[0, 0, 2, 2], [0, 0, 4, 4.0]]), np.array([[1, 0, 3, 2.0]])
    got = box_iou(td.tensor(a, device=device), td.tensor(b, device=device, requires_grad=True))
    assert isinstance(got, np.ndarray)
    np.testing.assert_allclose(got, [[1 / 3], [4 / 16]])  # inter 2, union 6; contained: 4 / 16


@given(box_arrays(), box_arrays())
def test_box_iou_matches_plain_loops_symmetric_and_bounded(a, b):
    iou = box_iou(a, b)
    expected = np.array([[plain_iou(x, y) for y in b] for x in a]).reshape(len(a), len(b))
    np.testing.assert_allclose(iou, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(box_iou(b, a), iou.T)
    assert ((iou >= 0) & (iou <= 1)).all()


@given(box_arrays(min_size=1))
def test_box_iou_of_a_box_with_itself_is_one_unless_empty(a):
    diagonal = np.diag(box_iou(a, a))
    np.testing.assert_allclose(diagonal, np.where(box_area(a) > 0, 1.0, 0.0))


@given(box_arrays(min_size=1), box_arrays(min_size=1), st.integers(-50, 50), st.integers(-50, 50))
def test_box_iou_is_invariant_to_translating_both_boxes(a, b, dx, dy):
    shift = np.array([dx, dy, dx, dy], dtype=np.float64)
    np.testing.assert_allclose(box_iou(a + shift, b + shift), box_iou(a, b), atol=1e-9)


@pytest.mark.parametrize(
    "a, message",
    [
        (np.zeros((2, 3)), r"box_iou: a must have shape \(N, 4\).*\(2, 3\)"),
        (np.zeros(4), r"box_iou: a must have shape \(N, 4\).*\(4,\)"),
        (np.array([[2.0, 0, 1, 1]]), r"box_iou: a must be \[x1, y1, x2, y2\] with x1 <= x2.*row 0"),
        (np.array([[0.0, 0, 1, 1], [0, 3, 1, 2]]), r"box_iou: .*row 1"),
        (np.array([[0.0, np.nan, 1, 1]]), r"box_iou: a of shape \(1, 4\) hold NaN"),
    ],
)
def test_box_iou_errors(a, message):
    with pytest.raises(ValueError, match=message):
        box_iou(a, np.zeros((1, 4)))


def test_box_iou_refuses_non_numbers():
    with pytest.raises(TypeError, match="box_iou: b must hold numbers"):
        box_iou(np.zeros((1, 4)), np.array([["a", "b", "c", "d"]]))


# ---- nms --------------------------------------------------------------------------------
def test_nms_hand_case_with_a_chain():
    # A = [0,0,10,10], B = A shifted right by 3, C = A shifted by 6.  IoU(A, B) = IoU(B, C) =
    # 70 / 130 = 0.54 > 0.5, IoU(A, C) = 40 / 160 = 0.25.  By score A > B > C: A is kept and
    # discards B; B, discarded, discards nothing, so C is kept.  Given in the order C, A, B.
    boxes = np.array([[6, 0, 16, 10], [0, 0, 10, 10], [3, 0, 13, 10], [40, 40, 50, 50]], dtype=np.float64)
    scores = np.array([0.7, 0.9, 0.8, 0.1])
    keep = nms(boxes, scores, 0.5)
    assert keep.dtype == np.int64
    np.testing.assert_array_equal(keep, [1, 0, 3])
    np.testing.assert_array_equal(nms(boxes, scores, 0.6), [1, 2, 0, 3])  # 0.54 <= 0.6: nothing overlaps enough


def test_nms_discards_only_above_the_threshold():
    boxes = np.array([[0, 0, 2, 1], [0, 0, 1, 1]], dtype=np.float64)  # IoU exactly 0.5
    np.testing.assert_array_equal(nms(boxes, [0.9, 0.8], 0.5), [0, 1])  # 0.5 > 0.5 is False: kept
    np.testing.assert_array_equal(nms(boxes, [0.9, 0.8], 0.49), [0])


def test_nms_equal_scores_keep_input_order():
    boxes = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [5, 5, 6, 6]], dtype=np.float64)
    np.testing.assert_array_equal(nms(boxes, [0.5, 0.5, 0.5], 0.5), [0, 2])
    np.testing.assert_array_equal(nms(boxes[::-1], [0.5, 0.5, 0.5], 0.5), [0, 1])


def test_nms_of_no_boxes_and_tensors(device):
    keep = nms(np.zeros((0, 4)), np.zeros(0), 0.5)
    assert keep.shape == (0,) and keep.dtype == np.int64
    boxes = td.tensor(np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30.0]]), device=device)
    np.testing.assert_array_equal(nms(boxes, td.tensor([0.8, 0.9, 0.7], device=device), 0.5), [1, 2])


@given(st.data(), box_arrays(min_size=1, max_size=10), thresholds)
def test_nms_properties_and_the_plain_reference(data, boxes, threshold):
    scores = data.draw(score_arrays(len(boxes)))
    keep = nms(boxes, scores, threshold)
    assert keep.dtype == np.int64 and len(set(keep.tolist())) == len(keep)
    assert keep[0] == np.argmax(scores)  # the top-scoring box (the first of equal ones) is always kept
    assert (np.diff(scores[keep]) <= 0).all()  # in decreasing score order
    iou = box_iou(boxes, boxes)
    kept_pairs = iou[np.ix_(keep, keep)]
    assert not (kept_pairs[~np.eye(len(keep), dtype=bool)] > threshold).any()  # no two kept boxes overlap
    rank = np.empty(len(boxes), dtype=np.int64)
    rank[ranking(scores)] = np.arange(len(boxes))
    for j in set(range(len(boxes))) - set(keep.tolist()):  # every discarded box has a reason
        assert any(iou[i, j] > threshold and rank[i] < rank[j] for i in keep), f"box {j} discarded for nothing"
    assert keep.tolist() == reference_nms(boxes, scores, threshold)


@given(st.data(), box_arrays(min_size=1, max_size=10), thresholds)
def test_batched_nms_is_nms_within_each_class(data, boxes, threshold):
    scores = data.draw(score_arrays(len(boxes)))
    classes = np.array(data.draw(st.lists(st.integers(0, 2), min_size=len(boxes), max_size=len(boxes))))
    keep = batched_nms(boxes, scores, classes, threshold)
    expected = []
    for c in np.unique(classes):
        members = np.flatnonzero(classes == c)
        expected += [members[i] for i in reference_nms(boxes[members], scores[members], threshold)]
    assert keep.dtype == np.int64
    assert keep.tolist() == sorted(expected, key=lambda i: (-scores[i], i))  # by score, ties by index


def test_batched_nms_never_suppresses_across_classes():
    boxes = np.array([[0, 0, 10, 10]] * 3 + [[1, 0, 11, 10]], dtype=np.float64)  # all overlapping by >= 0.8
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    np.testing.assert_array_equal(batched_nms(boxes, scores, [0, 1, 0, 2], 0.5), [0, 1, 3])
    np.testing.assert_array_equal(nms(boxes, scores, 0.5), [0])  # plain NMS keeps only the first
    np.testing.assert_array_equal(batched_nms(boxes, scores, np.zeros(4, dtype=np.int64), 0.5), [0])


def test_nms_errors():
    boxes = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"nms: scores must have shape \(3,\).*\(2,\)"):
        nms(boxes, np.zeros(2), 0.5)
    with pytest.raises(ValueError, match=r"nms: scores .* NaN"):
        nms(boxes, np.array([0.1, np.nan, 0.2]), 0.5)
    with pytest.raises(TypeError, match="nms: iou_threshold must be a number"):
        nms(boxes, np.zeros(3), "0.5")
    with pytest.raises(ValueError, match=r"nms: boxes must have shape \(N, 4\)"):
        nms(np.zeros((3, 5)), np.zeros(3), 0.5)
    with pytest.raises(TypeError, match="batched_nms: classes must be integer class indices"):
        batched_nms(boxes, np.zeros(3), np.zeros(3), 0.5)
    with pytest.raises(ValueError, match=r"batched_nms: classes must have shape \(3,\)"):
        batched_nms(boxes, np.zeros(3), np.zeros(4, dtype=np.int64), 0.5)


def test_torchvision_agreement():
    torch = pytest.importorskip("torch")
    ops = pytest.importorskip("torchvision").ops
    gen = np.random.default_rng(0)
    for n in (1, 5, 40):
        corner = gen.uniform(0, 20, size=(n, 2))
        boxes = np.concatenate([corner, corner + gen.uniform(0, 10, size=(n, 2))], axis=1)
        scores = gen.permutation(n) / n
        classes = gen.integers(0, 3, size=n)
        tb, ts, tc = torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(classes)
        np.testing.assert_allclose(box_iou(boxes, boxes[::-1]), ops.box_iou(tb, tb.flip(0)).numpy(), atol=1e-12)
        for threshold in (0.1, 0.5, 0.8):
            np.testing.assert_array_equal(nms(boxes, scores, threshold), ops.nms(tb, ts, threshold).numpy())
            np.testing.assert_array_equal(batched_nms(boxes, scores, classes, threshold),
                                          ops.batched_nms(tb, ts, tc, threshold).numpy())


# ---- average_precision ----------------------------------------------------------------------
def test_ap_of_perfect_detections_is_one():
    truths = [np.array([[0, 0, 10, 10], [20, 20, 30, 35]]), np.array([[5, 5, 9, 9.0]])]
    result = average_precision(truths, [np.array([0.3, 0.9]), np.array([0.5])], truths)
    assert isinstance(result, APResult)
    assert result.ap == 1.0
    np.testing.assert_allclose(result.precision, [1, 1, 1])
    np.testing.assert_allclose(result.recall, [1 / 3, 2 / 3, 1])


def test_ap_hand_computed_voc_example():
    # Three ground truths: g0, g1 in image 0, g2 in image 1.  Five detections, by score:
    #   .9 image 0 on g0 (IoU 1)                      TP
    #   .8 image 0 on g0 again (IoU 90/110 = 0.82)    FP, a duplicate: g0 is taken
    #   .7 image 1 on g2 (IoU 1)                      TP
    #   .6 image 1 near g2 (IoU 50/150 = 0.33 < 0.5)  FP
    #   .5 image 0 on g1 (IoU 1)                      TP
    # TP so far 1, 1, 2, 2, 3: precision 1, 1/2, 2/3, 1/2, 3/5; recall 1/3, 1/3, 2/3, 2/3, 1.
    # Envelope from the right: 1, 2/3, 2/3, 3/5, 3/5.  Recall steps 1/3 at ranks 1, 3, 5:
    # AP = 1/3 * 1 + 1/3 * 2/3 + 1/3 * 3/5 = 34/45 = 0.7556.
    truths = [np.array([[0, 0, 10, 10], [20, 0, 30, 10.0]]), np.array([[0, 0, 10, 10.0]])]
    preds = [np.array([[20, 0, 30, 10], [1, 0, 11, 10], [0, 0, 10, 10.0]]),
             np.array([[5, 0, 15, 10], [0, 0, 10, 10.0]])]
    scores = [np.array([0.5, 0.8, 0.9]), np.array([0.6, 0.7])]
    result = average_precision(preds, scores, truths)
    assert result.ap == pytest.approx(34 / 45)
    np.testing.assert_allclose(result.precision, [1, 1 / 2, 2 / 3, 1 / 2, 3 / 5])
    np.testing.assert_allclose(result.recall, [1 / 3, 1 / 3, 2 / 3, 2 / 3, 1])
    # At IoU 0.3 the .6 detection (IoU 1/3) reaches the threshold, but g2 is already taken by the
    # .7 detection: it is a duplicate, still an FP, and AP is unchanged.
    assert average_precision(preds, scores, truths, iou_threshold=0.3).ap == pytest.approx(34 / 45)


def test_ap_iou_threshold_is_inclusive():
    truths, preds = [np.array([[0, 0, 2, 1.0]])], [np.array([[0, 0, 1, 1.0]])]  # IoU exactly 0.5
    assert average_precision(preds, [np.array([1.0])], truths, iou_threshold=0.5).ap == 1.0
    assert average_precision(preds, [np.array([1.0])], truths, iou_threshold=0.51).ap == 0.0


def test_ap_duplicate_detection_is_a_false_positive():
    # g0, g1; detections by score: on g0, on g0 again, on g1 -> TP, FP, TP.
    # precision 1, 1/2, 2/3; recall 1/2, 1/2, 1; AP = 1/2 * 1 + 1/2 * 2/3 = 5/6 (1 if duplicates counted).
    truths = [np.array([[0, 0, 10, 10], [20, 0, 30, 10.0]])]
    preds = [np.array([[0, 0, 10, 10], [0, 0, 10, 10], [20, 0, 30, 10.0]])]
    result = average_precision(preds, [np.array([0.9, 0.8, 0.7])], truths)
    np.testing.assert_allclose(result.precision, [1, 1 / 2, 2 / 3])
    assert result.ap == pytest.approx(5 / 6)


def test_ap_a_taken_best_match_does_not_fall_back_to_the_second_best():
    # g0 and g1 overlap.  The second detection's best ground truth is g0 (IoU 0.90), already taken,
    # so it is an FP even though its IoU with the free g1 is 0.74 (VOC's rule; COCO would match g1).
    truths = [np.array([[0, 0, 10, 10], [2, 0, 12, 10.0]])]
    preds = [np.array([[0, 0, 10, 10], [0.5, 0, 10.5, 10]])]
    result = average_precision(preds, [np.array([0.9, 0.8])], truths)
    np.testing.assert_allclose(result.precision, [1, 0.5])
    assert result.ap == pytest.approx(0.5)


def test_ap_detections_in_images_without_ground_truth_are_false_positives():
    truths = [np.array([[0, 0, 10, 10.0]]), np.zeros((0, 4))]
    preds = [np.array([[0, 0, 10, 10.0]]), np.array([[0, 0, 10, 10.0]])]
    result = average_precision(preds, [np.array([0.5]), np.array([0.9])], truths)
    np.testing.assert_allclose(result.precision, [0, 0.5])  # the image-1 detection ranks first
    assert result.ap == pytest.approx(0.5)


def test_ap_with_no_detections_is_zero_and_with_no_ground_truth_nan():
    truths = [np.array([[0, 0, 1, 1.0]]), np.zeros((0, 4))]
    result = average_precision([np.zeros((0, 4)), []], [np.zeros(0), []], truths)
    assert result.ap == 0.0 and result.precision.shape == (0,) and result.recall.shape == (0,)
    result = average_precision([np.array([[0, 0, 1, 1.0]])], [np.array([0.5])], [np.zeros((0, 4))])
    assert math.isnan(result.ap) and np.isnan(result.recall).all()
    np.testing.assert_array_equal(result.precision, [0.0])
    assert math.isnan(average_precision([], [], []).ap)


def test_ap_ties_keep_the_input_order():
    # equal scores: the FP given first ranks first (precision 0, 1/2: AP 1/2); given second, AP 1
    truths = [np.array([[0, 0, 1, 1.0]])]
    miss_then_hit = [np.array([[5, 5, 6, 6], [0, 0, 1, 1.0]])]
    assert average_precision(miss_then_hit, [np.array([0.5, 0.5])], truths).ap == pytest.approx(0.5)
    assert average_precision([miss_then_hit[0][::-1]], [np.array([0.5, 0.5])], truths).ap == 1.0
    # Many ties: detection i scores 0.5 for even i, 0.2 for odd i, so the ranking is the even
    # ones in input order, then the odd ones.  Hits (each on its own ground truth) and misses:
    hit = [True, True, True, False, True, True, False, False, True, False, False, False]  # by index i
    truths = [np.array([[2 * k, 0, 2 * k + 1, 1] for k in range(sum(hit))], dtype=np.float64)]  # unit squares
    on_truth = np.cumsum(hit) - 1  # hit number j sits on ground truth j
    preds = [np.array([[2 * k, 0, 2 * k + 1, 1] if h else [100, 0, 101, 1] for h, k in zip(hit, on_truth)],
                      dtype=np.float64)]
    scores = [np.where(np.arange(12) % 2 == 0, 0.5, 0.2)]
    ranked_hits = np.array(hit[0::2] + hit[1::2])  # T T T F T F, then T F T F F F
    result = average_precision(preds, scores, truths)
    np.testing.assert_allclose(result.precision, np.cumsum(ranked_hits) / np.arange(1, 13))


def test_ap_interpolates_precision_from_the_right():
    # Three ground truths; by score: TP, FP, FP, TP, TP.  Precision 1, 1/2, 1/3, 1/2, 3/5; recall
    # steps of 1/3 at ranks 1, 4, 5.  Raw precision there gives (1 + 1/2 + 3/5) / 3 = 0.7, but
    # the envelope at rank 4 is max(1/2, 3/5) = 3/5: AP = (1 + 3/5 + 3/5) / 3 = 11/15 = 0.7333.
    truths = [np.array([[0, 0, 1, 1], [2, 0, 3, 1], [4, 0, 5, 1.0]])]
    preds = [np.array([[0, 0, 1, 1], [9, 9, 10, 10], [9, 9, 10, 10], [2, 0, 3, 1], [4, 0, 5, 1.0]])]
    result = average_precision(preds, [np.array([0.9, 0.8, 0.7, 0.6, 0.5])], truths)
    np.testing.assert_allclose(result.precision, [1, 1 / 2, 1 / 3, 1 / 2, 3 / 5])
    assert result.ap == pytest.approx(11 / 15)


@given(detection_sets(), st.sampled_from([0.3, 0.5, 0.7]))
def test_ap_matches_the_voc_devkit_reference(detections, threshold):
    preds, scores, truths = detections
    result = average_precision(preds, scores, truths, iou_threshold=threshold)
    expected = reference_voc_ap(preds, scores, truths, threshold)
    if math.isnan(expected):
        assert math.isnan(result.ap)
    else:
        assert result.ap == pytest.approx(expected, abs=1e-12)
        assert 0 <= result.ap <= 1
    total = sum(len(p) for p in preds)
    assert result.precision.shape == result.recall.shape == (total,)


@given(detection_sets(distinct=True), st.data())
def test_ap_does_not_depend_on_the_order_detections_and_images_are_given_in(detections, data):
    preds, scores, truths = detections
    result = average_precision(preds, scores, truths)
    shuffled_preds, shuffled_scores = [], []
    for p, s in zip(preds, scores):
        order = np.array(data.draw(st.permutations(range(len(p)))), dtype=np.int64)
        shuffled_preds.append(p[order])
        shuffled_scores.append(s[order])
    images = data.draw(st.permutations(range(len(preds))))
    again = average_precision([shuffled_preds[i] for i in images], [shuffled_scores[i] for i in images],
                              [truths[i] for i in images])
    np.testing.assert_array_equal(again.precision, result.precision)
    np.testing.assert_array_equal(again.recall, result.recall)
    assert again.ap == result.ap or (math.isnan(again.ap) and math.isnan(result.ap))


def test_ap_takes_tensors(device):
    truths = [td.tensor(np.array([[0, 0, 10, 10.0]]), device=device)]
    preds = [td.tensor(np.array([[0, 0, 10, 10], [50, 50, 60, 60.0]]), device=device)]
    result = average_precision(preds, [td.tensor([0.2, 0.9], device=device)], truths)
    np.testing.assert_allclose(result.precision, [0, 0.5])
    assert result.ap == pytest.approx(0.5)


def test_ap_errors():
    with pytest.raises(ValueError, match=r"average_precision: need one entry per image.*len\(gt_boxes\) = 1"):
        average_precision([np.zeros((0, 4))] * 2, [np.zeros(0)] * 2, [np.zeros((0, 4))])
    with pytest.raises(ValueError, match=r"average_precision: pred_scores\[1\] must have shape \(2,\)"):
        average_precision([np.zeros((0, 4)), np.zeros((2, 4))], [np.zeros(0), np.zeros(3)], [[], []])
    with pytest.raises(ValueError, match=r"average_precision: gt_boxes\[0\] must have shape \(N, 4\)"):
        average_precision([[]], [[]], [np.zeros((2, 5))])


# ---- mean_average_precision --------------------------------------------------------------------
def test_map_averages_only_classes_with_ground_truth():
    # class 0: its one object found (AP 1).  class 1: two objects, one found first, then an FP
    # (precision 1, 1/2; recall 1/2, 1/2: AP 1/2).  class 2: only a detection, no ground truth
    # (AP nan, left out).  class 3: nothing at all (nan).  mAP = (1 + 1/2) / 2 = 3/4.
    predictions = [
        (np.array([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50.0]]), np.array([0.9, 0.8, 0.7]),
         np.array([0, 1, 2])),
        (np.array([[0, 0, 5, 5.0]]), np.array([0.6]), np.array([1])),
    ]
    targets = [
        (np.array([[0, 0, 10, 10], [20, 20, 30, 30.0]]), np.array([0, 1])),
        (np.array([[10, 10, 20, 20.0]]), np.array([1])),
    ]
    result = mean_average_precision(predictions, targets, num_classes=4)
    assert isinstance(result, MAPResult)
    np.testing.assert_allclose(result.ap, [1.0, 0.5, np.nan, np.nan])
    assert result.map == pytest.approx(0.75)
    assert len(result.curves) == 4 and all(isinstance(c, APResult) for c in result.curves)
    np.testing.assert_allclose(result.curves[1].precision, [1, 0.5])


def test_map_with_no_ground_truth_at_all_is_nan():
    predictions = [(np.array([[0, 0, 1, 1.0]]), np.array([0.5]), np.array([0]))]
    result = mean_average_precision(predictions, [(np.zeros((0, 4)), np.zeros(0, dtype=np.int64))], 2)
    assert math.isnan(result.map) and np.isnan(result.ap).all()


@given(detection_sets(), st.data())
def test_map_scores_each_class_with_average_precision(detections, data):
    preds, scores, truths = detections
    labels = [np.array(data.draw(st.lists(st.integers(0, 2), min_size=len(p), max_size=len(p))), dtype=np.int64)
              for p in preds]
    truth_labels = [np.array(data.draw(st.lists(st.integers(0, 2), min_size=len(g), max_size=len(g))),
                             dtype=np.int64) for g in truths]
    result = mean_average_precision(list(zip(preds, scores, labels)), list(zip(truths, truth_labels)), 3)
    for c in range(3):
        alone = average_precision([p[l == c] for p, l in zip(preds, labels)],
                                  [s[l == c] for s, l in zip(scores, labels)],
                                  [g[l == c] for g, l in zip(truths, truth_labels)])
        np.testing.assert_array_equal(result.curves[c].precision, alone.precision)
        assert result.ap[c] == alone.ap or (math.isnan(result.ap[c]) and math.isnan(alone.ap))
    has_truth = [any((l == c).any() for l in truth_labels) for c in range(3)]
    if any(has_truth):
        assert result.map == pytest.approx(np.mean(result.ap[has_truth]))
    else:
        assert math.isnan(result.map)


def test_map_of_shapes_ground_truth_is_one():
    scenes = td.data.make_shapes(6, image_size=32, seed=1)
    targets = [scenes.objects(i) for i in range(len(scenes))]
    predictions = [(b, np.ones(len(b)), l) for b, l in targets]
    result = mean_average_precision(predictions, targets, num_classes=len(td.data.SHAPE_CLASSES))
    assert result.map == 1.0


def test_map_errors():
    good = (np.zeros((1, 4)), np.ones(1), np.zeros(1, dtype=np.int64))
    truth = (np.zeros((1, 4)), np.zeros(1, dtype=np.int64))
    with pytest.raises(ValueError, match=r"mean_average_precision: need one entry per image"):
        mean_average_precision([good, good], [truth], 2)
    padded = r"mean_average_precision: targets\[0\] labels must be class indices in \[0, 2\), got -1.*objects"
    with pytest.raises(ValueError, match=padded):
        mean_average_precision([good], [(np.zeros((1, 4)), np.array([-1]))], 2)
    with pytest.raises(ValueError, match=r"mean_average_precision: predictions\[0\] labels .* got 5"):
        mean_average_precision([(np.zeros((1, 4)), np.ones(1), np.array([5]))], [truth], 2)
    with pytest.raises(ValueError, match=r"mean_average_precision: predictions\[0\] must be a tuple \(boxes"):
        mean_average_precision([(np.zeros((1, 4)), np.ones(1))], [truth], 2)
    with pytest.raises(ValueError, match="mean_average_precision: num_classes must be a positive int"):
        mean_average_precision([good], [truth], 0)


# ---- segmentation ---------------------------------------------------------------------------
TARGET = np.array([[0, 0, 1], [1, 2, 2]])
PRED = np.array([[0, 1, 1], [1, 2, 0]])
# (true, predicted) pairs: (0,0) (0,1) (1,1) (1,1) (2,2) (2,0)
CONFUSION = np.array([[1, 1, 0], [0, 2, 0], [1, 0, 1]])
# IoU = TP / (row + column - TP): class 0: 1 / (2 + 2 - 1) = 1/3, class 1: 2 / (2 + 3 - 2) = 2/3,
# class 2: 1 / (2 + 1 - 1) = 1/2; mean over all three, background 0 included: 1/2
PER_CLASS = np.array([1 / 3, 2 / 3, 1 / 2])


def test_confusion_matrix_hand_case():
    confusion = confusion_matrix(PRED, TARGET, 3)
    assert confusion.dtype == np.int64
    np.testing.assert_array_equal(confusion, CONFUSION)


def test_confusion_matrix_ignore_index():
    target = np.array([[0, 255, 1], [1, 2, 255]])
    pred = np.array([[0, 7, 0], [1, 2, -3]])  # ignored pixels count whatever their prediction
    confusion = confusion_matrix(pred, target, 3, ignore_index=255)
    np.testing.assert_array_equal(confusion, [[1, 0, 0], [1, 1, 0], [0, 0, 1]])
    assert confusion_matrix(pred, np.full_like(target, -1), 3, ignore_index=-1).sum() == 0


@given(st.integers(1, 4), st.data())
def test_confusion_matrix_counts_every_pixel_once(num_classes, data):
    shape = data.draw(st.sampled_from([(5,), (2, 3), (2, 2, 3)]))
    values = st.lists(st.integers(0, num_classes - 1), min_size=math.prod(shape), max_size=math.prod(shape))
    target = np.array(data.draw(values)).reshape(shape)
    pred = np.array(data.draw(values)).reshape(shape)
    confusion = confusion_matrix(pred, target, num_classes)
    expected = np.zeros((num_classes, num_classes), dtype=np.int64)
    for t, p in zip(target.reshape(-1), pred.reshape(-1)):  # the plain count
        expected[t, p] += 1
    np.testing.assert_array_equal(confusion, expected)
    per_class = mean_iou(target, target, num_classes).per_class  # a perfect prediction
    present = np.isin(np.arange(num_classes), target)
    np.testing.assert_array_equal(per_class[present], 1.0)
    assert np.isnan(per_class[~present]).all()


def test_iou_per_class_and_mean_iou_hand_case():
    np.testing.assert_allclose(iou_per_class(CONFUSION), PER_CLASS)
    result = mean_iou(PRED, TARGET, 3)
    assert isinstance(result, MeanIoU)
    assert result.miou == pytest.approx(0.5)
    np.testing.assert_allclose(result.per_class, PER_CLASS)


def test_mean_iou_skips_classes_absent_from_both():
    result = mean_iou(PRED, TARGET, 5)  # classes 3 and 4 appear nowhere
    np.testing.assert_allclose(result.per_class, [*PER_CLASS, np.nan, np.nan])
    assert result.miou == pytest.approx(0.5)
    result = mean_iou(np.array([0, 0]), np.array([1, 1]), 2)  # present in only one of them: IoU 0, counted
    np.testing.assert_array_equal(result.per_class, [0, 0])
    assert result.miou == 0.0


def test_mean_iou_of_a_perfect_prediction_is_one_and_all_ignored_is_nan():
    target = np.array([[0, 1], [2, 2]])
    assert mean_iou(target, target, 3).miou == 1.0
    assert math.isnan(mean_iou(target, np.full_like(target, 9), 3, ignore_index=9).miou)


def test_segmentation_metrics_take_tensors(device):
    result = mean_iou(td.tensor(PRED, device=device), td.tensor(TARGET, device=device), 3)
    assert result.miou == pytest.approx(0.5)


def test_segmentation_errors():
    with pytest.raises(ValueError, match=r"confusion_matrix: pred and target must have the same shape, got \(2, 3\)"):
        confusion_matrix(PRED, TARGET.T, 3)
    with pytest.raises(ValueError, match=r"confusion_matrix: target must hold class indices in \[0, 2\), got 2"):
        confusion_matrix(PRED % 2, TARGET, 2)
    with pytest.raises(ValueError, match=r"confusion_matrix: pred must hold class indices in \[0, 3\), got -1"):
        confusion_matrix(PRED - 1, TARGET, 3)
    with pytest.raises(TypeError, match="confusion_matrix: pred must hold integer class indices, got dtype float64"):
        confusion_matrix(PRED.astype(np.float64), TARGET, 3)
    with pytest.raises(ValueError, match="confusion_matrix: num_classes must be a positive int"):
        confusion_matrix(PRED, TARGET, 0)
    with pytest.raises(ValueError, match=r"iou_per_class: confusion must be a square \(C, C\) matrix, got shape \(2"):
        iou_per_class(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"mean_iou|confusion_matrix"):
        mean_iou(PRED, TARGET, 2)
