"""Show, Attend and Tell (Xu et al. 2015): an image captioner with soft attention over a CNN feature grid.

The encoder turns an image into ``L = h * w`` annotation vectors ``a_i`` (D numbers each, one per
cell of its last feature map); the decoder is an LSTM that writes the caption one word at a time
and, at every step t, looks again at the image:

    alpha_t = softmax_i( f_att(a_i, h_{t-1}) )                 attention over the L cells  (N, L)
    z_t     = beta_t * sum_i alpha_ti a_i,  beta_t = sigmoid(f_beta(h_{t-1}))   context    (N, D)
    h_t, c_t = LSTM([E y_{t-1}; z_t], (h_{t-1}, c_{t-1}))
    p(y_t)  = softmax( L_o tanh(E y_{t-1} + L_h h_t + L_z z_t) )                deep output

``f_att`` is Bahdanau's additive score (``nn.AdditiveAttention``); the annotation vectors' half
of it, U_a a_i, is computed once per image (``project_keys``).  The initial state is predicted
from the mean annotation vector: ``h_0 = tanh(init_h(mean_i a_i))``, ``c_0 = init_c(mean_i a_i)``.
The training loss (``caption_loss``) is the words' negative log-likelihood under teacher forcing
plus the paper's doubly stochastic attention penalty ``lambda * sum_i (1 - sum_t alpha_ti)^2``.

``attention=False`` gives the comparison model: z_t is the mean annotation vector at every step
(one fixed vector per image, as in "Show and Tell"); there is no alpha and no penalty.
The class's defaults are the paper's model.  The example departs from it in four ways, all for the
colour-shape pairs it never shows in training (the runs that led to them are in the docs): the
encoder reads shapes and colours in two streams (``two_stream=True``, ``Encoder``), so that an unseen
pair is made of features that were seen; the deep output leaves out E y_{t-1}
(``word_in_output=False``), a direct path from the previous word to the next that learns "yellow is
never followed by square"; and training uses word dropout
(``forward(..., word_dropout=p)``: input words replaced by <pad>) and label smoothing
(``caption_loss(..., label_smoothing=eps)``).  The image and the annotation vectors also carry each
pixel's / cell's coordinates (the captions' relations are about positions).
docs/recurrent_attention.md, "The example: captions with attention".
"""
import numpy as np

import tinydl as td

from .. import functional as F
from .. import nn


