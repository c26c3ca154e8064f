"""Domain adaptation from plain digits to digits-M: source-only, DDC (MMD), DANN and target-only.

    python examples/train_dann.py            # all four models, same budget and data order: metrics.json
    python examples/train_dann.py --smoke    # a few steps, for the test suite

Data: ``tinydl.data.make_digits_m`` (16x16): the source domain is scikit-learn's digits as RGB,
with labels; the target domain is the same digits blended with generated colour textures
(MNIST-M's |texture - digit|), labels unused except by the target-only upper bound. Accuracies
are measured on the 359 held-out target images (test digits, textures from another seed stream),
each model's with the mean of its weights over the second half of training (Polyak averaging,
``WeightAverage``, --average-from 0.5): DANN's last weights swing by +-3 points from epoch to epoch.

Models (``tinydl.models.dann``, one architecture, the same initial weights for all four):
source-only (L_y on source), DDC (L_y + gamma MMD^2 of the features), DANN (L_y + L_d through
the gradient reversal layer, lambda_p = 2 / (1 + exp(-10 p)) - 1) and target-only (L_y on target
labels). All use Adam (beta_1 = 0.5) with the paper's annealing mu_p = mu_0 / (1 + 10 p)^0.75,
over the same 60 epochs and the same per-epoch order of source and target images (seed (seed, epoch)).

Outputs: metrics.json (``source_only_accuracy``, ``mmd_accuracy``, ``dann_accuracy``,
``target_only_accuracy`` and extras), features.png (PCA of source and target features of the
source-only model and of DANN), accuracy.png (held-out target accuracy per epoch, of the last and
of the averaged weights), examples.png, checkpoint.npz (the model in training, its average, which
model and epoch; --resume continues exactly), and model_<name>.npz (the averaged weights) for
every finished model.
"""
import os
import time

import numpy as np

import common
import tinydl as td
from tinydl import optim
from tinydl.data import make_digits_m
from tinydl.models.dann import (DANN, WeightAverage, ddc_loss, dann_loss, label_loss, lambda_schedule,
                                learning_rate_schedule)

VARIANTS = ("source_only", "mmd", "dann", "target_only")
TITLES = {"source_only": "source only", "mmd": "DDC (MMD)", "dann": "DANN", "target_only": "target only"}


def build(args):
    """A fresh DANN network, the same initial weights for every variant (seeded), and its optimizer:
    Adam with beta_1 = 0.5 (the usual choice for an adversarial game), its step size annealed by
    the paper's mu_p (the paper used SGD with momentum, over far more steps than this budget)."""
    td.manual_seed(args.seed)
    model = DANN(image_size=args.size, width=args.width).to(args.device)
    return model, optim.Adam(model.parameters(), lr=args.lr, betas=(0.5, 0.999))


def epoch_order(args, epoch, data):
    """The epoch's batches: (source indices, target indices) per step, from the generator (seed, epoch),
    the same for all four variants and for a resumed run."""
    gen = np.random.default_rng([args.seed, epoch])
    source, target = gen.permutation(len(data.source.x_train)), gen.permutation(len(data.target.x_train))
    steps = min(len(source), len(target)) // args.batch_size
    size = args.batch_size
    return [(source[i * size:(i + 1) * size], target[i * size:(i + 1) * size]) for i in range(steps)]


def train_step(args, variant, model, optimizer, data, batch, p):
    """One step of ``variant`` at training progress p in [0, 1]; returns the loss terms as floats."""
    s, t = batch
    x_s, y_s = (td.tensor(a, device=args.device) for a in (data.source.x_train[s], data.source.y_train[s]))
    x_t, y_t = (td.tensor(a, device=args.device) for a in (data.target.x_train[t], data.target.y_train[t]))
    for group in optimizer.param_groups:
        group["lr"] = learning_rate_schedule(p, mu_0=args.lr)
    if variant == "source_only":
        loss = label_loss(model, x_s, y_s)
        terms = {"label": loss}
    elif variant == "target_only":
        loss = label_loss(model, x_t, y_t)
        terms = {"label": loss}
    elif variant == "mmd":
        loss, terms = ddc_loss(model, x_s, y_s, x_t, gamma=args.mmd_weight)
    else:
        loss, terms = dann_loss(model, x_s, y_s, x_t, lambda_p=lambda_schedule(p))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return {name: term.item() for name, term in terms.items()}


def accuracy(args, model, images, labels, batch=512):
    """Top-1 accuracy of the label predictor on (N, 3, S, S) images."""
    correct = 0
    model.eval()
    with td.no_grad():
        for i in range(0, len(images), batch):
            logits = model(td.tensor(images[i:i + batch], device=args.device))
            correct += int((logits.argmax(dim=1).numpy() == labels[i:i + batch]).sum())
    model.train()
    return correct / len(images)


def features(args, model, images, batch=512):
    """G_f's features (N, D) as a NumPy array."""
    with td.no_grad():
        return np.concatenate([model.feature_extractor(td.tensor(images[i:i + batch], device=args.device)).numpy()
                               for i in range(0, len(images), batch)])


