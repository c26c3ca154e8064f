"""A tiny YOLO detector (Redmon et al., "You Only Look Once", CVPR 2016): one network, one pass, every box.

The image is cut into an S x S grid of cells.  The cell that contains an
object's centre *owns* that object: it must find it.  Each cell predicts B
boxes, each as five numbers (x, y, w, h, confidence), and one set of C class
scores shared by its B boxes, so the network outputs (N, S, S, 5B + C)
(docs/detection.md, with the same symbols as the code):

    x, y   = sigmoid(t_x), sigmoid(t_y)   the box centre's offset inside its cell, in [0, 1]
    w, h   = sigmoid(t_w), sigmoid(t_h)   the SQUARE ROOT of the box's width and height, as
                                          fractions of the image side
    conf   = sigmoid(t_c)                 Pr(object) * IoU(box, truth): "is there an object
                                          here, and how well does this box fit it?"
    p(c)   = softmax over the C logits    Pr(class c | object), one per cell

A box is decoded to pixels (``decode_boxes``) as

    centre_x = (col + x) / S * image_size      width  = w**2 * image_size
    centre_y = (row + y) / S * image_size      height = h**2 * image_size

and scored, for its cell's most likely class, by ``conf * p(c)``.

Why YOLOv1's layout (5B + C per cell) and not YOLOv2's anchors: v1 has no
prior boxes to choose, cluster or explain, so every number of the output can
be read off the paper's one equation, and on the shapes scenes (objects of
15 to 38 pixels that barely overlap, so almost never two centres in one
8-pixel cell) anchors buy nothing.  Two changes from the paper, both standard
since v2: the head is a 1x1 convolution (fully convolutional) instead of
fully connected layers, and every box number goes through a sigmoid so that
it always lies in its valid range.

Training (``yolo_loss``) is v1's sum-squared error, summed over the grid and
averaged over the batch, with ``*`` marking a target (``encode_targets``):

    L = lambda_coord * sum_ij 1obj_ij [(x - x*)^2 + (y - y*)^2 + (w - w*)^2 + (h - h*)^2]   coord
      +                sum_ij 1obj_ij (conf - conf*)^2                                      obj
      + lambda_noobj * sum_ij (1 - 1obj_ij) conf^2                                          noobj
      +                sum_i  1obj_i  CE(class logits_i, class*_i)                          class

where 1obj_i says that cell i owns an object and 1obj_ij that box j of cell i
is *responsible* for it: of the cell's B boxes, the one whose current
prediction has the highest IoU with the truth.  conf* is that IoU (darknet's
``rescore``) or 1.  Regressing the square roots of the sizes makes an error
of a few pixels cost more on a small box than on a large one, as it should.
The class term is a cross-entropy (v1 used squared error on the
probabilities; the cross-entropy's gradient does not vanish when a
probability is far off).

B = 1 by default.  The paper's B = 2 lets a cell's boxes specialize in
different shapes (tall, wide) of natural images; on the shapes scenes every
box is square, the two boxes make the same prediction, and as only the better
one is rewarded, neither can learn a confident score (docs/detection.md
measures both).
"""
from collections import namedtuple

import numpy as np

from .. import backend, nn
from .. import functional as F
from ..autograd import no_grad
from ..creation import tensor
from ..tensor import Tensor
from ..vision._host import to_host

YOLOTargets = namedtuple("YOLOTargets", ["mask", "xy", "wh", "labels"])
YOLOTargets.__doc__ = """What each grid cell must predict, from ``encode_targets``; all NumPy arrays:

- ``mask``   (N, S, S) bool: 1obj_i, the cell owns an object;
- ``xy``     (N, S, S, 2): the object's centre, as its offset (x*, y*) within the cell, in [0, 1);
- ``wh``     (N, S, S, 2): (w*, h*) = the square roots of its width and height over image_size;
- ``labels`` (N, S, S) int64: its class, -1 in cells that own nothing.
"""


