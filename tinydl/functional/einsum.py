"""einsum: sums of products written with index letters, ``td.einsum("bqd,bkd->bqk", q, k)``.

Forward: NumPy's / CuPy's einsum. Backward, for operand i with letters s_i: the output's
gradient gy (letters s_out) times the other operands, summed over every letter that s_i lacks,
is itself an einsum:

    g_i = einsum("s_out,s_1,...(without s_i)->s_i", gy, x_1, ...)

A letter of s_i that appears nowhere else (summed over in x_i alone) gets the gradient
broadcast along it: it is left out of that einsum and put back with ``broadcast_to``.
Since the backward is an einsum again, second derivatives work too.

Supported: explicit (``->``) and implicit outputs; not supported (a clear error): ``...``
and a letter repeated within one operand (a diagonal, such as ``"ii->i"``).
"""
from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from .broadcast import broadcast_to


class Einsum(Function):
    """The einsum of the inputs by ``subscripts`` (a list, one string per input) into ``output``."""

    def __init__(self, subscripts, output):
        self.subscripts, self.output = subscripts, output

    def forward(self, *arrays):
        xp = backend.get_array_module(arrays[0])
        return xp.einsum(",".join(self.subscripts) + "->" + self.output, *arrays)

    def backward(self, gy):
        grads = []
        for i, x in enumerate(self.inputs):
            if not self.needs_input_grad[i]:
                grads.append(None)
                continue
            others = [(s, t) for j, (s, t) in enumerate(zip(self.subscripts, self.inputs)) if j != i]
            present = set(self.output).union(*[set(s) for s, _ in others])
            kept = "".join(c for c in self.subscripts[i] if c in present)
            g = Einsum([self.output] + [s for s, _ in others], kept)(gy, *[t for _, t in others])
            shape = [x.shape[k] if c in present else 1 for k, c in enumerate(self.subscripts[i])]
            grads.append(broadcast_to(g.reshape(*shape), x.shape))
        return tuple(grads)


def _parse(equation, operands):
    equation = equation.replace(" ", "")
    if "." in equation:
        raise ValueError(f"einsum: '...' is not supported by tinydl (equation {equation!r}); name every dim")
    inputs, _, output = equation.partition("->")
    subscripts = inputs.split(",")
    if len(subscripts) != len(operands):
        raise ValueError(f"einsum: the equation {equation!r} names {len(subscripts)} operands, got {len(operands)}")
    if "->" not in equation:  # implicit output: the letters used once, in alphabetical order
        letters = "".join(subscripts)
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    sizes = {}
    for s, t in zip(subscripts, operands):
        if (s and not s.isalpha()) or len(set(s)) != len(s):
            raise ValueError(f"einsum: subscripts {s!r} must be distinct letters (a repeated letter, a diagonal, "
                             "is not supported)")
        if len(s) != t.ndim:
            raise ValueError(f"einsum: subscripts {s!r} name {len(s)} dims, but the operand has shape {tuple(t.shape)}")
        for c, n in zip(s, t.shape):
            if sizes.setdefault(c, n) != n:
                raise ValueError(f"einsum: letter {c!r} has size {sizes[c]} in one operand and {n} in another "
                                 f"(equation {equation!r})")
    if len(set(output)) != len(output) or not set(output) <= set(sizes):
        raise ValueError(f"einsum: the output {output!r} must be distinct letters that appear in the inputs")
    return subscripts, output


def einsum(equation, *operands):
    """The sum of products that ``equation`` writes (``"ij,jk->ik"`` is a matrix product);
    the operands may also be given as one list, as PyTorch allows."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError(f"einsum: the equation {equation!r} needs at least one operand")
    for i, t in enumerate(operands):
        if not isinstance(t, Tensor):
            raise TypeError(f"einsum: operand {i} must be a Tensor, not {type(t).__name__}")
    subscripts, output = _parse(equation, operands)
    return Einsum(subscripts, output)(*operands)
