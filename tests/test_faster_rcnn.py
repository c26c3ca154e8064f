"""FasterRCNN (tinydl/models/faster_rcnn.py): the loss terms' gradients (also through RoIAlign and RoIPool),
the training targets of both stages, proposals, detection, the losses on each device, and the example's
smoke runs (docs/faster_rcnn.md)."""
import json

import numpy as np
import pytest
from test_examples import COMMON_KEYS, METRIC_KEYS, assert_finite, run_example, smoke

import tinydl as td
from tinydl.data import make_shapes
from tinydl.models import FasterRCNN, MaskHead, RoIHead, mask_loss, mask_targets, roi_head_loss, rpn_loss
from tinydl import functional as F
from tinydl.models.faster_rcnn import ROI_WEIGHTS, RPN_WEIGHTS, RegionProposalNetwork
from tinydl.vision import box_iou, clip_boxes, decode_boxes, encode_boxes

EXAMPLE = "train_faster_rcnn.py"


def _scenes(n, seed=0):
    """n shapes scenes; boxes as float64, as ``losses`` uses them."""
    scenes = make_shapes(n, seed=seed)
    return scenes, scenes.boxes.astype(np.float64), scenes.labels


# ---- gradients -------------------------------------------------------------------------------
def test_rpn_loss_gradcheck():
    rng = np.random.default_rng(0)
    objectness = td.tensor(rng.normal(0, 2, 12), requires_grad=True)  # 12 sampled anchors
    is_object = td.tensor((rng.random(12) < 0.4).astype(np.float64))
    deltas = td.tensor(rng.normal(0, 0.5, (5, 4)), requires_grad=True)  # 5 positives: both sides of beta = 1/9
    targets = td.tensor(rng.normal(0, 0.5, (5, 4)))
    assert td.gradcheck(lambda o, d: rpn_loss(o, is_object, d, targets), [objectness, deltas])


def test_roi_head_loss_gradcheck():
    rng = np.random.default_rng(1)
    class_logits = td.tensor(rng.normal(0, 2, (6, 4)), requires_grad=True)  # 6 RoIs, 3 classes + background
    classes = td.tensor(np.array([0, 2, 0, 3, 1, 0]))
    deltas = td.tensor(rng.normal(0, 1.5, (3, 4)), requires_grad=True)  # the 3 positives' own-class deltas
    targets = td.tensor(rng.normal(0, 1.5, (3, 4)))
    assert td.gradcheck(lambda c, d: roi_head_loss(c, classes, d, targets), [class_logits, deltas])


def test_mask_loss_gradcheck():
    rng = np.random.default_rng(2)
    logits = td.tensor(rng.normal(0, 2, (3, 5, 5)), requires_grad=True)
    targets = td.tensor((rng.random((3, 5, 5)) < 0.5).astype(np.float64))
    assert td.gradcheck(lambda x: mask_loss(x, targets), [logits])


# Three RoIs on a (2, 4, 6, 6) stride-4 feature map (24 x 24 pixel images): [image, x1, y1, x2, y2].
ROIS = np.array([[0, 1.3, 2.1, 17.6, 20.4], [1, 5.2, 0.7, 23.1, 14.9], [1, 0.4, 6.3, 11.8, 22.5]])
CLASSES = np.array([1, 0, 2])  # u of each RoI: rows 0 and 2 positive


@pytest.mark.parametrize("roi", ["align", "pool"])
def test_roi_head_loss_gradcheck_through_the_roi_op(roi):
    """d L_roi / d features through FasterRCNN.pool (RoIAlign's bilinear weights, or RoIPool's max:
    random features have no ties) and a float64 RoI head."""
    td.manual_seed(0)
    model = FasterRCNN(num_classes=2, width=1, roi=roi)  # width 1: 4 feature channels
    head = RoIHead(4, 3, num_classes=2, hidden=8).double()
    rng = np.random.default_rng(3)
    features = td.tensor(rng.normal(0, 1, (2, 4, 6, 6)), requires_grad=True)
    positive = np.nonzero(CLASSES)[0]
    targets = td.tensor(rng.normal(0, 1, (len(positive), 4)))

    def loss(x):
        class_logits, deltas = head(model.pool(x, ROIS, 3))
        return sum(roi_head_loss(class_logits, td.tensor(CLASSES), deltas[positive, CLASSES[positive] - 1], targets))

    assert td.gradcheck(loss, [features])


