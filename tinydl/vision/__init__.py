"""``tinydl.vision``: boxes (IoU, NMS), box coding, anchors and samplers for two-stage detectors,
detection metrics (VOC AP, mAP, mask AP), instance masks (mask IoU, pasting), segmentation metrics (mean IoU)."""
from .anchors import anchor_shapes, grid_anchors
from .box_coding import clip_boxes, decode_boxes, encode_boxes
from .boxes import batched_box_iou, batched_nms, box_area, box_iou, nms
from .detection import APResult, MAPResult, average_precision, mask_mean_average_precision, mean_average_precision
from .masks import mask_iou, paste_masks
from .sampling import IGNORED, NEGATIVE, match_by_iou, sample_balanced
from .segmentation import MeanIoU, confusion_matrix, iou_per_class, mean_iou
