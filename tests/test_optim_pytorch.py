"""RMSprop, Adagrad, Adadelta, LBFGS, step(closure) and the lr schedulers against PyTorch's own
(the comparisons skip when PyTorch is not installed), with checkpoints through td.save / td.load."""
import warnings

import numpy as np
import pytest

import tinydl as td
import tinydl.functional as F
import tinydl.nn as nn
from tinydl import optim
from tinydl.optim import lr_scheduler


def torch_or_skip():
    return pytest.importorskip("torch")


# ---------------------------------------------------------------- optimizers: trajectories


def mlps(torch, device):
    """The same small float64 MLP in PyTorch and in tinydl (on ``device``)."""
    torch.manual_seed(0)
    reference = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3)).double()
    ours = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3)).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
    return reference, ours.to(device)


def batches(steps):
    rng = np.random.default_rng(2)
    return [(rng.standard_normal((8, 5)), rng.integers(0, 3, 8)) for _ in range(steps)]


def assert_same_weights(reference, ours, message):
    for (key, mine), theirs in zip(ours.state_dict().items(), reference.state_dict().values()):
        np.testing.assert_allclose(td.tensor(mine).numpy(), theirs.numpy(), rtol=1e-9, atol=1e-11,
                                   err_msg=f"{message} {key}")


OPTIMIZERS = [
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.05)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.005, momentum=0.5, centered=True, weight_decay=0.1)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.3, eps=1e-6)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.7, eps=1e-4)),
    ("Adadelta", dict(weight_decay=0.2)),
]


@pytest.mark.parametrize("name, kwargs", OPTIMIZERS)
def test_eight_steps_match_pytorch(name, kwargs, device):
    torch = torch_or_skip()
    reference, ours = mlps(torch, device)
    opt_ref = getattr(torch.optim, name)(reference.parameters(), **kwargs)
    opt = getattr(optim, name)(ours.parameters(), **kwargs)
    for x, y in batches(8):
        opt_ref.zero_grad()
        torch.nn.functional.cross_entropy(reference(torch.tensor(x)), torch.tensor(y)).backward()
        opt_ref.step()
        opt.zero_grad()
        F.cross_entropy(ours(td.tensor(x, device=device)), td.tensor(y, device=device)).backward()
        opt.step()
    assert_same_weights(reference, ours, f"{name} {kwargs}")


@pytest.mark.parametrize("name, kwargs", [
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, initial_accumulator_value=0.3)),
    ("Adadelta", dict(rho=0.7)),
])
def test_new_optimizers_resume_exactly_through_a_checkpoint(name, kwargs, tmp_path):
    def run(model, opt, data):
        for x, y in data:
            opt.zero_grad()
            F.cross_entropy(model(td.tensor(x)), td.tensor(y)).backward()
            opt.step()

    def model(seed):
        td.manual_seed(seed)
        return nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 3)).double()

    data = batches(6)
    straight = model(0)
    run(straight, getattr(optim, name)(straight.parameters(), **kwargs), data)

    first = model(0)
    opt = getattr(optim, name)(first.parameters(), **kwargs)
    run(first, opt, data[:3])
    td.save({"model": first.state_dict(), "optim": opt.state_dict()}, tmp_path / "ckpt.npz")
    checkpoint = td.load(tmp_path / "ckpt.npz")
    resumed = model(1)
    resumed.load_state_dict(checkpoint["model"])
    opt = getattr(optim, name)(resumed.parameters(), **kwargs)
    opt.load_state_dict(checkpoint["optim"])
    run(resumed, opt, data[3:])
    for key, value in straight.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[key], value, err_msg=key)


