"""The engine itself: graph recording, the walk, accumulation, no_grad, td.grad, double backward, anomalies."""
import math
import sys

import numpy as np
import pytest

import tinydl as td
import tinydl.functional as F


def leaf(values, device="cpu"):
    return td.tensor(np.asarray(values, dtype=np.float64), requires_grad=True, device=device)


def test_simple_chain_rule(device):
    x = leaf([1.0, 2.0, 3.0], device)
    y = (x * x + 3 * x).sum()  # dy/dx = 2x + 3
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 7.0, 9.0])


def test_deep_chain_does_not_recurse():
    """100k nodes: a recursive walk would hit Python's recursion limit (1000 by default)."""
    x = td.tensor(2.0, dtype=td.float64, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1e-6 * y
    y.backward()
    assert 100_000 > sys.getrecursionlimit()
    # 200k float64 roundings along the chain: relative error ~ 2e5 * 1.1e-16 ~ 2e-11 (times a small constant)
    np.testing.assert_allclose(x.grad.item(), (1 + 1e-6) ** 100_000, rtol=1e-8)


def test_gradients_accumulate_on_leaves_across_backward_calls():
    x = leaf([1.0, -2.0])
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3 + 2, 3 - 4])


def test_a_tensor_used_twice_gets_the_sum_of_both_paths():
    x = leaf([1.5])
    y = x * x  # y used by two consumers
    z = (y + y.exp()).sum()
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * 1.5 * (1 + math.exp(1.5**2)))


def test_diamond_graph_visits_each_function_once():
    calls = []

    class Count(td.Function):
        def forward(self, x):
            return x * 2

        def backward(self, gy):
            calls.append(1)
            return gy * 2

    x = leaf([1.0, 2.0])
    a = Count()(x)
    b = a * 3
    c = a.exp()
    (b + c).sum().backward()
    assert len(calls) == 1
    np.testing.assert_allclose(x.grad.numpy(), 2 * (3 + np.exp(2 * np.array([1.0, 2.0]))))


def test_no_grad_records_nothing_and_enable_grad_restores():
    x = leaf([1.0])
    with td.no_grad():
        y = x * 2
        with td.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None
    assert td.is_grad_enabled()


def test_no_grad_as_decorator():
    @td.no_grad()
    def f(x):
        return x * 2

    assert not f(leaf([1.0])).requires_grad


def test_detach_cuts_the_graph():
    x = leaf([3.0])
    y = x * x.detach()  # d/dx = x.detach() only
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0])
    assert not x.detach().requires_grad


def test_constants_do_not_receive_gradients():
    x = leaf([1.0, 2.0])
    c = td.tensor([5.0, 6.0], dtype=td.float64)
    (x * c).sum().backward()
    assert c.grad is None
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 6.0])


def test_backward_with_explicit_gradient():
    x = leaf([1.0, 2.0, 3.0])
    y = x * 2
    y.backward(td.tensor([1.0, 0.5, -1.0], dtype=td.float64))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 1.0, -2.0])


def test_backward_on_non_scalar_needs_a_gradient():
    y = leaf([1.0, 2.0]) * 2
    with pytest.raises(RuntimeError, match=r"scalar outputs.*\(2,\)"):
        y.backward()


def test_backward_on_a_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        td.tensor([1.0]).sum().backward()


def test_second_backward_without_retain_graph_raises_and_with_it_works():
    x = leaf([2.0])
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_graph_is_freed_when_the_output_is_dropped():
    import gc
    import weakref

    x = leaf(np.ones(3))
    y = (x * 2).exp()
    ref = weakref.ref(y.grad_fn)
    del y
    gc.disable()
    try:
        assert ref() is None  # plain reference counting freed it: the graph holds no cycles
    finally:
        gc.enable()


def test_grad_returns_gradients_without_touching_dot_grad():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    y = (x * w).sum()
    gx, gw = td.grad(y, [x, w])
    np.testing.assert_allclose(gx.numpy(), [3.0, 4.0])
    np.testing.assert_allclose(gw.numpy(), [1.0, 2.0])
    assert x.grad is None and w.grad is None


def test_grad_of_a_non_leaf_input():
    x = leaf([1.0, 2.0])
    h = x * 3
    y = (h * h).sum()
    (gh,) = td.grad(y, h)
    np.testing.assert_allclose(gh.numpy(), 2 * 3 * np.array([1.0, 2.0]))


def test_grad_unused_input_raises_unless_allow_unused():
    x, unused = leaf([1.0]), leaf([2.0])
    with pytest.raises(RuntimeError, match=r"input 1 \(shape \(1,\)\) was not used"):
        td.grad((x * 2).sum(), [x, unused])
    gx, gu = td.grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert gu is None and gx.item() == 2.0


