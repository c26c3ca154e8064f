"""What every example shares: its command line, its output folder, checkpoints, metrics and plots.

Every example runs as

    python examples/NAME.py [--out DIR] [--seed N] [--device cpu|cuda] [--smoke] [--resume]

and writes into ``--out`` (default ``runs/NAME``): ``checkpoint.npz`` (model,
optimizer and progress, written atomically by ``td.save``), ``metrics.json``
(the headline figure under a fixed key, plus ``seconds``, ``seed`` and
``device``) and PNG plots.  ``--resume`` continues from the checkpoint in
``--out``; ``--smoke`` runs a few steps on tiny data (the test suite uses it,
on the CPU and on ``--device cuda``).
"""
import argparse
import json
import os

import tinydl as td


def parser(name, description):
    """The standard options; an example adds its own with ``add_argument``."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--out", default=os.path.join("runs", name), help="output folder (default runs/%(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--smoke", action="store_true", help="a few steps on tiny data, to check that everything runs")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    return p


def check_options(parser, args, positive=(), non_negative=(), fraction=()):
    """parser.error, naming the option and its value, for an option of ``positive`` below 1, of ``non_negative``
    below 0, or of ``fraction`` outside [0, 1)."""
    for name in positive:
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    for name in non_negative:
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be >= 0, got {getattr(args, name)}")
    for name in fraction:
        if not 0.0 <= getattr(args, name) < 1.0:
            parser.error(f"--{name.replace('_', '-')} must be in [0, 1), got {getattr(args, name)}")


def prepare(args):
    """Seed every random source, check the device, create the output folder."""
    if args.device == "cuda" and not td.cuda.is_available():
        raise SystemExit("--device cuda: no GPU is usable here (td.cuda.is_available() is False)")
    td.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)


def checkpoint_path(args):
    return os.path.join(args.out, "checkpoint.npz")


def save_checkpoint(args, model, optimizer, progress):
    """Model and optimizer state plus a dict of progress (step, epoch, history...), atomically.

    ``optimizer`` is one optimizer or a dict of them (a GAN has one per network)."""
    if isinstance(optimizer, dict):
        optimizer_state = {name: opt.state_dict() for name, opt in optimizer.items()}
    else:
        optimizer_state = optimizer.state_dict()
    td.save({"model": model.state_dict(), "optimizer": optimizer_state, "progress": progress}, checkpoint_path(args))


def load_checkpoint(args, model, optimizer):
    """Restore model and optimizer(s) from --out when --resume is given; returns the saved progress or None."""
    if not args.resume:
        return None
    path = checkpoint_path(args)
    if not os.path.exists(path):
        raise SystemExit(f"--resume: no checkpoint at {path}")
    state = td.load(path)
    model.load_state_dict(state["model"])
    if isinstance(optimizer, dict):
        for name, opt in optimizer.items():
            opt.load_state_dict(state["optimizer"][name])
    else:
        optimizer.load_state_dict(state["optimizer"])
    return state["progress"]


def out_of_time(args, name, train_seconds, epochs_done):
    """True (and says so) when training has used its --max-minutes and epochs remain: the example
    then stops, and records ``stopped_early`` and the epochs done in metrics.json."""
    if train_seconds > 60 * args.max_minutes and epochs_done < args.epochs:
        print(f"{name}: stopping after {args.max_minutes} minutes, at epoch {epochs_done}")
        return True
    return False


def write_metrics(args, metrics):
    """metrics.json in --out, with the seed and the device it ran on; returns the metrics."""
    metrics = dict(metrics, seed=args.seed, device=args.device)
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    return metrics


def plot_curves(path, curves, xlabel="step", ylabel="loss", title="", log_y=False, smooth=1):
    """One line per entry of ``curves`` (name -> list of values), optionally a running mean."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, values in curves.items():
        values = np.asarray(values, dtype=float)
        if smooth > 1 and len(values) >= smooth:
            (raw,) = ax.plot(values, lw=0.8, alpha=0.35)
            kernel = np.ones(smooth) / smooth
            ax.plot(np.arange(smooth - 1, len(values)), np.convolve(values, kernel, mode="valid"), lw=2,
                    color=raw.get_color(), label=f"{name} (mean of {smooth})")
        else:
            ax.plot(values, lw=1.5, label=name)
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def save_image_rows(path, rows, dpi=100):
    """A grid of images, one titled row per entry of ``rows``: (title, images), images (n, H, W, 3) in [0, 1]
    (or (n, H, W)), the same n in every row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = len(rows[0][1])
    fig, axes = plt.subplots(len(rows), count, figsize=(max(count, 3) * 1.0, 1.1 * len(rows)), squeeze=False)
    for r, (title, images) in enumerate(rows):
        for c in range(count):
            axes[r, c].imshow(images[c], interpolation="nearest")
            axes[r, c].axis("off")
        axes[r, 0].set_title(title, fontsize=8, loc="left")
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)


def progress(iterable, **kwargs):
    """A tqdm progress bar."""
    from tqdm import tqdm

    return tqdm(iterable, **kwargs)
