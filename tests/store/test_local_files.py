"""Local artifact files: atomic writes, and repeated bytes hard-linked to an earlier copy only
while that copy is unchanged."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import autolog
from autolog.store import _local_files
from autolog.store._local_files import write_file


def test_shared_bytes_are_linked_to_the_first_copy(tmp_path):
    data = b"numpy==2.0\nscikit-learn==1.9\n" + os.urandom(8)
    write_file(str(tmp_path / "a.txt"), data, shared=True)
    write_file(str(tmp_path / "b.txt"), data, shared=True)
    a, b = os.stat(tmp_path / "a.txt"), os.stat(tmp_path / "b.txt")
    assert (a.st_ino, a.st_nlink) == (b.st_ino, 2)
    assert (tmp_path / "b.txt").read_bytes() == data
    write_file(str(tmp_path / "b.txt"), data, shared=True)  # an existing name: replaced, linked
    assert os.stat(tmp_path / "b.txt").st_ino == a.st_ino
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "b.txt"]  # no temporary file left


def test_a_replaced_or_removed_first_copy_is_not_linked(tmp_path):
    data = b"pins\n" + os.urandom(8)
    first = tmp_path / "first.txt"
    write_file(str(first), data, shared=True)
    write_file(str(first), b"other bytes")  # replaced by a new file with other bytes
    write_file(str(tmp_path / "second.txt"), data, shared=True)
    assert (tmp_path / "second.txt").read_bytes() == data
    assert os.stat(tmp_path / "second.txt").st_ino != os.stat(first).st_ino
    os.unlink(tmp_path / "second.txt")  # the new first copy is gone: written again
    write_file(str(tmp_path / "third.txt"), data, shared=True)
    assert (tmp_path / "third.txt").read_bytes() == data


def test_unshared_writes_never_link(tmp_path):
    data = b"same" + os.urandom(8)
    write_file(str(tmp_path / "a"), data)
    write_file(str(tmp_path / "b"), data)
    assert os.stat(tmp_path / "a").st_ino != os.stat(tmp_path / "b").st_ino
    assert data not in _local_files._shared


def test_runs_share_one_requirements_file_with_the_same_content(tmp_path):
    from autolog import _context, _environment

    autolog.set_tracking_uri(str(tmp_path / "store"))
    autolog.set_environment_logging()  # on, whatever tests/conftest.py's variable says
    try:
        runs = []
        for _ in range(2):
            with autolog.start_run() as run:
                runs.append(run)
        autolog.flush()
    finally:
        _environment._parts.clear()
        _context.system_tags.cache_clear()
    paths = [os.path.join(r.info.artifact_uri, "environment", "requirements.txt") for r in runs]
    texts = [Path(p).read_text(encoding="utf-8") for p in paths]
    assert texts[0] == texts[1] and "==" in texts[0]
    assert os.stat(paths[0]).st_ino == os.stat(paths[1]).st_ino


def test_a_non_atomic_write_leaves_no_temporary_name(tmp_path):
    write_file(str(tmp_path / "staged.json"), b"[1]", atomic=False)
    assert os.listdir(tmp_path) == ["staged.json"]
    assert (tmp_path / "staged.json").read_bytes() == b"[1]"
    # Never through an existing name: it may be a hard link that other runs share.
    data = b"pins\n" + os.urandom(8)
    write_file(str(tmp_path / "a.txt"), data, shared=True)
    write_file(str(tmp_path / "b.txt"), data, shared=True)
    with pytest.raises(FileExistsError):
        write_file(str(tmp_path / "b.txt"), b"other", atomic=False)
    assert (tmp_path / "a.txt").read_bytes() == data
