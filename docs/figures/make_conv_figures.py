"""Figures for docs/convolution.md, computed with tinydl itself.

    python docs/figures/make_conv_figures.py

conv_receptive_field.png: the receptive field of one output pixel after stacks of
3x3 convolutions (plain, and dilated 1, 2, 4), measured as the gradient of that
pixel with respect to the input: an input pixel is in the receptive field
exactly when the output depends on it.
conv_transposed.png: a stride-2 transposed convolution drawn as "insert zeros,
then convolve", next to the scatter view (each input pixel stamps a scaled kernel).
"""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import tinydl as td  # noqa: E402
import tinydl.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def receptive_field(dilations, size=33):
    """|d y[center] / d x| after 3x3 convolutions with all-ones weights and the given dilations."""
    x = td.zeros(1, 1, size, size, dtype=td.float64, requires_grad=True)
    y = x
    w = td.ones(1, 1, 3, 3, dtype=td.float64)
    for d in dilations:
        y = F.conv2d(y, w, padding=d, dilation=d)
    c = size // 2
    y[0, 0, c, c].backward()
    return x.grad.numpy()[0, 0]


def receptive_field_figure(path):
    stacks = [("3 plain 3x3 convs", [1, 1, 1]), ("dilations 1, 2, 4", [1, 2, 4]), ("dilations 1, 2, 4, 8", [1, 2, 4, 8])]
    fig, axes = plt.subplots(1, len(stacks), figsize=(10, 3.6))
    for ax, (title, dilations) in zip(axes, stacks):
        g = receptive_field(dilations)
        extent = int((g > 0).any(axis=0).sum())
        ax.imshow(np.log1p(g), cmap="viridis")
        ax.set_title(f"{title}\nreceptive field {extent} x {extent}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Which input pixels reach the centre output (gradient of that output, log scale)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def transposed_figure(path):
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    w = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.5]])  # asymmetric, so the flip shows
    y = F.conv_transpose2d(td.tensor(x[None, None]), td.tensor(w[None, None]), stride=2).numpy()[0, 0]
    zeros = np.zeros((3, 3))
    zeros[::2, ::2] = x
    padded = np.pad(zeros, 2)
    fig, axes = plt.subplots(1, 4, figsize=(12, 3.4))
    panels = [("input x (2 x 2)", x), ("insert 1 zero between pixels,\npad by k - 1 = 2", padded),
              ("kernel W (flipped for the\n'convolve' view)", w[::-1, ::-1]), ("output: conv_transpose2d\n(stride 2) = 5 x 5", y)]
    for ax, (title, image) in zip(axes, panels):
        ax.imshow(image, cmap="magma", vmin=0)
        for (r, c), v in np.ndenumerate(image):
            ax.text(c, r, f"{v:g}", ha="center", va="center", color="w" if v < image.max() * 0.6 else "k", fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    receptive_field_figure(os.path.join(HERE, "conv_receptive_field.png"))
    transposed_figure(os.path.join(HERE, "conv_transposed.png"))
    print("wrote conv_receptive_field.png and conv_transposed.png in", HERE)
