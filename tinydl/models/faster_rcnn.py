"""Faster R-CNN (Ren et al., NeurIPS 2015) with Mask R-CNN's mask head (He et al., ICCV 2017): two-stage detection.

Stage one, the **region proposal network** (RPN), slides a small network over
the backbone's feature map and, at every cell, scores A anchors ("is there an
object here?") and regresses a correction (tx, ty, tw, th) for each.  The best
few hundred corrected anchors, after NMS, are the *proposals*.  Stage two, the
**RoI head**, crops each proposal out of the *same* feature map with RoIAlign
(or Fast R-CNN's RoIPool) into a fixed 7 x 7 grid, and two fully connected
layers give C + 1 class scores (class 0 is background) and one box correction
per class.  Mask R-CNN adds a third output: a small convolutional head that
paints a 28 x 28 mask of the object inside each box, per class.
docs/faster_rcnn.md derives everything below with the same symbols.

Shapes, for a batch of N images of S x S pixels (S = 64 in the examples):

    images    (N, 3, S, S)
    features  (N, D, S/4, S/4)       backbone, stride 4
    RPN       logits (N, K), deltas (N, K, 4)    K = (S/4)**2 * A anchors, A = sizes x ratios
    proposals a list of N arrays (p_i, 4)         decoded, clipped, NMS-ed, top-N: host NumPy
    RoIs      (R, 5) rows [image, x1, y1, x2, y2] sampled proposals (training) or all of them
    RoI head  class logits (R, C + 1), box deltas (R, C, 4)
    mask head mask logits (R, C, 28, 28)

The multi-task loss, each term averaged as in torchvision (``losses``):

    L = L_rpn_objectness + L_rpn_box + L_roi_class + L_roi_box [+ L_mask]

    L_rpn_objectness = mean over sampled anchors of BCE(logit, p*)           p* = 1 positive, 0 negative
    L_rpn_box        = sum over positive anchors of smoothL1(t - t*) / #sampled anchors
    L_roi_class      = mean over sampled RoIs of CE(class logits, u)         u = class + 1, or 0
    L_roi_box        = sum over positive RoIs of smoothL1(t^u - t*) / #sampled RoIs
    L_mask           = mean over positive RoIs and 28 x 28 cells of BCE(mask logit of class u, m*)

Bookkeeping (anchors, matching, sampling, decoding, NMS) is done with NumPy on
the host by the functions of ``tinydl.vision``: the RPN's outputs are copied
to the host once per step, the chosen RoIs and the targets go back to the
device.  Only the networks' outputs carry gradients; proposals are constants
(the "approximate joint training" of the paper, section 3.2).
"""
from collections import namedtuple

import numpy as np

from .. import backend, nn
from .. import functional as F
from ..autograd import no_grad
from ..creation import tensor
from ..rng import generator
from ..tensor import Tensor
from ..vision import (IGNORED, batched_box_iou, batched_nms, clip_boxes, decode_boxes, encode_boxes, grid_anchors,
                      match_by_iou, nms, paste_masks, sample_balanced)
from ..vision._host import to_host
from .yolo import conv_block

RPN_WEIGHTS = (1.0, 1.0, 1.0, 1.0)  # box-coding weights of the RPN's targets
ROI_WEIGHTS = (10.0, 10.0, 5.0, 5.0)  # and of the RoI head's: proposals are close already, corrections small

RoISample = namedtuple("RoISample", ["rois", "classes", "truth"])
RoISample.__doc__ = """The RoIs sampled to train the RoI head (host NumPy): ``rois`` (R, 5) rows [image, x1, y1, x2, y2],
``classes`` (R,) their targets u (0 background, 1 + class), ``truth`` (R,) the matched truth's slot, -1 for background."""

Detections = namedtuple("Detections", ["boxes", "scores", "labels", "masks"])
Detections.__doc__ = """One image's detections (host NumPy): ``boxes`` (k, 4), ``scores`` (k,), ``labels`` (k,)
class indices in [0, C), and ``masks`` (k, H, W) bool with the mask head, else None."""