@pytest.mark.parametrize("make, message", [
    (lambda p: optim.RMSprop(p, alpha=-0.1), "Invalid alpha value: -0.1"),
    (lambda p: optim.RMSprop(p, momentum=float("nan")), "Invalid momentum value"),
    (lambda p: optim.Adagrad(p, lr_decay=-1), "Invalid lr_decay value: -1"),
    (lambda p: optim.Adagrad(p, initial_accumulator_value=-1), "Invalid initial_accumulator_value value: -1"),
    (lambda p: optim.Adadelta(p, rho=1.5), "Invalid rho value: 1.5"),
    (lambda p: optim.Adadelta(p, eps=-1e-6), "Invalid epsilon value"),
    (lambda p: optim.LBFGS(p, line_search_fn="backtracking"), "line_search_fn must be None or 'strong_wolfe'"),
    (lambda p: optim.LBFGS(p, max_iter=0), "max_iter must be a positive integer"),
    (lambda p: optim.LBFGS([{"params": p[:1]}, {"params": p[1:]}]), "doesn't support per-parameter options"),
])
def test_invalid_hyperparameters_are_refused_with_pytorchs_message(make, message):
    params = [nn.Parameter(td.zeros(2)), nn.Parameter(td.zeros(3))]
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make(params)


# ---------------------------------------------------------------- step(closure)


@pytest.mark.parametrize("make", [
    lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
    lambda p: optim.Adam(p, lr=0.01),
    lambda p: optim.AdamW(p, lr=0.01),
    lambda p: optim.RMSprop(p, lr=0.01),
    lambda p: optim.Adagrad(p, lr=0.1),
    lambda p: optim.Adadelta(p),
])
def test_step_with_a_closure_returns_its_loss_and_uses_its_gradients_even_under_no_grad(make):
    """As PyTorch: the closure runs first, under enable_grad, and step returns what it returned."""
    x, y = batches(1)[0]

    def model():
        td.manual_seed(0)
        return nn.Linear(5, 3).double()

    plain = model()
    opt = make(plain.parameters())
    opt.zero_grad()
    F.cross_entropy(plain(td.tensor(x)), td.tensor(y)).backward()
    assert opt.step() is None

    closed = model()
    opt = make(closed.parameters())
    calls = []

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(closed(td.tensor(x)), td.tensor(y))
        loss.backward()
        calls.append(loss)
        return loss

    with td.no_grad():
        returned = opt.step(closure)
    assert len(calls) == 1 and returned is calls[0]
    for key, value in plain.state_dict().items():
        np.testing.assert_array_equal(closed.state_dict()[key], value, err_msg=key)


# ---------------------------------------------------------------- LBFGS


def quartic_bowl(lib, x, A, b):
    """A smooth convex test function: 1/2 x.A x - b.x + 0.1 sum x^4."""
    return ((x @ A) * x).sum() * 0.5 - (b * x).sum() + (x**4).sum() * 0.1


def rosenbrock(lib, x, A=None, b=None):
    return ((1 - x[:-1]) ** 2).sum() + 100 * ((x[1:] - x[:-1] ** 2) ** 2).sum()


def lbfgs_runs(torch, function, x0, steps, device, **kwargs):
    """(tinydl's, PyTorch's) iterates and returned losses after each of ``steps`` LBFGS steps."""
    rng = np.random.default_rng(0)
    M = rng.standard_normal((x0.size, x0.size))
    A, b = M @ M.T + np.eye(x0.size), rng.standard_normal(x0.size)
    runs = []
    for lib, make in ((td, lambda a: td.tensor(a, device=device)), (torch, torch.tensor)):
        x = make(x0)
        x.requires_grad_(True)
        opt = (optim if lib is td else torch.optim).LBFGS([x], **kwargs)
        A_, b_ = make(A), make(b)

        def closure():
            opt.zero_grad()
            loss = function(lib, x, A_, b_)
            loss.backward()
            return loss

        history = []
        for _ in range(steps):
            loss = float(opt.step(closure).detach())
            history.append((x.detach().numpy().copy(), loss))
        state = opt.state[opt.param_groups[0]["params"][0]]
        runs.append((history, state["func_evals"], state["n_iter"]))
    return runs


