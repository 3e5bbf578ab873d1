"""The artifact proxy, MLflow's ``/api/2.0/mlflow-artifacts/artifacts[/<path>]``: clients upload
(PUT), download (GET), list (GET without a path, ``?path=``) and delete (DELETE) run artifacts
through the server, which alone holds the storage's credentials. Paths are relative to the
server's default artifact root; whatever repository serves that root's URI (a folder, S3) serves
them, through :func:`autolog.store.artifacts.repository`.
"""

from __future__ import annotations

import mimetypes
from typing import Any

from autolog.store import artifacts
from autolog.store.artifacts import clean_path


class ArtifactProxy:
    """The proxy's operations on one root URI; each runs in a worker thread."""

    def __init__(self, root: str) -> None:
        self.root = root

    def _repo(self) -> artifacts.ArtifactRepository:
        return artifacts.repository(self.root)

    def upload(self, path: str, data: bytes) -> dict[str, Any]:
        self._repo().write_bytes(clean_path(path), data)
        return {}

    def download(self, path: str) -> tuple[bytes, str]:
        data = self._repo().read_bytes(clean_path(path))
        kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind in ("application/json", "image/svg+xml"):
            # Served as text would let a stored HTML file run script on the server's origin.
            kind = "text/plain; charset=utf-8" if kind.startswith("text/") else kind
        return data, kind

    def list(self, path: str | None) -> dict[str, Any]:
        files = self._repo().list(clean_path(path) or None)
        return {"files": [
            {"path": f.path.rsplit("/", 1)[-1], "is_dir": f.is_dir,
             **({"file_size": f.file_size} if not f.is_dir and f.file_size is not None else {})}
            for f in files]}

    def delete(self, path: str) -> dict[str, Any]:
        self._repo().delete(clean_path(path))
        return {}
