"""The artifact repository contract as a test suite: subclass :class:`ArtifactContract` and
provide a ``repo`` fixture returning a fresh, empty repository. The local folder and S3 run these
same tests; so should any repository registered with
:func:`autolog.store.artifacts.register_scheme`.

Example::

    class TestMyRepository(ArtifactContract):
        @pytest.fixture
        def repo(self, tmp_path):
            return MyRepository("my://bucket/prefix")
"""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from autolog.errors import InvalidInputError, NotFoundError
from autolog.testing import run_threads

LARGE_FILE_MB = 24  # above the multipart threshold a repository's test fixture sets


def _tree(root: str) -> dict[str, bytes]:
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            full = os.path.join(dirpath, name)
            with open(full, "rb") as fh:
                out[os.path.relpath(full, root).replace(os.sep, "/")] = fh.read()
    return out


class ArtifactContract:
    """Behaviour every :class:`~autolog.store.artifacts.ArtifactRepository` keeps."""

    @pytest.fixture
    def repo(self) -> Any:  # pragma: no cover - provided by the backend's test class
        raise NotImplementedError

    @pytest.fixture
    def local_dir(self, tmp_path: Path) -> Path:
        src = tmp_path / "src"
        (src / "sub" / "deeper").mkdir(parents=True)
        (src / "a.txt").write_text("alpha")
        (src / "sub" / "b.bin").write_bytes(bytes(range(256)))
        (src / "sub" / "deeper" / "c.json").write_text('{"c": 1}')
        return src

    # -- bytes ----------------------------------------------------------------------------------
    def test_write_read_replace(self, repo: Any) -> None:
        repo.write_bytes("notes/x.txt", b"one")
        assert repo.read_bytes("notes/x.txt") == b"one"
        repo.write_bytes("notes/x.txt", b"two, longer")
        assert repo.read_bytes("notes/x.txt") == b"two, longer"
        repo.write_bytes("empty.txt", b"")
        assert repo.read_bytes("empty.txt") == b""

    def test_read_missing_is_not_found(self, repo: Any) -> None:
        with pytest.raises(NotFoundError):
            repo.read_bytes("nope.txt")

    def test_paths_leaving_the_root_are_refused(self, repo: Any) -> None:
        for bad in ("../escape.txt", "a/../../escape.txt", "/abs.txt"):
            with pytest.raises(InvalidInputError):
                repo.write_bytes(bad, b"x")
        with pytest.raises(InvalidInputError):
            repo.list("../")

    def test_unicode_names_and_content(self, repo: Any) -> None:
        text = "精度 — точность — ακρίβεια ✓"
        repo.write_bytes("données/résumé ✓.txt", text.encode("utf-8"))
        assert repo.read_bytes("données/résumé ✓.txt").decode("utf-8") == text
        assert [f.path for f in repo.list("données")] == ["données/résumé ✓.txt"]

    # -- files and folders ----------------------------------------------------------------------
    def test_log_file_under_path(self, repo: Any, tmp_path: Path) -> None:
        src = tmp_path / "model.pkl"
        src.write_bytes(b"\x00\x01pickle")
        repo.log_file(str(src))
        repo.log_file(str(src), "models/best")
        assert repo.read_bytes("model.pkl") == b"\x00\x01pickle"
        assert repo.read_bytes("models/best/model.pkl") == b"\x00\x01pickle"

    def test_log_missing_local_paths(self, repo: Any, tmp_path: Path) -> None:
        with pytest.raises(NotFoundError):
            repo.log_file(str(tmp_path / "missing.txt"))
        with pytest.raises(NotFoundError):
            repo.log_dir(str(tmp_path / "missing"))

    def test_log_dir_and_list(self, repo: Any, local_dir: Path) -> None:
        repo.log_dir(str(local_dir), "data")
        root = repo.list()
        assert [(f.path, f.is_dir) for f in root] == [("data", True)]
        listed = repo.list("data")
        assert [(f.path, f.is_dir, f.file_size) for f in listed] == [
            ("data/a.txt", False, 5), ("data/sub", True, None)]
        assert [f.path for f in repo.list("data/sub")] == ["data/sub/b.bin", "data/sub/deeper"]
        assert repo.read_bytes("data/sub/deeper/c.json") == b'{"c": 1}'

    def test_log_dir_at_root(self, repo: Any, local_dir: Path) -> None:
        repo.log_dir(str(local_dir))
        assert [f.path for f in repo.list()] == ["a.txt", "sub"]

    def test_list_missing_or_empty_is_empty(self, repo: Any) -> None:
        assert repo.list() == []
        assert repo.list("no/such/folder") == []

    def test_exists(self, repo: Any) -> None:
        repo.write_bytes("d/e/f.txt", b"f")
        assert repo.exists("d/e/f.txt") and repo.exists("d/e") and repo.exists("d")
        assert not repo.exists("d/e/g.txt") and not repo.exists("d/e/f")

    def test_sibling_prefixes_are_not_children(self, repo: Any) -> None:
        repo.write_bytes("model/a.txt", b"a")
        repo.write_bytes("model_v2/b.txt", b"b")
        assert [f.path for f in repo.list("model")] == ["model/a.txt"]
        repo.delete("model")
        assert repo.read_bytes("model_v2/b.txt") == b"b"

    # -- download -------------------------------------------------------------------------------
    def test_download_file_folder_and_root(self, repo: Any, local_dir: Path, tmp_path: Path) -> None:
        repo.log_dir(str(local_dir), "data")
        one = repo.download("data/a.txt", str(tmp_path / "dl1"))
        assert Path(one).read_text() == "alpha"
        folder = repo.download("data/sub", str(tmp_path / "dl2"))
        assert _tree(folder) == {"b.bin": bytes(range(256)), "deeper/c.json": b'{"c": 1}'}
        whole = repo.download()
        assert _tree(whole) == {"data/" + k: v for k, v in _tree(str(local_dir)).items()}

    def test_download_missing_is_not_found(self, repo: Any, tmp_path: Path) -> None:
        with pytest.raises(NotFoundError):
            repo.download("nothing/here", str(tmp_path / "dl"))

    def test_local_copy(self, repo: Any) -> None:
        repo.write_bytes("m/MLmodel", b"flavors: {}")
        assert (Path(repo.local_copy("m")) / "MLmodel").read_bytes() == b"flavors: {}"
        with pytest.raises(NotFoundError):
            repo.local_copy("missing")

    def test_folder_to_log(self, repo: Any) -> None:
        with repo.folder_to_log("model") as path:
            os.makedirs(path)
            with open(os.path.join(path, "weights.bin"), "wb") as fh:
                fh.write(b"w" * 10)
        assert repo.read_bytes("model/weights.bin") == b"w" * 10

    # -- delete ---------------------------------------------------------------------------------
    def test_delete_file_folder_and_missing(self, repo: Any, local_dir: Path) -> None:
        repo.log_dir(str(local_dir), "data")
        repo.delete("data/a.txt")
        assert [f.path for f in repo.list("data")] == ["data/sub"]
        repo.delete("data/sub")
        assert repo.list("data") == []
        repo.delete("never/was")  # missing is not an error
        repo.write_bytes("x.txt", b"x")
        repo.delete()
        assert repo.list() == []

    # -- scale and concurrency ------------------------------------------------------------------
    def test_large_file_streams_whole(self, repo: Any, tmp_path: Path) -> None:
        big = tmp_path / "big.bin"
        chunk = os.urandom(1024 * 1024)
        digest = hashlib.sha256()
        with open(big, "wb") as fh:
            for i in range(LARGE_FILE_MB):
                block = bytes([i]) + chunk[1:]
                digest.update(block)
                fh.write(block)
        tracemalloc.start()
        try:
            repo.log_file(str(big), "ckpt")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        # Streamed from disk: never the whole file in memory at once.
        assert peak < big.stat().st_size / 2, peak
        [info] = repo.list("ckpt")
        assert info.file_size == big.stat().st_size
        copy = repo.download("ckpt/big.bin", str(tmp_path / "back"))
        check = hashlib.sha256()
        with open(copy, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                check.update(block)
        assert check.hexdigest() == digest.hexdigest()

    def test_threads_write_concurrently(self, repo: Any) -> None:
        def work(t: int) -> None:
            for i in range(10):
                repo.write_bytes(f"t{t}/f{i}.txt", f"{t}-{i}".encode())

        assert run_threads(work, 4) == []
        assert [len(repo.list(f"t{t}")) for t in range(4)] == [10] * 4
        assert repo.read_bytes("t3/f9.txt") == b"3-9"
