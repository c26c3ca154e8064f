"""DCGAN on 16x16 digits with three losses: non-saturating (default), least squares, and WGAN-GP.

    python examples/train_dcgan.py                    # target: classifier score >= 0.90, every class >= 5%
    python examples/train_dcgan.py --loss lsgan
    python examples/train_dcgan.py --loss wgan-gp     # needs double backward through the critic
    python examples/train_dcgan.py --smoke            # a few steps, for the test suite

Data: scikit-learn's 8x8 digits resized to 16x16 with tinydl's bilinear
interpolate and scaled to [-1, 1] (the generator ends in tanh).  Quality is
measured, not eyeballed: a CNN classifier trained on the real digits
(examples/digit_classifier.py, 99.4% test accuracy) scores 1000 samples.

- ``classifier_score``: the mean of the classifier's maximum probability:
  high when every sample looks clearly like *some* digit;
- ``min_class_fraction``: the rarest predicted class's share: low under
  mode collapse (all samples look like the same few digits);
- ``frechet_distance``: between Gaussians fitted to the classifier's 64-d
  features of the samples and of the real test digits (the idea of FID).

The generator draws at 8x8 and upsamples bilinearly, as the data were made
(``--draw-at 8``), with a stride-1 3x3 layer at 8x8 before the image
(``--refine``): docs/gan.md, section 7.  Samples come from an exponential
moving average of the generator's weights (``--ema``, as in BigGAN and
StyleGAN): the adversarial game makes the weights oscillate, and their
running average is a steadier generator.  ``--score-every N`` also scores
it during training (``score_history`` in metrics.json).
Saves a sample grid per epoch (``samples/``), a latent interpolation grid and
the loss curves (docs/gan.md).
"""
import argparse
import copy
import os
import time

import numpy as np

import common
import digit_classifier
import tinydl as td
import tinydl.functional as F
from tinydl import nn, optim
from tinydl.models import DCGAN, Discriminator, dcgan_init, gradient_penalty


def discriminator_loss(kind, d_real, d_fake, real_label=1.0):
    """``real_label`` < 1 is one-sided label smoothing: D is asked for 0.9 on real images, not 1,
    which keeps it from growing over-confident and its gradients for G informative."""
    if kind == "nsgan":  # -log D(x) - log(1 - D(G(z))) with D = sigmoid(logit)
        return (F.binary_cross_entropy_with_logits(d_real, td.full_like(d_real, real_label))
                + F.binary_cross_entropy_with_logits(d_fake, td.zeros_like(d_fake)))
    if kind == "lsgan":  # least squares towards 1 for real, 0 for fake
        return 0.5 * ((d_real - real_label) ** 2).mean() + 0.5 * (d_fake**2).mean()
    return d_fake.mean() - d_real.mean()  # wgan-gp: the critic estimates the Wasserstein-1 distance


def generator_loss(kind, d_fake):
    if kind == "nsgan":  # non-saturating: maximize log D(G(z)) instead of minimizing log(1 - D(G(z)))
        return F.binary_cross_entropy_with_logits(d_fake, td.ones_like(d_fake))
    if kind == "lsgan":
        return 0.5 * ((d_fake - 1) ** 2).mean()
    return -d_fake.mean()


@td.no_grad()
def generate(generator, n, device, batch=250):
    """n samples in batches; batch norm uses the batch's statistics (the averaged generator has no
    running statistics of its own)."""
    return np.concatenate([generator(td.randn(min(batch, n - i), generator.latent_dim, device=device)).numpy()
                           for i in range(0, n, batch)])


@td.no_grad()
def update_average(average, model, decay):
    """average <- decay * average + (1 - decay) * model, parameter by parameter."""
    for a, p in zip(average.parameters(), model.parameters()):
        a.data *= decay
        a.data += (1 - decay) * p.data


def frechet_distance(a, b):
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) for Gaussians fitted to rows of a and b.

    Tr((S_a S_b)^(1/2)) is the sum of the square roots of the eigenvalues of the symmetric
    matrix S_a^(1/2) S_b S_a^(1/2) (same eigenvalues as S_a S_b), which stays stable when a
    covariance is singular (fewer samples than features)."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(s_a)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ s_b @ root_a), 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * trace_root)


def decay_factor(epoch, epochs, decay_from):
    """1 until epoch decay_from * epochs, then falling linearly to 0 at the last epoch: the
    learning-rate schedule that lets the generator settle instead of circling the equilibrium."""
    start = decay_from * epochs
    if epoch < start:
        return 1.0
    return max(0.0, 1.0 - (epoch - start) / max(1.0, epochs - start))


