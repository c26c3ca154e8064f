"""Attention, embeddings, positional encoding, multi-head attention and the transformer encoder:
values against NumPy references written from the definitions, gradient checks (float64, default
tolerances), double backward, the masking conventions, module behaviour and argument errors."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinydl as td
import tinydl.functional as F
import tinydl.nn as nn
from helpers import const, host, leaf, rounding_atol


# ---- a NumPy reference, straight from the definition ------------------------------------------
def reference_attention(q, k, v, blocked=None, bias=None, scale=None):
    """softmax(q k^T * scale + bias, blocked -> -inf) v, one query row at a time; a fully blocked row gives 0."""
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = np.matmul(q, np.swapaxes(k, -1, -2)) * scale
    if bias is not None:
        s = s + bias
    if blocked is None:
        blocked = np.zeros(s.shape, dtype=bool)
    s, blocked = np.broadcast_arrays(s, blocked)
    p = np.zeros(s.shape)
    for index in np.ndindex(*s.shape[:-1]):
        allowed = ~blocked[index]
        if allowed.any():
            e = np.exp(s[index][allowed] - s[index][allowed].max())
            p[index][allowed] = e / e.sum()
    return np.matmul(p, v), p


# ---- generated settings for scaled_dot_product_attention ---------------------------------------
@st.composite
def attention_settings(draw, max_len=4):
    """Shapes for q (..., L, E), k (..., S, E), v (..., S, Ev) whose batch dims broadcast, and a mask:
    none, boolean (True = may attend), float (added), or causal; L != S often."""
    batch = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=2)))

    def batch_like():  # a shape that broadcasts to ``batch``: leading dims dropped, some sides set to 1
        dropped = draw(st.integers(0, len(batch)))
        return tuple(1 if draw(st.booleans()) else n for n in batch[dropped:])

    L, S, E, Ev = (draw(st.integers(1, max_len)) for _ in range(4))
    full = tuple(np.broadcast_shapes(batch_like(), batch_like(), batch_like()))
    q_batch, k_batch, v_batch = batch_like(), batch_like(), batch_like()
    if draw(st.booleans()):  # make sure something is broadcast for real
        q_batch = full if full else q_batch
    kind = draw(st.sampled_from(["none", "bool", "float", "causal"]))
    scores_batch = tuple(np.broadcast_shapes(q_batch, k_batch, v_batch))
    dropped = draw(st.integers(0, len(scores_batch)))
    mask_batch = tuple(1 if draw(st.booleans()) else n for n in scores_batch[dropped:])
    mask_shape = mask_batch + ((1 if draw(st.integers(0, 3)) == 0 else L), S)
    scale = draw(st.sampled_from([None, 0.5]))
    return dict(q=q_batch + (L, E), k=k_batch + (S, E), v=v_batch + (S, Ev), kind=kind, mask=mask_shape, scale=scale)


def make_inputs(s, seed, device="cpu"):
    """Leaves q, k, v; the mask as a Tensor (a float mask requires grad); the reference's (blocked, bias)."""
    rng = np.random.default_rng(seed)
    q, k, v = (leaf(rng.standard_normal(s[name]), device) for name in ("q", "k", "v"))
    mask, blocked, bias = None, None, None
    if s["kind"] == "bool":
        allowed = rng.random(s["mask"]) < 0.7
        mask, blocked = const(allowed, device), ~allowed
    elif s["kind"] == "float":
        bias = rng.standard_normal(s["mask"])
        mask = leaf(bias, device)
    elif s["kind"] == "causal":
        blocked = np.triu(np.ones((s["q"][-2], s["k"][-2]), dtype=bool), k=1)
    return q, k, v, mask, blocked, bias


def call(s, q, k, v, mask):
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=s["kind"] == "causal", scale=s["scale"])


@given(s=attention_settings(), seed=st.integers(0, 2**16))
def test_sdpa_matches_the_definition(s, seed):
    q, k, v, mask, blocked, bias = make_inputs(s, seed)
    out = call(s, q, k, v, mask)
    expected, _ = reference_attention(host(q), host(k), host(v), blocked, bias, s["scale"])
    assert out.shape == expected.shape
    np.testing.assert_allclose(host(out), expected, rtol=1e-10, atol=1e-12)


@given(s=attention_settings(), seed=st.integers(0, 2**16))
def test_sdpa_gradcheck_wrt_q_k_v_and_float_mask(device, s, seed):
    q, k, v, mask, _, _ = make_inputs(s, seed, device)
    inputs = [q, k, v] + ([mask] if mask is not None and mask.requires_grad else [])
    if len(inputs) == 4:
        assert td.gradcheck(lambda q, k, v, m: call(s, q, k, v, m), inputs)
    else:
        assert td.gradcheck(lambda q, k, v: call(s, q, k, v, mask), inputs)