# ---- the losses (the paper's terms, each a function of Tensors) -------------------------------
def rpn_loss(objectness, is_object, deltas, targets):
    """Faster R-CNN's eq. 1 for the RPN, as two terms: (L_rpn_objectness, L_rpn_box).

    objectness (S,) logits of the S sampled anchors and is_object (S,) their p* (1.0 or 0.0);
    deltas (P, 4) the predictions t of the P positive anchors and targets (P, 4) their t*.
    L_rpn_objectness = mean BCE(objectness, p*);  L_rpn_box = sum smoothL1_{1/9}(t - t*) / S,
    torchvision's normalization (the paper's lambda = 10 over ~2400 anchor places is about
    the same weight: 10 / 2400 ~ 1 / 256)."""
    objectness_loss = F.binary_cross_entropy_with_logits(objectness, is_object)
    box_loss = F.smooth_l1_loss(deltas, targets, reduction="sum", beta=1 / 9) / max(objectness.shape[0], 1)
    return objectness_loss, box_loss


def roi_head_loss(class_logits, classes, deltas, targets):
    """Fast R-CNN's multi-task loss (its eq. 1): (L_roi_class, L_roi_box).

    class_logits (R, C + 1) of the R sampled RoIs and classes (R,) int64 their targets u
    (0 background); deltas (P, 4) the predictions t^u of the P positive RoIs *for their own
    class u* and targets (P, 4) their t* (weights 10, 10, 5, 5).
    L_roi_class = mean CE(class_logits, u);  L_roi_box = sum smoothL1_1(t^u - t*) / R:
    the box term is [u >= 1] L_loc averaged over all R RoIs, as in torchvision."""
    if class_logits.shape[0] == 0:  # no RoI at all (no proposal, no object): a zero of the graph, not 0/0
        return class_logits.sum(), deltas.sum()
    class_loss = F.cross_entropy(class_logits, classes)
    box_loss = F.smooth_l1_loss(deltas, targets, reduction="sum", beta=1.0) / class_logits.shape[0]
    return class_loss, box_loss


def mask_targets(instance_masks, which, boxes, size):
    """m*: truth number ``which`` (P,) of the (N, M, S, S) instance masks, cropped to each positive RoI's
    box (P, 4) with RoIAlign, size x size, thresholded at 0.5: (P, size, size) float32 of 0 and 1
    (host NumPy).  The crop samples where the mask head's outputs sit, so target and prediction align."""
    N, M, S, _ = instance_masks.shape
    flat = Tensor(instance_masks.reshape(N * M, 1, S, S).astype(np.float32))
    rois = np.concatenate([np.asarray(which, dtype=np.float32)[:, None], boxes.astype(np.float32)], axis=1)
    with no_grad():
        crops = F.roi_align(flat, rois, size, sampling_ratio=2, aligned=True)  # (P, 1, size, size)
    return (crops.data[:, 0] >= 0.5).astype(np.float32)


def mask_loss(logits, targets):
    """Mask R-CNN's L_mask: the mean per-pixel BCE of the P positive RoIs' mask logits *of their own
    class* (P, 28, 28) against m* (P, 28, 28).  A sigmoid per class, not a softmax over classes:
    the masks of the classes do not compete (the paper's section 3), the class head decides.
    With no positive RoI it is 0 (still a Tensor of the graph)."""
    if logits.shape[0] == 0:
        return logits.sum()
    return F.binary_cross_entropy_with_logits(logits, targets)


# ---- the networks -------------------------------------------------------------------------
class Backbone(nn.Module):
    """Five darknet conv blocks and two 2x2 max pools: (N, 3, S, S) -> (N, 4 * width, S/4, S/4).

    Stride 4 keeps the 15 to 38 pixel shapes 4 to 10 cells wide, enough for 7 x 7
    RoI grids; the five 3x3 convolutions see 34 pixels, about one object."""

    stride = 4

    def __init__(self, width=16):
        super().__init__()
        w = width
        self.layers = nn.Sequential(*conv_block(3, w), nn.MaxPool2d(2),
                                    *conv_block(w, 2 * w), nn.MaxPool2d(2),
                                    *conv_block(2 * w, 4 * w), *conv_block(4 * w, 4 * w), *conv_block(4 * w, 4 * w))
        self.out_channels = 4 * w

    def forward(self, images):
        return self.layers(images)


