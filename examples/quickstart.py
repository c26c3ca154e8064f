"""Quickstart: train a small MLP on scikit-learn's 8x8 handwritten digits with tinydl.

    python examples/quickstart.py            # a few seconds on a laptop CPU, ~98% test accuracy
    python examples/quickstart.py --smoke    # a few steps, for the test suite

Everything a training script needs is here and nothing is hidden: data split
and scaling, a model built from nn modules, minibatches, the loop
forward -> loss -> backward -> step, evaluation, a checkpoint, a loss plot
and metrics.json in the output folder (default runs/quickstart).
"""
import time

import numpy as np

import common
import tinydl as td
import tinydl.functional as F
import tinydl.nn as nn
from tinydl import optim


def load_digits_split(seed):
    """1797 images of 8x8 pixels as rows of 64 values in [0, 1], split 80/20 with a seeded shuffle
    (td.data.load_digits), then standardized with the training statistics only."""
    x_train, y_train, x_test, y_test = td.data.load_digits(seed=seed, flatten=True)
    mean, std = x_train.mean(0), x_train.std(0) + 1e-3
    return (x_train - mean) / std, y_train, (x_test - mean) / std, y_test


def make_model():
    return nn.Sequential(
        nn.Linear(64, 128),
        nn.ReLU(),
        nn.Linear(128, 64),
        nn.ReLU(),
        nn.Linear(64, 10),  # logits: cross_entropy applies log_softmax itself
    )


@td.no_grad()
def accuracy(model, x, y, device):
    logits = model(td.tensor(x, device=device))
    return float((logits.argmax(dim=1).numpy() == y).mean())


def main(argv=None):
    parser = common.parser("quickstart", __doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args(argv)
    if args.smoke:
        args.epochs = 2
    common.prepare(args)

    start = time.time()
    x_train, y_train, x_test, y_test = load_digits_split(args.seed)
    model = make_model().to(args.device)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    progress = common.load_checkpoint(args, model, optimizer) or {"epoch": 0, "losses": []}
    losses, batch_rng = progress["losses"], np.random.default_rng([args.seed, progress["epoch"]])
    print(f"tinydl quickstart: {len(x_train)} training and {len(x_test)} test digits, device {args.device}"
          + (f", resuming after epoch {progress['epoch']}" if progress["epoch"] else ""))

    bar = common.progress(range(progress["epoch"], args.epochs), desc="training", unit="epoch")
    for epoch in bar:
        model.train()
        order = batch_rng.permutation(len(x_train))
        for i in range(0, len(order), args.batch_size):
            batch = order[i : i + args.batch_size]
            xb = td.tensor(x_train[batch], device=args.device)
            yb = td.tensor(y_train[batch], device=args.device)
            loss = F.cross_entropy(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        model.eval()
        common.save_checkpoint(args, model, optimizer, {"epoch": epoch + 1, "losses": losses})
        bar.set_postfix(loss=f"{np.mean(losses[-10:]):.4f}", test_acc=f"{accuracy(model, x_test, y_test, args.device):.3f}")

    test_accuracy = accuracy(model, x_test, y_test, args.device)
    seconds = time.time() - start
    metrics = common.write_metrics(args, {
        "test_accuracy": test_accuracy, "train_accuracy": accuracy(model, x_train, y_train, args.device),
        "final_loss": float(np.mean(losses[-10:])), "seconds": seconds})
    steps_per_epoch = -(-len(x_train) // args.batch_size)
    common.plot_curves(f"{args.out}/loss.png", {"minibatch cross-entropy": losses}, log_y=True,
                       smooth=steps_per_epoch, title="MLP on 8x8 digits")
    print(f"test accuracy {test_accuracy:.4f} after {args.epochs} epochs in {seconds:.1f} s; "
          f"wrote {args.out}/metrics.json, loss.png, checkpoint.npz")
    return metrics


if __name__ == "__main__":
    main()