@settings(max_examples=12)
@given(s=attention_settings(max_len=3), seed=st.integers(0, 2**16))
def test_sdpa_gradgradcheck(device, s, seed):
    """The hand-written backward is built from Tensor ops, so it can be differentiated again."""
    q, k, v, mask, _, _ = make_inputs(s, seed, device)
    inputs = [q, k, v] + ([mask] if mask is not None and mask.requires_grad else [])
    if len(inputs) == 4:
        assert td.gradgradcheck(lambda q, k, v, m: call(s, q, k, v, m), inputs)
    else:
        assert td.gradgradcheck(lambda q, k, v: call(s, q, k, v, mask), inputs)


def test_sdpa_uses_one_op_with_a_hand_written_backward():
    q, k, v = (td.randn(2, 3, 4, requires_grad=True) for _ in range(3))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert type(out.grad_fn).__name__ == "ScaledDotProductAttention"
    assert all(x.grad_fn is None for x in out.grad_fn.inputs)  # q, k, v go straight into the one op


def test_the_masking_conventions():
    """Boolean True = may attend (F.sdpa); a float mask of -inf there is the same thing; causal = tril."""
    rng = np.random.default_rng(0)
    q, k, v = (td.tensor(rng.standard_normal(shape)) for shape in ((2, 3, 4), (2, 5, 4), (2, 5, 3)))
    allowed = np.tril(np.ones((3, 5), dtype=bool))  # top-left aligned: query i sees keys 0..i
    by_bool = F.scaled_dot_product_attention(q, k, v, attn_mask=td.tensor(allowed))
    by_float = F.scaled_dot_product_attention(q, k, v, attn_mask=td.tensor(np.where(allowed, 0.0, -np.inf)))
    by_causal = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    atol = rounding_atol(host(v), terms=5)  # outputs average at most 5 values of v, and may cancel to ~0
    np.testing.assert_allclose(host(by_bool), host(by_float), rtol=1e-12, atol=atol)
    np.testing.assert_allclose(host(by_bool), host(by_causal), rtol=1e-12, atol=atol)
    # the first query sees only the first key: its output is that key's value
    np.testing.assert_allclose(host(by_causal)[:, 0], host(v)[:, 0], rtol=1e-12, atol=atol)
    # and a causal output never depends on later keys
    (g,) = td.grad(F.scaled_dot_product_attention(q, k.requires_grad_(), v, is_causal=True)[:, 1].sum(), [k])
    assert np.all(host(g)[:, 2:] == 0) and np.any(host(g)[:, :2] != 0)


def test_a_query_that_may_attend_nowhere_gets_zeros_and_zero_gradient():
    q, k, v = (td.randn(3, 4, dtype=td.float64, requires_grad=True) for _ in range(3))
    allowed = np.ones((3, 3), dtype=bool)
    allowed[1] = False
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=td.tensor(allowed))
    assert np.all(host(out)[1] == 0) and np.all(np.isfinite(host(out)))
    out.sum().backward()
    assert np.all(q.grad.numpy()[1] == 0) and np.all(np.isfinite(k.grad.numpy()))


def test_softmax_is_stable_for_huge_scores():
    q = td.tensor(np.array([[1000.0, 0.0], [-1000.0, 5.0]]))
    k = td.tensor(np.array([[1000.0, 0.0], [999.0, 0.0], [0.0, 1.0]]))
    v = td.tensor(np.eye(3))
    out = host(F.scaled_dot_product_attention(q, k, v, scale=1.0))
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out.sum(-1), 1.0)  # v = I: the output rows are the probabilities


def test_the_scale_is_one_over_sqrt_E():
    rng = np.random.default_rng(1)
    q, k, v = (td.tensor(rng.standard_normal((3, 16))) for _ in range(3))
    default = F.scaled_dot_product_attention(q, k, v)
    np.testing.assert_allclose(host(default), host(F.scaled_dot_product_attention(q, k, v, scale=0.25)), rtol=1e-12)
    assert not np.allclose(host(default), host(F.scaled_dot_product_attention(q, k, v, scale=1.0)))


def test_permuting_keys_and_values_together_changes_nothing():
    """Attention is a weighted average over a *set*: why transformers need positional encodings."""
    rng = np.random.default_rng(2)
    q, k, v = rng.standard_normal((4, 3)), rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    order = rng.permutation(6)
    a = F.scaled_dot_product_attention(td.tensor(q), td.tensor(k), td.tensor(v))
    b = F.scaled_dot_product_attention(td.tensor(q), td.tensor(k[order]), td.tensor(v[order]))
    np.testing.assert_allclose(host(a), host(b), rtol=1e-12, atol=rounding_atol(v, terms=6))  # 6 values, reordered


