"""The REST store: a client of a tracking server (``autolog server`` or MLflow's) speaking MLflow's
v2 REST protocol; see :class:`~autolog.store.base.AbstractStore` for the contract it keeps.

It sits behind the same batching writer as the local store (``log_metric`` stays a queue append);
the writer's batches go out as ``runs/log-batch`` requests within MLflow's limits, each with a
request id so that a retried batch is stored once. Runs the writer creates carry a client-chosen
id (again safe to retry). For the runs it created, the client sends heartbeats (a log-batch
counts as one), so that the server can mark the run KILLED when this process dies.

Artifact URIs the server hands out as ``mlflow-artifacts:/<path>`` are rewritten to the server's
proxy URL, served by :class:`autolog.store._proxy.ProxyArtifactRepository`.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from typing import Any, Callable, Sequence

from autolog.entities import (
    Dataset,
    Experiment,
    Metric,
    Param,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from autolog.errors import NotFoundError, StorageError
from autolog.store import _wire
from autolog.store._http import HttpSession
from autolog.store.base import AbstractStore, PagedList

_VIEW = {ViewType.ACTIVE_ONLY: "ACTIVE_ONLY", ViewType.DELETED_ONLY: "DELETED_ONLY",
         ViewType.ALL: "ALL"}
_MAX_SEARCH_PAGE = 50_000


class RestStore(AbstractStore):
    """A tracking server at ``uri`` (``http(s)://host:port``).

    Args:
        uri: the server's base URL; ``user:password@`` in it is used for basic auth.
        http_client: an ``httpx.Client`` to send through (tests pass Starlette's in-process one).
        heartbeat_s: seconds between heartbeats of the runs this client created.
    """

    def __init__(self, uri: str, http_client: Any = None, heartbeat_s: float | None = None) -> None:
        from autolog.store import _proxy

        self.session = HttpSession(uri, http_client)
        self.uri = self.session.base
        _proxy.share(self.session)
        self.heartbeat_s = heartbeat_s if heartbeat_s is not None else float(
            os.environ.get("AUTOLOG_HEARTBEAT_S", "60"))
        self._live: dict[str, float] = {}  # run id -> monotonic time of its last heartbeat
        self._live_lock = threading.Lock()
        self._beating: threading.Thread | None = None
        self._closed = threading.Event()

    # -- plumbing ---------------------------------------------------------------------------------
    def _call(self, method: str, endpoint: str, body: Any = None, **kw: Any) -> Any:
        if method == "GET":
            return self.session.request("GET", f"{_wire.API}/{endpoint}", params=body, **kw)
        return self.session.request(method, f"{_wire.API}/{endpoint}", json_body=body or {}, **kw)

    def set_waiting_hook(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` now and then while the writer waits for an unreachable server."""
        self.session.on_wait = hook

    @staticmethod
    def _patient() -> bool:
        # The batching writer's thread may wait out a server restart; a user's own call may not.
        return threading.current_thread().name == "autolog-writer"

    def _local_uri(self, uri: str) -> str:
        """``mlflow-artifacts:/x`` (relative to this server) as the proxy's URL."""
        prefix = _wire.PROXY_SCHEME + ":"
        if uri.startswith(prefix) and not uri.startswith(prefix + "//"):
            return f"{self.uri}{_wire.ARTIFACTS_API}/{uri[len(prefix):].lstrip('/')}"
        return uri

    def _experiment(self, data: dict[str, Any]) -> Experiment:
        e = _wire.experiment_from_json(data)
        location = self._local_uri(e.artifact_location)
        if location == e.artifact_location:
            return e
        return Experiment(e.experiment_id, e.name, location, e.lifecycle_stage, e.tags,
                          e.creation_time, e.last_update_time)

    def _info(self, data: dict[str, Any]) -> RunInfo:
        i = _wire.run_info_from_json(data)
        uri = self._local_uri(i.artifact_uri)
        if uri == i.artifact_uri:
            return i
        return RunInfo(i.run_id, i.run_name, i.experiment_id, i.status, i.start_time, i.end_time,
                       uri, i.lifecycle_stage, i.user_id)

    def _run(self, data: dict[str, Any]) -> Run:
        run = _wire.run_from_json(data)
        return Run(self._info(data["info"]), run.data, run.inputs)

    def close(self) -> None:
        from autolog.store import _proxy

        self._closed.set()
        _proxy.forget(self.session)
        self.session.close()

    # -- experiments --------------------------------------------------------------------------------
    def create_experiment(self, name: str, artifact_location: str | None = None,
                          tags: dict[str, str] | None = None) -> str:
        body: dict[str, Any] = {"name": name, "tags": _wire.key_values(tags or {})}
        if artifact_location:
            body["artifact_location"] = artifact_location
        return str(self._call("POST", "experiments/create", body, idempotent=False)["experiment_id"])

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self._experiment(self._call("GET", "experiments/get",
                                           {"experiment_id": experiment_id})["experiment"])

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        try:
            found = self._call("GET", "experiments/get-by-name", {"experiment_name": name})
        except NotFoundError:
            return None
        return self._experiment(found["experiment"])

    def search_experiments(self, view_type: int = ViewType.ACTIVE_ONLY, max_results: int | None = None,
                           filter_string: str | None = None,
                           order_by: Sequence[str] | None = None) -> list[Experiment]:
        out: list[Experiment] = []
        token: str | None = None
        while True:
            page_size = min(max_results - len(out), 1000) if max_results else 1000
            body: dict[str, Any] = {"view_type": _VIEW.get(view_type, "ACTIVE_ONLY"),
                                    "max_results": page_size, "order_by": list(order_by or [])}
            if filter_string:
                body["filter"] = filter_string
            if token:
                body["page_token"] = token
            found = self._call("POST", "experiments/search", body)
            out.extend(self._experiment(e) for e in found.get("experiments", []))
            token = found.get("next_page_token")
            if not token or (max_results and len(out) >= max_results):
                return out

    def set_experiment_lifecycle(self, experiment_id: str, stage: str) -> None:
        action = "delete" if stage == "deleted" else "restore"
        self._call("POST", f"experiments/{action}", {"experiment_id": experiment_id})

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self._call("POST", "experiments/update", {"experiment_id": experiment_id, "new_name": new_name})

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        self._call("POST", "experiments/set-experiment-tag",
                   {"experiment_id": experiment_id, "key": key, "value": value})

    # -- runs -----------------------------------------------------------------------------------------
    def create_run(self, experiment_id: str, run_name: str, start_time: int,
                   tags: Sequence[RunTag] = (), user_id: str = "",
                   parent_run_id: str | None = None, owner: str | None = None,
                   run_id: str | None = None) -> Run:
        # run_id, parent_run_id and owner are autolog's additions to MLflow's CreateRun (ignored
        # names to MLflow's server). A client-chosen id makes the request safe to repeat.
        body: dict[str, Any] = {
            "experiment_id": experiment_id, "run_name": run_name, "start_time": start_time,
            "tags": _wire.key_values(list(tags)), "user_id": user_id, "heartbeat": owner is not None,
        }
        if run_id:
            body["run_id"] = run_id
        if parent_run_id:
            body["parent_run_id"] = parent_run_id
        if owner:
            body["owner"] = owner
        run = self._run(self._call("POST", "runs/create", body, idempotent=run_id is not None,
                                   patient=run_id is not None and self._patient())["run"])
        if owner is not None:
            self._beat(run.info.run_id)
        return run

    def get_run(self, run_id: str) -> Run:
        return self._run(self._call("GET", "runs/get", {"run_id": run_id})["run"])

    def update_run_info(self, run_id: str, status: str | None = None, end_time: int | None = None,
                        run_name: str | None = None) -> RunInfo:
        body: dict[str, Any] = {"run_id": run_id, "run_uuid": run_id}
        if status is not None:
            body["status"] = status
        if end_time is not None:
            body["end_time"] = end_time
        if run_name is not None:
            body["run_name"] = run_name
        info = self._info(self._call("POST", "runs/update", body, patient=self._patient())["run_info"])
        if status in RunStatus.TERMINAL:
            with self._live_lock:
                self._live.pop(run_id, None)
        return info

    def set_run_lifecycle(self, run_id: str, stage: str) -> None:
        self._call("POST", "runs/delete" if stage == "deleted" else "runs/restore", {"run_id": run_id})

    def mark_stale_runs(self, alive: Callable[[str], bool]) -> int:
        # The server also marks runs of silent clients itself (heartbeats); this is for a client
        # that can tell a dead process of its own host ("host:pid" owners).
        found = self.session.request("GET", f"{_wire.AUTOLOG_API}/runs/running-owners")
        dead = [r["run_id"] for r in found.get("runs", []) if not alive(r["owner"])]
        now = int(time.time() * 1000)
        for run_id in dead:
            self.update_run_info(run_id, status=RunStatus.KILLED, end_time=now)
        return len(dead)

    # -- logging --------------------------------------------------------------------------------------
    def log_batch(self, run_id: str, metrics: Sequence[Metric] = (), params: Sequence[Param] = (),
                  tags: Sequence[RunTag] = ()) -> None:
        self.log_many([(run_id, list(metrics), list(params), list(tags))])

    def log_many(self, batches: Sequence[tuple[str, list[Metric], list[Param], list[RunTag]]],
                 request_ids: Sequence[str | None] | None = None) -> None:
        patient = self._patient()
        bodies = [body for run_id, metrics, params, tags in batches
                  for body in _chunks(run_id, metrics, params, tags)]
        for i, body in enumerate(bodies):
            content = _wire.dumps_batch(body)  # once: the request id is the hash of these bytes
            try:
                self.session.request("POST", f"{_wire.API}/runs/log-batch", content=content,
                                     patient=patient, headers=_request_id(body, content))
            except StorageError as exc:
                lost = [sum(len(b[k]) for b in bodies[i:]) for k in ("metrics", "params", "tags")]
                raise StorageError(
                    f"{lost[0]} metrics, {lost[1]} params and {lost[2]} tags could not be sent: "
                    f"{exc}") from exc
            self._touch(body["run_id"])

    def delete_tag(self, run_id: str, key: str) -> None:
        self._call("POST", "runs/delete-tag", {"run_id": run_id, "key": key})

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        out: list[Metric] = []
        token: str | None = None
        while True:
            query: dict[str, Any] = {"run_id": run_id, "metric_key": key, "max_results": 25_000}
            if token:
                query["page_token"] = token
            found = self._call("GET", "metrics/get-history", query)
            out.extend(_wire.metric_from_json(m) for m in found.get("metrics", []))
            token = found.get("next_page_token")
            if not token:
                return out

    def log_inputs(self, run_id: str, datasets: Sequence[Dataset]) -> None:
        self._call("POST", "runs/log-inputs",
                   {"run_id": run_id, "datasets": [_wire.dataset_to_json(d) for d in datasets]},
                   patient=self._patient())

    def search_runs(self, experiment_ids: Sequence[str], filter_string: str = "",
                    run_view_type: int = ViewType.ACTIVE_ONLY, max_results: int = 1000,
                    order_by: Sequence[str] | None = None, page_token: str | None = None) -> PagedList:
        body: dict[str, Any] = {
            "experiment_ids": list(experiment_ids), "filter": filter_string or "",
            "run_view_type": _VIEW.get(run_view_type, "ACTIVE_ONLY"),
            "max_results": min(max_results, _MAX_SEARCH_PAGE), "order_by": list(order_by or []),
        }
        if page_token:
            body["page_token"] = page_token
        found = self._call("POST", "runs/search", body)
        return PagedList([self._run(r) for r in found.get("runs", [])],
                         found.get("next_page_token") or None)

    # -- heartbeats -----------------------------------------------------------------------------------
    def _touch(self, run_id: str) -> None:
        # A log-batch is a heartbeat too (the server records it); the next beat can wait.
        with self._live_lock:
            if run_id in self._live:
                self._live[run_id] = time.monotonic()

    def _beat(self, run_id: str) -> None:
        with self._live_lock:
            self._live[run_id] = time.monotonic()
            if self._beating is None and self.heartbeat_s > 0:
                self._beating = threading.Thread(target=self._heartbeats, name="autolog-heartbeat",
                                                 daemon=True)
                self._beating.start()

    def _heartbeats(self) -> None:
        while not self._closed.wait(self.heartbeat_s / 2):
            now = time.monotonic()
            with self._live_lock:
                due = [r for r, last in self._live.items() if now - last >= self.heartbeat_s / 2]
            if not due:
                continue
            try:
                self.session.request("POST", f"{_wire.AUTOLOG_API}/runs/heartbeat",
                                     json_body={"run_ids": due})
            except Exception:  # noqa: BLE001 - a missed beat is retried at the next one
                continue
            with self._live_lock:
                for r in due:
                    if r in self._live:
                        self._live[r] = now


def _request_id(body: dict[str, Any], content: bytes) -> dict[str, str]:
    """The header that makes a log-batch safe to repeat: an id the server applies once.

    Derived from the content, so that it is the same when the batching writer retries the whole
    batch after a failure part-way (the parts that got through are not stored twice). Only
    metrics need it: params and tags are idempotent. Two identical metric batches (same keys,
    values, timestamps and steps) are one, as in MLflow, whose metrics table keeps such
    duplicates once.
    """
    if not body["metrics"]:
        return {"Content-Type": "application/json"}
    return {"X-Autolog-Request-Id": hashlib.sha256(content).hexdigest()[:40],
            "Content-Type": "application/json"}


def _chunks(run_id: str, metrics: Sequence[Metric], params: Sequence[Param],
            tags: Sequence[RunTag]) -> list[dict[str, Any]]:
    """log-batch bodies within MLflow's limits; params and tags go first, so that a param
    conflict is refused before any metric of the batch is stored."""
    bodies: list[dict[str, Any]] = []
    params, tags = list(params), list(tags)
    while params or tags:
        p, params = params[:_wire.MAX_BATCH_PARAMS], params[_wire.MAX_BATCH_PARAMS:]
        t, tags = tags[:_wire.MAX_BATCH_TAGS], tags[_wire.MAX_BATCH_TAGS:]
        bodies.append({"run_id": run_id, "metrics": [], "params": _wire.key_values(p),
                       "tags": _wire.key_values(t)})
    # Metrics fill the first body's remaining room, then bodies of up to 1,000 each.
    start = 0
    if bodies:
        room = _wire.MAX_BATCH_ENTRIES - len(bodies[0]["params"]) - len(bodies[0]["tags"])
        bodies[0]["metrics"] = _wire.metrics_to_json(metrics[:room])
        start = room
    for i in range(start, len(metrics), _wire.MAX_BATCH_METRICS):
        bodies.append({"run_id": run_id, "params": [], "tags": [],
                       "metrics": _wire.metrics_to_json(metrics[i:i + _wire.MAX_BATCH_METRICS])})
    return bodies
from autolog.store.artifacts import register_scheme as _register

# Artifact URIs handed out by a tracking server (rewritten to its proxy URL) are served through it.
for _scheme in ("http", "https", "mlflow-artifacts"):
    _register(_scheme, "autolog.store._proxy:ProxyArtifactRepository")
