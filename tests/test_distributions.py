"""tinydl.distributions: Categorical, Normal and Bernoulli against torch.distributions (when torch is
installed), gradchecks of log_prob, entropy and rsample in float64, sample statistics, shapes, and
PyTorch's errors (with validate_args, PyTorch's default). Each test taking ``device`` runs on the CPU
and on cuda (the CuPy stand-in without a GPU)."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinydl as td
from helpers import const, host, leaf
from strategies import positive_arrays, probabilities, shapes, smooth_arrays
from tinydl import device_checks
from tinydl.distributions import Bernoulli, Categorical, Distribution, Independent, Normal, kl_divergence

ATOL, RTOL = 1e-10, 1e-8  # float64 against float64: both compute the same formulas


def settled(fn):
    """fn(), then the checks it queued on the GPU read (immediate on the CPU): where the error surfaces."""
    out = fn()
    device_checks.raise_pending()
    return out


def close(ours, theirs, atol=ATOL, rtol=RTOL):
    theirs = theirs.detach().numpy()
    assert host(ours).shape == theirs.shape
    np.testing.assert_allclose(host(ours), theirs, rtol=rtol, atol=atol)


@st.composite
def batch_and_classes(draw):
    """A batch shape (0 to 2 dims) and a number of classes K >= 1."""
    return draw(shapes(max_dims=2, max_numel=12)), draw(st.integers(1, 5))


# ---- agreement with torch.distributions -----------------------------------------------------------
@given(data=st.data())
def test_categorical_agrees_with_torch(device, data):
    torch = pytest.importorskip("torch")
    batch, k = data.draw(batch_and_classes())
    from_probs = data.draw(st.booleans())
    raw = data.draw(positive_arrays(batch + (k,), 0.1, 3.0) if from_probs else smooth_arrays(batch + (k,), -4, 4))
    ours = Categorical(const(raw, device)) if from_probs else Categorical(logits=const(raw, device))
    theirs = (torch.distributions.Categorical(torch.from_numpy(raw)) if from_probs
              else torch.distributions.Categorical(logits=torch.from_numpy(raw)))
    assert ours.batch_shape == tuple(theirs.batch_shape) and ours.event_shape == ()
    close(ours.probs, theirs.probs)
    close(ours.logits, theirs.logits)
    close(ours.entropy(), theirs.entropy())
    close(ours.log_prob(ours.enumerate_support()), theirs.log_prob(theirs.enumerate_support()))
    value = data.draw(st.integers(0, k - 1))  # a 0-d value broadcast against the batch
    close(ours.log_prob(const(np.int64(value), device)), theirs.log_prob(torch.tensor(value)))
    assert np.isnan(host(ours.mean)).all() and np.isnan(host(ours.variance)).all()
    assert host(ours.mean).shape == batch
    np.testing.assert_array_equal(host(ours.mode), theirs.mode.numpy())


@given(data=st.data())
def test_normal_agrees_with_torch(device, data):
    torch = pytest.importorskip("torch")
    shape = data.draw(shapes(max_dims=3, max_numel=24))
    loc, scale = data.draw(smooth_arrays(shape)), data.draw(positive_arrays(shape, 0.2, 3.0))
    x = data.draw(smooth_arrays(shape, -5, 5))
    ours = Normal(const(loc, device), const(scale, device))
    theirs = torch.distributions.Normal(torch.from_numpy(loc), torch.from_numpy(scale))
    assert ours.batch_shape == tuple(theirs.batch_shape)
    close(ours.log_prob(const(x, device)), theirs.log_prob(torch.from_numpy(x)))
    close(ours.cdf(const(x, device)), theirs.cdf(torch.from_numpy(x)))
    close(ours.entropy(), theirs.entropy())
    close(ours.mean, theirs.mean)
    close(ours.mode, theirs.mode)
    close(ours.variance, theirs.variance)
    close(ours.stddev, theirs.stddev)


@given(data=st.data())
def test_bernoulli_agrees_with_torch(device, data):
    torch = pytest.importorskip("torch")
    shape = data.draw(shapes(max_dims=3, max_numel=24))
    from_probs = data.draw(st.booleans())
    raw = data.draw(probabilities(shape, 0.01, 0.99) if from_probs else smooth_arrays(shape, -6, 6))
    ours = Bernoulli(const(raw, device)) if from_probs else Bernoulli(logits=const(raw, device))
    theirs = (torch.distributions.Bernoulli(torch.from_numpy(raw)) if from_probs
              else torch.distributions.Bernoulli(logits=torch.from_numpy(raw)))
    assert ours.batch_shape == tuple(theirs.batch_shape)
    close(ours.probs, theirs.probs)
    close(ours.logits, theirs.logits, atol=1e-9)  # log(p) - log(1 - p) beside torch's log1p(-p)
    close(ours.entropy(), theirs.entropy())
    x = data.draw(st.sampled_from([0.0, 1.0]))
    close(ours.log_prob(const(np.full(shape, x), device)), theirs.log_prob(torch.full(shape, x, dtype=torch.float64)))
    close(ours.log_prob(ours.enumerate_support()), theirs.log_prob(theirs.enumerate_support()))
    close(ours.mean, theirs.mean)
    close(ours.variance, theirs.variance)
    np.testing.assert_array_equal(host(ours.mode), theirs.mode.numpy())


def test_edge_values_agree_with_torch(device):
    """A class of probability 0 (PyTorch clamps it to eps in the logits) and a -inf logit."""
    torch = pytest.importorskip("torch")
    probs = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]], dtype=np.float32)
    ours, theirs = Categorical(const(probs, device)), torch.distributions.Categorical(torch.from_numpy(probs))
    close(ours.logits, theirs.logits, atol=1e-6, rtol=1e-6)
    close(ours.entropy(), theirs.entropy(), atol=1e-6, rtol=1e-6)
    logits = np.array([0.0, -np.inf, 1.0])
    ours = Categorical(logits=const(logits, device))
    theirs = torch.distributions.Categorical(logits=torch.tensor(logits))
    close(ours.entropy(), theirs.entropy())
    close(ours.log_prob(const(np.array([0, 2]), device)), theirs.log_prob(torch.tensor([0, 2])))
    ours, theirs = Bernoulli(const(np.array([0.0, 1.0, 0.5]), device)), torch.distributions.Bernoulli(
        torch.tensor([0.0, 1.0, 0.5], dtype=torch.float64))
    close(ours.entropy(), theirs.entropy(), atol=1e-12)
    np.testing.assert_array_equal(host(ours.mode), theirs.mode.numpy())  # NaN at p = 1/2


def test_log_prob_broadcasts_values_as_torch(device):
    torch = pytest.importorskip("torch")
    probs = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    values = np.array([[0], [2], [1], [2]])  # (4, 1) against batch (2,): (4, 2)
    ours = Categorical(const(probs, device)).log_prob(const(values, device))
    close(ours, torch.distributions.Categorical(torch.from_numpy(probs)).log_prob(torch.from_numpy(values)))
    loc, x = np.array([0.0, 1.0]), np.array([[0.5], [-1.0], [2.0]])  # (2,) and (3, 1): (3, 2)
    close(Normal(const(loc, device), 2.0).log_prob(const(x, device)),
          torch.distributions.Normal(torch.from_numpy(loc), 2.0).log_prob(torch.from_numpy(x)))
    p, b = np.array([0.3, 0.8]), np.array([[1.0], [0.0]])
    close(Bernoulli(const(p, device)).log_prob(const(b, device)),
          torch.distributions.Bernoulli(torch.from_numpy(p)).log_prob(torch.from_numpy(b)))


def test_numbers_become_float32_tensors_as_in_torch(device):
    n = Normal(0.0, 1.0)
    assert n.loc.dtype == td.float32 and n.batch_shape == () and n.sample().dtype == td.float32
    n = Normal(td.zeros(3, dtype=td.float64, device=device), 1.0)  # a number takes the tensor's dtype and device
    assert n.scale.dtype == td.float64 and n.scale.device == device and n.batch_shape == (3,)
    assert Bernoulli(0.3).batch_shape == () and Bernoulli(0.3).probs.dtype == td.float32


# ---- gradients -------------------------------------------------------------------------------------
@given(data=st.data())
def test_categorical_gradcheck(device, data):
    batch, k = data.draw(batch_and_classes())
    probs = leaf(data.draw(positive_arrays(batch + (k,), 0.2, 2.0)), device)
    logits = leaf(data.draw(smooth_arrays(batch + (k,))), device)
    value = const(data.draw(st.integers(0, k - 1)), device)
    assert td.gradcheck(lambda p: Categorical(p).log_prob(value), (probs,))
    assert td.gradcheck(lambda z: Categorical(logits=z).log_prob(value), (logits,))
    assert td.gradcheck(lambda p: Categorical(p).entropy(), (probs,))
    assert td.gradcheck(lambda z: Categorical(logits=z).entropy(), (logits,))


def test_categorical_score_function_is_onehot_minus_probabilities(device):
    """d log p_a / d logits = onehot(a) - p: the gradient REINFORCE is made of (docs/reinforce.md)."""
    logits = leaf([[0.5, -1.0, 2.0], [0.0, 0.0, 0.0]], device)
    actions = const(np.array([2, 0]), device)
    Categorical(logits=logits).log_prob(actions).sum().backward()
    p = np.exp(host(logits)) / np.exp(host(logits)).sum(-1, keepdims=True)
    np.testing.assert_allclose(host(logits.grad), np.eye(3)[[2, 0]] - p, rtol=1e-12, atol=1e-12)


@given(data=st.data())
def test_normal_gradcheck(device, data):
    shape = data.draw(shapes(max_dims=2, max_numel=12))
    loc, x = leaf(data.draw(smooth_arrays(shape)), device), leaf(data.draw(smooth_arrays(shape, -3, 3)), device)
    scale = leaf(data.draw(positive_arrays(shape, 0.5, 2.0)), device)
    assert td.gradcheck(lambda m, s, v: Normal(m, s).log_prob(v), (loc, scale, x))
    assert td.gradcheck(lambda m, s, v: Normal(m, s).cdf(v), (loc, scale, x))
    assert td.gradcheck(lambda s: Normal(0.0, s).entropy(), (scale,))

    def rsample(m, s):  # the same noise eps at every evaluation
        td.manual_seed(0)
        return Normal(m, s).rsample((3,))

    assert td.gradcheck(rsample, (loc, scale))


@given(data=st.data())
def test_normal_icdf(device, data):
    """icdf against torch's (erfinv) where its 2p - 1 keeps p's precision, cdf(icdf(p)) = p, and gradcheck."""
    torch = pytest.importorskip("torch")
    shape = data.draw(shapes(max_dims=2, max_numel=12))
    loc, scale = data.draw(smooth_arrays(shape)), data.draw(positive_arrays(shape))
    p = data.draw(probabilities(shape, 1e-4, 1 - 1e-4))
    ours = Normal(const(loc, device), const(scale, device))
    close(ours.icdf(const(p, device)), torch.distributions.Normal(torch.from_numpy(loc), torch.from_numpy(scale)).icdf(
        torch.from_numpy(p)), atol=1e-11)
    np.testing.assert_allclose(host(ours.cdf(ours.icdf(const(p, device)))), p, rtol=1e-12, atol=1e-14)
    q = data.draw(probabilities(shape))
    assert td.gradcheck(lambda m, s, v: Normal(m, s).icdf(v), (leaf(loc, device), leaf(scale, device), leaf(q, device)))


def test_normal_icdf_edges(device):
    standard = Normal(const(np.array(0.0), device), const(np.array(1.0), device))
    x = host(standard.icdf(const(np.array([0.0, 1.0, -0.5, 1.5, 0.5]), device)))
    np.testing.assert_array_equal(x, [-np.inf, np.inf, np.nan, np.nan, 0.0])
    from scipy.special import ndtri  # the tails, where torch's erfinv(2p - 1) rounds: 1.2e-9 relative (Acklam)
    p = np.array([1e-300, 1e-20, 1e-8, 1 - 1e-8])
    np.testing.assert_allclose(host(standard.icdf(const(p, device))), ndtri(p), rtol=1.2e-9)


def test_rsample_is_loc_plus_scale_times_noise(device):
    """d x / d loc = 1 and d x / d scale = eps = (x - loc) / scale, per sample; sample() has no graph."""
    loc, scale = leaf([0.5, -1.0], device), leaf([2.0, 0.5], device)
    x = Normal(loc, scale).rsample((4,))
    x.sum().backward()
    eps = (host(x) - host(loc)) / host(scale)
    np.testing.assert_allclose(host(loc.grad), [4.0, 4.0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(scale.grad), eps.sum(0), rtol=1e-12, atol=1e-12)
    assert not Normal(loc, scale).sample((4,)).requires_grad
    assert not Bernoulli(leaf([0.3], device)).sample().requires_grad
    assert not Categorical(leaf([0.3, 0.7], device)).sample().requires_grad


@given(data=st.data())
def test_bernoulli_gradcheck(device, data):
    shape = data.draw(shapes(max_dims=2, max_numel=12))
    probs, logits = leaf(data.draw(probabilities(shape)), device), leaf(data.draw(smooth_arrays(shape)), device)
    x = const(data.draw(st.sampled_from([0.0, 1.0])), device).double()
    assert td.gradcheck(lambda p: Bernoulli(p).log_prob(x), (probs,))
    assert td.gradcheck(lambda z: Bernoulli(logits=z).log_prob(x), (logits,))
    assert td.gradcheck(lambda p: Bernoulli(p).entropy(), (probs,))
    assert td.gradcheck(lambda z: Bernoulli(logits=z).entropy(), (logits,))


def test_bernoulli_log_prob_is_finite_for_large_logits(device):
    """From the logits, log p = -softplus(-z): finite where sigmoid(z) rounds to 0 or 1."""
    d = Bernoulli(logits=const(np.array([-800.0, 800.0]), device))
    np.testing.assert_allclose(host(d.log_prob(const(np.array([1.0, 0.0]), device))), [-800.0, -800.0], rtol=1e-12)


def test_independent_agrees_with_torch(device):
    """A diagonal Gaussian over the last dim: one log-density per row, as a VAE's encoder gives."""
    torch = pytest.importorskip("torch")
    TD = torch.distributions
    rng = np.random.default_rng(0)
    loc, scale, x = rng.normal(size=(3, 4)), rng.uniform(0.5, 2, (3, 4)), rng.normal(size=(2, 3, 4))
    ours = Independent(Normal(const(loc, device), const(scale, device)), 1)
    theirs = TD.Independent(TD.Normal(torch.from_numpy(loc), torch.from_numpy(scale)), 1)
    assert (ours.batch_shape, ours.event_shape) == ((3,), (4,)) and ours.has_rsample
    close(ours.log_prob(const(x, device)), theirs.log_prob(torch.from_numpy(x)))
    close(ours.entropy(), theirs.entropy())
    close(ours.mean, theirs.mean)
    close(ours.variance, theirs.variance)
    assert ours.rsample((5,)).shape == (5, 3, 4) and ours.sample().shape == (3, 4)
    q = Independent(Normal(const(np.zeros((3, 4)), device), 1.0), 1)
    close(kl_divergence(ours, q), TD.kl_divergence(theirs, TD.Independent(TD.Normal(torch.zeros(3, 4), 1.0), 1)))
    both = Independent(Normal(const(loc, device), const(scale, device)), 2)
    close(both.log_prob(const(x, device)), TD.Independent(theirs.base_dist, 2).log_prob(torch.from_numpy(x)))
    with pytest.raises(ValueError, match=r"Expected reinterpreted_batch_ndims <= len\(base_distribution.batch_shape\), "
                                         r"actual 3 vs 2"):
        Independent(ours.base_dist, 3)
    with pytest.raises(ValueError, match=r"Value is not broadcastable with batch_shape\+event_shape: \(3, 5\) vs"):
        ours.log_prob(const(np.zeros((3, 5)), device))
    with pytest.raises(NotImplementedError, match="reinterpret 1 and 2 batch dims"):
        kl_divergence(ours, both)


