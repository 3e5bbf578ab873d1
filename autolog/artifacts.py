"""Reading artifacts without a ``Client``: ``mlflow.artifacts``' functions, same names.

Pictures that integrations record as plot specs are listed under their drawn name and drawn
when first downloaded, as everywhere in autolog.
"""

from __future__ import annotations

from typing import Any

from autolog.entities import FileInfo
from autolog.errors import InvalidInputError

__all__ = ["download_artifacts", "list_artifacts", "load_text"]


def _locate(artifact_uri: str | None, run_id: str | None,
            artifact_path: str | None) -> tuple[Any, str]:
    """(repository, path inside it) for the arguments of the functions below."""
    from autolog import _tracking
    from autolog.store import artifacts as _artifacts

    if (artifact_uri is None) == (run_id is None):
        raise InvalidInputError("Give either artifact_uri or run_id (with artifact_path), not both.")
    if artifact_uri is not None:
        if artifact_path is not None:
            raise InvalidInputError("artifact_path goes with run_id, not with artifact_uri.")
        if artifact_uri.startswith("runs:/"):
            run_id, _, artifact_path = artifact_uri[len("runs:/"):].strip("/").partition("/")
        else:
            root, _, name = artifact_uri.rstrip("/").rpartition("/")
            return _artifacts.repository(root or "."), name
    root = _tracking.get_store().get_run(str(run_id)).info.artifact_uri
    return _artifacts.repository(root), _artifacts.clean_path(artifact_path)


def download_artifacts(artifact_uri: str | None = None, run_id: str | None = None,
                       artifact_path: str | None = None, dst_path: str | None = None) -> str:
    """Copy an artifact (file or folder) to ``dst_path`` (a new temporary folder by default).

    Args:
        artifact_uri: ``runs:/<run_id>/<path>`` or a location inside an artifact root.
        run_id: the run whose artifact to download (instead of ``artifact_uri``).
        artifact_path: the path inside the run's artifacts (the whole root by default).
        dst_path: where to put the copy.

    Returns:
        The local path of the copy.

    Raises:
        InvalidInputError: both or neither of ``artifact_uri`` and ``run_id``.
        NotFoundError: no such run or artifact.
        PlotError: a picture's spec cannot be drawn.
        ImportError: drawing a picture needs matplotlib (``pip install "autolog[plots]"``).
    """
    repo, path = _locate(artifact_uri, run_id, artifact_path)
    return repo.download(path, dst_path)  # type: ignore[no-any-return]


def list_artifacts(artifact_uri: str | None = None, run_id: str | None = None,
                   artifact_path: str | None = None) -> list[FileInfo]:
    """Files and folders directly under the given location.

    Raises:
        InvalidInputError: both or neither of ``artifact_uri`` and ``run_id``.
        NotFoundError: no such run.
    """
    repo, path = _locate(artifact_uri, run_id, artifact_path)
    return repo.list(path or None)  # type: ignore[no-any-return]


def load_text(artifact_uri: str) -> str:
    """The text of a file artifact (``runs:/<run_id>/<path>``).

    Raises:
        NotFoundError: no such run or file.
    """
    repo, path = _locate(artifact_uri, None, None)
    return repo.read_bytes(path).decode("utf-8")  # type: ignore[no-any-return]
