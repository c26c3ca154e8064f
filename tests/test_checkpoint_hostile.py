"""td.load on hostile files, td.save under kills and odd targets (issue 19).

Every damaged, forged, truncated or oversized file must raise ``td.CheckpointError`` (a
ValueError) naming the file; a file that loads must load exactly what was saved.  A save
killed at any moment leaves a loadable checkpoint and at most one temporary file; a saved
file keeps the permissions of the one it replaces.
"""
import io
import json
import os
import random
import signal
import stat
import time
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinydl as td
from tinydl import serialization

# TINYDL_FUZZ_EXAMPLES=N runs each fuzz test on N examples (a long run outside CI); the
# profile decides otherwise (25 in CI).
_LONG_RUN = (
    settings(max_examples=int(os.environ["TINYDL_FUZZ_EXAMPLES"]), deadline=None,
             suppress_health_check=list(HealthCheck))
    if os.environ.get("TINYDL_FUZZ_EXAMPLES") else (lambda test: test)
)
FUZZ_LIMIT = 2**20  # max_bytes for fuzzed loads: no fuzzed file may make load allocate much more


def sample_checkpoint():
    return {
        "model": {"w": np.arange(8.0), "b": np.ones((2, 3), np.float32)},
        "step": 3,
        7: [0.5, None, "run-1", True, float("nan")],
        "pair": (1, -2),
        "t": td.tensor([1.0, 2.0]),
        "empty": np.zeros((0, 3), np.int64),
    }


def canonical(obj):
    """A comparable form of a loaded checkpoint: containers by type, arrays by dtype, shape and bytes."""
    if isinstance(obj, td.Tensor):
        return ("tensor", canonical(obj.data))
    if isinstance(obj, np.ndarray):
        return ("array", obj.dtype.str, obj.shape, obj.tobytes())
    if isinstance(obj, dict):
        return ("dict", [(type(k).__name__, k, canonical(v)) for k, v in obj.items()])
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, [canonical(v) for v in obj])
    return (type(obj).__name__, repr(obj))  # repr: NaN equals NaN


def members(path):
    with zipfile.ZipFile(path) as z:
        return {info.filename: z.read(info) for info in z.infolist()}


def repack(path, entries, compression=zipfile.ZIP_STORED):
    """Write ``entries`` (name -> bytes) as a zip with valid checksums."""
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in entries.items():
            z.writestr(name, data)


def with_structure(path, structure):
    """Replace the __structure__ entry by ``structure`` (an object, or raw bytes)."""
    text = structure if isinstance(structure, bytes) else json.dumps(structure).encode()
    entries = members(path)
    entries["__structure__.npy"] = npy_bytes(np.frombuffer(text, np.uint8))
    repack(path, entries)


def structure_of(path):
    return json.loads(np.load(io.BytesIO(members(path)["__structure__.npy"])).tobytes())


def npy_bytes(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def npy_with_header(text, data):
    """An .npy member (format 1.0) with the header dict ``text`` and the raw ``data`` after it."""
    header = text.encode("latin1")
    header += b" " * (-(10 + len(header) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + data


def load_outcome(path):
    """td.load's result, or the CheckpointError it raised; anything else propagates (a test failure)."""
    try:
        return td.load(path, max_bytes=FUZZ_LIMIT)
    except td.CheckpointError as error:
        assert str(path) in str(error)
        return error


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "ckpt.npz"
    td.save(sample_checkpoint(), path)
    return path


# ---------------------------------------------------------------- fuzzing

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**20), 10**20) | st.floats() | st.text(max_size=4),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)
NODE_WORDS = st.sampled_from(["value", "array", "tensor", "dict", "list", "tuple", "name", "dtype", "shape", "a0", "a5"])


def json_paths(node, prefix=()):
    """Every position in a parsed JSON document, as a path of keys and indices."""
    yield prefix
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield from json_paths(child, prefix + (key,))


def replaced(node, path, new):
    if not path:
        return new
    copy = dict(node) if isinstance(node, dict) else list(node)
    copy[path[0]] = replaced(node[path[0]], path[1:], new)
    return copy


