"""Image captioning with soft attention ("Show, Attend and Tell", Xu et al. 2015) on generated shapes scenes.

    python examples/caption_attention.py                  # seeds 0, 1, 2, 7: bleu4 0.994-0.999, exact_match
                                                          # 0.965-0.993 (unseen pairs 0.908-0.983),
                                                          # attention_in_box 0.942-0.990; about 6.3 CPU minutes
    python examples/caption_attention.py --no-attention   # the decoder sees the mean-pooled features instead
    python examples/caption_attention.py --joint-encoder --word-in-output --penalty 0.01 --word-dropout 0.5 \
        --label-smoothing 0                                # the first version (docs: "What was tried first")
    python examples/caption_attention.py --word-order shape-first   # "a circle in red left of ..."
    python examples/caption_attention.py --stride 2       # a 16x16 annotation grid (one max-pool)
    python examples/caption_attention.py --smoke          # a few steps, for the test suite

Data: ``tinydl.data.make_captions``, 32x32 scenes with a large and a small
coloured shape and one caption per scene ("a red circle left of a small blue
square"); fresh training scenes every epoch (seed ``(seed, epoch)``, so
--resume repeats the data exactly), never with the colour-shape pairs of
``HELD_OUT`` (green triangle, blue circle, yellow square); ``--test-scenes``
held-out scenes from another seed stream (``1000 + seed``) where every pair
occurs (about a third of them hold an unseen pair).

Model: ``tinydl.models.ShowAttendTell``: a two-stream encoder (shapes from a
colour-blind object mask through three convs, colours from a per-pixel
stream) giving an 8x8 grid of annotation vectors a_i, an LSTM decoder
(``nn.LSTMCell``) that recomputes the soft attention alpha_t over the grid
from h_{t-1} at every step (additive score, gating scalar beta_t, deep output
without the previous word: ``--word-in-output`` puts the paper's E y_{t-1}
back), trained with teacher forcing on the words' cross-entropy (label
smoothing ``--label-smoothing`` 0.2) plus lambda times the doubly stochastic
penalty sum_i (1 - sum_t alpha_ti)^2 (``--penalty``, 0.0001), Adam with a
cosine learning rate.  Word dropout (``--word-dropout``, Bowman et al. 2016):
in training, each input word y_{t-1} is replaced by <pad> with probability
0.75.  The two streams, the deep output without the word, label smoothing and
word dropout are all there for the held-out pairs: without them the decoder
learns that "yellow" is never followed by "square" (docs/recurrent_attention.md).

Metrics (held-out scenes, greedy captions through ``tinydl.text.greedy_decode``):
``bleu4`` (``tinydl.text.corpus_bleu``), ``exact_match`` (the whole caption),
``attention_in_box``: for each shape noun of the generated caption (its k-th
shape noun names object k: the large object, then the small one), whether the
attention peak of the step that emitted it, the centre of the grid cell with
the largest alpha_ti in image pixels, lies inside that object's box (a missing
noun counts as a miss).  The same three with the prefix ``unseen_`` on the
scenes holding a held-out pair, ``beam_bleu4`` / ``beam_exact_match`` with beam
search (``tinydl.text.beam_search``, ``--beam-size``).  With ``--no-attention``
there is no attention: ``attention_in_box`` and ``unseen_attention_in_box`` are
null.  Figures: ``attention.png`` (held-out images, the caption, and the
attention map of every word over the image), ``loss.png``.
"""
import time

import numpy as np

import common
import tinydl as td
from tinydl import optim
from tinydl.data import SHAPE_CLASSES, make_captions
from tinydl.data.captions import WORD_ORDERS, caption_words
from tinydl.models import ShowAttendTell, caption_loss
from tinydl.text import Vocabulary, beam_search, corpus_bleu, greedy_decode

MAX_LEN = 12  # the longest caption has 9 words, then <eos>


def cosine_lr(lr, step, total, warmup=50):
    """A linear warm-up over ``warmup`` steps, then a cosine decay to 2% of ``lr``."""
    if step < warmup:
        return lr * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return lr * (0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * t)))


# ---- evaluation -------------------------------------------------------------------------------
@td.no_grad()
def greedy_captions(model, vocab, images, device, batch=250):
    """The greedy caption (a list of words) of every image (n, 3, S, S)."""
    model.eval()
    words = []
    for i in range(0, len(images), batch):
        state = model.initial_state(td.tensor(images[i:i + batch], device=device))
        ids = greedy_decode(model.log_prob_step, state, vocab.bos, vocab.eos, MAX_LEN, len(images[i:i + batch]))
        words += [vocab.decode(seq) for seq in ids]
    model.train()
    return words