@pytest.mark.parametrize("function, x0, kwargs", [
    (quartic_bowl, np.linspace(-1, 1, 6), dict()),
    (quartic_bowl, np.linspace(-1, 1, 6), dict(lr=0.5, max_iter=4, history_size=2)),
    (quartic_bowl, np.linspace(-1, 1, 6), dict(max_iter=6, max_eval=4)),
    (quartic_bowl, np.linspace(-1, 1, 6), dict(line_search_fn="strong_wolfe")),
    (rosenbrock, np.array([-1.5, 2.0, 0.5]), dict(max_iter=15, line_search_fn="strong_wolfe")),
    (rosenbrock, np.array([-1.5, 2.0, 0.5]), dict(lr=0.5, max_iter=9, history_size=3, line_search_fn="strong_wolfe")),
])
def test_lbfgs_iterates_match_pytorch(function, x0, kwargs, device):
    torch = torch_or_skip()
    (ours, evals, iters), (theirs, evals_ref, iters_ref) = lbfgs_runs(torch, function, x0, 3, device, **kwargs)
    for step, ((x, loss), (x_ref, loss_ref)) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(x, x_ref, rtol=1e-8, atol=1e-10, err_msg=f"step {step}")
        np.testing.assert_allclose(loss, loss_ref, rtol=1e-8, atol=1e-10, err_msg=f"step {step}")
    assert (evals, iters) == (evals_ref, iters_ref)


def test_lbfgs_with_strong_wolfe_minimizes_rosenbrock():
    x = td.tensor(np.array([-1.5, 2.0]), requires_grad=True)
    opt = optim.LBFGS([x], line_search_fn="strong_wolfe", max_iter=100, tolerance_grad=1e-12, tolerance_change=1e-15)

    def closure():
        opt.zero_grad()
        loss = rosenbrock(td, x)
        loss.backward()
        return loss

    for _ in range(3):
        opt.step(closure)
    np.testing.assert_allclose(x.detach().numpy(), [1.0, 1.0], rtol=0, atol=1e-7)  # the minimum, from (-1.5, 2)


def test_lbfgs_needs_a_closure():
    opt = optim.LBFGS([nn.Parameter(td.zeros(2))])
    with pytest.raises(TypeError, match="LBFGS.step needs a closure"):
        opt.step(None)


def test_lbfgs_resumes_exactly_through_a_checkpoint(tmp_path, device):
    x0 = np.linspace(-1, 1, 4)

    def problem():
        x = td.tensor(x0, requires_grad=True, device=device)
        opt = optim.LBFGS([x], max_iter=3, history_size=2)

        def closure():
            opt.zero_grad()
            loss = rosenbrock(td, x)
            loss.backward()
            return loss

        return x, opt, closure

    x, opt, closure = problem()
    straight = [float(opt.step(closure)) for _ in range(4)]

    x, opt, closure = problem()
    first = [float(opt.step(closure)) for _ in range(2)]
    td.save({"x": x, "optim": opt.state_dict()}, tmp_path / "lbfgs.npz")
    checkpoint = td.load(tmp_path / "lbfgs.npz")
    x, opt, closure = problem()
    x.data[...] = td.tensor(checkpoint["x"], device=device).data
    opt.load_state_dict(checkpoint["optim"])
    assert first + [float(opt.step(closure)) for _ in range(2)] == straight


# ---------------------------------------------------------------- schedulers


def two_groups(lib, optimizer="SGD", **kwargs):
    """An optimizer of ``lib`` with two parameter groups of different lrs."""
    make = (lambda n: td.zeros(n, requires_grad=True)) if lib is td else (lambda n: lib.zeros(n, requires_grad=True))
    module = optim if lib is td else lib.optim
    return getattr(module, optimizer)([{"params": [make(2)]}, {"params": [make(3)], "lr": 0.03}], lr=0.1, **kwargs)


def inverse_time(epoch):
    return 1 / (1 + epoch)


class Warmup:
    """A callable object: LambdaLR saves its attributes (unlike a plain function's)."""

    def __init__(self, steps):
        self.steps = steps

    def __call__(self, epoch):
        return min(1.0, (epoch + 1) / self.steps)


