"""Where runs are stored: the tracking URI and one batching store per URI per process."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from autolog.errors import InvalidInputError

if TYPE_CHECKING:
    from autolog.store.base import AbstractStore
    from autolog.store.batching import BatchingStore

DEFAULT_FOLDER = "autolog-runs"
DB_FILE = "autolog.db"
ENV_URI = "AUTOLOG_TRACKING_URI"
ENV_ARTIFACT_ROOT = "AUTOLOG_DEFAULT_ARTIFACT_ROOT"

_uri: str | None = None
_stores: dict[str, "BatchingStore"] = {}
_lock = threading.Lock()


def set_tracking_uri(uri: str | os.PathLike[str]) -> None:
    """Set where runs are stored: a folder, ``sqlite:///path.db``, ``file:///folder``,
    ``postgresql://user:password@host:5432/db`` or a tracking server's ``http(s)://host:port``.

    Raises:
        InvalidInputError: the URI scheme is not supported.
    """
    global _uri
    text = os.fspath(uri)
    resolve(text)  # validate now, not at the first log call
    _uri = text


def get_tracking_uri() -> str:
    """The tracking URI in effect: set_tracking_uri(), else $AUTOLOG_TRACKING_URI, else ./autolog-runs."""
    if _uri is not None:
        return _uri
    return os.environ.get(ENV_URI) or os.path.abspath(DEFAULT_FOLDER)


def resolve(uri: str) -> tuple[str, str]:
    """Map a tracking URI to (database URL, artifact root).

    Raises:
        InvalidInputError: the scheme is not supported yet.
    """
    if uri.startswith("sqlite:///"):
        path = uri[len("sqlite:///"):]
        if path == ":memory:" or not path:
            raise InvalidInputError("An in-memory SQLite store cannot be shared; give a file path.")
        path = os.path.abspath(path)
        return f"sqlite:///{path}", os.path.join(os.path.dirname(path), "artifacts")
    if uri.startswith(("http://", "https://")):
        return uri, ""  # a tracking server: it owns the database and the artifact root
    if uri.startswith(("postgresql://", "postgresql+psycopg://")):
        # A client writing to the database directly: artifacts go to the experiment's
        # artifact_location, else here (a folder or an s3:// URI).
        root = os.environ.get(ENV_ARTIFACT_ROOT) or os.path.join(DEFAULT_FOLDER, "artifacts")
        return uri, root if "://" in root else os.path.abspath(root)
    if uri.startswith("postgresql+"):
        raise InvalidInputError(
            f"Tracking URI {redact(uri)!r}: PostgreSQL drivers other than psycopg are not "
            "supported; use postgresql://user:password@host:5432/db.")
    if "://" in uri and not uri.startswith("file://"):
        raise InvalidInputError(
            f"Unsupported tracking URI {redact(uri)!r}: use a folder path, file:///folder, "
            "sqlite:///path.db, postgresql://user:password@host:5432/db or http(s)://host:port.")
    folder = os.path.abspath(uri[len("file://"):] if uri.startswith("file://") else uri)
    return f"sqlite:///{os.path.join(folder, DB_FILE)}", os.path.join(folder, "artifacts")


def redact(uri: str) -> str:
    """``uri`` with the password of its user-info part replaced by ``***``, for messages."""
    import re

    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", uri)


def get_store(uri: str | None = None) -> "BatchingStore":
    """The process's store for ``uri`` (default: the current tracking URI), created on first use."""
    key = uri or get_tracking_uri()
    store = _stores.get(key)
    if store is not None:
        return store
    with _lock:
        store = _stores.get(key)
        if store is None:
            from autolog.store.batching import BatchingStore

            store = BatchingStore(open_store(key))
            _stores[key] = store
    return store


def open_store(uri: str, artifact_root: str | None = None) -> "AbstractStore":
    """The backend store of a tracking URI, without the batching writer (the tracking server
    uses this for its ``--backend-store-uri``); ``artifact_root`` replaces the URI's default
    root of new experiments' artifacts.

    Raises:
        InvalidInputError: the scheme is not supported.
        StorageError: the store cannot be opened.
    """
    db_url, default_root = resolve(uri)
    if db_url.startswith(("http://", "https://")):
        from autolog.store.rest import RestStore

        return RestStore(db_url)
    from autolog.store.sql import SqlStore

    inner = SqlStore(db_url, artifact_root or default_root)
    inner.mark_stale_runs(alive_on_this_host)
    return inner


def alive_on_this_host(owner: str) -> bool:
    """True unless ``owner`` ("host:pid") names a process of this host that no longer exists."""
    import socket

    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
