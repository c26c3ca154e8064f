"""``nn.Module`` and ``nn.Parameter``: containers of state that compose.

A Module keeps three ordered dicts, filled by plain attribute assignment:

* ``_parameters``: Tensors the optimizer trains (``self.weight = Parameter(...)``);
* ``_buffers``: Tensors that are state but not trained (``running_mean``);
* ``_modules``: child Modules (``self.fc1 = Linear(...)``).

Everything else (``parameters()``, ``state_dict()``, ``.to()``, ``train()``)
is a walk over that tree.  State-dict keys are the dotted attribute paths
(``features.0.weight``), exactly as in PyTorch, so checkpoints convert both ways.
"""
from collections import OrderedDict, namedtuple

import numpy as np

from .. import backend
from ..tensor import Tensor, _to_arguments

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Parameter(Tensor):
    """A Tensor that a Module registers as trainable; requires grad by default."""

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.zeros(0, dtype=np.float32)
        if isinstance(data, Tensor):
            data = data.data
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of every layer and model: subclass it, assign parts in __init__, write forward."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration by assignment --------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() is called (call super().__init__())")
        # Replacing a parameter or submodule keeps its place in the order (and in state_dict), as in PyTorch.
        if isinstance(value, Parameter):
            if name not in self._parameters:
                self._forget(name)
            self._parameters[name] = value
        elif isinstance(value, Module):
            if name not in self._modules:
                self._forget(name)
            self._modules[name] = value
        elif name in self._parameters:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} to parameter {name!r} (use nn.Parameter or None)")
            self._parameters[name] = None
        elif name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign a {type(value).__name__} to buffer {name!r} (use a Tensor or None)")
            self._buffers[name] = value
        elif name in self._modules:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} to child module {name!r}")
            self._modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):  # only called when normal lookup fails
        for table in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(table)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        if not self._forget(name):
            object.__delattr__(self, name)

    def _forget(self, name):
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                self._non_persistent.discard(name)
                return True
        self.__dict__.pop(name, None)
        return False

    def register_parameter(self, name, param):
        if param is None:
            self._forget(name)
            self._parameters[name] = None
        else:
            setattr(self, name, param if isinstance(param, Parameter) else Parameter(param))

    def register_buffer(self, name, tensor, persistent=True):
        """A non-trained Tensor saved in state_dict (unless persistent=False) and moved by .to()."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None, got {type(tensor).__name__}")
        self._forget(name)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module, got {type(module).__name__}")
        if name not in self._modules:  # a replaced submodule keeps its place, as in __setattr__
            self._forget(name)
        self._modules[name] = module

    register_module = add_module

    # ---- calling ------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ---- walking the tree ---------------------------------------------------
    def named_modules(self, memo=None, prefix=""):
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        for name, child in self._modules.items():
            if child is not None:
                yield name, child

    def children(self):
        for _, child in self.named_children():
            yield child

    def _named_tensors(self, table, prefix, recurse):
        seen = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, tensor in getattr(module, table).items():
                if tensor is None or id(tensor) in seen:
                    continue
                seen.add(id(tensor))
                yield (f"{module_prefix}.{name}" if module_prefix else name), tensor

    def named_parameters(self, prefix="", recurse=True):
        """(name, Parameter) pairs; a Parameter shared by two modules is listed once."""
        return self._named_tensors("_parameters", prefix, recurse)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True):
        return self._named_tensors("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn):
        """Call ``fn`` on every submodule (children first) and on self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ---- modes and gradients -----------------------------------------------
    def train(self, mode=True):
        """Training mode (dropout active, batch norm uses batch statistics); returns self."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad = Tensor(backend.get_array_module(p.data).zeros_like(p.data))

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    # ---- device and dtype ---------------------------------------------------
    def _convert(self, convert):
        """Replace the array of every parameter, gradient and buffer in place (the Parameter
        objects stay the same, so an optimizer built earlier still holds them)."""
        for m in self.modules():
            for table in (m._parameters, m._buffers):
                for t in table.values():
                    if t is None:
                        continue
                    t.data = convert(t.data)
                    if t.grad is not None:
                        t.grad = Tensor(convert(t.grad.data))
        return self

    def to(self, *args, **kwargs):
        """PyTorch's forms: ``model.to('cuda')``, ``model.to(td.float64)``, ``model.to(device, dtype)``,
        ``model.to(tensor)`` (its device and dtype), ``model.to(device=..., dtype=..., non_blocking=...)``;
        moves every parameter and buffer in place and returns self."""
        device, dtype, _ = _to_arguments(args, kwargs)
        if dtype is not None:
            if dtype.kind != "f":
                raise TypeError(f"Module.to: only floating dtypes are allowed, got {dtype}")
            # only floating tensors change dtype (an int64 counter stays int64, as in PyTorch)
            self._convert(lambda a: a.astype(dtype) if a.dtype.kind == "f" else a)
        if device is not None:
            self._convert(lambda a: backend.to_device(a, device))
        return self

    def double(self):
        return self.to(np.float64)

    def float(self):
        return self.to(np.float32)

    def cuda(self):
        return self.to("cuda")

    def cpu(self):
        return self.to("cpu")

    # ---- checkpoints --------------------------------------------------------
    def _state_tensors(self):
        """name -> Tensor for every parameter and persistent buffer, in PyTorch's order
        (each module's parameters, then its buffers, then its children)."""
        state = OrderedDict()
        for prefix, m in self.named_modules():
            dotted = prefix + "." if prefix else ""
            for name, p in m._parameters.items():
                if p is not None:
                    state[dotted + name] = p
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent:
                    state[dotted + name] = b
        return state

    def state_dict(self):
        """An ordered dict from dotted names to NumPy arrays (copies, on the host)."""
        return OrderedDict((name, backend.to_numpy(t.data).copy()) for name, t in self._state_tensors().items())

    def load_state_dict(self, state_dict, strict=True):
        """Copy values into the existing parameters and buffers, keeping their dtype and device.

        With ``strict=True`` missing or unexpected keys raise; a shape mismatch always raises.
        """
        own = self._state_tensors()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise RuntimeError(
                f"load_state_dict for {type(self).__name__}: missing keys {missing}, unexpected keys {unexpected}"
            )
        for name, tensor in own.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            value = value.data if isinstance(value, Tensor) else value
            value = backend.to_numpy(value) if hasattr(value, "shape") else np.asarray(value)
            if tuple(value.shape) != tuple(tensor.shape):
                raise RuntimeError(
                    f"load_state_dict: size mismatch for {name}: the checkpoint has shape {tuple(value.shape)}, "
                    f"the model has {tuple(tensor.shape)}"
                )
            xp = backend.get_array_module(tensor.data)
            tensor.data[...] = xp.asarray(value.astype(tensor.dtype, copy=False))
        return IncompatibleKeys(missing, unexpected)

    # ---- printing -----------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = []
        for name, child in self._modules.items():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        head = f"{type(self).__name__}({extra}" if extra else f"{type(self).__name__}("
        return head + "\n" + "\n".join(lines) + "\n)"
