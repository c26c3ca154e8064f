"""Domain-adversarial training (DANN; Ganin & Lempitsky, *Unsupervised Domain Adaptation by
Backpropagation*, 2015) and its MMD counterpart (DDC; Tzeng et al., *Deep Domain Confusion*, 2014).

Labelled source images x_s and unlabelled target images x_t share one network:

    x (N, 3, S, S) -> G_f (feature extractor)  -> f (N, D)
    f              -> G_y (label predictor)    -> class logits (N, 10)
    f -> R_lambda (gradient reversal) -> G_d (domain classifier) -> domain logit (N, 1)

DANN's saddle point, with d_i = 0 for source and 1 for target images:

    E(theta_f, theta_y, theta_d) = L_y(theta_f, theta_y) - lambda L_d(theta_f, theta_d)
    (theta_f, theta_y) = argmin E,   theta_d = argmax E  (i.e. argmin L_d)

The reversal layer R_lambda (identity forward, -lambda * gradient backward) makes this ONE
minimisation of ``dann_loss`` = L_y + L_d by plain backpropagation: theta_d receives dL_d/dtheta_d,
theta_f receives dL_y/dtheta_f - lambda dL_d/dtheta_f (docs/transfer.md, "DANN").

DDC instead adds the squared MMD between source and target features: ``ddc_loss`` = L_y + gamma MMD^2.
Source-only and target-only training are ``label_loss`` on one domain. All four use ``DANN``'s
blocks, so they start from the same weights for a given seed. ``WeightAverage`` keeps the mean of a
model's weights over the later training steps, the weights examples/train_dann.py evaluates.
"""
import math
from collections import OrderedDict

from .. import backend
from .. import functional as F
from .. import nn
from ..functional.mmd import squared_distances

NUM_CLASSES = 10


class FeatureExtractor(nn.Module):
    """G_f: the paper's MNIST feature extractor (conv 5x5 32 - max-pool - conv 5x5 48 - max-pool),
    ``width`` scaling the channels; (N, 3, S, S) -> (N, 48 w/32 (S/4)^2) features.

    In front, each image's channels are standardized (instance norm without parameters, a fixed
    preprocessing shared by every model): the mean colour and contrast of a texture are then no
    shift at all, and what is left for adaptation is the texture's pattern and the colour mixing."""

    def __init__(self, in_channels=3, image_size=16, width=32):
        super().__init__()
        if image_size % 4:
            raise ValueError(f"FeatureExtractor: image_size must be a multiple of 4, got {image_size}")
        self.layers = nn.Sequential(
            nn.Conv2d(in_channels, width, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),  # (N, w, S/2, S/2)
            nn.Conv2d(width, width * 3 // 2, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),  # (N, 3w/2, S/4, S/4)
            nn.Flatten())
        self.out_features = width * 3 // 2 * (image_size // 4) ** 2

    def forward(self, x):
        x = F.instance_norm(x)  # each image's each channel to mean 0, deviation 1: brightness and contrast out
        return self.layers(x)  # (N, D)


class LabelPredictor(nn.Module):
    """G_y: fc 100 - fc 100 - fc 10 (the paper's), features (N, D) -> class logits (N, 10)."""

    def __init__(self, in_features, hidden=100, num_classes=NUM_CLASSES):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                    nn.Linear(hidden, num_classes))

    def forward(self, f):
        return self.layers(f)


class DomainClassifier(nn.Module):
    """G_d: fc 100 - fc 1 (the paper's), features (N, D) -> the logit of "target domain" (N, 1)."""

    def __init__(self, in_features, hidden=100):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, f):
        return self.layers(f)


class DANN(nn.Module):
    """G_f, G_y, and G_d behind the gradient reversal layer R_lambda (``self.reversal.alpha`` is
    lambda; set it every step with ``lambda_schedule``). ``forward(x)`` gives class logits."""

    def __init__(self, in_channels=3, image_size=16, width=32, hidden=100):
        super().__init__()
        self.feature_extractor = FeatureExtractor(in_channels, image_size, width)
        d = self.feature_extractor.out_features
        self.label_predictor = LabelPredictor(d, hidden)
        self.reversal = nn.GradientReversal(alpha=0.0)
        self.domain_classifier = DomainClassifier(d, hidden)

    def forward(self, x):
        return self.label_predictor(self.feature_extractor(x))  # (N, 10)

    def domain_logits(self, f):
        """G_d(R_lambda(f)): the domain classifier's logits (N, 1), with the gradient into f reversed."""
        return self.domain_classifier(self.reversal(f))


def label_loss(model, x, y):
    """L_y: cross-entropy of G_y(G_f(x)) against the labels y (source-only, target-only training)."""
    return F.cross_entropy(model(x), y)


def domain_loss(model, f_source, f_target):
    """L_d: binary cross-entropy of G_d's "target" logit, d = 0 for source and 1 for target features."""
    f = F.cat([f_source, f_target], dim=0)  # (Ns + Nt, D)
    d = F.cat([f_source.new_zeros((f_source.shape[0], 1)), f_target.new_ones((f_target.shape[0], 1))], dim=0)
    return F.binary_cross_entropy_with_logits(model.domain_logits(f), d)