def test_double_backward_through_create_graph():
    x = leaf([0.3, -0.7])
    y = (x**3).sum()
    (g,) = td.grad(y, x, create_graph=True)  # 3 x^2
    assert g.requires_grad
    (gg,) = td.grad(g.sum(), x)  # 6 x
    np.testing.assert_allclose(gg.numpy(), 6 * np.array([0.3, -0.7]))


def test_gradient_penalty_pattern_reaches_parameters():
    """WGAN-GP: the norm of d D(x) / dx, itself differentiated w.r.t. D's weights."""
    w = leaf([[0.5, -1.0], [2.0, 0.1]])
    x = leaf([[1.0, 2.0]])
    d = F.tanh(x @ w).sum()
    (gx,) = td.grad(d, x, create_graph=True)
    penalty = ((gx * gx).sum().sqrt() - 1) ** 2
    penalty.backward()
    assert w.grad is not None and np.all(np.isfinite(w.grad.numpy()))
    assert np.abs(w.grad.numpy()).sum() > 0


def test_retain_grad_keeps_a_non_leaf_gradient():
    x = leaf([1.0, 2.0])
    h = x * 2
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * h.data)


def test_integer_outputs_do_not_require_grad():
    x = leaf([[1.0, 5.0], [7.0, 2.0]])
    values, indices = x.max(dim=1)
    assert values.requires_grad and not indices.requires_grad
    assert indices.dtype == td.int64


def test_user_function_backward_with_wrong_shape_is_reported():
    class Bad(td.Function):
        def forward(self, x):
            return x.sum()

        def backward(self, gy):
            return gy  # should be broadcast to the input's shape

    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"Bad.backward returned a gradient of shape \(\) for input 0 of shape \(2,\)"):
        Bad()(x).backward()


def test_detect_anomaly_names_the_forward_op():
    x = leaf([-1.0, 1.0])
    with td.detect_anomaly(), np.errstate(invalid="ignore"):
        with pytest.raises(RuntimeError, match="Function 'Log' returned nan values in its forward output"):
            x.log()


def test_detect_anomaly_names_the_backward_op():
    x = leaf([0.0, 1.0])
    with td.detect_anomaly(), np.errstate(divide="ignore"):
        y = x.sqrt()  # finite forward, infinite derivative at 0
        with pytest.raises(RuntimeError, match="Function 'Sqrt' returned inf values in the gradient"):
            y.sum().backward()


def test_anomaly_mode_off_lets_nan_through():
    x = leaf([-1.0])
    with np.errstate(invalid="ignore"):
        assert np.isnan(x.log().item())


def test_scalar_operands_keep_float32():
    x = td.randn(3)
    for y in (x * 2, 2.5 + x, x / 3, x**2, 1 - x):
        assert y.dtype == td.float32


def test_float64_stays_float64_through_ops():
    x = td.randn(3, 4, dtype=td.float64, requires_grad=True)
    y = F.log_softmax(F.linear(x, td.randn(2, 4, dtype=td.float64)), 1).mean()
    y.backward()
    assert y.dtype == td.float64 and x.grad.dtype == td.float64


def test_tensor_factory_dtype_rules():
    assert td.tensor([1.0, 2.0]).dtype == td.float32
    assert td.tensor([1, 2]).dtype == td.int64
    assert td.tensor(np.zeros(2)).dtype == td.float64
    assert td.tensor(np.zeros(2, np.float32)).dtype == td.float32
    assert td.tensor([True]).dtype == td.bool
    assert td.arange(3).dtype == td.int64 and td.arange(0.0, 1.0, 0.5).dtype == td.float32


def test_numpy_on_tensor_that_requires_grad_raises():
    x = leaf([1.0])
    with pytest.raises(RuntimeError, match="detach"):
        x.numpy()
    assert isinstance(x.detach().numpy(), np.ndarray)


def test_only_float_tensors_can_require_grad():
    with pytest.raises(RuntimeError, match="floating-point"):
        td.tensor([1, 2], requires_grad=True)


def test_manual_seed_reproduces_draws():
    td.manual_seed(123)
    a = td.randn(5).numpy(), td.rand(3).numpy(), td.randint(0, 10, (4,)).numpy()
    td.manual_seed(123)
    b = td.randn(5).numpy(), td.rand(3).numpy(), td.randint(0, 10, (4,)).numpy()
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def test_device_round_trip_keeps_values_and_gradient(device):
    x = td.tensor([1.0, 2.0], dtype=td.float64, requires_grad=True)
    y = x.to(device)
    assert y.device == device
    (y * y).sum().backward()
    assert x.grad.device == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_cuda_unavailable_is_reported_clearly():
    if td.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="cuda"):
        td.zeros(2, device="cuda")