# ---- the network ------------------------------------------------------------------------
def conv_block(c_in, c_out):
    """Darknet's unit: 3x3 convolution (no bias: batch norm has one), batch norm, leaky ReLU 0.1."""
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.1)]


class TinyYOLO(nn.Module):
    """A darknet-style backbone and a YOLOv1 head on a ``grid_size`` x ``grid_size`` grid.

    Backbone: ``conv_block``s with a 2x2 max-pool after each until the feature map
    is the grid (64 -> 32 -> 16 -> 8 for the defaults: three pools), channels
    ``width``, 2 ``width``, 4 ``width``, ..., then two more blocks at the grid's
    resolution, so that each cell's features see about 54 pixels around it,
    enough to measure the largest shapes.  Head: a 1x1 convolution to
    ``5 * boxes_per_cell + num_classes`` numbers per cell.

    ``forward`` returns the raw outputs (N, S, S, 5B + C): per box j the logits
    (t_x, t_y, t_w, t_h, t_c) at ``[..., 5j : 5j + 5]``, then the C class logits.
    ``yolo_loss`` trains them, ``decode`` and ``detect`` read boxes out of them.
    """

    def __init__(self, num_classes=3, grid_size=8, boxes_per_cell=1, image_size=64, width=16):
        super().__init__()
        pools = 0  # max-pools from image_size down to grid_size
        while 0 < grid_size * 2**pools < image_size:
            pools += 1
        if grid_size < 1 or grid_size * 2**pools != image_size:
            raise ValueError(f"TinyYOLO: image_size / grid_size must be a power of 2 (one max-pool per halving), "
                             f"got image_size={image_size}, grid_size={grid_size}")
        if num_classes < 1 or boxes_per_cell < 1 or width < 1:
            raise ValueError(f"TinyYOLO: num_classes, boxes_per_cell and width must be positive, got "
                             f"{num_classes}, {boxes_per_cell}, {width}")
        self.num_classes, self.grid_size, self.boxes_per_cell = num_classes, grid_size, boxes_per_cell
        self.image_size = image_size
        layers, channels = [], 3
        for k in range(pools):  # (N, 3, 64, 64) -> (N, w, 32, 32) -> (N, 2w, 16, 16) -> (N, 4w, 8, 8)
            layers += conv_block(channels, width * 2**k) + [nn.MaxPool2d(2)]
            channels = width * 2**k
        layers += conv_block(channels, 2 * channels) + conv_block(2 * channels, 2 * channels)  # (N, 8w, S, S)
        self.backbone = nn.Sequential(*layers)
        self.head = nn.Conv2d(2 * channels, 5 * boxes_per_cell + num_classes, 1)  # (N, 5B + C, S, S)

    def forward(self, images):
        """images (N, 3, image_size, image_size) -> raw outputs (N, S, S, 5B + C)."""
        if images.ndim != 4 or tuple(images.shape[1:]) != (3, self.image_size, self.image_size):
            raise ValueError(f"TinyYOLO: images must have shape (N, 3, {self.image_size}, {self.image_size}), "
                             f"got {tuple(images.shape)}")
        return self.head(self.backbone(images)).permute(0, 2, 3, 1)

    def loss(self, predictions, boxes, labels, **weights):
        """``yolo_loss`` of ``predictions`` against ground truth boxes (N, M, 4) and labels (N, M) padded with -1."""
        targets = encode_targets(boxes, labels, self.grid_size, self.image_size)
        return yolo_loss(predictions, targets, self.boxes_per_cell, **weights)

    def detect(self, images, conf_threshold=0.05, iou_threshold=0.5, batch_size=256):
        """Detections per image: a list of (boxes (k, 4) pixels, scores (k,), labels (k,)) NumPy arrays.

        Runs in eval mode without a graph, decodes every box of every cell, keeps those
        scoring at least ``conf_threshold`` and removes duplicates with per-class NMS
        at ``iou_threshold`` (``tinydl.vision.batched_nms``); each image's detections
        come in decreasing score order.  ``images``: a Tensor or array (N, 3, H, W).
        """
        from ..vision import batched_nms

        was_training = self.training
        self.eval()
        device = next(iter(self.parameters())).device
        results = []
        try:
            with no_grad():
                for start in range(0, len(images), batch_size):
                    chunk = images[start:start + batch_size]
                    chunk = chunk if isinstance(chunk, Tensor) else tensor(chunk, device=device)  # NumPy or CuPy
                    boxes, scores, labels = decode(self(chunk), self.boxes_per_cell, self.image_size)
                    for b, s, l in zip(boxes, scores, labels):  # a loop over images, for NMS
                        confident = s >= conf_threshold
                        b, s, l = b[confident], s[confident], l[confident]
                        keep = batched_nms(b, s, l, iou_threshold)
                        results.append((b[keep], s[keep], l[keep]))
        finally:
            self.train(was_training)
        return results


