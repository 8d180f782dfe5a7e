"""``save`` and ``load``: state dicts as ``.npz`` files, with no pickle anywhere.

A ``.npz`` file is a zip archive of ``.npy`` members, one per array. ``save`` writes it to a temporary file in
the target's directory and moves it into place with ``os.replace`` (atomic on POSIX and Windows), so a crash
mid-write leaves the previous file intact. ``load`` checks that the file is a zip archive before numpy sees it
and reads it with ``allow_pickle=False``, so a pickle (or an object array inside an archive) is rejected
without being unpickled: loading an untrusted file executes nothing.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np

from .tensor import Tensor

__all__ = ["load", "save"]

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with members; an empty zip


def _as_array(name: Any, value: Any) -> np.ndarray:
    if not isinstance(name, str):
        raise TypeError(f"save: keys must be strings; got {name!r}")
    if zipfile.ZipInfo(name + ".npy").filename != name + ".npy":  # zip cuts names at NUL ("a\0x" -> "a")
        raise ValueError(f"save: key {name!r} cannot be stored in a zip archive unchanged (it would load as "
                         f"{zipfile.ZipInfo(name).filename!r})")
    array = np.asarray(value.data if isinstance(value, Tensor) else value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"save: value {name!r} has dtype {array.dtype}; only numeric arrays can be saved "
                        "(no pickled objects)")
    return array


def save(state_dict: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Write ``state_dict`` (name → numpy array, Tensor or number) to ``path`` as an ``.npz`` archive.

    The file is written to a temporary file next to ``path`` and then renamed over it, so ``path`` holds
    either the previous file or the complete new one, never a partial write. ``path`` is used as given
    (no ``.npz`` suffix is appended). A symbolic link is followed: its target is replaced, the link stays. A
    file that ``open(path, "wb")`` could not write is refused with the same ``PermissionError``, and errors
    name ``path``, never the temporary file.
    """
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"save: expected a mapping of names to arrays (e.g. model.state_dict()); "
                        f"got {type(state_dict).__name__}")
    arrays = {name: _as_array(name, value) for name, value in state_dict.items()}
    path = os.fspath(path)
    target = os.path.realpath(path)  # through symbolic links: replacing the link itself would leave its target
    directory = os.path.dirname(target)
    try:
        if os.path.exists(target):
            open(target, "ab").close()  # the permission check open(path, "wb") makes, without truncating
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(target)}.", suffix=".tmp")
    except OSError as error:  # name the path the user gave, not our temporary file
        raise type(error)(error.errno, f"save: {error.strerror}", path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            # np.savez writes exactly this (one stored .npy member per array); writing the members ourselves
            # lets any key be used (np.savez(file, **arrays) breaks on a key named "file") and forbids pickle.
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
                for name, array in arrays.items():
                    with archive.open(name + ".npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, array, allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _file_mode(target))
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable (POSIX); harmless to skip where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _file_mode(path: str) -> int:
    """The permissions the new file gets: the old file's, or what a plain ``open(path, "w")`` would give
    (``mkstemp`` creates files readable by their owner only)."""
    try:
        return os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def load(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a file written by :func:`save` (any ``.npz`` of numeric arrays) into a dict name → numpy array.

    Raises ``ValueError`` naming the path when the file is not an ``.npz`` archive (a pickle, a ``.npy``,
    anything else), is truncated or corrupt, or holds object arrays or other non-numeric members. Nothing
    in the file is ever unpickled or executed.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic not in _ZIP_MAGIC:
        raise ValueError(f"load: {path!r} is not an .npz archive (it does not start with a zip header)")
    result: dict[str, np.ndarray] = {}
    try:
        with np.load(path, allow_pickle=False) as archive:
            for name in archive.files:
                value = archive[name]
                if not isinstance(value, np.ndarray):
                    raise ValueError(f"member {name!r} is not an .npy array")
                if value.dtype.kind not in "biuf":
                    raise ValueError(f"member {name!r} has non-numeric dtype {value.dtype}")
                result[name] = value
    except Exception as error:  # BadZipFile, a CRC mismatch, a truncated member, "Object arrays cannot be ..."
        raise ValueError(f"load: {path!r} is not a valid tinygrad_lite .npz file: {error}") from error
    return result