def test_manual_sgd_step_updates_the_parameter_in_place():
    p = leaf([1.0, 2.0])
    (p * p).sum().backward()
    same = p
    with td.no_grad():
        p -= 0.1 * p.grad
    assert p is same
    np.testing.assert_allclose(p.data, [0.8, 1.6])


def test_in_place_on_a_leaf_that_requires_grad_is_refused_while_recording():
    p = leaf([1.0])
    with pytest.raises(RuntimeError, match=r"\+=.*no_grad"):
        p += 1


def test_in_place_on_a_non_leaf_keeps_the_graph_correct():
    x = leaf([1.0, 2.0])
    h = x * 3
    h += x * x  # rebinds h to a new node: d/dx = 3 + 2x
    h.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 7.0])


def test_setitem_writes_data_outside_a_graph_and_refuses_inside():
    x = td.zeros(4)
    x[1] = 5.0
    x[[0, 3]] = td.tensor([7.0, 8.0])
    np.testing.assert_array_equal(x.numpy(), [7.0, 5.0, 0.0, 8.0])
    h = leaf([1.0, 2.0]) * 2
    with pytest.raises(RuntimeError, match="recorded graph"):
        h[0] = 0.0


def test_tensor_constructor_follows_the_dtype_rules():
    assert td.Tensor([1.0, 2.5]).dtype == td.float32
    assert td.Tensor([1, 2]).dtype == td.int64
    assert td.tensor([0.1], dtype=td.float64).item() == 0.1  # no float32 detour


def test_cast_backward_returns_the_gradient_in_the_input_dtype():
    x = leaf([1.0, 2.0, 3.0])  # float64
    y = x.float()
    assert y.dtype == td.float32
    (y * y * 2).sum().backward()
    assert x.grad.dtype == td.float64
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0, 12.0])


# ---- the walk's helpers (autograd._Walk, _call_backward, _checked_grad): behaviour pinned down --------
def test_grad_of_a_non_leaf_and_of_the_leaf_behind_it_in_one_call():
    """A wanted non-leaf's gradient is both returned and passed on to its producer (_Walk.wants)."""
    x = leaf([1.0, 2.0])
    h = x * 3
    gh, gx = td.grad((h * h).sum(), [h, x])
    np.testing.assert_allclose(gh.numpy(), [6.0, 12.0])
    np.testing.assert_allclose(gx.numpy(), [18.0, 36.0])
    assert x.grad is None


def test_retain_grad_is_left_alone_by_td_grad_and_accumulates_across_backwards():
    x = leaf([1.0, 2.0])
    h = x * 2
    h.retain_grad()
    td.grad((h * h).sum(), x, retain_graph=True)
    assert h.grad is None
    (h * h).sum().backward(retain_graph=True)
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * 2 * h.data)


def test_a_leaf_grad_is_its_own_writable_copy():
    """.grad must not alias the walk's gradient (a read-only broadcast view here): optimizers write into it."""
    x = leaf([1.0, 2.0, 3.0])
    x.sum().backward()
    x.grad.data += 1  # would raise on the read-only view that Sum's backward returns
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])


def test_user_function_backward_with_wrong_number_of_gradients_is_reported():
    class Pair(td.Function):
        def forward(self, a, b):
            return a + b

        def backward(self, gy):
            return gy  # one gradient for two inputs

    a, b = leaf([1.0]), leaf([2.0])
    with pytest.raises(RuntimeError, match=r"Pair\.backward returned 1 gradients for 2 inputs"):
        Pair()(a, b).sum().backward()


def test_an_output_nobody_used_contributes_zeros_to_its_function():
    x = leaf([[3.0, 1.0], [0.5, 2.0]])
    values, indices = x.max(1)
    del indices  # dropped: the walk finds no gradient for it and hands backward zeros
    values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 0.0], [0.0, 1.0]])


def test_the_walk_in_docs_autograd_is_the_code():
    """docs/autograd.md section 2 quotes run_backward's loop; it must be the code, line for line."""
    import inspect
    import os

    from tinydl import autograd

    source = inspect.getsource(autograd.run_backward)
    body = source[source.index("    walk = _Walk(inputs)"):]
    quoted = "\n".join(line[4:] for line in body.rstrip().splitlines())
    docs = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "autograd.md")
    with open(docs) as f:
        assert quoted in f.read()
    assert len(source.splitlines()) <= 32  # readable in one screen
