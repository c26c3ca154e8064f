"""tinydl.utils.data: samplers, datasets, random_split, default_collate and DataLoader, with PyTorch's semantics.

The random samplers draw NumPy's numbers, not PyTorch's, so against torch they are compared
by their laws (lengths, coverage, replacement, frequencies); where torch is deterministic
(SequentialSampler, BatchSampler, batches in order, IterableDataset across workers) the index
sequences must be the same.
"""
import collections
import multiprocessing
import os
import time

import numpy as np
import pytest

import tinydl as td
from tests.helpers import host
from tinydl import backend
from tinydl.utils.data import (
    BatchSampler, ConcatDataset, DataLoader, Dataset, IterableDataset, RandomSampler, Sampler, SequentialSampler,
    Subset, SubsetRandomSampler, TensorDataset, WeightedRandomSampler, default_collate, get_worker_info,
    random_split,
)


def seeded(seed=0):
    return td.Generator().manual_seed(seed)


# ---- samplers ---------------------------------------------------------------------------------
def test_sequential_sampler_matches_torch():
    assert list(SequentialSampler(range(7))) == list(range(7)) and len(SequentialSampler(range(7))) == 7
    torch = pytest.importorskip("torch")
    assert list(SequentialSampler(range(7))) == list(torch.utils.data.SequentialSampler(range(7)))


def test_random_sampler_is_a_fresh_permutation_each_epoch():
    sampler = RandomSampler(range(20), generator=seeded())
    first, second = list(sampler), list(sampler)
    assert len(sampler) == 20
    assert sorted(first) == list(range(20)) and sorted(second) == list(range(20))
    assert first != second and all(type(i) is int for i in first)


def test_random_sampler_more_samples_than_examples_without_replacement():
    """PyTorch's rule: num_samples // n whole permutations, then the start of one more."""
    drawn = list(RandomSampler(range(5), num_samples=12, generator=seeded()))
    assert len(drawn) == 12
    assert sorted(drawn[:5]) == list(range(5)) and sorted(drawn[5:10]) == list(range(5))
    assert len(set(drawn[10:])) == 2


def test_random_sampler_with_replacement_draws_independently():
    drawn = list(RandomSampler(range(3), replacement=True, num_samples=100, generator=seeded()))
    assert len(drawn) == 100 and set(drawn) == {0, 1, 2}  # 100 draws from 3: repeats, and each seen (seeded)
    counts = np.bincount(drawn, minlength=3) / 100
    np.testing.assert_allclose(counts, 1 / 3, atol=0.2, rtol=0)


def test_random_sampler_is_reproducible_with_a_generator_or_manual_seed():
    assert list(RandomSampler(range(30), generator=seeded(4))) == list(RandomSampler(range(30), generator=seeded(4)))
    assert list(RandomSampler(range(30), generator=np.random.default_rng(4))) == \
        list(RandomSampler(range(30), generator=np.random.default_rng(4)))
    td.manual_seed(5)
    first = list(RandomSampler(range(30)))
    td.manual_seed(5)
    assert list(RandomSampler(range(30))) == first


def test_subset_random_sampler_permutes_the_given_indices():
    indices = [10, 3, 7, 42]
    drawn = list(SubsetRandomSampler(indices, generator=seeded()))
    assert sorted(drawn) == sorted(indices) and len(SubsetRandomSampler(indices)) == 4
    runs = {tuple(SubsetRandomSampler(indices, generator=seeded(s))) for s in range(10)}
    assert len(runs) > 1


def test_weighted_sampler_with_replacement_follows_the_weights():
    drawn = np.array(list(WeightedRandomSampler([0.0, 1.0, 3.0], num_samples=4000, generator=seeded(1))))
    assert len(drawn) == 4000 and not np.any(drawn == 0)
    # the frequency of index 2 is 0.75 with standard deviation sqrt(0.75 * 0.25 / 4000) = 0.007: 6 sigma is 0.04
    np.testing.assert_allclose(np.mean(drawn == 2), 0.75, atol=0.04, rtol=0)


