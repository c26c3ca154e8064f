"""tinydl.data: datasets, the seeded DataLoader, and load_digits."""
import numpy as np
import pytest

import tinydl as td
from tinydl.data import DataLoader, Dataset, TensorDataset, load_digits


def test_tensor_dataset_and_loader_cover_every_example_once_per_epoch():
    x, y = np.arange(10.0).reshape(10, 1), np.arange(10)
    loader = DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True)
    assert len(loader) == 3
    seen = np.concatenate([yb.numpy() for _, yb in loader])
    assert sorted(seen.tolist()) == list(range(10))
    assert [len(yb) for _, yb in loader] == [4, 4, 2]


def test_drop_last_drops_the_short_batch():
    loader = DataLoader(TensorDataset(np.zeros((10, 2))), batch_size=4, drop_last=True)
    assert len(loader) == 2 and [b[0].shape for b in loader] == [(4, 2), (4, 2)]


def test_shuffling_is_reproducible_with_manual_seed_and_differs_between_epochs():
    data = TensorDataset(np.arange(50))
    loader = DataLoader(data, batch_size=50, shuffle=True)
    td.manual_seed(3)
    first, second = next(iter(loader))[0].numpy(), next(iter(loader))[0].numpy()
    td.manual_seed(3)
    assert np.array_equal(next(iter(loader))[0].numpy(), first)
    assert not np.array_equal(first, second)
    assert np.array_equal(next(iter(DataLoader(data, batch_size=50)))[0].numpy(), np.arange(50))


def test_custom_dataset_goes_through_collate():
    class Squares(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.array([i, i * i], dtype=np.float32), i

    (xb, yb), = list(DataLoader(Squares(), batch_size=5))
    assert xb.shape == (5, 2) and xb.dtype == td.float32 and yb.tolist() == [0, 1, 2, 3, 4]


def test_mismatched_lengths_are_named():
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(4,\)"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))


def test_load_digits_split_scale_and_resize():
    split = load_digits(seed=0)
    assert split.x_train.shape == (1438, 1, 8, 8) and split.x_test.shape == (359, 1, 8, 8)
    assert split.x_train.dtype == np.float32 and split.y_train.dtype == np.int64
    assert split.x_train.min() == 0.0 and split.x_train.max() == 1.0
    assert set(np.unique(split.y_test)) == set(range(10))
    again = load_digits(seed=0)
    assert np.array_equal(again.y_train, split.y_train)
    assert not np.array_equal(load_digits(seed=1).y_train, split.y_train)
    big = load_digits(size=16, value_range=(-1.0, 1.0))
    assert big.x_train.shape == (1438, 1, 16, 16)
    assert big.x_train.min() >= -1.0 and big.x_train.max() <= 1.0 and big.x_train.min() < -0.99
    assert load_digits(flatten=True).x_train.shape == (1438, 64)
