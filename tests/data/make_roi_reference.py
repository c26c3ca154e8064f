"""Write tests/data/roi_reference.npz: torchvision's roi_pool and roi_align, in float64.

Run it with a Python that has torch and torchvision (tinydl's test suite never
imports it; tests/test_roi.py only reads the .npz it writes):

    python3 -m venv /tmp/tvenv && /tmp/tvenv/bin/pip install torch torchvision numpy
    /tmp/tvenv/bin/python tests/data/make_roi_reference.py

Every case stores, under the prefix ``<name>__``:
    x (N, C, H, W)       the feature map
    boxes (K, 5)         rows [batch_index, x1, y1, x2, y2], in image coordinates
    params (6,)          [is_align, oh, ow, spatial_scale, sampling_ratio, aligned]
    out (K, C, oh, ow)   torchvision's output
    g (K, C, oh, ow)     a fixed random upstream gradient
    grad (N, C, H, W)    d(sum(out * g)) / dx, from torchvision's backward
"""
import os

import numpy as np
import torch
import torchvision
from torchvision.ops import roi_align, roi_pool
from torchvision.ops.roi_align import _roi_align

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20240611)


def feature_boxes(h, w):
    """Boxes in feature-map units [batch, x1, y1, x2, y2] on an h x w map, one of each kind."""
    return np.array(
        [
            [0, 1.3, 0.7, 5.2, 4.1],  # inside
            [1, 0.0, 0.0, w - 1, h - 1],  # from the first to the last pixel
            [0, 0.0, 0.0, w, h],  # the whole map, to its far border
            [1, 2.0, 1.0, 2.0, 4.0],  # zero width
            [0, 1.0, 3.0, 6.0, 3.0],  # zero height
            [1, 3.0, 2.0, 3.0, 2.0],  # a point
            [0, 0.5, 1.5, 2.5, 3.5],  # half-integer corners: C's round sends halves away from 0
            [1, -2.5, -1.5, 3.3, 2.2],  # partly outside, top left
            [0, w - 3.4, h - 2.6, w + 3.1, h + 2.9],  # partly outside, bottom right
            [1, -0.6, 2.0, 4.0, h + 0.7],  # over two borders
            [0, w + 2.0, h + 1.0, w + 6.0, h + 4.0],  # entirely outside, past the far border
            [1, -9.0, -7.5, -3.0, -2.0],  # entirely outside, before the near border
            [0, 5.0, 4.0, 1.0, 1.0],  # inverted
            [1, 6.5, 2.0, 2.5, 5.0],  # inverted in x only
            [0, -1.0, -1.0, 0.0, 0.0],  # touching the -1 border of roi_align's rule
        ],
        dtype=np.float64,
    )


def random_boxes(k, n, h, w):
    """Boxes of every size, some out of the map, some inverted (image coords = feature coords here)."""
    corners = rng.uniform(-0.3, 1.3, size=(k, 4)) * np.array([w, h, w, h])
    index = rng.integers(0, n, size=(k, 1)).astype(np.float64)
    return np.concatenate([index, corners], axis=1)


def crashes_torchvision(boxes, output_size, spatial_scale, sampling_ratio, aligned):
    """The boxes torchvision's CPU roi_align cannot take: with aligned=True and adaptive
    sampling, an inverted box gets a negative sample count ceil(side / out) on one axis,
    and the kernel's std::vector of gh * gw * oh * ow entries gets a negative size
    ("cannot create std::vector larger than max_size()").  Its CUDA kernel and its
    pure-Python _roi_align give such a box zeros, as tinydl does."""
    if not aligned or sampling_ratio > 0:
        return np.zeros(len(boxes), dtype=bool)
    x1, y1, x2, y2 = (boxes[:, i] * spatial_scale - 0.5 for i in range(1, 5))
    grid_h, grid_w = np.ceil((y2 - y1) / output_size[0]), np.ceil((x2 - x1) / output_size[1])
    return grid_h * grid_w < 0


def run(x, boxes, is_align, output_size, spatial_scale, sampling_ratio=-1, aligned=False, python_impl=False):
    if is_align and not python_impl:
        boxes = boxes[~crashes_torchvision(boxes, output_size, spatial_scale, sampling_ratio, aligned)]
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    bt = torch.tensor(boxes, dtype=torch.float64)
    if python_impl:  # torchvision's own pure-Python roi_align (what it runs for deterministic CUDA)
        out = _roi_align(xt, bt, spatial_scale, output_size[0], output_size[1], sampling_ratio, aligned)
    elif is_align:
        out = roi_align(xt, bt, output_size, spatial_scale, sampling_ratio, aligned)
    else:
        out = roi_pool(xt, bt, output_size, spatial_scale)
    g = rng.standard_normal(tuple(out.shape))
    if python_impl:  # its autograd gradient is NaN where it masks samples out; take the C++ backward kernel's
        n, c, h, w = x.shape
        grad = torch.ops.torchvision._roi_align_backward(
            torch.tensor(g), bt, spatial_scale, *output_size, n, c, h, w, sampling_ratio, aligned
        )
    else:
        out.backward(torch.tensor(g))
        grad = xt.grad
    params = np.array([is_align, *output_size, spatial_scale, sampling_ratio, aligned], dtype=np.float64)
    return {"x": x, "boxes": boxes, "params": params, "out": out.detach().numpy(), "g": g, "grad": grad.numpy()}