SCHEDULERS = [
    ("StepLR", dict(step_size=4, gamma=0.5), "SGD"),
    ("MultiStepLR", dict(milestones=[3, 7, 7, 12], gamma=0.3), "SGD"),
    ("ExponentialLR", dict(gamma=0.9), "SGD"),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001), "SGD"),  # 30 steps: past T_max and back up, twice
    ("CosineAnnealingLR", dict(T_max=30), "Adam"),
    ("LambdaLR", dict(lr_lambda=inverse_time), "SGD"),
    ("LambdaLR", dict(lr_lambda=[inverse_time, lambda epoch: 0.95**epoch]), "SGD"),
    ("OneCycleLR", dict(max_lr=[1.0, 0.5], total_steps=30), "SGD"),
    ("OneCycleLR", dict(max_lr=0.2, epochs=3, steps_per_epoch=10, pct_start=0.4, anneal_strategy="linear",
                        div_factor=10.0, final_div_factor=100.0, base_momentum=0.8, max_momentum=0.9), "Adam"),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=30, three_phase=True, cycle_momentum=True), "SGD"),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=30, cycle_momentum=False), "Adagrad"),
]
OPTIMIZER_ARGS = {"SGD": dict(momentum=0.9), "Adam": dict(betas=(0.9, 0.99)), "Adagrad": dict()}


def lr_sequence(lib, name, kwargs, optimizer, steps, scheduler_module):
    opt = two_groups(lib, optimizer, **OPTIMIZER_ARGS[optimizer])
    scheduler = getattr(scheduler_module, name)(opt, **kwargs)
    return opt, scheduler, [momenta_and_lrs(opt, scheduler) for _ in range(1)] + [
        step_and_read(opt, scheduler) for _ in range(steps)
    ]


def momenta_and_lrs(opt, scheduler):
    """(the lrs, the first group's momentum or betas), floats in lists."""
    group = opt.param_groups[0]
    momenta = [group["momentum"]] if "momentum" in group else list(group.get("betas", ()))
    return list(scheduler.get_last_lr()), momenta


def step_and_read(opt, scheduler):
    opt.step()
    scheduler.step()
    return momenta_and_lrs(opt, scheduler)


@pytest.mark.parametrize("name, kwargs, optimizer", SCHEDULERS)
def test_scheduler_lrs_and_momenta_match_pytorch_for_30_steps(name, kwargs, optimizer):
    torch = torch_or_skip()
    *_, ours = lr_sequence(td, name, kwargs, optimizer, 30, lr_scheduler)
    *_, theirs = lr_sequence(torch, name, kwargs, optimizer, 30, torch.optim.lr_scheduler)
    for step, (mine, reference) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(mine[0], reference[0], rtol=1e-13, atol=1e-15, err_msg=f"lr at step {step}")
        np.testing.assert_allclose(mine[1], reference[1], rtol=1e-13, atol=1e-15, err_msg=f"momentum at step {step}")


@pytest.mark.parametrize("name, kwargs, optimizer", SCHEDULERS + [
    ("LambdaLR", dict(lr_lambda=Warmup(5)), "SGD"),
])
def test_scheduler_resumes_midway_through_a_checkpoint_file(name, kwargs, optimizer, tmp_path):
    """15 steps, td.save of the optimizer's and scheduler's state dicts, a fresh optimizer and
    scheduler load them (the scheduler first, as PyTorch's docs say), 15 more steps: the same lrs."""
    *_, straight = lr_sequence(td, name, kwargs, optimizer, 30, lr_scheduler)
    opt, scheduler, first = lr_sequence(td, name, kwargs, optimizer, 15, lr_scheduler)
    td.save({"optim": opt.state_dict(), "scheduler": scheduler.state_dict()}, tmp_path / "ckpt.npz")
    checkpoint = td.load(tmp_path / "ckpt.npz")

    if isinstance(kwargs.get("lr_lambda"), Warmup):
        kwargs = dict(lr_lambda=Warmup(1))  # the saved attributes (steps=5) overwrite these
    opt = two_groups(td, optimizer, **OPTIMIZER_ARGS[optimizer])
    scheduler = getattr(lr_scheduler, name)(opt, **kwargs)
    opt.load_state_dict(checkpoint["optim"])
    scheduler.load_state_dict(checkpoint["scheduler"])
    resumed = first + [step_and_read(opt, scheduler) for _ in range(15)]
    assert resumed == straight


@pytest.mark.parametrize("name, kwargs, optimizer", SCHEDULERS[:7])
def test_state_dict_keys_match_pytorchs(name, kwargs, optimizer):
    torch = torch_or_skip()
    _, ours, _ = lr_sequence(td, name, kwargs, optimizer, 3, lr_scheduler)
    _, theirs, _ = lr_sequence(torch, name, kwargs, optimizer, 3, torch.optim.lr_scheduler)
    assert set(ours.state_dict()) == set(theirs.state_dict())