def check_fuzzed(path, original, may_differ=False):
    """Only a CheckpointError, or a load of what was saved (``may_differ``: of something save could have written)."""
    tracemalloc.start()
    try:
        outcome = load_outcome(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * FUZZ_LIMIT, f"load allocated {peak} bytes, over the limit {FUZZ_LIMIT}"
    if isinstance(outcome, td.CheckpointError):
        return
    if not may_differ:
        assert canonical(outcome) == canonical(original)
    else:  # an edit that is still a valid checkpoint: what it loads must survive a save / load unchanged
        td.save(outcome, path)
        assert canonical(td.load(path)) == canonical(outcome)


@_LONG_RUN
@given(edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=4),
       cut=st.none() | st.floats(0, 1))
def test_fuzz_byte_mutations(tmp_path_factory, edits, cut):
    path = tmp_path_factory.mktemp("fuzz") / "ckpt.npz"
    td.save(sample_checkpoint(), path)
    data = bytearray(path.read_bytes())
    for where, byte in edits:
        data[int(where * len(data))] = byte
    if cut is not None:
        data = data[: int(cut * len(data))]
    path.write_bytes(bytes(data))
    check_fuzzed(path, sample_checkpoint())


@_LONG_RUN
@given(data=st.data())
def test_fuzz_structure_edits(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "ckpt.npz"
    td.save(sample_checkpoint(), path)
    structure = structure_of(path)
    where = data.draw(st.sampled_from(list(json_paths(structure))))
    new = data.draw(JSON | NODE_WORDS | st.fixed_dictionaries({}, optional={w: JSON for w in ["value", "list", "dict", "array"]}))
    edited = replaced(structure, where, new)
    text = json.dumps(edited).encode()
    if data.draw(st.booleans()):  # and sometimes damage the text itself
        at = data.draw(st.integers(0, len(text) - 1))
        text = text[:at] + data.draw(st.binary(max_size=3)) + text[at + data.draw(st.integers(0, 3)):]
    with_structure(path, text)
    check_fuzzed(path, sample_checkpoint(), may_differ=True)


DESCRS = ["<f8", "<f4", "|u1", "<i8", ">f8", "|O", "<U2", "|V8", "|b1", "<c16", [("a", "<f4")], [("o", "|O")]]
LITERAL = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**20), 10**20) | st.floats()
    | st.text(st.characters(max_codepoint=255), max_size=3) | st.sampled_from(DESCRS[:-2]),
    lambda children: st.lists(children, max_size=3) | st.lists(children, max_size=3).map(tuple)
    | st.dictionaries(st.integers(0, 3) | st.sampled_from(["descr", "shape"]), children, max_size=2),
    max_leaves=5,
)
HEADER_KEYS = ["descr", "fortran_order", "shape"]
# pieces that unbalance brackets, open quotes or tokens (numpy's own parser leaked tokenize.TokenError on these)
DAMAGE = st.sampled_from(["(", ")", "{", "}", "[", "]", ",", ":", "'", "'''", '"', "\\", "\n", "#", "L", "0x", "1e"])


@st.composite
def npy_header_texts(draw):
    """An .npy header dict as text: the three keys with values that are often right, often any literal
    (bools in shapes, strings, nested tuples), sometimes a key missing or one more (unhashable, of
    another type), and sometimes damaged text: a cut or an inserted piece."""
    values = {
        "descr": draw(st.sampled_from(DESCRS) | LITERAL),
        "fortran_order": draw(st.booleans() | LITERAL),
        "shape": draw(st.lists(st.sampled_from([0, 1, 2, 3, 8]) | st.integers(-1, 10**13) | st.booleans(),
                               max_size=3).map(tuple) | LITERAL),
    }
    items = [f"{key!r}: {value!r}" for key, value in values.items()]
    if draw(st.booleans()):  # drop a key, or add one (any literal as its text: [] is an unhashable key)
        if draw(st.booleans()):
            del items[draw(st.integers(0, 2))]
        else:
            items.insert(draw(st.integers(0, 3)), f"{draw(LITERAL)!r}: {draw(LITERAL)!r}")
    text = "{" + ", ".join(items) + ", }"
    if draw(st.booleans()):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.just("") | DAMAGE) + text[at + draw(st.integers(0, 4)):]
    return text


@_LONG_RUN
@given(
    name=st.sampled_from(["model/w", "model/b", "t", "empty", "structure"]),
    header=npy_header_texts(),
    compression=st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]),
)
def test_fuzz_npy_header_edits_repacked_with_valid_checksums(tmp_path_factory, name, header, compression):
    path = tmp_path_factory.mktemp("fuzz") / "ckpt.npz"
    original = sample_checkpoint()
    td.save(original, path)
    member = {"model/w": "a0.npy", "model/b": "a1.npy", "t": "a2.npy", "empty": "a3.npy",
              "structure": "__structure__.npy"}[name]
    entries = members(path)
    entries[member] = npy_with_header(header, np.load(io.BytesIO(entries[member])).tobytes())
    repack(path, entries, compression)
    check_fuzzed(path, original)


