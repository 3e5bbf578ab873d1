"""One HTTP session per tracking server: keep-alive, timeouts, credentials, retries.

The boundary where httpx's errors become ours: a connection failure is a
:class:`~autolog.errors.StorageError` naming the server (never its credentials); an error response
becomes the error the server's ``error_code`` stands for (:func:`autolog.store._wire.error_from_body`).

Retries with back-off, only for requests that are safe to repeat (reads, and writes made safe by
a request id or a client-chosen run id): on a connection error and on 429/502/503/504. A call
made by the user gets a few quick tries, so an unreachable server is one clear error at that
call; the background writer (``patient=True``) keeps trying for ``AUTOLOG_HTTP_RETRY_S`` seconds
(default 120), so a server restarted in the middle of training loses nothing.
"""

from __future__ import annotations

import json
import os
import random
import time
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit, urlunsplit

from autolog.errors import StorageError, missing_dependency
from autolog.store import _wire

USER_VARS = ("AUTOLOG_TRACKING_USERNAME", "MLFLOW_TRACKING_USERNAME")
PASSWORD_VARS = ("AUTOLOG_TRACKING_PASSWORD", "MLFLOW_TRACKING_PASSWORD")
TOKEN_VARS = ("AUTOLOG_TRACKING_TOKEN", "MLFLOW_TRACKING_TOKEN")
_RETRY_STATUS = frozenset({429, 502, 503, 504})
_QUICK_TRIES = 3


def _env(names: tuple[str, ...]) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def split_credentials(uri: str) -> tuple[str, str | None, str | None]:
    """``uri`` without ``user:password@`` (safe to print), and the user and password it had."""
    parts = urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri.rstrip("/"), None, None
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    from urllib.parse import unquote

    return clean.rstrip("/"), unquote(parts.username or ""), unquote(parts.password or "")


class HttpSession:
    """Requests to one server; thread-safe (httpx's client is)."""

    def __init__(self, uri: str, client: Any = None, timeout_s: float = 30.0) -> None:
        self.base, user, password = split_credentials(uri)
        self.retry_s = float(os.environ.get("AUTOLOG_HTTP_RETRY_S", "120"))
        headers = {"User-Agent": "autolog"}
        token = _env(TOKEN_VARS)
        user = user or _env(USER_VARS)
        password = password if password is not None else _env(PASSWORD_VARS)
        auth = None
        if user is not None:
            auth = (user, password or "")
        elif token:
            headers["Authorization"] = f"Bearer {token}"
        if client is None:
            try:
                import httpx
            except ImportError:
                raise missing_dependency("httpx", "server") from None
            client = httpx.Client(
                timeout=httpx.Timeout(timeout_s, connect=5.0),
                limits=httpx.Limits(max_keepalive_connections=8, max_connections=16),
            )
        self._client = client
        self._auth = auth
        self._headers = headers
        self._down_since: float | None = None  # monotonic time the server stopped answering
        # Called while a patient request waits for the server (the batching writer bounds its
        # queue there).
        self.on_wait: Callable[[], None] | None = None

    def close(self) -> None:
        self._client.close()

    def request(self, method: str, path: str, *, json_body: Any = None,
                params: Mapping[str, Any] | None = None, content: bytes | None = None,
                headers: Mapping[str, str] | None = None, idempotent: bool = True,
                patient: bool = False, raw: bool = False) -> Any:
        """Send one request; return its JSON (or the response when ``raw``).

        Raises:
            StorageError: the server cannot be reached, or failed.
            AutologError: the server refused the request (its error code's class).
        """
        import httpx

        url = self.base + path
        data = _wire.dumps(json_body) if json_body is not None else content
        all_headers = dict(self._headers)
        if json_body is not None:
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        # The patience is shared: once the server has been away for retry_s, later requests
        # stop waiting too, until one gets through (so that a long outage costs retry_s once,
        # not per batch, and an exit never waits longer than that).
        deadline = (self._down_since or time.monotonic()) + (self.retry_s if patient else 0.0)
        attempt = 0
        while True:
            attempt += 1
            problem: str
            try:
                response = self._client.request(method, url, content=data, params=params,
                                                headers=all_headers, auth=self._auth)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                if self._down_since is not None:
                    self._down_since = None
                if response.status_code < 400:
                    if raw:
                        return response
                    return response.json() if response.content else {}
                if response.status_code not in _RETRY_STATUS or not idempotent:
                    raise self._error(response)
                problem = f"HTTP {response.status_code}"
                last = response
            if not problem.startswith("HTTP ") and self._down_since is None:
                self._down_since = time.monotonic()
            if patient and self.on_wait is not None:
                self.on_wait()
            more = idempotent and (attempt < _QUICK_TRIES or time.monotonic() < deadline)
            if not more:
                if problem.startswith("HTTP "):
                    raise self._error(last)
                raise StorageError(
                    f"Cannot reach the tracking server at {self.base} ({problem}); is it running? "
                    "Start one with `autolog server`.")
            # Exponential back-off with jitter, so that many clients do not retry in step.
            time.sleep(min(0.1 * 2 ** min(attempt, 6), 5.0) * (0.5 + random.random()))

    def _error(self, response: Any) -> Exception:
        try:
            body = response.json()
        except (ValueError, json.JSONDecodeError):
            body = None
        default = f"The tracking server at {self.base} answered HTTP {response.status_code}."
        if response.status_code == 401:
            return StorageError(
                f"The tracking server at {self.base} needs a user name and password: set "
                "AUTOLOG_TRACKING_USERNAME and AUTOLOG_TRACKING_PASSWORD (or MLflow's variables)"
                + (" (the ones given were refused)." if self._auth else "."))
        if response.status_code == 403:
            message = body.get("message") if isinstance(body, dict) else None
            return StorageError(message or f"Permission denied by the tracking server at {self.base}.")
        return _wire.error_from_body(response.status_code, body, default)
