"""TinyYOLO (tinydl/models/yolo.py): target encoding, the loss and its terms, gradients, decoding and detection,
and the example's smoke run (docs/detection.md)."""
import json

import numpy as np
import pytest
from test_examples import run_example

import tinydl as td
from tinydl.models import TinyYOLO, decode, decode_boxes, encode_targets, yolo_loss
from tinydl.vision import box_iou


def logit(p):
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p) - np.log1p(-p)


def perfect_predictions(targets, boxes_per_cell=2, num_classes=3, big=30.0):
    """Raw outputs (N, S, S, 5B + C) that a perfect detector would give for ``targets``: box 0 of each
    object's cell is the object exactly with confidence ~1, every other box is a tiny box with
    confidence ~0, and the class logits are +-big."""
    N, S = targets.mask.shape[:2]
    B, C = boxes_per_cell, num_classes
    out = np.zeros((N, S, S, 5 * B + C))
    for j in range(B):
        out[..., 5 * j: 5 * j + 2] = logit(np.full((N, S, S, 2), 0.5))
        out[..., 5 * j + 2: 5 * j + 4] = -8.0  # sigmoid(-8) ** 2 * 64 pixels: a box of about 0.01 pixels
        out[..., 5 * j + 4] = -big
    out[..., 0:2] = np.where(targets.mask[..., None], logit(targets.xy), out[..., 0:2])
    out[..., 2:4] = np.where(targets.mask[..., None], logit(targets.wh), out[..., 2:4])
    out[..., 4] = np.where(targets.mask, big, -big)
    onehot = np.eye(C)[np.maximum(targets.labels, 0)]  # (N, S, S, C)
    out[..., 5 * B:] = np.where(targets.mask[..., None], big * (2 * onehot - 1), 0.0)
    return out


# ---- target encoding ----------------------------------------------------------------------
def test_encode_targets_puts_each_object_in_the_cell_of_its_centre():
    # 64-pixel images, an 8x8 grid: cells of 8 pixels
    boxes = np.array([[[4, 18, 20, 40], [40, 0, 64, 16], [0, 0, 0, 0]],     # centres (12, 29) and (52, 8)
                      [[16, 16, 32, 48], [0, 0, 0, 0], [0, 0, 0, 0]]], float)  # centre (24, 32): on cell corners
    labels = np.array([[2, 0, -1], [1, -1, -1]])
    t = encode_targets(boxes, labels, grid_size=8, image_size=64)
    assert t.mask.shape == (2, 8, 8) and t.xy.shape == (2, 8, 8, 2) and t.wh.shape == (2, 8, 8, 2)
    np.testing.assert_array_equal(np.argwhere(t.mask), [[0, 1, 6], [0, 3, 1], [1, 4, 3]])  # (image, row, col)
    np.testing.assert_allclose(t.xy[0, 3, 1], [12 / 8 - 1, 29 / 8 - 3])  # (0.5, 0.625)
    np.testing.assert_allclose(t.wh[0, 3, 1], [np.sqrt(16 / 64), np.sqrt(22 / 64)])
    np.testing.assert_allclose(t.xy[0, 1, 6], [0.5, 0.0])  # y = 8 is the top edge of row 1
    np.testing.assert_allclose(t.xy[1, 4, 3], [0.0, 0.0])  # a centre on a corner belongs to the cell below right
    np.testing.assert_allclose(t.wh[1, 4, 3], [0.5, np.sqrt(0.5)])
    assert t.labels[0, 3, 1] == 2 and t.labels[0, 1, 6] == 0 and t.labels[1, 4, 3] == 1
    assert (t.labels[~t.mask] == -1).all() and (t.xy[~t.mask] == 0).all()  # padding and empty cells: nothing


def test_encode_targets_gives_a_shared_cell_to_the_larger_object():
    boxes = np.array([[[10, 10, 12, 12], [2, 2, 20, 20], [8, 8, 14, 14]]], float)  # all three centred in cell (1, 1)
    t = encode_targets(boxes, np.array([[0, 1, 2]]), grid_size=8, image_size=64)
    assert t.mask.sum() == 1 and t.labels[0, 1, 1] == 1
    np.testing.assert_allclose(t.wh[0, 1, 1], [np.sqrt(18 / 64)] * 2)


