"""Translating spelled-out numbers into digits with an encoder-decoder, with and without attention.

    python examples/seq2seq_attention.py                 # exact_match >= 0.99 on held-out sentences
    python examples/seq2seq_attention.py --no-attention  # the one-context-vector model (RNNencdec)
    python examples/seq2seq_attention.py --compare       # both on the same data and steps: compare.json/.png
    python examples/seq2seq_attention.py --smoke         # a few steps, for the test suite

Task (``tinydl.data.make_number_pairs``): "three hundred five , twelve" -> "3 0 5 , 1 2", lists of
numbers 0..999 in words, 1 to ``--max-tokens`` (20) words per sentence.  Fresh training sentences
every epoch (seed ``(seed, epoch)``, so --resume repeats the data exactly); the held-out test set
(seed ``(10**6 + seed, 1)``) is kept out of the training stream (``exclude=``), so no test sentence
is ever trained on; the *long* split (seed ``(10**6 + seed, 2)``) has ``--max-tokens + 1`` to
``--long-tokens`` (30) words, longer than every training sentence.

Model: ``tinydl.models.Seq2Seq``, Bahdanau et al. 2015's RNNsearch (bidirectional GRU encoder,
GRU decoder with additive attention recomputed at every step, maxout deep output), or with
``--no-attention`` the RNNencdec of Cho et al. 2014 (one context vector for the whole sentence).
Teacher forcing, cross-entropy, Adam with a cosine learning rate, gradients clipped to norm 1.
Batches are bucketed by length (each batch's sentences have similar lengths, so little padding).

Metrics: ``exact_match`` (greedy translation equal to the reference, held-out set) and
``exact_match_long`` (the long split), the same with beam search on the first
``--beam-sentences`` of each, and exact match by source length.  Figures: the loss curve,
``alignment.png`` (the weights a_ij of a few held-out and long sentences), and with --compare
``compare.png`` (exact match against sentence length, both models: the lecture's point).
The default run takes about 100 s of one CPU core (1 536 steps); --compare trains both models, about
170 s (the one-vector decoder is cheaper per step).
"""
import argparse
import json
import math
import os
import time

import numpy as np

import common
import tinydl as td
from tinydl import nn, optim
from tinydl.data import SOURCE_TOKENS, TARGET_TOKENS, make_number_pairs
from tinydl.models import Seq2Seq
from tinydl.text import Vocabulary

SOURCE_VOCAB, TARGET_VOCAB = Vocabulary(SOURCE_TOKENS), Vocabulary(TARGET_TOKENS)
LENGTH_BINS = 5  # words per bin of the by-length tables


def cosine_lr(lr, step, total, warmup=100):
    """A linear warm-up over ``warmup`` steps, then a cosine decay to 2% of ``lr`` at step ``total``."""
    if step < warmup:
        return lr * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t)))


def encode(pairs):
    """Padded id arrays of a NumberPairs: source (N, S), lengths (N,), target_in (N, T) = <bos> y,
    target_out (N, T) = y <eos>."""
    source, lengths = SOURCE_VOCAB.encode_batch(pairs.sources)
    target_in, _ = TARGET_VOCAB.encode_batch(pairs.targets, bos=True)
    target_out, _ = TARGET_VOCAB.encode_batch(pairs.targets, eos=True)
    return source, lengths, target_in, target_out


def bucketed_batches(pairs, batch_size, gen, chunk=16):
    """Index arrays of the epoch's batches: chunks of ``chunk`` batches sorted by source length (so a
    batch holds sentences of similar length), the batches then shuffled."""
    lengths = pairs.source_lengths()
    batches = []
    for start in range(0, len(lengths), batch_size * chunk):
        index = np.arange(start, min(len(lengths), start + batch_size * chunk))
        index = index[np.argsort(lengths[index], kind="stable")]
        batches += [index[i:i + batch_size] for i in range(0, len(index), batch_size)]
    return [batches[i] for i in gen.permutation(len(batches))]


def take(pairs, index):
    return type(pairs)(*([field[i] for i in index] for field in pairs))


