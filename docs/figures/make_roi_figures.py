"""Figures for docs/roi.md, computed with tinydl itself.

    python docs/figures/make_roi_figures.py

roi_pool_vs_align.png: one box on a 9 x 12 feature map, cut into 3 x 3 bins.
  Left, RoI pooling: which pixels each bin max-pools, found by running
  F.roi_pool on one-hot images (a pixel belongs to a bin exactly when lighting it
  up lights the bin).  Middle, RoIAlign (aligned=False, torchvision's default):
  the exact bins and their 2 x 2 sampling points.  Right, the weights RoIAlign
  gives the pixels for the centre bin, which are its gradient d y[bin] / d x.
  Here pixel (h, w) is drawn centred on the point (w, h), the convention both
  legacy ops read box coordinates in.
roi_aligned.png: the half-pixel shift of aligned=True, on one row of pixels,
  drawn the other way: pixel w covers [w, w + 1].
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
H, W = 9, 12
BOX = (1.6, 1.3, 9.4, 7.7)  # x1, y1, x2, y2
OUT = 3
COLORS = plt.get_cmap("tab10").colors


def pool_membership():
    """member[ph, pw, h, w]: does RoI pooling's bin (ph, pw) read pixel (h, w)?"""
    images = np.eye(H * W).reshape(H * W, 1, H, W)  # image i lights pixel i only
    boxes = np.array([[i, *BOX] for i in range(H * W)])
    y = F.roi_pool(td.tensor(images), boxes, OUT).numpy()  # (H*W, 1, OUT, OUT)
    return y[:, 0].transpose(1, 2, 0).reshape(OUT, OUT, H, W) > 0


def align_weights(ph, pw, aligned=False):
    """The weight RoIAlign gives each pixel in bin (ph, pw): its gradient w.r.t. x."""
    x = td.zeros(1, 1, H, W, dtype=td.float64, requires_grad=True)
    y = F.roi_align(x, np.array([[0, *BOX]]), OUT, sampling_ratio=2, aligned=aligned)
    y[0, 0, ph, pw].backward()
    return x.grad.numpy()[0, 0]


def sample_points(ratio=2):
    """RoIAlign's sampling points (aligned=False): box start + (bin + (i + 0.5) / ratio) * bin size."""
    x1, y1, x2, y2 = BOX
    bw, bh = (x2 - x1) / OUT, (y2 - y1) / OUT
    offsets = (np.arange(OUT * ratio) + 0.5) / ratio
    return x1 + offsets * bw, y1 + offsets * bh


def pixel_grid(ax):
    """Pixel (h, w) is the unit square centred on (w, h)."""
    for v in range(W + 1):
        ax.axvline(v - 0.5, color="0.85", lw=0.6, zorder=0)
    for v in range(H + 1):
        ax.axhline(v - 0.5, color="0.85", lw=0.6, zorder=0)
    ax.set_xlim(-0.7, W - 0.3)
    ax.set_ylim(H - 0.3, -0.7)
    ax.set_aspect("equal")
    ax.set_xticks(range(0, W, 2))
    ax.set_yticks(range(0, H, 2))
    ax.tick_params(labelsize=7)


def exact_box(ax, **style):
    x1, y1, x2, y2 = BOX
    ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, lw=1.6, **style))


