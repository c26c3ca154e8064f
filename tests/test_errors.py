"""Bad inputs raise errors that name the op and the offending shapes (or values),
so a learner can see at once what went wrong where."""
import re

import numpy as np
import pytest

import tinydl as td
import tinydl.functional as F


def randn(device, *shape, requires_grad=False):
    return td.tensor(np.random.default_rng(0).standard_normal(shape), requires_grad=requires_grad, device=device)


def shapes_in(*shapes):
    """A regex that matches a message mentioning every one of ``shapes``, in order."""
    return ".*".join(re.escape(str(tuple(s))) for s in shapes)


def test_matmul_shape_mismatch(device):
    with pytest.raises(ValueError, match=r"matmul.*" + shapes_in((2, 3), (4, 5))):
        randn(device, 2, 3) @ randn(device, 4, 5)
    with pytest.raises(ValueError, match=r"matmul.*" + shapes_in((3,), (2,))):
        td.functional.matmul(randn(device, 3), randn(device, 2))
    with pytest.raises(ValueError, match=r"matmul.*batch.*" + shapes_in((2, 1, 3), (3, 3, 1))):
        randn(device, 2, 1, 3) @ randn(device, 3, 3, 1)


def test_linear_shape_mismatch(device):
    with pytest.raises(ValueError, match=r"linear.*" + shapes_in((4, 3), (2, 5))):
        F.linear(randn(device, 4, 3), randn(device, 2, 5))
    with pytest.raises(ValueError, match=r"linear.*bias.*" + shapes_in((3,), (2, 5))):
        F.linear(randn(device, 4, 5), randn(device, 2, 5), randn(device, 3))


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow", "maximum", "minimum"])
def test_broadcasting_failure_names_both_shapes(device, op):
    a, b = randn(device, 2, 3), randn(device, 4)
    with pytest.raises(ValueError, match=op + r".*" + shapes_in((2, 3), (4,)) + ".*broadcast"):
        getattr(F, op)(a, b)


def test_operators_report_broadcasting_failure_too(device):
    with pytest.raises(ValueError, match=shapes_in((2, 3), (2,))):
        randn(device, 2, 3) + randn(device, 2)
    with pytest.raises(ValueError, match=shapes_in((3, 1, 2), (4, 3))):
        randn(device, 3, 1, 2) * randn(device, 4, 3)


def test_expand_to_an_incompatible_shape(device):
    with pytest.raises(ValueError, match=r"expand.*" + shapes_in((2, 3), (4, 3))):
        randn(device, 2, 3).expand(4, 3)


@pytest.mark.parametrize(
    "loss",
    ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits"],
)
def test_pointwise_losses_refuse_mismatched_shapes(device, loss):
    """(N, 1) against (N,) would silently broadcast to (N, N) in PyTorch; here it is an error."""
    x = td.tensor(np.full((4, 1), 0.5), device=device)
    target = td.tensor(np.full((4,), 0.5), device=device)
    with pytest.raises(ValueError, match=loss + r".*" + shapes_in((4, 1), (4,))):
        getattr(F, loss)(x, target)


@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
def test_class_index_target_of_the_wrong_shape(device, loss):
    logits = randn(device, 4, 3)
    with pytest.raises(ValueError, match=r"nll_loss.*" + shapes_in((4, 3), (4,), (5,))):
        getattr(F, loss)(logits, td.tensor(np.zeros(5, dtype=np.int64), device=device))
    with pytest.raises(ValueError, match=shapes_in((2, 3, 5), (2, 5), (2, 4))):
        getattr(F, loss)(randn(device, 2, 3, 5), td.tensor(np.zeros((2, 4), dtype=np.int64), device=device))


def test_probability_target_of_the_wrong_shape(device):
    with pytest.raises(ValueError, match=r"cross_entropy.*" + shapes_in((4, 3), (4, 2))):
        F.cross_entropy(randn(device, 4, 3), td.tensor(np.full((4, 2), 0.5), device=device))


@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("bad", [3, -1, 7])
def test_out_of_range_class_index(device, loss, bad):
    target = td.tensor(np.array([0, bad, 1]), device=device)
    with pytest.raises(IndexError, match=rf"target value {bad} is out of range for 3 classes"):
        getattr(F, loss)(randn(device, 3, 3), target).item()  # on a GPU the check is read with the loss


