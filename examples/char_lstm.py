"""Character-level LSTM language model on Python's own documentation, with truncated BPTT.

    python examples/char_lstm.py              # target: validation <= 2.0 bits per character, < 10 min on 2 cores
    python examples/char_lstm.py --smoke      # a few steps, for the test suite

The text is ``pydoc_data.topics``, the help texts shipped with CPython, so
nothing is downloaded.  The training text is cut into ``--batch-size``
parallel streams; each step reads the next ``--bptt`` characters of every
stream, backpropagates through those steps only, and carries the LSTM state
*detached* into the next chunk (truncated BPTT: the state flows forward
across chunks, the gradient does not).  Gradients are clipped to a total norm
of ``--clip`` (docs/recurrent.md).  The headline metric is the validation
cross-entropy in bits per character (``val_bpc``): log2 of the number of
equally likely characters the model is still choosing between.
"""
import math
import time

import numpy as np

import common
import tinydl as td
import tinydl.functional as F
import tinydl.nn as nn
from tinydl import optim


def load_text(smoke):
    from pydoc_data.topics import topics  # shipped with CPython

    text = "\n\n".join(topics[key] for key in sorted(topics))
    return text[:60_000] if smoke else text


class CharLSTM(nn.Module):
    def __init__(self, vocab, embed=64, hidden=512, layers=1):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, num_layers=layers)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):  # x (T, N) character indices
        h, state = self.lstm(self.embed(x), state)  # (T, N, hidden)
        return self.head(h), state  # logits (T, N, vocab)


def streams(ids, batch):
    """(length, batch): ``batch`` contiguous streams side by side, so chunk t of stream b follows chunk t - 1."""
    length = len(ids) // batch
    return ids[: length * batch].reshape(batch, length).T


def detach(state):
    h, c = state
    return h.detach(), c.detach()


@td.no_grad()
def bits_per_char(model, data, bptt, device):
    """Mean cross-entropy over ``data`` (length, batch) in bits, carrying the state across chunks."""
    model.eval()
    total, count, state = 0.0, 0, None
    for t in range(0, data.shape[0] - 1, bptt):
        x = data[t : t + bptt]
        y = data[t + 1 : t + 1 + bptt]
        x = x[: len(y)]
        logits, state = model(td.tensor(x, device=device), state)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), td.tensor(y.reshape(-1), device=device),
                               reduction="sum")
        total += loss.item()
        count += y.size
    model.train()
    return total / count / math.log(2)


@td.no_grad()
def sample(model, chars, start, length, device, temperature=0.8, seed=0):
    """Generate text one character at a time, feeding each sample back in."""
    model.eval()
    rng = np.random.default_rng(seed)
    index = {c: i for i, c in enumerate(chars)}
    out, state = list(start), None
    x = np.array([[index[c]] for c in start])  # (T, 1)
    for _ in range(length):
        logits, state = model(td.tensor(x, device=device), state)
        p = F.softmax(logits[-1, 0] / temperature, dim=0).numpy().astype(np.float64)
        nxt = int(rng.choice(len(chars), p=p / p.sum()))
        out.append(chars[nxt])
        x = np.array([[nxt]])
    model.train()
    return "".join(out)


def main(argv=None):
    parser = common.parser("char_lstm", __doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--bptt", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--clip", type=float, default=1.0)
    parser.add_argument("--eval-every", type=int, default=200)
    parser.add_argument("--max-minutes", type=float, default=10.0, help="stop training after this long")
    args = parser.parse_args(argv)
    if args.smoke:
        args.steps, args.hidden, args.eval_every = 6, 32, 3
    common.prepare(args)
    start = time.time()

    text = load_text(args.smoke)
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    ids = np.array([index[c] for c in text], dtype=np.int64)
    split = int(0.9 * len(ids))
    train = streams(ids[:split], args.batch_size)
    val = streams(ids[split:], 8)  # the last 10% of the text, as 8 streams
    print(f"char_lstm: {len(text):,} characters, {len(chars)} distinct; {train.shape[0] * train.shape[1]:,} for "
          f"training, {val.size:,} for validation; device {args.device}")

    model = CharLSTM(len(chars), hidden=args.hidden).to(args.device)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    progress = common.load_checkpoint(args, model, optimizer) or {"step": 0, "losses": [], "val": []}
    losses, val_curve = progress["losses"], progress["val"]
    position = (progress["step"] * args.bptt) % (train.shape[0] - args.bptt - 1)
    state = None

    bar = common.progress(range(progress["step"], args.steps), desc="training", unit="step")
    for step in bar:
        if position + args.bptt + 1 >= train.shape[0]:
            position, state = 0, None  # back to the start of every stream
        x = td.tensor(train[position : position + args.bptt], device=args.device)
        y = td.tensor(train[position + 1 : position + args.bptt + 1], device=args.device)
        position += args.bptt
        logits, state = model(x, state)
        state = detach(state)  # truncated BPTT: keep the state, cut the graph
        loss = F.cross_entropy(logits.reshape(-1, len(chars)), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        optimizer.step()
        losses.append(loss.item() / math.log(2))
        bar.set_postfix(train_bpc=f"{np.mean(losses[-20:]):.3f}")
        if (step + 1) % args.eval_every == 0 or step + 1 == args.steps:
            val_curve.append([step + 1, bits_per_char(model, val, args.bptt, args.device)])
            bar.write(f"step {step + 1}: validation {val_curve[-1][1]:.3f} bits per character")
            common.save_checkpoint(args, model, optimizer, {"step": step + 1, "losses": losses, "val": val_curve})
        if time.time() - start > 60 * args.max_minutes:
            bar.write(f"stopping after {args.max_minutes} minutes")
            break

    val_bpc = bits_per_char(model, val, args.bptt, args.device)
    seconds = time.time() - start
    common.save_checkpoint(args, model, optimizer, {"step": step + 1, "losses": losses, "val": val_curve})
    text_sample = sample(model, chars, "def ", 400, args.device, seed=args.seed)
    with open(f"{args.out}/sample.txt", "w") as f:
        f.write(text_sample)
    common.plot_curves(f"{args.out}/loss.png", {"training bits per character": losses}, smooth=20,
                       ylabel="bits per character", title="char-LSTM on pydoc topics")
    metrics = common.write_metrics(args, {"val_bpc": val_bpc, "steps": step + 1, "seconds": seconds,
                                          "val_curve": val_curve})
    print(f"validation {val_bpc:.3f} bits per character after {step + 1} steps in {seconds:.0f} s\n"
          f"--- sample ---\n{text_sample}\n--------------")
    return metrics


if __name__ == "__main__":
    main()
