"""The Optimizer base class: parameter groups, per-parameter state, state_dict.

An optimizer holds ``param_groups`` (a list of dicts: the Parameters and
their hyper-parameters) and ``state`` (a dict from Parameter to that
parameter's running buffers, e.g. momentum).  ``step()`` visits every
parameter that has a gradient and calls the subclass's ``update``, which
works on raw arrays: an update is not part of any graph.
"""
import copy

from .. import backend
from ..tensor import Tensor


class Optimizer:
    """Base class: ``param_groups``, per-parameter ``state``, ``step()``, ``zero_grad()``, checkpoints."""

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
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.data[...] = 0

    def step(self):
        """One update of every parameter that has a gradient."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p not in self.state:
                    self.state[p] = {}
                self.update(p.data, p.grad.data, self.state[p], group)

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
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: the checkpoint has {len(groups)} parameter groups, "
                f"this optimizer has {len(self.param_groups)}"
            )
        params = self._all_params()
        for mine, saved in zip(self.param_groups, groups):
            if len(mine["params"]) != len(saved["params"]):
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: a group holds {len(saved['params'])} parameters "
                    f"in the checkpoint and {len(mine['params'])} here"
                )
            for k, v in saved.items():
                if k != "params":
                    mine[k] = copy.deepcopy(tuple(v) if isinstance(v, list) and k == "betas" else v)
        self.state = {}
        for i, values in state_dict["state"].items():
            p = params[int(i)]
            restored = {}
            for k, v in values.items():
                if hasattr(v, "shape") and getattr(v, "ndim", 0) > 0:
                    xp = backend.get_array_module(p.data)
                    restored[k] = xp.asarray(v.astype(p.dtype) if v.dtype.kind == "f" else v)
                else:
                    restored[k] = v.item() if hasattr(v, "item") else v
            self.state[p] = restored

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines) + "\n)"