class RegionProposalNetwork(nn.Module):
    """A 3x3 conv "sliding window" over the features, then two sibling 1x1 convs per anchor:
    an objectness logit and four box deltas (Faster R-CNN, figure 3)."""

    def __init__(self, channels, num_anchors):
        super().__init__()
        self.num_anchors = num_anchors
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.objectness = nn.Conv2d(channels, num_anchors, 1)
        self.deltas = nn.Conv2d(channels, 4 * num_anchors, 1)

    def forward(self, features):
        """features (N, D, H, W) -> logits (N, H*W*A) and deltas (N, H*W*A, 4), in grid_anchors' order."""
        N, _, H, W = features.shape
        A = self.num_anchors
        hidden = F.relu(self.conv(features))
        logits = self.objectness(hidden).permute(0, 2, 3, 1).reshape(N, H * W * A)  # (N, A, H, W) -> (N, H*W*A)
        deltas = self.deltas(hidden).reshape(N, A, 4, H, W).permute(0, 3, 4, 1, 2).reshape(N, H * W * A, 4)
        return logits, deltas


class RoIHead(nn.Module):
    """Fast R-CNN's head: pooled RoI features -> fc6 -> fc7 -> class logits (R, C + 1) and
    per-class box deltas (R, C, 4) (one correction for every object class)."""

    def __init__(self, channels, pool_size, num_classes, hidden=256):
        super().__init__()
        self.num_classes = num_classes
        self.fc6 = nn.Linear(channels * pool_size * pool_size, hidden)
        self.fc7 = nn.Linear(hidden, hidden)
        self.class_logits = nn.Linear(hidden, num_classes + 1)
        self.box_deltas = nn.Linear(hidden, 4 * num_classes)

    def forward(self, pooled):
        """pooled (R, D, p, p) -> class logits (R, C + 1), box deltas (R, C, 4)."""
        R, D, p, _ = pooled.shape
        x = F.relu(self.fc6(pooled.reshape(R, D * p * p)))  # (R, D*p*p); R may be 0
        x = F.relu(self.fc7(x))
        return self.class_logits(x), self.box_deltas(x).reshape(-1, self.num_classes, 4)


class MaskHead(nn.Module):
    """Mask R-CNN's head (figure 4, right, made small): 14 x 14 RoI features -> two 3x3 convs ->
    a 2x transposed conv -> one 28 x 28 mask logit map per class: (R, D, 14, 14) -> (R, C, 28, 28)."""

    def __init__(self, channels, num_classes, hidden=64):
        super().__init__()
        self.convs = nn.Sequential(nn.Conv2d(channels, hidden, 3, padding=1), nn.ReLU(),
                                   nn.Conv2d(hidden, hidden, 3, padding=1), nn.ReLU())
        self.upsample = nn.ConvTranspose2d(hidden, hidden, 2, stride=2)
        self.logits = nn.Conv2d(hidden, num_classes, 1)

    def forward(self, pooled):
        return self.logits(F.relu(self.upsample(self.convs(pooled))))


