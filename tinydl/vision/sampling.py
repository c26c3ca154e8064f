"""Which boxes train a two-stage detector: matching candidates to objects by IoU, and balanced sampling.

Both stages of Faster R-CNN (docs/faster_rcnn.md) learn from *candidates*
(anchors for the region proposal network, proposals for the RoI head), and
both first decide what each candidate should have seen:

1. ``match_by_iou``: each candidate takes the object it overlaps most.  It is
   a *positive* for that object if the IoU is at least ``high``, a *negative*
   (background) if it is below ``low``, and ignored in between (too ambiguous
   to teach either answer).  The RPN uses high = 0.7, low = 0.3 and also makes
   the best candidate of each object positive (``keep_best``), so that an
   object no anchor overlaps by 0.7 still gets one; the RoI head uses 0.5 for
   both (Ren et al., 2015, section 3.1.2; Girshick, Fast R-CNN, section 2.3).
2. ``sample_balanced``: an image has thousands of negatives and a handful of
   positives.  Training on all of them would teach "always background", so
   each image contributes a fixed number of candidates, up to a fixed
   fraction of them positive, the rest negative, each chosen at random.

Everything is batched over the images: truths are padded (``valid`` says
which are real), and there is no Python loop over images or candidates.  The
functions take NumPy arrays (the detector does its bookkeeping on the host)
and a NumPy ``Generator`` for the random choices.
"""
import numbers

import numpy as np

NEGATIVE, IGNORED = -1, -2  # what match_by_iou writes for a candidate without an object


def match_by_iou(iou, valid, high, low, keep_best=False):
    """Each candidate's object: (N, K) int64, the truth index for positives, NEGATIVE (-1) or IGNORED (-2).

    iou: (N, K, M) the IoU of each image's K candidates with its M (padded) truths;
    valid: (N, M) bool, which truths are real.  A candidate whose best IoU is
    >= ``high`` gets that truth's index; below ``low`` it is NEGATIVE; in
    between, IGNORED.  With ``keep_best`` each real truth's best candidates (every
    candidate that ties its highest IoU, if that is above 0) become positive,
    matched to their own best truth, as torchvision's Matcher does.
    """
    if not all(isinstance(t, numbers.Real) and not isinstance(t, bool) for t in (low, high)) or not 0 <= low <= high <= 1:
        raise ValueError(f"match_by_iou: need 0 <= low <= high <= 1, got low={low}, high={high}")
    if iou.ndim != 3 or valid.shape != (iou.shape[0], iou.shape[2]):
        raise ValueError(f"match_by_iou: iou must be (N, K, M) and valid (N, M), got shapes "
                         f"{tuple(iou.shape)} and {tuple(valid.shape)}")
    iou = np.where(valid[:, None, :], iou, -1.0)  # (N, K, M): padding never matches
    best_truth = iou.argmax(axis=2) if iou.shape[2] else np.zeros(iou.shape[:2], dtype=np.int64)  # (N, K)
    best_iou = iou.max(axis=2, initial=-1.0)  # (N, K), -1 where the image has no truth
    matched = np.where(best_iou >= high, best_truth, np.where(best_iou < low, NEGATIVE, IGNORED))
    if keep_best:
        best_of_truth = iou.max(axis=1, initial=-1.0)  # (N, M) each truth's highest IoU over the candidates
        is_best = (iou == best_of_truth[:, None, :]) & (best_of_truth[:, None, :] > 0)  # (N, K, M)
        matched = np.where(is_best.any(axis=2), best_truth, matched)
    return matched.astype(np.int64)


def _random_rank(chosen_from, gen):
    """(N, K) int: each True entry's place in a random order of its row's True entries (0, 1, ...);
    False entries come after all of them."""
    keys = np.where(chosen_from, gen.random(chosen_from.shape), np.inf)  # (N, K)
    order = np.argsort(keys, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(chosen_from.shape[1])[None, :], axis=1)
    return rank


def sample_balanced(matched, num_samples, positive_fraction, gen):
    """Pick ``num_samples`` candidates per image, at most ``positive_fraction`` of them positive.

    matched: (N, K) as returned by ``match_by_iou``; gen: a NumPy Generator.
    Returns two (N, K) bool masks, ``positive`` and ``negative``: the sampled
    candidates with an object and the sampled background ones.  Each image
    takes min(#positives, num_samples * positive_fraction) positives at
    random, then fills up to ``num_samples`` with negatives at random (fewer
    if it has not enough).  IGNORED candidates are never taken.
    """
    count_ok = isinstance(num_samples, numbers.Integral) and not isinstance(num_samples, bool) and num_samples >= 1
    fraction_ok = isinstance(positive_fraction, numbers.Real) and 0 <= positive_fraction <= 1
    if not (count_ok and fraction_ok):
        raise ValueError(f"sample_balanced: need an int num_samples >= 1 and a number 0 <= positive_fraction <= 1, "
                         f"got {num_samples}, {positive_fraction}")
    if matched.ndim != 2:
        raise ValueError(f"sample_balanced: matched must be (N, K), one row per image, got shape {matched.shape}")
    is_positive, is_negative = matched >= 0, matched == NEGATIVE
    positive = is_positive & (_random_rank(is_positive, gen) < int(num_samples * positive_fraction))
    room = num_samples - positive.sum(axis=1, keepdims=True)  # (N, 1) places left for negatives
    negative = is_negative & (_random_rank(is_negative, gen) < room)
    return positive, negative