def test_weighted_sampler_without_replacement_draws_one_at_a_time():
    """torch.multinomial's law: weights (1, 1, 2), two draws without replacement include index 0
    with probability 1/4 + 1/4 * 1/3 + 1/2 * 1/2 = 7/12, and index 2 with 1/2 + 2 * 1/4 * 2/3 = 5/6."""
    gen = seeded(2)
    runs = [list(WeightedRandomSampler(td.tensor([1.0, 1.0, 2.0]), 2, replacement=False, generator=gen))
            for _ in range(2000)]
    assert all(len(set(r)) == 2 for r in runs)
    # 6 standard deviations of a frequency over 2000 runs: at most 6 * sqrt(0.25 / 2000) = 0.067
    np.testing.assert_allclose(np.mean([0 in r for r in runs]), 7 / 12, atol=0.067, rtol=0)
    np.testing.assert_allclose(np.mean([2 in r for r in runs]), 5 / 6, atol=0.067, rtol=0)
    assert sorted(WeightedRandomSampler([0, 2, 1], 2, replacement=False)) == [1, 2]


def test_batch_sampler_matches_torch():
    for drop_last in (False, True):
        batches = list(BatchSampler(range(10), 3, drop_last))
        assert batches == ([[0, 1, 2], [3, 4, 5], [6, 7, 8]] + ([] if drop_last else [[9]]))
        assert len(BatchSampler(range(10), 3, drop_last)) == len(batches)
    torch = pytest.importorskip("torch")
    for sampler in (range(10), SequentialSampler(range(11))):
        for drop_last in (False, True):
            theirs = torch.utils.data.BatchSampler(sampler, 4, drop_last)
            assert list(BatchSampler(sampler, 4, drop_last)) == list(theirs)
            assert len(BatchSampler(sampler, 4, drop_last)) == len(theirs)


SAMPLER_ERRORS = [
    ("RandomSampler", lambda m: m.RandomSampler(range(3), replacement=1), TypeError, "replacement"),
    ("RandomSampler", lambda m: m.RandomSampler(range(3), num_samples=0), ValueError, "num_samples"),
    ("RandomSampler", lambda m: m.RandomSampler(range(0)), ValueError, "num_samples"),
    ("WeightedRandomSampler", lambda m: m.WeightedRandomSampler([1.0, 2.0], 0), ValueError, "num_samples"),
    ("WeightedRandomSampler", lambda m: m.WeightedRandomSampler([1.0, 2.0], 2, replacement=1), ValueError,
     "replacement"),
    ("WeightedRandomSampler", lambda m: m.WeightedRandomSampler([[1.0, 2.0]], 2), ValueError, "1d"),
    ("BatchSampler", lambda m: m.BatchSampler(range(3), 0, False), ValueError, "batch_size"),
    ("BatchSampler", lambda m: m.BatchSampler(range(3), 2, 1), ValueError, "drop_last"),
]


@pytest.mark.parametrize("name, make, error, word", SAMPLER_ERRORS)
def test_sampler_argument_errors_are_torchs(name, make, error, word):
    import tinydl.utils.data as ours

    with pytest.raises(error, match=f"{name}.*{word}"):
        make(ours)
    torch = pytest.importorskip("torch")
    with pytest.raises(error):
        make(torch.utils.data)


def test_weighted_sampler_rejects_weights_it_cannot_draw_from():
    for weights in ([1.0, -1.0], [0.0, 0.0], [1.0, float("nan")]):
        with pytest.raises(ValueError, match=r"WeightedRandomSampler: weights"):
            WeightedRandomSampler(weights, 1)
    with pytest.raises(ValueError, match=r"num_samples=3 without replacement from 2 positive"):
        WeightedRandomSampler([1.0, 0.0, 1.0], 3, replacement=False)


# ---- datasets and random_split ----------------------------------------------------------------
def test_subset_and_concat_dataset():
    a, b = TensorDataset(np.arange(3)), TensorDataset(np.arange(10, 15))
    both = a + b
    assert isinstance(both, ConcatDataset) and len(both) == 8
    assert [int(both[i][0]) for i in range(8)] == [0, 1, 2, 10, 11, 12, 13, 14] and int(both[-1][0]) == 14
    sub = Subset(b, [4, 0])
    assert len(sub) == 2 and int(sub[0][0]) == 14 and int(sub[1][0]) == 10
    with pytest.raises(ValueError, match="ConcatDataset.*-9"):
        both[-9]


