"""Attention, embedding, multi-head attention and the transformer encoder against PyTorch, float64,
to 1e-8: values, gradients of every input and parameter, attention weights (skipped without torch)."""
import numpy as np
import pytest

import tinydl as td
import tinydl.functional as F
import tinydl.nn as nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional
TOL = dict(rtol=1e-8, atol=1e-10)


def close(mine, ref):
    np.testing.assert_allclose(mine.detach().numpy(), ref.detach().numpy(), **TOL)


def pair(array, grad=True):
    """The same float64 values as a tinydl leaf and a torch leaf."""
    return td.tensor(array, requires_grad=grad), torch.tensor(array, requires_grad=grad)


def load_from(ours, ref):
    """Copy a torch module's weights into ours through a NumPy state dict (strict)."""
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()}, strict=True)


# ---- F.scaled_dot_product_attention -----------------------------------------------------------
SDPA = [  # (q shape, k shape, v shape, mask kind, mask shape, scale)
    ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 2), "none", None, None),
    ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 2), "bool", (2, 1, 4, 6), None),
    ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 2), "float", (4, 6), None),
    ((2, 3, 4, 5), (3, 6, 5), (1, 6, 7), "float", (3, 1, 6), 0.3),  # broadcast batch dims and mask
    ((5, 3), (5, 3), (5, 4), "causal", None, None),
    ((2, 3, 3), (2, 6, 3), (2, 6, 2), "causal", None, None),  # L < S: top-left aligned
    ((2, 6, 3), (2, 3, 3), (2, 3, 2), "causal", None, 2.0),  # L > S
    ((1, 4, 3), (1, 5, 3), (1, 5, 2), "blocked row", (4, 5), None),  # a query that may attend nowhere
]


@pytest.mark.parametrize("q_shape, k_shape, v_shape, kind, mask_shape, scale", SDPA)
def test_sdpa_values_and_gradients(q_shape, k_shape, v_shape, kind, mask_shape, scale):
    rng = np.random.default_rng(0)
    (q, qt), (k, kt), (v, vt) = (pair(rng.standard_normal(s)) for s in (q_shape, k_shape, v_shape))
    mine, theirs = dict(scale=scale), dict(scale=scale)
    leaves = [(q, qt), (k, kt), (v, vt)]
    if kind in ("bool", "blocked row"):
        allowed = rng.random(mask_shape) < 0.6
        if kind == "blocked row":
            allowed[1] = False
        mine["attn_mask"], theirs["attn_mask"] = td.tensor(allowed), torch.tensor(allowed)
    elif kind == "float":
        m, mt = pair(rng.standard_normal(mask_shape))
        mine["attn_mask"], theirs["attn_mask"] = m, mt
        leaves.append((m, mt))
    elif kind == "causal":
        mine["is_causal"] = theirs["is_causal"] = True
    out = F.scaled_dot_product_attention(q, k, v, **mine)
    ref = TF.scaled_dot_product_attention(qt, kt, vt, **theirs)
    close(out, ref)
    g = rng.standard_normal(ref.shape)
    out.backward(td.tensor(g))
    ref.backward(torch.tensor(g))
    for a, b in leaves:
        close(a.grad, b.grad)


def test_sdpa_double_backward_matches_pytorch():
    """A penalty on the gradient w.r.t. the queries, differentiated w.r.t. everything."""
    rng = np.random.default_rng(1)
    tensors = [pair(rng.standard_normal(s)) for s in ((2, 3, 4), (2, 5, 4), (2, 5, 3), (3, 5))]
    ours, theirs = [a for a, _ in tensors], [b for _, b in tensors]

    def penalty(grad_fn, sdpa, q, k, v, m):
        out = sdpa(q, k, v, attn_mask=m)
        (gq,) = grad_fn((out * out).sum(), q)
        return (gq * gq).sum()

    p = penalty(lambda y, x: td.grad(y, x, create_graph=True), F.scaled_dot_product_attention, *ours)
    p_ref = penalty(lambda y, x: torch.autograd.grad(y, x, create_graph=True), TF.scaled_dot_product_attention, *theirs)
    np.testing.assert_allclose(p.item(), p_ref.item(), rtol=1e-10)
    p.backward()
    p_ref.backward()
    for a, b in zip(ours, theirs):
        close(a.grad, b.grad)


# ---- embedding --------------------------------------------------------------------------------
@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding_module_values_and_gradients(padding_idx):
    torch.manual_seed(0)
    ref = torch.nn.Embedding(6, 3, padding_idx=padding_idx).double()
    ours = nn.Embedding(6, 3, padding_idx=padding_idx).double()
    load_from(ours, ref)
    idx = np.array([[2, 0, 2, 5], [1, 2, 5, 5]])  # repeated indices, and the padding row
    out, out_ref = ours(td.tensor(idx)), ref(torch.tensor(idx))
    close(out, out_ref)
    g = np.random.default_rng(2).standard_normal(out_ref.shape)
    out.backward(td.tensor(g))
    out_ref.backward(torch.tensor(g))
    close(ours.weight.grad, ref.weight.grad)