# ---- boxes <-> grid cells -------------------------------------------------------------------
def encode_targets(boxes, labels, grid_size=8, image_size=64):
    """Ground truth (N, M, 4) boxes ``x1, y1, x2, y2`` in pixels and (N, M) labels (-1 = padding) -> ``YOLOTargets``.

    The object's centre (cx, cy) falls in cell (row, col) = (floor(cy / cell), floor(cx / cell)),
    cell = image_size / grid_size; the cell's targets are the centre's offset inside it,
    x* = cx / cell - col and y* = cy / cell - row, the square roots of the box's size as
    fractions of the image, w* = sqrt((x2 - x1) / image_size), h* likewise, and its class.
    A cell owns at most one object (YOLOv1's limit); when two centres share a cell, the
    larger object wins, the smaller one is not learned.  Vectorized over every object.

    Runs on the host: boxes and labels (NumPy, CuPy or Tensors) are copied there first, as
    picking each cell's owner (a sort and np.unique) is bookkeeping on a few hundred numbers,
    and the targets are NumPy arrays, which ``yolo_loss`` copies to the predictions' device.
    """
    boxes, labels = to_host(boxes).astype(np.float64), to_host(labels)
    if boxes.ndim != 3 or boxes.shape[2] != 4 or labels.shape != boxes.shape[:2]:
        raise ValueError(f"encode_targets: need boxes (N, M, 4) and labels (N, M), got boxes {boxes.shape} "
                         f"and labels {labels.shape}")
    N = len(labels)
    S, cell = grid_size, image_size / grid_size
    valid = labels >= 0  # (N, M) real objects, not padding
    x1, y1, x2, y2 = np.moveaxis(boxes, 2, 0)  # each (N, M)
    cx, cy = (x1 + x2) / 2 / cell, (y1 + y2) / 2 / cell  # centres in cell units
    col = np.clip(np.floor(cx), 0, S - 1).astype(np.int64)  # a centre on the far edge stays in the last cell
    row = np.clip(np.floor(cy), 0, S - 1).astype(np.int64)
    flat_cell = (np.arange(N)[:, None] * S + row) * S + col  # (N, M) index into the N * S * S cells
    offsets = np.stack([cx - col, cy - row], axis=-1).reshape(-1, 2)  # (N * M, 2) x*, y* in [0, 1)
    sizes = np.stack([x2 - x1, y2 - y1], axis=-1).reshape(-1, 2)  # (N * M, 2) width, height in pixels
    if (sizes[valid.ravel()] < 0).any():
        raise ValueError("encode_targets: boxes must be x1, y1, x2, y2 with x1 <= x2 and y1 <= y2")

    # One object per cell: order the real objects by cell, largest first, and take each cell's first.
    flat_cell, area = flat_cell.ravel(), sizes.prod(axis=1)
    candidates = np.flatnonzero(valid)  # indices into the N * M objects
    candidates = candidates[np.lexsort((-area[candidates], flat_cell[candidates]))]
    _, first = np.unique(flat_cell[candidates], return_index=True)
    owner = candidates[first]  # (K,) the object each occupied cell owns
    where = flat_cell[owner]  # (K,) that cell

    mask = np.zeros(N * S * S, dtype=bool)
    xy, wh = np.zeros((N * S * S, 2)), np.zeros((N * S * S, 2))
    cell_labels = np.full(N * S * S, -1, dtype=np.int64)
    mask[where] = True
    xy[where] = offsets[owner]
    wh[where] = np.sqrt(sizes[owner] / image_size)
    cell_labels[where] = labels.ravel()[owner]
    return YOLOTargets(mask.reshape(N, S, S), xy.reshape(N, S, S, 2), wh.reshape(N, S, S, 2),
                       cell_labels.reshape(N, S, S))


