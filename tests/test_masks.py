"""Instance masks for Mask R-CNN: make_shapes' per-object masks, mask IoU, pasting box-grid masks, mask AP.

make_shapes' ``instance_masks`` is checked against the semantic ``masks`` it must
add up to; ``mask_iou`` against plain per-pair pixel counts; ``paste_masks`` on
hand cases (pixel centres in the box, the bilinear read) and on the round trip
RoIAlign crop -> paste; ``mask_mean_average_precision`` on hand cases and against
``mean_average_precision`` where masks are the boxes' own pixels.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinydl as td
import tinydl.functional as F
from tinydl.data import make_shapes
from tinydl.vision import mask_iou, mask_mean_average_precision, mean_average_precision, paste_masks

CROWDED = dict(min_objects=5, max_objects=5)  # objects dropped mid-row, so padding moved to the end

scene_settings = st.fixed_dictionaries({
    "n": st.integers(1, 6),
    "image_size": st.sampled_from([16, 32, 64]),
    "seed": st.integers(0, 2**32 - 1),
}).flatmap(lambda base: st.sampled_from([{}, CROWDED, dict(max_objects=5, max_overlap=0.5),
                                          dict(max_objects=4, max_overlap=1.0, size_range=(0.15, 0.3))])
           .map(lambda extra: {**base, **extra}))


def centres_inside(boxes, height, width, tolerance=0.0):
    """(K, H, W) bool: whether each pixel centre (x + 0.5, y + 0.5) lies in each box (K, 4), edges included."""
    xs, ys = np.arange(width) + 0.5, np.arange(height) + 0.5
    x1, y1, x2, y2 = (np.asarray(boxes, dtype=np.float64)[:, k, None, None] for k in range(4))
    return ((xs[None, None, :] >= x1 - tolerance) & (xs[None, None, :] <= x2 + tolerance)
            & (ys[None, :, None] >= y1 - tolerance) & (ys[None, :, None] <= y2 + tolerance))


# ---- make_shapes' instance masks ------------------------------------------------------
@given(scene_settings)
def test_instance_masks_add_up_to_the_semantic_masks_and_are_disjoint(kwargs):
    scenes = make_shapes(**kwargs)
    instances = scenes.instance_masks()
    n, M = scenes.labels.shape
    assert instances.shape == (n, M, kwargs["image_size"], kwargs["image_size"]) and instances.dtype == bool
    assert (instances.sum(axis=1) <= 1).all(), "two objects claim one pixel"
    combined = (instances * (scenes.labels[:, :, None, None] + 1)).sum(axis=1)  # class + 1 where visible
    np.testing.assert_array_equal(combined, scenes.masks)
    assert not instances[scenes.labels < 0].any(), "a padding slot has pixels"


@given(scene_settings)
def test_each_instance_mask_lies_inside_its_box(kwargs):
    scenes = make_shapes(**kwargs)
    size, real = kwargs["image_size"], scenes.labels >= 0
    inside = centres_inside(scenes.boxes[real], size, size, tolerance=1e-4)  # (K, S, S)
    assert not (scenes.instance_masks()[real] & ~inside).any()


@given(st.integers(0, 2**32 - 1), st.sampled_from([16, 32, 64]), st.integers(1, 5), st.sampled_from([0.0, 0.1]))
def test_every_object_is_visible_when_boxes_overlap_little(seed, size, max_objects, max_overlap):
    # each later box covers at most max_overlap = 10% of an earlier one, so four later ones cover at
    # most 40% of it, less than any shape fills of its box: no object is hidden entirely
    scenes = make_shapes(5, image_size=size, max_objects=max_objects, max_overlap=max_overlap, seed=seed)
    real = scenes.labels >= 0
    assert scenes.instance_masks().any(axis=(2, 3))[real].all()


def test_a_large_max_overlap_can_hide_an_object_entirely_and_its_mask_is_then_empty():
    # what the docstring promises: visibility is not guaranteed once boxes may overlap a lot
    scenes = make_shapes(100, image_size=32, max_objects=5, max_overlap=1.0, seed=0)
    real = scenes.labels >= 0
    hidden = ~scenes.instance_masks().any(axis=(2, 3)) & real
    assert hidden.any()
    i, m = np.argwhere(hidden)[0]
    assert scenes.labels[i, m] >= 0 and m < scenes.labels.shape[1] - 1  # a real object, not the last painted


def test_instance_masks_index_by_int_slice_and_array():
    scenes = make_shapes(7, image_size=32, seed=5, **CROWDED)
    everything = scenes.instance_masks()
    np.testing.assert_array_equal(scenes.instance_masks(3), everything[3])
    assert scenes.instance_masks(3).shape == (5, 32, 32)
    np.testing.assert_array_equal(scenes.instance_masks(-1), everything[-1])
    np.testing.assert_array_equal(scenes.instance_masks(slice(2, 6, 2)), everything[2:6:2])
    np.testing.assert_array_equal(scenes.instance_masks(np.array([6, 0, 6])), everything[[6, 0, 6]])
    np.testing.assert_array_equal(scenes.instance_masks([1, 4]), everything[[1, 4]])
    assert scenes.instance_masks(slice(0, 0)).shape == (0, 5, 32, 32)


def test_instance_masks_keep_the_four_field_unpacking():
    images, boxes, labels, masks = make_shapes(2, image_size=16, seed=0)
    assert images.shape == (2, 3, 16, 16) and masks.shape == (2, 16, 16)


@pytest.mark.parametrize("index", [7, -8, "a", 1.5])
def test_instance_masks_bad_index_names_the_method(index):
    scenes = make_shapes(7, image_size=16, seed=0)
    with pytest.raises(IndexError, match="instance_masks.*7 scenes"):
        scenes.instance_masks(index)


# ---- mask_iou ----------------------------------------------------------------------------
def rectangle(x1, y1, x2, y2, size=8):
    """(size, size) bool with the pixels [y1:y2, x1:x2] set."""
    mask = np.zeros((size, size), dtype=bool)
    mask[y1:y2, x1:x2] = True
    return mask


def test_mask_iou_hand_cases():
    a = np.stack([rectangle(0, 0, 4, 4), rectangle(0, 0, 0, 0), rectangle(2, 0, 4, 2)])  # 16, 0 and 4 pixels
    b = np.stack([rectangle(0, 0, 4, 4), rectangle(2, 0, 6, 4), rectangle(6, 6, 8, 8), rectangle(0, 0, 0, 0)])
    expected = np.array([
        [1.0, 8 / 24, 0.0, 0.0],  # the same; half of it shared; disjoint; an empty mask
        [0.0, 0.0, 0.0, 0.0],  # empty against anything (empty union against the empty mask): 0
        [4 / 16, 4 / 16, 0.0, 0.0],  # inside both
    ])
    got = mask_iou(a, b)
    assert got.shape == (3, 4) and got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@st.composite
def mask_pairs(draw):
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    k, g = draw(st.integers(0, 4)), draw(st.integers(0, 4))
    bits = st.lists(st.booleans(), min_size=h * w, max_size=h * w)
    a = np.array([draw(bits) for _ in range(k)], dtype=bool).reshape(k, h, w)
    b = np.array([draw(bits) for _ in range(g)], dtype=bool).reshape(g, h, w)
    return a, b


@given(mask_pairs())
def test_mask_iou_equals_counting_each_pair(pair):
    a, b = pair
    expected = np.zeros((len(a), len(b)))
    for i in range(len(a)):
        for j in range(len(b)):
            union = np.logical_or(a[i], b[j]).sum()
            expected[i, j] = np.logical_and(a[i], b[j]).sum() / union if union else 0.0
    np.testing.assert_allclose(mask_iou(a, b), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mask_iou(b, a), expected.T, rtol=1e-12, atol=1e-12)


def test_mask_iou_takes_numbers_and_tensors(device):
    a = np.stack([rectangle(0, 0, 4, 4), rectangle(2, 2, 6, 6)])
    expected = mask_iou(a, a)
    np.testing.assert_allclose(mask_iou(a.astype(np.float32), a.astype(np.int64)), expected, atol=1e-12)
    got = mask_iou(td.tensor(a, device=device), td.tensor(a.astype(np.float32), device=device))
    assert isinstance(got, np.ndarray)
    np.testing.assert_allclose(got, expected, atol=1e-12)
    assert mask_iou([], a).shape == (0, 2)


@pytest.mark.parametrize("a, b, error, message", [
    (np.zeros((2, 8)), np.zeros((1, 8, 8)), ValueError, r"mask_iou: a must have shape \(K, H, W\).*\(2, 8\)"),
    (np.zeros((2, 8, 8)), np.zeros((1, 8, 7)), ValueError, r"mask_iou: .*same image size.*\(2, 8, 8\).*\(1, 8, 7\)"),
    (np.full((1, 4, 4), 0.3), np.zeros((1, 4, 4)), ValueError, r"mask_iou: a .* only 0 and 1.*threshold"),
    (np.zeros((1, 4, 4)), np.full((1, 4, 4), "x"), TypeError, r"mask_iou: b must be bool.*dtype"),
])
def test_mask_iou_errors(a, b, error, message):
    with pytest.raises(error, match=message):
        mask_iou(a, b)


# ---- paste_masks -------------------------------------------------------------------------
@st.composite
def boxes_in_an_image(draw, height=12, width=16):
    """(k, 4) float boxes with corners anywhere around a height x width image (also partly outside);
    often on the half-pixel lattice, so that edges pass through pixel centres."""
    k = draw(st.integers(0, 4))
    halves = draw(st.booleans())
    rows = []
    for _ in range(k):
        if halves:
            x1, y1 = draw(st.integers(-6, 2 * width)) / 2, draw(st.integers(-6, 2 * height)) / 2
            w, h = draw(st.integers(0, 2 * width)) / 2, draw(st.integers(0, 2 * height)) / 2
        else:
            x1, y1 = draw(st.floats(-3, width)), draw(st.floats(-3, height))
            w, h = draw(st.floats(0, width)), draw(st.floats(0, height))
        rows.append([x1, y1, x1 + w, y1 + h])
    return np.array(rows, dtype=np.float64).reshape(k, 4)


@given(boxes_in_an_image(), st.integers(1, 7))
def test_an_all_ones_mask_covers_exactly_the_pixel_centres_in_its_box(boxes, m):
    pasted = paste_masks(np.ones((len(boxes), m, m)), boxes, (12, 16))
    assert pasted.shape == (len(boxes), 12, 16) and pasted.dtype == bool
    np.testing.assert_array_equal(pasted, centres_inside(boxes, 12, 16))


def test_a_box_edge_through_pixel_centres_includes_them():
    pasted = paste_masks(np.ones((1, 3, 3)), [[1.5, 0.5, 3.5, 1.0]], (3, 5))
    np.testing.assert_array_equal(pasted[0], [[0, 1, 1, 1, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]])


def test_pixels_outside_the_box_stay_false_at_any_threshold():
    pasted = paste_masks(np.zeros((1, 4, 4)), [[2, 3, 6, 7]], 10, threshold=-1.0)
    np.testing.assert_array_equal(pasted[0], centres_inside([[2, 3, 6, 7]], 10, 10)[0])


@given(boxes_in_an_image(), st.sampled_from([2, 4, 8, 28]))
def test_a_mask_on_its_left_half_gives_the_left_half_of_the_box(boxes, m):
    grid = np.zeros((len(boxes), m, m))
    grid[:, :, : m // 2] = 1.0
    pasted = paste_masks(grid, boxes, (12, 16))
    middle = (boxes[:, 0] + boxes[:, 2]) / 2  # the read crosses 0.5 exactly here
    xs = np.arange(16) + 0.5
    inside = centres_inside(boxes, 12, 16)
    left = np.broadcast_to(xs[None, None, :] < middle[:, None, None] - 1e-9, inside.shape)
    right = np.broadcast_to(xs[None, None, :] > middle[:, None, None] + 1e-9, inside.shape)
    assert pasted[inside & left].all()
    assert not pasted[right].any() and not pasted[~inside].any()


def test_paste_reads_the_grid_bilinearly_at_pixel_centres():
    # box [0, 4] with 2 cells: cell centres at x = 1 and 3; the pixel centres 0.5, 1.5, 2.5, 3.5
    # read 0 (clamped), 0.25, 0.75, 1 (clamped) of the grid [0, 1]
    grid = np.array([[[0.0, 1.0], [0.0, 1.0]]])
    for threshold, columns in [(0.5, [0, 0, 1, 1]), (0.25, [0, 1, 1, 1]), (0.26, [0, 0, 1, 1]),
                               (0.75, [0, 0, 1, 1]), (0.76, [0, 0, 0, 1]), (1.0, [0, 0, 0, 1])]:
        pasted = paste_masks(grid, [[0, 0, 4, 4]], (5, 6), threshold=threshold)
        expected = np.zeros((5, 6), dtype=bool)
        expected[:4, :4] = np.array(columns, dtype=bool)[None, :]
        np.testing.assert_array_equal(pasted[0], expected, err_msg=f"threshold {threshold}")
    # and along y, on a box that does not start at 0: cell centres at y = 3 and 5
    pasted = paste_masks(np.array([[[0.0, 0.0], [1.0, 1.0]]]), [[1, 2, 3, 6]], 7, threshold=0.7)
    np.testing.assert_array_equal(pasted[0, :, 1], [0, 0, 0, 0, 1, 1, 0])  # y centres 4.5 (0.75), 5.5 (1)


def test_roi_align_crop_pasted_back_recovers_the_shape(device):
    # Mask R-CNN's training target (the RoIAlign crop of the object's mask on its box) and its
    # inference step (paste the grid into the box) undo each other up to the 28 x 28 resolution
    scenes = make_shapes(8, image_size=64, seed=11)  # shapes of 15 to 40 pixels
    instances = scenes.instance_masks()
    for i in range(len(scenes)):
        boxes, _ = scenes.objects(i)
        k = len(boxes)
        truth = instances[i, :k]  # (k, 64, 64)
        planes = td.tensor(truth[:, None].astype(np.float32), device=device)  # each object its own image
        rois = td.tensor(np.concatenate([np.arange(k)[:, None], boxes], axis=1).astype(np.float32), device=device)
        crops = F.roi_align(planes, rois, (28, 28), spatial_scale=1.0, aligned=True)[:, 0]  # (k, 28, 28)
        pasted = paste_masks(crops, td.tensor(boxes, device=device), 64)
        in_box = truth & centres_inside(boxes, 64, 64)
        ious = np.diag(mask_iou(pasted, in_box))
        assert (ious > 0.9).all(), f"scene {i}: IoUs {ious}"


def test_paste_masks_of_no_detections():
    pasted = paste_masks(np.zeros((0, 28, 28)), np.zeros((0, 4)), (5, 7))
    assert pasted.shape == (0, 5, 7) and pasted.dtype == bool


@pytest.mark.parametrize("masks, boxes, size, threshold, error, message", [
    (np.ones((1, 3, 4, 4)), [[0, 0, 2, 2]], 8, 0.5, ValueError, r"paste_masks: masks .*\(K, m, m\).*\(1, 3, 4, 4\)"),
    (np.ones((2, 4, 4)), [[0, 0, 2, 2]], 8, 0.5, ValueError, r"paste_masks: .*one box per mask.*\(2, 4, 4\).*\(1, 4\)"),
    (np.ones((1, 4, 4)), [[2, 0, 1, 2]], 8, 0.5, ValueError, r"paste_masks: boxes must be \[x1, y1, x2, y2\]"),
    (np.full((1, 4, 4), np.nan), [[0, 0, 2, 2]], 8, 0.5, ValueError, r"paste_masks: masks .*NaN"),
    (np.ones((1, 4, 4)), [[0, 0, 2, 2]], 0, 0.5, ValueError, r"paste_masks: image_size .* got 0"),
    (np.ones((1, 4, 4)), [[0, 0, 2, 2]], (8, 2.5), 0.5, ValueError, r"paste_masks: image_size"),
    (np.ones((1, 4, 4)), [[0, 0, 2, 2]], 8, None, TypeError, r"paste_masks: threshold .* None"),
    (np.full((1, 4, 4), "x"), [[0, 0, 2, 2]], 8, 0.5, TypeError, r"paste_masks: masks must hold numbers"),
])
def test_paste_masks_errors(masks, boxes, size, threshold, error, message):
    with pytest.raises(error, match=message):
        paste_masks(masks, boxes, size, threshold=threshold)


# ---- mask AP ---------------------------------------------------------------------------
def test_perfect_masks_score_one():
    scenes = make_shapes(6, image_size=32, seed=4)
    instances = scenes.instance_masks()
    predictions, targets = [], []
    for i in range(len(scenes)):
        _, labels = scenes.objects(i)
        masks = instances[i, :len(labels)]
        predictions.append((masks, np.linspace(0.9, 0.5, len(labels)), labels))
        targets.append((masks, labels))
    result = mask_mean_average_precision(predictions, targets, num_classes=3)
    assert result.map == pytest.approx(1.0, abs=1e-12)


def test_a_mask_of_iou_0_4_is_a_false_positive_at_0_5_and_a_true_positive_at_0_3():
    truth = rectangle(0, 0, 5, 2)[None]  # 10 pixels
    guess = rectangle(0, 0, 2, 2)[None]  # 4 of them: IoU 0.4
    assert mask_iou(guess, truth)[0, 0] == pytest.approx(0.4, abs=1e-12)
    predictions, targets = [(guess, [0.9], [0])], [(truth, [0])]
    at_half = mask_mean_average_precision(predictions, targets, num_classes=1, iou_threshold=0.5)
    at_0_3 = mask_mean_average_precision(predictions, targets, num_classes=1, iou_threshold=0.3)
    assert at_half.map == 0.0 and at_0_3.map == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(at_half.curves[0].precision, [0.0], atol=1e-12)


def test_a_duplicate_mask_is_a_false_positive():
    truth = rectangle(0, 0, 4, 4)[None]
    predictions = [(np.concatenate([truth, truth]), [0.9, 0.8], [0, 0])]
    result = mask_mean_average_precision(predictions, [(truth, [0])], num_classes=1)
    np.testing.assert_allclose(result.curves[0].precision, [1.0, 0.5], atol=1e-12)
    np.testing.assert_allclose(result.curves[0].recall, [1.0, 1.0], atol=1e-12)
    assert result.map == pytest.approx(1.0, abs=1e-12)


@st.composite
def box_shaped_detections(draw, size=10, num_classes=2):
    """Images of integer boxes with labels (and scores for the predictions), each box also as its pixels."""
    def boxes(n):
        rows = []
        for _ in range(n):
            x1, y1 = draw(st.integers(0, size - 1)), draw(st.integers(0, size - 1))
            rows.append([x1, y1, draw(st.integers(x1 + 1, size)), draw(st.integers(y1 + 1, size))])
        return np.array(rows, dtype=np.float64).reshape(n, 4)

    def pixels(b):
        return np.array([rectangle(*map(int, row), size=size) for row in b], dtype=bool).reshape(len(b), size, size)

    box_predictions, mask_predictions, box_targets, mask_targets = [], [], [], []
    for _ in range(draw(st.integers(1, 3))):
        k, g = draw(st.integers(0, 5)), draw(st.integers(0, 4))
        p, t = boxes(k), boxes(g)
        scores = np.array(draw(st.lists(st.sampled_from([0.2, 0.5, 0.9]), min_size=k, max_size=k)))
        labels = np.array(draw(st.lists(st.integers(0, num_classes - 1), min_size=k, max_size=k)), dtype=np.int64)
        truth_labels = np.array(draw(st.lists(st.integers(0, num_classes - 1), min_size=g, max_size=g)),
                                dtype=np.int64)
        box_predictions.append((p, scores, labels))
        mask_predictions.append((pixels(p), scores, labels))
        box_targets.append((t, truth_labels))
        mask_targets.append((pixels(t), truth_labels))
    return box_predictions, box_targets, mask_predictions, mask_targets


@given(box_shaped_detections(), st.sampled_from([0.1, 0.3, 0.5, 0.75]))
def test_box_shaped_masks_score_as_their_boxes(sets, threshold):
    box_predictions, box_targets, mask_predictions, mask_targets = sets
    by_boxes = mean_average_precision(box_predictions, box_targets, 2, iou_threshold=threshold)
    by_masks = mask_mean_average_precision(mask_predictions, mask_targets, 2, iou_threshold=threshold)
    np.testing.assert_allclose(by_masks.ap, by_boxes.ap, rtol=1e-12, atol=1e-12)  # nan where no ground truth
    for mine, theirs in zip(by_masks.curves, by_boxes.curves):
        np.testing.assert_allclose(mine.precision, theirs.precision, rtol=1e-12, atol=1e-12)


def test_mask_ap_takes_tensors_and_empty_predictions(device):
    truth = rectangle(0, 0, 4, 4)[None]
    predictions = [(td.tensor(truth, device=device), td.tensor([0.9], device=device), td.tensor([1], device=device)),
                   ([], [], [])]
    targets = [(truth, [1]), (rectangle(2, 2, 5, 5)[None], np.array([1]))]
    result = mask_mean_average_precision(predictions, targets, num_classes=2)
    assert np.isnan(result.ap[0]) and result.ap[1] == pytest.approx(0.5, abs=1e-12)


@pytest.mark.parametrize("predictions, targets, num_classes, message", [
    ([(np.ones((1, 4, 4), bool), [0.5], [0])], [], 1, r"one entry per image"),
    ([(np.ones((1, 4, 4), bool), [0.5], [0])], [(np.ones((1, 4, 5), bool), [0])], 1, r"same image size"),
    ([(np.ones((1, 4, 4), bool), [0.5], [3])], [(np.ones((1, 4, 4), bool), [0])], 2, r"labels must be class"),
    ([(np.ones((1, 4, 4), bool), [0.5])], [(np.ones((1, 4, 4), bool), [0])], 1, r"must be a tuple \(masks"),
    ([(np.ones((1, 4, 4), bool), [0.5, 0.1], [0])], [(np.ones((1, 4, 4), bool), [0])], 1, r"scores must have"),
    ([(np.full((1, 4, 4), 0.7), [0.5], [0])], [(np.ones((1, 4, 4), bool), [0])], 1, r"only 0 and 1"),
    ([(np.ones((1, 4, 4), bool), [0.5], [0])], [(np.ones((1, 4, 4), bool), [0])], 0, r"num_classes"),
])
def test_mask_ap_errors_name_the_function(predictions, targets, num_classes, message):
    with pytest.raises(ValueError, match="mask_mean_average_precision: .*" + message):
        mask_mean_average_precision(predictions, targets, num_classes)