@td.no_grad()
def beam_captions(model, vocab, images, device, beam_size):
    """The beam-search caption of every image, one image at a time (beam_search takes one input)."""
    model.eval()
    words = []
    for image in images:
        state = model.initial_state(td.tensor(image[None], device=device))
        ids, _ = beam_search(model.log_prob_step, state, vocab.bos, vocab.eos, MAX_LEN, beam_size=beam_size)
        words.append(vocab.decode(ids))
    model.train()
    return words


@td.no_grad()
def attention_maps(model, vocab, images, captions, device, batch=250):
    """alpha (n, T, L) of the steps that emitted each word of ``captions`` (the model's own captions, fed
    back with teacher forcing: the same computation as the greedy decoding that produced them)."""
    model.eval()
    maps = []
    for i in range(0, len(images), batch):
        ids, _ = vocab.encode_batch(captions[i:i + batch], bos=True, eos=True)  # (b, T + 1)
        _, alpha = model(td.tensor(images[i:i + batch], device=device), td.tensor(ids[:, :-1], device=device))
        maps.append(alpha.numpy())
    model.train()
    width = max(m.shape[1] for m in maps)
    return np.concatenate([np.pad(m, ((0, 0), (0, width - m.shape[1]), (0, 0))) for m in maps])


def peak_in_box(alpha, grid_size, stride, box):
    """Whether the centre of the grid cell with the largest weight of ``alpha`` (L,) (cells in row-major
    order on a grid_size x grid_size grid, ``stride`` pixels each) lies in ``box`` (x1, y1, x2, y2)."""
    row, col = divmod(int(np.argmax(alpha)), grid_size)
    x, y = (col + 0.5) * stride, (row + 0.5) * stride
    return bool(box[0] <= x <= box[2] and box[1] <= y <= box[3])


def attention_in_box(alphas, captions, boxes, grid_size, stride):
    """(n, 2) bool: for each scene and object k (0 large, 1 small), whether the step emitting the caption's
    k-th shape noun peaks inside object k's box; False where the caption has no k-th shape noun.

    alphas (n, T, L) the steps' attention weights, captions n lists of words, boxes (n, 2, 4)."""
    hits = np.zeros((len(captions), 2), dtype=bool)
    for i, words in enumerate(captions):  # a loop over scenes and their words, on the host, after decoding
        steps = [t for t, word in enumerate(words) if word in SHAPE_CLASSES][:2]
        for k, t in enumerate(steps):
            hits[i, k] = peak_in_box(alphas[i, t], grid_size, stride, boxes[i, k])
    return hits


def scores(references, hypotheses, subset=slice(None)):
    """(bleu4, exact_match) of the hypotheses against their one reference each, on ``subset``."""
    refs, hyps = np.array(references, dtype=object)[subset], np.array(hypotheses, dtype=object)[subset]
    if len(refs) == 0:
        return None, None
    bleu = corpus_bleu([[list(r)] for r in refs], [list(h) for h in hyps])
    return float(bleu), float(np.mean([list(r) == list(h) for r, h in zip(refs, hyps)]))


def evaluate(model, vocab, test, args):
    """Every metric on the held-out scenes; returns (metrics, greedy captions, attention maps or None)."""
    greedy = greedy_captions(model, vocab, test.images, args.device)
    unseen = test.unseen
    metrics = {}
    for prefix, subset in (("", slice(None)), ("unseen_", unseen)):
        metrics[prefix + "bleu4"], metrics[prefix + "exact_match"] = scores(test.captions, greedy, subset)
    alphas = None
    if model.attention:
        alphas = attention_maps(model, vocab, test.images, greedy, args.device)
        grid = test.images.shape[-1] // model.encoder.stride
        hits = attention_in_box(alphas, greedy, test.boxes, grid, model.encoder.stride)
        metrics["attention_in_box"] = float(hits.mean())
        metrics["unseen_attention_in_box"] = float(hits[unseen].mean()) if unseen.any() else None
    else:
        metrics["attention_in_box"] = metrics["unseen_attention_in_box"] = None
    count = min(args.beam_scenes, len(test))
    beam = beam_captions(model, vocab, test.images[:count], args.device, args.beam_size)
    metrics["beam_bleu4"], metrics["beam_exact_match"] = scores(test.captions[:count], beam)
    metrics["greedy_exact_match_on_beam_scenes"] = scores(test.captions[:count], greedy[:count])[1]
    metrics.update(test_scenes=len(test), unseen_scenes=int(unseen.sum()), beam_scenes=count)
    return metrics, greedy, alphas