@pytest.mark.parametrize("lengths", [[3, 7], [0.3, 0.7], [0.25, 0.25, 0.5], [0.5, 0.5]])
def test_random_split_lengths_and_coverage_match_torch(lengths):
    parts = random_split(range(10), lengths, generator=seeded())
    assert sorted(i for p in parts for i in p) == list(range(10))
    expected = {"[3, 7]": [3, 7], "[0.3, 0.7]": [3, 7], "[0.25, 0.25, 0.5]": [3, 2, 5], "[0.5, 0.5]": [5, 5]}
    assert [len(p) for p in parts] == expected[str(lengths)]
    torch = pytest.importorskip("torch")
    theirs = torch.utils.data.random_split(range(10), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [len(p) for p in theirs]


def test_random_split_is_reproducible_and_checks_the_lengths():
    first = [list(p) for p in random_split(range(20), [0.5, 0.5], generator=seeded(3))]
    assert first == [list(p) for p in random_split(range(20), [0.5, 0.5], generator=seeded(3))]
    td.manual_seed(1)
    again = [list(p) for p in random_split(range(20), [10, 10])]
    td.manual_seed(1)
    assert again == [list(p) for p in random_split(range(20), [10, 10])]
    with pytest.raises(ValueError, match=r"random_split.*\[3, 3\].*\(10\)"):
        random_split(range(10), [3, 3])


def test_generator_api():
    g = td.Generator()
    assert g.manual_seed(7) is g and g.initial_seed() == 7 and g.device == "cpu"
    with pytest.raises(TypeError, match="manual_seed"):
        g.manual_seed(1.5)
    with pytest.raises(TypeError, match="generator must be"):
        list(RandomSampler(range(3), generator="seed"))


# ---- default_collate --------------------------------------------------------------------------
Point = collections.namedtuple("Point", "x y")


def test_default_collate_follows_torchs_rules():
    batch = default_collate([(np.ones(2, np.float32), 1, 0.5, True, "a", {"k": 2}, Point(1, 2.0)),
                             (np.zeros(2, np.float32), 2, 1.5, False, "b", {"k": 3}, Point(3, 4.0))])
    x, i, f, b, s, d, p = batch
    assert isinstance(batch, list)  # a tuple of fields gives a list, as in PyTorch
    assert x.shape == (2, 2) and x.dtype == td.float32
    assert i.dtype == td.int64 and f.dtype == td.float64 and b.dtype == td.bool
    assert s == ["a", "b"] and d["k"].tolist() == [2, 3] and isinstance(p, Point) and p.y.tolist() == [2.0, 4.0]
    torch = pytest.importorskip("torch")
    theirs = torch.utils.data.default_collate([(1, 0.5, True), (2, 1.5, False)])
    ours = default_collate([(1, 0.5, True), (2, 1.5, False)])
    assert [str(t.dtype).replace("torch.", "") for t in theirs] == [str(np.dtype(t.dtype)) for t in ours]


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match=r"default_collate.*\(2,\).*\(3,\)"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(RuntimeError, match="default_collate.*equal size"):
        default_collate([(1, 2), (1,)])
    with pytest.raises(TypeError, match="default_collate.*NoneType"):
        default_collate([None, None])


# ---- DataLoader -------------------------------------------------------------------------------
def xy(n=10):
    return TensorDataset(np.arange(2.0 * n, dtype=np.float32).reshape(n, 2), np.arange(n))


class Rows(Dataset):
    """A map-style dataset going through default_collate (no TensorDataset fast path)."""

    def __init__(self, n=10):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.array([2 * i, 2 * i + 1], dtype=np.float32), i


@pytest.mark.parametrize("dataset", [xy, Rows], ids=["TensorDataset", "Dataset"])
@pytest.mark.parametrize("drop_last", [False, True])
def test_loader_batches_shapes_dtypes_and_drop_last(dataset, drop_last):
    loader = DataLoader(dataset(10), batch_size=4, drop_last=drop_last)
    batches = list(loader)
    assert len(loader) == len(batches) == (2 if drop_last else 3)
    assert all(isinstance(b, list) for b in batches)
    assert [yb.tolist() for _, yb in batches] == [[0, 1, 2, 3], [4, 5, 6, 7]] + ([] if drop_last else [[8, 9]])
    assert batches[0][0].shape == (4, 2) and batches[0][0].dtype == td.float32 and batches[0][1].dtype == td.int64
    np.testing.assert_array_equal(batches[1][0].numpy(), np.arange(8.0, 16.0).reshape(4, 2))


def test_loader_same_batches_as_torch_for_a_sequential_sampler():
    torch = pytest.importorskip("torch")
    data = np.arange(22.0).reshape(11, 2)
    ours = DataLoader(TensorDataset(data), batch_size=3, sampler=SequentialSampler(range(11)), drop_last=True)
    theirs = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(data)), batch_size=3,
                                         sampler=torch.utils.data.SequentialSampler(range(11)), drop_last=True)
    assert len(ours) == len(theirs)
    for (a,), (b,) in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_loader_shuffle_covers_every_example_and_is_reproducible():
    loader = DataLoader(Rows(10), batch_size=3, shuffle=True, generator=seeded(1))
    first = [i for _, yb in loader for i in yb.tolist()]
    assert sorted(first) == list(range(10))
    assert first == [i for _, yb in DataLoader(Rows(10), batch_size=3, shuffle=True, generator=seeded(1))
                     for i in yb.tolist()]
    td.manual_seed(2)
    a = [yb.tolist() for _, yb in DataLoader(xy(), batch_size=3, shuffle=True)]
    td.manual_seed(2)
    assert a == [yb.tolist() for _, yb in DataLoader(xy(), batch_size=3, shuffle=True)]