def test_sdpa_dropout_drops_probabilities_and_gradchecks():
    td.manual_seed(0)
    q, k = td.randn(2, 50, 4, dtype=td.float64), td.randn(2, 50, 4, dtype=td.float64)
    v = td.tensor(np.eye(50))  # the output is the (dropped, rescaled) probability matrix itself
    p = host(F.scaled_dot_product_attention(q, k, v))
    dropped = host(F.scaled_dot_product_attention(q, k, v, dropout_p=0.25))
    zero = dropped == 0
    assert 0.2 < zero.mean() < 0.3
    np.testing.assert_allclose(dropped[~zero], p[~zero] / 0.75, rtol=1e-12)
    assert np.all(host(F.scaled_dot_product_attention(q, k, v, dropout_p=1.0)) == 0)
    # with the mask fixed by reseeding, the op is smooth and its backward must match
    x = [leaf(np.random.default_rng(3).standard_normal(shape)) for shape in ((2, 3, 2), (2, 4, 2), (2, 4, 3))]

    def fn(q, k, v):
        td.manual_seed(1)
        return F.scaled_dot_product_attention(q, k, v, dropout_p=0.3)

    assert td.gradcheck(fn, x) and td.gradgradcheck(fn, x)


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.scaled_dot_product_attention(td.randn(2, 3, 4), td.randn(2, 5, 3), td.randn(2, 5, 2)), ValueError,
     r"same last dim E.*query \(2, 3, 4\), key \(2, 5, 3\)"),
    (lambda: F.scaled_dot_product_attention(td.randn(3, 4), td.randn(5, 4), td.randn(6, 2)), ValueError,
     r"same number of positions S.*key \(5, 4\), value \(6, 2\)"),
    (lambda: F.scaled_dot_product_attention(td.randn(2, 3, 4), td.randn(3, 5, 4), td.randn(3, 5, 2)), ValueError,
     r"batch dims.*do not broadcast.*\(2, 3, 4\).*\(3, 5, 4\)"),
    (lambda: F.scaled_dot_product_attention(td.randn(4), td.randn(5, 4), td.randn(5, 2)), ValueError,
     r"query must have at least 2 dims.*\(4,\)"),
    (lambda: F.scaled_dot_product_attention(td.randn(3, 4), td.randn(5, 4), td.randn(5, 2),
                                            attn_mask=td.ones(3, 4, dtype=td.bool)), ValueError,
     r"attn_mask of shape \(3, 4\) does not broadcast.*\(3, 5\)"),
    (lambda: F.scaled_dot_product_attention(td.randn(3, 4), td.randn(5, 4), td.randn(5, 2),
                                            attn_mask=td.ones(2, 3, 5, dtype=td.bool)), ValueError,
     r"attn_mask of shape \(2, 3, 5\) does not broadcast.*\(3, 5\)"),
    (lambda: F.scaled_dot_product_attention(td.randn(3, 4), td.randn(5, 4), td.randn(5, 2),
                                            attn_mask=td.zeros(3, 5, dtype=td.float64)), TypeError,
     r"attn_mask must be boolean or of the query's dtype float32, got dtype float64"),
    (lambda: F.scaled_dot_product_attention(td.randn(3, 4), td.randn(3, 4), td.randn(3, 2),
                                            attn_mask=td.ones(3, 3, dtype=td.bool), is_causal=True), ValueError,
     r"attn_mask or is_causal=True, not both"),
    (lambda: F.scaled_dot_product_attention(td.randn(3, 4), td.randn(3, 4), td.randn(3, 2), None, 0.1), TypeError,
     r"is_causal must be True or False.*dropout_p= as a keyword"),
    (lambda: F.scaled_dot_product_attention(td.randn(3, 4), td.randn(3, 4), td.randn(3, 2), dropout_p=1.5),
     ValueError, r"between 0 and 1"),
])
def test_sdpa_bad_arguments_name_the_shapes(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ---- embedding --------------------------------------------------------------------------------
def test_embedding_reads_rows_and_accumulates_repeated_indices(device):
    rng = np.random.default_rng(4)
    w = leaf(rng.standard_normal((5, 3)), device)
    idx = np.array([[0, 2, 2], [4, 2, 0]])
    out = F.embedding(const(idx, device), w)
    assert out.shape == (2, 3, 3)
    np.testing.assert_array_equal(host(out), host(w)[idx])
    g = rng.standard_normal((2, 3, 3))
    out.backward(td.tensor(g, device=device))
    expected = np.zeros((5, 3))
    for (i, j), row in np.ndenumerate(idx):
        expected[row] += g[i, j]  # row 2 is read three times: three gradients add up
    # row 2 adds three random gradients, in another order than the loop: an atol for a sum that cancels to ~0
    np.testing.assert_allclose(host(w.grad), expected, rtol=1e-12, atol=rounding_atol(np.abs(g).sum((0, 1)), terms=3))
    assert np.all(host(w.grad)[[1, 3]] == 0)


def test_embedding_padding_idx_gets_no_gradient(device):
    rng = np.random.default_rng(5)
    w = leaf(rng.standard_normal((4, 2)), device)
    idx = const(np.array([1, 0, 1, 3, 0]), device)
    out = F.embedding(idx, w, padding_idx=0)
    np.testing.assert_array_equal(host(out)[1], host(w)[0])  # the row is still read
    out.backward(td.ones(5, 2, dtype=td.float64, device=device))
    np.testing.assert_allclose(host(w.grad), [[0, 0], [2, 2], [0, 0], [1, 1]])
    w.grad = None
    F.embedding(idx, w, padding_idx=-1).sum().backward()  # -1 is row 3, counted from the end
    np.testing.assert_allclose(host(w.grad), [[2, 2], [2, 2], [0, 0], [0, 0]])


def test_embedding_gradcheck_and_gradgradcheck(device):
    w = leaf(np.random.default_rng(6).standard_normal((4, 3)), device)
    idx = const(np.array([[3, 1], [1, 1]]), device)
    assert td.gradcheck(lambda w: F.embedding(idx, w), [w])  # (padding_idx breaks it on purpose: see above)
    assert td.gradgradcheck(lambda w: F.embedding(idx, w) ** 2, [w])


def test_nn_embedding_init_padding_and_from_pretrained():
    td.manual_seed(0)
    emb = nn.Embedding(2000, 50, padding_idx=3)
    assert list(emb.state_dict()) == ["weight"] and emb.weight.shape == (2000, 50)
    w = emb.weight.numpy() if not emb.weight.requires_grad else emb.weight.detach().numpy()
    assert np.all(w[3] == 0)
    assert abs(w.mean()) < 0.01 and abs(w.std() - 1) < 0.01  # N(0, 1), PyTorch's init
    out = emb(td.tensor([[3, 5]]))
    assert out.shape == (1, 2, 50)
    out.sum().backward()
    assert np.all(emb.weight.grad.numpy()[3] == 0) and np.all(emb.weight.grad.numpy()[5] == 1)
    frozen = nn.Embedding.from_pretrained(td.tensor(np.arange(6.0).reshape(3, 2)))
    assert not frozen.weight.requires_grad and frozen(td.tensor([2])).tolist() == [[4.0, 5.0]]
    assert nn.Embedding.from_pretrained(np.ones((3, 2)), freeze=False).weight.requires_grad


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.embedding(td.tensor([0, 5]), td.randn(5, 2)), IndexError, r"\[0, 5\) for a weight of shape \(5, 2\).*0 to 5"),
    (lambda: F.embedding(td.tensor([-1]), td.randn(5, 2)), IndexError, r"\[0, 5\)"),
    (lambda: F.embedding(td.tensor([0.0, 1.0]), td.randn(5, 2)), TypeError, r"indices must be integers.*float32"),
    (lambda: F.embedding(td.tensor([0]), td.randn(5)), ValueError, r"weight must be a 2-d.*\(5,\)"),
    (lambda: F.embedding(td.tensor([0]), td.randn(5, 2), padding_idx=5), ValueError, r"padding_idx 5.*\(5\)"),
    (lambda: nn.Embedding(4, 2, padding_idx=-5), ValueError, r"padding_idx -5"),
])
def test_embedding_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ---- positional encoding ----------------------------------------------------------------------
@pytest.mark.parametrize("dim", [6, 5])
def test_sinusoidal_positional_encoding_values(dim):
    pe = F.sinusoidal_positional_encoding(50, dim, dtype=td.float64).numpy()
    assert pe.shape == (50, dim)
    pos = np.arange(50)
    for column in range(dim):
        i = column // 2
        wave = np.sin if column % 2 == 0 else np.cos
        np.testing.assert_allclose(pe[:, column], wave(pos * 10000 ** (-2 * i / dim)), atol=1e-12)
    assert F.sinusoidal_positional_encoding(7, 5).dtype == td.float32


