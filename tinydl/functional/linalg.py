"""Matrix products: ``matmul`` (batched and broadcast, like ``np.matmul``) and ``linear``.

For C = A @ B the chain rule gives  dA = dC @ B^T  and  dB = A^T @ dC.
With batch dimensions that broadcast, each gradient is summed back over the
batch dimensions its operand was broadcast along (``sum_to``).
"""
from ..autograd import Function
from .broadcast import sum_to
from .elementwise import _pair


class MatMul(Function):
    """A (..., n, k) @ B (..., k, m) -> (..., n, m); both operands at least 2-d."""

    def forward(self, a, b):
        return a @ b

    def backward(self, gy):  # gy: (..., n, m)
        a, b = self.inputs
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = sum_to(gy @ b.mT, a.shape)
        if self.needs_input_grad[1]:
            if b.ndim == 2 and a.ndim > 2:
                # a weight shared by every batch item: fold the batch into the rows, one big product
                k, m = b.shape
                gb = a.reshape(-1, k).mT @ gy.reshape(-1, m)
            else:
                gb = sum_to(a.mT @ gy, b.shape)
        return ga, gb


def _check_matmul(a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dim, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    k_a = a.shape[-1]
    k_b = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if k_a != k_b:
        raise ValueError(
            f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be multiplied ({k_a} != {k_b}: "
            "the last dim of the first must equal the second-to-last dim of the second)"
        )
    batch_a, batch_b = a.shape[:-2], b.shape[:-2]
    for x, y in zip(reversed(batch_a), reversed(batch_b)):
        if x != y and x != 1 and y != 1:
            raise ValueError(
                f"matmul: batch dims of shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be broadcast together"
            )


def matmul(a, b):
    """``a @ b`` with NumPy's rules: 1-d operands are treated as a row / column vector."""
    a, b = _pair(a, b)
    _check_matmul(a, b)
    if a.ndim == 1 and b.ndim == 1:
        return MatMul()(a.reshape(1, -1), b.reshape(-1, 1)).reshape(())
    if a.ndim == 1:
        return MatMul()(a.unsqueeze(0), b).squeeze(-2)
    if b.ndim == 1:
        return MatMul()(a, b.unsqueeze(-1)).squeeze(-1)
    return MatMul()(a, b)


def linear(x, weight, bias=None):
    """y = x W^T + b with x (..., in), W (out, in), b (out,)."""
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-d (out_features, in_features), got shape {tuple(weight.shape)}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input of shape {tuple(x.shape)} does not match weight of shape {tuple(weight.shape)} "
            f"(input's last dim must be in_features = {weight.shape[1]})"
        )
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"linear: bias of shape {tuple(bias.shape)} does not match weight of shape {tuple(weight.shape)}")
    y = matmul(x, weight.mT)
    return y if bias is None else y + bias
