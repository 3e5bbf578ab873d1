"""Where a run's MLflow artifacts are, when this machine can read them as files."""

from __future__ import annotations

import os
from urllib.parse import unquote, urlparse


def local_folder(artifact_uri: str, base: str) -> str | None:
    """The local folder of ``artifact_uri`` (``file://`` or a path; a relative path is taken
    from ``base``, the store's folder), whether or not it exists (MLflow creates it with the
    first artifact); None when it is remote."""
    if not artifact_uri:
        return None
    if artifact_uri.startswith("file:"):
        path = unquote(urlparse(artifact_uri).path)
    elif "://" in artifact_uri or artifact_uri.startswith("mlflow-artifacts:"):
        return None  # s3://, gs://, a tracking server's proxy: not files here
    else:
        path = artifact_uri
    if not os.path.isabs(path):
        path = os.path.join(base, path)
    return path
