"""The tracking server's ASGI app: MLflow's REST API, the artifact proxy, ``/health``,
``/version``, the OpenAPI description, the UI's routes when the UI is installed, and (with
``auth``) HTTP basic auth around all of it.

Requests are JSON (a GET's fields come from its query string); every error is JSON with MLflow's
``error_code``. Our errors become responses in one place, :func:`_error_response`; a bug of ours
is a 500 ``INTERNAL_ERROR`` with no details (logged on the server).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import Any, Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from autolog.errors import AutologError, InvalidInputError
from autolog.server._artifacts_api import ArtifactProxy
from autolog.server._combiner import WriteCombiner
from autolog.server._tracking_api import AUTOLOG_ENDPOINTS, ENDPOINTS, Endpoint, Tracking
from autolog.store import _wire

log = logging.getLogger("autolog.server")
_LIST_FIELDS = {"experiment_ids", "order_by", "run_ids"}
_JSON = "application/json"
_MMAP_MIB = 1024  # of a SQLite store's file read memory-mapped (address space, not memory)


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_wire.dumps(payload), status_code=status, media_type=_JSON, headers=headers)


def error(code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"error_code": code, "message": message}, _wire.STATUS.get(code, 400), headers)


def _error_response(exc: BaseException) -> Response:
    if isinstance(exc, AutologError):
        status, body = _wire.error_body(exc)
        return json_response(body, status)
    log.exception("autolog server: unexpected error", exc_info=exc)
    return error("INTERNAL_ERROR", "The tracking server failed unexpectedly; see its log.")


async def _fields(request: Request) -> dict[str, Any]:
    """The request's fields: its JSON object body, or its query string for a GET.

    Raises:
        InvalidInputError: the body is not a JSON object, or is larger than MLflow's 1 MB.
    """
    if request.method == "GET":
        out: dict[str, Any] = {}
        for key in request.query_params.keys():
            values = request.query_params.getlist(key)
            out[key] = values if key in _LIST_FIELDS or len(values) > 1 else values[0]
        return out
    body = await request.body()
    if len(body) > _wire.MAX_REQUEST_BYTES:
        raise InvalidInputError(
            f"The request is {len(body):,} bytes; at most {_wire.MAX_REQUEST_BYTES:,} are accepted. "
            "Split the batch across several requests.")
    if not body.strip():
        return {}
    try:
        data = _wire.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"Malformed request: the body is not valid JSON ({exc}).") from None
    if not isinstance(data, dict):
        raise InvalidInputError("Malformed request: the body must be a JSON object.")
    return data


def _endpoint(tracking: Tracking, spec: Endpoint, combiner: WriteCombiner) -> Callable[[Request], Any]:
    async def handle(request: Request) -> Response:
        try:
            fields = await _fields(request)
            if spec.path == "runs/log-batch":
                batch = await run_in_threadpool(spec.handler, tracking, fields)
                request_id = request.headers.get("x-autolog-request-id")
                await asyncio.wrap_future(combiner.submit(batch, request_id))
                result: Any = {}
            else:
                user = request.scope.get("autolog.user")
                if user and spec.path == "runs/create":
                    fields = {**fields, "user_id": user}  # the account, not what the client says
                result = await run_in_threadpool(spec.handler, tracking, fields)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a JSON error response
            return _error_response(exc)
        return json_response(result)

    handle.__name__ = spec.path.replace("/", "_").replace("-", "_")
    return handle


def _artifact_routes(proxy: ArtifactProxy) -> list[BaseRoute]:
    async def listing(request: Request) -> Response:
        try:
            return json_response(await run_in_threadpool(proxy.list, request.query_params.get("path")))
        except Exception as exc:  # noqa: BLE001
            return _error_response(exc)

    async def one(request: Request) -> Response:
        path = request.path_params["path"]
        try:
            if request.method == "PUT":
                data = await request.body()
                return json_response(await run_in_threadpool(proxy.upload, path, data))
            if request.method == "DELETE":
                return json_response(await run_in_threadpool(proxy.delete, path))
            data, kind = await run_in_threadpool(proxy.download, path)
            return Response(data, media_type=kind, headers={"X-Content-Type-Options": "nosniff"})
        except Exception as exc:  # noqa: BLE001
            return _error_response(exc)

    base = _wire.ARTIFACTS_API
    return [Route(base, listing, methods=["GET"]),
            Route(base + "/{path:path}", one, methods=["GET", "PUT", "DELETE"])]


class _UriMapper:
    """Artifact URIs as clients see them: below the default root they are served by the proxy
    (``mlflow-artifacts:/<path>``, as MLflow's server with ``--serve-artifacts``)."""

    def __init__(self, root: str, serve: bool) -> None:
        self.root = root.rstrip("/")
        self.serve = serve

    def to_client(self, uri: str) -> str:
        if self.serve and uri.startswith(self.root + "/"):
            return f"{_wire.PROXY_SCHEME}:/{uri[len(self.root) + 1:]}"
        return uri

    def from_client(self, uri: str) -> str:
        prefix = _wire.PROXY_SCHEME + ":"
        if uri.startswith(prefix) and not uri.startswith(prefix + "//"):
            return f"{self.root}/{uri[len(prefix):].lstrip('/')}"
        return uri


def _reaper(store: Any, timeout_s: float, stop: threading.Event) -> None:
    """Mark runs whose client stopped sending heartbeats KILLED, every so often."""
    while not stop.wait(max(0.5, min(timeout_s / 4, 30.0))):
        try:
            killed = store.mark_silent_runs(int(timeout_s * 1000))
        except Exception:  # noqa: BLE001 - retried at the next round
            log.exception("autolog server: marking silent runs failed")
            continue
        if killed:
            log.warning("autolog server: %d run(s) without a heartbeat for %ss marked KILLED",
                        killed, timeout_s)


def create_app(backend_store_uri: str | None = None, default_artifact_root: str | None = None,
               serve_artifacts: bool = True, auth: bool = False, heartbeat_timeout: float = 600.0,
               store: Any = None) -> Starlette:
    """Build the server's ASGI app.

    Args:
        backend_store_uri: where runs are stored (a folder, ``sqlite:///…``, any URI the store
            factory knows); default ``./autolog-runs``.
        default_artifact_root: root of new experiments' artifacts (default: beside the store).
        serve_artifacts: serve artifacts through the proxy (clients need no storage access).
        auth: require HTTP basic auth against the store's users (``autolog server users add``).
        heartbeat_timeout: seconds without a heartbeat after which a client's RUNNING run is
            marked KILLED (0 turns it off).
        store: an already opened backend store (tests); overrides ``backend_store_uri``.

    Raises:
        InvalidInputError: the store URI is not supported.
        StorageError: the store cannot be opened.
    """
    from autolog import _tracking
    from autolog._version import __version__
    from autolog.server import _openapi

    if store is None:
        uri = backend_store_uri or os.path.abspath(_tracking.DEFAULT_FOLDER)
        store = _tracking.open_store(uri, os.path.abspath(default_artifact_root)
                                     if default_artifact_root and "://" not in default_artifact_root
                                     else default_artifact_root)
    engine = getattr(store, "_engine", None)  # a SqlStore's: tuned for a long-lived server
    if engine is not None:
        from autolog.store._sql_engine import map_into_memory

        map_into_memory(engine, _MMAP_MIB)
    root = getattr(store, "artifact_root", "") or ""
    mapper = _UriMapper(root, serve_artifacts)
    tracking = Tracking(store, mapper.to_client, mapper.from_client)
    combiner = WriteCombiner(store)

    routes: list[BaseRoute] = []
    for spec in ENDPOINTS:
        handler = _endpoint(tracking, spec, combiner)
        for prefix in (_wire.API, "/ajax-api/2.0/mlflow"):
            routes.append(Route(f"{prefix}/{spec.path}", handler, methods=[spec.method]))
    for spec in AUTOLOG_ENDPOINTS:
        routes.append(Route(f"{_wire.AUTOLOG_API}/{spec.path}", _endpoint(tracking, spec, combiner),
                            methods=[spec.method]))
    if serve_artifacts and root:
        routes += _artifact_routes(ArtifactProxy(root))

    async def health(_: Request) -> Response:
        return PlainTextResponse("OK")

    async def version(_: Request) -> Response:
        return PlainTextResponse(__version__)

    spec_doc = _openapi.describe(ENDPOINTS, __version__, serve_artifacts, auth)

    async def openapi(_: Request) -> Response:
        return json_response(spec_doc)

    routes += [Route("/health", health, methods=["GET"]), Route("/version", version, methods=["GET"]),
               Route("/openapi.json", openapi, methods=["GET"])]
    routes += _ui_routes(store)

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        if status == 405:
            return error("BAD_REQUEST", f"Method {request.method} is not allowed on {request.url.path}.")
        return error("ENDPOINT_NOT_FOUND", f"No endpoint {request.method} {request.url.path}.")

    stop = threading.Event()

    async def lifespan(app: Starlette) -> Any:
        if heartbeat_timeout and hasattr(store, "mark_silent_runs"):
            threading.Thread(target=_reaper, args=(store, heartbeat_timeout, stop),
                             name="autolog-reaper", daemon=True).start()
        yield
        stop.set()
        combiner.stop()

    import contextlib

    app = Starlette(routes=routes, exception_handlers={HTTPException: not_found},
                    lifespan=contextlib.asynccontextmanager(lifespan))
    app.state.store = store
    if auth:
        from autolog.server.auth import AuthMiddleware, Users

        app.add_middleware(AuthMiddleware, users=Users(store))
    return app


def _ui_routes(store: Any) -> list[BaseRoute]:
    """The web UI's routes (``autolog.server.ui``), after the API's, when the UI is installed."""
    import importlib
    import importlib.util

    if importlib.util.find_spec("autolog.server.ui") is None:
        return []
    try:
        return list(importlib.import_module("autolog.server.ui").routes(store))
    except ImportError:  # jinja2 missing: autolog[server] without autolog[ui] serves the API only
        return []


def app_from_env() -> Starlette:
    """The app configured by ``AUTOLOG_SERVER_*`` variables (how ``autolog server`` hands its
    options to uvicorn's worker processes)."""
    _tune_gc()
    env = os.environ
    return create_app(
        backend_store_uri=env.get("AUTOLOG_SERVER_BACKEND_STORE_URI") or None,
        default_artifact_root=env.get("AUTOLOG_SERVER_ARTIFACT_ROOT") or None,
        serve_artifacts=env.get("AUTOLOG_SERVER_SERVE_ARTIFACTS", "1") == "1",
        auth=env.get("AUTOLOG_SERVER_AUTH", "0") == "1",
        heartbeat_timeout=float(env.get("AUTOLOG_SERVER_HEARTBEAT_TIMEOUT", "600")),
    )


def _tune_gc() -> None:
    """Collect garbage less eagerly in the server's own process (not in an app built by tests).

    A log-batch request allocates thousands of objects (its parsed JSON, its metrics), and with
    Python's default thresholds the collector runs every 700 allocations and, every hundred
    runs, walks every object alive: the modules, SQLAlchemy's caches and the batches waiting
    for the group commit. Objects alive after start-up are frozen out of the walks, and young
    collections come at every 50,000 allocations; reference counting still frees nearly all.
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