@pytest.mark.parametrize("roi", ["align", "pool"])
def test_mask_loss_gradcheck_through_the_roi_op(roi):
    td.manual_seed(0)
    model = FasterRCNN(num_classes=2, width=1, roi=roi)
    head = MaskHead(4, num_classes=2, hidden=4).double()
    rng = np.random.default_rng(4)
    features = td.tensor(rng.normal(0, 1, (2, 4, 6, 6)), requires_grad=True)
    positive = np.nonzero(CLASSES)[0]
    targets = td.tensor((rng.random((len(positive), 6, 6)) < 0.5).astype(np.float64))

    def loss(x):
        logits = head(model.pool(x, ROIS[positive], 3))  # (P, 2, 6, 6)
        return mask_loss(logits[np.arange(len(positive)), CLASSES[positive] - 1], targets)

    assert td.gradcheck(loss, [features])


def test_losses_backward_reaches_every_parameter():
    """The whole ``losses`` is not gradchecked with respect to the parameters: the proposals (and so the
    sampled RoIs and their targets) are constants of the step that move with the parameters, the
    paper's approximate joint training, so finite differences see a different function.  Instead: each
    of the five terms reaches the shared backbone, and one backward gives every parameter of every part
    (backbone, RPN, RoI head, mask head) a gradient."""
    scenes, boxes, labels = _scenes(2, seed=1)
    td.manual_seed(0)
    model = FasterRCNN(width=2, mask=True)
    total, terms = model.losses(td.tensor(scenes.images), boxes, labels, scenes.instance_masks(),
                                gen=np.random.default_rng(0))
    assert set(terms) == {"rpn_objectness", "rpn_box", "roi_class", "roi_box", "mask"}
    np.testing.assert_allclose(total.item(), sum(t.item() for t in terms.values()), rtol=1e-6, atol=1e-7)
    shared = model.backbone.layers[-3].weight  # the last convolution's
    for name, term in terms.items():
        (gradient,) = td.autograd.grad(term, [shared], retain_graph=True, allow_unused=True)
        assert gradient is not None and np.abs(gradient.numpy()).max() > 0, name
    total.backward()
    names = [name for name, _ in model.named_parameters()]
    assert {name.split(".")[0] for name in names} == {"backbone", "rpn", "roi_head", "mask_head"}
    for name, p in model.named_parameters():
        assert p.grad is not None and np.abs(p.grad.numpy()).max() > 0, name


# ---- training targets ------------------------------------------------------------------------
def test_rpn_targets_decode_back_to_their_truths():
    """The positive anchors' t* (encode_boxes) decoded from the same anchors give back the truths."""
    _, boxes, labels = _scenes(6, seed=2)
    model = FasterRCNN(width=2)
    matched, positive, negative = model.sample_anchors(boxes, labels >= 0, np.random.default_rng(0))
    image, anchor = np.nonzero(positive)
    assert len(image) > 0 and (labels[image, matched[image, anchor]] >= 0).all()  # positives match real truths
    truths, anchors = boxes[image, matched[image, anchor]], model.anchors[anchor]
    targets = encode_boxes(truths, anchors, RPN_WEIGHTS)
    np.testing.assert_allclose(decode_boxes(targets, anchors, RPN_WEIGHTS), truths, rtol=1e-9, atol=1e-9)
    # a positive is its truth's best anchor or overlaps it by >= 0.7; a negative overlaps every truth by < 0.3
    for i in range(len(boxes)):
        iou = box_iou(model.anchors, boxes[i][labels[i] >= 0])  # (K, m)
        pos = np.nonzero(positive[i])[0]
        best = iou[pos, matched[i, pos]] >= iou.max(axis=0)[matched[i, pos]]
        assert ((iou[pos, matched[i, pos]] >= 0.7) | best).all()
        assert (iou[negative[i]].max(axis=1) < 0.3).all()


