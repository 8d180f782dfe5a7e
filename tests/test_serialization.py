"""tl.save / tl.load: .npz round trips, atomic writes, and hostile files that must execute nothing."""

from __future__ import annotations

import io
import os
import pathlib
import pickle
import re
import zipfile

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import Tensor, nn


class _Payload:
    """Unpickling this creates ``marker``: proof that a file's pickle ran."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def _leftovers(directory: pathlib.Path, keep: set[str]) -> list[str]:
    return sorted(name for name in os.listdir(directory) if name not in keep)


# --------------------------------------------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------------------------------------------


def test_roundtrip_arrays_tensors_and_awkward_keys(tmp_path):
    state = {
        "w": np.arange(6, dtype=np.float32).reshape(2, 3),
        "b": np.array(1.5),
        "counts": np.array([1, 2, 3], dtype=np.int64),
        "mask": np.array([True, False]),
        "empty": np.zeros((0, 4)),
        "tensor": Tensor([1.0, 2.0]),
        "layers.0.weight": np.eye(2),
        "file": np.ones(1),  # would collide with np.savez's own parameter names
        "allow_pickle": np.ones(1),
        "a/b": np.ones(2),
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    }
    path = tmp_path / "state.npz"
    assert tl.save(state, path) is None
    loaded = tl.load(path)
    assert list(loaded) == list(state)
    for name, value in state.items():
        expected = value.data if isinstance(value, Tensor) else value
        assert loaded[name].dtype == expected.dtype and loaded[name].shape == expected.shape
        np.testing.assert_array_equal(loaded[name], expected)
    # a genuine .npz: numpy reads it as such
    with np.load(path, allow_pickle=False) as archive:
        np.testing.assert_array_equal(archive["w"], state["w"])
    assert tl.load(str(path)).keys() == loaded.keys()


def test_empty_state_dict(tmp_path):
    tl.save({}, tmp_path / "empty.npz")
    assert tl.load(tmp_path / "empty.npz") == {}


def test_model_roundtrip(tmp_path):
    tl.manual_seed(0)
    a = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 2))
    b = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 2))
    tl.save(a.state_dict(), tmp_path / "model.npz")
    b.load_state_dict(tl.load(tmp_path / "model.npz"))
    x = tl.randn(3, 4)
    np.testing.assert_array_equal(a(x).data, b(x).data)
    assert all(p.dtype == np.float32 for p in b.parameters())


def test_save_uses_the_path_as_given_and_normal_permissions(tmp_path):
    tl.save({"x": np.ones(1)}, tmp_path / "model")  # no ".npz" appended
    assert os.listdir(tmp_path) == ["model"]
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(tmp_path / "model").st_mode & 0o777 == 0o666 & ~umask
    os.chmod(tmp_path / "model", 0o600)
    tl.save({"x": np.zeros(1)}, tmp_path / "model")  # overwriting keeps the file's permissions
    assert os.stat(tmp_path / "model").st_mode & 0o777 == 0o600
    np.testing.assert_array_equal(tl.load(tmp_path / "model")["x"], [0.0])


# --------------------------------------------------------------------------------------------------------------
# Atomicity
# --------------------------------------------------------------------------------------------------------------


def test_crash_while_writing_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    tl.save({"w": np.arange(3.0)}, path)
    old_bytes = path.read_bytes()
    real_write = np.lib.format.write_array
    calls = []

    def failing_write(fp, array, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the second member: half of it written, then the "crash"
            fp.write(b"\x93NUMPY partial")
            raise OSError("disk full")
        return real_write(fp, array, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", failing_write)
    with pytest.raises(OSError, match="disk full"):
        tl.save({"w": np.zeros(1000), "b": np.ones(1000)}, path)
    assert path.read_bytes() == old_bytes
    np.testing.assert_array_equal(tl.load(path)["w"], np.arange(3.0))
    assert _leftovers(tmp_path, {"ckpt.npz"}) == []  # no temporary file left behind


def test_crash_at_rename_and_interrupts_leave_no_temp_files(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    tl.save({"w": np.arange(3.0)}, path)

    def boom(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        tl.save({"w": np.zeros(3)}, path)
    monkeypatch.undo()
    np.testing.assert_array_equal(tl.load(path)["w"], np.arange(3.0))
    assert _leftovers(tmp_path, {"ckpt.npz"}) == []


def test_bad_values_are_rejected_before_anything_is_written(tmp_path):
    path = tmp_path / "ckpt.npz"
    with pytest.raises(TypeError, match="only numeric arrays"):
        tl.save({"ok": np.ones(2), "obj": np.array([{"a": 1}], dtype=object)}, path)
    with pytest.raises(TypeError, match="only numeric arrays"):
        tl.save({"s": np.array(["text"])}, path)
    with pytest.raises(TypeError, match="keys must be strings"):
        tl.save({1: np.ones(2)}, path)
    with pytest.raises(TypeError, match="expected a mapping"):
        tl.save([np.ones(2)], path)
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------------------------------------------
# Hostile and broken files: a clear ValueError naming the path, and nothing executed
# --------------------------------------------------------------------------------------------------------------


def _expect_rejected(path, marker=None, match="not"):
    with pytest.raises(ValueError, match=re.escape(repr(str(path)))) as info:
        tl.load(path)
    assert re.search(match, str(info.value)), str(info.value)
    if marker is not None:
        assert not marker.exists(), "loading the file executed its pickle"


def test_the_payload_really_would_run(tmp_path):
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(_Payload(marker)))
    assert marker.exists()  # so the tests below would notice it running


def test_raw_pickle_is_rejected_without_unpickling(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.npz"
    path.write_bytes(pickle.dumps({"w": _Payload(marker)}))
    _expect_rejected(path, marker, match="not an .npz archive")


def test_npy_with_pickled_object_array_is_rejected(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.npy"
    np.save(path, np.array([_Payload(marker)], dtype=object), allow_pickle=True)
    _expect_rejected(path, marker, match="not an .npz archive")


def test_npz_with_object_array_is_rejected(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.npz"
    np.savez(path, w=np.ones(2), evil=np.array([_Payload(marker)], dtype=object))
    _expect_rejected(path, marker, match="Object arrays cannot be loaded")


def test_zip_with_pickle_members_is_rejected(tmp_path):
    marker = tmp_path / "pwned"
    for member in ("w.npy", "w.pkl"):
        path = tmp_path / f"{member}.npz"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr(member, pickle.dumps(_Payload(marker)))
        _expect_rejected(path, marker, match="not a valid")


def test_truncated_and_corrupt_files(tmp_path):
    path = tmp_path / "ckpt.npz"
    tl.save({"w": np.arange(1000.0), "b": np.ones(10)}, path)
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 30):
        truncated = tmp_path / f"cut{cut}.npz"
        truncated.write_bytes(data[:cut])
        _expect_rejected(truncated, match="not a valid")
    corrupt = bytearray(data)
    start = data.index(b"\x93NUMPY") + 200  # inside the first array's values
    corrupt[start : start + 8] = b"\xff" * 8
    bad = tmp_path / "corrupt.npz"
    bad.write_bytes(bytes(corrupt))
    _expect_rejected(bad, match="not a valid")  # the zip's CRC catches it


def test_other_files_are_rejected(tmp_path):
    cases = {
        "empty.npz": b"",
        "text.npz": b"hello, world\n",
        "plain.npy": None,
    }
    for name, content in cases.items():
        path = tmp_path / name
        if content is None:
            np.save(path, np.ones(3))
        else:
            path.write_bytes(content)
        _expect_rejected(path, match="not an .npz archive")
    strings = tmp_path / "strings.npz"
    np.savez(strings, names=np.array(["a", "b"]))
    _expect_rejected(strings, match="non-numeric dtype")
    with pytest.raises(FileNotFoundError):
        tl.load(tmp_path / "missing.npz")


def test_load_accepts_file_like_paths_only():
    with pytest.raises(TypeError):
        tl.load(io.BytesIO(b"PK"))


def test_keys_that_cannot_round_trip_are_refused_before_writing(tmp_path):
    path = tmp_path / "model.npz"
    with pytest.raises(ValueError, match=r"save: key 'a\\x00x' cannot be stored .*it would load as 'a'"):
        tl.save({"a\0x": np.ones(1), "a\0y": np.zeros(1)}, path)
    assert not path.exists() and os.listdir(tmp_path) == []


def test_save_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path):
    target, link = tmp_path / "real.npz", tmp_path / "link.npz"
    tl.save({"old": np.ones(1)}, target)
    link.symlink_to(target)
    tl.save({"new": np.zeros(2)}, link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert list(tl.load(target)) == ["new"]
    assert sorted(os.listdir(tmp_path)) == ["link.npz", "real.npz"]


def test_a_read_only_target_is_refused_exactly_when_open_refuses(tmp_path):
    path = tmp_path / "model.npz"
    tl.save({"a": np.ones(1)}, path)
    path.chmod(0o444)
    try:
        try:
            open(path, "ab").close()
            writable = True  # e.g. as root, which may write any file
        except PermissionError:
            writable = False
        if writable:
            tl.save({"b": np.ones(1)}, path)
            assert list(tl.load(path)) == ["b"]
        else:
            with pytest.raises(PermissionError, match=re.escape(str(path))):
                tl.save({"b": np.ones(1)}, path)
            assert list(tl.load(path)) == ["a"]
    finally:
        path.chmod(0o644)


def test_a_missing_directory_is_named_with_the_target(tmp_path):
    path = tmp_path / "missing" / "model.npz"
    with pytest.raises(FileNotFoundError) as info:
        tl.save({"a": np.ones(1)}, path)
    assert info.value.filename == str(path) and str(path) in str(info.value) and ".tmp" not in str(info.value)
