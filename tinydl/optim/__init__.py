"""``tinydl.optim``: SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta and LBFGS with PyTorch's
update rules, and ``lr_scheduler``."""
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .sgd import SGD
from . import lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .lbfgs import LBFGS
from .rmsprop import RMSprop
