"""tinydl: a small, readable deep learning engine on NumPy (CPU) and CuPy (GPU).

Start reading at docs/index.md, then autograd.py and tensor.py.
"""
from . import autograd, backend, cuda
from .autograd import Function, detect_anomaly, enable_grad, grad, is_grad_enabled, no_grad, set_grad_enabled
from .creation import (
    arange, empty, eye, from_numpy, full, full_like, linspace, ones, ones_like, rand, rand_like, randint, randn,
    randn_like, randperm, tensor, zeros, zeros_like,
)
from .functional import (  # the ops PyTorch also offers as torch.NAME
    abs, argmax, argmin, cat, clamp, erf, exp, flatten, log, logsumexp, matmul, max, maximum, mean, min, minimum,
    permute, relu, reshape, sigmoid, softmax, sqrt, squeeze, stack, std, sum, tanh, transpose, unsqueeze, var, where,
)
from .functional import (  # more of them (issue 20); all, any and round hide the builtins in this module only
    add, all, allclose, amax, amin, any, argsort, bernoulli, bmm, ceil, chunk, cos, cumsum, div, dot, einsum, eq,
    equal, flip, floor, gather, ge, gt, index_select, isclose, isfinite, isinf, isnan, le, logical_and, logical_not,
    logical_or, logical_xor, lt, masked_fill, masked_select, mm, mul, multinomial, narrow, ne, neg, nonzero, norm,
    outer, prod, repeat_interleave, roll, round, scatter, scatter_add, sign, sin, sort, split, sub, t, topk, tril,
    triu, unbind,
)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .kernels import use_reference_kernels
from .rng import manual_seed
from .tensor import Tensor, bool_, float16, float32, float64, int32, int64

bool = bool_  # td.bool, like torch.bool
from . import data, functional, nn, optim, vision  # noqa: E402
from .serialization import CheckpointError, load, save  # noqa: E402
from . import utils  # noqa: E402  (tinydl.utils.data, PyTorch's import path)
from .generator import Generator  # noqa: E402
from . import distributions  # noqa: E402  (torch.distributions)
from . import accelerator  # noqa: E402  (torch.accelerator)
from .device import device  # noqa: E402
from .tensor import is_tensor  # noqa: E402
from .tensor_types import (  # noqa: E402  (PyTorch's legacy tensor types)
    BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor, HalfTensor, IntTensor, LongTensor, ShortTensor,
)
from . import backends  # noqa: E402  (torch.backends: cudnn, cuda, mps)
from .autograd import inference_mode  # noqa: E402
from .functional import clone, log1p, log_softmax, pow  # noqa: E402
from .extras import as_tensor, get_default_dtype, numel, set_default_dtype, square  # noqa: E402
concat = concatenate = cat  # torch.concat and torch.concatenate: aliases of cat
from .data_hint import install as _install_data_hint  # noqa: E402

_install_data_hint()  # an uncaught p.data.add_(...) says why it fails (data_hint.py)
# td.float, td.double, ... as torch.float (here, after every import: these names hide the builtins)
float, double, half, long, int = float32, float64, float16, int64, int32

__version__ = "0.1.0"
