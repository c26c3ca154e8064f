"""The frozen judge of the FCN-score: a U-Net that segments real 32 x 32 shapes scenes.

    python examples/train_fcn_judge.py      # about 2 CPU minutes; saves examples/assets/fcn_judge.npz

pix2pix.py and cyclegan.py translate label maps into scenes; ``tinydl.models.fcn_score`` runs this judge on
their generated scenes and compares its per-pixel classes with the label maps they came from (pix2pix,
section 4.2).  The judge sees only real scenes in training, as the papers' FCN saw only real photos.

Why 32 x 32: the two GAN examples must train in a few CPU minutes on one core, and every convolution's cost
grows with the number of pixels, four times from 32 x 32 to 64 x 64.  At 32 x 32 one pix2pix step (a
UNetGenerator of width 16 and a PatchGAN, batch 16) takes about 0.08 CPU seconds, some 750 steps per CPU
minute; a CycleGAN step (two UNetGenerators of width 16, two PatchGANs of width 8) about 0.16.  At 32 x 32
``make_shapes``' shapes are still 8 to 19 pixels wide, enough for a circle, a square and a triangle to differ
in their outlines, which is what the judge must read.

The judge: ``UNet(3, 4, width=8, depth=3)`` (about 120 k parameters, 0.5 MB as float32), trained with the
per-pixel cross-entropy on fresh scenes every epoch (Adam, cosine learning rate).  Its scenes come from the
seed streams (1700 + seed, ...): the examples draw theirs from (seed, ...) with small seeds, so none of their
held-out scenes is one the judge was trained on.  The file holds the state dict, the architecture and the
FCN-score of the real held-out scenes (``test_miou``, ``test_pixel_accuracy``, ``test_class_accuracy``).
"""
import math
import os
import time

import numpy as np

import tinydl as td
import tinydl.functional as F
from tinydl import optim
from tinydl.data import SHAPE_CLASSES, make_shapes
from tinydl.models import UNet, fcn_score

ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets")
JUDGE_PATH = os.path.join(ASSETS, "fcn_judge.npz")
IMAGE_SIZE = 32
NUM_CLASSES = 1 + len(SHAPE_CLASSES)  # background, circle, square, triangle
WIDTH, DEPTH = 8, 3
JUDGE_SEED_OFFSET = 1700              # the judge's scenes: seed streams (1700 + seed, stream, ...)
TRAIN_STREAM, TEST_STREAM, SHUFFLE_STREAM = 0, 1, 2


def build_judge():
    return UNet(3, NUM_CLASSES, width=WIDTH, depth=DEPTH)


def training_scenes(n, seed, epoch):
    """The fresh scenes of one epoch, shuffled: images (n, 3, 32, 32) in [0, 1], masks (n, 32, 32)."""
    scenes = make_shapes(n, image_size=IMAGE_SIZE, seed=(JUDGE_SEED_OFFSET + seed, TRAIN_STREAM, epoch))
    order = np.random.default_rng((JUDGE_SEED_OFFSET + seed, SHUFFLE_STREAM, epoch)).permutation(n)
    return scenes.images[order], scenes.masks[order]


def held_out_scenes(n, seed):
    return make_shapes(n, image_size=IMAGE_SIZE, seed=(JUDGE_SEED_OFFSET + seed, TEST_STREAM))


def train(seed=0, epochs=24, per_epoch=1024, batch_size=32, lr=3e-3, device="cpu"):
    """Adam with a cosine learning rate on fresh real scenes every epoch; returns the judge in eval mode."""
    td.manual_seed(seed)
    judge = build_judge().to(device)
    optimizer = optim.Adam(judge.parameters(), lr=lr)
    steps, step = epochs * (per_epoch // batch_size), 0
    for epoch in range(epochs):
        images, masks = training_scenes(per_epoch, seed, epoch)
        losses = []
        for start in range(0, per_epoch - batch_size + 1, batch_size):
            for group in optimizer.param_groups:
                group["lr"] = 0.5 * lr * (1 + math.cos(math.pi * step / steps))
            x = td.tensor(images[start:start + batch_size], device=device)   # (B, 3, 32, 32)
            target = td.tensor(masks[start:start + batch_size], device=device)  # (B, 32, 32) classes
            loss = F.cross_entropy(judge(x), target)                          # mean over B * 32 * 32 pixels
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            step += 1
        print(f"fcn judge epoch {epoch + 1}/{epochs}: loss {np.mean(losses):.4f}")
    return judge.eval()


def load_judge(device="cpu", path=JUDGE_PATH):
    """The shipped judge, frozen (no gradients) and in eval mode, on ``device``."""
    if not os.path.exists(path):
        raise SystemExit(f"{path} is missing: run python examples/train_fcn_judge.py to train it")
    state = td.load(path)
    judge = UNet(3, int(state["num_classes"]), width=int(state["width"]), depth=int(state["depth"]))
    judge.load_state_dict(state["model"])
    for p in judge.parameters():
        p.requires_grad = False
    return judge.to(device).eval()


def main(seed=0, test_scenes=1000):
    start, cpu_start = time.time(), time.process_time()
    judge = train(seed)
    test = held_out_scenes(test_scenes, seed)
    score = fcn_score(judge, test.images, test.masks)
    os.makedirs(ASSETS, exist_ok=True)
    td.save({"model": judge.state_dict(), "image_size": IMAGE_SIZE, "num_classes": NUM_CLASSES, "width": WIDTH,
             "depth": DEPTH, "seed": seed, "test_scenes": test_scenes, "test_miou": score.mean_iou,
             "test_pixel_accuracy": score.pixel_accuracy, "test_class_accuracy": score.class_accuracy,
             "test_iou_per_class": score.iou_per_class}, JUDGE_PATH)
    print(f"fcn judge: held-out mean IoU {score.mean_iou:.4f} (" +
          ", ".join(f"{name} {v:.3f}" for name, v in zip(("background",) + SHAPE_CLASSES, score.iou_per_class)) +
          f"), pixel accuracy {score.pixel_accuracy:.4f}, class accuracy {score.class_accuracy:.4f}; "
          f"{time.time() - start:.0f} s wall, {time.process_time() - cpu_start:.0f} s CPU; saved {JUDGE_PATH}")
    return score


if __name__ == "__main__":
    main()
