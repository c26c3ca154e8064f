"""``nn.DataParallel`` and ``nn.parallel.data_parallel`` for scripts written for PyTorch, on tinydl's one device.

PyTorch's DataParallel splits each batch over several GPUs, runs a replica of
the module on each and gathers the outputs.  tinydl drives one device (the
CPU, or one GPU through CuPy), so there is nothing to split: with one device
(or none named) the wrapper runs the module itself, which is what PyTorch's
does with a single GPU too.  Asking for more than one device is refused, since
silently running on one would not be what the script asked for.  The wrapped
module is ``.module`` and the state dict keys carry PyTorch's ``module.``
prefix, so checkpoints move between the two libraries as they do in PyTorch.
"""
from .module import Module


def _one_device(device_ids, output_device, who):
    """Refuse more than one device: tinydl has one."""
    ids = list(device_ids) if device_ids is not None else []
    if len(ids) > 1 or (output_device is not None and ids and output_device != ids[0]):
        raise ValueError(f"{who}: tinydl runs on one device, so device_ids={device_ids!r} "
                         f"(output_device={output_device!r}) cannot be honoured; use one device or none")


class DataParallel(Module):
    """``DataParallel(module, device_ids=None, output_device=None, dim=0)``: the module itself, on one device."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        _one_device(device_ids, output_device, "DataParallel")
        self.module = module
        self.dim = dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0, module_kwargs=None):
    """``nn.parallel.data_parallel``: ``module(*inputs, **module_kwargs)`` on tinydl's one device."""
    _one_device(device_ids, output_device, "data_parallel")
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    return module(*inputs, **(module_kwargs or {}))
