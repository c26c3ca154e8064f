"""The Optimizer base class: parameter groups, per-parameter state, state_dict.

An optimizer holds ``param_groups`` (a list of dicts: the Parameters and
their hyper-parameters) and ``state`` (a dict from Parameter to that
parameter's running buffers, e.g. momentum).  ``step()`` visits every
parameter that has a gradient and calls the subclass's ``update``, which
works on raw arrays: an update is not part of any graph.
"""
import copy
import numbers

from .. import backend
from ..autograd import enable_grad
from ..tensor import Tensor


def check_number(optimizer, name, value, low=0.0, high=None, label=None):
    """Refuse a hyper-parameter that is not a real number in [low, high) (high=None: no upper bound).

    PyTorch's checks and messages ("Invalid learning rate: -1"), written so that NaN is refused
    too: a NaN learning rate or weight decay would turn every parameter into NaN at the next step."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{optimizer}: {name} must be a real number, got {value!r}")
    if not (low <= value and (high is None or value < high)):
        raise ValueError(f"{optimizer}: Invalid {label or name + ' value'}: {value}")


class Optimizer:
    """Base class: ``param_groups``, per-parameter ``state``, ``step()``, ``zero_grad()``, checkpoints.

    Subclasses name their per-parameter arrays in ``buffers`` (each shaped like its parameter)
    and check a group's hyper-parameters in ``check_group``."""

    buffers = ()

    def __init__(self, params, defaults):
        if isinstance(params, Tensor):
            raise TypeError("params must be an iterable of Tensors or of dicts, got a single Tensor")
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        self.defaults = defaults
        self.param_groups = []
        self.state = {}
        for group in params if isinstance(params[0], dict) else [{"params": params}]:
            self.add_param_group(group)

    def add_param_group(self, group):
        group = dict(group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for name, value in self.defaults.items():
            group.setdefault(name, value)
        for p in group["params"]:
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise ValueError(f"{type(self).__name__}: every parameter must be a Tensor that requires grad")
        # a parameter listed twice would be stepped twice per step()
        seen = {id(p) for p in self._all_params()}
        if len({id(p) for p in group["params"]}) != len(group["params"]):
            raise ValueError(f"{type(self).__name__}: a parameter group lists the same parameter twice")
        if any(id(p) in seen for p in group["params"]):
            raise ValueError(f"{type(self).__name__}: some parameters appear in more than one parameter group")
        self.check_group(group)
        self.param_groups.append(group)

    def check_group(self, group):
        """Raise if a hyper-parameter of ``group`` is invalid (subclasses override)."""

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.data[...] = 0

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()``'s loss (or None).

        ``closure``, as in PyTorch, is a function that clears the gradients, recomputes the loss,
        calls ``backward()`` and returns the loss; it runs first, with gradients recorded even
        inside ``no_grad``, so the update uses the gradients it computed."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        self._opt_called = True  # lets a learning-rate scheduler warn when it is stepped first
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if tuple(p.grad.shape) != tuple(p.shape):  # the update would broadcast the gradient
                    raise ValueError(
                        f"{type(self).__name__}.step: a parameter of shape {tuple(p.shape)} has a gradient of "
                        f"shape {tuple(p.grad.shape)}; they must have the same shape"
                    )
                if p not in self.state:
                    self.state[p] = {}
                self.update(p.data, p.grad.data, self.state[p], group)
        return loss

    def update(self, param, grad, state, group):
        raise NotImplementedError

    # ---- checkpoints: PyTorch's layout, parameters referred to by position ---
    def _all_params(self):
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self):
        """``{'state': {index: {name: value}}, 'param_groups': [{hyper..., 'params': [indices]}]}``."""
        index = {id(p): i for i, p in enumerate(self._all_params())}
        state = {}
        for p, values in self.state.items():
            state[index[id(p)]] = {
                k: backend.to_numpy(v).copy() if hasattr(v, "shape") else copy.deepcopy(v) for k, v in values.items()
            }
        groups = []
        for group in self.param_groups:
            saved = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            saved["params"] = [index[id(p)] for p in group["params"]]
            groups.append(saved)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore hyper-parameters and state saved by ``state_dict()``; everything is checked
        against this optimizer's parameters first, so a mismatched checkpoint fails here, not at step()."""
        name = f"{type(self).__name__}.load_state_dict"
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(
                f"{name}: the checkpoint has {len(groups)} parameter groups, "
                f"this optimizer has {len(self.param_groups)}"
            )
        for mine, saved in zip(self.param_groups, groups):
            if len(mine["params"]) != len(saved["params"]):
                raise ValueError(
                    f"{name}: a group holds {len(saved['params'])} parameters "
                    f"in the checkpoint and {len(mine['params'])} here"
                )
        params = self._all_params()
        state = {}
        for i, values in self._saved_state(state_dict, len(params), name):
            state[params[i]] = self._restored_state(params[i], i, values, name)
        loaded = []
        for mine, saved in zip(self.param_groups, groups):
            group = dict(mine)
            for k, v in saved.items():
                if k != "params":
                    group[k] = copy.deepcopy(v)
            self.check_group(group)  # also turns Adam's betas back into a tuple (a checkpoint may hold a list)
            loaded.append(group)
        for mine, group in zip(self.param_groups, loaded):  # in place: whoever holds a group sees the change
            mine.update(group)
        self.state = state

    @staticmethod
    def _saved_state(state_dict, count, name):
        """(parameter index, saved values) pairs, each index checked against the ``count`` parameters."""
        pairs = []
        for i, values in state_dict["state"].items():
            if not isinstance(i, numbers.Integral) and not (isinstance(i, str) and i.isdigit()):
                raise ValueError(f"{name}: state keys are parameter indices, got {i!r}")
            if not 0 <= int(i) < count:
                raise ValueError(
                    f"{name}: the checkpoint has state for parameter {i}, this optimizer has {count} parameters"
                )
            pairs.append((int(i), values))
        return pairs

    def _restored_state(self, p, i, values, name):
        """The saved state of parameter ``p`` (number i) on its device: every buffer must have its shape."""
        restored = {}
        for k, v in values.items():
            if k in self.buffers:
                if tuple(getattr(v, "shape", ())) != tuple(p.shape) or not hasattr(v, "dtype"):
                    raise ValueError(
                        f"{name}: state {k!r} of parameter {i} must be an array of the parameter's shape "
                        f"{tuple(p.shape)}, got {tuple(getattr(v, 'shape', ()))}"
                    )
                restored[k] = backend.to_device(v.astype(p.dtype) if v.dtype.kind == "f" else v, p.device)
            elif getattr(v, "ndim", 0) > 0:  # an array of a subclass that does not name it in ``buffers``
                restored[k] = backend.to_device(v, p.device)
            else:  # a number, such as the step count
                restored[k] = v.item() if hasattr(v, "item") else v
        return restored

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines) + "\n)"
