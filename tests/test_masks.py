"""Instance masks for Mask R-CNN: make_shapes' per-object masks.

make_shapes' ``instance_masks`` is checked against the semantic ``masks`` it must
add up to.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinydl.data import make_shapes

CROWDED = dict(min_objects=5, max_objects=5)  # objects dropped mid-row, so padding moved to the end

scene_settings = st.fixed_dictionaries({
    "n": st.integers(1, 6),
    "image_size": st.sampled_from([16, 32, 64]),
    "seed": st.integers(0, 2**32 - 1),
}).flatmap(lambda base: st.sampled_from([{}, CROWDED, dict(max_objects=5, max_overlap=0.5),
                                          dict(max_objects=4, max_overlap=1.0, size_range=(0.15, 0.3))])
           .map(lambda extra: {**base, **extra}))


def centres_inside(boxes, height, width, tolerance=0.0):
    """(K, H, W) bool: whether each pixel centre (x + 0.5, y + 0.5) lies in each box (K, 4), edges included."""
    xs, ys = np.arange(width) + 0.5, np.arange(height) + 0.5
    x1, y1, x2, y2 = (np.asarray(boxes, dtype=np.float64)[:, k, None, None] for k in range(4))
    return ((xs[None, None, :] >= x1 - tolerance) & (xs[None, None, :] <= x2 + tolerance)
            & (ys[None, :, None] >= y1 - tolerance) & (ys[None, :, None] <= y2 + tolerance))


# ---- make_shapes' instance masks ------------------------------------------------------
@given(scene_settings)
def test_instance_masks_add_up_to_the_semantic_masks_and_are_disjoint(kwargs):
    scenes = make_shapes(**kwargs)
    instances = scenes.instance_masks()
    n, M = scenes.labels.shape
    assert instances.shape == (n, M, kwargs["image_size"], kwargs["image_size"]) and instances.dtype == bool
    assert (instances.sum(axis=1) <= 1).all(), "two objects claim one pixel"
    combined = (instances * (scenes.labels[:, :, None, None] + 1)).sum(axis=1)  # class + 1 where visible
    np.testing.assert_array_equal(combined, scenes.masks)
    assert not instances[scenes.labels < 0].any(), "a padding slot has pixels"


@given(scene_settings)
def test_each_instance_mask_lies_inside_its_box(kwargs):
    scenes = make_shapes(**kwargs)
    size, real = kwargs["image_size"], scenes.labels >= 0
    inside = centres_inside(scenes.boxes[real], size, size, tolerance=1e-4)  # (K, S, S)
    assert not (scenes.instance_masks()[real] & ~inside).any()


@given(st.integers(0, 2**32 - 1), st.sampled_from([16, 32, 64]), st.integers(1, 5), st.sampled_from([0.0, 0.1]))
def test_every_object_is_visible_when_boxes_overlap_little(seed, size, max_objects, max_overlap):
    # each later box covers at most max_overlap = 10% of an earlier one, so four later ones cover at
    # most 40% of it, less than any shape fills of its box: no object is hidden entirely
    scenes = make_shapes(5, image_size=size, max_objects=max_objects, max_overlap=max_overlap, seed=seed)
    real = scenes.labels >= 0
    assert scenes.instance_masks().any(axis=(2, 3))[real].all()


def test_a_large_max_overlap_can_hide_an_object_entirely_and_its_mask_is_then_empty():
    # what the docstring promises: visibility is not guaranteed once boxes may overlap a lot
    scenes = make_shapes(100, image_size=32, max_objects=5, max_overlap=1.0, seed=0)
    real = scenes.labels >= 0
    hidden = ~scenes.instance_masks().any(axis=(2, 3)) & real
    assert hidden.any()
    i, m = np.argwhere(hidden)[0]
    assert scenes.labels[i, m] >= 0 and m < scenes.labels.shape[1] - 1  # a real object, not the last painted


def test_instance_masks_index_by_int_slice_and_array():
    scenes = make_shapes(7, image_size=32, seed=5, **CROWDED)
    everything = scenes.instance_masks()
    np.testing.assert_array_equal(scenes.instance_masks(3), everything[3])
    assert scenes.instance_masks(3).shape == (5, 32, 32)
    np.testing.assert_array_equal(scenes.instance_masks(-1), everything[-1])
    np.testing.assert_array_equal(scenes.instance_masks(slice(2, 6, 2)), everything[2:6:2])
    np.testing.assert_array_equal(scenes.instance_masks(np.array([6, 0, 6])), everything[[6, 0, 6]])
    np.testing.assert_array_equal(scenes.instance_masks([1, 4]), everything[[1, 4]])
    assert scenes.instance_masks(slice(0, 0)).shape == (0, 5, 32, 32)


def test_instance_masks_keep_the_four_field_unpacking():
    images, boxes, labels, masks = make_shapes(2, image_size=16, seed=0)
    assert images.shape == (2, 3, 16, 16) and masks.shape == (2, 16, 16)


@pytest.mark.parametrize("index", [7, -8, "a", 1.5])
def test_instance_masks_bad_index_names_the_method(index):
    scenes = make_shapes(7, image_size=16, seed=0)
    with pytest.raises(IndexError, match="instance_masks.*7 scenes"):
        scenes.instance_masks(index)