def decode_boxes(xy, wh, image_size=64):
    """Cell offsets xy (N, S, S, ..., 2) and square-root sizes wh (same shape) -> boxes (N, S, S, ..., 4).

    The inverse of ``encode_targets``' geometry: centre = (col + x, row + y) * image_size / S,
    size = (w**2, h**2) * image_size; boxes are ``x1, y1, x2, y2`` in pixels (with
    ``image_size=1``, in fractions of the image).  Works on NumPy or CuPy arrays.
    """
    xp = backend.get_array_module(xy)
    S = xy.shape[1]
    trailing = (1,) * (xy.ndim - 4)  # so that col and row broadcast over any extra axes, such as B
    col = xp.arange(S, dtype=xy.dtype).reshape((1, 1, S) + trailing)
    row = xp.arange(S, dtype=xy.dtype).reshape((1, S, 1) + trailing)
    cx, cy = (col + xy[..., 0]) / S * image_size, (row + xy[..., 1]) / S * image_size
    half_w, half_h = wh[..., 0] ** 2 * image_size / 2, wh[..., 1] ** 2 * image_size / 2
    return xp.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=-1)


def paired_iou(a, b):
    """IoU of corresponding boxes: a and b (..., 4) broadcast against each other -> (...,).

    Unlike ``tinydl.vision.box_iou`` (every pair of two lists), this compares box k of
    ``a`` with box k of ``b`` only, on any device; used to pick the responsible box."""
    xp = backend.get_array_module(a)
    sides = xp.maximum(xp.minimum(a[..., 2:], b[..., 2:]) - xp.maximum(a[..., :2], b[..., :2]), 0)
    inter = sides[..., 0] * sides[..., 1]
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area_a + area_b - inter
    return inter / xp.maximum(union, 1e-12)


# ---- the loss -----------------------------------------------------------------------------------
def split_predictions(predictions, boxes_per_cell):
    """Raw outputs (N, S, S, 5B + C) -> xy (N, S, S, B, 2), wh (N, S, S, B, 2), conf (N, S, S, B),
    class logits (N, S, S, C), with the sigmoids of the module docstring applied (Tensors in, Tensors out)."""
    B = boxes_per_cell
    if predictions.ndim != 4 or predictions.shape[1] != predictions.shape[2] or predictions.shape[3] <= 5 * B:
        raise ValueError(f"split_predictions: predictions must be (N, S, S, 5B + C) with B={B} and C >= 1, "
                         f"got {tuple(predictions.shape)}")
    N, S = predictions.shape[:2]
    box = predictions[..., : 5 * B].reshape(N, S, S, B, 5)  # per box (t_x, t_y, t_w, t_h, t_c)
    return F.sigmoid(box[..., 0:2]), F.sigmoid(box[..., 2:4]), F.sigmoid(box[..., 4]), predictions[..., 5 * B:]


