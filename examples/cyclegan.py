"""CycleGAN (Zhu et al. 2017): label maps <-> scenes learned from unpaired images, scored with the FCN-score.

    python examples/cyclegan.py              # metrics.json, figures, checkpoint
    python examples/cyclegan.py --smoke      # a few steps, for the test suite

The two domains.  X: label maps of ``make_shapes`` scenes drawn as images, one flat colour per class
(background grey, circle red, square green, triangle blue), (N, 3, 32, 32) in [-1, 1].  Y: the scenes
themselves, (N, 3, 32, 32) in [-1, 1].  The pairing is destroyed: every epoch draws 2 x 512 fresh scenes,
takes the label maps of the first 512 and the images of the other 512, and shuffles each domain on its
own, so no image is ever shown beside its own label map.  G: X -> Y must learn from the GAN term alone
what a circle looks like; the held-out label maps (seed stream (seed, 1)) then score G as pix2pix's
are scored.

The objective is the paper's (eq. 3), least-squares GAN terms, lambda = 10:

    L(G, F, D_X, D_Y) = L_GAN(G, D_Y, X, Y) + L_GAN(F, D_X, Y, X) + lambda L_cyc(G, F) [+ lambda_id L_identity]

D_Y learns real scenes against G's, drawn from a 50-image history (``ImagePool``); D_X the same for F's
label images.  Each step: G and F take one Adam step on the sum above, then D_X and D_Y on theirs.

Models (``tinydl.models``): G and F are UNetGenerator(3, 3, width 16, depth 5) with instance norm and
no dropout (CycleGAN has no noise), D_X and D_Y are PatchGANDiscriminator(3, width 8, 2 layers,
instance norm): 34 x 34 receptive fields, each sees the whole 32 x 32 image.  The paper's generator is
the ResNet one (``--generator resnet``: ``ResnetGenerator``, its width 64 and 9 blocks made for 256 x 256);
the U-Net is pix2pix's, which the authors' code also offers (``--netG unet_128``): with its skip connections
the label map's outline is within reach of the output layer from the first step, and the GAN term only has
to learn the colours.  Adam(5e-4, beta_1 = 0.5) for all four, constant for the first half of the steps,
then a cosine down to 0 (the paper: constant then linear), batch 16, 40 epochs of 512 pairs (1280 steps).

Measured (FCN mean IoU / real scenes', CPU seconds single-threaded): see docs/translation.md.

Outputs in --out: metrics.json (``fcn_score``: the judge's mean IoU on G(x) of held-out label maps,
``fcn_score_real``: on the real held-out scenes; ``labels_accuracy``: the other direction, F(y) read back to
classes by nearest class colour, per-pixel accuracy against y's label map; ``backward_cycle_error``: mean
|G(F(y)) - y|, and ``backward_cycle_error_flat``: the same with F(y) replaced by the flat label image of the
classes it shows, which tells how much of y F hides in its image beyond them), samples.png (both directions
and both cycles), losses.png, checkpoint.npz (the four networks, both optimizers, both image pools and the
progress; --resume continues exactly).
"""
import os
import time

import numpy as np

import common
import tinydl as td
from tinydl import nn, optim
from tinydl.data import SHAPE_CLASSES, make_shapes
from tinydl.models import (ImagePool, PatchGANDiscriminator, ResnetGenerator, UNetGenerator, cycle_consistency_loss,
                           discriminator_loss, fcn_score, gan_loss, identity_loss)
from pix2pix import learning_rate
from train_fcn_judge import load_judge