# ---- the detector -------------------------------------------------------------------------
class FasterRCNN(nn.Module):
    """Backbone + RPN + RoI head (+ mask head with ``mask=True``) for ``num_classes`` object classes.

    ``roi="align"`` crops features with ``F.roi_align`` (Mask R-CNN), ``"pool"`` with
    ``F.roi_pool`` (Fast R-CNN); the mask head uses the same op.  Anchors: every size
    in ``anchor_sizes`` at every ratio h/w in ``aspect_ratios``, at each feature cell.
    Train with ``losses``; detect with ``detect``.  Hyperparameters are the papers'
    except where a comment says why not.
    """

    def __init__(self, num_classes=3, image_size=64, width=16, anchor_sizes=(16, 24, 36),
                 aspect_ratios=(0.5, 1.0, 2.0), roi="align", mask=False, pool_size=7, mask_size=14):
        super().__init__()
        if roi not in ("align", "pool"):
            raise ValueError(f"FasterRCNN: roi must be 'align' or 'pool', got {roi!r}")
        self.num_classes, self.image_size, self.roi, self.pool_size, self.mask_size = (
            num_classes, image_size, roi, pool_size, mask_size)
        self.backbone = Backbone(width)
        stride = self.backbone.stride
        self.anchors = grid_anchors((image_size // stride, image_size // stride), stride,
                                    anchor_sizes, aspect_ratios)  # (K, 4) host constants, not parameters
        num_anchors = len(anchor_sizes) * len(aspect_ratios)
        self.rpn = RegionProposalNetwork(self.backbone.out_channels, num_anchors)
        self.roi_head = RoIHead(self.backbone.out_channels, pool_size, num_classes)
        self.mask_head = MaskHead(self.backbone.out_channels, num_classes) if mask else None

    # -- the pieces --
    def pool(self, features, rois, size):
        """Crop every RoI (R, 5) [image, x1, y1, x2, y2] out of the features into a size x size grid."""
        scale = 1.0 / self.backbone.stride
        rois = backend.to_device(rois.astype(features.dtype), features.device)
        if self.roi == "align":
            return F.roi_align(features, rois, size, spatial_scale=scale, sampling_ratio=2, aligned=True)
        return F.roi_pool(features, rois, size, spatial_scale=scale)

    def propose(self, logits, deltas, pre_nms_top_n, post_nms_top_n, nms_threshold=0.7, min_size=2.0):
        """RPN outputs -> a list of N host arrays of proposals (p_i, 4), best first (no gradient).

        Decode every anchor's deltas, clip to the image, keep the pre_nms_top_n highest
        objectness, drop boxes thinner than min_size pixels, NMS at nms_threshold, keep
        post_nms_top_n (Faster R-CNN, section 3.3)."""
        scores, deltas = to_host(logits), to_host(deltas)  # (N, K), (N, K, 4): host copies, no gradient
        boxes = clip_boxes(decode_boxes(deltas, self.anchors[None], RPN_WEIGHTS), self.image_size)  # (N, K, 4)
        top = np.argsort(-scores, axis=1, kind="stable")[:, :pre_nms_top_n]  # (N, pre)
        boxes = np.take_along_axis(boxes, top[..., None], axis=1)
        scores = np.take_along_axis(scores, top, axis=1)
        proposals = []
        for image_boxes, image_scores in zip(boxes, scores):  # NMS is greedy: one image at a time
            big = np.minimum(image_boxes[:, 2] - image_boxes[:, 0], image_boxes[:, 3] - image_boxes[:, 1]) >= min_size
            keep = nms(image_boxes[big], image_scores[big], nms_threshold)[:post_nms_top_n]
            proposals.append(image_boxes[big][keep])
        return proposals

    def forward(self, images):
        """images (N, 3, S, S) -> features (N, D, S/4, S/4), RPN logits (N, K) and deltas (N, K, 4)."""
        features = self.backbone(images)
        logits, deltas = self.rpn(features)
        return features, logits, deltas

    # -- training --
    def sample_anchors(self, boxes, valid, gen, batch=256, positive_fraction=0.5):
        """The RPN's training anchors: match every anchor to the truths (IoU >= 0.7 positive, < 0.3
        negative, and each truth's best anchor), then sample ``batch`` per image, up to half positive.
        boxes (N, M, 4), valid (N, M) -> matched (N, K) truth index, positive and negative (N, K) bool."""
        anchors = np.broadcast_to(self.anchors, (len(boxes),) + self.anchors.shape)  # (N, K, 4)
        matched = match_by_iou(batched_box_iou(anchors, boxes), valid, high=0.7, low=0.3, keep_best=True)
        positive, negative = sample_balanced(matched, batch, positive_fraction, gen)
        return matched, positive, negative

    def sample_rois(self, proposals, boxes, labels, gen, batch=64, positive_fraction=0.25):
        """The RoI head's training RoIs: each image's proposals plus its truths (so that every truth is
        a perfect positive from the first step), matched at IoU 0.5, ``batch`` sampled per image,
        up to ``positive_fraction`` positive.  Returns an ``RoISample``."""
        valid = labels >= 0  # (N, M)
        candidates, real = _pad([np.concatenate([p, b[v]]) for p, b, v in zip(proposals, boxes, valid)])  # (N, P, 4)
        matched = match_by_iou(batched_box_iou(candidates, boxes), valid, high=0.5, low=0.5)  # (N, P)
        matched[~real] = IGNORED  # padding is never sampled
        positive, negative = sample_balanced(matched, batch, positive_fraction, gen)
        image, index = np.nonzero(positive | negative)  # (R,) each sampled RoI's image and candidate
        is_positive, truth = positive[image, index], matched[image, index]  # (R,), (R,)
        classes = np.where(is_positive, labels[image, np.maximum(truth, 0)] + 1, 0)  # (R,) u: 0 is background
        rois = np.concatenate([image[:, None], candidates[image, index]], axis=1)  # (R, 5)
        return RoISample(rois, classes, np.where(is_positive, truth, -1))

    def losses(self, images, boxes, labels, instance_masks=None, rpn_batch=256, rpn_positive_fraction=0.5,
               roi_batch=64, roi_positive_fraction=0.25, pre_nms_top_n=300, post_nms_top_n=150, gen=None):
        """The four (five with masks) loss terms on a batch; returns (total, dict of terms).

        images (N, 3, S, S) Tensor; boxes (N, M, 4), labels (N, M) padded with -1 (host arrays,
        as ``make_shapes`` gives them); instance_masks (N, M, S, S) bool for the mask head
        (``scenes.instance_masks(batch)``).  rpn_batch anchors and roi_batch RoIs are sampled per
        image (the paper's 256; 64 per image is Fast R-CNN's 128 per two images).  The proposals
        are fewer than the paper's 2000: a 64 x 64 image has 2304 anchors, not 20000.  ``gen``: the
        NumPy Generator of the sampling (default tinydl's, seeded by ``td.manual_seed``)."""
        boxes, labels = np.asarray(boxes, dtype=np.float64), np.asarray(labels)
        if self.mask_head is not None:
            if instance_masks is None or np.shape(instance_masks)[:2] != boxes.shape[:2]:
                raise ValueError(f"FasterRCNN.losses: a model with a mask head needs instance_masks (N, M, S, S) with "
                                 f"the (N, M) = {boxes.shape[:2]} of boxes, got "
                                 f"{None if instance_masks is None else np.shape(instance_masks)}")
        gen = generator("cpu") if gen is None else gen  # sampling on the host: the same choices on every device
        features, logits, deltas = self(images)
        device, dtype = features.device, features.dtype

        def constant(array, kind=None):  # a host target as a Tensor on the features' device
            return Tensor(backend.to_device(np.asarray(array, dtype=kind or dtype), device))

        # 1. The RPN: objectness p* on the sampled anchors, box targets t* on the positive ones.
        matched, positive, negative = self.sample_anchors(boxes, labels >= 0, gen, rpn_batch, rpn_positive_fraction)
        sampled = np.nonzero(positive | negative)  # (image indices, anchor indices) of the sampled anchors
        image, anchor = np.nonzero(positive)  # and of the positive ones
        truth = boxes[image, matched[image, anchor]]  # (P, 4) the object each positive anchor matched
        rpn_targets = encode_boxes(truth, self.anchors[anchor], RPN_WEIGHTS)  # (P, 4) t*
        terms = dict(zip(("rpn_objectness", "rpn_box"), rpn_loss(
            logits[sampled], constant(positive[sampled]), deltas[image, anchor], constant(rpn_targets))))

        # 2. The RoI head on RoIs sampled from the proposals (constants: no gradient through them).
        proposals = self.propose(logits, deltas, pre_nms_top_n, post_nms_top_n)
        rois, classes, truth = self.sample_rois(proposals, boxes, labels, gen, roi_batch, roi_positive_fraction)
        class_logits, box_deltas = self.roi_head(self.pool(features, rois, self.pool_size))  # (R, C+1), (R, C, 4)
        p = np.nonzero(classes > 0)[0]  # (P,) rows of the positive RoIs
        roi_targets = encode_boxes(boxes[rois[p, 0].astype(np.int64), truth[p]], rois[p, 1:], ROI_WEIGHTS)  # (P, 4)
        terms.update(zip(("roi_class", "roi_box"), roi_head_loss(
            class_logits, constant(classes, np.int64), box_deltas[p, classes[p] - 1], constant(roi_targets))))

        # 3. Mask R-CNN: on positive RoIs only, the mask of the RoI's class against m*, the truth's
        #    instance mask cropped to the RoI by RoIAlign itself (28 x 28, thresholded at 0.5).
        if self.mask_head is not None:
            which = rois[p, 0].astype(np.int64) * boxes.shape[1] + truth[p]  # the truth, among all N * M masks
            targets = mask_targets(np.asarray(instance_masks), which, rois[p, 1:], 2 * self.mask_size)  # (P, 28, 28)
            mask_logits = self.mask_head(self.pool(features, rois[p], self.mask_size))  # (P, C, 28, 28)
            terms["mask"] = mask_loss(mask_logits[np.arange(len(p)), classes[p] - 1], constant(targets))
        return sum(terms.values()), terms

    # -- inference --
    def detect(self, images, score_threshold=0.05, nms_threshold=0.5, max_detections=100,
               pre_nms_top_n=300, post_nms_top_n=100, batch_size=64):
        """A list of ``Detections`` per image (host NumPy), in eval mode, without gradients.

        Proposals (300 -> NMS 0.7 -> 100) go through the RoI head; each RoI's box is
        decoded once per class with that class's deltas and scored with that class's
        softmax probability; boxes scoring >= score_threshold are kept, per-class NMS
        at nms_threshold, the max_detections best.  With the mask head, each kept box's
        28 x 28 mask of its class is pasted into the image (``paste_masks``)."""
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                device = next(iter(self.parameters())).device  # NumPy images go to the model's device
                images = images if isinstance(images, Tensor) else tensor(images, dtype=np.float32, device=device)
                results = []
                for start in range(0, images.shape[0], batch_size):
                    results += self._detect_batch(images[start:start + batch_size], score_threshold,
                                                  nms_threshold, max_detections, pre_nms_top_n, post_nms_top_n)
                return results
        finally:
            self.train(was_training)

    def _detect_batch(self, images, score_threshold, nms_threshold, max_detections, pre_nms_top_n, post_nms_top_n):
        features, logits, deltas = self(images)
        proposals = self.propose(logits, deltas, pre_nms_top_n, post_nms_top_n)
        image = np.concatenate([np.full(len(p), i) for i, p in enumerate(proposals)])  # (R,)
        rois = np.concatenate([image[:, None], np.concatenate(proposals)], axis=1)  # (R, 5)
        class_logits, box_deltas = self.roi_head(self.pool(features, rois, self.pool_size))
        probabilities = to_host(F.softmax(class_logits, dim=1))[:, 1:]  # (R, C), background dropped
        C = self.num_classes
        boxes = clip_boxes(decode_boxes(to_host(box_deltas), rois[:, None, 1:], ROI_WEIGHTS), self.image_size)  # (R, C, 4)
        results = []
        for i in range(images.shape[0]):  # per-class NMS within each image
            rows = image == i
            b, s = boxes[rows].reshape(-1, 4), probabilities[rows].reshape(-1)  # every (RoI, class) pair
            c = np.tile(np.arange(C), rows.sum())
            keep = np.nonzero(s >= score_threshold)[0]
            keep = keep[batched_nms(b[keep], s[keep], c[keep], nms_threshold)][:max_detections]
            results.append(Detections(b[keep].astype(np.float32), s[keep].astype(np.float32), c[keep], None))
        if self.mask_head is not None:
            results = self._paste_masks(features, results)
        return results

    def _paste_masks(self, features, results):
        image = np.concatenate([np.full(len(r.boxes), i) for i, r in enumerate(results)])
        rois = np.concatenate([image[:, None], np.concatenate([r.boxes for r in results])], axis=1)
        if len(rois) == 0:
            return [r._replace(masks=np.zeros((0, self.image_size, self.image_size), dtype=bool)) for r in results]
        classes = np.concatenate([r.labels for r in results])
        logits = self.mask_head(self.pool(features, rois, self.mask_size))  # (k, C, 28, 28)
        probabilities = to_host(F.sigmoid(logits[np.arange(len(rois)), classes]))  # (k, 28, 28)
        masks = paste_masks(probabilities, rois[:, 1:], self.image_size)  # (k, S, S) bool
        return [r._replace(masks=masks[image == i]) for i, r in enumerate(results)]


def _pad(arrays):
    """A list of (k_i, 4) arrays -> one (N, max k_i, 4) array padded with zero boxes, and (N, max k_i) valid."""
    longest = max(len(a) for a in arrays)
    out = np.zeros((len(arrays), longest, 4))
    valid = np.zeros((len(arrays), longest), dtype=bool)
    for i, a in enumerate(arrays):
        out[i, :len(a)], valid[i, :len(a)] = a, True
    return out, valid