# ---- evaluation ------------------------------------------------------------------------------
def greedy_translations(model, pairs, batch_size=250):
    """The greedy translation (a list of digit tokens) of every source sentence."""
    model.eval()
    out = []
    for start in range(0, len(pairs), batch_size):
        chunk = take(pairs, range(start, min(len(pairs), start + batch_size)))
        source, lengths, _, _ = encode(chunk)
        ids = model.translate(source, lengths, TARGET_VOCAB.bos, TARGET_VOCAB.eos, max_len=2 * source.shape[1] + 2)
        out += [as_tokens(x) for x in ids]
    model.train()
    return out


def beam_translations(model, pairs, beam_size):
    model.eval()
    out = []
    for words in pairs.sources:
        ids, _ = model.beam_translate(SOURCE_VOCAB.encode(words), TARGET_VOCAB.bos, TARGET_VOCAB.eos,
                                      max_len=2 * len(words) + 2, beam_size=beam_size)
        out.append(as_tokens(ids))
    model.train()
    return out


def as_tokens(ids):
    """The tokens of a decoded id list (cut at <eos> by the decoder) as they are: a <pad> or <bos> the
    model emitted stays in (Vocabulary.decode would drop it) and makes the translation wrong."""
    return [TARGET_VOCAB.tokens[i] for i in ids]


def exact_matches(pairs, hypotheses):
    """(n,) bool: hypothesis i equals target i token for token."""
    return np.array([h == t for h, t in zip(hypotheses, pairs.targets)], dtype=bool)


def by_length(pairs, correct):
    """{"1-5": exact match, "6-10": ...} over source lengths in words (bins of LENGTH_BINS)."""
    lengths = pairs.source_lengths()
    bins = (lengths - 1) // LENGTH_BINS
    return {f"{b * LENGTH_BINS + 1}-{(b + 1) * LENGTH_BINS}": float(correct[bins == b].mean())
            for b in np.unique(bins)}