# ---- figures ----------------------------------------------------------------------------------
def save_attention_figure(test, captions, alphas, stride, path, count=4):
    """One row per held-out scene (unseen pairs first): the image with its boxes and generated caption,
    then the attention map alpha_t of the step that emitted each word, upsampled over the image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = np.concatenate([np.flatnonzero(test.unseen)[:count // 2], np.flatnonzero(~test.unseen)])[:count]
    cols = 1 + max(len(captions[i]) + 1 for i in order)
    fig, axes = plt.subplots(len(order), cols, figsize=(1.3 * cols, 1.45 * len(order)), squeeze=False)
    S = test.images.shape[-1]
    grid = S // stride
    for row, i in enumerate(order):
        image = test.images[i].transpose(1, 2, 0)
        axes[row, 0].imshow(image)
        for x1, y1, x2, y2 in test.boxes[i]:
            axes[row, 0].add_patch(plt.Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, ec="white",
                                                 lw=0.8, ls="--"))
        truth = " ".join(test.captions[i])
        axes[row, 0].set_title(("unseen pair\n" if test.unseen[i] else "") + truth, fontsize=5)
        words = captions[i] + ["<eos>"]
        for t in range(cols - 1):
            ax = axes[row, t + 1]
            if t < len(words):
                heat = np.kron(alphas[i, t].reshape(grid, grid), np.ones((stride, stride)))  # (S, S)
                ax.imshow(image * 0.55)
                ax.imshow(heat, cmap="inferno", alpha=0.6, vmin=0)
                ax.set_title(words[t], fontsize=8)
            ax.axis("off")
        axes[row, 0].axis("off")
    fig.suptitle("held-out scenes: generated caption, one attention map per word (dashed: true boxes)",
                 fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ---- training ---------------------------------------------------------------------------------
def main(argv=None):
    parser = common.parser("caption_attention", __doc__.split("\n")[0])
    parser.add_argument("--no-attention", action="store_true", help="the decoder sees the mean-pooled features")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--scenes-per-epoch", type=int, default=12800, help="fresh training scenes each epoch")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--penalty", type=float, default=0.0001, help="lambda of the doubly stochastic penalty")
    parser.add_argument("--word-dropout", type=float, default=0.75,
                        help="probability that an input word y_{t-1} is replaced by <pad> in training")
    parser.add_argument("--width", type=int, default=32, help="channels of the first conv")
    parser.add_argument("--stride", type=int, default=4, choices=[2, 4],
                        help="pixels per annotation cell: 4 (an 8x8 grid, two max-pools) or 2 (16x16, one)")
    parser.add_argument("--label-smoothing", type=float, default=0.2,
                        help="eps: the words' cross-entropy against (1 - eps) one-hot + eps / V")
    parser.add_argument("--word-in-output", action="store_true",
                        help="the paper's deep output L_o tanh(E y_{t-1} + L_h h_t + L_z z_t), with the previous word")
    parser.add_argument("--joint-encoder", action="store_true",
                        help="one conv stack on the RGB image instead of the shape and colour streams")
    parser.add_argument("--word-order", default="colour-first", choices=WORD_ORDERS,
                        help='"a red circle ..." (colour-first) or "a circle in red ..." (shape-first)')
    parser.add_argument("--test-scenes", type=int, default=600)
    parser.add_argument("--beam-size", type=int, default=3)
    parser.add_argument("--beam-scenes", type=int, default=200, help="held-out scenes captioned by beam search")
    parser.add_argument("--max-minutes", type=float, default=9.0,
                        help="training stops before an epoch that would end past this many minutes")
    args = parser.parse_args(argv)
    if args.smoke:
        args.epochs, args.scenes_per_epoch, args.batch_size, args.test_scenes, args.beam_scenes = 1, 32, 16, 12, 2
    common.prepare(args)
    start = time.time()

    vocab = Vocabulary(caption_words(args.word_order))
    test = make_captions(args.test_scenes, "test", seed=1000 + args.seed, word_order=args.word_order)  # another stream
    model = ShowAttendTell(len(vocab), width=args.width, attention=not args.no_attention,
                           stride=args.stride, two_stream=not args.joint_encoder,
                           word_in_output=args.word_in_output).to(args.device)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    progress = common.load_checkpoint(args, model, optimizer) or {
        "epoch": 0, "step": 0, "train_seconds": 0.0, "stopped_early": False, "last_epoch_seconds": 0.0,
        "loss": {"total": [], "nll": [], "doubly_stochastic": []}}
    steps_per_epoch = args.scenes_per_epoch // args.batch_size
    total_steps = args.epochs * steps_per_epoch
    name = "mean-pooled features" if args.no_attention else "soft attention"
    print(f"caption_attention: {name}, {args.epochs} epochs of {args.scenes_per_epoch} fresh scenes, "
          f"{sum(p.data.size for p in model.parameters())} parameters, device {args.device}")

    bar = common.progress(range(progress["epoch"], args.epochs), desc=f"training ({name})", unit="epoch")
    for epoch in bar:
        if progress["train_seconds"] + progress["last_epoch_seconds"] > 60 * args.max_minutes:
            print(f"caption_attention: another epoch would pass {args.max_minutes} minutes; stopping at "
                  f"epoch {epoch}")
            break
        epoch_start = time.time()
        scenes = make_captions(args.scenes_per_epoch, "train", seed=[args.seed, epoch],
                               word_order=args.word_order)  # never seen before
        ids, _ = vocab.encode_batch(scenes.captions, bos=True, eos=True)  # (n, T + 1) padded with <pad>
        drop = np.random.default_rng([args.seed, epoch, 1])  # the word dropout's draws, also repeated by --resume
        for i in range(steps_per_epoch):
            batch = slice(i * args.batch_size, (i + 1) * args.batch_size)
            for group in optimizer.param_groups:
                group["lr"] = cosine_lr(args.lr, progress["step"], total_steps)
            tokens = td.tensor(ids[batch], device=args.device)  # (B, T + 1)
            logits, alpha = model(td.tensor(scenes.images[batch], device=args.device), tokens[:, :-1],
                                  word_dropout=args.word_dropout, generator=drop)
            loss, terms = caption_loss(logits, tokens[:, 1:], alpha, vocab.pad, args.penalty, args.label_smoothing)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            progress["step"] += 1
            progress["loss"]["total"].append(loss.item())
            for key, term in terms.items():
                progress["loss"][key].append(term.item())
        progress["epoch"] = epoch + 1
        progress["last_epoch_seconds"] = time.time() - epoch_start
        progress["train_seconds"] += progress["last_epoch_seconds"]
        bar.set_postfix(loss=f"{np.mean(progress['loss']['nll'][-steps_per_epoch:]):.4f}")
        common.save_checkpoint(args, model, optimizer, progress)
    progress["stopped_early"] = progress["epoch"] < args.epochs  # the --max-minutes budget ran out first

    metrics, greedy, alphas = evaluate(model, vocab, test, args)
    common.plot_curves(f"{args.out}/loss.png", {k: v for k, v in progress["loss"].items() if not args.no_attention
                                                or k != "doubly_stochastic"},
                       log_y=True, smooth=min(25, steps_per_epoch), title=f"captioning loss ({name}), per step")
    if alphas is not None:
        save_attention_figure(test, greedy, alphas, model.encoder.stride, f"{args.out}/attention.png")
    with open(f"{args.out}/captions.txt", "w") as f:
        for truth, words, unseen in zip(test.captions[:50], greedy[:50], test.unseen[:50]):
            mark = "=" if truth == words else "X"
            f.write(f"{mark} {'unseen ' if unseen else '       '}{' '.join(words):50s} | {' '.join(truth)}\n")
    metrics.update(attention=not args.no_attention, penalty=args.penalty, word_dropout=args.word_dropout,
                   label_smoothing=args.label_smoothing, two_stream=not args.joint_encoder,
                   word_in_output=args.word_in_output,
                   beam_size=args.beam_size,
                   epochs=progress["epoch"], steps=progress["step"], stopped_early=progress["stopped_early"],
                   train_seconds=progress["train_seconds"], seconds=time.time() - start)
    metrics = common.write_metrics(args, metrics)
    shown = ", ".join(f"{k} {metrics[k]:.3f}" for k in ("bleu4", "exact_match", "attention_in_box", "unseen_bleu4",
                                                        "unseen_exact_match", "beam_bleu4")
                      if metrics[k] is not None)
    print(f"caption_attention ({name}): {shown} on {len(test)} held-out scenes after {progress['step']} steps "
          f"({progress['train_seconds']:.0f} s of training)")
    return metrics


if __name__ == "__main__":
    main()