class Encoder(nn.Module):
    """Image (N, 3, S, S) -> annotation vectors a (N, L, D), one per cell of an h x w grid, L = h * w,
    h = w = S / stride (an 8x8 grid on 32x32 images with ``stride=4``, 16x16 with ``stride=2``).

    ``two_stream=True`` (examples/caption_attention.py's choice) reads the two attributes the captions
    name in two streams, so that a colour-shape pair never seen in training is still two things the
    encoder has seen many times (``object_mask`` assumes the caption scenes; see its docstring):

        shape stream   object_mask(images): 1 where a pixel is an object, whatever its colour  (N, 1, S, S)
                       + two coordinate planes, through three 3x3 conv + batch norm + ReLU
                       layers with 2x2 max-pools                                             (N, D - C - 2, h, w)
        colour stream  a per-pixel MLP (two 1x1 convs: no kernel sees a neighbour, so it cannot
                       see a shape), averaged over each cell                                 (N, C, h, w)
        a_i            both, and the cell's own x and y in [-1, 1]                           (N, D, h, w) -> (N, L, D)

    ``two_stream=False`` (the default) is the paper's kind of encoder: the same conv stack on the RGB
    image (and the coordinate planes), whose features are free to mix colour with shape; on held-out colour-shape
    pairs that costs most of the captions (docs/recurrent_attention.md, "Why the encoder has two
    streams").  The coordinates are there because the captions' relations are about positions."""

    def __init__(self, feature_size=64, width=32, stride=4, two_stream=False):
        super().__init__()
        if stride not in (2, 4):
            raise ValueError(f"Encoder: stride must be 2 or 4 (pixels per grid cell), got {stride}")
        self.two_stream, self.stride = bool(two_stream), stride
        self.colour_size = max(1, feature_size // 8) if self.two_stream else 0  # C: 8 of D = 64
        shape_out = feature_size - 2 - self.colour_size  # the conv stack's channels
        if shape_out < 1:
            raise ValueError(f"Encoder: feature_size={feature_size} leaves no channel for the conv stack")
        shape_in = 1 + 2 if self.two_stream else 3 + 2  # the mask or the RGB image, + x and y
        self.conv1 = nn.Conv2d(shape_in, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(2 * width)
        self.conv3 = nn.Conv2d(2 * width, shape_out, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(shape_out)
        if self.two_stream:
            self.colour1 = nn.Conv2d(3, 16, 1)  # 1x1 convs: a function of each pixel's colour alone
            self.colour2 = nn.Conv2d(16, self.colour_size, 1)

    def forward(self, images):
        n, _, height, width = images.shape
        where = _coordinates(n, height, width, images)  # (N, 2, S, S)
        if not self.two_stream:
            return self.annotations(self.conv_stack(td.cat([images, where], dim=1)))  # (N, L, D)
        shape = self.conv_stack(td.cat([object_mask(images), where], dim=1))  # (N, D - C - 2, h, w)
        colour = F.avg_pool2d(F.relu(self.colour2(F.relu(self.colour1(images)))), self.stride)  # (N, C, h, w)
        return self.annotations(td.cat([shape, colour], dim=1))  # (N, L, D)

    def conv_stack(self, x):
        """(N, in, S, S) -> (N, out, h, w): three 3x3 conv + batch norm + ReLU layers, max-pooled to the grid."""
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)  # (N, W, S/2, S/2)
        x = F.relu(self.bn2(self.conv2(x)))  # (N, 2W, S/2, S/2)
        if self.stride == 4:
            x = F.max_pool2d(x, 2)  # (N, 2W, S/4, S/4)
        return F.relu(self.bn3(self.conv3(x)))  # (N, out, h, w)

    @staticmethod
    def annotations(x):
        """(N, D - 2, h, w) features -> a (N, L, D): each cell's features and its x, y, cells in row-major order."""
        x = td.cat([x, _coordinates(x.shape[0], x.shape[2], x.shape[3], x)], dim=1)  # (N, D, h, w)
        return x.flatten(2).transpose(1, 2)  # (N, L = h*w, D): a_i is row i


def object_mask(images, threshold=0.15):
    """(N, 3, S, S) scenes -> (N, 1, S, S): 1.0 where a pixel differs from the background by more than
    ``threshold`` in some channel, else 0.0.  The mask says where the objects are and not what colour
    they are: the shape stream's only view of the image.

    It assumes what ``tinydl.data.make_captions`` draws, and holds for nothing else: pixel values in
    [0, 1], a flat background covering more than half of each image (the background colour is the
    image's per-channel median), objects that differ from it by well over ``threshold`` and noise well
    under it (sd 0.03).  For photographs it would be meaningless: the two-stream encoder is a model of
    these scenes, not a general-purpose encoder."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"object_mask: images must be (N, 3, H, W), got {tuple(images.shape)}")
    n = images.shape[0]
    flat = images.flatten(2)  # (N, 3, S*S)
    background = flat.sort(dim=2)[0][:, :, flat.shape[2] // 2].reshape(n, 3, 1, 1)  # (N, 3, 1, 1) the median
    return ((images - background).abs().amax(dim=1, keepdim=True) > threshold).to(images.dtype)


def _coordinates(n, height, width, like):
    """(n, 2, height, width): the x and y of every pixel centre, scaled to [-1, 1], on ``like``'s device."""
    xs = (td.arange(width, dtype=like.dtype, device=like.device) + 0.5) * (2 / width) - 1  # (W,)
    ys = (td.arange(height, dtype=like.dtype, device=like.device) + 0.5) * (2 / height) - 1  # (H,)
    grid = td.stack([xs.reshape(1, width).expand(height, width), ys.reshape(height, 1).expand(height, width)])
    return grid.unsqueeze(0).expand(n, 2, height, width)


class ShowAttendTell(nn.Module):
    """The captioner: ``Encoder`` + an LSTM decoder with soft attention (or mean-pooled features).

    ``vocab_size`` V words (ids from a ``tinydl.text.Vocabulary``), ``embed_size`` m (the word
    embedding E and the deep output's width), ``hidden_size`` n (the LSTM), ``attention_size`` (the
    additive score's hidden width), ``feature_size`` D (each a_i), ``stride`` the pixels per grid cell
    (``Encoder``).  The defaults are the paper's model; examples/caption_attention.py uses ``two_stream=True``
    (shapes and colours in two streams, ``Encoder``) and ``word_in_output=False`` (the deep output without
    E y_{t-1}), both for the colour-shape pairs it holds out of training.
    """

    def __init__(self, vocab_size, embed_size=32, hidden_size=128, feature_size=64, attention_size=64, width=32,
                 attention=True, stride=4, two_stream=False, word_in_output=True):
        super().__init__()
        self.attention, self.word_in_output = bool(attention), bool(word_in_output)
        self.encoder = Encoder(feature_size, width, stride, two_stream)
        self.embedding = nn.Embedding(vocab_size, embed_size)  # E
        self.init_h = nn.Linear(feature_size, hidden_size)  # h_0 from mean_i a_i
        self.init_c = nn.Linear(feature_size, hidden_size)  # c_0 from mean_i a_i
        if self.attention:
            self.f_att = nn.AdditiveAttention(hidden_size, feature_size, attention_size)
            self.f_beta = nn.Linear(hidden_size, 1)  # the gating scalar beta_t
        self.lstm = nn.LSTMCell(embed_size + feature_size, hidden_size)
        self.L_h = nn.Linear(hidden_size, embed_size, bias=False)  # the deep output layer
        self.L_z = nn.Linear(feature_size, embed_size, bias=False)
        self.L_o = nn.Linear(embed_size, vocab_size)

    def initial_state(self, images):
        """The decoder's state before the first word: a dict of Tensors whose dim 0 is the batch
        (what ``tinydl.text.greedy_decode`` and ``beam_search`` carry from step to step)."""
        a = self.encoder(images)  # (N, L, D)
        a_mean = a.mean(dim=1)  # (N, D)
        state = {"h": F.tanh(self.init_h(a_mean)), "c": self.init_c(a_mean)}  # (N, n) each
        if self.attention:
            state.update(a=a, keys=self.f_att.project_keys(a))  # (N, L, D), (N, L, attention_size)
        else:
            state.update(a=a_mean)  # (N, D): the one vector the decoder sees at every step
        return state

    def step(self, y_prev, state):
        """One decoder step: y_prev (N,) word ids -> logits (N, V), the next state, alpha_t (N, L) or None."""
        h, c, a = state["h"], state["c"], state["a"]
        Ey = self.embedding(y_prev)  # (N, m)
        if self.attention:
            context, alpha = self.f_att(h, a, projected_keys=state["keys"])  # (N, D), (N, L) from h_{t-1}
            beta = F.sigmoid(self.f_beta(h))  # (N, 1)
            z = beta * context  # (N, D)
        else:
            z, alpha = a, None  # the mean annotation vector
        h, c = self.lstm(td.cat([Ey, z], dim=1), (h, c))  # (N, n) each
        deep = self.L_h(h) + self.L_z(z)  # (N, m)
        if self.word_in_output:  # the paper's E y_{t-1} term: a direct bigram path from the previous word
            deep = deep + Ey
        logits = self.L_o(F.tanh(deep))  # (N, V)
        return logits, dict(state, h=h, c=c), alpha

    def forward(self, images, tokens, word_dropout=0.0, generator=None):
        """Teacher forcing: images (N, 3, S, S), tokens (N, T) the inputs y_0 = <bos>, y_1 .. y_{T-1}.

        Returns logits (N, T, V) for y_1 .. y_T and the attention weights alpha (N, T, L) (None
        without attention).  ``word_dropout`` p > 0 (training): each input word after <bos> is
        replaced by <pad> with probability p, drawn from ``generator`` (a numpy Generator)."""
        if tokens.ndim != 2 or tokens.shape[0] != images.shape[0]:
            raise ValueError(f"ShowAttendTell.forward: tokens must be (N, T) with N = {images.shape[0]} images, "
                             f"got {tuple(tokens.shape)}")
        if word_dropout > 0:
            if generator is None:
                raise ValueError("ShowAttendTell.forward: word_dropout > 0 needs generator= (a numpy Generator)")
            tokens = drop_words(tokens, word_dropout, generator)
        state = self.initial_state(images)
        logits, alphas = [], []
        for t in range(tokens.shape[1]):  # a loop over time steps
            step_logits, state, alpha = self.step(tokens[:, t], state)
            logits.append(step_logits)
            alphas.append(alpha)
        alpha = td.stack(alphas, dim=1) if self.attention else None  # (N, T, L)
        return td.stack(logits, dim=1), alpha  # (N, T, V)

    def log_prob_step(self, tokens, state):
        """``step`` in the form tinydl.text's decoders call: (log-probabilities (B, V), new state)."""
        logits, state, _ = self.step(tokens, state)
        return F.log_softmax(logits, dim=1), state


def drop_words(tokens, p, generator):
    """Word dropout: each input word except <bos> (column 0) replaced by id 0 (<pad>) with probability p.
    tokens (N, T) int64; ``generator`` a numpy Generator (the draws happen on the host)."""
    keep = generator.random(tuple(tokens.shape)) >= p  # (N, T)
    keep[:, 0] = True
    return tokens * td.tensor(keep.astype(np.int64), device=tokens.device)


def doubly_stochastic_penalty(alpha, mask):
    """sum_i (1 - sum_t alpha_ti)^2, averaged over the batch: alpha (N, T, L), mask (N, T) 1 for real steps.

    Xu et al.'s "doubly stochastic attention": sum_i alpha_ti = 1 at every step (the softmax), and the
    penalty asks sum_t alpha_ti to be close to 1 too, so that over the caption every part of the image
    is looked at."""
    if alpha.ndim != 3 or tuple(mask.shape) != tuple(alpha.shape[:2]):
        raise ValueError(f"doubly_stochastic_penalty: alpha must be (N, T, L) and mask (N, T), got "
                         f"{tuple(alpha.shape)} and {tuple(mask.shape)}")
    attended = (alpha * mask.unsqueeze(-1)).sum(dim=1)  # (N, L): sum_t alpha_ti
    return ((1 - attended) ** 2).sum(dim=1).mean()


def caption_loss(logits, targets, alpha, pad, penalty_weight=0.01, label_smoothing=0.0):
    """The total loss and its terms: ``nll`` (cross-entropy of the words, <pad> ignored) and
    ``doubly_stochastic`` (``penalty_weight`` = lambda times the penalty; 0 without attention).

    ``label_smoothing`` eps > 0 (Szegedy et al. 2016) makes ``nll`` the cross-entropy against the target
    (1 - eps) one-hot(y_t) + eps / V: no word's log-probability is asked to go to minus infinity, so a
    word never seen after another ("square" after "yellow" when yellow squares are held out) is not
    pushed ever lower by the training captions (docs/recurrent_attention.md, "Why label smoothing").

    logits (N, T, V), targets (N, T) ids padded with ``pad``, alpha (N, T, L) or None."""
    if logits.ndim != 3 or tuple(targets.shape) != tuple(logits.shape[:2]):
        raise ValueError(f"caption_loss: logits must be (N, T, V) and targets (N, T), got {tuple(logits.shape)} "
                         f"and {tuple(targets.shape)}")
    nll = F.cross_entropy(logits.reshape(-1, logits.shape[2]), targets.reshape(-1), ignore_index=pad,
                          label_smoothing=label_smoothing)
    if alpha is None:
        penalty = td.zeros((), dtype=logits.dtype, device=logits.device)
    else:
        mask = (targets != pad).to(alpha.dtype)  # (N, T)
        penalty = penalty_weight * doubly_stochastic_penalty(alpha, mask)
    return nll + penalty, {"nll": nll, "doubly_stochastic": penalty}
