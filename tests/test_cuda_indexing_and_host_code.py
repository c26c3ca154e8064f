"""Issue 14, bugs 6-9: host code meeting device arrays, and index ops where a GPU differs from NumPy.

Every test takes the ``device`` fixture, so it runs on the CPU and on "cuda" (a real GPU, or
tinydl's CuPy stand-in, which refuses ``np.asarray(device_array)``, wraps out-of-range index
arrays around and keeps an undefined one of repeated assignments, as a GPU does).

- bug 6: ``tinydl.vision`` and the YOLO helpers take raw device arrays as they take cuda Tensors;
- bug 7: ``TensorDataset`` / ``DataLoader`` / ``default_collate`` batch device data on its device;
- bug 8: an out-of-range index array raises IndexError on both devices (no wrap-around, and so no
  gradient landing on the wrong element);
- bug 9: ``max_unpool2d`` with repeated indices keeps the last value of each plane (PyTorch's CPU
  rule) on both devices.
"""
import numpy as np
import pytest

import tinydl as td
import tinydl.functional as F
from tinydl import backend
from tinydl.data import DataLoader, Dataset, TensorDataset, default_collate
from tinydl.models.yolo import decode_boxes, encode_targets, paired_iou, yolo_loss, TinyYOLO
from tinydl.vision import (
    average_precision, batched_nms, box_area, box_iou, confusion_matrix, iou_per_class, mean_average_precision,
    mean_iou, nms,
)

from helpers import const, host, leaf


def on(device, array, kind):
    """``array`` on ``device`` as a raw array ("array": NumPy or CuPy) or as a Tensor ("tensor")."""
    array = np.asarray(array)
    if kind == "tensor":
        return td.tensor(array, device=device)
    return backend.to_device(array, device)


# ---- bug 6: tinydl.vision and the YOLO helpers take raw device arrays --------------------------
BOXES = np.array([[0, 0, 2, 2], [1, 1, 3, 3], [0, 0, 2, 2.1], [10, 10, 11, 11]])
SCORES = np.array([0.9, 0.8, 0.85, 0.3])