def test_functional_embedding_with_padding_idx():
    rng = np.random.default_rng(3)
    w, wt = pair(rng.standard_normal((5, 4)))
    idx = np.array([4, 1, 1, 0, 4])
    out, out_ref = F.embedding(td.tensor(idx), w, padding_idx=1), TF.embedding(torch.tensor(idx), wt, padding_idx=1)
    close(out, out_ref)
    (out * out).sum().backward()
    (out_ref * out_ref).sum().backward()
    close(w.grad, wt.grad)


# ---- nn.MultiheadAttention --------------------------------------------------------------------
MHA_MASKS = ["none", "bool attn 2d", "float attn 3d", "bool padding", "float padding", "bool both", "causal"]


def _masks(kind, rng, n, H, L, S):
    """(ours, theirs) keyword arguments for one kind of mask; True = blocked for this module."""
    mine, theirs = {}, {}

    def add(name, array):
        mine[name], theirs[name] = td.tensor(array), torch.tensor(array)

    if kind in ("bool attn 2d", "bool both"):
        blocked = rng.random((L, S)) < 0.3
        blocked[:, 0] = False  # every query keeps a key: PyTorch's weights are NaN on fully blocked rows
        add("attn_mask", blocked)
    if kind == "float attn 3d":
        add("attn_mask", rng.standard_normal((n * H, L, S)))
    if kind in ("bool padding", "bool both"):
        padding = np.zeros((n, S), dtype=bool)
        padding[0, -2:] = True
        add("key_padding_mask", padding)
    if kind == "float padding":
        add("key_padding_mask", rng.standard_normal((n, S)))
    if kind == "causal":  # PyTorch takes is_causal only as a hint next to the causal mask itself
        mine["is_causal"] = True
        theirs.update(is_causal=True, attn_mask=torch.ones(L, S, dtype=torch.bool).triu(1))
    return mine, theirs


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("masks", MHA_MASKS)
@pytest.mark.parametrize("average_attn_weights", [True, False])
def test_mha_values_weights_and_gradients(batch_first, masks, average_attn_weights):
    torch.manual_seed(0)
    rng = np.random.default_rng(4)
    n, L, S, E, H = 2, 3, 4, 6, 2
    ref = torch.nn.MultiheadAttention(E, H, batch_first=batch_first).double()
    with torch.no_grad():  # non-zero biases, so that their gradients and placement are tested too
        ref.in_proj_bias.normal_()
        ref.out_proj.bias.normal_()
    ours = nn.MultiheadAttention(E, H, batch_first=batch_first).double()
    load_from(ours, ref)
    shape = (lambda t: (n, t, E)) if batch_first else (lambda t: (t, n, E))
    (q, qt), (k, kt), (v, vt) = pair(rng.standard_normal(shape(L))), pair(rng.standard_normal(shape(S))), \
        pair(rng.standard_normal(shape(S)))
    mine, theirs = _masks(masks, rng, n, H, L, S)
    out, w = ours(q, k, v, average_attn_weights=average_attn_weights, **mine)
    out_ref, w_ref = ref(qt, kt, vt, average_attn_weights=average_attn_weights, **theirs)
    close(out, out_ref)
    close(w, w_ref)
    g, gw = rng.standard_normal(out_ref.shape), rng.standard_normal(w_ref.shape)
    ((out * td.tensor(g)).sum() + (w * td.tensor(gw)).sum()).backward()
    ((out_ref * torch.tensor(g)).sum() + (w_ref * torch.tensor(gw)).sum()).backward()
    for a, b in [(q, qt), (k, kt), (v, vt)]:
        close(a.grad, b.grad)
    mine_params = dict(ours.named_parameters())
    for name, p in ref.named_parameters():
        close(mine_params[name].grad, p.grad)


def test_mha_self_attention_without_bias_unbatched_and_need_weights_false():
    torch.manual_seed(1)
    ref = torch.nn.MultiheadAttention(8, 4, bias=False).double()
    ours = nn.MultiheadAttention(8, 4, bias=False).double()
    load_from(ours, ref)
    x, xt = pair(np.random.default_rng(5).standard_normal((5, 8)))  # unbatched (L, E)
    out, w = ours(x, x, x, average_attn_weights=False)
    out_ref, w_ref = ref(xt, xt, xt, average_attn_weights=False)
    close(out, out_ref)
    close(w, w_ref)
    out.sum().backward()
    out_ref.sum().backward()
    close(x.grad, xt.grad)
    close(ours.in_proj_weight.grad, ref.in_proj_weight.grad)
    mask = np.triu(np.ones((5, 5), dtype=bool), 1)
    out, none = ours(x, x, x, need_weights=False, attn_mask=td.tensor(mask))
    out_ref, _ = ref(xt, xt, xt, need_weights=False, attn_mask=torch.tensor(mask))
    assert none is None
    close(out, out_ref)


