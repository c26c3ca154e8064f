"""A small CNN that classifies 16x16 digits: the judge that scores a GAN's samples.

    python examples/digit_classifier.py     # trains it (about 20 s) and saves examples/assets/digit_classifier.npz

train_dcgan.py loads the saved weights (or trains them if the file is missing)
and uses the classifier two ways: the confidence of its predictions on
generated digits (a digit that looks like nothing gets a flat distribution),
and its 64-d penultimate features, whose statistics give a Frechet distance
between generated and real digits (the idea behind FID).
"""
import os

import numpy as np

import tinydl as td
import tinydl.functional as F
import tinydl.nn as nn
from tinydl import optim

ASSET = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets", "digit_classifier.npz")


class DigitCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (N, 16, 8, 8)
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (N, 32, 4, 4)
            nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(),  # (N, 64): the features
        )
        self.classify = nn.Linear(64, 10)

    def forward(self, x):
        return self.classify(self.features(x))


def train_classifier(seed=0, epochs=40, verbose=True):
    """Train on td.data.load_digits(size=16, value_range=(-1, 1)); returns (model, test accuracy)."""
    td.manual_seed(seed)
    data = td.data.load_digits(size=16, value_range=(-1.0, 1.0), seed=seed)
    model = DigitCNN()
    optimizer = optim.Adam(model.parameters(), lr=2e-3)
    loader = td.data.DataLoader(td.data.TensorDataset(data.x_train, data.y_train), batch_size=64, shuffle=True)
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        model.train()
        for xb, yb in loader:
            shift = rng.integers(-1, 2, size=2)  # a random 1-pixel shift: a little augmentation
            xb = td.tensor(np.roll(xb.numpy(), tuple(shift), axis=(2, 3)))
            loss = F.cross_entropy(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    accuracy = evaluate(model, data.x_test, data.y_test)
    if verbose:
        print(f"digit classifier: test accuracy {accuracy:.4f}")
    return model, accuracy


@td.no_grad()
def evaluate(model, x, y):
    model.eval()
    return float((model(td.tensor(x)).argmax(dim=1).numpy() == y).mean())


def load_or_train(path=ASSET, device="cpu"):
    """The saved classifier, or a freshly trained one (saved to ``path``)."""
    model = DigitCNN()
    if os.path.exists(path):
        model.load_state_dict(td.load(path)["model"])
    else:
        model, accuracy = train_classifier()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        td.save({"model": model.state_dict(), "test_accuracy": accuracy}, path)
    return model.to(device).eval()


if __name__ == "__main__":
    model, accuracy = train_classifier()
    os.makedirs(os.path.dirname(ASSET), exist_ok=True)
    td.save({"model": model.state_dict(), "test_accuracy": accuracy}, ASSET)
    print(f"saved {ASSET}")