def dann_loss(model, x_source, y_source, x_target, lambda_p):
    """L_y + L_d through R_lambda (lambda = lambda_p): one backward pass descends L_y and L_d in
    theta_y and theta_d, and L_y - lambda L_d in theta_f. Returns (loss, {"label": L_y, "domain": L_d})."""
    model.reversal.alpha = lambda_p
    f_source = model.feature_extractor(x_source)  # (Ns, D)
    f_target = model.feature_extractor(x_target)  # (Nt, D)
    l_y = F.cross_entropy(model.label_predictor(f_source), y_source)
    l_d = domain_loss(model, f_source, f_target)
    return l_y + l_d, {"label": l_y, "domain": l_d}


def kernel_bandwidths(f_source, f_target, multipliers=(0.25, 0.5, 1.0, 2.0, 4.0)):
    """DDC's Gaussian bandwidths sigma_s = multiplier * the root mean squared distance between the
    batch's features (a constant: computed on the arrays, outside the graph), so that the kernels
    span the features' scale however it drifts during training (Long et al.'s heuristic)."""
    f = F.cat([f_source, f_target], dim=0).detach()
    n = f.shape[0]
    mean_sq_distance = float((squared_distances(f, f).sum() / (n * n - n)).item())
    scale = math.sqrt(max(mean_sq_distance, 1e-12))
    return tuple(m * scale for m in multipliers)


def ddc_loss(model, x_source, y_source, x_target, gamma):
    """L_y + gamma MMD^2(G_f(x_source), G_f(x_target)) (DDC). Returns (loss, {"label": L_y, "mmd": MMD^2})."""
    f_source = model.feature_extractor(x_source)  # (Ns, D)
    f_target = model.feature_extractor(x_target)  # (Nt, D)
    l_y = F.cross_entropy(model.label_predictor(f_source), y_source)
    mmd = F.mmd_loss(f_source, f_target, bandwidths=kernel_bandwidths(f_source, f_target))
    return l_y + gamma * mmd, {"label": l_y, "mmd": mmd}


def lambda_schedule(p, gamma=10.0):
    """The paper's adaptation factor lambda_p = 2 / (1 + exp(-gamma p)) - 1, p in [0, 1] the training
    progress: 0 at the start (G_d's early, noisy gradient is kept out of G_f), near 1 at the end."""
    return 2.0 / (1.0 + math.exp(-gamma * p)) - 1.0


def learning_rate_schedule(p, mu_0=0.01, alpha=10.0, beta=0.75):
    """The paper's annealing mu_p = mu_0 / (1 + alpha p)^beta."""
    return mu_0 / (1.0 + alpha * p) ** beta


class WeightAverage:
    """theta_bar, the mean of a model's parameters over training steps (Polyak & Juditsky's averaging),
    to evaluate in place of the last step's weights. An adversarial game does not settle on its saddle
    point, it circles it: the last step's weights land anywhere on that orbit, their mean near its centre
    (for GANs, Yazici et al. 2019).

    Call ``update(model)`` after every optimizer step of the stretch to average (from where the
    average should start): after n updates, theta_bar_n = theta_bar_{n-1} + (theta_n - theta_bar_{n-1}) / n,
    the plain mean of theta_1 ... theta_n. ``copy_to(model)`` writes theta_bar into a model of the same
    architecture on the same device. Parameters only: a model with buffers (batch-norm statistics) would need them recomputed."""

    def __init__(self, model):
        self.count = 0  # updates so far
        self.average = OrderedDict((name, p.data.copy()) for name, p in model.named_parameters())

    def update(self, model):
        """theta_bar <- theta_bar + (theta - theta_bar) / n, n the number of updates including this one."""
        self.count += 1
        for name, p in self._matching(model, "update"):
            self.average[name] += (p.data - self.average[name]) / self.count

    def copy_to(self, model):
        """Write theta_bar into ``model``'s parameters (in place; their dtype and device kept)."""
        for name, p in self._matching(model, "copy_to"):
            p.data[...] = self.average[name]

    def state_dict(self):
        """count and theta_bar (NumPy copies on the host), for a checkpoint."""
        return {"count": self.count,
                "average": OrderedDict((name, backend.to_numpy(a).copy()) for name, a in self.average.items())}

    def load_state_dict(self, state):
        """Restore count and theta_bar from :meth:`state_dict`'s output, onto this average's devices."""
        if set(state["average"]) != set(self.average):
            raise ValueError(f"WeightAverage.load_state_dict: the state averages {sorted(state['average'])}, "
                             f"this average {sorted(self.average)}")
        shapes = {name: tuple(a.shape) for name, a in state["average"].items()}
        if shapes != {name: tuple(a.shape) for name, a in self.average.items()}:
            raise ValueError(f"WeightAverage.load_state_dict: the state's shapes {shapes} are not this average's "
                             f"{ {name: tuple(a.shape) for name, a in self.average.items()} }")
        self.count = int(state["count"])
        for name, a in self.average.items():
            a[...] = backend.to_device(state["average"][name], backend.device_of(a))

    def _matching(self, model, method):
        """model's (name, parameter) pairs, checked against the averaged names and shapes."""
        parameters = list(model.named_parameters())
        shapes = {name: tuple(p.shape) for name, p in parameters}
        averaged = {name: tuple(a.shape) for name, a in self.average.items()}
        if shapes != averaged:
            raise ValueError(f"WeightAverage.{method}: the model's parameters {shapes} are not the averaged ones "
                             f"{averaged}")
        return parameters
