"""``F.mmd_loss``: the squared maximum mean discrepancy between two batches of features, with a
mixture of Gaussian kernels (DDC, Tzeng et al. 2014; the multi-kernel form of Long et al. 2015).

For samples x_1..x_N ~ P and y_1..y_M ~ Q (rows of x (N, D) and y (M, D)) and a kernel k, the
biased (V-statistic) estimate of MMD^2 is

    MMD^2(x, y) = 1/N^2 sum_ij k(x_i, x_j) + 1/M^2 sum_ij k(y_i, y_j) - 2/(N M) sum_ij k(x_i, y_j)

which is ||mean_i phi(x_i) - mean_j phi(y_j)||^2 in the kernel's feature space (the kernel trick:
phi is never computed, only k(a, b) = <phi(a), phi(b)>). The kernel here is the mean of Gaussians
of several bandwidths sigma_s (Long et al.'s convex combination, with equal weights):

    k(a, b) = 1/S sum_s exp(-||a - b||^2 / (2 sigma_s^2))

With one bandwidth, distances much larger than sigma give k ~ 0 and much smaller give k ~ 1, and
either way the gradient vanishes; several bandwidths keep some kernel sensitive at every scale.
Built from differentiable Tensor ops: gradients flow into both x and y (docs/transfer.md, "DDC").
"""
from .elementwise import clamp, exp
from .linalg import matmul

DEFAULT_BANDWIDTHS = (1.0, 2.0, 4.0, 8.0, 16.0)


def squared_distances(a, b):
    """||a_i - b_j||^2 for rows a (N, D), b (M, D): ||a_i||^2 + ||b_j||^2 - 2 a_i . b_j, as (N, M);
    clamped at 0, where rounding can leave -1e-7 for a point and itself."""
    a_sq = (a * a).sum(dim=1, keepdim=True)  # (N, 1)
    b_sq = (b * b).sum(dim=1, keepdim=True)  # (M, 1)
    return clamp(a_sq + b_sq.transpose(0, 1) - 2.0 * matmul(a, b.transpose(0, 1)), min=0.0)  # (N, M)


def gaussian_kernels(a, b, bandwidths):
    """k(a_i, b_j) = mean over sigma of exp(-||a_i - b_j||^2 / (2 sigma^2)), as (N, M)."""
    distances = squared_distances(a, b)
    total = None
    for sigma in bandwidths:
        k = exp(distances * (-1.0 / (2.0 * sigma * sigma)))
        total = k if total is None else total + k
    return total * (1.0 / len(bandwidths))


def _check(x, y, bandwidths):
    from ..tensor import Tensor

    if not isinstance(y, Tensor):
        raise TypeError(f"mmd_loss: y must be a Tensor, got {type(y).__name__}")
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"mmd_loss: x and y must be (N, D) and (M, D) feature batches with the same D, "
                         f"got x {tuple(x.shape)} and y {tuple(y.shape)}")
    if x.shape[0] == 0 or y.shape[0] == 0:
        raise ValueError(f"mmd_loss: x and y need at least one row each, got x {tuple(x.shape)} and y {tuple(y.shape)}")
    try:
        bandwidths = tuple(float(s) for s in bandwidths)
    except (TypeError, ValueError):
        raise ValueError(f"mmd_loss: bandwidths must be a sequence of numbers > 0, got {bandwidths!r}") from None
    if not bandwidths or any(not s > 0 for s in bandwidths):
        raise ValueError(f"mmd_loss: bandwidths must be a non-empty sequence of numbers > 0, got {bandwidths!r}")
    return bandwidths


def mmd_loss(x, y, bandwidths=DEFAULT_BANDWIDTHS):
    """The biased estimate of MMD^2 between the rows of x (N, D) and y (M, D) (module docstring);
    a scalar >= 0 (up to rounding), 0 when the two sets are the same."""
    bandwidths = _check(x, y, bandwidths)
    n, m = x.shape[0], y.shape[0]
    k_xx = gaussian_kernels(x, x, bandwidths).sum() * (1.0 / (n * n))
    k_yy = gaussian_kernels(y, y, bandwidths).sum() * (1.0 / (m * m))
    k_xy = gaussian_kernels(x, y, bandwidths).sum() * (2.0 / (n * m))
    return k_xx + k_yy - k_xy