# ---------------------------------------------------------------- forged files, one by one


@pytest.mark.parametrize(
    "structure, message",
    [
        ({"list": [{"value": 1}, {"array": {"name": "a9", "dtype": "<f8", "shape": [8]}}]}, "missing from the archive"),
        ([{"value": 1}], "not a single {kind: value} pair"),  # a list node
        ({"value": 1, "list": []}, "not a single {kind: value} pair"),  # two keys
        ({"dict": [[[1, 2], {"value": 1}]]}, "dict key"),  # an unhashable key
        ({"dict": [[True, {"value": 1}]]}, "dict key"),  # a key save never writes
        ({"dict": [["k", {"value": 1}], ["k", {"value": 2}]]}, "twice"),
        ({"value": [1, 2]}, "'value' node"),
        ({"set": []}, "unknown kind"),
        ({"array": {"name": "a0"}}, "malformed array declaration"),
    ],
    ids=["missing-array", "list-node", "two-keys", "unhashable-key", "bool-key", "repeated-key", "value-list",
         "unknown-kind", "bad-declaration"],
)
def test_forged_structures_raise_checkpoint_error(saved, structure, message):
    with_structure(saved, structure)
    with pytest.raises(td.CheckpointError, match="ckpt.npz") as caught:
        td.load(saved)
    assert message in str(caught.value)


def test_invalid_json_is_a_checkpoint_error(saved):
    with_structure(saved, b'{"value": ')
    with pytest.raises(td.CheckpointError, match="not valid JSON"):
        td.load(saved)


def test_bad_utf8_is_a_checkpoint_error(saved):
    with_structure(saved, b'{"value": "\xff\xfe"}')
    with pytest.raises(td.CheckpointError, match="not UTF-8"):
        td.load(saved)


@pytest.mark.parametrize("depth", [500, 100_000])
def test_deep_nesting_is_a_checkpoint_error_not_recursion(saved, depth):
    text = '{"list": [' * depth + '{"value": 1}' + "]}" * depth
    with_structure(saved, text.encode())
    with pytest.raises(td.CheckpointError, match="nested more than|not valid JSON"):
        td.load(saved)


