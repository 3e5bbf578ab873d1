"""A run's artifacts for the UI: listing (plot specs shown under their drawn name), previews by
file type, and downloads of files and folders. Every path goes through
:func:`autolog.store.artifacts.clean_path`, so ``..`` never leaves the run's root.
"""

from __future__ import annotations

import csv
import io
import json
import os
from typing import Any

from autolog.entities import FileInfo
from autolog.errors import NotFoundError
from autolog.plots import REPORT_KINDS
from autolog.store.artifacts import ArtifactRepository, clean_path, repository

SPEC_SUFFIX = ".plotspec.json"
PREVIEW_BYTES = 512 * 1024  # text shown inline; larger files are cut (download for the rest)
CSV_ROWS = 200
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".gif": "image/gif", ".webp": "image/webp", ".bmp": "image/bmp",
               ".svg": "image/svg+xml"}
TEXT_TYPES = {".txt", ".log", ".md", ".py", ".cfg", ".ini", ".toml", ".sh", ".rst", ".xml",
              ".requirements", ".in"}
MODEL_META = "model.json"


def repo_of(artifact_uri: str) -> ArtifactRepository:
    return repository(artifact_uri)


def listing(repo: ArtifactRepository, path: str = "") -> list[dict[str, Any]]:
    """Direct children of ``path``; ``x.plotspec.json`` is listed as ``x`` (drawn from the spec).

    Raises:
        InvalidInputError: the path leaves the run's root.
    """
    rel = clean_path(path)
    files = repo.list(rel or None)
    by_path: dict[str, dict[str, Any]] = {}
    for f in files:
        entry = _entry(f)
        if not f.is_dir and f.path.endswith(SPEC_SUFFIX):
            drawn = f.path[: -len(SPEC_SUFFIX)]
            existing = by_path.setdefault(drawn, {**_entry(FileInfo(drawn, False, None))})
            existing["plotspec"] = True
            continue
        if f.path in by_path:  # the drawn file (cache) beside its spec
            by_path[f.path].update(file_size=f.file_size)
            continue
        by_path[f.path] = entry
    return sorted(by_path.values(), key=lambda e: (not e["is_dir"], e["path"]))


def _entry(f: FileInfo) -> dict[str, Any]:
    return {"path": f.path, "name": f.path.rsplit("/", 1)[-1], "is_dir": bool(f.is_dir),
            "file_size": f.file_size, "plotspec": False}


def _read_spec(repo: ArtifactRepository, path: str) -> Any | None:
    try:
        return json.loads(repo.read_bytes(path + SPEC_SUFFIX))
    except (NotFoundError, ValueError):
        return None


def preview(repo: ArtifactRepository, path: str) -> dict[str, Any]:
    """What the run page shows for ``path``: its kind and the data to show.

    Kinds: ``plotspec`` (the spec, drawn in the browser), ``image``, ``html`` (shown in a
    sandboxed frame from the raw URL), ``csv`` (rows), ``json``, ``yaml``, ``text``, ``model``
    (a model folder's metadata, signature and requirements), ``folder``, ``binary``.

    Raises:
        InvalidInputError: the path leaves the run's root.
        NotFoundError: nothing there.
    """
    rel = clean_path(path)
    if not rel:
        return {"path": "", "kind": "folder"}
    out: dict[str, Any] = {"path": rel, "name": rel.rsplit("/", 1)[-1]}
    spec = _read_spec(repo, rel)
    # A report spec (model_summary) is rendered on the server by reading the file below.
    if spec is not None and not (isinstance(spec, dict) and spec.get("kind") in REPORT_KINDS):
        return {**out, "kind": "plotspec", "spec": spec}
    ext = os.path.splitext(rel)[1].lower()
    try:
        data = repo.read_bytes(rel)
    except NotFoundError:
        children = repo.list(rel)
        if not children:
            raise
        names = {c.path.rsplit("/", 1)[-1] for c in children}
        if MODEL_META in names:
            return {**out, **_model(repo, rel, names)}
        return {**out, "kind": "folder"}
    out["size"] = len(data)
    if ext in IMAGE_TYPES:
        return {**out, "kind": "image"}
    if ext in (".html", ".htm"):
        return {**out, "kind": "html"}
    cut = data[:PREVIEW_BYTES]
    truncated = len(data) > PREVIEW_BYTES
    try:
        text = cut.decode("utf-8")
    except UnicodeDecodeError:
        if truncated:  # the cut may split a character
            text = cut.decode("utf-8", errors="ignore")
        else:
            return {**out, "kind": "binary"}
    out["truncated"] = truncated
    if ext in (".csv", ".tsv"):
        reader = csv.reader(io.StringIO(text), delimiter="\t" if ext == ".tsv" else ",")
        rows = []
        for i, row in enumerate(reader):
            if i > CSV_ROWS:
                out["truncated"] = True
                break
            rows.append(row)
        return {**out, "kind": "csv", "rows": rows}
    if ext == ".json" and not truncated:
        try:
            return {**out, "kind": "json", "text": json.dumps(json.loads(text), indent=2)}
        except ValueError:
            pass
    kind = "yaml" if ext in (".yaml", ".yml") else "json" if ext == ".json" else "text"
    return {**out, "kind": kind, "text": text}


def _model(repo: ArtifactRepository, rel: str, names: set[str]) -> dict[str, Any]:
    try:
        meta = json.loads(repo.read_bytes(f"{rel}/{MODEL_META}"))
    except ValueError:
        meta = {}
    requirements = ""
    if "requirements.txt" in names:
        requirements = repo.read_bytes(f"{rel}/requirements.txt").decode("utf-8", "replace")
    return {"kind": "model", "flavor": meta.get("flavor"), "model_class": meta.get("model_class"),
            "framework": meta.get("framework"), "framework_version": meta.get("framework_version"),
            "python_version": meta.get("python_version"), "signature": meta.get("signature"),
            "requirements": requirements}


def content_type(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    if ext in IMAGE_TYPES:
        return IMAGE_TYPES[ext]
    if ext in (".html", ".htm"):
        return "text/html; charset=utf-8"
    if ext == ".json":
        return "application/json"
    if ext in (".csv", ".txt", ".log", ".yaml", ".yml", ".md", ".py") or ext in TEXT_TYPES:
        return "text/plain; charset=utf-8"
    return "application/octet-stream"
