"""``td.device``: PyTorch's device object, as a string that knows its parts.

``td.device("cuda")``, ``td.device("cuda:0")``, ``td.device("cuda", 0)`` and
``td.device("cpu")`` print, compare and hash as PyTorch's do, and have
``.type`` ("cpu" or "cuda") and ``.index`` (an int, or None).

Why a subclass of ``str``: everywhere tinydl takes a device it already takes
the strings ``"cpu"`` and ``"cuda"`` (``t.to(...)``, ``model.to(...)``,
``td.zeros(..., device=...)``), and all of them go through one function,
``backend.normalize_device``.  A device that *is* its string (``"cuda:0"``) is
accepted by all of them with no change, costs nothing to compare, and is what
``t.device`` returns.  One difference from PyTorch follows:
``td.device("cpu") == "cpu"`` is True (PyTorch says False).
"""

TYPES = ("cpu", "cuda")


class device(str):
    """A device: ``td.device("cuda")``, ``td.device("cuda:0")``, ``td.device("cuda", 0)``, ``td.device("cpu")``.

    tinydl uses one GPU, so ``"cuda"`` and ``"cuda:0"`` hold tensors on the same GPU; a device
    such as ``"cuda:1"`` can be named (as in PyTorch) but making a tensor there is refused.
    """

    def __new__(cls, type, index=None):
        if isinstance(type, device) and index is None:
            return type
        if isinstance(type, int) and not isinstance(type, bool) and index is None:
            type, index = "cuda", type  # td.device(0): the first GPU, as torch.device(0) on a CUDA machine
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string such as 'cuda' or 'cpu', got {type!r} ({_name(type)})")
        name, colon, number = type.partition(":")
        if colon:
            if index is not None:
                raise RuntimeError(f"device: {type!r} holds an index already, and index={index!r} was passed too")
            if not number.isdigit():
                raise RuntimeError(f"device: invalid device string {type!r}: the index after ':' must be an int >= 0")
            index = int(number)
        if name not in TYPES:
            raise RuntimeError(f"device: unknown device type {name!r} in {type!r}; tinydl runs on 'cpu' and 'cuda'")
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, int):
                raise TypeError(f"device: index must be an int, got {index!r} ({_name(index)})")
            if index < 0:
                raise RuntimeError(f"device: index must not be negative, got {index}")
        return super().__new__(cls, name if index is None else f"{name}:{index}")

    def __getnewargs__(self):  # pickling (DataLoader workers) rebuilds it from its string
        return (str(self),)

    @property
    def type(self):
        """'cpu' or 'cuda'."""
        return self.partition(":")[0]

    @property
    def index(self):
        """The device's number (``td.device("cuda:0").index == 0``), or None when not given."""
        _, colon, number = self.partition(":")
        return int(number) if colon else None

    def __repr__(self):
        index = self.index
        return f"device(type='{self.type}')" if index is None else f"device(type='{self.type}', index={index})"

    def __str__(self):
        return str.__str__(self)

    __hash__ = str.__hash__


def _name(value):
    return type(value).__name__


CPU = device("cpu")
CUDA = device("cuda")