def test_deep_nesting_is_refused_by_save_too(tmp_path):
    nested = []
    for _ in range(500):
        nested = [nested]
    with pytest.raises(ValueError, match="nested more than 100"):
        td.save(nested, tmp_path / "x.npz")
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="contains itself"):
        td.save(loop, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []


def test_undeclared_and_twice_declared_arrays_are_refused(saved):
    entries = members(saved)
    entries["extra.npy"] = npy_bytes(np.zeros(2))
    repack(saved, entries)
    with pytest.raises(td.CheckpointError, match="does not declare"):
        td.load(saved)
    td.save({"w": np.zeros(2)}, saved)
    declared = {"name": "a0", "dtype": "<f8", "shape": [2]}
    with_structure(saved, {"list": [{"array": declared}, {"array": declared}]})
    with pytest.raises(td.CheckpointError, match="declared twice"):
        td.load(saved)


def central_directory_offset(data, name=b"a0.npy"):
    """Where the central-directory record of the member ``name`` starts."""
    at = data.index(b"PK\x01\x02")
    while data[at + 46 : at + 46 + len(name)] != name:
        at = data.index(b"PK\x01\x02", at + 4)
    return at


def test_a_compression_method_byte_edit_is_refused(saved):
    data = bytearray(saved.read_bytes())
    data[central_directory_offset(data) + 10] = 99  # compression method 99 (AES): was NotImplementedError
    saved.write_bytes(bytes(data))
    with pytest.raises(td.CheckpointError, match="compression method 99"):
        td.load(saved)


def test_an_encryption_flag_is_refused(saved):
    data = bytearray(saved.read_bytes())
    data[central_directory_offset(data) + 8] |= 0x1  # was RuntimeError "password required"
    saved.write_bytes(bytes(data))
    with pytest.raises(td.CheckpointError, match="encrypted"):
        td.load(saved)


def test_a_plain_npy_file_is_refused(tmp_path):
    path = tmp_path / "array.npy"
    np.save(path, np.arange(3.0))
    with pytest.raises(td.CheckpointError, match="single .npy array"):
        td.load(path)


@pytest.mark.parametrize("content, message", [(b"", "is empty"), (b"hello, not a zip", "not a zip archive"),
                                              (b"PK\x03\x04garbage", "damaged")])
def test_empty_and_foreign_files_are_refused(tmp_path, content, message):
    path = tmp_path / "ckpt.npz"
    path.write_bytes(content)
    with pytest.raises(td.CheckpointError, match=message):
        td.load(path)


def test_every_truncation_is_a_checkpoint_error(saved):
    data = saved.read_bytes()
    for end in range(0, len(data), max(1, len(data) // 60)):
        saved.write_bytes(data[:end])
        with pytest.raises(td.CheckpointError, match="ckpt.npz"):
            td.load(saved)


def test_a_torch_checkpoint_is_refused_as_pickle(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pt"
    torch.save({"w": torch.zeros(2)}, path)
    with pytest.raises(td.CheckpointError, match="pickle"):
        td.load(path)


def forged_shape(saved, shape, declare=True):
    """Edit a0's .npy header to ``shape`` (data untouched), optionally its declaration too, and repack."""
    entries = members(saved)
    entries["a0.npy"] = npy_with_header(f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape!r}, }}",
                                        np.arange(8.0).tobytes())
    repack(saved, entries)
    if declare:
        structure = structure_of(saved)
        structure["dict"][0][1]["dict"][0][1]["array"]["shape"] = list(shape)
        with_structure(saved, structure)


def test_a_declared_shape_of_a_trillion_is_refused_before_allocating(saved):
    forged_shape(saved, (10**12,))
    tracemalloc.start()
    try:
        with pytest.raises(td.CheckpointError, match="takes 8000000000000 bytes, but the archive holds 64"):
            td.load(saved)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20


@pytest.mark.parametrize("declare", [True, False], ids=["declaration-edited-too", "header-only"])
def test_a_header_edited_from_8_to_3_and_repacked_is_refused(saved, declare):
    forged_shape(saved, (3,), declare)  # used to load silently with 5 of the 8 numbers missing
    with pytest.raises(td.CheckpointError, match="'a0'"):
        td.load(saved)


def test_a_small_member_that_inflates_past_the_limit_is_refused(tmp_path):
    path = tmp_path / "bomb.npz"
    entries = {"__structure__.npy": npy_bytes(np.frombuffer(b'{"array": "a0"}', np.uint8)),
               "a0.npy": npy_bytes(np.zeros(2**21))}  # 16 MiB of zeros, 16 KiB deflated
    repack(path, entries, zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 2**16
    tracemalloc.start()
    try:
        with pytest.raises(td.CheckpointError, match="over the limit max_bytes=1048576"):
            td.load(path, max_bytes=2**20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20
    np.testing.assert_array_equal(td.load(path, max_bytes=2**25), np.zeros(2**21))  # under a larger limit it loads


def test_the_default_limit_is_documented_and_checked(saved):
    assert td.load.__kwdefaults__["max_bytes"] == 4 * 2**30 and "4 GiB" in td.load.__doc__
    with pytest.raises(td.CheckpointError, match="over the limit max_bytes=100"):
        td.load(saved, max_bytes=100)
    with pytest.raises(ValueError, match="max_bytes"):
        td.load(saved, max_bytes=0)


SMALL_HEADERS = {
    "unhashable-key": "{[]: 1}",
    "unorderable-keys": "{1: 2, 'descr': '<f8'}",
    "unbalanced": "{'descr': '<f8', 'fortran_order': False, 'shape': (3, }",
    "unterminated-quote": "{'descr': '''<f8, 'fortran_order': False, 'shape': (1,), }",
    "bool-in-shape": "{'descr': '<f8', 'fortran_order': False, 'shape': (True,), }",
    "int-fortran-order": "{'descr': '<f8', 'fortran_order': 0, 'shape': (1,), }",
    "list-shape": "{'descr': '<f8', 'fortran_order': False, 'shape': [1], }",
    "nested-too-deep": "{'descr': " + "(" * 300 + ")" * 300 + "}",
}


@pytest.mark.parametrize("member", ["a0", "__structure__"])
@pytest.mark.parametrize("header", SMALL_HEADERS.values(), ids=SMALL_HEADERS.keys())
def test_forged_npy_header_texts_are_checkpoint_errors(tmp_path, member, header):
    path = tmp_path / "ckpt.npz"  # a0 holds one float64, so a shape (True,) passes as (1,)
    td.save({"w": np.arange(1.0)}, path)
    entries = members(path)  # these leaked TypeError and tokenize.TokenError
    entries[member + ".npy"] = npy_with_header(header, np.load(io.BytesIO(entries[member + ".npy"])).tobytes())
    repack(path, entries)
    with pytest.raises(td.CheckpointError, match="ckpt.npz") as caught:
        td.load(path)
    assert repr(member) in str(caught.value)


@pytest.mark.parametrize("member", ["a0", "__structure__"])
def test_a_huge_declared_npy_header_is_refused_before_it_is_read(tmp_path, member):
    path = tmp_path / "ckpt.npz"
    td.save({"w": np.arange(1.0)}, path)
    entries = members(path)  # a v2.0 header declaring 1.5 GiB: NumPy read all of it before checking its limit
    entries[member + ".npy"] = b"\x93NUMPY\x02\x00" + (3 * 2**29).to_bytes(4, "little") + b" " * 2**23
    repack(path, entries, zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 2**16
    tracemalloc.start()
    try:
        with pytest.raises(td.CheckpointError, match="header of 1610612736 bytes"):
            td.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20


def test_a_fortran_order_header_is_refused_for_that_reason(saved):
    entries = members(saved)  # a1: float32 (2, 3), declared so; save writes C order
    data = np.load(io.BytesIO(entries["a1.npy"])).tobytes()
    entries["a1.npy"] = npy_with_header("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", data)
    repack(saved, entries)
    with pytest.raises(td.CheckpointError, match="'a1'.*Fortran order"):
        td.load(saved)


def list_nodes(count):
    return ('{"list": [' + ", ".join(['{"list": []}'] * count) + "]}").encode()


def peak_of_load(path, max_bytes):
    """(td.load's result or the CheckpointError it raised, the peak memory it allocated)."""
    tracemalloc.start()
    try:
        try:
            outcome = td.load(path, max_bytes=max_bytes)
        except td.CheckpointError as error:
            outcome = error
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_structure_memory_is_bounded_by_max_bytes(tmp_path):
    path = tmp_path / "ckpt.npz"
    repack(path, {"__structure__.npy": npy_bytes(np.frombuffer(list_nodes(70_000), np.uint8))})  # 0.98 MB
    outcome, peak = peak_of_load(path, max_bytes=2**20)  # parsed, it took 21 MiB
    assert isinstance(outcome, td.CheckpointError) and "over the 65536 allowed" in str(outcome)
    assert peak < 2**20
    assert td.load(path, max_bytes=2**27) == [[]] * 70_000  # 1 MB of JSON is within 128 MiB / 128


def test_a_structure_at_the_limit_loads_within_max_bytes(tmp_path):
    path = tmp_path / "ckpt.npz"
    text = list_nodes(4_600)  # 64 KB: just under the 64 KiB the structure may take under any max_bytes
    assert len(text) <= serialization.structure_limit(2**21) == 2**16
    repack(path, {"__structure__.npy": npy_bytes(np.frombuffer(text, np.uint8))})
    outcome, peak = peak_of_load(path, max_bytes=2**21)
    assert outcome == [[]] * 4_600 and peak < 2**21


def test_the_structure_limit_of_save_is_the_default_one_of_load(saved, monkeypatch):
    assert serialization.structure_limit(td.load.__kwdefaults__["max_bytes"]) == 2**25  # 4 GiB / 128: 32 MiB of JSON
    monkeypatch.setattr(serialization, "structure_limit", lambda max_bytes: 100)
    with pytest.raises(td.CheckpointError, match="over the 100 allowed"):
        td.load(saved)
    with pytest.raises(ValueError, match="over the 100 that load accepts"):
        td.save(sample_checkpoint(), saved)


def test_files_in_the_older_format_still_load(tmp_path):
    path = tmp_path / "old.npz"  # what save wrote before arrays were declared with dtype and shape
    np.savez(path, __structure__=np.frombuffer(b'{"dict": [["w", {"array": "a0"}], ["t", {"tensor": "a1"}]]}',
                                               np.uint8), a0=np.asfortranarray(np.ones((2, 3))), a1=np.arange(3.0))
    back = td.load(path)
    np.testing.assert_array_equal(back["w"], np.ones((2, 3)))
    assert isinstance(back["t"], td.Tensor) and back["t"].tolist() == [0.0, 1.0, 2.0]


def test_odd_arrays_round_trip_exactly(tmp_path):
    obj = {"fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)), "big_endian": np.arange(3, dtype=">i4"),
           "scalar": np.array(2.5), "strings": np.array(["ab", "c"]), "view": np.arange(10)[::3],
           "int_tensor": td.tensor([1, 2])}
    td.save(obj, tmp_path / "x.npz")
    back = td.load(tmp_path / "x.npz")
    for key, value in obj.items():
        expected = value.data if isinstance(value, td.Tensor) else value
        got = back[key].data if isinstance(value, td.Tensor) else back[key]
        assert got.dtype == expected.dtype and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)
    assert back["view"].flags.writeable and back["fortran"].flags.writeable


# ---------------------------------------------------------------- save: kills, temporaries, permissions


def leftovers(folder, target="ckpt.npz"):
    return sorted(name for name in os.listdir(folder) if name != target)


def test_saves_killed_at_random_moments_leave_a_checkpoint_and_one_temporary(tmp_path):
    path = tmp_path / "ckpt.npz"
    td.save({"version": -1, "w": np.full(2**20, -1.0)}, path)  # 8 MiB
    moments = random.Random(19)
    for kill in range(4):
        child = os.fork()
        if child == 0:  # the child saves in a loop until it is killed
            try:
                for version in range(10**6):
                    td.save({"version": version, "w": np.full(2**20, float(version))}, path)
            finally:
                os._exit(1)
        time.sleep(moments.uniform(0.0, 0.4))
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        back = td.load(path)  # the old checkpoint or a new one, whole
        np.testing.assert_array_equal(back["w"], np.full(2**20, float(back["version"])))
        assert leftovers(tmp_path) in ([], [".ckpt.npz.tmp"])
    td.save({"version": 0}, path)
    assert leftovers(tmp_path) == []  # the next save replaces the temporary a killed one left


def test_a_stale_temporary_is_replaced_not_kept(tmp_path):
    path = tmp_path / "ckpt.npz"
    (tmp_path / ".ckpt.npz.tmp").write_bytes(b"half of a save killed yesterday")
    td.save({"a": 1}, path)
    assert leftovers(tmp_path) == [] and td.load(path) == {"a": 1}


def test_failing_saves_leave_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    td.save({"version": 1}, path)
    for _ in range(5):
        with pytest.raises(TypeError, match="set"):
            td.save({"bad": {1, 2}}, path)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    for _ in range(5):
        with pytest.raises(OSError, match="No space"):
            td.save({"version": 2}, path)
    monkeypatch.undo()
    assert leftovers(tmp_path) == [] and td.load(path) == {"version": 1}
    folder = tmp_path / "a-folder"
    folder.mkdir()
    with pytest.raises(OSError):
        td.save({"a": 1}, folder)
    assert leftovers(tmp_path) == ["a-folder"]
    with pytest.raises(FileNotFoundError, match="no-such-folder"):
        td.save({"a": 1}, tmp_path / "no-such-folder" / "ckpt.npz")


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_private_checkpoint_stays_private(tmp_path):
    path = tmp_path / "ckpt.npz"
    td.save({"a": 1}, path)
    os.chmod(path, 0o600)
    td.save({"a": 2}, path)
    assert mode(path) == 0o600 and td.load(path) == {"a": 2}
    os.chmod(path, 0o640)
    td.save({"a": 3}, path)
    assert mode(path) == 0o640


def test_a_read_only_checkpoint_is_refused(tmp_path):
    path = tmp_path / "ckpt.npz"
    td.save({"a": 1}, path)
    os.chmod(path, 0o444)
    with pytest.raises(PermissionError, match="read-only") as caught:
        td.save({"a": 2}, path)
    assert "ckpt.npz" in str(caught.value)
    assert mode(path) == 0o444 and td.load(path) == {"a": 1} and leftovers(tmp_path) == []


def test_a_symlink_is_written_through(tmp_path):
    real = tmp_path / "real.npz"
    link = tmp_path / "ckpt.npz"
    td.save({"a": 1}, real)
    os.chmod(real, 0o600)
    link.symlink_to(real)
    td.save({"a": 2}, link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert td.load(real) == {"a": 2} and mode(real) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz", "real.npz"]
