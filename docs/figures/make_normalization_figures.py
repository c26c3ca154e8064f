"""Figures for docs/normalization.md, the statistics computed with tinydl itself.

    python docs/figures/make_normalization_figures.py

normalization_axes.png: the N / C / (H, W) cube for batch, layer and instance
norm, with the set of values that share one mean and one variance shaded.
normalization_batch_norm.png: activations of three channels before and after
batch norm (training mode), and the running mean approaching the true mean for
several momenta (momentum=None: the cumulative average).
"""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import tinydl as td  # noqa: E402
import tinydl.functional as F  # noqa: E402
import tinydl.nn as nn  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
N, C, HW = 4, 6, 5  # the cube's sides


def shaded(kind):
    """A boolean (N, C, HW) array: the values normalized together with the one at sample 0, channel 2."""
    mask = np.zeros((N, C, HW), dtype=bool)
    if kind == "batch":
        mask[:, 2, :] = True  # one channel, every sample and pixel
    elif kind == "layer":
        mask[0, :, :] = True  # one sample, every channel and pixel
    else:
        mask[0, 2, :] = True  # one sample, one channel, every pixel
    return mask


def axes_figure(path):
    kinds = [
        ("batch", "Batch norm: per channel,\nover N, H, W"),
        ("layer", "Layer norm: per sample,\nover C, H, W"),
        ("instance", "Instance norm (and AdaIN):\nper sample and channel, over H, W"),
    ]
    fig = plt.figure(figsize=(12, 4.4))
    for k, (kind, title) in enumerate(kinds):
        ax = fig.add_subplot(1, 3, k + 1, projection="3d")
        # voxels are indexed (x, y, z) = (C, N, HW): N runs into the page, as in the Group Norm paper's figure
        mask = shaded(kind).transpose(1, 0, 2)
        ax.voxels(mask, facecolors=(0.20, 0.45, 0.85, 1.0), edgecolors=(0.1, 0.2, 0.4, 0.6), linewidth=0.4)
        ax.voxels(~mask, facecolors=(0.8, 0.8, 0.8, 0.12), edgecolors=(0.45, 0.45, 0.45, 0.35), linewidth=0.3)
        ax.set_xlabel("C", labelpad=-10)
        ax.set_ylabel("N", labelpad=-10)
        ax.set_zlabel("H, W", labelpad=-10)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_zticks([])
        ax.set_box_aspect((C, N, HW), zoom=0.85)
        ax.view_init(elev=22, azim=-60)
        ax.set_title(title, fontsize=10)
    fig.suptitle("Blue: the values that share one mean and one variance", fontsize=11, y=0.04)
    fig.subplots_adjust(left=0.02, right=0.98, top=0.88, bottom=0.08, wspace=0.05)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def batch_norm_figure(path):
    td.manual_seed(0)
    # three channels with very different scales and offsets, as a layer's outputs often have
    centers, scales = np.array([-3.0, 0.5, 4.0]), np.array([0.5, 2.0, 1.0])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((512, 3)) * scales + centers
    y = F.batch_norm(td.tensor(x), None, None, training=True).numpy()

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    bins = np.linspace(-8, 8, 80)
    for c in range(3):
        axes[0].hist(x[:, c], bins=bins, alpha=0.6, label=f"channel {c}")
        axes[1].hist(y[:, c], bins=bins, alpha=0.6, label=f"channel {c}")
    axes[0].set_title("before batch norm")
    axes[1].set_title("after (training mode): mean 0, variance 1 per channel")
    for ax in axes[:2]:
        ax.set_xlabel("activation")
        ax.legend(fontsize=8)

    # running mean of one channel whose true mean is 2, batches of 16
    steps = 60
    batches = [rng.normal(2.0, 1.0, (16, 1)) for _ in range(steps)]
    for momentum in (0.1, 0.5, None):
        bn = nn.BatchNorm1d(1, momentum=momentum).double()
        trace = []
        for batch in batches:
            bn(td.tensor(batch))
            trace.append(bn.running_mean.item())
        axes[2].plot(range(1, steps + 1), trace, label=f"momentum={momentum}")
    axes[2].axhline(2.0, color="black", linestyle=":", label="true mean")
    axes[2].set_xlabel("training batch")
    axes[2].set_ylabel("running_mean")
    axes[2].set_title("running statistics (start at 0)")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    axes_figure(os.path.join(HERE, "normalization_axes.png"))
    batch_norm_figure(os.path.join(HERE, "normalization_batch_norm.png"))
    print("wrote docs/figures/normalization_axes.png and normalization_batch_norm.png")