# ---- KL divergence -------------------------------------------------------------------------------
@given(data=st.data())
def test_kl_divergence_agrees_with_torch_and_gradchecks(device, data):
    torch = pytest.importorskip("torch")
    TD = torch.distributions
    batch, k = data.draw(shapes(max_dims=2, max_numel=4)), data.draw(st.integers(1, 4))
    a, b = (data.draw(positive_arrays(batch + (k,), 0.2, 2.0)) for _ in range(2))
    close(kl_divergence(Categorical(const(a, device)), Categorical(const(b, device))),
          TD.kl_divergence(TD.Categorical(torch.from_numpy(a)), TD.Categorical(torch.from_numpy(b))))
    assert td.gradcheck(lambda p, q: kl_divergence(Categorical(p), Categorical(q)), (leaf(a, device), leaf(b, device)))
    m, s = data.draw(smooth_arrays(batch)), data.draw(positive_arrays(batch))
    q = Normal(const(np.array(0.5), device), const(np.array(1.5), device))
    close(kl_divergence(Normal(const(m, device), const(s, device)), q),
          TD.kl_divergence(TD.Normal(torch.from_numpy(m), torch.from_numpy(s)), TD.Normal(0.5, 1.5)))
    assert td.gradcheck(lambda m, s: kl_divergence(Normal(m, s), q), (leaf(m, device), leaf(s, device)))
    p, q = data.draw(probabilities(batch)), data.draw(probabilities(batch))
    close(kl_divergence(Bernoulli(const(p, device)), Bernoulli(const(q, device))),
          TD.kl_divergence(TD.Bernoulli(torch.from_numpy(p)), TD.Bernoulli(torch.from_numpy(q))))
    assert td.gradcheck(lambda p, q: kl_divergence(Bernoulli(p), Bernoulli(q)), (leaf(p, device), leaf(q, device)))


