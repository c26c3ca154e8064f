"""td.save / td.load: round trips, atomic writes, no pickle, clear errors on damaged files."""
import os
import zipfile

import numpy as np
import pytest

import tinydl as td
import tinydl.nn as nn


def test_round_trip_keeps_nesting_types_and_values(tmp_path):
    obj = {
        "weights": {"fc.weight": np.arange(6.0).reshape(2, 3), "steps": np.array(3, dtype=np.int64)},
        "history": [0.5, 0.25, {"epoch": 2, "ok": True, "name": "run-1", "nothing": None}],
        "pair": (1, 2.5),
        7: "integer key",
        "tensor": td.tensor([1.0, 2.0]),
    }
    path = tmp_path / "ckpt.npz"
    td.save(obj, path)
    back = td.load(path)
    np.testing.assert_array_equal(back["weights"]["fc.weight"], obj["weights"]["fc.weight"])
    assert back["weights"]["steps"].dtype == np.int64
    assert back["history"] == [0.5, 0.25, {"epoch": 2, "ok": True, "name": "run-1", "nothing": None}]
    assert back["pair"] == (1, 2.5) and back[7] == "integer key"
    assert isinstance(back["tensor"], td.Tensor) and back["tensor"].tolist() == [1.0, 2.0]


def test_save_writes_exactly_the_given_path(tmp_path):
    path = tmp_path / "model.ckpt"  # no .npz suffix is added
    td.save({"a": np.zeros(1)}, path)
    assert os.listdir(tmp_path) == ["model.ckpt"]


def test_model_state_dict_round_trip(tmp_path):
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    td.save(a.state_dict(), tmp_path / "m.npz")
    b.load_state_dict(td.load(tmp_path / "m.npz"))
    np.testing.assert_array_equal(a.weight.data, b.weight.data)


def test_an_interrupted_save_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    td.save({"version": 1}, path)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("power cut while writing")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        td.save({"version": 2}, path)
    monkeypatch.undo()
    assert td.load(path) == {"version": 1}
    assert os.listdir(tmp_path) == ["ckpt.npz"]  # the temporary file was removed


def test_pickled_content_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, __structure__=np.frombuffer(b'{"array": "a0"}', dtype=np.uint8), a0=np.array([{"x": 1}], dtype=object))
    with pytest.raises(td.CheckpointError, match="pickle"):
        td.load(path)


def test_object_arrays_cannot_be_saved(tmp_path):
    with pytest.raises(TypeError, match="pickle"):
        td.save({"bad": np.array([None, 1], dtype=object)}, tmp_path / "x.npz")


def test_unsupported_objects_are_named(tmp_path):
    with pytest.raises(TypeError, match="set"):
        td.save({"bad": {1, 2}}, tmp_path / "x.npz")


def test_a_truncated_file_raises_a_clear_error(tmp_path):
    path = tmp_path / "ckpt.npz"
    td.save({"w": np.random.default_rng(0).standard_normal(1000)}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(td.CheckpointError, match="is truncated, damaged"):
        td.load(path)


def test_a_foreign_npz_is_not_mistaken_for_a_checkpoint(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, x=np.zeros(2))
    with pytest.raises(td.CheckpointError, match="not a tinydl checkpoint"):
        td.load(path)


def test_a_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        td.load(tmp_path / "nope.npz")


def test_checkpoint_is_a_plain_zip_of_npy_files(tmp_path):
    path = tmp_path / "ckpt.npz"
    td.save({"w": np.ones(3)}, path)
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == ["__structure__.npy", "a0.npy"]


def test_saved_checkpoint_gets_the_usual_file_mode(tmp_path):
    path = tmp_path / "ckpt.npz"
    td.save({"a": 1}, path)
    mask = os.umask(0)
    os.umask(mask)
    assert (path.stat().st_mode & 0o777) == 0o666 & ~mask  # not mkstemp's private 0600