def test_every_truth_has_a_positive_anchor():
    """keep_best: even a 4 x 40 box, which no anchor (h/w at most 2) overlaps by 0.7, gets its best anchor."""
    scenes, boxes, labels = _scenes(8, seed=3)
    boxes[0, 0], labels[0, 0] = [10, 12, 14, 52], 1
    model = FasterRCNN(width=2)
    assert box_iou(boxes[0, :1], model.anchors).max() < 0.7
    matched, positive, _ = model.sample_anchors(boxes, labels >= 0, np.random.default_rng(0))
    for i in range(len(boxes)):
        for j in np.nonzero(labels[i] >= 0)[0]:
            assert (matched[i] == j).any() and (positive[i] & (matched[i] == j)).any(), (i, j)


def test_sample_anchors_takes_at_most_256_per_image_half_positive():
    _, boxes, labels = _scenes(4, seed=4)
    model = FasterRCNN(width=2)
    matched, positive, negative = model.sample_anchors(boxes, labels >= 0, np.random.default_rng(0))
    assert not (positive & negative).any()
    assert (matched[positive] >= 0).all() and (matched[negative] == -1).all()
    np.testing.assert_array_equal((positive | negative).sum(axis=1), 256)  # thousands of negatives to fill up
    assert (positive.sum(axis=1) <= 128).all()
    # a budget small enough that the positive fraction binds (3 to 10 positives here): 2 of 4
    _, positive, negative = model.sample_anchors(boxes, labels >= 0, np.random.default_rng(0), batch=4)
    assert (matched >= 0).sum(axis=1).min() > 2
    np.testing.assert_array_equal(positive.sum(axis=1), 2)
    np.testing.assert_array_equal(negative.sum(axis=1), 2)


def _proposals(boxes, labels, rng, per_image=20):
    """Fake proposals: jittered truths (some positive, some not) and random boxes, per image."""
    out = []
    for b, l in zip(boxes, labels):
        truths = b[l >= 0]
        jittered = np.repeat(truths, 4, axis=0) + rng.normal(0, 4, (4 * len(truths), 4))
        x, y = rng.uniform(0, 48, (2, per_image))
        w, h = rng.uniform(6, 30, (2, per_image))
        random = np.stack([x, y, x + w, y + h], axis=1)
        out.append(clip_boxes(np.concatenate([jittered, random]), 64))
    return out


def test_sample_rois_includes_every_truth_as_a_perfect_positive():
    _, boxes, labels = _scenes(4, seed=5)
    model = FasterRCNN(width=2)
    proposals = _proposals(boxes, labels, np.random.default_rng(0))
    rois, classes, truth = model.sample_rois(proposals, boxes, labels, np.random.default_rng(0), batch=10_000,
                                             positive_fraction=1.0)
    image = rois[:, 0].astype(np.int64)
    # a large budget samples every candidate: each is positive or negative (IoU 0.5 splits them)
    np.testing.assert_array_equal(np.bincount(image, minlength=4), [len(p) + (l >= 0).sum()
                                                                   for p, l in zip(proposals, labels)])
    positive = classes > 0
    np.testing.assert_array_equal(classes[positive], labels[image[positive], truth[positive]] + 1)
    assert (truth[~positive] == -1).all() and (classes[~positive] == 0).all()
    for r in range(len(rois)):
        iou = box_iou(rois[r:r + 1, 1:], boxes[image[r]][labels[image[r]] >= 0])[0]
        assert (iou[truth[r]] >= 0.5 and iou[truth[r]] == iou.max()) if positive[r] else iou.max() < 0.5
    for i in range(4):
        for j in np.nonzero(labels[i] >= 0)[0]:
            own = positive & (image == i) & (truth == j) & (rois[:, 1:] == boxes[i, j]).all(axis=1)
            assert own.sum() == 1, (i, j)
            targets = encode_boxes(boxes[i, j], rois[own, 1:][0], ROI_WEIGHTS)
            np.testing.assert_allclose(targets, 0, atol=1e-12)


def test_sample_rois_respects_the_budget_and_the_positive_fraction():
    _, boxes, labels = _scenes(4, seed=6)
    proposals = _proposals(boxes, labels, np.random.default_rng(1), per_image=60)
    rois, classes, _ = FasterRCNN(width=2).sample_rois(proposals, boxes, labels, np.random.default_rng(0))
    image = rois[:, 0].astype(np.int64)
    np.testing.assert_array_equal(np.bincount(image, minlength=4), 64)  # 64 per image by default
    assert (np.bincount(image[classes > 0], minlength=4) <= 16).all()  # at most a quarter positive
    assert (classes > 0).sum() > 0


