"""``nn.RoIPool`` and ``nn.RoIAlign``: torchvision.ops' modules, thin wrappers (no parameters)
around ``F.roi_pool`` and ``F.roi_align`` (tinydl/functional/roi.py, docs/roi.md)."""
from ..functional.roi import roi_align, roi_pool
from .module import Module


class RoIPool(Module):
    """(N, C, H, W) features and (K, 5) boxes -> (K, C, oh, ow), max over quantized bins."""

    def __init__(self, output_size, spatial_scale):
        super().__init__()
        self.output_size, self.spatial_scale = output_size, spatial_scale

    def forward(self, input, rois):
        return roi_pool(input, rois, self.output_size, self.spatial_scale)

    def extra_repr(self):
        return f"output_size={self.output_size}, spatial_scale={self.spatial_scale}"


class RoIAlign(Module):
    """(N, C, H, W) features and (K, 5) boxes -> (K, C, oh, ow), averaged bilinear samples."""

    def __init__(self, output_size, spatial_scale, sampling_ratio, aligned=False):
        super().__init__()
        self.output_size, self.spatial_scale = output_size, spatial_scale
        self.sampling_ratio, self.aligned = sampling_ratio, aligned

    def forward(self, input, rois):
        return roi_align(input, rois, self.output_size, self.spatial_scale, self.sampling_ratio, self.aligned)

    def extra_repr(self):
        return (
            f"output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
            f"sampling_ratio={self.sampling_ratio}, aligned={self.aligned}"
        )