def test_kl_divergence_at_zero_probabilities(device):
    """p_k = 0 adds 0; p_k > 0 where q_k = 0 gives +inf (as PyTorch)."""
    p, q = np.array([[0.2, 0.8, 0.0], [0.3, 0.3, 0.4]]), np.array([[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]])
    kl = host(kl_divergence(Categorical(const(p, device)), Categorical(const(q, device))))
    np.testing.assert_allclose(kl, [0.2 * math.log(0.4) + 0.8 * math.log(1.6), np.inf], rtol=1e-12)
    p, q = np.array([0.0, 1.0, 0.3, 0.3]), np.array([0.5, 0.5, 0.0, 1.0])
    kl = host(kl_divergence(Bernoulli(const(p, device)), Bernoulli(const(q, device))))
    np.testing.assert_allclose(kl, [math.log(2), math.log(2), np.inf, np.inf], rtol=1e-12)
    with pytest.raises(NotImplementedError, match="No KL\\(p \\|\\| q\\) is implemented for p type Normal and q type"):
        kl_divergence(Normal(0.0, 1.0), Bernoulli(0.5))


# ---- samples -------------------------------------------------------------------------------------
N = 200_000


def test_categorical_sample_frequencies(device):
    """Frequencies of N draws within 6 standard errors (sqrt(p (1 - p) / N) <= 0.0012) of p; a class of
    probability 0 is never drawn.  The seed is fixed, so this either always passes or always fails."""
    td.manual_seed(0)
    p = np.array([[0.1, 0.0, 0.6, 0.3], [0.25, 0.25, 0.25, 0.25]])
    samples = host(Categorical(const(p, device)).sample((N,)))
    assert samples.shape == (N, 2) and samples.dtype == np.int64
    for row in range(2):
        freq = np.bincount(samples[:, row], minlength=4) / N
        np.testing.assert_allclose(freq, p[row], rtol=0, atol=6 * math.sqrt(0.25 / N))
    assert not (samples[:, 0] == 1).any()


