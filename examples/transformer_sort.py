"""A small transformer encoder that learns to sort sequences of digits.

    python examples/transformer_sort.py           # target: >= 99% of held-out sequences sorted exactly
    python examples/transformer_sort.py --smoke   # a few steps, for the test suite

Input: ``--length`` random digits 0-9; target at position i: the i-th smallest
of them.  Nothing in the model knows about order or counting: token embeddings
plus sinusoidal positional encodings go through ``--layers`` post-norm
encoder layers (self-attention + feed-forward, docs/attention.md), and a
linear head reads each position.  Every position must find "the digit with
exactly i smaller ones", which self-attention can compute by comparing every
pair.  Training data is generated on the fly; the held-out set uses another
seed.  Saves the loss curve and a heat map of the first layer's attention
weights on one example (``attention.png``).
"""
import time

import numpy as np

import common
import tinydl as td
import tinydl.functional as F
import tinydl.nn as nn
from tinydl import optim


def warmup_cosine(step, warmup, steps):
    """The lr factor at ``step``: a linear warm-up over ``warmup`` steps, then a cosine decay to 5%."""
    if step < warmup:
        return min(1.0, (step + 1) / warmup)
    t = (step - warmup) / max(1, steps - warmup)
    return 0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * t))


def make_batch(rng, batch, length):
    x = rng.integers(0, 10, size=(batch, length))
    return x, np.sort(x, axis=1)


class SortingTransformer(nn.Module):
    def __init__(self, d_model=64, nhead=4, layers=2, ff=128, length=10):
        super().__init__()
        self.embed = nn.Embedding(10, d_model)
        self.position = nn.PositionalEncoding(d_model, max_len=length, batch_first=True)
        self.layers = nn.ModuleList(
            [nn.TransformerEncoderLayer(d_model, nhead, ff, dropout=0.0, batch_first=True) for _ in range(layers)]
        )
        self.head = nn.Linear(d_model, 10)

    def forward(self, x):  # x (N, L) digits
        h = self.position(self.embed(x))  # (N, L, d_model)
        for layer in self.layers:
            h = layer(h)
        return self.head(h)  # (N, L, 10) logits for the sorted digit at each position

    @td.no_grad()
    def first_layer_attention(self, x):
        """(L, L) head-averaged attention weights of the first layer for one sequence x (1, L)."""
        h = self.position(self.embed(x))
        _, weights = self.layers[0].self_attn(h, h, h, need_weights=True)
        return weights[0].numpy()


@td.no_grad()
def sequence_accuracy(model, x, y, device, batch=500):
    model.eval()
    correct = 0
    for i in range(0, len(x), batch):
        logits = model(td.tensor(x[i : i + batch], device=device))
        correct += int((logits.argmax(dim=-1).numpy() == y[i : i + batch]).all(axis=1).sum())
    model.train()
    return correct / len(x)


def save_attention_plot(model, x, path, device):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    weights = model.first_layer_attention(td.tensor(x[None], device=device))
    digits, ordered = list(x), list(np.sort(x))
    fig, ax = plt.subplots(figsize=(5, 4.3))
    image = ax.imshow(weights, cmap="viridis")
    ax.set_xticks(range(len(digits)), [str(d) for d in digits])
    ax.set_yticks(range(len(digits)), [f"{i}: {d}" for i, d in enumerate(ordered)])
    ax.set_xlabel("attends to input digit")
    ax.set_ylabel("output position: sorted digit")
    ax.set_title("First-layer attention (mean over heads)")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = common.parser("transformer_sort", __doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--length", type=int, default=10)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--test-size", type=int, default=5000)
    args = parser.parse_args(argv)
    if args.smoke:
        args.steps, args.test_size = 5, 100
    common.prepare(args)
    start = time.time()

    model = SortingTransformer(length=args.length).to(args.device)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    # lr = args.lr * warmup_cosine(step); created before the checkpoint is loaded, as in PyTorch
    scheduler = optim.lr_scheduler.LambdaLR(optimizer, lambda step: warmup_cosine(step, args.warmup, args.steps))
    progress = common.load_checkpoint(args, model, optimizer) or {"step": 0, "losses": []}
    if "scheduler" in progress:
        scheduler.load_state_dict(progress["scheduler"])
    losses = progress["losses"]
    train_rng = np.random.default_rng([args.seed, progress["step"]])
    x_test, y_test = make_batch(np.random.default_rng(10_000 + args.seed), args.test_size, args.length)

    bar = common.progress(range(progress["step"], args.steps), desc="training", unit="step")
    for step in bar:
        x, y = make_batch(train_rng, args.batch_size, args.length)
        logits = model(td.tensor(x, device=args.device))
        loss = F.cross_entropy(logits.reshape(-1, 10), td.tensor(y.reshape(-1), device=args.device))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
        if (step + 1) % 500 == 0:
            common.save_checkpoint(args, model, optimizer,
                                   {"step": step + 1, "losses": losses, "scheduler": scheduler.state_dict()})

    accuracy = sequence_accuracy(model, x_test, y_test, args.device)
    seconds = time.time() - start
    common.save_checkpoint(args, model, optimizer,
                           {"step": args.steps, "losses": losses, "scheduler": scheduler.state_dict()})
    common.plot_curves(f"{args.out}/loss.png", {"cross-entropy": losses}, smooth=20, log_y=True,
                       title="Transformer learning to sort digits")
    save_attention_plot(model, x_test[0], f"{args.out}/attention.png", args.device)
    metrics = common.write_metrics(args, {"seq_accuracy": accuracy, "test_sequences": len(x_test),
                                          "steps": args.steps, "seconds": seconds})
    print(f"{accuracy:.2%} of {len(x_test)} held-out sequences sorted exactly, in {seconds:.0f} s; "
          f"wrote {args.out}/metrics.json, loss.png, attention.png")
    return metrics


if __name__ == "__main__":
    main()
