"""What keeping x in the gradient's graph costs WGAN-GP's penalty (MaskedGrad, docs/autograd.md).

    python -m benchmarks.gradient_penalty [--rounds N]

One penalty step, forward and backward, of ``Discriminator(32, norm=None)`` on a (32, 1, 16, 16)
float32 batch, timed two ways in one process, interleaved (A, B, A, B, ...), medians:

- ``kept``: tinydl as it is: relu / leaky_relu / abs backward through MaskedGrad, whose backward
  sends zeros to x, so the critic's forward graph is walked backward on those zeros (as in PyTorch);
- ``cut``: MaskedGrad.backward patched to return None for x (what tinydl did before, with
  ``gy * Tensor(mask)``): the same numbers, minus the zero gradients for the biases in front of
  each leaky ReLU, and minus their cost.
"""
import argparse
import time

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args(argv)

    import tinydl as td
    from tinydl.functional import elementwise
    from tinydl.models import Discriminator, gradient_penalty

    kept = elementwise.MaskedGrad.backward

    def cut(self, ggx):
        gy, x = self.inputs
        return (elementwise.MaskedGrad(self.mask)(ggx, x) if self.needs_input_grad[0] else None), None

    td.manual_seed(0)
    critic = Discriminator(32, norm=None)
    rng = np.random.default_rng(0)
    real, fake = (td.tensor(rng.standard_normal((32, 1, 16, 16)).astype(np.float32)) for _ in range(2))
    epsilon = td.tensor(rng.uniform(size=(32, 1, 1, 1)).astype(np.float32))
    times = {"kept": [], "cut": []}
    try:
        for round in range(args.rounds + 5):
            for name, backward in (("cut", cut), ("kept", kept)):
                elementwise.MaskedGrad.backward = backward
                start = time.perf_counter()
                gradient_penalty(critic, real, fake, epsilon).backward()
                if round >= 5:  # the first rounds warm up
                    times[name].append(time.perf_counter() - start)
    finally:
        elementwise.MaskedGrad.backward = kept
    for name, t in times.items():
        print(f"{name:5s} {np.median(t) * 1e3:6.2f} ms  (median of {len(t)})")


if __name__ == "__main__":
    main()