def test_decode_of_encode_recovers_the_boxes():
    scenes = td.data.make_shapes(300, seed=3)
    t = encode_targets(scenes.boxes, scenes.labels)
    real = scenes.labels >= 0
    assert t.mask.sum() == real.sum()  # no two centres share a cell in these scenes
    decoded = decode_boxes(t.xy, t.wh, image_size=64)[t.mask]  # (K, 4), cells in (image, row, col) order
    truth = scenes.boxes[real]
    order = lambda b: np.lexsort(b.T[::-1])
    np.testing.assert_allclose(decoded[order(decoded)], truth[order(truth)], atol=1e-4)
    np.testing.assert_array_equal(np.sort(t.labels[t.mask]), np.sort(scenes.labels[real]))


def test_encode_targets_checks_shapes():
    with pytest.raises(ValueError, match=r"encode_targets: need boxes \(N, M, 4\)"):
        encode_targets(np.zeros((2, 3, 4)), np.zeros((2, 2), dtype=np.int64))


# ---- the loss --------------------------------------------------------------------------------
def _scenes_and_targets(n=4, seed=0):
    scenes = td.data.make_shapes(n, seed=seed)
    return scenes, encode_targets(scenes.boxes, scenes.labels)


def test_loss_is_zero_for_a_perfect_prediction_and_each_term_rises_with_its_error():
    """rescore=False keeps the terms apart: with rescore, a worse box also lowers its own obj target."""
    _, t = _scenes_and_targets()
    perfect = perfect_predictions(t)
    total, terms = yolo_loss(td.tensor(perfect), t, boxes_per_cell=2)
    assert set(terms) == {"coord", "obj", "noobj", "class"}
    assert total.item() < 1e-8 and all(abs(v.item()) < 1e-8 for v in terms.values())

    n, row, col = np.argwhere(t.mask)[0]
    empty = np.argwhere(~t.mask)[0]
    wrong = {"coord": ((n, row, col, 0), 1.0),  # box 0's t_x: the centre moves
             "obj": ((n, row, col, 4), -1.0),  # the responsible box's confidence
             "noobj": ((*empty, 4), 0.0),  # an empty cell claims an object
             "class": ((n, row, col, 10 + t.labels[n, row, col]), -30.0)}  # the right class loses its logit
    for name, (index, value) in wrong.items():
        spoiled = perfect.copy()
        spoiled[index] = value
        total, terms = yolo_loss(td.tensor(spoiled), t, boxes_per_cell=2, rescore=False)
        assert terms[name].item() > 1e-3, name
        assert all(abs(v.item()) < 1e-8 for k, v in terms.items() if k != name), name
        np.testing.assert_allclose(total.item(), sum(v.item() for v in terms.values()), rtol=1e-12)


def test_the_better_fitting_box_is_responsible():
    """Swap the cell's two boxes: the loss stays zero, because responsibility moves with the better box."""
    _, t = _scenes_and_targets()
    swapped = perfect_predictions(t)
    swapped[..., 0:5], swapped[..., 5:10] = swapped[..., 5:10].copy(), swapped[..., 0:5].copy()
    assert yolo_loss(td.tensor(swapped), t, boxes_per_cell=2)[0].item() < 1e-8
    # with box 1 responsible, box 0 confident (and box 1 not) costs obj and noobj
    swapped[..., 4], swapped[..., 9] = 30.0, -30.0
    _, terms = yolo_loss(td.tensor(swapped), t, boxes_per_cell=2)
    assert terms["obj"].item() > 1 and terms["noobj"].item() > 1