def test_lambda_lr_saves_no_function_but_a_callable_objects_attributes():
    opt = two_groups(td)
    state = lr_scheduler.LambdaLR(opt, [inverse_time, Warmup(4)]).state_dict()
    assert state["lr_lambdas"] == [None, {"steps": 4}]


PLATEAUS = [
    dict(),
    dict(patience=2),
    dict(mode="max", patience=1, factor=0.5),
    dict(patience=1, threshold=0.2, threshold_mode="abs", cooldown=2),
    dict(mode="max", patience=0, threshold=0.05, threshold_mode="rel", cooldown=1, min_lr=[0.02, 0.01]),
    dict(patience=1, factor=0.3, min_lr=0.005, eps=1e-3),
]


def plateau_metrics():
    rng = np.random.default_rng(4)
    return np.concatenate([np.linspace(3, 1, 6), 1 + 0.3 * rng.standard_normal(30).cumsum() * 0.1])


@pytest.mark.parametrize("kwargs", PLATEAUS)
def test_reduce_lr_on_plateau_matches_pytorch_and_resumes_through_a_checkpoint(kwargs, tmp_path):
    torch = torch_or_skip()
    metrics = plateau_metrics()
    reference_opt = two_groups(torch)
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(reference_opt, **kwargs)
    expected = []
    for m in metrics:
        reference.step(m)
        expected.append(reference.get_last_lr())

    opt = two_groups(td)
    scheduler = lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    got = []
    for i, m in enumerate(metrics):
        if i == 18:  # a checkpoint in the middle, into a fresh optimizer and scheduler
            td.save({"optim": opt.state_dict(), "scheduler": scheduler.state_dict()}, tmp_path / "ckpt.npz")
            checkpoint = td.load(tmp_path / "ckpt.npz")
            opt = two_groups(td)
            scheduler = lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
            opt.load_state_dict(checkpoint["optim"])
            scheduler.load_state_dict(checkpoint["scheduler"])
        scheduler.step(td.tensor(m))  # a 0-d Tensor, as a validation loss usually is
        got.append(scheduler.get_last_lr())
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15)
    assert len({tuple(lrs) for lrs in expected}) > 1  # the lr did change: the comparison means something
    assert set(scheduler.state_dict()) == set(reference.state_dict())


