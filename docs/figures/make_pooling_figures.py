"""Figures for docs/pooling.md, computed with tinydl itself.

    python docs/figures/make_pooling_figures.py

pooling_unpool.png: max-unpooling placement. An input, its 2x2 max-pool (the
argmax of each window outlined), the indices max_pool2d returns (flat positions
row * W + col), and max_unpool2d of the pooled values: each lands where it came
from, every other pixel is 0.
pooling_backward.png: the gradient of sum(y) with respect to x for a 3x3
max-pool and a 3x3 average pool, stride 2, on the same input. Windows overlap
(stride < kernel), so a pixel that is the max of two windows receives 2, and
average pooling's g / count adds up where windows share pixels.
pooling_interpolation.png: resizing one axis is multiplying by a matrix A
(y = A_h x A_w^T), drawn for 5 -> 8 and 8 -> 3 pixels: nearest, bilinear with
align_corners False and True, and adaptive average pooling. Each matrix is
read off the op itself: resizing the rows of an identity image returns A_h.
"""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

import tinydl as td  # noqa: E402
import tinydl.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def draw_grid(ax, values, title, fmt="{:g}", cmap="Blues", vmin=None, vmax=None, highlight=None):
    """A matrix as coloured cells with its numbers written in; ``highlight`` cells get a red frame."""
    image = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax)
    for (r, c), v in np.ndenumerate(values):
        dark = image.norm(v) > 0.6  # white numbers on dark cells
        ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=9, color="white" if dark else "black")
    for r, c in highlight or []:
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor="crimson", linewidth=2))
    ax.set_title(title, fontsize=10)
    ax.set_xticks(range(values.shape[1]))
    ax.set_yticks(range(values.shape[0]))
    ax.tick_params(labelsize=7)


def window_lines(ax, shape, step):
    """Thick lines between non-overlapping step x step windows."""
    for r in range(step, shape[0], step):
        ax.axhline(r - 0.5, color="black", linewidth=2)
    for c in range(step, shape[1], step):
        ax.axvline(c - 0.5, color="black", linewidth=2)


def unpool_figure(path):
    x = np.random.default_rng(4).permutation(24).reshape(4, 6).astype(np.float64)
    values, indices = F.max_pool2d(td.tensor(x[None, None]), 2, return_indices=True)
    unpooled = F.max_unpool2d(values, indices, 2, output_size=x.shape).numpy()[0, 0]
    values, indices = values.numpy()[0, 0], indices.numpy()[0, 0]
    maxima = [divmod(int(i), x.shape[1]) for i in indices.reshape(-1)]

    fig, axes = plt.subplots(1, 4, figsize=(13, 3.4), gridspec_kw={"width_ratios": [6, 3, 3, 6]})
    draw_grid(axes[0], x, "input x (4 x 6), 2x2 windows", vmin=0, vmax=23, highlight=maxima)
    window_lines(axes[0], x.shape, 2)
    draw_grid(axes[1], values, "max_pool2d(x, 2)", vmin=0, vmax=23)
    draw_grid(axes[2], indices, "indices = row * W + col", cmap="Oranges")
    draw_grid(axes[3], unpooled, "max_unpool2d(values, indices, 2)", vmin=0, vmax=23, highlight=maxima)
    window_lines(axes[3], x.shape, 2)
    fig.suptitle("Max pooling remembers where each maximum was; unpooling puts it back there, zeros elsewhere",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def input_gradient(pool, x):
    """d sum(pool(x)) / dx: how much of the upstream gradient each input pixel receives."""
    X = td.tensor(x[None, None], requires_grad=True)
    pool(X).sum().backward()
    return X.grad.numpy()[0, 0]


def backward_figure(path):
    x = np.random.default_rng(2).permutation(25).reshape(5, 5).astype(np.float64)
    g_max = input_gradient(lambda t: F.max_pool2d(t, 3, stride=2), x)
    g_avg = input_gradient(lambda t: F.avg_pool2d(t, 3, stride=2, padding=1), x)
    _, indices = F.max_pool2d(td.tensor(x[None, None]), 3, stride=2, return_indices=True)
    maxima = [divmod(int(i), 5) for i in indices.numpy().reshape(-1)]

    fig, axes = plt.subplots(1, 3, figsize=(11, 3.8))
    draw_grid(axes[0], x, "input x; the maxima of the four\n3x3 windows, stride 2 (22 wins two)",
              vmin=0, vmax=24, highlight=maxima)
    draw_grid(axes[1], g_max, "max_pool2d: d sum(y) / dx\n(scatter to the argmax, added up)", cmap="Reds")
    draw_grid(axes[2], g_avg, "avg_pool2d (padding 1): d sum(y) / dx\n(each window spreads 1/9)",
              fmt="{:.3f}", cmap="Greens")
    fig.suptitle("Backward of pooling with overlapping windows (stride 2 < kernel 3)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def resampling_matrix(size, out, **kwargs):
    """A_h of a resize from ``size`` to ``out`` rows: resize the rows of the identity image."""
    eye = td.tensor(np.eye(size)[None, None])
    if kwargs.pop("adaptive", False):
        return F.adaptive_avg_pool2d(eye, (out, size)).numpy()[0, 0]
    return F.interpolate(eye, size=(out, size), **kwargs).numpy()[0, 0]


def interpolation_figure(path):
    kinds = [
        ("nearest", dict(mode="nearest")),
        ("bilinear, align_corners=False", dict(mode="bilinear")),
        ("bilinear, align_corners=True", dict(mode="bilinear", align_corners=True)),
        ("adaptive_avg_pool2d", dict(adaptive=True)),
    ]
    fig, axes = plt.subplots(2, 4, figsize=(13, 6.4), gridspec_kw={"height_ratios": [8, 3]})
    for row, (size, out) in enumerate([(5, 8), (8, 3)]):
        for col, (name, kwargs) in enumerate(kinds):
            a = resampling_matrix(size, out, **kwargs)
            draw_grid(axes[row, col], a, f"{name}\n{size} -> {out}: A is {out} x {size}", fmt="{:.2g}",
                      cmap="Purples", vmin=0, vmax=1)
            axes[row, col].set_xlabel("input pixel", fontsize=8)
            axes[row, col].set_ylabel("output pixel", fontsize=8)
    fig.suptitle("Resizing an axis is y = A x: one row of weights per output pixel (backward: g_x = A^T g_y)",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    unpool_figure(os.path.join(HERE, "pooling_unpool.png"))
    backward_figure(os.path.join(HERE, "pooling_backward.png"))
    interpolation_figure(os.path.join(HERE, "pooling_interpolation.png"))
    print("wrote pooling_unpool.png, pooling_backward.png, pooling_interpolation.png to", HERE)