def new_progress():
    return {"variant": VARIANTS[0], "epoch": 0, "results": {}, "curves": {}, "averaged_curves": {}, "losses": {},
            "average": None, "train_seconds": 0.0}


def evaluated_model(args, model, average):
    """The weights that are evaluated: theta_bar, the mean of the weights since --average-from (in a
    copy of the network), once averaging has started; before that, the last weights."""
    if average is None:
        return model
    averaged = DANN(image_size=args.size, width=args.width).to(args.device)
    average.copy_to(averaged)
    return averaged


def budget_share(max_minutes, used_seconds, models_left):
    """The seconds the next model may use: an equal share of what is left of --max-minutes after the
    models before it (DDC and DANN take longer than the other two, so a fixed quarter would not do)."""
    return (60 * max_minutes - used_seconds) / models_left


def train_variant(args, variant, model, optimizer, progress, data):
    """Train one variant from progress["epoch"] to args.epochs (or until its share of --max-minutes
    is spent), averaging its weights from --average-from on and checkpointing after every epoch;
    then evaluate the average and record its results."""
    steps_per_epoch = len(epoch_order(args, 0, data))
    total_steps = args.epochs * steps_per_epoch
    curve = progress["curves"].setdefault(variant, [])  # the last weights' accuracy after every epoch
    averaged_curve = progress["averaged_curves"].setdefault(variant, [])  # theta_bar's (None before it starts)
    losses = progress["losses"].setdefault(variant, [])
    average = None
    if progress["average"] is not None:  # resumed while averaging
        average = WeightAverage(model)
        average.load_state_dict(progress["average"])
    used = sum(result["train_seconds"] for result in progress["results"].values())  # by the models before
    budget = budget_share(args.max_minutes, used, len(VARIANTS) - len(progress["results"]))
    bar = common.progress(range(progress["epoch"], args.epochs), desc=TITLES[variant], unit="epoch")
    for epoch in bar:
        start = time.time()
        for i, batch in enumerate(epoch_order(args, epoch, data)):
            p = (epoch * steps_per_epoch + i) / total_steps  # training progress, 0 -> 1
            terms = train_step(args, variant, model, optimizer, data, batch, p)
            losses.append(sum(terms.values()))
            if p >= args.average_from:
                if average is None:
                    average = WeightAverage(model)
                average.update(model)
        curve.append(accuracy(args, model, data.target.x_test, data.target.y_test))
        averaged_curve.append(None if average is None else
                              accuracy(args, evaluated_model(args, model, average), data.target.x_test,
                                       data.target.y_test))
        progress["epoch"] = epoch + 1
        progress["average"] = None if average is None else average.state_dict()
        bar.set_postfix(target_accuracy=f"{curve[-1]:.3f}")
        progress["train_seconds"] += time.time() - start  # the whole epoch: its steps and its evaluation
        common.save_checkpoint(args, model, optimizer, progress)
        if progress["train_seconds"] > budget and epoch + 1 < args.epochs:
            print(f"train_dann: {variant} stops after its share of --max-minutes ({budget:.0f} s), "
                  f"at epoch {epoch + 1}")
            break
    evaluated = evaluated_model(args, model, average)
    progress["results"][variant] = {
        "target_accuracy": accuracy(args, evaluated, data.target.x_test, data.target.y_test),
        "source_accuracy": accuracy(args, evaluated, data.source.x_test, data.source.y_test),
        "last_weights_target_accuracy": accuracy(args, model, data.target.x_test, data.target.y_test),
        "epochs": progress["epoch"], "stopped_early": progress["epoch"] < args.epochs,
        "train_seconds": progress["train_seconds"]}
    td.save(evaluated.state_dict(), os.path.join(args.out, f"model_{variant}.npz"))
    later = VARIANTS.index(variant) + 1
    progress.update(variant=VARIANTS[later] if later < len(VARIANTS) else None, epoch=0, train_seconds=0.0,
                    average=None)
    common.save_checkpoint(args, model, optimizer, progress)