# ---- figures ----------------------------------------------------------------------------------
def save_alignments(model, pairs, titles, path):
    """Heat maps of a_ij for a few sentences: source words on x, output digits (and <eos>) on y."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = len(pairs)
    fig, axes = plt.subplots(1, count, figsize=(4.2 * count, 4.4), squeeze=False)
    model.eval()
    for ax, i, title in zip(axes[0], range(count), titles):
        words, digits = pairs.sources[i], pairs.targets[i]
        weights = model.alignment(SOURCE_VOCAB.encode(words), TARGET_VOCAB.encode(digits), TARGET_VOCAB.bos)
        ax.imshow(weights, cmap="gray_r", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(words)), words, rotation=90, fontsize=7)
        ax.set_yticks(range(len(digits) + 1), digits + ["<eos>"], fontsize=7)
        ax.set_xlabel("source word j")
        ax.set_ylabel("output token i")
        ax.set_title(title, fontsize=9)
    model.train()
    fig.suptitle("attention weights a_ij (black = 1)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def save_compare_plot(results, losses, max_tokens, path):
    """Left: exact match against source length for both models (the dashed line is the training
    maximum).  Right: their training losses, step by step on the same batches."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    for name, label in (("attention", "attention (RNNsearch)"), ("no_attention", "one vector (RNNencdec)")):
        table = dict(results[name]["by_length"], **results[name]["by_length_long"])
        centres = [np.mean([int(x) for x in key.split("-")]) for key in table]
        (line,) = ax.plot(centres, list(table.values()), "o-", label=label)
        smooth = min(25, len(losses[name]))
        right.plot(np.arange(smooth - 1, len(losses[name])),
                   np.convolve(losses[name], np.ones(smooth) / smooth, mode="valid"), color=line.get_color(),
                   label=label)
    ax.axvline(max_tokens + 0.5, color="gray", ls="--", lw=1)
    ax.text(max_tokens + 0.8, 0.05, "longer than any\ntraining sentence", fontsize=8, color="gray")
    ax.set_xlabel(f"source sentence length (words, bins of {LENGTH_BINS})")
    ax.set_ylabel("exact match (greedy)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(loc="lower left")
    ax.set_title("Same data, same steps: one context vector vs attention", fontsize=10)
    right.set_yscale("log")
    right.set_xlabel("step")
    right.set_ylabel(f"training cross-entropy (mean of {smooth})")
    right.legend()
    right.set_title("Training loss on the same batches", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ---- training ---------------------------------------------------------------------------------
def held_out(args):
    """The test set (training length range, never in the training stream) and the long split."""
    test = make_number_pairs(args.test_size, 1, args.max_tokens, seed=[10**6 + args.seed, 1])
    long = make_number_pairs(args.long_size, args.max_tokens + 1, args.long_tokens, seed=[10**6 + args.seed, 2])
    return test, long


def train(args):
    """One model (attention or not) trained and evaluated into args.out; returns its metrics."""
    common.prepare(args)
    start = time.time()
    test, long = held_out(args)
    excluded = set(map(tuple, test.sources))
    model = Seq2Seq(len(SOURCE_VOCAB), len(TARGET_VOCAB), embedding_dim=args.embedding_dim,
                    hidden_size=args.hidden_size, attention_size=args.hidden_size, maxout_size=args.hidden_size,
                    attention=not args.no_attention, pad=SOURCE_VOCAB.pad).to(args.device)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    progress = common.load_checkpoint(args, model, optimizer) or {
        "epoch": 0, "step": 0, "train_seconds": 0.0, "losses": []}
    steps_per_epoch = -(-args.sentences_per_epoch // args.batch_size)
    total_steps = args.epochs * steps_per_epoch
    name = "no attention (one context vector)" if args.no_attention else "attention"
    print(f"seq2seq_attention: {name}, {args.epochs} epochs of {args.sentences_per_epoch} fresh sentences, "
          f"{sum(p.data.size for p in model.parameters())} parameters, device {args.device}")

    bar = common.progress(range(progress["epoch"], args.epochs), desc=f"training ({name})", unit="epoch")
    for epoch in bar:
        epoch_start = time.time()
        pairs = make_number_pairs(args.sentences_per_epoch, 1, args.max_tokens, seed=[args.seed, epoch],
                                  exclude=excluded)
        for index in bucketed_batches(pairs, args.batch_size, np.random.default_rng([args.seed, epoch])):
            source, lengths, target_in, target_out = encode(take(pairs, index))
            for group in optimizer.param_groups:
                group["lr"] = cosine_lr(args.lr, progress["step"], total_steps)
            loss = model.loss(source, lengths, target_in, target_out)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            progress["step"] += 1
            progress["losses"].append(loss.item())
        progress["epoch"] = epoch + 1
        progress["train_seconds"] += time.time() - epoch_start
        bar.set_postfix(loss=f"{np.mean(progress['losses'][-steps_per_epoch:]):.4f}")
        common.save_checkpoint(args, model, optimizer, progress)
        if common.out_of_time(args, "seq2seq_attention", progress["train_seconds"], epoch + 1):
            break
    stopped_early = progress["epoch"] < args.epochs  # the --max-minutes budget ran out first

    correct = exact_matches(test, greedy_translations(model, test))
    correct_long = exact_matches(long, greedy_translations(model, long))
    beam_test, beam_long = take(test, range(args.beam_sentences)), take(long, range(args.beam_sentences))
    beam = exact_matches(beam_test, beam_translations(model, beam_test, args.beam_size))
    beam_long_correct = exact_matches(beam_long, beam_translations(model, beam_long, args.beam_size))
    common.plot_curves(f"{args.out}/loss.png", {"cross-entropy per target token": progress["losses"]},
                       smooth=min(25, len(progress["losses"])), log_y=True, title=f"seq2seq, {name}")
    if not args.no_attention:
        save_alignments(model, *_alignment_examples(test, long), f"{args.out}/alignment.png")
    metrics = {"exact_match": float(correct.mean()), "exact_match_long": float(correct_long.mean()),
               "exact_match_beam": float(beam.mean()), "exact_match_long_beam": float(beam_long_correct.mean()),
               "greedy_on_beam_sentences": float(correct[:args.beam_sentences].mean()),
               "greedy_long_on_beam_sentences": float(correct_long[:args.beam_sentences].mean()),
               "by_length": by_length(test, correct), "by_length_long": by_length(long, correct_long),
               "attention": not args.no_attention, "test_sentences": len(test), "long_sentences": len(long),
               "beam_sentences": args.beam_sentences, "beam_size": args.beam_size,
               "max_tokens": args.max_tokens, "epochs": progress["epoch"], "steps": progress["step"],
               "stopped_early": stopped_early, "train_seconds": progress["train_seconds"],
               "seconds": time.time() - start}
    metrics = common.write_metrics(args, metrics)
    print(f"{name}: exact match {metrics['exact_match']:.4f} on {len(test)} held-out sentences, "
          f"{metrics['exact_match_long']:.4f} on {len(long)} longer ones (beam {args.beam_size}: "
          f"{metrics['exact_match_beam']:.4f}, {metrics['exact_match_long_beam']:.4f} on the first "
          f"{args.beam_sentences}); {progress['step']} steps, {progress['train_seconds']:.0f} s of training")
    return metrics


def _alignment_examples(test, long):
    """For the heat maps: a short held-out sentence where the decoder must insert a 0 ("three hundred
    five" -> 3 0 5) if there is one, the longest held-out sentence, and one of the long split; and titles."""
    lengths = test.source_lengths()
    zero_inserted = [i for i, numbers in enumerate(test.numbers)
                     if lengths[i] <= 9 and any(n >= 100 and (n // 10) % 10 == 0 for n in numbers)]
    short = zero_inserted[0] if zero_inserted else int(np.argmin(np.abs(lengths - 6)))
    longest = int(np.argmax(lengths))
    pairs = type(test)(*([field_t[short], field_t[longest], field_l[0]] for field_t, field_l in zip(test, long)))
    titles = [f"held-out, {lengths[short]} words", f"held-out, {lengths[longest]} words (the longest)",
              f"long split, {len(long.sources[0])} words"]
    return pairs, titles


def compare(args):
    """The attention model and the one-vector model trained on the same sentences, in the same order,
    for the same number of steps (each in its own subfolder, so --resume resumes both); writes
    compare.json and compare.png."""
    results = {}
    for name in ("attention", "no_attention"):
        variant = argparse.Namespace(**dict(vars(args), no_attention=name == "no_attention",
                                            out=os.path.join(args.out, name)))
        results[name] = train(variant)
    keys = ("exact_match", "exact_match_long", "exact_match_beam", "exact_match_long_beam", "by_length",
            "by_length_long", "epochs", "steps", "stopped_early", "train_seconds")
    table = {name: {key: results[name][key] for key in keys} for name in results}
    with open(os.path.join(args.out, "compare.json"), "w") as f:
        json.dump(dict(table, seed=args.seed, max_tokens=args.max_tokens, long_tokens=args.long_tokens), f,
                  indent=2)
    losses = {name: list(td.load(os.path.join(args.out, name, "checkpoint.npz"))["progress"]["losses"])
              for name in results}
    save_compare_plot(table, losses, args.max_tokens, os.path.join(args.out, "compare.png"))
    for name, row in table.items():
        print(f"{name:>12}: " + "  ".join(f"{k} {v:.3f}" for k, v in {**row["by_length"],
                                                                     **row["by_length_long"]}.items()))
    return table


def main(argv=None):
    parser = common.parser("seq2seq_attention", __doc__.split("\n")[0])
    parser.add_argument("--no-attention", action="store_true", help="one context vector (Cho et al. 2014)")
    parser.add_argument("--compare", action="store_true", help="train both models on the same data and steps")
    parser.add_argument("--epochs", type=int, default=None, help="default 12 (2 with --smoke)")
    parser.add_argument("--sentences-per-epoch", type=int, default=8192, help="fresh training sentences each epoch")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--embedding-dim", type=int, default=32)
    parser.add_argument("--hidden-size", type=int, default=64, help="H: each encoder direction, the decoder")
    parser.add_argument("--max-tokens", type=int, default=20, help="longest training and test sentence (words)")
    parser.add_argument("--long-tokens", type=int, default=30, help="longest sentence of the long split")
    parser.add_argument("--test-size", type=int, default=1000)
    parser.add_argument("--long-size", type=int, default=500)
    parser.add_argument("--beam-size", type=int, default=5)
    parser.add_argument("--beam-sentences", type=int, default=100, help="beam search on the first N of each set")
    parser.add_argument("--max-minutes", type=float, default=9.0, help="stop training after this long")
    args = parser.parse_args(argv)
    if args.smoke:
        args.sentences_per_epoch, args.batch_size, args.hidden_size, args.embedding_dim = 48, 16, 16, 8
        args.test_size, args.long_size, args.beam_sentences, args.beam_size = 12, 6, 2, 2
        args.epochs = 2 if args.epochs is None else args.epochs
    args.epochs = 12 if args.epochs is None else args.epochs
    return compare(args) if args.compare else train(args)


if __name__ == "__main__":
    main()