def test_categorical_sample_from_logits_and_one_class(device):
    td.manual_seed(0)
    logits = const(np.array([0.0, -np.inf, math.log(3.0)]), device)  # p = (1/4, 0, 3/4)
    samples = host(Categorical(logits=logits).sample((N,)))
    np.testing.assert_allclose(np.bincount(samples, minlength=3) / N, [0.25, 0.0, 0.75], atol=6 * math.sqrt(0.25 / N))
    assert (host(Categorical(const(np.ones((2, 1)), device)).sample((5,))) == 0).all()


def test_normal_sample_statistics(device):
    """Mean within 6 standard errors (scale / sqrt(N)), std within 6 of its standard error (~scale / sqrt(2N))."""
    td.manual_seed(0)
    loc, scale = np.array([-2.0, 0.0, 3.0]), np.array([0.5, 1.0, 4.0])
    x = host(Normal(const(loc, device), const(scale, device)).sample((N,)))
    assert x.shape == (N, 3) and x.dtype == np.float64
    np.testing.assert_allclose(x.mean(0), loc, rtol=0, atol=6 * scale.max() / math.sqrt(N))
    np.testing.assert_allclose(x.std(0), scale, rtol=6 / math.sqrt(2 * N), atol=0)


def test_bernoulli_sample_frequencies(device):
    td.manual_seed(0)
    p = np.array([0.0, 0.2, 0.5, 1.0])
    x = host(Bernoulli(const(p, device)).sample((N,)))
    assert x.dtype == np.float64 and set(np.unique(x)) <= {0.0, 1.0}
    np.testing.assert_allclose(x.mean(0), p, rtol=0, atol=6 * math.sqrt(0.25 / N))
    assert (x[:, 0] == 0).all() and (x[:, 3] == 1).all()


