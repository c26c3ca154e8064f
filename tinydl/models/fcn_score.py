"""The FCN-score (pix2pix, section 4.2; CycleGAN, section 5.1.1): how well a frozen segmenter reads generated images.

To score label map -> image translation, run a segmenter trained on *real* images (the "judge": an FCN in
the papers, a U-Net here, examples/train_fcn_judge.py) on the generated images and compare its per-pixel
classes with the label maps the images were generated from.  If the generated image shows what the label
map asked for, where it asked for it, the judge reads the label map back: "if the generated images are
realistic, classifiers trained on real images will be able to classify the synthesized image correctly as
well".  The same judge on the real images gives the ceiling (the papers' "ground truth" row).

The papers report three numbers from the one confusion matrix over all pixels of all images, with rows the
label map's class t and columns the judge's class p (``tinydl.vision.confusion_matrix``):

    per-pixel accuracy   sum_c M[c, c] / sum M
    per-class accuracy   mean over classes c of M[c, c] / sum_p M[c, p]
    class IoU            mean over classes c of M[c, c] / (sum_p M[c, p] + sum_t M[t, c] - M[c, c])

Classes absent from both the labels and the predictions are left out of the IoU mean; a class the judge
predicts but the labels lack has IoU 0 and counts in it.  The per-class accuracy averages over the classes
present in the labels only (an absent class has no true pixels to be right about).
"""
import warnings
from collections import namedtuple

import numpy as np

from .. import backend
from ..autograd import no_grad
from ..tensor import Tensor
from ..creation import tensor
from ..vision import confusion_matrix, iou_per_class

FCNScore = namedtuple("FCNScore", ["mean_iou", "pixel_accuracy", "class_accuracy", "iou_per_class"])
FCNScore.__doc__ = """The FCN-score: ``mean_iou`` (the papers' class IoU), ``pixel_accuracy`` (per-pixel accuracy),
``class_accuracy`` (per-class accuracy), floats, and ``iou_per_class`` (C,) float64 (nan for an absent class)."""


def fcn_score(judge, images, label_maps, num_classes=None, batch_size=100):
    """Score ``images`` (N, 3, H, W) in [0, 1] (a Tensor or an array) against ``label_maps`` (N, H, W) class indices
    with the segmenter ``judge`` (a module mapping images to (N, C, H, W) logits); returns an :class:`FCNScore`.

    The judge runs in eval mode (restored afterwards) without gradients, on its own device, ``batch_size``
    images at a time.  ``num_classes`` defaults to the judge's C.  Images must be in the judge's range, [0, 1]
    as ``make_shapes`` draws them: a tanh generator's output y maps there as (y + 1) / 2.
    """
    images = images.detach().numpy() if isinstance(images, Tensor) else backend.to_numpy(images)
    label_maps = label_maps.numpy() if isinstance(label_maps, Tensor) else backend.to_numpy(label_maps)
    if images.ndim != 4 or label_maps.shape != (images.shape[0],) + images.shape[2:]:
        raise ValueError(f"fcn_score: expected images (N, C, H, W) and label_maps (N, H, W), got images of shape "
                         f"{images.shape} and label_maps of shape {label_maps.shape}")
    if len(images) == 0:
        raise ValueError(f"fcn_score: no images to score (images of shape {images.shape})")
    if images.shape[1] != 3:
        raise ValueError(f"fcn_score: images must have 3 channels (RGB, as the judge reads them), got images of "
                         f"shape {images.shape}")
    if not np.isfinite(images).all():
        raise ValueError(f"fcn_score: images must be finite, got {int((~np.isfinite(images)).sum())} nan or inf "
                         f"values in images of shape {images.shape} (has the generator diverged?)")
    if not np.issubdtype(label_maps.dtype, np.integer):
        raise ValueError(f"fcn_score: label_maps must hold integer class indices, got dtype {label_maps.dtype}")
    if batch_size < 1:
        raise ValueError(f"fcn_score: batch_size must be >= 1, got {batch_size}")
    if (images.min() < -1e-3 or images.max() > 1 + 1e-3):
        raise ValueError(f"fcn_score: images must be in [0, 1] (the judge's range; map a tanh output y with "
                         f"(y + 1) / 2), got values in [{images.min():.3g}, {images.max():.3g}]")
    predictions, judge_classes = _segment(judge, images, batch_size)        # (N, H, W) the judge's classes
    num_classes = judge_classes if num_classes is None else num_classes
    if num_classes < judge_classes or label_maps.min() < 0 or label_maps.max() >= num_classes:
        raise ValueError(f"fcn_score: the judge has {judge_classes} classes and num_classes is {num_classes}; "
                         f"label_maps (shape {label_maps.shape}) must hold classes in [0, {num_classes}), got "
                         f"[{label_maps.min()}, {label_maps.max()}]")
    confusion = confusion_matrix(predictions, label_maps, num_classes)      # (C, C), rows true classes
    per_class_iou = iou_per_class(confusion)
    true_count = confusion.sum(axis=1)                                      # (C,) pixels of each true class
    with warnings.catch_warnings():                                         # all-nan means are nan, not a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        class_accuracy = np.nanmean(np.divide(np.diag(confusion), true_count, out=np.full(num_classes, np.nan),
                                              where=true_count > 0))
        mean_iou = np.nanmean(per_class_iou)
    pixel_accuracy = np.trace(confusion) / max(confusion.sum(), 1)
    return FCNScore(float(mean_iou), float(pixel_accuracy), float(class_accuracy), per_class_iou)


@no_grad()
def _segment(judge, images, batch_size):
    """The judge's argmax class of every pixel, (N, H, W) int64 on the host, and its number of classes C."""
    weight = next(iter(judge.parameters()))
    was_training = judge.training
    judge.eval()
    try:
        classes = []
        for start in range(0, len(images), batch_size):
            batch = images[start:start + batch_size].astype(weight.dtype, copy=False)
            logits = judge(tensor(batch, device=weight.device))              # (B, C, H, W)
            classes.append(logits.argmax(1).numpy())
    finally:
        judge.train(was_training)
    return np.concatenate(classes), logits.shape[1]
