"""The frozen networks of examples/style_transfer.py: its encoder and its two judges.

    python examples/train_style_encoder.py      # about 6 CPU minutes; saves examples/assets/style_*.npz

- ``style_encoder.npz``: the encoder f of both style-transfer methods (``tinydl.models.style_transfer.Encoder``,
  VGG-like), trained as a classifier of one joint label set, the 3 shapes of ``make_content`` and the 5
  classes of ``make_textures`` (8 classes), on plain contents and plain textures.  Its ReLU features are
  what the AdaIN and Gatys losses compare.
- ``style_shape_judge.npz`` and ``style_texture_judge.npz``: two :class:`Judge` networks, a different
  architecture (5x5 convs, batch norm, average pooling, a hidden layer) and different initial weights, trained on
  ``make_textured_shapes`` (a shape whose inside and outside are textures) and on the plain images: the
  shape judge names the shape whatever fills it, the texture judge names the texture whatever shape it
  is cut into.  style_transfer.py scores its stylised images with these, never with the encoder its losses
  use: Gatys' optimisation of the pixels could otherwise find images that fool the network that scores them.

Each file holds the state dict and the accuracy on fresh held-out images (seed stream 900+).
"""
import os

import numpy as np

import tinydl as td
import tinydl.functional as F
import tinydl.nn as nn
from tinydl import optim
from tinydl.data import SHAPE_CLASSES, TEXTURE_CLASSES, make_content, make_textured_shapes, make_textures
from tinydl.data.shapes import _rasterize, make_shapes
from tinydl.models.style_transfer import Decoder, Encoder

ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets")
ENCODER_PATH = os.path.join(ASSETS, "style_encoder.npz")
SHAPE_JUDGE_PATH = os.path.join(ASSETS, "style_shape_judge.npz")
TEXTURE_JUDGE_PATH = os.path.join(ASSETS, "style_texture_judge.npz")
IMAGE_SIZE = 32
RECONSTRUCTION_WEIGHT = 10.0  # the encoder's auxiliary loss (see train_classifier)
JUDGE_EPOCHS = 48  # of 2048 fresh images each


class Judge(nn.Module):
    """A small classifier unlike the encoder: 5x5 convs, batch norm, average pooling, a hidden fully connected layer."""

    def __init__(self, num_classes, width=12):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(3, w, 5, padding=2), nn.BatchNorm2d(w), nn.ReLU(), nn.AvgPool2d(2),              # (N, w, 16, 16)
            nn.Conv2d(w, 2 * w, 5, padding=2), nn.BatchNorm2d(2 * w), nn.ReLU(), nn.AvgPool2d(2),      # (N, 2w, 8, 8)
            nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(), nn.AvgPool2d(2),  # (N, 2w, 4, 4)
            nn.Flatten(), nn.Linear(2 * w * 16, 64), nn.ReLU())
        self.classify = nn.Linear(64, num_classes)

    def forward(self, x):
        return self.classify(self.features(x))