def test_ignored_targets_may_be_out_of_range(device):
    target = td.tensor(np.array([0, -100, 1]), device=device)
    loss = F.cross_entropy(randn(device, 3, 3), target)
    assert np.isfinite(loss.item())


def test_float_class_targets_are_refused_by_nll_loss(device):
    with pytest.raises(TypeError, match="integer class indices.*float"):
        F.nll_loss(randn(device, 3, 3), td.tensor(np.zeros(3), device=device))


def test_losses_refuse_an_unknown_reduction(device):
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        F.mse_loss(randn(device, 3), randn(device, 3), reduction="avg")


def test_binary_cross_entropy_refuses_inputs_outside_0_1(device):
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(
            td.tensor(np.array([0.5, 1.5]), device=device), td.tensor(np.array([0.0, 1.0]), device=device)
        ).item()  # on a GPU the check is read with the loss


def test_reshape_to_an_incompatible_size(device):
    with pytest.raises(ValueError, match=r"reshape.*" + shapes_in((2, 3)) + r".*6 elements.*" + shapes_in((4,))):
        randn(device, 2, 3).reshape(4)
    with pytest.raises(ValueError, match=r"reshape.*" + shapes_in((2, 3), (4, -1))):
        randn(device, 2, 3).view(4, -1)


def test_cat_and_stack_with_mismatched_shapes(device):
    with pytest.raises(ValueError, match=r"cat.*dim 0.*" + shapes_in((2, 3), (2, 4))):
        td.cat([randn(device, 2, 3), randn(device, 2, 4)], dim=0)
    with pytest.raises(ValueError, match=r"cat.*" + shapes_in((2, 3), (2, 3, 1))):
        td.cat([randn(device, 2, 3), randn(device, 2, 3, 1)], dim=1)
    with pytest.raises(ValueError, match=r"stack.*" + shapes_in((2, 3), (3, 2))):
        td.stack([randn(device, 2, 3), randn(device, 3, 2)])


def test_dims_out_of_range(device):
    x = randn(device, 2, 3)
    with pytest.raises(IndexError, match="sum: dim 2 is out of range for a tensor with 2 dimensions"):
        x.sum(2)
    with pytest.raises(IndexError, match="softmax: dim -3 is out of range"):
        F.softmax(x, -3)
    with pytest.raises(ValueError, match=r"permute.*\(0, 0\).*" + shapes_in((2, 3))):
        x.permute(0, 0)


def test_backward_on_a_non_scalar_needs_a_gradient(device):
    y = randn(device, 2, 3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"only for scalar outputs, got shape \(2, 3\)"):
        y.backward()
    with pytest.raises(RuntimeError, match=r"gradient of shape \(3, 2\) given for an output of shape \(2, 3\)"):
        y.backward(td.tensor(np.ones((3, 2)), device=device))
    y.backward(td.tensor(np.ones((2, 3)), device=device))  # with a gradient of its shape it works


def test_backward_on_a_tensor_without_graph(device):
    with pytest.raises(RuntimeError, match="does not require grad"):
        randn(device, 3).sum().backward()


def test_grad_on_an_unused_input_needs_allow_unused(device):
    x, unused = randn(device, 3, requires_grad=True), randn(device, 2, requires_grad=True)
    y = (x * x).sum()
    with pytest.raises(RuntimeError, match=r"input 1 \(shape \(2,\)\) was not used.*allow_unused=True"):
        td.grad(y, [x, unused], retain_graph=True)
    gx, gu = td.grad(y, [x, unused], allow_unused=True)
    assert gu is None
    np.testing.assert_allclose(gx.numpy(), 2 * x.detach().numpy())


def test_a_second_backward_through_a_freed_graph(device):
    y = (randn(device, 3, requires_grad=True).exp()).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time.*retain_graph=True"):
        y.backward()


def test_a_backward_returning_a_wrong_shape_is_reported(device):
    class WrongShape(td.Function):
        def forward(self, x):
            return x.sum()

        def backward(self, gy):
            return gy  # should be broadcast to the input's shape

    x = randn(device, 2, 3, requires_grad=True)
    message = r"WrongShape\.backward returned a gradient of shape \(\) for input 0 of shape \(2, 3\)"
    with pytest.raises(RuntimeError, match=message):
        WrongShape()(x).backward()


def test_only_float_tensors_can_require_grad(device):
    with pytest.raises(RuntimeError, match="only floating-point tensors can require gradients, got dtype int64"):
        td.tensor(np.arange(3), requires_grad=True, device=device)