IMAGE_SIZE = 32
NUM_CLASSES = 1 + len(SHAPE_CLASSES)            # background, circle, square, triangle
TRAIN_STREAM, TEST_STREAM = 0, 1
# domain X: the colour of each class in a label image (background grey, circle red, square green, triangle blue)
CLASS_COLOURS = np.array([[0.5, 0.5, 0.5], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=np.float32)


class CycleGAN(nn.Module):
    """G: X -> Y (label image -> scene), F: Y -> X, and their discriminators, one module for the checkpoint."""

    def __init__(self, generator, width, blocks, disc_width, disc_layers):
        super().__init__()
        self.G, self.F = make_generator(generator, width, blocks), make_generator(generator, width, blocks)
        self.D_X = PatchGANDiscriminator(3, width=disc_width, n_layers=disc_layers, norm="instance")
        self.D_Y = PatchGANDiscriminator(3, width=disc_width, n_layers=disc_layers, norm="instance")


def make_generator(kind, width, blocks):
    """(N, 3, 32, 32) -> (N, 3, 32, 32) in [-1, 1]: the U-Net (instance norm, no dropout: CycleGAN has no noise)
    or the paper's ResNet generator with ``blocks`` residual blocks."""
    if kind == "unet":
        return UNetGenerator(3, 3, width=width, depth=5, norm="instance", dropout=0.0)
    return ResnetGenerator(3, 3, width=width, n_blocks=blocks)


def label_images(label_maps):
    """(N, H, W) class indices -> (N, 3, H, W) images of domain X in [-1, 1], one flat colour per class."""
    return CLASS_COLOURS[label_maps].transpose(0, 3, 1, 2) * 2 - 1


def labels_of(images):
    """(N, 3, H, W) images of domain X in [-1, 1] -> (N, H, W) classes, each pixel's nearest class colour."""
    pixels = (images.transpose(0, 2, 3, 1)[..., None, :] + 1) / 2                   # (N, H, W, 1, 3)
    return ((pixels - CLASS_COLOURS) ** 2).sum(-1).argmin(-1)                      # (N, H, W)


def unpaired_domains(args, epoch):
    """The epoch's two domains, from disjoint fresh scenes, each shuffled on its own: x (n, 3, 32, 32) label
    images, y (n, 3, 32, 32) scenes in [-1, 1]; no y is the scene of any x."""
    n = args.scenes_per_epoch
    scenes = make_shapes(2 * n, image_size=IMAGE_SIZE, seed=(args.seed, TRAIN_STREAM, epoch))
    rng = np.random.default_rng([args.seed, epoch])
    x = label_images(scenes.masks[:n][rng.permutation(n)])
    y = scenes.images[n:][rng.permutation(n)] * 2 - 1
    return x, y


def held_out_scenes(args):
    """The --test-scenes held-out scenes, from their own seed stream (seed, 1): label maps and real images."""
    return make_shapes(args.test_scenes, image_size=IMAGE_SIZE, seed=(args.seed, TEST_STREAM))


def build(args):
    """The four networks and two optimizers (G with F, D_X with D_Y), seeded; the two image pools."""
    td.manual_seed(args.seed)
    model = CycleGAN(args.generator, args.width, args.blocks, args.disc_width, args.disc_layers).to(args.device)
    generators = list(model.G.parameters()) + list(model.F.parameters())
    discriminators = list(model.D_X.parameters()) + list(model.D_Y.parameters())
    optimizers = {"generators": optim.Adam(generators, lr=args.lr, betas=(0.5, 0.999)),
                  "discriminators": optim.Adam(discriminators, lr=args.lr, betas=(0.5, 0.999))}
    pools = {"x": ImagePool(args.pool_size, seed=2 * args.seed), "y": ImagePool(args.pool_size, seed=2 * args.seed + 1)}
    return model, optimizers, pools


def generator_step(args, model, optimizer, x, y):
    """G's and F's step on eq. 3 (plus the identity term when lambda_id > 0).  Returns the terms and the fakes."""
    fake_y, fake_x = model.G(x), model.F(y)                                  # (B, 3, 32, 32) each
    terms = {"G GAN": gan_loss(model.D_Y(fake_y), True, "lsgan"),            # G wants D_Y to say "real"
             "F GAN": gan_loss(model.D_X(fake_x), True, "lsgan"),
             "cycle": cycle_consistency_loss(x, model.F(fake_y), y, model.G(fake_x))}
    loss = terms["G GAN"] + terms["F GAN"] + args.lambda_cycle * terms["cycle"]
    if args.lambda_identity > 0:  # the paper weighs it as a fraction of lambda (0.5 lambda for its paintings)
        terms["identity"] = identity_loss(x, model.F(x), y, model.G(y))   # ||F(x) - x|| + ||G(y) - y||
        loss = loss + args.lambda_identity * args.lambda_cycle * terms["identity"]
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return terms, fake_x, fake_y


def discriminator_step(args, model, optimizer, pools, x, y, fake_x, fake_y):
    """D_Y's and D_X's step: real images against fakes drawn from the history pools (detached there)."""
    terms = {"D_Y": discriminator_loss(model.D_Y(y), model.D_Y(pools["y"].query(fake_y)), "lsgan"),
             "D_X": discriminator_loss(model.D_X(x), model.D_X(pools["x"].query(fake_x)), "lsgan")}
    optimizer.zero_grad()
    (terms["D_Y"] + terms["D_X"]).backward()
    optimizer.step()
    return terms


def translate(args, network, images, batch=100):
    """network (G or F, eval mode) applied to (N, 3, 32, 32) images in [-1, 1], batch by batch."""
    network.eval()
    with td.no_grad():
        out = [network(td.tensor(images[i:i + batch], device=args.device)).numpy()
               for i in range(0, len(images), batch)]
    network.train()
    return np.concatenate(out)


def scene_score(args, judge, G, test):
    """The FCN-score of G on the held-out label maps: the judge's reading of G(x) against x's label map."""
    fake = np.clip((translate(args, G, label_images(test.masks)) + 1) / 2, 0.0, 1.0)
    return fcn_score(judge, fake, test.masks)


def train(args, model, optimizers, pools, progress, judge, test):
    """Epochs from progress["epoch"] to args.epochs (or until --max-minutes), a checkpoint after each."""
    steps_per_epoch = args.scenes_per_epoch // args.batch_size
    total_steps = args.epochs * steps_per_epoch
    bar = common.progress(range(progress["epoch"], args.epochs), desc="CycleGAN", unit="epoch")
    for epoch in bar:
        start, cpu_start = time.time(), time.process_time()
        x_all, y_all = unpaired_domains(args, epoch)
        for i in range(steps_per_epoch):
            for optimizer in optimizers.values():
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate(args.lr, progress["step"] / total_steps, args.decay_from)
            batch = slice(i * args.batch_size, (i + 1) * args.batch_size)
            x = td.tensor(x_all[batch], device=args.device)                  # (B, 3, 32, 32) label images
            y = td.tensor(y_all[batch], device=args.device)                  # (B, 3, 32, 32) scenes, unpaired
            terms, fake_x, fake_y = generator_step(args, model, optimizers["generators"], x, y)
            terms.update(discriminator_step(args, model, optimizers["discriminators"], pools, x, y, fake_x, fake_y))
            for name, term in terms.items():
                progress["losses"].setdefault(name, []).append(term.item())
            progress["step"] += 1
        progress["epoch"] = epoch + 1
        if progress["epoch"] % args.eval_every == 0 or progress["epoch"] == args.epochs:
            score = scene_score(args, judge, model.G, test)
            progress["history"].append([progress["epoch"], score.mean_iou])
            bar.set_postfix(fcn_score=f"{score.mean_iou:.3f}")
        progress["train_seconds"] += time.time() - start
        progress["cpu_seconds"] += time.process_time() - cpu_start
        progress["pools"] = {name: pool.state_dict() for name, pool in pools.items()}
        common.save_checkpoint(args, model, optimizers, progress)
        if common.out_of_time(args, "cyclegan", progress["train_seconds"], progress["epoch"]):
            break


def save_samples(args, model, test, path, count=8):
    """Both directions and both cycles on held-out scenes: x, G(x), F(G(x)); y, F(y), G(F(y))."""
    count = min(count, len(test.masks))
    x, y = label_images(test.masks[:count]), test.images[:count] * 2 - 1
    fake_y, fake_x = translate(args, model.G, x), translate(args, model.F, y)
    rows = (("x: label map", x), ("G(x)", fake_y), ("F(G(x))", translate(args, model.F, fake_y)),
            ("y: scene", y), ("F(y)", fake_x), ("G(F(y))", translate(args, model.G, fake_x)))
    common.save_image_rows(path, [(title, np.clip((images.transpose(0, 2, 3, 1) + 1) / 2, 0, 1))
                                  for title, images in rows])


def main(argv=None):
    parser = common.parser("cyclegan", __doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=None, help="epochs of 512 fresh unpaired pairs (default 40, "
                        "1280 steps; 1 with --smoke)")
    parser.add_argument("--lambda-cycle", type=float, default=10.0, help="lambda, the weight of L_cyc (the paper: 10)")
    parser.add_argument("--lambda-identity", type=float, default=0.0, help="the identity term's weight as a "
                        "fraction of lambda (the paper: 0.5 for photo <-> painting, 0 for labels <-> photos)")
    parser.add_argument("--pool-size", type=int, default=50, help="the image history's size (0: no pool)")
    parser.add_argument("--lr", type=float, default=5e-4, help="Adam's step size before the decay")
    parser.add_argument("--decay-from", type=float, default=0.5, help="fraction of training after which the "
                        "step size decays to 0 on a cosine (0: over the whole run)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--generator", default="unet", choices=["unet", "resnet"], help="G's and F's network: the "
                        "U-Net, or the paper's ResNet generator (see the docstring)")
    parser.add_argument("--width", type=int, default=16, help="G's and F's first channels")
    parser.add_argument("--blocks", type=int, default=3, help="residual blocks of --generator resnet (the paper: 9)")
    parser.add_argument("--disc-width", type=int, default=8, help="D_X's and D_Y's first channels")
    parser.add_argument("--disc-layers", type=int, default=2, help="the discriminators' stride-2 layers")
    parser.add_argument("--scenes-per-epoch", type=int, default=None, help="unpaired pairs per epoch (default 512; "
                        "32 with --smoke)")
    parser.add_argument("--test-scenes", type=int, default=None, help="held-out label maps (default 500; 16 "
                        "with --smoke)")
    parser.add_argument("--eval-every", type=int, default=10, help="epochs between FCN-scores in the history")
    parser.add_argument("--max-minutes", type=float, default=9.0, help="wall budget of the training")
    args = parser.parse_args(argv)
    if args.smoke:
        args.width, args.disc_width = 4, 4
    args.epochs = args.epochs or (1 if args.smoke else 40)
    args.scenes_per_epoch = args.scenes_per_epoch or (2 * args.batch_size if args.smoke else 512)
    args.test_scenes = args.test_scenes or (16 if args.smoke else 500)
    common.check_options(parser, args, positive=("epochs", "batch_size", "scenes_per_epoch", "test_scenes",
                                                  "eval_every", "width", "blocks"),
                         non_negative=("lambda_cycle", "lambda_identity", "pool_size"), fraction=("decay_from",))
    if args.scenes_per_epoch < args.batch_size:
        parser.error(f"--scenes-per-epoch ({args.scenes_per_epoch}) must be at least --batch-size "
                     f"({args.batch_size})")
    return run(args)


def run(args):
    """Train (or --resume) into args.out, score both directions, write the figures; returns the metrics."""
    common.prepare(args)
    start = time.time()
    judge = load_judge(args.device)
    test = held_out_scenes(args)
    model, optimizers, pools = build(args)
    progress = common.load_checkpoint(args, model, optimizers) or {
        "epoch": 0, "step": 0, "train_seconds": 0.0, "cpu_seconds": 0.0, "losses": {}, "history": [], "pools": {}}
    for name, state in progress["pools"].items():
        pools[name].load_state_dict(state)
    train(args, model, optimizers, pools, progress, judge, test)
    score, real = scene_score(args, judge, model.G, test), fcn_score(judge, test.images, test.masks)
    y = test.images * 2 - 1
    fake_x = translate(args, model.F, y)                                      # the other direction, y -> x
    labels_accuracy = float((labels_of(fake_x) == test.masks).mean())
    # What the backward cycle y -> F(y) -> G(F(y)) carries besides F's classes: G given F(y) itself, and given the
    # flat label image of the classes F(y) shows (nearest colours); the second loses whatever F hid in its image.
    cycle_error = float(np.abs(translate(args, model.G, fake_x) - y).mean())
    cycle_error_flat = float(np.abs(translate(args, model.G, label_images(labels_of(fake_x))) - y).mean())
    save_samples(args, model, test, os.path.join(args.out, "samples.png"))
    common.plot_curves(os.path.join(args.out, "losses.png"), progress["losses"], xlabel="step",
                       title="CycleGAN: losses", smooth=50 if progress["step"] > 200 else 1)
    metrics = {
        "fcn_score": score.mean_iou, "fcn_score_real": real.mean_iou,
        "pixel_accuracy": score.pixel_accuracy, "pixel_accuracy_real": real.pixel_accuracy,
        "class_accuracy": score.class_accuracy, "class_accuracy_real": real.class_accuracy,
        "labels_accuracy": labels_accuracy, "backward_cycle_error": cycle_error,
        "backward_cycle_error_flat": cycle_error_flat, "fcn_score_history": progress["history"],
        "generator": args.generator, "lambda_cycle": args.lambda_cycle, "lambda_identity": args.lambda_identity,
        "pool_size": args.pool_size,
        "epochs": progress["epoch"], "steps": progress["step"], "stopped_early": progress["epoch"] < args.epochs,
        "test_scenes": args.test_scenes, "train_seconds": progress["train_seconds"],
        "cpu_seconds": progress["cpu_seconds"], "seconds": time.time() - start}
    common.write_metrics(args, metrics)
    print(f"CycleGAN: FCN-score (mean IoU) {score.mean_iou:.4f}, real scenes {real.mean_iou:.4f} (ratio "
          f"{score.mean_iou / real.mean_iou:.3f}); per-pixel accuracy {score.pixel_accuracy:.4f} / "
          f"{real.pixel_accuracy:.4f}; scenes -> labels per-pixel accuracy {labels_accuracy:.4f}; |G(F(y)) - y| "
          f"{cycle_error:.3f}, from F(y)'s flat classes {cycle_error_flat:.3f}; "
          f"{progress['step']} steps")
    return metrics


if __name__ == "__main__":
    main()
