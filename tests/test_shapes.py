"""tinydl.data.make_shapes: reproducible scenes whose boxes, labels and masks agree with each other.

Every test draws only a few small scenes.  A "crowded" setting (five objects
wanted in every scene, where often only three or four fit) makes placement
fail in the middle of a row, so that scenes with dropped objects, and so with
padding, are always among those checked.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinydl as td
from tinydl.data import SHAPE_CLASSES, DataLoader, ShapesScenes, make_shapes

CROWDED = dict(min_objects=5, max_objects=5)

settings_of_scenes = st.fixed_dictionaries({
    "n": st.integers(1, 6),
    "image_size": st.sampled_from([16, 32, 48]),
    "seed": st.integers(0, 2**32 - 1),
}).flatmap(lambda base: st.sampled_from([{}, CROWDED, dict(max_objects=4, max_overlap=0.0),
                                          dict(max_objects=5, max_overlap=0.5, size_range=(0.15, 0.2))])
           .map(lambda extra: {**base, **extra}))


def pixel_centres_inside(boxes, size, tolerance=1e-4):
    """(n, M, S, S) bool: whether each pixel centre (x + 0.5, y + 0.5) lies in each box (n, M, 4)."""
    centres = np.arange(size) + 0.5
    x1, y1, x2, y2 = (boxes[:, :, k, None, None] for k in range(4))  # each (n, M, 1, 1)
    px, py = centres[None, None, None, :], centres[None, None, :, None]
    return (px >= x1 - tolerance) & (px <= x2 + tolerance) & (py >= y1 - tolerance) & (py <= y2 + tolerance)


def test_same_seed_same_scenes_different_seed_different_scenes():
    a, b = make_shapes(4, image_size=32, seed=7), make_shapes(4, image_size=32, seed=7)
    c = make_shapes(4, image_size=32, seed=8)
    for name in ShapesScenes._fields:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert not np.array_equal(a.images, c.images)
    assert not np.array_equal(a.boxes, c.boxes)


def test_shapes_and_dtypes():
    scenes = make_shapes(5, image_size=24, max_objects=4, seed=0)
    assert isinstance(scenes, ShapesScenes) and len(scenes) == 5
    assert scenes.images.shape == (5, 3, 24, 24) and scenes.images.dtype == np.float32
    assert scenes.boxes.shape == (5, 4, 4) and scenes.boxes.dtype == np.float32
    assert scenes.labels.shape == (5, 4) and scenes.labels.dtype == np.int64
    assert scenes.masks.shape == (5, 24, 24) and scenes.masks.dtype == np.int64
    assert scenes.images.min() >= 0 and scenes.images.max() <= 1
    empty = make_shapes(0, image_size=16)
    assert empty.images.shape == (0, 3, 16, 16) and empty.labels.shape == (0, 3)


@given(settings_of_scenes)
def test_labels_and_padding(kwargs):
    scenes = make_shapes(**kwargs)
    labels, real = scenes.labels, scenes.labels >= 0
    assert ((labels == -1) | ((labels >= 0) & (labels < len(SHAPE_CLASSES)))).all()
    assert real[:, 0].all()  # the first object always fits
    assert not (~real[:, :-1] & real[:, 1:]).any(), "a -1 before a real object: padding must be at the end"
    assert (scenes.boxes[~real] == 0).all()  # padded boxes are zeros
    assert (real.sum(axis=1) <= kwargs.get("max_objects", 3)).all()


def test_crowded_scenes_drop_objects_and_keep_the_padding_at_the_end():
    scenes = make_shapes(20, image_size=32, seed=0, **CROWDED)
    real = scenes.labels >= 0
    assert (~real).any(), "the crowded setting should drop some objects"
    np.testing.assert_array_equal(np.sort(real, axis=1)[:, ::-1], real)  # True ... True False ... False


@given(settings_of_scenes)
def test_boxes_lie_inside_the_image_and_are_squares_of_the_drawn_size(kwargs):
    scenes = make_shapes(**kwargs)
    size, real = kwargs["image_size"], scenes.labels >= 0
    boxes = scenes.boxes[real]  # (K, 4)
    assert (boxes >= 0).all() and (boxes <= size).all()
    assert (boxes[:, 0] < boxes[:, 2]).all() and (boxes[:, 1] < boxes[:, 3]).all()
    side = boxes[:, 2] - boxes[:, 0]
    np.testing.assert_allclose(boxes[:, 3] - boxes[:, 1], side, rtol=1e-5)
    low, high = kwargs.get("size_range", (0.12, 0.3))
    assert (side >= 2 * low * size * (1 - 1e-5)).all() and (side <= 2 * high * size * (1 + 1e-5)).all()


@given(settings_of_scenes)
def test_masks_agree_with_boxes_and_labels(kwargs):
    scenes = make_shapes(**kwargs)
    real = scenes.labels >= 0  # (n, M)
    inside = pixel_centres_inside(scenes.boxes, kwargs["image_size"]) & real[:, :, None, None]  # (n, M, S, S)
    of_its_class = scenes.labels[:, :, None, None] + 1 == scenes.masks[:, None]  # (n, M, S, S)
    # every shape pixel (mask k + 1) lies inside some box labelled k
    explained = (inside & of_its_class).any(axis=1)  # (n, S, S)
    assert explained[scenes.masks > 0].all()
    for i in range(len(scenes)):  # the classes in the mask are a subset of the scene's labels + 1
        assert set(np.unique(scenes.masks[i]).tolist()) - {0} <= set((scenes.objects(i)[1] + 1).tolist())


def test_every_object_is_visible_at_the_default_settings():
    # Each later box covers at most 10% of an earlier box, so the (at most four) later ones cover at
    # most 40% of it: less than any shape fills of its box (a triangle fills half), so none is hidden.
    scenes = make_shapes(12, image_size=32, max_objects=5, seed=3)
    real = scenes.labels >= 0
    inside = pixel_centres_inside(scenes.boxes, 32)
    visible = (inside & (scenes.labels[:, :, None, None] + 1 == scenes.masks[:, None])).any(axis=(2, 3))  # (n, M)
    assert visible[real].all()


@given(settings_of_scenes)
def test_overlaps_respect_max_overlap(kwargs):
    scenes = make_shapes(**kwargs)
    max_overlap = kwargs.get("max_overlap", 0.1)
    for i in range(len(scenes)):  # a few scenes, a few objects: every pair, vectorized per scene
        boxes = scenes.objects(i)[0].astype(np.float64)  # (k, 4)
        lo = np.maximum(boxes[:, None, :2], boxes[None, :, :2])
        hi = np.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
        inter = np.prod(np.clip(hi - lo, 0, None), axis=2)  # (k, k)
        area = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
        ratio = inter / np.minimum(area[:, None], area[None, :])
        off_diagonal = ~np.eye(len(boxes), dtype=bool)
        assert (ratio[off_diagonal] <= max_overlap + 1e-4).all()


def test_objects_drops_the_padding():
    scenes = make_shapes(10, image_size=32, seed=2, **CROWDED)
    for i in range(len(scenes)):
        boxes, labels = scenes.objects(i)
        k = int((scenes.labels[i] >= 0).sum())
        assert boxes.shape == (k, 4) and labels.shape == (k,)
        np.testing.assert_array_equal(labels, scenes.labels[i, :k])
        np.testing.assert_array_equal(boxes, scenes.boxes[i, :k])


def test_dataset_works_with_the_data_loader():
    scenes = make_shapes(10, image_size=16, seed=0)
    loader = DataLoader(scenes.dataset("images", "masks"), batch_size=4)
    batches = list(loader)
    assert [len(images) for images, _ in batches] == [4, 4, 2]
    images, masks = batches[0]
    assert isinstance(images, td.Tensor) and images.shape == (4, 3, 16, 16) and masks.shape == (4, 16, 16)
    np.testing.assert_array_equal(masks.numpy(), scenes.masks[:4])
    everything = scenes.dataset()
    assert len(everything) == 10 and len(everything[0]) == 4
    np.testing.assert_array_equal(everything[3][2], scenes.labels[3])


@pytest.mark.parametrize("kwargs", [
    dict(n=-1),
    dict(image_size=4),
    dict(min_objects=0),
    dict(min_objects=3, max_objects=2),
    dict(size_range=(0.0, 0.2)),
    dict(size_range=(0.3, 0.2)),
    dict(size_range=(0.1, 0.5)),
    dict(max_overlap=-0.1),
    dict(noise=-0.01),
])
def test_bad_arguments_raise_value_errors_naming_make_shapes(kwargs):
    with pytest.raises(ValueError, match="make_shapes"):
        make_shapes(**{"n": 2, **kwargs})