def test_mask_targets_crop_the_chosen_truths_mask():
    """Truth ``which`` = image * M + slot: an all-ones region around the box crops to all ones, another
    slot's empty mask to all zeros."""
    instance_masks = np.zeros((2, 3, 32, 32), dtype=bool)
    instance_masks[1, 2, 4:30, 6:28] = True  # one pixel beyond the box on every side
    box = np.array([[8.0, 5.5, 25.0, 28.7]] * 2)
    targets = mask_targets(instance_masks, np.array([1 * 3 + 2, 0 * 3 + 2]), box, 28)
    assert targets.shape == (2, 28, 28) and targets.dtype == np.float32
    assert (targets[0] == 1).all() and (targets[1] == 0).all()


def test_mask_targets_of_a_truths_own_box_reproduce_its_instance_mask():
    """Against nearest sampling at the 28 x 28 cell centres: RoIAlign's 2 x 2 bilinear samples per cell,
    thresholded, differ from it only on the shape's outline."""
    scenes, boxes, labels = _scenes(20, seed=7)
    masks = scenes.instance_masks()
    M = labels.shape[1]
    image, slot = np.nonzero(labels >= 0)
    targets = mask_targets(masks, image * M + slot, boxes[image, slot], 28)  # (P, 28, 28)
    centres = (np.arange(28) + 0.5) / 28
    for t, i, j in zip(targets, image, slot):
        x1, y1, x2, y2 = boxes[i, j]
        rows = np.floor(y1 + centres * (y2 - y1)).astype(np.int64)
        cols = np.floor(x1 + centres * (x2 - x1)).astype(np.int64)
        nearest = masks[i, j][rows[:, None], cols[None, :]]
        assert (nearest == (t == 1)).mean() >= 0.95, (i, j)
        assert set(np.unique(t)) <= {0.0, 1.0}


# ---- proposals -------------------------------------------------------------------------------
def _expected_proposals(scores, boxes, pre, post, threshold, min_size):
    """Faster R-CNN's section 3.3 written out: top pre by score, min size, greedy NMS, top post."""
    order = np.argsort(-scores, kind="stable")[:pre]
    kept = []
    for k in order:
        box = boxes[k]
        if min(box[2] - box[0], box[3] - box[1]) < min_size:
            continue
        if all(box_iou(box[None], boxes[m][None])[0, 0] <= threshold for m in kept):
            kept.append(k)
    return boxes[kept[:post]]


def test_propose_is_top_n_min_size_and_nms_of_the_decoded_anchors():
    model = FasterRCNN(width=2)
    K = len(model.anchors)
    rng = np.random.default_rng(0)
    logits, deltas = rng.normal(0, 1, (2, K)), rng.normal(0, 0.5, (2, K, 4))
    pre, post, threshold, min_size = 200, 30, 0.6, 8.0
    proposals = model.propose(td.tensor(logits), td.tensor(deltas), pre, post, threshold, min_size)
    assert len(proposals) == 2
    decoded = clip_boxes(decode_boxes(deltas, model.anchors[None], RPN_WEIGHTS), 64)  # (2, K, 4)
    for p, scores, boxes in zip(proposals, logits, decoded):
        np.testing.assert_array_equal(p, _expected_proposals(scores, boxes, pre, post, threshold, min_size))
        assert p.shape == (post, 4)
        assert (p >= 0).all() and (p <= 64).all() and (p[:, 2:] >= p[:, :2]).all()  # inside the image
        assert (np.minimum(p[:, 2] - p[:, 0], p[:, 3] - p[:, 1]) >= min_size).all()
        iou = box_iou(p, p)
        assert (iou[~np.eye(len(p), dtype=bool)] <= threshold).all()
        # each proposal's own score (found by its box): decreasing
        index = [np.nonzero((boxes == box).all(axis=1))[0][0] for box in p]
        assert (np.diff(scores[index]) <= 0).all()
        top = boxes[np.argsort(-scores)[:pre]]  # the min size and the NMS both had something to remove
        assert (np.minimum(top[:, 2] - top[:, 0], top[:, 3] - top[:, 1]) < min_size).any()
        assert (box_iou(top, top)[~np.eye(pre, dtype=bool)] > threshold).any()