def test_a_shift_in_position_is_a_rotation_of_the_encoding():
    """PE[p + k] is a fixed linear function (one 2x2 rotation per frequency) of PE[p], for every p."""
    dim, k = 8, 5
    pe = F.sinusoidal_positional_encoding(40, dim, dtype=td.float64).numpy()
    rotation = np.zeros((dim, dim))
    for i in range(dim // 2):
        a = k * 10000 ** (-2 * i / dim)
        rotation[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = [[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]
    np.testing.assert_allclose(pe[:-k] @ rotation, pe[k:], atol=1e-12)


def test_positional_encoding_module():
    module = nn.PositionalEncoding(6, max_len=10, dtype=td.float64)
    assert list(module.state_dict()) == [] and [name for name, _ in module.named_buffers()] == ["pe"]
    x = td.randn(4, 2, 6, dtype=td.float64)
    pe = F.sinusoidal_positional_encoding(4, 6, dtype=td.float64).numpy()
    np.testing.assert_allclose(module(x).numpy(), x.numpy() + pe[:, None], rtol=1e-12)
    batch_first = nn.PositionalEncoding(6, max_len=10, batch_first=True, dtype=td.float64)
    xb = td.randn(2, 4, 6, dtype=td.float64)
    np.testing.assert_allclose(batch_first(xb).numpy(), xb.numpy() + pe[None], rtol=1e-12)
    assert nn.PositionalEncoding(6).pe.dtype == td.float32 and nn.PositionalEncoding(6).double().pe.dtype == td.float64
    with pytest.raises(ValueError, match=r"length 11 \(x of shape \(11, 1, 6\)\).*max_len = 10"):
        module(td.randn(11, 1, 6))
    with pytest.raises(ValueError, match=r"d_model = 6, got \(4, 2, 5\)"):
        module(td.randn(4, 2, 5))


# ---- multi-head attention ---------------------------------------------------------------------
def reference_mha(mha, query, key, value, blocked=None, bias=None):
    """PyTorch's algorithm in NumPy, one batch element and one head at a time (batch_first layout)."""
    p = {name: t.detach().numpy() for name, t in mha.named_parameters()}
    E, H = mha.embed_dim, mha.num_heads
    hd = E // H
    W, b = p["in_proj_weight"], p.get("in_proj_bias", np.zeros(3 * E))
    n, L, S = query.shape[0], query.shape[1], key.shape[1]
    out, weights = np.zeros((n, L, E)), np.zeros((n, H, L, S))
    for i in range(n):
        q, k, v = query[i] @ W[:E].T + b[:E], key[i] @ W[E:2 * E].T + b[E:2 * E], value[i] @ W[2 * E:].T + b[2 * E:]
        heads = []
        for h in range(H):
            cols = slice(h * hd, (h + 1) * hd)
            bl = None if blocked is None else np.broadcast_to(blocked, (n, H, L, S))[i, h]
            bi = None if bias is None else np.broadcast_to(bias, (n, H, L, S))[i, h]
            o, weights[i, h] = reference_attention(q[:, cols], k[:, cols], v[:, cols], bl, bi)
            heads.append(o)
        out[i] = np.concatenate(heads, axis=1) @ p["out_proj.weight"].T + p.get("out_proj.bias", 0)
    return out, weights


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("masks", ["none", "bool", "float", "causal+padding"])
def test_mha_matches_the_definition(batch_first, masks):
    td.manual_seed(0)
    rng = np.random.default_rng(7)
    n, L, S, E, H = 2, 3, 4, 6, 3
    mha = nn.MultiheadAttention(E, H, batch_first=batch_first).double()
    for prm in mha.parameters():  # non-zero biases too
        prm.data[...] = rng.standard_normal(prm.shape)
    q, k, v = rng.standard_normal((n, L, E)), rng.standard_normal((n, S, E)), rng.standard_normal((n, S, E))
    kwargs, blocked, bias = {}, None, None
    if masks == "bool":  # attn_mask True = BLOCKED here (the opposite of F.scaled_dot_product_attention)
        m = rng.random((n * H, L, S)) < 0.3
        kwargs["attn_mask"], blocked = td.tensor(m), m.reshape(n, H, L, S)
    elif masks == "float":
        m, pad = rng.standard_normal((L, S)), rng.standard_normal((n, S))
        kwargs.update(attn_mask=td.tensor(m), key_padding_mask=td.tensor(pad))
        bias = m + pad[:, None, None, :]
    elif masks == "causal+padding":
        pad = np.zeros((n, S), dtype=bool)
        pad[1, -1] = True
        kwargs.update(is_causal=True, key_padding_mask=td.tensor(pad))
        blocked = np.triu(np.ones((L, S), dtype=bool), 1) | pad[:, None, None, :]
    layout = (lambda a: a) if batch_first else (lambda a: a.transpose(1, 0, 2))
    out, w = mha(td.tensor(layout(q)), td.tensor(layout(k)), td.tensor(layout(v)), average_attn_weights=False, **kwargs)
    expected, expected_w = reference_mha(mha, q, k, v, blocked, bias)
    np.testing.assert_allclose(host(out), layout(expected), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(host(w), expected_w, rtol=1e-10, atol=1e-12)
    _, averaged = mha(td.tensor(layout(q)), td.tensor(layout(k)), td.tensor(layout(v)), **kwargs)
    np.testing.assert_allclose(host(averaged), expected_w.mean(1), rtol=1e-10, atol=1e-12)


def _mha_inputs(device, n=2, L=2, S=3, E=4, seed=8):
    rng = np.random.default_rng(seed)
    return [leaf(rng.standard_normal(shape), device) for shape in ((L, n, E), (S, n, E), (S, n, E))]


def test_mha_gradcheck_inputs_parameters_and_weights(device):
    td.manual_seed(1)
    mha = nn.MultiheadAttention(4, 2).double().to(device)
    for prm in mha.parameters():
        prm.data[...] = td.randn(*prm.shape, dtype=td.float64, device=device).data * 0.5
    q, k, v = _mha_inputs(device)
    pad = const(np.array([[False, False, True], [False, False, False]]), device)

    def fn(q, k, v, *params):
        out, weights = mha(q, k, v, key_padding_mask=pad, average_attn_weights=False)
        return out, weights

    assert td.gradcheck(fn, [q, k, v, *mha.parameters()])


def test_mha_gradcheck_float_masks_and_self_attention(device):
    mha = nn.MultiheadAttention(4, 2, bias=False).double().to(device)
    (x, _, _), rng = _mha_inputs(device), np.random.default_rng(9)
    attn = leaf(rng.standard_normal((2 * 2, 2, 2)), device)  # (N * num_heads, L, S)
    pad = leaf(rng.standard_normal((2, 2)), device)
    assert td.gradcheck(lambda x, a, p: mha(x, x, x, key_padding_mask=p, attn_mask=a)[0], [x, attn, pad])


def test_mha_gradgradcheck(device):
    mha = nn.MultiheadAttention(2, 1).double().to(device)
    q, k, v = _mha_inputs(device, n=1, L=2, S=2, E=2)
    assert td.gradgradcheck(lambda q, k, v: mha(q, k, v, need_weights=False)[0], [q, k, v])


def test_mha_uses_the_hand_written_attention_op():
    mha = nn.MultiheadAttention(4, 2)
    x = td.randn(3, 2, 4)
    out, _ = mha(x, x, x)
    seen, stack = set(), [out.grad_fn]
    while stack:
        f = stack.pop()
        seen.add(type(f).__name__)
        stack += [t.grad_fn for t in f.inputs if t.grad_fn is not None]
    assert "ScaledDotProductAttention" in seen and "Softmax" not in seen


def test_mha_layout_unbatched_need_weights_and_dropout():
    td.manual_seed(2)
    mha = nn.MultiheadAttention(6, 2, dropout=0.5).double()
    x = td.randn(5, 1, 6, dtype=td.float64)
    mha.eval()
    out, w = mha(x, x, x)
    assert out.shape == (5, 1, 6) and w.shape == (1, 5, 5)
    np.testing.assert_allclose(host(w).sum(-1), 1.0)
    out_unbatched, w_unbatched = mha(x[:, 0], x[:, 0], x[:, 0], average_attn_weights=False)
    assert out_unbatched.shape == (5, 6) and w_unbatched.shape == (2, 5, 5)
    # atol: outputs can cancel to ~0; their terms (x ~ N(0, 1), weights below 1) sum to below ~10 in chains of
    # ~20 terms (projections of E = 6, averages over 5 keys), so two orders differ by below 20 * 10 eps = 5e-14
    np.testing.assert_allclose(host(out_unbatched), host(out)[:, 0], rtol=1e-12, atol=1e-12)
    assert mha(x, x, x, need_weights=False)[1] is None
    mha.train()  # dropout on the attention weights: stochastic, and the weights returned are the dropped ones
    out_train, w_train = mha(x, x, x, average_attn_weights=False)
    assert not np.allclose(host(out_train), host(out)) and np.any(host(w_train) == 0)


def test_mha_fully_blocked_query_gives_the_output_bias():
    mha = nn.MultiheadAttention(4, 2, batch_first=True)
    for prm in mha.parameters():
        prm.data[...] = td.randn(*prm.shape).data
    x = td.randn(1, 3, 4)
    out, w = mha(x, x, x, key_padding_mask=td.tensor([[True, True, True]]))
    np.testing.assert_allclose(host(out)[0], np.broadcast_to(host(mha.out_proj.bias), (3, 4)), rtol=1e-6)
    assert np.all(host(w) == 0)


def test_mha_parameters_and_init():
    td.manual_seed(3)
    mha = nn.MultiheadAttention(64, 8)
    assert [(name, p.shape) for name, p in mha.named_parameters()] == [
        ("in_proj_weight", (192, 64)), ("in_proj_bias", (192,)), ("out_proj.weight", (64, 64)), ("out_proj.bias", (64,))]
    bound = math.sqrt(6 / (192 + 64))  # xavier_uniform_ of the (3E, E) matrix, as PyTorch
    w = mha.in_proj_weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.all(mha.in_proj_bias.detach().numpy() == 0) and np.all(mha.out_proj.bias.detach().numpy() == 0)
    assert np.abs(mha.out_proj.weight.detach().numpy()).max() <= 1 / 8  # nn.Linear's init: U(-1/sqrt(E), 1/sqrt(E))
    assert [name for name, _ in nn.MultiheadAttention(4, 2, bias=False).named_parameters()] == [
        "in_proj_weight", "out_proj.weight"]


@pytest.mark.parametrize("call, error, message", [
    (lambda: nn.MultiheadAttention(6, 4), ValueError, r"embed_dim \(6\) must be a positive multiple of num_heads \(4\)"),
    (lambda: nn.MultiheadAttention(4, 2)(td.randn(3, 2, 5), td.randn(3, 2, 5), td.randn(3, 2, 5)), ValueError,
     r"embed_dim = 4.*query \(3, 2, 5\)"),
    (lambda: nn.MultiheadAttention(4, 2)(td.randn(3, 2, 4), td.randn(3, 2, 4), td.randn(2, 2, 4)), ValueError,
     r"key and value must have the same shape.*key \(3, 2, 4\), value \(2, 2, 4\)"),
    (lambda: nn.MultiheadAttention(4, 2)(td.randn(3, 2, 4), td.randn(5, 3, 4), td.randn(5, 3, 4)), ValueError,
     r"same batch size.*query \(3, 2, 4\), key \(5, 3, 4\)"),
    (lambda: nn.MultiheadAttention(4, 2)(td.randn(3, 4, 2, 4), td.randn(3, 4, 2, 4), td.randn(3, 4, 2, 4)), ValueError,
     r"expected 3-d \(L, N, E\).*query \(3, 4, 2, 4\)"),
    (lambda: nn.MultiheadAttention(4, 2)(td.randn(3, 2, 4), td.randn(5, 2, 4), td.randn(5, 2, 4),
                                         attn_mask=td.ones(5, 3, dtype=td.bool)), ValueError,
     r"attn_mask should have shape \(L, S\) = \(3, 5\) or \(N \* num_heads, L, S\) = \(4, 3, 5\), got \(5, 3\)"),
    (lambda: nn.MultiheadAttention(4, 2)(td.randn(3, 2, 4), td.randn(5, 2, 4), td.randn(5, 2, 4),
                                         key_padding_mask=td.ones(5, 2, dtype=td.bool)), ValueError,
     r"key_padding_mask should have shape \(N, S\) = \(2, 5\), got \(5, 2\)"),
    (lambda: nn.MultiheadAttention(4, 2)(td.randn(3, 2, 4), td.randn(5, 2, 4), td.randn(5, 2, 4),
                                         key_padding_mask=td.ones(2, 5, dtype=td.int64)), TypeError,
     r"key_padding_mask must be boolean or floating point, got dtype int64"),
])
def test_mha_bad_arguments_name_the_shapes(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ---- the transformer encoder ------------------------------------------------------------------
def _tiny_layer(device, seed=0, **kwargs):
    td.manual_seed(seed)
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0, **kwargs).double().to(device)
    for prm in layer.parameters():  # LayerNorm's ones/zeros and the zero biases would hide mistakes
        prm.data[...] = td.randn(*prm.shape, dtype=td.float64, device=device).data * 0.7
    return layer


@pytest.mark.parametrize("norm_first, activation", [(False, "relu"), (True, "gelu")])
def test_encoder_layer_gradcheck(device, norm_first, activation):
    layer = _tiny_layer(device, norm_first=norm_first, activation=activation, batch_first=True)
    x = leaf(np.random.default_rng(10).standard_normal((2, 3, 4)), device)
    pad = const(np.array([[False, False, True], [False, False, False]]), device)
    assert td.gradcheck(lambda x, *p: layer(x, src_key_padding_mask=pad, is_causal=True), [x, *layer.parameters()])


def test_encoder_layer_is_post_norm_by_default_and_pre_norm_with_norm_first():
    """Written out by hand from the submodules: the two orders of residual and normalization."""
    x = td.tensor(np.random.default_rng(11).standard_normal((3, 2, 4)))
    for norm_first in (False, True):
        layer = _tiny_layer("cpu", norm_first=norm_first)

        def sa(h, layer=layer):
            return layer.self_attn(h, h, h, need_weights=False)[0]

        def ff(h, layer=layer):
            return layer.linear2(F.relu(layer.linear1(h)))

        if norm_first:
            h = x + sa(layer.norm1(x))
            expected = h + ff(layer.norm2(h))
        else:
            h = layer.norm1(x + sa(x))
            expected = layer.norm2(h + ff(h))
        # atol: a residual sum or a normalized value can cancel to ~0; the terms (x ~ N(0, 1), weights 0.7 N(0, 1),
        # E = 4, 6 hidden units, 3 keys) stay below ~10 in chains of ~20: two orders differ by below 5e-14
        np.testing.assert_allclose(host(layer(x)), host(expected), rtol=1e-12, atol=1e-12)


def test_encoder_layer_causal_and_padding_masks_cut_the_right_dependencies():
    layer = _tiny_layer("cpu", batch_first=True)
    x = leaf(np.random.default_rng(12).standard_normal((1, 4, 4)))
    (g,) = td.grad(layer(x, is_causal=True)[0, 1].sum(), [x])  # position 1 sees positions 0 and 1 only
    assert np.all(g.numpy()[0, 2:] == 0) and np.all(np.abs(g.numpy()[0, :2]) > 0)
    pad = td.tensor([[False, False, False, True]])
    (g,) = td.grad(layer(x, src_key_padding_mask=pad)[0, :3].sum(), [x])  # nobody reads the padded position
    assert np.all(g.numpy()[0, 3] == 0)
    float_mask = td.tensor(np.triu(np.full((4, 4), -np.inf), 1))
    np.testing.assert_allclose(host(layer(x, src_mask=float_mask)), host(layer(x, is_causal=True)), rtol=1e-12,
                               atol=1e-12)  # as in the test above: values can cancel to ~0


def test_encoder_layer_dropout_only_in_training():
    td.manual_seed(4)
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.5)
    x = td.randn(5, 2, 8)
    layer.eval()
    np.testing.assert_array_equal(host(layer(x)), host(layer(x)))
    layer.train()
    assert not np.allclose(host(layer(x)), host(layer(x)))


def test_encoder_layer_names_and_bad_activation():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    assert [name for name, _ in layer.named_children()] == [
        "self_attn", "linear1", "dropout", "linear2", "norm1", "norm2", "dropout1", "dropout2"]
    assert layer.self_attn.dropout == 0.1 and layer.dropout.p == 0.1
    with pytest.raises(ValueError, match=r"'relu' or 'gelu', not 'tanh'"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")


def test_transformer_encoder_stacks_independent_copies():
    layer = _tiny_layer("cpu")
    encoder = nn.TransformerEncoder(layer, num_layers=2, norm=nn.LayerNorm(4).double())
    keys = list(encoder.state_dict())
    assert keys[0] == "layers.0.self_attn.in_proj_weight" and "layers.1.norm2.bias" in keys and keys[-1] == "norm.bias"
    assert encoder.layers[0].linear1.weight is not encoder.layers[1].linear1.weight
    assert encoder.layers[0].linear1.weight is not layer.linear1.weight
    x = td.tensor(np.random.default_rng(13).standard_normal((3, 2, 4)))
    np.testing.assert_allclose(host(encoder(x)), host(encoder.norm(layer(layer(x)))), rtol=1e-12,
                               atol=1e-12)  # normalized values can be ~0: atol as in the post-norm test above
    encoder.layers[1].linear2.weight.data[...] = 0  # the copies are independent of each other
    assert not np.allclose(host(encoder.layers[0](x)), host(encoder.layers[1](x)))


def test_a_tiny_transformer_learns_to_copy(device):
    """End to end: embedding + positional encoding + encoder layer + linear fit a copy task quickly."""
    td.manual_seed(0)
    vocab, d = 5, 16
    emb, pos = nn.Embedding(vocab, d).to(device), nn.PositionalEncoding(d, max_len=8).to(device)
    layer = nn.TransformerEncoderLayer(d, 2, dim_feedforward=32, dropout=0.0).to(device)
    head = nn.Linear(d, vocab).to(device)
    params = list(emb.parameters()) + list(layer.parameters()) + list(head.parameters())
    opt = td.optim.Adam(params, lr=0.01)
    tokens = td.randint(0, vocab, (6, 8), device=device)  # (T, N)
    losses = []
    for _ in range(60):
        logits = head(layer(pos(emb(tokens))))  # (T, N, vocab)
        loss = F.cross_entropy(logits.reshape(-1, vocab), tokens.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0]


def test_one_p_shared_by_a_batch_of_v():
    """q and k without the batch dim that v has: P (1, L, S) serves both v's. Its gradient as an
    output (the attention weights) must be counted once, and so must the second derivative,
    which reaches P through that same path (a Hypothesis case found this)."""
    from tinydl.functional.attention import attention_and_weights

    rng = np.random.default_rng(0)
    q, k, v = (leaf(rng.standard_normal(shape)) for shape in [(1, 1, 1), (1, 2, 1), (2, 2, 1)])
    assert td.gradgradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v), [q, k, v])

    c = td.tensor(rng.standard_normal((1, 1, 2)))

    def out_and_weights(q, k, v):
        out, weights = attention_and_weights(q, k, v)
        return out.sum() + (weights * c).sum()

    assert td.gradcheck(out_and_weights, [q, k, v])