def yolo_loss(predictions, targets, boxes_per_cell=1, lambda_coord=5.0, lambda_noobj=0.5, rescore=True):
    """YOLOv1's loss (module docstring) of raw outputs (N, S, S, 5B + C) against ``encode_targets``' targets.

    Returns ``(total, terms)``: the scalar Tensor to minimize, and a dict of the four
    weighted scalar Tensors it sums, ``coord``, ``obj``, ``noobj`` and ``class``, each
    summed over the grid and averaged over the N images.  lambda_coord = 5 and
    lambda_noobj = 0.5 are the paper's: most cells own nothing, and without the small
    weight their "no object" error would drown out the few cells that do.

    ``rescore=True`` (darknet's flag) makes the responsible box's confidence target its
    current IoU with the truth, so that the score ranks well-placed boxes first; that
    IoU is a constant target (no gradient flows through it).  With ``rescore=False``
    the target is 1.  Which box is responsible is decided on the detached predictions.
    """
    xy, wh, conf, class_logits = split_predictions(predictions, boxes_per_cell)
    N, S, _, B, _ = xy.shape
    C = class_logits.shape[-1]
    if tuple(targets.mask.shape) != (N, S, S):
        raise ValueError(f"yolo_loss: predictions (N, S, S, 5B + C) = {tuple(predictions.shape)} and targets for "
                         f"a grid of {tuple(targets.mask.shape)} do not match")
    xp = backend.get_array_module(predictions.data)
    dtype, device = predictions.data.dtype, predictions.device

    def constant(array, kind=None):
        """A target (NumPy, or already on the device) as a Tensor on the predictions' device (no gradient)."""
        return Tensor(xp.asarray(backend.to_device(array, device), dtype=kind or dtype))

    # 1obj_ij: in each cell that owns an object, the box whose prediction has the highest IoU
    # with the truth; decided on the detached predictions, in fractions of the image.
    target_xy = constant(targets.xy).unsqueeze(3)  # (N, S, S, 1, 2): broadcasts over the B boxes
    target_wh = constant(targets.wh).unsqueeze(3)
    iou = paired_iou(decode_boxes(xy.data, wh.data, 1.0), decode_boxes(target_xy.data, target_wh.data, 1.0))
    best = iou.argmax(axis=-1)  # (N, S, S)
    responsible = backend.to_device(targets.mask, device)[..., None] & (xp.arange(B) == best[..., None])  # (N, S, S, B)
    r = constant(responsible)  # 1obj_ij as 0.0 / 1.0
    conf_target = constant(iou) if rescore else 1.0  # conf*

    # The four terms, each summed over the grid and averaged over the images.
    coord = lambda_coord * (r.unsqueeze(-1) * ((xy - target_xy) ** 2 + (wh - target_wh) ** 2)).sum() / N
    obj = (r * (conf - conf_target) ** 2).sum() / N
    noobj = lambda_noobj * ((1 - r) * conf**2).sum() / N
    classes = F.cross_entropy(class_logits.reshape(-1, C), constant(targets.labels.reshape(-1), xp.int64),
                              reduction="sum", ignore_index=-1) / N  # cells that own nothing have label -1
    terms = {"coord": coord, "obj": obj, "noobj": noobj, "class": classes}
    return coord + obj + noobj + classes, terms


# ---- from outputs to detections ----------------------------------------------------------
def decode(predictions, boxes_per_cell=1, image_size=64):
    """Raw outputs (N, S, S, 5B + C) -> every candidate box as host NumPy arrays:
    boxes (N, S*S*B, 4) in pixels, scores (N, S*S*B) and labels (N, S*S*B).

    Each box takes its cell's most likely class c, with score conf * p(c) (YOLO's
    class-specific confidence).  ``TinyYOLO.detect`` thresholds and NMS-es these.
    """
    with no_grad():
        xy, wh, conf, class_logits = split_predictions(predictions, boxes_per_cell)
        probabilities = F.softmax(class_logits, dim=-1)
    xy, wh, conf, probabilities = (backend.to_numpy(t.data) for t in (xy, wh, conf, probabilities))
    N, S, _, B = conf.shape
    boxes = decode_boxes(xy, wh, image_size)  # (N, S, S, B, 4)
    labels = np.broadcast_to(probabilities.argmax(-1)[..., None], (N, S, S, B))  # (N, S, S, B)
    scores = conf * probabilities.max(-1)[..., None]  # (N, S, S, B)
    return boxes.reshape(N, -1, 4), scores.reshape(N, -1), labels.reshape(N, -1).astype(np.int64)