def test_float16_parameters_sample_float16(device):
    half = np.float16
    assert Normal(const(np.zeros(2, half), device), 1.0).rsample((3,)).dtype == td.float16
    assert Bernoulli(const(np.full(2, 0.5, half), device)).sample().dtype == td.float16
    assert Categorical(const(np.ones(3, half), device)).sample((2,)).dtype == td.int64


def test_samples_repeat_with_the_seed(device):
    draws = []
    for _ in range(2):
        td.manual_seed(7)
        draws.append([host(d.sample((5,))) for d in (Categorical(const(np.ones(3), device)), Normal(
            const(np.zeros(2), device), 1.0), Bernoulli(const(np.full(2, 0.5), device)))])
    for a, b in zip(*draws):
        np.testing.assert_array_equal(a, b)


# ---- shapes --------------------------------------------------------------------------------------
@given(batch_k=batch_and_classes(), sample_shape=shapes(max_dims=2, max_numel=6))
def test_shapes(device, batch_k, sample_shape):
    batch, k = batch_k
    dists = [Categorical(const(np.ones(batch + (k,)), device)), Normal(const(np.zeros(batch), device), 1.0),
             Bernoulli(const(np.full(batch, 0.5), device))]
    for d in dists:
        assert d.batch_shape == batch and d.event_shape == ()
        s = d.sample(sample_shape)
        assert s.shape == sample_shape + batch and s.device == device
        assert d.log_prob(s).shape == sample_shape + batch
        assert d.entropy().shape == batch
    assert dists[1].rsample(sample_shape).shape == sample_shape + batch
    for d, n in ((dists[0], k), (dists[2], 2)):
        assert d.enumerate_support().shape == (n,) + batch
        assert d.enumerate_support(expand=False).shape == (n,) + (1,) * len(batch)
    assert dists[0].param_shape == batch + (k,)
    assert dists[0].sample(list(sample_shape)).shape == sample_shape + batch  # a list is a shape too


