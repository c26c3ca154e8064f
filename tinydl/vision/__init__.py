"""``tinydl.vision``: boxes (IoU, NMS), detection metrics (VOC AP, mAP), segmentation metrics (mean IoU)."""
from .boxes import batched_nms, box_area, box_iou, nms
from .detection import APResult, MAPResult, average_precision, mask_mean_average_precision, mean_average_precision
from .masks import mask_iou, paste_masks
from .segmentation import MeanIoU, confusion_matrix, iou_per_class, mean_iou