def test_loader_takes_a_sampler_or_a_batch_sampler():
    loader = DataLoader(xy(), batch_size=2, sampler=SubsetRandomSampler([1, 5, 7], generator=seeded()))
    assert len(loader) == 2 and sorted(i for _, yb in loader for i in yb.tolist()) == [1, 5, 7]
    loader = DataLoader(xy(), batch_sampler=[[3, 1], [0], [9, 8, 7]])
    assert [yb.tolist() for _, yb in loader] == [[3, 1], [0], [9, 8, 7]] and len(loader) == 3
    loader = DataLoader(Rows(), sampler=[4, 2], batch_size=None)  # no batching: one example at a time
    assert [(x.shape, y) for x, y in loader] == [((2,), 4), ((2,), 2)]


class Backwards(Sampler):
    """A sampler of one's own, as PyTorch users write them."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n - 1, -1, -1))

    def __len__(self):
        return self.n


def test_loader_takes_a_sampler_subclass():
    loader = DataLoader(Rows(5), batch_size=2, sampler=Backwards(5))
    assert [yb.tolist() for _, yb in loader] == [[4, 3], [2, 1], [0]] and len(loader) == 3


def test_collate_fn_gets_the_list_of_examples_as_in_torch():
    seen = []

    def collate(examples):
        seen.append(len(examples))
        return sum(int(y) for _, y in examples)

    assert list(DataLoader(xy(), batch_size=4, collate_fn=collate)) == [6, 22, 17] and seen == [4, 4, 2]


def test_pin_memory_is_accepted_and_changes_nothing():
    plain = [yb.tolist() for _, yb in DataLoader(xy(), batch_size=4)]
    assert [yb.tolist() for _, yb in DataLoader(xy(), batch_size=4, pin_memory=True)] == plain


def test_loader_keeps_device_data_on_its_device_with_a_sampler(device):
    x = backend.to_device(np.arange(12.0).reshape(6, 2), device)
    loader = DataLoader(TensorDataset(x), batch_size=4, sampler=[5, 0, 3, 1, 2])
    batches = [xb for xb, in loader]
    assert [b.device for b in batches] == [device, device]
    np.testing.assert_array_equal(host(batches[0]), np.arange(12.0).reshape(6, 2)[[5, 0, 3, 1]])


LOADER_ERRORS = [
    (dict(sampler=[0, 1], shuffle=True), "sampler option is mutually exclusive with shuffle"),
    (dict(batch_sampler=[[0]], batch_size=2), "batch_sampler option is mutually exclusive"),
    (dict(batch_sampler=[[0]], shuffle=True), "batch_sampler option is mutually exclusive"),
    (dict(batch_sampler=[[0]], sampler=[0]), "batch_sampler option is mutually exclusive"),
    (dict(batch_sampler=[[0]], drop_last=True), "batch_sampler option is mutually exclusive"),
    (dict(batch_size=None, drop_last=True), "batch_size=None option disables auto-batching"),
    (dict(num_workers=-1), "num_workers option should be"),
    (dict(timeout=-1), "timeout option should be non-negative"),
    (dict(prefetch_factor=2), "prefetch_factor option could only be specified"),
    (dict(persistent_workers=True), "persistent_workers option needs num_workers > 0"),
]


@pytest.mark.parametrize("kwargs, message", LOADER_ERRORS)
def test_loader_option_errors_are_torchs(kwargs, message):
    with pytest.raises(ValueError, match=f"DataLoader: {message}"):
        DataLoader(xy(), **kwargs)
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError):
        torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(10)), **kwargs)


class Stream(IterableDataset):
    """0..n-1, split between workers as PyTorch's docs show (worker k takes k, k + W, ...)."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))