@pytest.mark.parametrize("kind", ["array", "tensor"])
def test_box_iou_area_and_nms_take_device_arrays(device, kind):
    """Bug 6: box_iou / box_area / nms / batched_nms of raw device arrays (np.asarray raised on them)."""
    boxes, scores = on(device, BOXES, kind), on(device, SCORES, kind)
    iou = box_iou(boxes, boxes)
    assert isinstance(iou, np.ndarray) and iou.shape == (4, 4)  # documented: computed and returned on the host
    np.testing.assert_allclose(iou[0, 1], 1 / 7, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(box_area(boxes), [4, 4, 4.2, 1], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(nms(boxes, scores, 0.5), [0, 1, 3])
    classes = on(device, [0, 1, 1, 0], kind)
    np.testing.assert_array_equal(batched_nms(boxes, scores, classes, 0.5), [0, 2, 1, 3])


@pytest.mark.parametrize("kind", ["array", "tensor"])
def test_detection_metrics_take_device_arrays(device, kind):
    """Bug 6: average_precision / mean_average_precision of per-image raw device arrays."""
    truth = on(device, [[0, 0, 2, 2]], kind)
    result = average_precision([on(device, BOXES[:2], kind)], [on(device, SCORES[:2], kind)], [truth])
    np.testing.assert_allclose(result.ap, 1.0, rtol=1e-12, atol=1e-12)
    predictions = [(on(device, BOXES[:2], kind), on(device, SCORES[:2], kind), on(device, [0, 1], kind))]
    targets = [(truth, on(device, [0], kind))]
    result = mean_average_precision(predictions, targets, num_classes=2)
    np.testing.assert_allclose(result.map, 1.0, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["array", "tensor"])
def test_segmentation_metrics_take_device_arrays(device, kind):
    """Bug 6: confusion_matrix / mean_iou / iou_per_class of raw device label maps."""
    pred, target = on(device, [[0, 1], [1, 1]], kind), on(device, [[0, 1], [0, 1]], kind)
    confusion = confusion_matrix(pred, target, 2)
    np.testing.assert_array_equal(confusion, [[1, 1], [0, 2]])
    np.testing.assert_allclose(mean_iou(pred, target, 2).per_class, [0.5, 2 / 3], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(iou_per_class(on(device, confusion, kind)), [0.5, 2 / 3], rtol=1e-12, atol=1e-12)


YOLO_BOXES = np.array([[[4, 4, 20, 20], [30, 40, 50, 60]], [[0, 0, 10, 10], [0, 0, 0, 0]]], dtype=np.float64)
YOLO_LABELS = np.array([[1, 2], [0, -1]])


@pytest.mark.parametrize("kind", ["array", "tensor"])
def test_yolo_targets_and_loss_take_device_boxes(device, kind):
    """Bug 6: encode_targets and TinyYOLO.loss of device boxes and labels (np.asarray raised on them)."""
    expected = encode_targets(YOLO_BOXES, YOLO_LABELS)
    targets = encode_targets(on(device, YOLO_BOXES, kind), on(device, YOLO_LABELS, kind))
    for got, want in zip(targets, expected):
        assert isinstance(got, np.ndarray)  # documented: the targets are made on the host
        np.testing.assert_array_equal(got, want)
    td.manual_seed(0)
    model = TinyYOLO(width=2).to(device)
    raw = model(td.tensor(np.random.default_rng(0).uniform(0, 1, (2, 3, 64, 64)), dtype=td.float32, device=device))
    total = model.loss(raw, on(device, YOLO_BOXES, kind), on(device, YOLO_LABELS, kind))[0]
    reference = yolo_loss(raw, expected)[0]
    np.testing.assert_allclose(total.item(), reference.item(), rtol=1e-6, atol=1e-6)
    total.backward()
    assert model.head.weight.grad.device == device


def test_yolo_decode_boxes_and_paired_iou_stay_on_the_device(device):
    """Bug 6: decode_boxes and paired_iou compute on the device of raw device arrays."""
    xp = backend.array_module_for(device)
    xy, wh = xp.full((1, 2, 2, 2), 0.5), xp.full((1, 2, 2, 2), 0.5)
    boxes = decode_boxes(xy, wh, image_size=8)
    assert backend.device_of(boxes) == device
    np.testing.assert_allclose(backend.to_numpy(boxes)[0, 1, 0], [1, 5, 3, 7], rtol=1e-12, atol=1e-12)
    iou = paired_iou(boxes, boxes)
    assert backend.device_of(iou) == device
    np.testing.assert_allclose(backend.to_numpy(iou), 1.0, rtol=1e-12, atol=1e-12)


def test_yolo_detect_takes_raw_device_images(device):
    """Bug 6: TinyYOLO.detect of a raw device array of images (it called np.asarray on the chunk)."""
    td.manual_seed(0)
    model = TinyYOLO(width=2).to(device)
    images = np.random.default_rng(1).uniform(0, 1, (2, 3, 64, 64)).astype(np.float32)
    expected = model.detect(td.tensor(images, device=device), conf_threshold=0.0)
    got = model.detect(backend.to_device(images, device), conf_threshold=0.0)
    assert len(got) == 2
    for (b, s, l), (eb, es, el) in zip(got, expected):
        np.testing.assert_allclose(b, eb, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(s, es, rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(l, el)


# ---- bug 7: datasets of device arrays batch on the device ------------------------------------
def test_tensor_dataset_and_shuffling_loader_batch_device_arrays(device):
    """Bug 7: TensorDataset of raw device arrays + DataLoader(shuffle=True): batches stay on the device,
    in the same order as the same data on the host with the same seed."""
    x, y = np.arange(20.0, dtype=np.float32).reshape(10, 2), np.arange(10)
    dataset = TensorDataset(backend.to_device(x, device), backend.to_device(y, device))
    td.manual_seed(7)
    batches = list(DataLoader(dataset, batch_size=4, shuffle=True))
    td.manual_seed(7)
    expected = list(DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True))
    assert [len(yb) for _, yb in batches] == [4, 4, 2]
    for (xb, yb), (ex, ey) in zip(batches, expected):
        assert xb.device == device and yb.device == device
        assert xb.dtype == np.float32 and yb.dtype == np.int64
        np.testing.assert_array_equal(host(xb), host(ex))
        np.testing.assert_array_equal(host(yb), host(ey))
    assert sorted(np.concatenate([host(yb) for _, yb in batches]).tolist()) == list(range(10))


def test_tensor_dataset_of_cuda_tensors_keeps_them_on_the_device(device):
    """Bug 7: TensorDataset of device Tensors indexes and batches on the device."""
    x = td.tensor(np.arange(12.0).reshape(6, 2), dtype=td.float32, device=device)
    dataset = TensorDataset(x, td.tensor(np.arange(6), device=device))
    first = dataset[1]
    assert backend.device_of(first[0]) == device
    np.testing.assert_array_equal(backend.to_numpy(first[0]), [2, 3])
    (xb, yb), = list(DataLoader(dataset, batch_size=6))
    assert xb.device == device and yb.device == device
    np.testing.assert_array_equal(host(xb), host(x))


class DeviceItems(Dataset):
    """Each example a tuple (device array (2,), device 0-d int array, Python float)."""

    def __init__(self, device):
        xp = backend.array_module_for(device)
        self.x, self.y = xp.arange(10.0).reshape(5, 2), xp.arange(5)

    def __len__(self):
        return 5

    def __getitem__(self, i):
        return self.x[i], self.y[i], float(i) / 2


@pytest.mark.parametrize("to", ["cpu", "cuda"])
def test_loader_moves_batches_to_the_device_it_is_given(device, to):
    """Bug 7: DataLoader(device=...) moves the batches of data on either device there."""
    if to == "cuda" and not td.cuda.is_available():
        pytest.skip("no GPU, and the CuPy stand-in is off")
    x = np.arange(8.0, dtype=np.float32).reshape(4, 2)
    for dataset in (TensorDataset(backend.to_device(x, device)), DeviceItems(device)):
        batch = next(iter(DataLoader(dataset, batch_size=4, device=to)))
        assert all(b.device == to for b in batch)
    np.testing.assert_array_equal(host(batch[0]), np.arange(8.0).reshape(4, 2))


def test_collate_stacks_device_items_with_their_array_module(device):
    """Bug 7: default_collate of a Dataset whose items are device arrays (np.stack raised on them)."""
    td.manual_seed(1)
    batches = list(DataLoader(DeviceItems(device), batch_size=2, shuffle=True))
    seen = []
    for xb, yb, zb in batches:
        assert xb.device == device and yb.device == device
        assert zb.device == "cpu"  # Python numbers are host data (as in PyTorch); DataLoader(device=...) moves them
        np.testing.assert_array_equal(host(xb), 2 * host(yb)[:, None] + [0, 1])
        np.testing.assert_allclose(host(zb), host(yb) / 2, rtol=1e-6, atol=1e-6)
        seen += host(yb).tolist()
    assert sorted(seen) == list(range(5))
    eye = td.tensor(np.eye(3), device=device)
    xb, = default_collate([(eye[i],) for i in range(3)])
    assert xb.device == device
    np.testing.assert_array_equal(host(xb), np.eye(3))


# ---- bug 8: out-of-range index arrays raise on both devices ------------------------------------
# On the CPU the error is raised by the indexing itself. On a GPU the check is queued, like a CUDA
# device-side assert, and raised with the next value the host reads (tinydl/device_checks.py): so
# each test reads a value (``host``) inside the ``pytest.raises`` block.
@pytest.mark.parametrize("index, message", [
    ([5], "index 5 is out of bounds for dimension 0 with size 3"),
    ([-4], "index -4 is out of bounds for dimension 0 with size 3"),
    ([0, 3, 1], "index 3 is out of bounds for dimension 0 with size 3"),
])
def test_out_of_range_index_array_raises(device, index, message):
    """Bug 8: t[[5]] on a length-3 tensor raised on the CPU but wrapped around to t[2] on cuda."""
    t = leaf([1.0, 2.0, 3.0], device)
    with pytest.raises(IndexError, match=message):
        host(t[index].detach())
    with pytest.raises(IndexError, match=message):
        host(t[const(index, device)].detach())  # an index Tensor on the same device
    with pytest.raises(IndexError, match="getitem"):
        t[index].sum().item()


def test_out_of_range_index_in_a_2d_advanced_index_raises(device):
    """Bug 8: an out-of-range index array on the second dimension, alone or beside another array."""
    x = leaf(np.arange(6.0).reshape(2, 3), device)
    for index, message in [
        (([0, 1], [1, 3]), "index 3 is out of bounds for dimension 1 with size 3"),
        ((slice(None), [3]), "index 3 is out of bounds for dimension 1 with size 3"),
        (([[-3]], 0), "index -3 is out of bounds for dimension 0 with size 2"),
        ((Ellipsis, [3], None), "index 3 is out of bounds for dimension 1 with size 3"),  # ... is dimension 0
        ((None, slice(None), [3]), "index 3 is out of bounds for dimension 1 with size 3"),  # None indexes none
    ]:
        with pytest.raises(IndexError, match=message):
            host(x[index].detach())
    np.testing.assert_array_equal(host(x[[-2, 1], [-1, 0]]), [2.0, 3.0])  # in range, negative ones included


def test_out_of_range_index_array_in_an_assignment_raises(device):
    """Bug 8: t[[5]] = 9.0 on a length-3 tensor wrote t[2] on cuda, silently; now it raises (on a GPU at
    the next read, after the write happened, as after a CUDA device-side assert: t's values are then
    not to be trusted, so the CPU alone promises t unchanged)."""
    for index, value, message in [
        ([5], 9.0, "__setitem__: index 5 is out of bounds for dimension 0 with size 3"),
        (const([0, -4], device), const([7.0, 8.0], device), "__setitem__: index -4 is out of bounds"),
    ]:
        t = const([1.0, 2.0, 3.0], device)
        with pytest.raises(IndexError, match=message):
            t[index] = value
            host(t)
        if device == "cpu":
            np.testing.assert_array_equal(host(t), [1.0, 2.0, 3.0])
    t = const([1.0, 2.0, 3.0], device)
    t[[-1]] = 9.0
    np.testing.assert_array_equal(host(t), [1.0, 2.0, 9.0])


def test_no_gradient_lands_on_a_wrapped_around_element(device):
    """Bug 8: on cuda the gradient of t[[0, 5]] landed on t[2] (IndexAdd scattered at the wrapped index)
    and nothing said so; now reading anything raises first, and an in-range index sends the gradient
    where it should (repeats add up)."""
    t = leaf([1.0, 2.0, 3.0], device)
    with pytest.raises(IndexError, match="index 5 is out of bounds"):
        (t[[0, 5]] * 2).sum().backward()
        host(t.grad)  # on a GPU: raised here, before the host sees a wrong gradient
    t = leaf([1.0, 2.0, 3.0], device)
    (t[[0, 2, 2]] * const([1.0, 10.0, 100.0], device)).sum().backward()
    np.testing.assert_allclose(host(t.grad), [1.0, 0.0, 110.0], rtol=1e-12, atol=1e-12)


def test_the_bounds_check_costs_no_sync_of_its_own(device):
    """Bug 8: the bounds check of every index array of one indexing is one device reduction, read with
    the next value the host reads: indexing and reading the result is one sync, the read itself."""
    if device == "cpu" or not backend.FAKE_GPU:
        pytest.skip("counts the stand-in's syncs")
    from tinydl.fake_cupy import counters

    x = leaf(np.arange(6.0).reshape(2, 3), device)
    rows, cols = const([0, 1], device), const([2, 0], device)
    with counters.counting() as seen:
        y = x[rows, cols]
    assert seen.total_syncs == 0, seen.report()
    with counters.counting() as seen:
        np.testing.assert_array_equal(host(y.detach()), [2.0, 3.0])
    assert seen.total_syncs == 1, seen.report()


# ---- bug 9: max_unpool2d with repeated indices keeps the last value of each plane --------------
def test_max_unpool2d_repeated_indices_keep_the_last_value(device):
    """Bug 9: repeated indices stored an undefined one of the values on a GPU (the stand-in keeps the first,
    NumPy the last); now the last in each plane's row-major order wins, as PyTorch's CPU kernel does.
    The gradient is PyTorch's: every input reads the output gradient at its index (a gather)."""
    x = leaf(np.arange(1.0, 17.0).reshape(2, 2, 2, 2), device)
    indices = np.array([[[[5, 5], [1, 5]], [[0, 0], [0, 0]]], [[[3, 2], [3, 1]], [[7, 6], [7, 6]]]])
    y = F.max_unpool2d(x, const(indices, device), 2)  # (2, 2, 2, 2) -> (2, 2, 4, 4)
    expected = np.zeros((2, 2, 16))
    expected[0, 0, [1, 5]] = [3, 4]  # position 5 written by values 1, 2, 4: the last, 4, stays
    expected[0, 1, 0] = 8
    expected[1, 0, [1, 2, 3]] = [12, 10, 11]
    expected[1, 1, [6, 7]] = [16, 15]
    np.testing.assert_array_equal(host(y), expected.reshape(2, 2, 4, 4))
    g = np.random.default_rng(0).normal(size=(2, 2, 4, 4))
    (y * const(g, device)).sum().backward()
    gathered = np.take_along_axis(g.reshape(2, 2, 16), indices.reshape(2, 2, 4), axis=2).reshape(2, 2, 2, 2)
    np.testing.assert_allclose(host(x.grad), gathered, rtol=1e-12, atol=1e-12)


def test_max_unpool2d_repeated_indices_match_torch(device):
    """Bug 9: random repeated indices, value and gradient against PyTorch's CPU max_unpool2d, both kernels."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    values = rng.normal(size=(2, 3, 4, 5))
    indices = rng.integers(0, 6, size=values.shape)  # 20 values per plane into 6 positions: many repeats
    g = rng.normal(size=(2, 3, 8, 10))
    tx = torch.tensor(values, requires_grad=True)
    ty = torch.nn.functional.max_unpool2d(tx, torch.tensor(indices), 2)
    ty.backward(torch.tensor(g))
    for reference in (False, True):
        with td.use_reference_kernels(reference):
            x = leaf(values, device)
            y = F.max_unpool2d(x, const(indices, device), 2)
            (y * const(g, device)).sum().backward()
        np.testing.assert_array_equal(host(y), ty.detach().numpy())
        np.testing.assert_allclose(host(x.grad), tx.grad.numpy(), rtol=1e-12, atol=1e-12)