# ---- errors (PyTorch's) --------------------------------------------------------------------------
def test_probs_or_logits_not_both_nor_neither():
    p = td.tensor([0.5, 0.5])
    for make in (Categorical, Bernoulli):
        for args in ((), (p, p)):
            with pytest.raises(ValueError, match="Either `probs` or `logits` must be specified, but not both"):
                make(*args)
    with pytest.raises(ValueError, match="`probs` parameter must be at least one-dimensional"):
        Categorical(td.tensor(1.0))
    with pytest.raises(ValueError, match="`logits` parameter must be at least one-dimensional"):
        Categorical(logits=td.tensor(1.0))
    with pytest.raises(TypeError, match="Categorical: probs must be a Tensor, got list"):
        Categorical([0.5, 0.5])
    with pytest.raises(TypeError, match="Normal: parameters must be Tensors or numbers, got str"):
        Normal("0", 1.0)
    with pytest.raises(RuntimeError, match=r"Normal: the parameters' shapes \[\(3,\), \(2,\)\] do not broadcast"):
        Normal(td.zeros(3), td.ones(2))


@pytest.mark.parametrize("make, message", [
    (lambda d: Categorical(const(np.array([-1.0, 2.0]), d)),
     r"Expected parameter probs \(Tensor of shape \(2,\)\) of distribution Categorical\(probs: \(2,\)\) to satisfy "
     r"the constraint Simplex\(\), but found invalid values:\n\[-1.  2.\]"),
    (lambda d: Categorical(logits=const(np.array([0.0, np.nan]), d)),
     r"constraint IndependentConstraint\(Real\(\), 1\)"),
    (lambda d: Normal(const(np.array([0.0, 1.0]), d), const(np.array([1.0, 0.0]), d)),
     r"Expected parameter scale \(Tensor of shape \(2,\)\) .* constraint GreaterThan\(lower_bound=0.0\)"),
    (lambda d: Normal(const(np.array(np.nan), d), 1.0), r"parameter loc .* constraint Real\(\)"),
    (lambda d: Bernoulli(const(np.array([0.5, 1.5]), d)),
     r"parameter probs .* constraint Interval\(lower_bound=0.0, upper_bound=1.0\)"),
    (lambda d: Bernoulli(logits=const(np.array(np.nan), d)), r"parameter logits .* Real\(\)"),
])
def test_invalid_parameters(device, make, message):
    with pytest.raises(ValueError, match=message):
        settled(lambda: make(device))


