"""nn.AdditiveAttention (Bahdanau et al. 2015): the score, weights and context against the
paper's formula written in NumPy, float64 gradchecks w.r.t. the query, the keys and W_a, U_a, v_a
(with and without a padding mask, and with projected keys reused), masked keys getting weight 0,
and the errors at the boundary."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinydl as td
import tinydl.nn as nn
from helpers import const, host, leaf


def attention(dq=3, dk=4, hidden=5, device="cpu", seed=0):
    td.manual_seed(seed)
    return nn.AdditiveAttention(dq, dk, hidden, dtype="float64").to(device)


def paper_formula(attn, q, k, mask=None):
    """e_j = v_a^T tanh(W_a q + U_a k_j + b), alpha = softmax(e), c = sum_j alpha_j k_j, in NumPy."""
    W, U, b, v = (host(p) for p in (attn.W_a.weight, attn.U_a.weight, attn.U_a.bias, attn.v_a.weight))
    e = np.tanh((q @ W.T)[:, None, :] + k @ U.T + b) @ v[0]  # (N, S)
    if mask is not None:
        e = np.where(mask, -np.inf, e)
    alpha = np.exp(e - e.max(axis=1, keepdims=True))
    alpha /= alpha.sum(axis=1, keepdims=True)
    return (alpha[:, :, None] * k).sum(axis=1), alpha


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 4), s=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_context_and_weights_follow_the_paper(n, s, seed):
    rng = np.random.default_rng(seed)
    attn = attention(seed=seed)
    q, k = rng.standard_normal((n, 3)), rng.standard_normal((n, s, 4))
    mask = rng.random((n, s)) < 0.4
    mask[:, 0] = False  # every row keeps a key
    context, weights = attn(const(q), const(k), key_padding_mask=const(mask))
    expected_context, expected_weights = paper_formula(attn, q, k, mask)
    np.testing.assert_allclose(host(weights), expected_weights, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(host(context), expected_context, rtol=1e-10, atol=1e-12)
    assert np.all(host(weights)[mask] == 0)  # padding gets exactly no weight
    np.testing.assert_allclose(host(weights).sum(axis=1), 1.0, rtol=1e-12, atol=1e-12)


def test_gradcheck_wrt_query_keys_and_every_parameter(device):
    rng = np.random.default_rng(1)
    attn = attention(device=device)
    q, k = leaf(rng.standard_normal((2, 3)), device), leaf(rng.standard_normal((2, 5, 4)), device)
    params = list(attn.parameters())
    assert len(params) == 4  # W_a, U_a (weight and bias), v_a
    assert td.gradcheck(lambda q, k, *p: attn(q, k), (q, k, *params))


def test_gradcheck_with_a_padding_mask_and_projected_keys(device):
    rng = np.random.default_rng(2)
    attn = attention(device=device)
    q, k = leaf(rng.standard_normal((3, 3)), device), leaf(rng.standard_normal((3, 4, 4)), device)
    mask = const(np.array([[0, 0, 1, 1], [0, 0, 0, 0], [0, 1, 0, 1]], dtype=bool), device)

    def fn(q, k, *p):  # the keys projected once, as a decoder does, still differentiable through U_a and k
        return attn(q, k, key_padding_mask=mask, projected_keys=attn.project_keys(k))

    assert td.gradcheck(fn, (q, k, *attn.parameters()))
    _, weights = fn(q, k)
    assert np.all(host(weights)[host(mask)] == 0)


def test_projected_keys_give_the_same_result(device):
    rng = np.random.default_rng(3)
    attn = attention(device=device)
    q, k = const(rng.standard_normal((2, 3)), device), const(rng.standard_normal((2, 6, 4)), device)
    direct = attn(q, k)
    reused = attn(q, k, projected_keys=attn.project_keys(k))
    for a, b in zip(direct, reused):
        np.testing.assert_allclose(host(a), host(b), rtol=1e-12, atol=1e-14)


def test_one_key_gets_all_the_weight():
    attn = attention()
    q, k = td.randn(2, 3, dtype="float64"), td.randn(2, 1, 4, dtype="float64")
    context, weights = attn(q, k)
    np.testing.assert_allclose(host(weights), 1.0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(host(context), host(k)[:, 0], rtol=1e-15, atol=1e-15)


def test_parameters_have_the_papers_names_and_shapes():
    attn = nn.AdditiveAttention(3, 4, 5)
    shapes = {name: tuple(p.shape) for name, p in attn.named_parameters()}
    assert shapes == {"W_a.weight": (5, 3), "U_a.weight": (5, 4), "U_a.bias": (5,), "v_a.weight": (1, 5)}
    assert np.all(host(attn.U_a.bias) == 0)
    assert "query_size=3, key_size=4, hidden_size=5" in repr(attn)


@pytest.mark.parametrize("query, keys, mask, match", [
    ((2, 4), (2, 5, 4), None, r"query must be \(N, query_size\) = \(2, 3\) for keys \(2, 5, 4\); got \(2, 4\)"),
    ((3, 3), (2, 5, 4), None, r"query must be .* = \(2, 3\)"),
    ((2, 3), (2, 5, 3), None, r"keys must be a \(N, S, key_size=4\) tensor; got \(2, 5, 3\)"),
    ((2, 3), (2, 0, 4), None, r"keys \(2, 0, 4\) has no key \(S = 0\)"),
    ((2, 3), (2, 5, 4), (2, 4), r"key_padding_mask must be \(N, S\) = \(2, 5\) .* got \(2, 4\)"),
])
def test_wrong_shapes_name_the_argument_and_the_shapes(query, keys, mask, match):
    attn = nn.AdditiveAttention(3, 4, 6)
    mask = None if mask is None else td.zeros(*mask, dtype="bool")
    with pytest.raises(ValueError, match="AdditiveAttention: " + match):
        attn(td.randn(*query), td.randn(*keys), key_padding_mask=mask)


def test_wrong_projected_keys_and_masks_are_refused():
    attn = nn.AdditiveAttention(3, 4, 6)
    q, k = td.randn(2, 3), td.randn(2, 5, 4)
    with pytest.raises(ValueError, match=r"projected_keys must be .* \(2, 5, 6\) = attn.project_keys\(keys\)"):
        attn(q, k, projected_keys=td.randn(2, 5, 4))
    with pytest.raises(TypeError, match="key_padding_mask must be a boolean Tensor .* got dtype float32"):
        attn(q, k, key_padding_mask=td.zeros(2, 5))
    with pytest.raises(TypeError, match="key_padding_mask must be a boolean Tensor .* got ndarray"):
        attn(q, k, key_padding_mask=np.zeros((2, 5), dtype=bool))
    with pytest.raises(TypeError, match="key_padding_mask must be a boolean Tensor .* got list"):
        attn(q, k, key_padding_mask=[[False] * 5] * 2)
    every_key = np.zeros((2, 5), dtype=bool)
    every_key[1] = True
    with pytest.raises(ValueError, match="a row of key_padding_mask masks every key"):
        attn(q, k, key_padding_mask=td.tensor(every_key)).__getitem__(0).numpy()  # raised by the next read on a GPU