# ---- detection -------------------------------------------------------------------------------
def test_detect_fields_scores_and_per_class_nms():
    td.manual_seed(0)
    model = FasterRCNN(width=2)
    # logits of background and classes 0, 1, 2 near (0, 1, -1, 0): class 1's probability ~0.07 < 0.1
    model.roi_head.class_logits.bias.data[:] = [0.0, 1.0, -1.0, 0.0]
    images = make_shapes(2, seed=8).images
    detections = model.detect(images, score_threshold=0.1, nms_threshold=0.4, max_detections=40)
    assert len(detections) == 2 and model.training  # back in training mode
    for d in detections:
        k = len(d.scores)
        assert 0 < k <= 40 and d.masks is None
        assert d.boxes.shape == (k, 4) and d.boxes.dtype == np.float32
        assert d.scores.shape == (k,) and d.scores.dtype == np.float32
        assert d.labels.shape == (k,) and d.labels.dtype == np.int64
        assert (d.scores >= 0.1).all() and (np.diff(d.scores) <= 0).all()
        assert set(d.labels) <= {0, 2}  # class 1 never reaches 0.1
        assert (d.boxes >= 0).all() and (d.boxes <= 64).all()
        same_class = d.labels[:, None] == d.labels[None, :]
        overlap = box_iou(d.boxes, d.boxes) > 0.4
        assert not (overlap & same_class & ~np.eye(k, dtype=bool)).any()
    model.eval()
    model.detect(images[:1], max_detections=1)
    assert not model.training  # eval stays eval


def test_detect_with_the_mask_head_pastes_one_mask_per_detection():
    td.manual_seed(0)
    model = FasterRCNN(width=2, mask=True)
    images = make_shapes(2, seed=9).images
    for d in model.detect(images, max_detections=5):
        assert len(d.scores) == 5 and d.masks.shape == (5, 64, 64) and d.masks.dtype == bool
        assert (d.labels >= 0).all() and (d.labels < 3).all()
    for d in model.detect(images, score_threshold=1.01):  # nothing detected
        assert d.boxes.shape == (0, 4) and d.masks.shape == (0, 64, 64) and d.masks.dtype == bool


# ---- devices ---------------------------------------------------------------------------------
def test_losses_on_each_device_match_the_cpu(device):
    scenes, boxes, labels = _scenes(2, seed=10)
    instance_masks = scenes.instance_masks()
    td.manual_seed(0)
    reference = FasterRCNN(width=2, mask=True)
    model = FasterRCNN(width=2, mask=True)
    model.load_state_dict(reference.state_dict())
    model.to(device)
    _, expected = reference.losses(td.tensor(scenes.images), boxes, labels, instance_masks,
                                   gen=np.random.default_rng(0))
    total, terms = model.losses(td.tensor(scenes.images, device=device), boxes, labels, instance_masks,
                                gen=np.random.default_rng(0))
    assert set(terms) == set(expected)
    np.testing.assert_allclose([terms[k].item() for k in expected], [v.item() for v in expected.values()],
                               rtol=1e-4, atol=1e-6)
    total.backward()
    assert {p.grad.device for p in model.parameters()} == {device}


