"""A variational autoencoder on scikit-learn's 8x8 digits: ELBO, reconstructions, samples, the 2-d manifold.

    python examples/train_vae.py            # about a minute on a laptop CPU
    python examples/train_vae.py --smoke    # a few steps, for the test suite

Pixels (ink 0..16 scaled to [0, 1]) are modelled as Bernoulli probabilities.
The headline metric is the held-out negative ELBO in nats per image
(``test_neg_elbo``), an upper bound on -log p(x), averaged over 10 samples of z
per image. With the default 2-d latent space the example also decodes a grid
of latent points (the "manifold" figure from the lecture): each latent
coordinate runs through the standard normal's quantiles, so the grid covers
the prior evenly (docs/vae.md).
"""
import time

import numpy as np

import common
import tinydl as td
from tinydl import optim
from tinydl.models import VAE


@td.no_grad()
def mean_negative_elbo(model, x, device, samples=10):
    model.eval()
    data = td.tensor(x, device=device)
    total = sum(model.negative_elbo(data)[0].mean().item() for _ in range(samples))
    model.train()
    return total / samples


def image_grid(images, rows, cols):
    """(rows * cols, 8, 8) -> one (rows * 9 - 1, cols * 9 - 1) picture with 1-pixel gaps."""
    size = images.shape[-1]
    grid = np.zeros((rows * (size + 1) - 1, cols * (size + 1) - 1))  # white gaps (gray_r: 0 is white)
    for k, image in enumerate(images[: rows * cols]):
        r, c = divmod(k, cols)
        grid[r * (size + 1) : r * (size + 1) + size, c * (size + 1) : c * (size + 1) + size] = image
    return grid


def pixel_probabilities(logits):
    """The decoder's Bernoulli probabilities, as a host array."""
    return td.functional.sigmoid(logits).numpy()


def save_figures(model, x_test, args):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import norm

    model.eval()
    with td.no_grad():
        originals = x_test[:16]
        recon = pixel_probabilities(model.decode(model.encode(td.tensor(originals, device=args.device))[0]))
        samples = pixel_probabilities(model.decode(td.randn(32, model.latent_dim, device=args.device)))
    pictures = {
        "reconstructions.png": ("test digits (top) and their reconstructions (bottom)",
                                image_grid(np.concatenate([originals, recon]).reshape(-1, 8, 8), 2, 16)),
        "samples.png": ("samples: z ~ N(0, I), decoded", image_grid(samples.reshape(-1, 8, 8), 4, 8)),
    }
    if model.latent_dim == 2:
        side = 15
        quantiles = norm.ppf(np.linspace(0.03, 0.97, side))  # evenly spaced in probability under the prior
        z = np.array([[a, b] for b in quantiles[::-1] for a in quantiles], dtype=np.float32)
        with td.no_grad():
            manifold = pixel_probabilities(model.decode(td.tensor(z, device=args.device)))
        pictures["manifold.png"] = ("the learned 2-d manifold: decoded grid of latent points",
                                    image_grid(manifold.reshape(-1, 8, 8), side, side))
    for name, (title, picture) in pictures.items():
        fig, ax = plt.subplots(figsize=(max(4, picture.shape[1] / 16), max(2.5, picture.shape[0] / 16 + 0.6)))
        ax.imshow(picture, cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(title, fontsize=10)
        ax.axis("off")
        fig.tight_layout()
        fig.savefig(f"{args.out}/{name}", dpi=120)
        plt.close(fig)
    model.train()


def main(argv=None):
    parser = common.parser("train_vae", __doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--latent", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args(argv)
    if args.smoke:
        args.epochs = 2
    common.prepare(args)
    start = time.time()

    x_train, _, x_test, _ = td.data.load_digits(seed=args.seed, flatten=True)
    loader = td.data.DataLoader(td.data.TensorDataset(x_train), batch_size=args.batch_size, shuffle=True,
                                device=args.device)
    model = VAE(x_train.shape[1], args.hidden, args.latent).to(args.device)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    progress = common.load_checkpoint(args, model, optimizer) or {"epoch": 0, "train": [], "test": []}
    print(f"train_vae: {len(x_train)} training and {len(x_test)} test digits, latent dimension {args.latent}")

    bar = common.progress(range(progress["epoch"], args.epochs), desc="training", unit="epoch")
    for epoch in bar:
        losses = []
        for (xb,) in loader:
            loss = model.negative_elbo(xb)[0].mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        progress["train"].append(float(np.mean(losses)))
        if (epoch + 1) % 10 == 0 or epoch + 1 == args.epochs:
            progress["test"].append([epoch + 1, mean_negative_elbo(model, x_test, args.device)])
            bar.set_postfix(train=f"{progress['train'][-1]:.2f}", test=f"{progress['test'][-1][1]:.2f}")
            progress["epoch"] = epoch + 1
            common.save_checkpoint(args, model, optimizer, progress)

    test_neg_elbo = mean_negative_elbo(model, x_test, args.device)
    seconds = time.time() - start
    save_figures(model, x_test, args)
    common.plot_curves(f"{args.out}/loss.png", {"train -ELBO (nats per image)": progress["train"]},
                       xlabel="epoch", ylabel="nats per image", title="VAE on 8x8 digits")
    metrics = common.write_metrics(args, {"test_neg_elbo": test_neg_elbo, "latent_dim": args.latent,
                                          "epochs": args.epochs, "seconds": seconds})
    print(f"held-out negative ELBO {test_neg_elbo:.2f} nats per image after {args.epochs} epochs in {seconds:.0f} s")
    return metrics


if __name__ == "__main__":
    main()
