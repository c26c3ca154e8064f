"""``tinydl.nn``: Module, Parameter, layers, containers, losses, init and utils.

``tinydl.nn.functional`` is ``tinydl.functional`` itself (one module, two names), so PyTorch's
``import torch.nn.functional as F`` and ``torch.nn.functional.interpolate(...)`` work as written."""
import sys

from .. import functional
from . import init, utils

sys.modules[__name__ + ".functional"] = functional  # `import tinydl.nn.functional` finds it here
from .activation import GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Softplus, Tanh
from .attention import MultiheadAttention
from .additive_attention import AdditiveAttention
from .container import ModuleDict, ModuleList, Sequential
from .conv import Conv2d, ConvTranspose2d
from .dropout import Dropout, Dropout2d
from .embedding import Embedding
from .flatten import Flatten
from .linear import Identity, Linear
from .loss import (
    BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss, SmoothL1Loss,
)
from .module import Module, Parameter
from .recurrent import GRU, LSTM, RNN, RNNBase
from .cells import GRUCell, LSTMCell, RNNCell, RNNCellBase
from .roi import RoIAlign, RoIPool
from .normalization import BatchNorm1d, BatchNorm2d, InstanceNorm2d, LayerNorm
from .pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d, MaxUnpool2d, Upsample
from .transformer import PositionalEncoding, TransformerEncoder, TransformerEncoderLayer
from .transformer import Transformer, TransformerDecoder, TransformerDecoderLayer
from .padding import (
    CircularPad1d, CircularPad2d, ConstantPad1d, ConstantPad2d, ConstantPad3d, ReflectionPad1d, ReflectionPad2d,
    ReflectionPad3d, ReplicationPad1d, ReplicationPad2d, ReplicationPad3d, ZeroPad1d, ZeroPad2d, ZeroPad3d,
)
from .pixelshuffle import PixelShuffle, PixelUnshuffle
from .smooth_activations import ELU, SiLU  # ELU ... GroupNorm: common extras (issue 20)
from .unflatten import Unflatten
from .group_norm import GroupNorm
from .prelu import PReLU
from .kl_div import KLDivLoss
from .domain_adaptation import GradientReversal, MMDLoss  # domain adaptation (issue 18)
from . import parallel  # noqa: E402  (nn.parallel.data_parallel, as PyTorch)
from .parallel import DataParallel