def test_detect_on_each_device_matches_the_cpu(device):
    """NumPy images go to the model's device; the detections come back as host arrays."""
    images = make_shapes(2, seed=11).images
    td.manual_seed(0)
    reference = FasterRCNN(width=2, mask=True)
    model = FasterRCNN(width=2, mask=True)
    model.load_state_dict(reference.state_dict())
    model.to(device)
    for expected, found in zip(reference.detect(images, max_detections=5), model.detect(images, max_detections=5)):
        assert all(isinstance(field, np.ndarray) for field in found)
        np.testing.assert_allclose(found.boxes, expected.boxes, rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(found.scores, expected.scores, rtol=1e-4, atol=1e-6)
        np.testing.assert_array_equal(found.labels, expected.labels)
        assert (found.masks != expected.masks).mean() < 0.01  # a pixel on a mask's edge may flip


# ---- errors ----------------------------------------------------------------------------------
def test_faster_rcnn_checks_its_arguments():
    with pytest.raises(ValueError, match="FasterRCNN: roi must be 'align' or 'pool', got 'bad'"):
        FasterRCNN(roi="bad")
    scenes, boxes, labels = _scenes(1)
    with pytest.raises(ValueError, match=r"FasterRCNN.losses: a model with a mask head needs instance_masks"):
        FasterRCNN(width=2, mask=True).losses(td.tensor(scenes.images), boxes, labels)
    extra_slot = np.zeros((1, boxes.shape[1] + 1, 64, 64), dtype=bool)  # another object's mask would be cropped
    with pytest.raises(ValueError, match=r"FasterRCNN.losses: .* \(N, M\) = \(1, 3\) of boxes"):
        FasterRCNN(width=2, mask=True).losses(td.tensor(scenes.images), boxes, labels, extra_slot)


def test_rpn_forward_rows_follow_grid_anchors_order():
    """Row (i * W + j) * A + a of the RPN's outputs is anchor a of cell (i, j): the 1x1 convs' channel a
    (objectness) and a * 4 + k (deltas), computed here by hand at every cell of a non-square map."""
    td.manual_seed(0)
    rpn = RegionProposalNetwork(4, 3).double()
    x = td.tensor(np.random.default_rng(0).normal(size=(2, 4, 3, 5)))  # H = 3 != W = 5
    with td.no_grad():
        logits, deltas = rpn(x)
        hidden = F.relu(rpn.conv(x)).numpy()
    w_o, b_o = rpn.objectness.weight.detach().numpy()[:, :, 0, 0], rpn.objectness.bias.detach().numpy()
    w_d, b_d = rpn.deltas.weight.detach().numpy()[:, :, 0, 0], rpn.deltas.bias.detach().numpy()
    o = np.einsum("oc,nchw->nhwo", w_o, hidden) + b_o  # (N, H, W, A)
    d = np.einsum("oc,nchw->nhwo", w_d, hidden) + b_d  # (N, H, W, 4A), channel a * 4 + k
    np.testing.assert_allclose(logits.numpy(), o.reshape(2, -1), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(deltas.numpy(), d.reshape(2, 3 * 5 * 3, 4), rtol=1e-10, atol=1e-10)


def test_detect_and_losses_with_no_proposal():
    """No proposal in any image (an RPN that proposes nothing, or a diverged one whose boxes are all
    filtered out): detect returns empty detections, and the losses stay finite."""
    scenes, boxes, _ = _scenes(2, seed=1)
    td.manual_seed(0)
    model = FasterRCNN(width=2, mask=True)
    for d in model.detect(scenes.images, post_nms_top_n=0):
        assert d.boxes.shape == (0, 4) and d.scores.shape == (0,) and d.masks.shape == (0, 64, 64)
    no_objects = np.full_like(scenes.labels, -1)  # no objects and no proposals: no RoI at all
    model.propose = lambda *args, **kwargs: [np.zeros((0, 4))] * 2
    total, terms = model.losses(td.tensor(scenes.images), boxes, no_objects, scenes.instance_masks())
    assert np.isfinite(total.item()), {name: term.item() for name, term in terms.items()}
    total.backward()  # and it still backpropagates


# ---- the example ---------------------------------------------------------------------------------
FIGURES = ("anchors.png", "proposals.png", "rois.png", "detections.png", "loss.png", "pr_curves.png",
           "checkpoint.npz")


def test_train_faster_rcnn_smoke(tmp_path):
    metrics = smoke(EXAMPLE, tmp_path, "cpu", "--width", "4")  # keys, finite numbers, checkpoint on the cpu
    assert metrics["roi"] == "align" and metrics["steps"] == 2 and metrics["epochs"] == 1
    assert set(metrics["ap_per_class"]) == {"circle", "square", "triangle"}
    assert 0 <= metrics["map75"] <= metrics["map50"] < 0.5  # two steps cannot detect yet
    for name in FIGURES:
        assert (tmp_path / name).stat().st_size > 0, name
    assert not (tmp_path / "masks.png").exists()  # only with --mask


def test_train_faster_rcnn_mask_smoke(tmp_path):
    run_example(EXAMPLE, tmp_path, "--mask", "--width", "4")
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert set(metrics) == METRIC_KEYS[EXAMPLE] | COMMON_KEYS | {"mask_map50"}
    assert_finite(metrics)
    assert 0 <= metrics["mask_map50"] <= 1
    state = td.load(tmp_path / "checkpoint.npz")
    assert any(name.startswith("mask_head.") for name in state["model"])
    assert "mask" in state["progress"]["loss"] and len(state["progress"]["loss"]["mask"]) == 2
    for name in FIGURES + ("masks.png",):
        assert (tmp_path / name).stat().st_size > 0, name


def test_train_faster_rcnn_roi_pool_smoke(tmp_path):
    metrics = smoke(EXAMPLE, tmp_path, "cpu", "--roi", "pool", "--width", "4")
    assert metrics["roi"] == "pool" and 0 <= metrics["map75"] <= metrics["map50"] <= 1


def test_train_faster_rcnn_compare_smoke(tmp_path):
    run_example(EXAMPLE, tmp_path, "--compare", "--width", "4")
    table = json.loads((tmp_path / "compare.json").read_text())
    for roi in ("align", "pool"):
        assert {"map50", "map75", "train_seconds", "inference_ms_per_image"} <= set(table[roi])
        assert_finite(table[roi])
        assert 0 <= table[roi]["map75"] <= table[roi]["map50"] <= 1
        metrics = json.loads((tmp_path / f"roi_{roi}" / "metrics.json").read_text())
        assert metrics["roi"] == roi and metrics["map50"] == table[roi]["map50"]
    markdown = (tmp_path / "compare.md").read_text()
    assert "| RoIAlign |" in markdown and "| RoIPool |" in markdown


def test_train_faster_rcnn_resumes_its_history(tmp_path):
    run_example(EXAMPLE, tmp_path, "--width", "4")  # --smoke: 1 epoch of 2 steps
    state = td.load(tmp_path / "checkpoint.npz")
    assert state["progress"]["epoch"] == 1 and state["progress"]["step"] == 2
    state["progress"]["loss"]["total"][0] = 123.0  # a mark: a restarted run would not carry it
    td.save(state, tmp_path / "checkpoint.npz")
    run_example(EXAMPLE, tmp_path, "--resume", "--epochs", "2", "--scenes-per-epoch", "16", "--batch-size", "8",
                "--val-scenes", "16", "--width", "4")
    state = td.load(tmp_path / "checkpoint.npz")
    progress = state["progress"]
    assert progress["epoch"] == 2 and progress["step"] == 4
    assert len(progress["loss"]["total"]) == len(progress["loss"]["roi_box"]) == 4  # continued, not restarted
    assert progress["loss"]["total"][0] == 123.0
    assert [row[0] for row in progress["val_map"]] == [1, 2]
    assert state["optimizer"]["state"][0]["step"] == 4  # Adam's state came back too
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["steps"] == 4 and metrics["epochs"] == 2


def test_a_resumed_run_repeats_an_uninterrupted_one(tmp_path):
    """Stopped after one epoch (--max-minutes 0) and resumed, a run takes the same steps as one that
    never stopped: same data, same learning rates, same anchor and RoI samples, same losses."""
    args = ("--epochs", "2", "--scenes-per-epoch", "16", "--batch-size", "8", "--val-scenes", "4", "--width", "4")
    run_example(EXAMPLE, tmp_path / "straight", *args)
    run_example(EXAMPLE, tmp_path / "resumed", *args, "--max-minutes", "0")
    stopped = json.loads((tmp_path / "resumed" / "metrics.json").read_text())
    assert stopped["epochs"] == 1 and stopped["stopped_early"] is True
    run_example(EXAMPLE, tmp_path / "resumed", *args, "--resume")
    straight, resumed = (td.load(tmp_path / run / "checkpoint.npz")["progress"] for run in ("straight", "resumed"))
    np.testing.assert_allclose(resumed["loss"]["total"], straight["loss"]["total"], rtol=1e-5, atol=1e-6)
    finished = json.loads((tmp_path / "resumed" / "metrics.json").read_text())
    assert finished["epochs"] == 2 and finished["stopped_early"] is False