def test_mha_fully_blocked_query_matches_pytorch_without_weights():
    torch.manual_seed(2)
    ref = torch.nn.MultiheadAttention(4, 2, batch_first=True).double()
    with torch.no_grad():
        ref.out_proj.bias.normal_()
    ours = nn.MultiheadAttention(4, 2, batch_first=True).double()
    load_from(ours, ref)
    x = np.random.default_rng(6).standard_normal((2, 3, 4))
    padding = np.array([[True, True, True], [False, True, False]])
    out, _ = ours(td.tensor(x), td.tensor(x), td.tensor(x), key_padding_mask=td.tensor(padding))
    out_ref, _ = ref(*(torch.tensor(x),) * 3, key_padding_mask=torch.tensor(padding), need_weights=False)
    close(out, out_ref)


# ---- nn.TransformerEncoderLayer and nn.TransformerEncoder -------------------------------------
ENCODER = [  # (norm_first, activation, batch_first, masks)
    (False, "relu", False, "none"),
    (False, "gelu", True, "bool padding"),
    (True, "relu", True, "causal"),
    (True, "gelu", False, "float attn"),
    (False, "relu", True, "bool attn and padding"),
]


def _encoder_masks(kind, rng, n, T):
    mine, theirs = {}, {}

    def add(name, array):
        mine[name], theirs[name] = td.tensor(array), torch.tensor(array)

    if kind in ("bool padding", "bool attn and padding"):
        padding = np.zeros((n, T), dtype=bool)
        padding[1, -2:] = True
        add("src_key_padding_mask", padding)
    if kind == "bool attn and padding":
        blocked = rng.random((T, T)) < 0.3
        blocked[:, 0] = False
        add("src_mask", blocked)
    if kind == "float attn":
        add("src_mask", rng.standard_normal((T, T)))
    if kind == "causal":
        mine["is_causal"] = True
        theirs.update(is_causal=True, src_mask=torch.nn.Transformer.generate_square_subsequent_mask(T, dtype=torch.float64))
    return mine, theirs


@pytest.mark.parametrize("norm_first, activation, batch_first, masks", ENCODER)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_encoder_layer_values_and_gradients(norm_first, activation, batch_first, masks, mode):
    torch.manual_seed(3)
    rng = np.random.default_rng(7)
    n, T, d = 2, 5, 8
    kwargs = dict(dim_feedforward=12, dropout=0.0, activation=activation, batch_first=batch_first, norm_first=norm_first)
    ref = torch.nn.TransformerEncoderLayer(d, 2, **kwargs).double()
    with torch.no_grad():
        for p in ref.parameters():
            p.add_(0.3 * torch.randn_like(p))  # the norms' ones and zeros and the zero biases, perturbed
    ours = nn.TransformerEncoderLayer(d, 2, **kwargs).double()
    load_from(ours, ref)
    getattr(ours, mode)()
    getattr(ref, mode)()
    x, xt = pair(rng.standard_normal((n, T, d) if batch_first else (T, n, d)))
    mine, theirs = _encoder_masks(masks, rng, n, T)
    out, out_ref = ours(x, **mine), ref(xt, **theirs)
    close(out, out_ref)
    g = rng.standard_normal(out_ref.shape)
    out.backward(td.tensor(g))
    out_ref.backward(torch.tensor(g))
    close(x.grad, xt.grad)
    mine_params = dict(ours.named_parameters())
    for name, p in ref.named_parameters():
        close(mine_params[name].grad, p.grad)
    if mode == "eval":  # PyTorch may take its fused inference path here; the values still agree
        with torch.no_grad():
            close(ours(td.tensor(x.detach().numpy()), **mine), ref(xt.detach(), **theirs))


def test_transformer_encoder_stack_matches_pytorch():
    torch.manual_seed(4)
    layer = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True).double()
    ref = torch.nn.TransformerEncoder(layer, 3, norm=torch.nn.LayerNorm(8).double(), enable_nested_tensor=False)
    with torch.no_grad():
        for p in ref.parameters():
            p.add_(0.3 * torch.randn_like(p))  # the three copies become different
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True),
                                 3, norm=nn.LayerNorm(8)).double()
    assert list(ours.state_dict()) == list(ref.state_dict())
    load_from(ours, ref)
    x, xt = pair(np.random.default_rng(8).standard_normal((2, 6, 8)))
    padding = np.zeros((2, 6), dtype=bool)
    padding[0, -1] = True
    out = ours(x, src_key_padding_mask=td.tensor(padding))
    out_ref = ref(xt, src_key_padding_mask=torch.tensor(padding))
    close(out, out_ref)
    out.sum().backward()
    out_ref.sum().backward()
    close(x.grad, xt.grad)
    mine_params = dict(ours.named_parameters())
    for name, p in ref.named_parameters():
        close(mine_params[name].grad, p.grad)
