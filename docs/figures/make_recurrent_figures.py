"""Figures for docs/recurrent.md, every number measured with tinydl itself.

    python docs/figures/make_recurrent_figures.py

recurrent_gradient_norms.png: ||dL/dx_t|| against t for L = the sum of the
last step's output, T = 100, for nn.RNN, nn.LSTM and nn.GRU with PyTorch's
default initialization (left), and for the LSTM with a forget-gate bias of
0, 1, 2, 3 added (right).  Median over 5 seeds, float64.
recurrent_exploding.png: a tanh RNN with W_hh = rho * (a random orthogonal
matrix).  Left: tiny inputs and no bias, so tanh stays in its linear regime
and the gradient is rho^(T - 1 - t) times the last step's: vanishing below
rho = 1, exploding above.  Right: ordinary inputs and biases, where the
saturating tanh shrinks every factor but a large W_hh still explodes.
"""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import tinydl as td  # noqa: E402
import tinydl.nn as nn  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS, BATCH, INPUT, HIDDEN, SEEDS = 100, 4, 8, 32, 5


def input_gradient_norms(module, x):
    """||dL/dx_t|| for every t, L = sum of the output at the last step."""
    x = td.tensor(x, requires_grad=True)
    y, _ = module(x)
    y[-1].sum().backward()
    return np.linalg.norm(x.grad.numpy().reshape(x.shape[0], -1), axis=1)


def median_norms(make_module, scale=1.0):
    runs = []
    for seed in range(SEEDS):
        td.manual_seed(seed)
        module = make_module().double()
        x = np.random.default_rng(seed).standard_normal((STEPS, BATCH, INPUT)) * scale
        runs.append(input_gradient_norms(module, x))
    return np.median(runs, axis=0)


def with_forget_bias(bias):
    def make():
        m = nn.LSTM(INPUT, HIDDEN)
        m.bias_ih_l0.data[HIDDEN:2 * HIDDEN] += bias  # rows H .. 2H: the forget gate
        return m

    return make


def gradient_norms_figure(path):
    t = np.arange(STEPS)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for cls, color in ((nn.RNN, "tab:red"), (nn.GRU, "tab:green"), (nn.LSTM, "tab:blue")):
        left.semilogy(t, median_norms(lambda cls=cls: cls(INPUT, HIDDEN)), color=color, label=f"nn.{cls.__name__}")
    left.set_title("PyTorch's default init, U(-1/sqrt(H), 1/sqrt(H))")
    for bias, shade in zip((0, 1, 2, 3), (0.35, 0.55, 0.75, 1.0)):
        norms = median_norms(with_forget_bias(bias))
        right.semilogy(t, norms, color=plt.cm.Blues(shade), label=f"forget bias +{bias}")
    right.set_title("nn.LSTM with a larger forget-gate bias")
    for ax in (left, right):
        ax.set_xlabel("t (the loss is on the output at t = 99)")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend()
    left.set_ylabel("||dL / dx_t||")
    fig.suptitle(f"How far back the gradient reaches: T = {STEPS}, H = {HIDDEN}, median of {SEEDS} seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def orthogonal_rnn(rho, bias):
    def make():
        m = nn.RNN(INPUT, HIDDEN, bias=bias)
        q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((HIDDEN, HIDDEN)))
        m.weight_hh_l0.data[...] = rho * q  # every singular value of W_hh is rho
        return m

    return make


def exploding_figure(path):
    t = np.arange(STEPS)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for rho, color in ((0.8, "tab:purple"), (0.9, "tab:blue"), (1.0, "black"), (1.1, "tab:red")):
        left.semilogy(t, median_norms(orthogonal_rnn(rho, bias=False), scale=1e-7), color=color, label=f"rho = {rho}")
    left.set_title("inputs ~ 1e-7, no bias: tanh stays linear,\nthe gradient is about rho^(99 - t) times the last step's")
    for rho, color in ((0.5, "tab:purple"), (1.0, "black"), (2.0, "tab:orange"), (3.0, "tab:red"),
                       (5.0, "darkred")):
        right.semilogy(t, median_norms(orthogonal_rnn(rho, bias=True)), color=color, label=f"rho = {rho}")
    right.set_title("inputs ~ N(0, 1), with bias: saturation shrinks every factor,\nbut a large W_hh still explodes")
    for ax in (left, right):
        ax.set_xlabel("t (the loss is on the output at t = 99)")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend()
    left.set_ylabel("||dL / dx_t||")
    fig.suptitle("tanh RNN with W_hh = rho * (random orthogonal matrix): vanishing and exploding")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    gradient_norms_figure(os.path.join(HERE, "recurrent_gradient_norms.png"))
    exploding_figure(os.path.join(HERE, "recurrent_exploding.png"))
    print("wrote docs/figures/recurrent_gradient_norms.png, recurrent_exploding.png")