def test_invalid_parameters_pass_without_validation(device):
    Distribution.set_default_validate_args(False)
    try:
        settled(lambda: Normal(0.0, const(np.array(-1.0), device)))
        settled(lambda: Bernoulli(const(np.array(1.5), device)))
    finally:
        Distribution.set_default_validate_args(True)
    settled(lambda: Categorical(const(np.array([-1.0, 2.0]), device), validate_args=False))
    with pytest.raises(ValueError, match="parameter scale"):
        settled(lambda: Normal(0.0, const(np.array(-1.0), device)))  # the default is back on
    with pytest.raises(ValueError, match="value must be True or False, got 'yes'"):
        Distribution.set_default_validate_args("yes")


@pytest.mark.parametrize("make, value, message", [
    (lambda d: Categorical(const(np.array([0.5, 0.5]), d)), np.array(2),
     r"Expected value argument \(Tensor of shape \(\)\) to be within the support \(IntegerInterval\(lower_bound=0, "
     r"upper_bound=1\)\) of the distribution Categorical\(probs: \(2,\).*\), but found invalid values:\n2"),
    # (".*": on a GPU the message is made at the next read, after log_prob made the logits, which the repr lists)
    (lambda d: Categorical(const(np.array([0.5, 0.5]), d)), np.array(0.5), r"IntegerInterval"),
    (lambda d: Bernoulli(const(np.array(0.3), d)), np.array(0.5), r"support \(Boolean\(\)\)"),
    (lambda d: Normal(const(np.array(0.0), d), 1.0), np.array(np.nan), r"support \(Real\(\)\)"),
])
def test_values_outside_the_support(device, make, value, message):
    with pytest.raises(ValueError, match=message):
        settled(lambda: make(device).log_prob(const(value, device)))


def test_log_prob_value_errors(device):
    c = Categorical(const(np.ones((2, 3)), device))
    with pytest.raises(ValueError, match="The value argument to log_prob must be a Tensor"):
        c.log_prob(1)
    with pytest.raises(ValueError, match=r"Value is not broadcastable with batch_shape\+event_shape: \(3,\) vs \(2,\)"):
        c.log_prob(const(np.zeros(3, dtype=np.int64), device))
    with pytest.raises(ValueError, match=r"Value is not broadcastable with batch_shape\+event_shape: \(2,\) vs \(3,\)"):
        Normal(const(np.zeros(3), device), 1.0).log_prob(const(np.zeros(2), device))
    if device != "cpu":
        for d in (c, Normal(const(np.zeros(3), device), 1.0), Bernoulli(const(np.full(3, 0.5), device))):
            with pytest.raises(RuntimeError, match="log_prob: value is on cpu but the distribution's parameters"):
                d.log_prob(const(np.zeros(d.batch_shape)))
    unchecked = Categorical(const(np.ones(2), device), validate_args=False)
    with pytest.raises(IndexError, match=r"Categorical.log_prob: a value is outside the classes 0 .. 1"):
        settled(lambda: unchecked.log_prob(const(np.array(2), device)))  # never a silent log p of 0
    np.testing.assert_allclose(host(Normal(0.0, 1.0, validate_args=False).log_prob(0.0)), -0.5 * math.log(2 * math.pi),
                               rtol=1e-6)


def test_sampling_errors(device):
    with pytest.raises(NotImplementedError, match="Categorical has no rsample"):
        Categorical(const(np.ones(2), device)).rsample()
    with pytest.raises(TypeError, match=r"Normal.sample: sample_shape must be a tuple of ints such as \(5,\), got 5"):
        Normal(0.0, 1.0).sample(5)
    unchecked = Categorical(const(np.array([0.5, np.nan]), device), validate_args=False)
    with pytest.raises(RuntimeError, match=r"Categorical.sample: probs \(shape \(2,\)\) contain inf, nan or an"):
        settled(lambda: unchecked.sample())


def test_repr_as_torch():
    assert repr(Normal(0.0, 1.0)) == "Normal(loc: 0.0, scale: 1.0)"
    assert repr(Categorical(td.ones(2, 3))) == "Categorical(probs: (2, 3))"
    assert repr(Bernoulli(logits=td.zeros(4))) == "Bernoulli(logits: (4,))"