def save_accuracy_plot(progress, path):
    """Held-out target accuracy per epoch: the last weights (thin) and their average theta_bar (thick)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for variant in VARIANTS:
        epochs = np.arange(1, len(progress["curves"][variant]) + 1)
        (line,) = ax.plot(epochs, progress["curves"][variant], lw=0.8, alpha=0.5)
        averaged = np.array([np.nan if a is None else a for a in progress["averaged_curves"][variant]])
        ax.plot(epochs, averaged, lw=2, color=line.get_color(), label=TITLES[variant])
    ax.set_xlabel("epoch")
    ax.set_ylabel("held-out target accuracy")
    ax.set_title("digits -> digits-M: last weights (thin), their average (thick)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def save_feature_plot(args, data, path, count=300):
    """PCA of the features of source and target test images, for the source-only model and DANN."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA

    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
    for ax, variant in zip(axes, ("source_only", "dann")):
        model, _ = build(args)
        model.load_state_dict(td.load(os.path.join(args.out, f"model_{variant}.npz")))
        f_s = features(args, model, data.source.x_test[:count])
        f_t = features(args, model, data.target.x_test[:count])
        points = PCA(n_components=2, svd_solver="full").fit_transform(np.concatenate([f_s, f_t]))
        labels = np.concatenate([data.source.y_test[:count], data.target.y_test[:count]])
        for name, part, marker in (("source", slice(0, len(f_s)), "o"), ("target", slice(len(f_s), None), "x")):
            ax.scatter(points[part, 0], points[part, 1], c=labels[part], cmap="tab10", vmin=0, vmax=9, s=12,
                       marker=marker, alpha=0.7, label=f"{name} (o)" if marker == "o" else f"{name} (x)")
        ax.set_title(f"{TITLES[variant]}: features, PCA (colour = digit)")
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def save_examples(data, path, count=10):
    """Source digits above their digits-M versions (training), and held-out target images."""
    rows = (("source", data.source.x_train), ("target (train)", data.target.x_train),
            ("target (held out)", data.target.x_test))
    common.save_image_rows(path, [(title, images[:count].transpose(0, 2, 3, 1)) for title, images in rows], dpi=80)


def main(argv=None):
    parser = common.parser("train_dann", __doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=None, help="epochs of every model, one pass of the source each "
                        "(default 60; 1 with --smoke)")
    parser.add_argument("--batch-size", type=int, default=32, help="source images per step (and as many target images)")
    parser.add_argument("--lr", type=float, default=0.002, help="mu_0 of the annealing mu_p = mu_0 / (1 + 10 p)^0.75")
    parser.add_argument("--mmd-weight", type=float, default=1.0, help="gamma, DDC's weight of MMD^2")
    parser.add_argument("--width", type=int, default=32, help="channels of G_f's first conv (1.5 x in its second)")
    parser.add_argument("--size", type=int, default=16, help="image side of digits-M")
    parser.add_argument("--average-from", type=float, default=0.5,
                        help="evaluate the mean of the weights of every step from this fraction of training on "
                        "(Polyak averaging, the same for the four models; 1: the last weights)")
    parser.add_argument("--max-minutes", type=float, default=9.0,
                        help="wall budget of training, shared by the four models: each may use an equal share of "
                        "what the models before it left")
    args = parser.parse_args(argv)
    if not 0.0 <= args.average_from <= 1.0:
        parser.error(f"--average-from must be in [0, 1], got {args.average_from}")
    if args.smoke:
        args.width = 4
    args.epochs = args.epochs or (1 if args.smoke else 60)
    common.prepare(args)
    start = time.time()
    data = make_digits_m(size=args.size, seed=args.seed)
    if args.smoke:  # a few batches of each domain
        data = data._replace(source=data.source._replace(x_train=data.source.x_train[:2 * args.batch_size]),
                             target=data.target._replace(x_train=data.target.x_train[:2 * args.batch_size]))
    model, optimizer = build(args)
    progress = common.load_checkpoint(args, model, optimizer) or new_progress()
    for variant in VARIANTS:
        if variant in progress["results"]:
            continue
        if progress["epoch"] == 0:  # a fresh start of this variant (else: resumed mid-way, from the checkpoint)
            model, optimizer = build(args)
        train_variant(args, variant, model, optimizer, progress, data)

    results = progress["results"]
    save_accuracy_plot(progress, os.path.join(args.out, "accuracy.png"))
    save_feature_plot(args, data, os.path.join(args.out, "features.png"))
    save_examples(data, os.path.join(args.out, "examples.png"))
    accuracies = {v: results[v]["target_accuracy"] for v in VARIANTS}
    gap = accuracies["target_only"] - accuracies["source_only"]
    metrics = {f"{'mmd' if v == 'mmd' else v}_accuracy": accuracies[v] for v in VARIANTS}
    metrics.update({
        "source_accuracies": {v: results[v]["source_accuracy"] for v in VARIANTS},
        "average_from": args.average_from,
        "last_weights_accuracies": {v: results[v]["last_weights_target_accuracy"] for v in VARIANTS},
        "gap_closed": {v: (accuracies[v] - accuracies["source_only"]) / gap if gap > 0 else None
                       for v in ("mmd", "dann")},
        "epochs": {v: results[v]["epochs"] for v in VARIANTS},
        "stopped_early": any(results[v]["stopped_early"] for v in VARIANTS),
        "train_seconds": {v: results[v]["train_seconds"] for v in VARIANTS},
        "target_accuracy_curves": {v: progress["curves"][v] for v in VARIANTS},
        "averaged_target_accuracy_curves": {v: progress["averaged_curves"][v] for v in VARIANTS},
        "target_test_images": len(data.target.x_test), "seconds": time.time() - start})
    common.write_metrics(args, metrics)
    print("held-out target accuracy: " + ", ".join(f"{TITLES[v]} {accuracies[v]:.3f}" for v in VARIANTS)
          + f"; source-only on source {results['source_only']['source_accuracy']:.3f}")
    return metrics


if __name__ == "__main__":
    main()
