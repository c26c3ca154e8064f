"""Figures for docs/spatial.md, computed with tinydl itself.

    python docs/figures/make_spatial_figures.py

spatial_warps.png: a digit (scikit-learn's 8x8 digits, enlarged by grid_sample
itself) warped by a few thetas; top row: the input with the sampling grid drawn
where each output row and column reads; bottom row: the output.
spatial_align_corners.png: where -1 and +1 fall on a row of 4 pixels, for
align_corners=True (pixel centres) and False (outer edges).
spatial_padding.png: a zoom-out that reads outside the image, for every
padding mode, nearest and bilinear.
spatial_modes.png: an 8x8 digit enlarged five times, nearest and bilinear.
"""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import tinydl as td  # noqa: E402
import tinydl.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SIZE = 40  # pixels per side of the enlarged digit


def theta_of(angle=0.0, scale=1.0, shear=0.0, shift=(0.0, 0.0)):
    """A 2x3 theta that maps *output* coordinates to the input coordinates they read."""
    c, s = np.cos(angle), np.sin(angle)
    a = scale * np.array([[c, -s], [s, c]]) @ np.array([[1.0, shear], [0.0, 1.0]])
    return np.concatenate([a, np.array(shift)[:, None]], axis=1)


def warp(image, theta, size, mode="bilinear", padding_mode="zeros"):
    """grid_sample(image, affine_grid(theta)) for one (H, W) image; returns output and grid."""
    x = td.tensor(image[None, None].astype(np.float64))
    grid = F.affine_grid(td.tensor(theta[None]), (1, 1) + size, align_corners=False)
    out = F.grid_sample(x, grid, mode=mode, padding_mode=padding_mode, align_corners=False)
    return out.numpy()[0, 0], grid.numpy()[0]


def digit(index=0, mode="bilinear"):
    """An 8x8 scikit-learn digit enlarged to SIZE x SIZE: resizing is grid sampling with the identity."""
    small = load_digits().images[index] / 16.0
    big, _ = warp(np.pad(small, 1), theta_of(), (SIZE, SIZE), mode=mode)  # a one-pixel frame of zeros first
    return big


def to_pixels(grid, height, width):
    """Normalized grid coordinates -> input pixel coordinates (align_corners=False)."""
    return ((grid[..., 0] + 1) * width - 1) / 2, ((grid[..., 1] + 1) * height - 1) / 2


def warps_figure(path):
    image = digit(7)
    cases = [
        ("identity", theta_of()),
        ("rotate 30°", theta_of(angle=np.pi / 6)),
        ("zoom in (scale 0.6)", theta_of(scale=0.6, shift=(0.15, -0.1))),
        ("zoom out (scale 1.6)", theta_of(scale=1.6)),
        ("shear 0.5", theta_of(shear=0.5)),
    ]
    fig, axes = plt.subplots(2, len(cases), figsize=(2.4 * len(cases), 5.2))
    for (title, theta), top, bottom in zip(cases, axes[0], axes[1]):
        out, grid = warp(image, theta, (SIZE, SIZE))
        px, py = to_pixels(grid, SIZE, SIZE)
        top.imshow(image, cmap="gray_r", vmin=0, vmax=1)
        step = 5  # draw every 5th output row and column of the sampling grid
        for k in range(0, SIZE, step):
            top.plot(px[k, :], py[k, :], color="tab:red", lw=0.7)
            top.plot(px[:, k], py[:, k], color="tab:red", lw=0.7)
        top.plot(px[0, 0], py[0, 0], "o", color="tab:blue", ms=4)  # where output pixel (0, 0) reads
        top.set_xlim(-0.5 - SIZE * 0.35, SIZE - 0.5 + SIZE * 0.35)
        top.set_ylim(SIZE - 0.5 + SIZE * 0.35, -0.5 - SIZE * 0.35)
        top.set_title(title, fontsize=10)
        bottom.imshow(out, cmap="gray_r", vmin=0, vmax=1)
        for ax in (top, bottom):
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("input + sampling grid", fontsize=10)
    axes[1, 0].set_ylabel("grid_sample output", fontsize=10)
    title = "theta -> affine_grid -> grid_sample (bilinear, zeros padding); blue: output pixel (0, 0)"
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def align_corners_figure(path, width=4):
    fig, axes = plt.subplots(2, 1, figsize=(7.5, 3.4))
    for ax, align in zip(axes, (True, False)):
        for j in range(width):  # pixel j covers [j - 0.5, j + 0.5] in pixel coordinates
            ax.add_patch(plt.Rectangle((j - 0.5, -0.4), 1, 0.8, fc="0.92", ec="0.4"))
            ax.plot(j, 0, "o", color="0.3", ms=4)
            ax.text(j, -0.62, f"pixel {j}", ha="center", fontsize=8, color="0.3")
        edges = (0, width - 1) if align else (-0.5, width - 0.5)
        for pixel, label in zip(edges, ("-1", "+1")):
            ax.annotate(label, (pixel, 0.42), (pixel, 0.95), ha="center", fontsize=11, color="tab:red",
                        arrowprops=dict(arrowstyle="->", color="tab:red"))
        if align:
            ax.set_title("align_corners=True: -1, +1 are the centres of the corner pixels;  "
                         "i = (x + 1) / 2 · (W - 1)", fontsize=9)
        else:
            ax.set_title("align_corners=False: -1, +1 are the outer edges of the corner pixels;  "
                         "i = ((x + 1) · W - 1) / 2", fontsize=9)
        ax.set_xlim(-1.2, width + 0.2)
        ax.set_ylim(-0.8, 1.15)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def padding_figure(path):
    rows, cols = np.mgrid[0:SIZE, 0:SIZE] / (SIZE - 1)
    image = np.clip(digit(3) + 0.5 * cols * (1 - rows), 0, 1)  # a shaded background, so the edges differ
    theta = theta_of(scale=2.2, shift=(0.5, 0.3))  # reads far outside the image
    fig, axes = plt.subplots(2, 4, figsize=(9.2, 5.5))
    axes[0, 0].imshow(image, cmap="gray_r", vmin=0, vmax=1)
    axes[0, 0].set_title("input", fontsize=10)
    axes[1, 0].axis("off")
    for row, mode in zip(axes, ("bilinear", "nearest")):
        for ax, padding_mode in zip(row[1:], ("zeros", "border", "reflection")):
            out, _ = warp(image, theta, (SIZE, SIZE), mode=mode, padding_mode=padding_mode)
            ax.imshow(out, cmap="gray_r", vmin=0, vmax=1)
            ax.set_title(f"{mode}, {padding_mode}", fontsize=10)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("A zoom-out (scale 2.2) reads outside the image: what each padding mode finds there", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def modes_figure(path):
    small = np.pad(load_digits().images[2] / 16.0, 1)
    panels = [("the 10 x 10 input", small), ("nearest, 40 x 40", digit(2, "nearest")), ("bilinear, 40 x 40", digit(2))]
    fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.9))
    for ax, (title, image) in zip(axes, panels):
        ax.imshow(image, cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Enlarging = grid_sample with the identity theta onto a finer grid", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    warps_figure(os.path.join(HERE, "spatial_warps.png"))
    align_corners_figure(os.path.join(HERE, "spatial_align_corners.png"))
    padding_figure(os.path.join(HERE, "spatial_padding.png"))
    modes_figure(os.path.join(HERE, "spatial_modes.png"))
    print("wrote docs/figures/spatial_*.png")