def test_scheduler_stepped_before_the_optimizer_warns_as_pytorch():
    opt = two_groups(td)
    scheduler = lr_scheduler.StepLR(opt, step_size=2)
    with pytest.warns(UserWarning, match=r"lr_scheduler.step\(\)` before `optimizer.step\(\)`"):
        scheduler.step()

    opt = two_groups(td)
    scheduler = lr_scheduler.StepLR(opt, step_size=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
        scheduler.step()
        scheduler.get_last_lr()


def test_get_lr_outside_step_warns_to_use_get_last_lr():
    scheduler = lr_scheduler.ExponentialLR(two_groups(td), gamma=0.5)
    with pytest.warns(UserWarning, match="get_last_lr"):
        scheduler.get_lr()


def test_step_with_an_epoch_uses_the_closed_form_and_warns_as_pytorch():
    torch = torch_or_skip()
    lrs = []
    for lib, module in ((td, lr_scheduler), (torch, torch.optim.lr_scheduler)):
        opt = two_groups(lib)
        scheduler = module.StepLR(opt, step_size=3, gamma=0.5)
        opt.step()
        with pytest.warns(UserWarning, match="epoch parameter"):
            scheduler.step(7)
        lrs.append((scheduler.last_epoch, scheduler.get_last_lr()))
    assert lrs[0] == lrs[1] == (7, [0.025, 0.0075])


def test_resuming_with_last_epoch_needs_initial_lr_and_then_continues_the_schedule():
    torch = torch_or_skip()
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.CosineAnnealingLR(two_groups(td), T_max=10, last_epoch=4)
    lrs = []
    for lib, module in ((td, lr_scheduler), (torch, torch.optim.lr_scheduler)):
        opt = two_groups(lib)
        for group in opt.param_groups:
            group["initial_lr"] = group["lr"]
        scheduler = module.CosineAnnealingLR(opt, T_max=10, last_epoch=4)
        lrs.append([scheduler.get_last_lr()] + [step_and_read(opt, scheduler)[0] for _ in range(3)])
    np.testing.assert_allclose(lrs[0], lrs[1], rtol=1e-13, atol=1e-15)


def test_one_cycle_refuses_stepping_past_total_steps_and_optimizers_without_momentum():
    opt = two_groups(td)
    scheduler = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    opt.step()
    for _ in range(3):
        scheduler.step()
    with pytest.raises(ValueError, match="Tried to step 4 times. The specified number of total steps is 3"):
        scheduler.step()
    with pytest.raises(ValueError, match="must support momentum or beta1"):
        lr_scheduler.OneCycleLR(two_groups(td, "Adagrad"), max_lr=1.0, total_steps=3)
    with pytest.raises(ValueError, match="max_lr must have the same length as optimizer.param_groups"):
        lr_scheduler.OneCycleLR(two_groups(td), max_lr=[1.0], total_steps=3)


@pytest.mark.parametrize("make, error, message", [
    (lambda opt: lr_scheduler.StepLR(opt, step_size=0), ValueError, "StepLR: step_size must be a positive integer"),
    (lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=0), ValueError, "T_max must be a positive integer"),
    (lambda opt: lr_scheduler.ExponentialLR(opt, gamma="0.9"), TypeError, "gamma must be a real number"),
    (lambda opt: lr_scheduler.ReduceLROnPlateau(opt, factor=1.0), ValueError, "Factor should be < 1.0"),
    (lambda opt: lr_scheduler.ReduceLROnPlateau(opt, mode="lowest"), ValueError, "mode lowest is unknown"),
    (lambda opt: lr_scheduler.LambdaLR(opt, [inverse_time]), ValueError, "Expected 2 lr_lambdas, but got 1"),
    (lambda opt: lr_scheduler.StepLR("not an optimizer", 3), TypeError, "str is not an Optimizer"),
])
def test_invalid_scheduler_arguments_are_refused(make, error, message):
    with pytest.raises(error, match=message):
        make(two_groups(td))


def test_a_state_dict_of_another_scheduler_is_refused():
    saved = lr_scheduler.StepLR(two_groups(td), step_size=3).state_dict()
    scheduler = lr_scheduler.CosineAnnealingLR(two_groups(td), T_max=5)
    expected = r"missing keys \['T_max', 'eta_min'\].*unexpected keys \['gamma', 'step_size'\]"
    with pytest.raises(ValueError, match=expected):
        scheduler.load_state_dict(saved)
    one_group = optim.SGD([td.zeros(2, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="the state dict is for 2 parameter groups, this optimizer has 1"):
        lr_scheduler.StepLR(one_group, step_size=3).load_state_dict(saved)


# ---------------------------------------------------------------- an example that uses a scheduler


def test_transformer_sort_checkpoints_its_scheduler_and_resumes_it(tmp_path, monkeypatch):
    """examples/transformer_sort.py sets its warm-up + cosine lr with LambdaLR and saves the scheduler's
    state with its checkpoint: a resumed run continues the schedule where the first run stopped."""
    import os
    import sys

    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.syspath_prepend(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))
    sys.modules.pop("transformer_sort", None)
    import transformer_sort

    args = ["--out", str(tmp_path), "--warmup", "2", "--test-size", "10", "--batch-size", "4", "--seed", "0"]
    transformer_sort.main(args + ["--steps", "3"])
    saved = td.load(tmp_path / "checkpoint.npz")
    assert saved["progress"]["scheduler"]["last_epoch"] == 3
    transformer_sort.main(args + ["--steps", "5", "--resume"])
    resumed = td.load(tmp_path / "checkpoint.npz")
    assert resumed["progress"]["scheduler"]["last_epoch"] == 5  # 3 loaded + 2 steps (2 if it started over)
    expected_lr = 2e-3 * transformer_sort.warmup_cosine(5, 2, 5)
    np.testing.assert_allclose(resumed["optimizer"]["param_groups"][0]["lr"], expected_lr, rtol=1e-15, atol=0)
