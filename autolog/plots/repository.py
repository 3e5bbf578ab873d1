"""The read side of lazy plots: an artifact repository wrapper with the same interface.

:func:`autolog.store.artifacts.repository` returns every repository wrapped in
:class:`PlotRepository`, so every reader (``Client``, the fluent API, models, the CLI, the
tracking server) sees the same thing:

* listings hide ``<name>.plotspec.json`` and show ``<name>`` once (drawn or not yet);
* reading or downloading ``<name>`` the first time draws it from its spec and writes it into
  the wrapped repository beside the spec (the cache); later reads find the file and read it;
* a spec that cannot be drawn raises there and then (:class:`PlotError`, or an ``ImportError``
  naming ``pip install "autolog[plots]"``), never at fit time;
* a report spec (``model_summary``) is rendered the same way from the run's saved model
  (:mod:`autolog.plots.reports`); without its framework the ``ImportError`` names its extra.

Writes pass straight through.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

from autolog.entities import FileInfo
from autolog.errors import NotFoundError, StorageError
from autolog.plots import SPEC_SUFFIX
from autolog.store.artifacts import ArtifactRepository, clean_path


class PlotRepository(ArtifactRepository):
    """Wraps ``inner``; see the module docstring."""

    def __init__(self, inner: ArtifactRepository) -> None:
        super().__init__(inner.root)
        self.inner = inner

    # -- writes and plain delegation ----------------------------------------------------------
    def log_file(self, local_path: str, artifact_path: str | None = None) -> None:
        self.inner.log_file(local_path, artifact_path)

    def log_dir(self, local_dir: str, artifact_path: str | None = None) -> None:
        self.inner.log_dir(local_dir, artifact_path)

    def write_bytes(self, artifact_file: str, data: bytes, shared: bool = False) -> None:
        self.inner.write_bytes(artifact_file, data, shared)

    def delete(self, path: str | None = None) -> None:
        self.inner.delete(path)
        rel = clean_path(path)
        if rel and not rel.endswith(SPEC_SUFFIX):
            self.inner.delete(rel + SPEC_SUFFIX)  # deleting a picture deletes its data too

    def local_path(self, path: str | None = None) -> str | None:
        return self.inner.local_path(path)

    @contextlib.contextmanager
    def folder_to_log(self, artifact_path: str) -> Iterator[str]:
        with self.inner.folder_to_log(artifact_path) as path:
            yield path

    # -- reads ----------------------------------------------------------------------------------
    def list(self, path: str | None = None) -> list[FileInfo]:
        entries = self.inner.list(path)
        names = {f.path for f in entries}
        out = [f for f in entries if not f.path.endswith(SPEC_SUFFIX)]
        for f in entries:
            if f.path.endswith(SPEC_SUFFIX) and not f.is_dir:
                drawn = f.path[: -len(SPEC_SUFFIX)]
                if drawn not in names:
                    out.append(FileInfo(drawn, False, None))  # size unknown until drawn
        out.sort(key=lambda f: f.path)
        return out

    def read_bytes(self, artifact_file: str) -> bytes:
        try:
            return self.inner.read_bytes(artifact_file)
        except NotFoundError:
            drawn = self._draw(artifact_file)
            if drawn is None:
                raise
            return drawn

    def exists(self, path: str) -> bool:
        return self.inner.exists(path) or (
            bool(clean_path(path)) and self.inner.exists(clean_path(path) + SPEC_SUFFIX))

    def download(self, path: str | None = None, dst_path: str | None = None) -> str:
        rel = clean_path(path)
        if rel and not rel.endswith(SPEC_SUFFIX) and not self.inner.exists(rel):
            if self._draw(rel) is None:
                raise NotFoundError(f"No artifact {path!r} in {self.root}.")
            return self.inner.download(rel, dst_path)
        self.draw_all(rel)
        result = self.inner.download(path, dst_path)
        if os.path.isdir(result):
            # A downloaded folder holds what the listing shows: the pictures, not their data.
            for folder, _dirs, files in os.walk(result):
                for name in files:
                    if name.endswith(SPEC_SUFFIX):
                        os.remove(os.path.join(folder, name))
        return result

    def local_copy(self, path: str) -> str:
        rel = clean_path(path)
        if rel and not rel.endswith(SPEC_SUFFIX) and not self.inner.exists(rel):
            self._draw(rel)
        return self.inner.local_copy(path)

    # -- drawing --------------------------------------------------------------------------------
    def draw_all(self, path: str | None = None) -> int:
        """Draw every picture under ``path`` whose file is missing; returns how many were drawn.

        Raises:
            PlotError: a spec cannot be drawn.
            ImportError: matplotlib is missing.
        """
        rel = clean_path(path)
        if rel.endswith(SPEC_SUFFIX):
            return 0
        drawn = 0
        pending = [rel or None]
        while pending:
            entries = self.inner.list(pending.pop())
            names = {f.path for f in entries}
            for f in entries:
                if f.is_dir:
                    pending.append(f.path)
                elif f.path.endswith(SPEC_SUFFIX) and f.path[: -len(SPEC_SUFFIX)] not in names:
                    drawn += self._draw(f.path[: -len(SPEC_SUFFIX)]) is not None
        return drawn

    def _draw(self, artifact_file: str) -> bytes | None:
        """Draw ``artifact_file`` from its spec and cache it; None when it has no spec.

        Raises:
            PlotError: the spec is malformed or drawing failed.
            ImportError: matplotlib is missing.
        """
        rel = clean_path(artifact_file)
        if not rel or rel.endswith(SPEC_SUFFIX):
            return None
        try:
            raw = self.inner.read_bytes(rel + SPEC_SUFFIX)
        except NotFoundError:
            return None
        from autolog.plots import REPORT_KINDS, draw, reports, spec

        loaded = spec.loads(raw, rel + SPEC_SUFFIX)
        if loaded["kind"] in REPORT_KINDS:  # text computed from the run's saved model
            data = reports.render(loaded, rel, self.inner)
        else:
            data = draw.render(loaded, rel)
        try:
            self.inner.write_bytes(rel, data)
        except StorageError:
            pass  # a read-only store still serves the picture, drawn again next time
        return data
