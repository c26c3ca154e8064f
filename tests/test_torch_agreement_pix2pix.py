"""pix2pix's PatchGAN and CycleGAN's ResNet generator against the authors' PyTorch modules (the
pytorch-CycleGAN-and-pix2pix repository's NLayerDiscriminator and ResnetGenerator, rebuilt here layer by
layer), with our weights copied in, in float64: the outputs and the input gradients agree."""
import numpy as np
import pytest

import tinydl as td
from tinydl import nn
from tinydl.models import PatchGANDiscriminator, ResnetGenerator

torch = pytest.importorskip("torch")
tnn = torch.nn


def copy_weights(ours, reference):
    """Our convolutions and batch norms, in order, into the reference's (same types, same bias or none)."""
    kinds = (tnn.Conv2d, tnn.ConvTranspose2d, tnn.BatchNorm2d)
    theirs = [m for m in reference.modules() if isinstance(m, kinds)]
    mine = [m for m in ours.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d))]
    assert [type(m).__name__ for m in mine] == [type(m).__name__ for m in theirs]
    for a, b in zip(mine, theirs):
        b.weight.data = torch.tensor(a.weight.data.astype(np.float64))
        assert (a.bias is None) == (b.bias is None), (a, b)
        if a.bias is not None:
            b.bias.data = torch.tensor(a.bias.data.astype(np.float64))


def nlayer_discriminator(in_channels, width, n_layers, norm):
    """The authors' NLayerDiscriminator: C64 without norm, then Ck (stride 2) up to n_layers, one Ck stride 1,
    a 1-channel 4 x 4 conv; biases only where no batch norm follows."""
    bias = norm == "instance"
    norm_layer = tnn.BatchNorm2d if norm == "batch" else tnn.InstanceNorm2d
    layers = [tnn.Conv2d(in_channels, width, 4, 2, 1), tnn.LeakyReLU(0.2)]
    multiple = 1
    for n in range(1, n_layers + 1):
        previous, multiple = multiple, min(2 ** n, 8)
        stride = 2 if n < n_layers else 1
        layers += [tnn.Conv2d(width * previous, width * multiple, 4, stride, 1, bias=bias), norm_layer(width * multiple),
                   tnn.LeakyReLU(0.2)]
    layers += [tnn.Conv2d(width * multiple, 1, 4, 1, 1)]
    return tnn.Sequential(*layers).double()


class ResnetBlock(tnn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = tnn.Sequential(tnn.ReflectionPad2d(1), tnn.Conv2d(c, c, 3), tnn.InstanceNorm2d(c), tnn.ReLU(),
                                   tnn.ReflectionPad2d(1), tnn.Conv2d(c, c, 3), tnn.InstanceNorm2d(c))

    def forward(self, x):
        return x + self.body(x)


def resnet_generator(in_channels, out_channels, width, n_blocks):
    """The authors' ResnetGenerator with instance norm: c7s1-k, d2k, d4k, R4k x n_blocks, u2k, uk, c7s1-3."""
    layers = [tnn.ReflectionPad2d(3), tnn.Conv2d(in_channels, width, 7), tnn.InstanceNorm2d(width), tnn.ReLU()]
    for k in (1, 2):
        layers += [tnn.Conv2d(width * k, width * 2 * k, 3, stride=2, padding=1), tnn.InstanceNorm2d(width * 2 * k),
                   tnn.ReLU()]
    layers += [ResnetBlock(width * 4) for _ in range(n_blocks)]
    for k in (4, 2):
        layers += [tnn.ConvTranspose2d(width * k, width * k // 2, 3, stride=2, padding=1, output_padding=1),
                   tnn.InstanceNorm2d(width * k // 2), tnn.ReLU()]
    layers += [tnn.ReflectionPad2d(3), tnn.Conv2d(width, out_channels, 7), tnn.Tanh()]
    return tnn.Sequential(*layers).double()


def agree(ours, reference, x):
    """Outputs and the gradient of sum(output^2) with respect to the input, both libraries."""
    mine = td.tensor(x, requires_grad=True)
    out = ours(mine)
    (out ** 2).sum().backward()
    theirs = torch.tensor(x, requires_grad=True)
    out_ref = reference(theirs)
    (out_ref ** 2).sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), out_ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("norm", ["batch", "instance"])
@pytest.mark.parametrize("n_layers", [1, 2, 3])
def test_patchgan_matches_the_authors_nlayer_discriminator(norm, n_layers):
    td.manual_seed(n_layers)
    ours = PatchGANDiscriminator(3, width=4, n_layers=n_layers, norm=norm).double()
    reference = nlayer_discriminator(3, 4, n_layers, norm)
    copy_weights(ours, reference)
    agree(ours, reference, np.random.default_rng(n_layers).standard_normal((2, 3, 40, 36)))


def test_resnet_generator_matches_the_authors():
    td.manual_seed(0)
    ours = ResnetGenerator(3, 3, width=4, n_blocks=2).double()
    reference = resnet_generator(3, 3, 4, 2)
    copy_weights(ours, reference)
    agree(ours, reference, np.random.default_rng(9).standard_normal((2, 3, 20, 24)))