# ---- the training sets (fresh images every epoch, from (seed, epoch)) --------------------------------------
def encoder_batch(n, seed):
    """Plain contents (labels 0..2) and plain textures (labels 3..7), shuffled."""
    contents = make_content(n // 2, IMAGE_SIZE, seed=[seed, 0])
    textures = make_textures(n - n // 2, IMAGE_SIZE, seed=[seed, 1])
    x = np.concatenate([contents.images, textures.images])
    y = np.concatenate([contents.labels, textures.labels + len(SHAPE_CLASSES)])
    order = np.random.default_rng([seed, 2]).permutation(n)
    return x[order], y[order]


def shape_judge_batch(n, seed):
    """Two thirds textured shapes, one third plain contents; labels index SHAPE_CLASSES."""
    k = n // 3
    images, shapes, _ = make_textured_shapes(n - k, IMAGE_SIZE, seed=[seed, 3])
    contents = make_content(k, IMAGE_SIZE, seed=[seed, 4])
    return np.concatenate([images, contents.images]), np.concatenate([shapes, contents.labels])


def texture_judge_batch(n, seed):
    """Two thirds textured shapes (labelled by the inside's texture), one third plain textures."""
    k = n // 3
    images, _, textures = make_textured_shapes(n - k, IMAGE_SIZE, seed=[seed, 5])
    plain = make_textures(k, IMAGE_SIZE, seed=[seed, 6])
    return np.concatenate([images, plain.images]), np.concatenate([textures, plain.labels])


def train_classifier(model, batches, epochs, per_epoch, seed, lr=2e-3, batch_size=64, name="", reconstruct=None):
    """Adam on fresh data every epoch (``batches(n, seed)``), a cosine learning rate; returns the model.

    ``reconstruct``: for the encoder, a throwaway decoder from relu3_1 back to the image; its squared error
    is added to the cross-entropy so that the features keep what the image looks like (colours, positions)
    instead of only what tells the 8 classes apart, as VGG's features do (they can be inverted to the image)."""
    params = list(model.parameters()) + (list(reconstruct.parameters()) if reconstruct is not None else [])
    optimizer = optim.Adam(params, lr=lr)
    steps, step = epochs * (per_epoch // batch_size), 0
    for epoch in range(epochs):
        x, y = batches(per_epoch, seed * 1000 + epoch)
        model.train()
        losses = []
        for i in range(per_epoch // batch_size):
            for group in optimizer.param_groups:
                group["lr"] = 0.5 * lr * (1 + np.cos(np.pi * step / steps))
            batch = slice(i * batch_size, (i + 1) * batch_size)
            xb = td.tensor(x[batch])
            if reconstruct is None:
                loss = F.cross_entropy(model(xb), td.tensor(y[batch]))
            else:
                relu3_1 = model.features(xb)["relu3_1"]
                loss = F.cross_entropy(model.classifier(relu3_1), td.tensor(y[batch])) \
                    + RECONSTRUCTION_WEIGHT * F.mse_loss(reconstruct(relu3_1), xb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            step += 1
        print(f"{name} epoch {epoch + 1}/{epochs}: loss {np.mean(losses):.4f}")
    return model.eval()


@td.no_grad()
def accuracy(model, x, y, batch_size=500):
    model.eval()
    device = _device(model)
    predictions = np.concatenate([model(td.tensor(x[i:i + batch_size], device=device)).argmax(dim=1).numpy()
                                  for i in range(0, len(x), batch_size)])
    return float((predictions == y).mean())


@td.no_grad()
def judge_probes(shape_judge, texture_judge, n=300, seed=950):
    """The judges on constructed images of a known shape s and texture t: {name: (shape accuracy, texture accuracy)}.

    An image that carries only the texture (``style only``) must leave the shape judge near chance (1/3), one
    that carries only the shape (``content``) the texture judge near chance (1/5); a shape cut out of the texture
    in any of three ways (the outside grey, darker, or the inverted colours) must score high on both.  These are
    the outputs a perfect stylisation could give; docs/transfer.md lists the numbers."""
    scenes = make_shapes(n, image_size=IMAGE_SIZE, min_objects=1, max_objects=1, size_range=(0.25, 0.4),
                         noise=0.03, seed=[seed, 0])
    shapes = scenes.labels[:, 0]
    inside = _rasterize(scenes.boxes[:, 0], shapes, IMAGE_SIZE)[:, None]  # (n, 1, S, S)
    style = make_textures(n, IMAGE_SIZE, seed=[seed, 1])
    s = style.images
    probes = {"content": scenes.images, "style only": s, "inside style, outside grey": np.where(inside, s, 0.5),
              "inside style, outside darker": np.where(inside, s, 0.5 * s),
              "inside style, outside inverted": np.where(inside, s, 1 - s)}
    return {name: (accuracy(shape_judge, x.astype(np.float32), shapes),
                   accuracy(texture_judge, x.astype(np.float32), style.labels)) for name, x in probes.items()}


def _device(model):
    return next(iter(model.parameters())).device


# ---- loading what this script saved --------------------------------------------------------------------------
def load_encoder(device="cpu"):
    encoder = Encoder(width=16, num_classes=len(SHAPE_CLASSES) + len(TEXTURE_CLASSES))
    encoder.load_state_dict(_load(ENCODER_PATH)["model"])
    return encoder.to(device).eval()


def load_judges(device="cpu"):
    """(shape judge, texture judge), frozen, on ``device``."""
    judges = []
    for path, classes in ((SHAPE_JUDGE_PATH, SHAPE_CLASSES), (TEXTURE_JUDGE_PATH, TEXTURE_CLASSES)):
        judge = Judge(len(classes))
        judge.load_state_dict(_load(path)["model"])
        for p in judge.parameters():
            p.requires_grad = False
        judges.append(judge.to(device).eval())
    return tuple(judges)


def _load(path):
    if not os.path.exists(path):
        raise SystemExit(f"{path} is missing: run python examples/train_style_encoder.py to train it")
    return td.load(path)


def main(seed=0, which=("encoder", "shape judge", "texture judge")):
    os.makedirs(ASSETS, exist_ok=True)
    jobs = (
        ("encoder", ENCODER_PATH, encoder_batch, Encoder, 1),
        ("shape judge", SHAPE_JUDGE_PATH, shape_judge_batch, lambda: Judge(len(SHAPE_CLASSES)), 2),
        ("texture judge", TEXTURE_JUDGE_PATH, texture_judge_batch, lambda: Judge(len(TEXTURE_CLASSES)), 3),
    )
    for name, path, batches, build, offset in jobs:
        if name not in which:
            continue
        td.manual_seed(seed + offset)  # a different initialisation for each network
        model = build()
        reconstruct = Decoder(width=16, layer="relu3_1") if name == "encoder" else None
        model = train_classifier(model, batches, epochs=24 if name == "encoder" else JUDGE_EPOCHS, per_epoch=2048,
                                 seed=seed + offset, name=name, reconstruct=reconstruct)
        x, y = batches(2000, 900 + offset)  # fresh, held-out images
        held_out = accuracy(model, x, y)
        td.save({"model": model.state_dict(), "test_accuracy": held_out}, path)
        print(f"{name}: held-out accuracy {held_out:.4f}, saved {path}")
    for name, (shape, texture) in judge_probes(*load_judges()).items():
        print(f"judges on '{name}': shape judge {shape:.3f}, texture judge {texture:.3f}")


if __name__ == "__main__":
    import sys

    main(which=sys.argv[1:] or ("encoder", "shape judge", "texture judge"))  # e.g. `... encoder` retrains only it