def test_rescore_targets_the_iou_of_the_responsible_box():
    """obj = sum over objects of (conf - IoU(box, truth))^2 / N, the IoU checked with tinydl.vision.box_iou."""
    boxes, labels = np.array([[[8, 8, 40, 24]]], float), np.array([[1]])
    t = encode_targets(boxes, labels)  # centre (24, 16): cell (2, 3), offsets (0, 0)
    out = perfect_predictions(t, boxes_per_cell=1)
    out[0, 2, 3, :5] = [0.3, -0.2, 0.4, 0.1, 0.25]  # some box, confidence sigmoid(0.25)
    _, terms = yolo_loss(td.tensor(out), t, boxes_per_cell=1)
    sig = 1 / (1 + np.exp(-out[0, 2, 3, :5]))
    cx, cy, w, h = (3 + sig[0]) * 8, (2 + sig[1]) * 8, sig[2] ** 2 * 64, sig[3] ** 2 * 64
    iou = box_iou(np.array([[cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]]), boxes[0])[0, 0]
    assert 0.2 < iou < 0.9
    np.testing.assert_allclose(terms["obj"].item(), (sig[4] - iou) ** 2, rtol=1e-10)
    _, terms = yolo_loss(td.tensor(out), t, boxes_per_cell=1, rescore=False)
    np.testing.assert_allclose(terms["obj"].item(), (sig[4] - 1) ** 2, rtol=1e-10)


def test_loss_gradcheck_with_respect_to_the_predictions():
    """rescore=False: with rescore the target is the IoU of the prediction itself, held constant
    (no gradient, as in darknet), which finite differences would see change."""
    _, t = _scenes_and_targets(n=2, seed=1)
    predictions = td.tensor(np.random.default_rng(0).normal(0, 1.5, (2, 8, 8, 13)), requires_grad=True)
    loss = lambda p: yolo_loss(p, t, boxes_per_cell=2, rescore=False, lambda_noobj=0.7)[0]
    assert td.gradcheck(loss, [predictions])


def test_tiny_yolo_gradcheck_through_the_whole_network():
    """d loss / d image and / d the first conv's weights, through conv, batch norm, leaky ReLU, max-pool and head."""
    td.manual_seed(0)
    model = TinyYOLO(num_classes=2, grid_size=2, boxes_per_cell=1, image_size=8, width=2).double()
    rng = np.random.default_rng(0)
    images = td.tensor(rng.uniform(0, 1, (2, 3, 8, 8)), requires_grad=True)
    boxes, labels = np.array([[[0, 0, 4, 6]], [[3, 2, 8, 8]]], float), np.array([[1], [0]])
    weight = model.backbone[0].weight  # a Parameter: gradcheck perturbs it in place
    assert td.gradcheck(lambda x, w: model.loss(model(x), boxes, labels, rescore=False)[0], [images, weight])


def test_loss_on_each_device_matches_the_cpu(device):
    _, t = _scenes_and_targets(n=3)
    raw = np.random.default_rng(2).normal(0, 1, (3, 8, 8, 13)).astype(np.float32)
    expected = [v.item() for v in yolo_loss(td.tensor(raw), t, boxes_per_cell=2)[1].values()]
    predictions = td.tensor(raw, device=device, requires_grad=True)
    total, terms = yolo_loss(predictions, t, boxes_per_cell=2)
    total.backward()
    np.testing.assert_allclose([v.item() for v in terms.values()], expected, rtol=1e-5)
    assert predictions.grad.device == device


# ---- decoding and detection ------------------------------------------------------------------
def test_detect_on_a_perfect_prediction_returns_the_ground_truth():
    scenes, t = _scenes_and_targets(n=5)
    model = TinyYOLO(boxes_per_cell=2)
    perfect = td.tensor(perfect_predictions(t).astype(np.float32))
    model.forward = lambda images: perfect[: len(images)]
    detections = model.detect(scenes.images, conf_threshold=0.5)
    assert len(detections) == 5
    for i, (boxes, scores, labels) in enumerate(detections):
        truth_boxes, truth_labels = scenes.objects(i)
        assert len(boxes) == len(truth_boxes) and (scores > 0.99).all()
        found, truth = np.argsort(boxes[:, 0]), np.argsort(truth_boxes[:, 0])  # compare in order of x1
        np.testing.assert_allclose(boxes[found], truth_boxes[truth], atol=1e-3)
        np.testing.assert_array_equal(labels[found], truth_labels[truth])


