"""Figures for docs/attention.md, computed with tinydl itself.

    python docs/figures/make_attention_figures.py

attention_masks.png: which keys each query may attend to under a causal mask
(L = S and L != S, top-left aligned), a key padding mask, and both together;
with the attention probabilities P that F.scaled_dot_product_attention gives.
attention_scale.png: why the scores are divided by sqrt(E): without it the
softmax saturates as E grows (its largest probability goes to 1 and its
gradient to 0); with it the softmax looks the same for every E.
attention_positional_encoding.png: the sinusoidal encoding matrix, a few of
its columns, and the similarity PE PE^T, which depends on the distance only.
"""
import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import tinydl as td  # noqa: E402
import tinydl.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ALLOWED, BLOCKED = (0.20, 0.45, 0.85), (0.93, 0.93, 0.93)


def draw_mask(ax, allowed, title):
    """allowed: (L, S) boolean, True = query i may attend to key j."""
    L, S = allowed.shape
    image = np.where(allowed[..., None], np.array(ALLOWED), np.array(BLOCKED))
    ax.imshow(image, interpolation="nearest")
    ax.set_xticks(range(S))
    ax.set_yticks(range(L))
    ax.set_xticks(np.arange(-0.5, S), minor=True)
    ax.set_yticks(np.arange(-0.5, L), minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="minor", length=0)
    ax.set_xlabel("key j")
    ax.set_ylabel("query i")
    ax.set_title(title, fontsize=10)


def draw_probabilities(ax, p, title):
    L, S = p.shape
    ax.imshow(p, cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
    for i in range(L):
        for j in range(S):
            if p[i, j] > 0:
                ax.text(j, i, f"{p[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if p[i, j] > 0.5 else "black")
    ax.set_xticks(range(S))
    ax.set_yticks(range(L))
    ax.set_xlabel("key j")
    ax.set_ylabel("query i")
    ax.set_title(title, fontsize=10)


def probabilities(allowed, seed=0):
    """P for random q, k under a mask (True = may attend), read off with v = I."""
    L, S = allowed.shape
    rng = np.random.default_rng(seed)
    q, k = td.tensor(rng.standard_normal((L, 8))), td.tensor(rng.standard_normal((S, 8)))
    v = td.tensor(np.eye(S))  # O = P V = P
    return F.scaled_dot_product_attention(q, k, v, attn_mask=td.tensor(allowed)).numpy()


def masks_figure(path):
    causal = ~np.triu(np.ones((6, 6), dtype=bool), k=1)
    causal_wide = ~np.triu(np.ones((4, 7), dtype=bool), k=1)  # top-left aligned: row i sees keys 0..i
    lengths, S = [6, 4], 6  # a batch of two sequences padded to 6 tokens; draw the second one
    padding = np.arange(S)[None, :] >= np.array(lengths)[:, None]  # (N, S), True = a padding key
    padded = np.broadcast_to(~padding[1], (6, S))
    both = causal & ~padding[1]

    fig, axes = plt.subplots(2, 4, figsize=(15, 7.6), gridspec_kw=dict(height_ratios=[1, 1]))
    draw_mask(axes[0, 0], causal, "causal (is_causal=True), L = S = 6:\nquery i sees keys j <= i")
    draw_mask(axes[0, 1], causal_wide, "causal with L = 4, S = 7:\ntop-left aligned (j > i blocked)")
    draw_mask(axes[0, 2], padded, "key padding mask (sequence of length 4\npadded to 6): keys 4, 5 hidden from all")
    draw_mask(axes[0, 3], both, "causal and padding together\n(blocked where either blocks)")
    draw_probabilities(axes[1, 0], probabilities(causal), "P under the causal mask:\neach row sums to 1")
    draw_probabilities(axes[1, 1], probabilities(causal_wide), "P, L = 4, S = 7")
    draw_probabilities(axes[1, 2], probabilities(padded), "P under the padding mask")
    draw_probabilities(axes[1, 3], probabilities(both), "P under both")
    fig.suptitle("Blue: may attend.  F.scaled_dot_product_attention takes these masks as True = may attend; "
                 "nn.MultiheadAttention takes the complement (True = blocked)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def scale_figure(path):
    """The gradient w.r.t. the scores S is read off a zero float mask: the mask is added to S, so dmask = dS."""
    rng = np.random.default_rng(1)
    dims = [2, 4, 8, 16, 32, 64, 128, 256, 512]
    L = S = 64
    curves = {"scores q.k (no scaling)": 1.0, "scores q.k / sqrt(E)": None}
    results = {name: ([], []) for name in curves}
    for E in dims:
        q, k = td.tensor(rng.standard_normal((16, L, E))), td.tensor(rng.standard_normal((16, S, E)))
        v, g = td.tensor(rng.standard_normal((16, S, 4))), td.tensor(rng.standard_normal((16, L, 4)))
        for name, scale in curves.items():
            p = F.scaled_dot_product_attention(q, k, td.tensor(np.eye(S)), scale=scale).numpy()
            zero = td.zeros(16, L, S, dtype=td.float64, requires_grad=True)
            F.scaled_dot_product_attention(q, k, v, attn_mask=zero, scale=scale).backward(g)
            results[name][0].append(p.max(-1).mean())
            results[name][1].append(np.abs(zero.grad.numpy()).mean())
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for name, (peak, grad) in results.items():
        axes[0].plot(dims, peak, "o-", label=name)
        axes[1].plot(dims, grad, "o-", label=name)
    axes[0].set_ylabel("mean of the largest probability in a row")
    axes[0].set_title("without scaling the softmax becomes one-hot")
    axes[1].set_ylabel("mean |dL/dS| (gradient of the scores)")
    axes[1].set_yscale("log")
    axes[1].set_title("... and the gradient through it vanishes")
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xlabel("feature size E (q, k with N(0, 1) entries; 64 keys)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def positional_encoding_figure(path):
    length, dim = 100, 64
    pe = F.sinusoidal_positional_encoding(length, dim, dtype=td.float64).numpy()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    im = axes[0].imshow(pe, cmap="RdBu", vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
    axes[0].set_xlabel("feature (even: sin, odd: cos)")
    axes[0].set_ylabel("position")
    axes[0].set_title(f"sinusoidal_positional_encoding({length}, {dim})")
    fig.colorbar(im, ax=axes[0], fraction=0.046)
    for column in (8, 9, 16, 24, 40):
        i = column // 2
        wavelength = 2 * math.pi * 10000 ** (2 * i / dim)
        axes[1].plot(pe[:, column], label=f"column {column} ({'sin' if column % 2 == 0 else 'cos'}, "
                                         f"wavelength {wavelength:.0f})")
    axes[1].set_xlabel("position")
    axes[1].set_title("some columns: a sin and a cos per frequency, fast to slow")
    axes[1].legend(fontsize=7, loc="lower left")
    similarity = pe @ pe.T  # (length, length): sum_i cos(w_i (p - p')) depends on p - p' only
    im = axes[2].imshow(similarity, cmap="viridis", interpolation="nearest")
    axes[2].set_xlabel("position p'")
    axes[2].set_ylabel("position p")
    axes[2].set_title("PE[p] . PE[p']: a function of p - p' alone")
    fig.colorbar(im, ax=axes[2], fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    masks_figure(os.path.join(HERE, "attention_masks.png"))
    scale_figure(os.path.join(HERE, "attention_scale.png"))
    positional_encoding_figure(os.path.join(HERE, "attention_positional_encoding.png"))
    print("wrote docs/figures/attention_masks.png, attention_scale.png and attention_positional_encoding.png")