class SizedStream(Stream):
    def __len__(self):
        return self.n


def test_iterable_dataset_batches_and_errors():
    assert [b.tolist() for b in DataLoader(Stream(7), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [b.tolist() for b in DataLoader(Stream(7), batch_size=3, drop_last=True)] == [[0, 1, 2], [3, 4, 5]]
    assert len(DataLoader(SizedStream(7), batch_size=3)) == 3
    with pytest.raises(TypeError):
        len(DataLoader(Stream(7), batch_size=3))
    for kwargs in (dict(shuffle=True), dict(sampler=[0]), dict(batch_sampler=[[0]])):
        with pytest.raises(ValueError, match="DataLoader with IterableDataset: expected unspecified"):
            DataLoader(Stream(7), **kwargs)


def test_same_module_behind_both_import_paths():
    import tinydl.data
    import tinydl.utils.data

    assert tinydl.data.DataLoader is tinydl.utils.data.DataLoader is td.utils.data.DataLoader
    assert tinydl.data.TensorDataset is TensorDataset and tinydl.data.default_collate is default_collate


# ---- worker processes -------------------------------------------------------------------------
class WhoLoaded(Dataset):
    """Each example: its index, the worker's id and seed, a draw from tinydl's generator, the worker's pid,
    and what worker_init_fn stored."""

    def __len__(self):
        return 12

    def __getitem__(self, i):
        info = get_worker_info()
        return i, info.id, info.seed, float(td.rand(1).item()), os.getpid(), os.environ.get("TINYDL_TEST_INIT", "")


def mark_init(worker_id):
    os.environ["TINYDL_TEST_INIT"] = f"init{worker_id}"


def test_workers_give_the_batches_of_the_main_process_in_order():
    for dataset in (xy(11), Rows(11)):
        td.manual_seed(3)
        alone = [yb.tolist() for _, yb in DataLoader(dataset, batch_size=3, shuffle=True)]
        td.manual_seed(3)
        workers = [yb.tolist() for _, yb in DataLoader(dataset, batch_size=3, shuffle=True, num_workers=2)]
        assert workers == alone


def test_workers_are_seeded_round_robin_and_initialized_as_torch():
    td.manual_seed(0)
    loader = DataLoader(WhoLoaded(), batch_size=2, num_workers=3, worker_init_fn=mark_init)
    batches = list(loader)
    ids = [b[1].tolist() for b in batches]
    assert ids == [[k % 3] * 2 for k in range(6)]  # batch k from worker k % num_workers
    seeds = {w: s for b in batches for w, s in zip(b[1].tolist(), b[2].tolist())}
    assert seeds[1] == seeds[0] + 1 and seeds[2] == seeds[0] + 2  # base_seed + worker_id
    assert all(b[5] == [f"init{w}"] * 2 for b, w in zip(batches, [k % 3 for k in range(6)]))
    draws = [d for b in batches for d in b[3].tolist()]
    assert len(set(draws)) == 12  # the workers' generators differ
    td.manual_seed(0)
    assert [d for b in DataLoader(WhoLoaded(), batch_size=2, num_workers=3) for d in b[3].tolist()] == draws
    assert os.getpid() not in {p for b in batches for p in b[4].tolist()}


def test_workers_started_by_spawn_get_the_dataset_by_pickle():
    """Python 3.14 starts workers with forkserver on Linux, macOS and Windows with spawn: everything a worker
    needs travels pickled."""
    loader = DataLoader(Rows(7), batch_size=3, num_workers=1, multiprocessing_context="spawn")
    assert [yb.tolist() for _, yb in loader] == [[0, 1, 2], [3, 4, 5], [6]]


def test_persistent_workers_serve_every_epoch_from_the_same_processes():
    loader = DataLoader(WhoLoaded(), batch_size=4, num_workers=2, persistent_workers=True)
    epochs = [[b for b in loader] for _ in range(2)]
    for batches in epochs:
        assert [i for b in batches for i in b[0].tolist()] == list(range(12))
    pids = [{p for b in batches for p in b[4].tolist()} for batches in epochs]
    assert pids[0] == pids[1] and len(pids[0]) == 2
    next(iter(loader))  # an epoch left early: the next one still starts from the beginning
    assert [i for b in loader for i in b[0].tolist()] == list(range(12))
    workers = set(loader._pool.processes)
    del loader  # the loader's workers end with it
    assert workers.isdisjoint(multiprocessing.active_children())


def test_iterable_dataset_across_workers_matches_torch():
    ours = [b.tolist() for b in DataLoader(Stream(9), batch_size=2, num_workers=2)]
    # worker 0 streams 0, 2, 4, 6, 8 and worker 1 streams 1, 3, 5, 7; batches alternate between them
    assert ours == [[0, 2], [1, 3], [4, 6], [5, 7], [8]]
    torch = pytest.importorskip("torch")

    class TorchStream(torch.utils.data.IterableDataset):
        def __iter__(self):
            info = torch.utils.data.get_worker_info()
            return iter(range(info.id, 9, info.num_workers))

    assert [b.tolist() for b in torch.utils.data.DataLoader(TorchStream(), batch_size=2, num_workers=2)] == ours


class Failing(Dataset):
    """Example 3 raises; example 5 kills its worker process."""

    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == 3:
            raise KeyError(f"no example {i}")
        if i == 5:
            os._exit(3)
        return i


def test_workers_load_host_data_and_refuse_a_dataset_on_the_gpu(device):
    x = np.arange(12.0).reshape(6, 2)
    if device == "cuda":
        with pytest.raises(ValueError, match="DataLoader: num_workers > 0 with a TensorDataset on the GPU"):
            DataLoader(TensorDataset(backend.to_device(x, device)), num_workers=1)
    batches = [xb for xb, in DataLoader(TensorDataset(x), batch_size=4, num_workers=1, device=device)]
    assert [b.device for b in batches] == [device, device]
    np.testing.assert_array_equal(np.concatenate([host(b) for b in batches]), x)


def test_a_worker_error_is_raised_in_the_main_process():
    with pytest.raises(KeyError, match=r"(?s)Caught KeyError in DataLoader worker process 1.*no example 3"):
        list(DataLoader(Failing(), batch_size=2, sampler=[0, 1, 2, 3], num_workers=2))
    with pytest.raises(RuntimeError, match=r"DataLoader worker 0 \(pid \d+\) exited unexpectedly with exit code 3"):
        list(DataLoader(Failing(), sampler=[5], num_workers=1))


class Slow(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        time.sleep(0.5)
        return i


def test_timeout_and_leaving_a_loop_early_stop_the_workers():
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.1 seconds"):
        list(DataLoader(Slow(), num_workers=1, timeout=0.1))
    before = set(multiprocessing.active_children())
    for _ in DataLoader(Rows(40), batch_size=2, num_workers=2):
        assert len(set(multiprocessing.active_children()) - before) == 2
        break
    assert set(multiprocessing.active_children()) <= before