def main():
    cases = {}
    n, c, h, w = 2, 2, 6, 8
    sizes = [(2, 2), (3, 2), (2, 4), (1, 1), (4, 3), (7, 7)]

    # the box kinds, in feature-map units, scaled up to image units for every spatial_scale
    for scale in (1.0, 0.5, 0.25):
        base = feature_boxes(h, w)
        boxes = base.copy()
        boxes[:, 1:] /= scale
        for size in sizes[:3] + ([sizes[5]] if scale == 0.25 else []):  # 7 x 7: bins smaller than a pixel
            x = rng.standard_normal((n, c, h, w))
            cases[f"pool_scale{scale}_{size[0]}x{size[1]}"] = run(x, boxes, False, size, scale)
        for sampling in (-1, 0, 1, 2):
            for aligned in (False, True):
                size = sizes[(sampling + 1 + 3 * aligned) % len(sizes)]
                x = rng.standard_normal((n, c, h, w))
                name = f"align_scale{scale}_s{sampling}_{'aligned' if aligned else 'legacy'}_{size[0]}x{size[1]}"
                cases[name] = run(x, boxes, True, size, scale, sampling, aligned)

    # random boxes: many overlaps (gradients accumulate), adaptive grids that differ per box
    for trial in range(4):
        x = rng.standard_normal((3, 2, 9, 7))
        boxes = random_boxes(12, 3, 9, 7)
        size = sizes[trial]
        cases[f"pool_random{trial}"] = run(x, boxes, False, size, 1.0)
        cases[f"align_random{trial}_legacy"] = run(x, boxes, True, size, 1.0, -1, False)
        cases[f"align_random{trial}_aligned"] = run(x, boxes, True, size, 1.0, 2 if trial % 2 else 0, True)

    # ties: on a map of small integers many pixels share a bin's maximum; torchvision's strict '>'
    # scan keeps the first in row-major order, and the gradient goes there alone
    x = rng.integers(0, 3, size=(2, 2, 6, 8)).astype(np.float64)
    boxes = feature_boxes(6, 8)
    cases["pool_ties"] = run(x, boxes, False, (2, 3), 1.0)
    cases["pool_ties_whole_bins"] = run(np.zeros((2, 2, 6, 8)), boxes, False, (3, 2), 0.5)

    # thin maps: one row, one column, one pixel
    for shape in ((1, 1, 1, 5), (1, 1, 4, 1), (1, 2, 1, 1)):
        x = rng.standard_normal(shape)
        boxes = np.array([[0, -0.7, -0.4, 3.2, 2.6], [0, 0.2, 0.1, 0.9, 0.6], [0, 2.0, 1.0, -1.0, 0.5]])
        tag = "x".join(map(str, shape[2:]))
        cases[f"pool_thin{tag}"] = run(x, boxes, False, (2, 3), 1.0)
        cases[f"align_thin{tag}_legacy"] = run(x, boxes, True, (2, 3), 1.0, -1, False)
        cases[f"align_thin{tag}_aligned"] = run(x, boxes, True, (3, 2), 1.0, 2, True)

    # inverted boxes with aligned=True and adaptive sampling: the sample counts are negative,
    # every output is 0.  The C++ kernel crashes on them (see crashes_torchvision), so these
    # come from torchvision's pure-Python _roi_align, which agrees with the C++ kernel elsewhere
    # but only samples up to H x W points per bin (keep the boxes small enough for that), and
    # their gradients from the C++ backward kernel, which loops over no samples for these boxes.
    x = rng.standard_normal((2, 2, 6, 8))
    boxes = np.array([[0, 5.0, 4.0, 1.0, 1.0], [1, 6.5, 2.0, 2.5, 5.0], [0, 1.0, 5.0, 3.0, 0.5], [1, 1.3, 0.7, 5.2, 4.1]])
    for scale in (1.0, 0.5):
        cases[f"align_inverted_adaptive_scale{scale}"] = run(x, boxes, True, (2, 2), scale, -1, True, python_impl=True)

    arrays = {"names": np.array(sorted(cases)), "versions": np.array([torch.__version__, torchvision.__version__])}
    for name, case in cases.items():
        for key, value in case.items():
            assert np.isfinite(value).all(), f"{name}: {key} is not finite"
            arrays[f"{name}__{key}"] = np.asarray(value, dtype=np.float64)
    path = os.path.join(HERE, "roi_reference.npz")
    np.savez_compressed(path, **arrays)
    print(f"wrote {len(cases)} cases to {path} ({os.path.getsize(path) / 1024:.0f} KB), "
          f"torch {torch.__version__}, torchvision {torchvision.__version__}")


if __name__ == "__main__":
    main()