def test_decode_and_detect_shapes_and_score_order():
    td.manual_seed(0)
    model = TinyYOLO(boxes_per_cell=2, width=4)
    images = td.data.make_shapes(3, seed=0).images
    raw = model(td.tensor(images))
    boxes, scores, labels = decode(raw, boxes_per_cell=2, image_size=64)
    assert boxes.shape == (3, 128, 4) and scores.shape == (3, 128) and labels.shape == (3, 128)
    # by hand: score = sigmoid(t_c) * max softmax(class logits), box 1 of cell (row 2, col 5) of image 1
    out = raw.detach().numpy().astype(np.float64)[1, 2, 5]
    sig = 1 / (1 + np.exp(-out[5:10]))
    p = np.exp(out[10:]) / np.exp(out[10:]).sum()
    k = (2 * 8 + 5) * 2 + 1  # boxes are in (row, col, box) order
    np.testing.assert_allclose(scores[1, k], sig[4] * p.max(), rtol=1e-5)
    assert labels[1, k] == p.argmax()
    cx, cy, half = (5 + sig[0]) * 8, (2 + sig[1]) * 8, np.array([sig[2], sig[3]]) ** 2 * 32
    np.testing.assert_allclose(boxes[1, k], [cx - half[0], cy - half[1], cx + half[0], cy + half[1]], rtol=1e-5)
    assert model.training  # detect switches to eval mode and back
    detections = model.detect(images, conf_threshold=0.0, iou_threshold=0.3)
    assert len(detections) == 3 and model.training
    for b, s, l in detections:
        assert b.shape == (len(s), 4) and l.shape == s.shape and l.dtype == np.int64 and 0 < len(s) <= 128
        assert (np.diff(s) <= 0).all()  # decreasing score
        same_class = l[:, None] == l[None, :]
        overlap = box_iou(b, b) > 0.3
        assert not (overlap & same_class & ~np.eye(len(s), dtype=bool)).any()  # NMS left no duplicates


def test_tiny_yolo_checks_its_arguments():
    with pytest.raises(ValueError, match="TinyYOLO: image_size / grid_size must be a power of 2"):
        TinyYOLO(image_size=60, grid_size=8)
    with pytest.raises(ValueError, match=r"TinyYOLO: images must have shape \(N, 3, 64, 64\), got \(1, 3, 32, 32\)"):
        TinyYOLO(width=2)(td.zeros(1, 3, 32, 32))
    assert TinyYOLO(grid_size=4, boxes_per_cell=1, width=2)(td.zeros(2, 3, 64, 64)).shape == (2, 4, 4, 8)


# ---- the example ---------------------------------------------------------------------------------
def test_train_yolo_smoke(tmp_path):
    run_example("train_yolo.py", tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert {"map50", "map75", "ap_per_class", "ap75_per_class", "seconds", "seed"} <= set(metrics)
    assert set(metrics["ap_per_class"]) == {"circle", "square", "triangle"}
    assert 0 <= metrics["map75"] <= metrics["map50"] < 0.5  # two steps cannot detect yet
    for name in ("loss.png", "pr_curves.png", "detections.png", "checkpoint.npz"):
        assert (tmp_path / name).stat().st_size > 0


def test_train_yolo_resumes_its_history(tmp_path):
    run_example("train_yolo.py", tmp_path)  # --smoke: 1 epoch of 2 steps
    state = td.load(tmp_path / "checkpoint.npz")
    assert state["progress"]["epoch"] == 1 and state["progress"]["step"] == 2
    state["progress"]["loss"]["total"][0] = 123.0  # a mark: a restarted run would not carry it
    td.save(state, tmp_path / "checkpoint.npz")
    run_example("train_yolo.py", tmp_path, "--resume", "--epochs", "2", "--scenes-per-epoch", "32",
                "--batch-size", "16", "--val-scenes", "32")
    progress = td.load(tmp_path / "checkpoint.npz")["progress"]
    assert progress["epoch"] == 2 and progress["step"] == 4
    assert len(progress["loss"]["total"]) == len(progress["loss"]["coord"]) == 4  # continued, not restarted
    assert progress["loss"]["total"][0] == 123.0
    assert [row[0] for row in progress["val_map"]] == [1, 2]