@td.no_grad()
def score(classifier, samples, real, device):
    """classifier_score, class histogram and Frechet distance of samples (N, 1, 16, 16) against real images."""
    x = td.tensor(samples.astype(np.float32), device=device)
    probs = F.softmax(classifier(x), dim=1).numpy()
    counts = np.bincount(probs.argmax(1), minlength=10)
    features = classifier.features(x).numpy().astype(np.float64)
    real_features = classifier.features(td.tensor(real, device=device)).numpy().astype(np.float64)
    return {"classifier_score": float(probs.max(1).mean()), "min_class_fraction": float(counts.min() / len(samples)),
            "class_histogram": counts.tolist(), "frechet_distance": frechet_distance(features, real_features)}


def save_grid(images, rows, cols, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    size = images.shape[-1]
    grid = np.full((rows * (size + 1) - 1, cols * (size + 1) - 1), -1.0)
    for k, image in enumerate(images[: rows * cols]):
        r, c = divmod(k, cols)
        grid[r * (size + 1): r * (size + 1) + size, c * (size + 1): c * (size + 1) + size] = image[0]
    fig, ax = plt.subplots(figsize=(cols * 0.45 + 0.4, rows * 0.45 + 0.6))
    ax.imshow(grid, cmap="gray", vmin=-1, vmax=1)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


@td.no_grad()
def interpolation(generator, device, rows=8, steps=10, seed=0):
    """Each row walks a straight line in latent space between two random codes."""
    rng = np.random.default_rng(seed)
    ends = rng.standard_normal((rows, 2, generator.latent_dim)).astype(np.float32)
    t = np.linspace(0, 1, steps, dtype=np.float32)[None, :, None]
    z = (1 - t) * ends[:, :1] + t * ends[:, 1:]  # (rows, steps, latent)
    return generator(td.tensor(z.reshape(-1, generator.latent_dim), device=device)).numpy()


def main(argv=None):
    parser = common.parser("train_dcgan", __doc__.split("\n")[0])
    parser.add_argument("--loss", choices=["nsgan", "lsgan", "wgan-gp"], default="nsgan")
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--ema", type=float, default=0.9995, help="decay of the generator's weight average (0: off)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--latent", type=int, default=32)
    parser.add_argument("--width", type=int, default=64, help="channels of the first/last conv (doubled inside)")
    parser.add_argument("--d-width", type=int, default=None, help="the discriminator's width (default: --width)")
    parser.add_argument("--draw-at", type=int, choices=[8, 16], default=8,
                        help="8: the generator draws 8x8 and upsamples bilinearly, like the data")
    parser.add_argument("--refine", action=argparse.BooleanOptionalAction, default=True,
                        help="with --draw-at 8: one more generator layer, 4x4 -> 8x8 (width channels) -> 8x8 "
                             "image (--no-refine: 4x4 -> 8x8 image directly)")
    parser.add_argument("--score-every", type=int, default=0,
                        help="also score the averaged generator every this many epochs (0: only at the end)")
    parser.add_argument("--g-steps", type=int, default=1, help="generator updates per discriminator update (nsgan, lsgan)")
    parser.add_argument("--critic-steps", type=int, default=3, help="critic updates per generator update (wgan-gp)")
    parser.add_argument("--gp-weight", type=float, default=10.0)
    parser.add_argument("--label-smoothing", type=float, default=0.0, help="real label 1 - this (nsgan, lsgan)")
    parser.add_argument("--lr-g", type=float, default=2e-4)
    parser.add_argument("--lr-d", type=float, default=2e-4)
    parser.add_argument("--lr-decay-from", type=float, default=1.0,
                        help="from this fraction of the epochs on, both learning rates fall linearly to 0 "
                             "(1: constant)")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--max-minutes", type=float, default=10.0)
    args = parser.parse_args(argv)
    if args.smoke:
        args.epochs, args.samples = 1, 50
    common.prepare(args)
    start = time.time()

    data = td.data.load_digits(size=16, value_range=(-1.0, 1.0), seed=args.seed)
    classifier = digit_classifier.load_or_train(device=args.device)
    loader = td.data.DataLoader(td.data.TensorDataset(data.x_train), batch_size=args.batch_size, shuffle=True,
                                drop_last=True, device=args.device)
    wgan = args.loss == "wgan-gp"
    gan = DCGAN(args.latent, args.width, norm=None if wgan else "batch", draw_at=args.draw_at,
                refine=args.refine and args.draw_at == 8).to(args.device)
    if args.d_width is not None:
        gan.discriminator = dcgan_init(Discriminator(args.d_width, norm=None if wgan else "batch")).to(args.device)
    G, D = gan.generator, gan.discriminator
    G_avg = copy.deepcopy(G)  # the averaged generator that produces the samples
    models = nn.ModuleDict({"gan": gan, "generator_average": G_avg})  # one checkpoint for both
    betas = (0.5, 0.9) if wgan else (0.5, 0.999)
    opt_g = optim.Adam(G.parameters(), lr=args.lr_g, betas=betas)
    opt_d = optim.Adam(D.parameters(), lr=args.lr_d, betas=betas)
    optimizers = {"generator": opt_g, "discriminator": opt_d}
    progress = common.load_checkpoint(args, models, optimizers) or {"epoch": 0, "d_loss": [], "g_loss": []}
    progress.setdefault("score_history", [])
    fixed_z = td.randn(64, args.latent, device=args.device)
    os.makedirs(f"{args.out}/samples", exist_ok=True)
    print(f"train_dcgan: {len(data.x_train)} digits at 16x16, loss {args.loss}, device {args.device}")

    bar = common.progress(range(progress["epoch"], args.epochs), desc="training", unit="epoch")
    for epoch in bar:
        for opt, lr in ((opt_g, args.lr_g), (opt_d, args.lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr * decay_factor(epoch, args.epochs, args.lr_decay_from)
        for i, (real,) in enumerate(loader):
            z = td.randn(len(real), args.latent, device=args.device)
            fake = G(z)
            d_loss = discriminator_loss(args.loss, D(real), D(fake.detach()), 1.0 - args.label_smoothing)
            if wgan:
                epsilon = td.rand(len(real), 1, 1, 1, device=args.device)
                d_loss = d_loss + args.gp_weight * gradient_penalty(D, real, fake, epsilon)
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            progress["d_loss"].append(d_loss.item())
            if wgan and i % args.critic_steps:
                continue  # the critic trains more often than the generator
            for g_step in range(1 if wgan else args.g_steps):
                if g_step:  # a fresh batch of fakes for each extra generator update
                    fake = G(td.randn(len(real), args.latent, device=args.device))
                g_loss = generator_loss(args.loss, D(fake))
                opt_g.zero_grad()
                g_loss.backward()
                opt_g.step()
                update_average(G_avg, G, args.ema)
                progress["g_loss"].append(g_loss.item())
        with td.no_grad():
            images = G_avg(fixed_z).numpy()
        save_grid(images, 8, 8, f"{args.out}/samples/epoch_{epoch + 1:03d}.png", f"{args.loss}, epoch {epoch + 1}")
        bar.set_postfix(d=f"{np.mean(progress['d_loss'][-20:]):.3f}", g=f"{np.mean(progress['g_loss'][-20:]):.3f}")
        progress["epoch"] = epoch + 1
        if args.score_every and (epoch + 1) % args.score_every == 0:
            scores = score(classifier, generate(G_avg, args.samples, args.device), data.x_test, args.device)
            progress["score_history"].append(dict(scores, epoch=epoch + 1))
            bar.write(f"epoch {epoch + 1}: classifier score {scores['classifier_score']:.3f}, rarest class "
                      f"{scores['min_class_fraction']:.1%}, Frechet distance {scores['frechet_distance']:.1f}")
        if (epoch + 1) % 10 == 0:
            common.save_checkpoint(args, models, optimizers, progress)
        if time.time() - start > 60 * args.max_minutes:
            bar.write(f"stopping after {args.max_minutes} minutes")
            break

    common.save_checkpoint(args, models, optimizers, progress)
    train_seconds = time.time() - start
    samples = generate(G_avg, args.samples, args.device)
    metrics = score(classifier, samples, data.x_test, args.device)
    save_grid(samples, 8, 16, f"{args.out}/samples.png", f"{args.loss}: 128 samples")
    save_grid(interpolation(G_avg, args.device, seed=args.seed), 8, 10, f"{args.out}/interpolation.png",
              "latent interpolation: each row is a straight line between two codes")
    common.plot_curves(f"{args.out}/loss.png", {"discriminator": progress["d_loss"], "generator": progress["g_loss"]},
                       smooth=20, title=f"DCGAN losses ({args.loss})")
    metrics = common.write_metrics(args, dict(metrics, loss=args.loss, epochs=progress["epoch"],
                                              score_history=progress["score_history"],
                                              train_seconds=train_seconds, seconds=time.time() - start))
    print(f"{args.loss}: classifier score {metrics['classifier_score']:.3f}, rarest class "
          f"{metrics['min_class_fraction']:.1%}, Frechet distance {metrics['frechet_distance']:.2f}, "
          f"histogram {metrics['class_histogram']} ({train_seconds:.0f} s of training)")
    return metrics


if __name__ == "__main__":
    main()