def pool_vs_align_figure(path):
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.4))

    ax = axes[0]
    pixel_grid(ax)
    member = pool_membership()
    for ph in range(OUT):
        for pw in range(OUT):
            rows, cols = np.nonzero(member[ph, pw])
            color = COLORS[ph * OUT + pw]
            inset = 0.06 * (1 + (ph + pw) % 3)  # so that overlapping bins stay visible
            ax.add_patch(Rectangle((cols.min() - 0.5 + inset, rows.min() - 0.5 + inset),
                                   cols.max() + 1 - cols.min() - 2 * inset,
                                   rows.max() + 1 - rows.min() - 2 * inset, fill=False, lw=1.8, color=color))
    exact_box(ax, ls="--", color="k")
    ax.set_title("RoI pooling: round the box, then floor/ceil the bins\n"
                 "(dashed: the box; colour: the pixels each bin max-pools)", fontsize=9)

    ax = axes[1]
    pixel_grid(ax)
    exact_box(ax, color="k")
    x1, y1, x2, y2 = BOX
    for i in range(1, OUT):
        ax.plot([x1 + i * (x2 - x1) / OUT] * 2, [y1, y2], color="k", lw=0.8)
        ax.plot([x1, x2], [y1 + i * (y2 - y1) / OUT] * 2, color="k", lw=0.8)
    xs, ys = sample_points()
    gx, gy = np.meshgrid(xs, ys)
    ax.scatter(gx, gy, s=14, color="C3", zorder=3)
    sx, sy = xs[2], ys[2]  # one sample of the centre bin and the four pixel centres it reads
    cx, cy = np.floor(sx), np.floor(sy)
    for dx in (0, 1):
        for dy in (0, 1):
            ax.plot([sx, cx + dx], [sy, cy + dy], color="C0", lw=0.8)
            ax.scatter([cx + dx], [cy + dy], s=12, color="C0", marker="s", zorder=3)
    ax.set_title("RoIAlign: exact bins, 2 x 2 samples per bin,\n"
                 "each a bilinear mix of the 4 nearest pixel centres (blue)", fontsize=9)

    ax = axes[2]
    weights = align_weights(1, 1)
    ax.imshow(weights, cmap="Greens", extent=(-0.5, W - 0.5, H - 0.5, -0.5), interpolation="nearest")
    pixel_grid(ax)
    exact_box(ax, color="k", ls="--")
    for (h, w), v in np.ndenumerate(weights):
        if v > 0.005:
            ax.text(w, h, f"{v:.2f}", ha="center", va="center", fontsize=6)
    ax.set_title(f"RoIAlign, centre bin: d y[1, 1] / d x = its pixel weights\n(they sum to {weights.sum():.3g})",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def aligned_figure(path):
    """One row of 6 pixels, box [1, 5], 2 bins of 2 samples: where each variant samples."""
    width, box = 6, (1.0, 5.0)
    fig, ax = plt.subplots(figsize=(8, 2.8))
    for w in range(width):
        ax.add_patch(Rectangle((w, 0), 1, 1, fill=False, color="0.6"))
        ax.text(w + 0.5, 0.5, f"pixel {w}", ha="center", va="center", fontsize=7, color="0.4")
    ax.plot(box, [1.15, 1.15], color="k", lw=2)
    ax.text(box[1] + 0.1, 1.15, "box [1, 5]", va="center", fontsize=8)
    offsets = (np.arange(4) + 0.5) / 4 * (box[1] - box[0]) + box[0]  # 2 bins x 2 samples
    # aligned=True samples at index coordinate t - 0.5, i.e. at t on the pixel squares; legacy at t itself,
    # whose pixel-square position is t + 0.5: half a pixel to the right
    ax.scatter(offsets, [-0.3] * 4, color="C2", zorder=3)
    ax.text(width + 0.3, -0.3, "aligned=True: samples at 1.5, 2.5, 3.5, 4.5,\nthe centres of the box's pixels",
            va="center", fontsize=8, color="C2")
    ax.scatter(offsets + 0.5, [-0.95] * 4, color="C3", zorder=3)
    ax.text(width + 0.3, -0.95, "aligned=False: the same samples read\nhalf a pixel to the right (2, 3, 4, 5)",
            va="center", fontsize=8, color="C3")
    ax.set_xlim(-0.2, width + 3.6)
    ax.set_ylim(-1.35, 1.4)
    ax.set_yticks([])
    ax.set_title("The half-pixel shift, one row of pixels (x: image coordinates, pixel w covers [w, w + 1]);\n"
                 "box [1, 5], 2 bins x 2 samples", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    pool_vs_align_figure(os.path.join(HERE, "roi_pool_vs_align.png"))
    aligned_figure(os.path.join(HERE, "roi_aligned.png"))
    print("wrote docs/figures/roi_pool_vs_align.png and docs/figures/roi_aligned.png")
