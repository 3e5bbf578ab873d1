"""MLflow's v2 tracking endpoints (``/api/2.0/mlflow/...``) over one backend store.

Each handler takes the request's fields (the JSON body, or the query string of a GET) and returns
the response's JSON; it runs in a worker thread because the store is synchronous. Writes go
straight to the store, so a param conflict or a missing run is the client's error at once.
Field names, defaults and limits are MLflow's (``service.proto``).
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping, NamedTuple, Sequence

from autolog.entities import LifecycleStage, Metric, RunStatus, RunTag, ViewType
from autolog.errors import InvalidInputError, NotFoundError
from autolog.store import _wire
from autolog.store.base import decode_page_token, encode_page_token

_VIEWS = {"ACTIVE_ONLY": ViewType.ACTIVE_ONLY, "DELETED_ONLY": ViewType.DELETED_ONLY,
          "ALL": ViewType.ALL, "1": ViewType.ACTIVE_ONLY, "2": ViewType.DELETED_ONLY, "3": ViewType.ALL}
MAX_SEARCH_RESULTS = 50_000
_HEARTBEAT_EVERY_MS = 15_000
Batch = tuple[str, list[Metric], list[Any], list[RunTag]]


class AlreadyExistsError(InvalidInputError):
    """An experiment name that is taken (MLflow's RESOURCE_ALREADY_EXISTS)."""

    error_code = "RESOURCE_ALREADY_EXISTS"


class Endpoint(NamedTuple):
    method: str
    path: str  # below /api/2.0/mlflow/
    handler: Callable[["Tracking", Mapping[str, Any]], Any]  # the JSON answer (log-batch: the batch)
    write: bool  # needs the write role under --auth
    fields: dict[str, str]  # field -> JSON type, for the OpenAPI description
    required: tuple[str, ...] = ()


def _str(body: Mapping[str, Any], name: str, required: bool = True, alt: str | None = None) -> Any:
    value = body.get(name)
    if value is None and alt is not None:
        value = body.get(alt)
    if value is None or value == "":
        if required:
            raise InvalidInputError(f"Missing value for required parameter '{name}'.")
        return None
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise InvalidInputError(f"Parameter '{name}' must be a string, got {value!r:.100}.")
    return str(value)


def _int(body: Mapping[str, Any], name: str, default: int | None = None) -> Any:
    value = body.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return _wire.decode_int(value, name)


def _list(body: Mapping[str, Any], name: str) -> list[str]:
    value = body.get(name)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise InvalidInputError(f"Parameter '{name}' must be a list of strings.")
    return [str(v) for v in value]


def _max_results(body: Mapping[str, Any], default: int, limit: int) -> int:
    n = _int(body, "max_results", default)
    if n < 1 or n > limit:
        raise InvalidInputError(f"Invalid value {n} for parameter 'max_results': it must be "
                                f"between 1 and {limit}.")
    return int(n)


def _view(body: Mapping[str, Any], name: str) -> int:
    raw = body.get(name)
    if raw is None or raw == "":
        return ViewType.ACTIVE_ONLY
    view = _VIEWS.get(str(raw).upper())
    if view is None:
        raise InvalidInputError(f"Invalid value {raw!r:.50} for parameter '{name}': expected "
                                "ACTIVE_ONLY, DELETED_ONLY or ALL.")
    return view


class Tracking:
    """The handlers, bound to a store and to how artifact URIs are shown to clients."""

    def __init__(self, store: Any, to_client_uri: Callable[[str], str],
                 from_client_uri: Callable[[str], str]) -> None:
        self.store = store
        self.to_client_uri = to_client_uri
        self.from_client_uri = from_client_uri
        self._beats: dict[str, int] = {}

    # -- conversions ---------------------------------------------------------------------------------
    def _experiment(self, e: Any) -> dict[str, Any]:
        out = _wire.experiment_to_json(e)
        out["artifact_location"] = self.to_client_uri(e.artifact_location)
        return out

    def _info(self, info: Any) -> dict[str, Any]:
        out = _wire.run_info_to_json(info)
        out["artifact_uri"] = self.to_client_uri(info.artifact_uri)
        return out

    def _run(self, run: Any) -> dict[str, Any]:
        out = _wire.run_to_json(run)
        out["info"] = self._info(run.info)
        return out

    # -- experiments -----------------------------------------------------------------------------------
    def create_experiment(self, body: Mapping[str, Any]) -> dict[str, Any]:
        name = _str(body, "name")
        location = _str(body, "artifact_location", required=False)
        if self.store.get_experiment_by_name(name) is not None:
            raise AlreadyExistsError(f"Experiment(name={name}) already exists.")
        tags = dict(_wire.tags_from_json(body.get("tags")))
        eid = self.store.create_experiment(
            name, self.from_client_uri(location) if location else None, tags)
        return {"experiment_id": eid}

    def get_experiment(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return {"experiment": self._experiment(self.store.get_experiment(_str(body, "experiment_id")))}

    def get_experiment_by_name(self, body: Mapping[str, Any]) -> dict[str, Any]:
        name = _str(body, "experiment_name")
        found = self.store.get_experiment_by_name(name)
        if found is None:
            raise NotFoundError(f"Could not find experiment with name '{name}'.")
        return {"experiment": self._experiment(found)}

    def search_experiments(self, body: Mapping[str, Any]) -> dict[str, Any]:
        n = _max_results(body, 1000, MAX_SEARCH_RESULTS)
        offset = decode_page_token(_str(body, "page_token", required=False))
        found = self.store.search_experiments(
            _view(body, "view_type"), offset + n + 1, _str(body, "filter", required=False),
            _list(body, "order_by"))
        page = found[offset:offset + n]
        out: dict[str, Any] = {"experiments": [self._experiment(e) for e in page]}
        if len(found) > offset + n:
            out["next_page_token"] = encode_page_token(offset + n)
        return out

    def update_experiment(self, body: Mapping[str, Any]) -> dict[str, Any]:
        eid, name = _str(body, "experiment_id"), _str(body, "new_name", required=False)
        self.store.get_experiment(eid)
        if name:
            self.store.rename_experiment(eid, name)
        return {}

    def delete_experiment(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.store.set_experiment_lifecycle(_str(body, "experiment_id"), LifecycleStage.DELETED)
        return {}

    def restore_experiment(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.store.set_experiment_lifecycle(_str(body, "experiment_id"), LifecycleStage.ACTIVE)
        return {}

    def set_experiment_tag(self, body: Mapping[str, Any]) -> dict[str, Any]:
        value = body.get("value")
        self.store.set_experiment_tag(_str(body, "experiment_id"), _str(body, "key"),
                                      "" if value is None else str(value))
        return {}

    # -- runs --------------------------------------------------------------------------------------------
    def create_run(self, body: Mapping[str, Any]) -> dict[str, Any]:
        tags = _wire.tags_from_json(body.get("tags"))
        tag_map = dict(tags)
        name = _str(body, "run_name", required=False) or tag_map.get("mlflow.runName") or ""
        if name and "mlflow.runName" not in tag_map:
            tags.append(RunTag("mlflow.runName", name))
        run_id = _str(body, "run_id", required=False)
        if run_id is not None:
            # autolog's client chooses the id so that a retried create is harmless.
            if len(run_id) != 32 or any(c not in "0123456789abcdef" for c in run_id):
                raise InvalidInputError(f"Invalid run_id {run_id!r:.50}: 32 lowercase hex digits.")
            try:
                return {"run": self._run(self.store.get_run(run_id))}
            except NotFoundError:
                pass
        start = _int(body, "start_time") or int(time.time() * 1000)
        run = self.store.create_run(
            _str(body, "experiment_id", required=False) or "0", name, start, tags,
            _str(body, "user_id", required=False) or "",
            _str(body, "parent_run_id", required=False) or tag_map.get("mlflow.parentRunId"),
            _str(body, "owner", required=False), run_id)
        if body.get("heartbeat") is True and hasattr(self.store, "heartbeat"):
            self.store.heartbeat([run.info.run_id], start=True)
        return {"run": self._run(run)}

    def get_run(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return {"run": self._run(self.store.get_run(_str(body, "run_id", alt="run_uuid")))}

    def update_run(self, body: Mapping[str, Any]) -> dict[str, Any]:
        status = _str(body, "status", required=False)
        if status is not None and status not in RunStatus.ALL:
            raise InvalidInputError(f"Invalid run status {status!r:.50}: expected one of "
                                    f"{', '.join(RunStatus.ALL)}.")
        info = self.store.update_run_info(
            _str(body, "run_id", alt="run_uuid"), status=status, end_time=_int(body, "end_time"),
            run_name=_str(body, "run_name", required=False))
        return {"run_info": self._info(info)}

    def delete_run(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.store.set_run_lifecycle(_str(body, "run_id"), LifecycleStage.DELETED)
        return {}

    def restore_run(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.store.set_run_lifecycle(_str(body, "run_id"), LifecycleStage.ACTIVE)
        return {}

    def search_runs(self, body: Mapping[str, Any]) -> dict[str, Any]:
        order_by = _list(body, "order_by")
        filter_string = _str(body, "filter", required=False) or ""
        found = self.store.search_runs(
            _list(body, "experiment_ids"), filter_string, _view(body, "run_view_type"),
            _max_results(body, 1000, MAX_SEARCH_RESULTS), order_by,
            _str(body, "page_token", required=False))
        out: dict[str, Any] = {"runs": [self._run(r) for r in found]}
        if getattr(found, "token", None):
            out["next_page_token"] = found.token
        return out

    def _log(self, run_id: str, metrics: Sequence[Metric] = (), params: Any = (),
             tags: Any = ()) -> dict[str, Any]:
        self.store.log_many([(run_id, list(metrics), list(params), list(tags))])
        self._heartbeat(run_id)
        return {}

    def log_metric(self, body: Mapping[str, Any]) -> dict[str, Any]:
        metric = _wire.metric_from_json({**body, "timestamp": body.get("timestamp") or int(time.time() * 1000)})
        return self._log(_str(body, "run_id", alt="run_uuid"), metrics=[metric])

    def log_param(self, body: Mapping[str, Any]) -> dict[str, Any]:
        params = _wire.params_from_json([{"key": _str(body, "key"), "value": body.get("value", "")}])
        return self._log(_str(body, "run_id", alt="run_uuid"), params=params)

    def set_tag(self, body: Mapping[str, Any]) -> dict[str, Any]:
        tags = _wire.tags_from_json([{"key": _str(body, "key"), "value": body.get("value", "")}])
        return self._log(_str(body, "run_id", alt="run_uuid"), tags=tags)

    def delete_tag(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.store.delete_tag(_str(body, "run_id"), _str(body, "key"))
        return {}

    def log_batch(self, body: Mapping[str, Any]) -> Batch:
        """The batch of a log-batch request, checked against MLflow's limits (written by the
        server's group commit, :class:`~autolog.server._combiner.WriteCombiner`)."""
        run_id = _str(body, "run_id")
        metrics = _wire.metrics_from_json(body.get("metrics"))
        params = _wire.params_from_json(body.get("params"))
        tags = _wire.tags_from_json(body.get("tags"))
        for what, items, limit in (("metrics", metrics, _wire.MAX_BATCH_METRICS),
                                   ("params", params, _wire.MAX_BATCH_PARAMS),
                                   ("tags", tags, _wire.MAX_BATCH_TAGS)):
            if len(items) > limit:
                raise InvalidInputError(
                    f"A batch logging request can contain at most {limit} {what}. Got {len(items)} "
                    f"{what}. Please split up {what} across multiple requests and try again.")
        total = len(metrics) + len(params) + len(tags)
        if total > _wire.MAX_BATCH_ENTRIES:
            raise InvalidInputError(
                f"A batch logging request can contain at most {_wire.MAX_BATCH_ENTRIES} metrics, "
                f"params and tags in total. Got {total}.")
        from autolog._validation import validate_key

        for kind, keys in (("metric", {m.key for m in metrics}), ("param", {p.key for p in params}),
                           ("tag", {t.key for t in tags})):
            for key in keys:
                validate_key(key, kind)
        self._heartbeat(run_id)
        return run_id, metrics, params, tags

    def log_inputs(self, body: Mapping[str, Any]) -> dict[str, Any]:
        datasets = body.get("datasets") or []
        if not isinstance(datasets, list):
            raise InvalidInputError("Field 'datasets' must be a list of dataset inputs.")
        self.store.log_inputs(_str(body, "run_id"), [_wire.dataset_from_json(d) for d in datasets])
        return {}

    def get_metric_history(self, body: Mapping[str, Any]) -> dict[str, Any]:
        n = _max_results(body, 25_000, 25_000)
        offset = decode_page_token(_str(body, "page_token", required=False))
        history = self.store.get_metric_history(_str(body, "run_id", alt="run_uuid"),
                                                _str(body, "metric_key"))
        out: dict[str, Any] = {"metrics": [_wire.metric_to_json(m) for m in history[offset:offset + n]]}
        if len(history) > offset + n:
            out["next_page_token"] = encode_page_token(offset + n)
        return out

    def list_artifacts(self, body: Mapping[str, Any]) -> dict[str, Any]:
        from autolog.store import artifacts

        run = self.store.get_run(_str(body, "run_id", alt="run_uuid"))
        path = _str(body, "path", required=False)
        files = artifacts.repository(run.info.artifact_uri).list(path)
        return {"root_uri": self.to_client_uri(run.info.artifact_uri), "files": [
            {"path": f.path, "is_dir": f.is_dir, **({"file_size": f.file_size} if not f.is_dir else {})}
            for f in files]}

    def search_logged_models(self, body: Mapping[str, Any]) -> dict[str, Any]:
        # MLflow 3's logged models are out of scope: none exist here. Answering the search (an
        # empty page) lets MLflow 3 clients fall back to the run's own artifacts, as they do
        # for runs logged before logged models existed.
        return {"models": []}

    # -- autolog's additions -----------------------------------------------------------------------------
    def heartbeat(self, body: Mapping[str, Any]) -> dict[str, Any]:
        run_ids = _list(body, "run_ids")
        if hasattr(self.store, "heartbeat"):
            self.store.heartbeat(run_ids)
        return {}

    def running_owners(self, body: Mapping[str, Any]) -> dict[str, Any]:
        owners = self.store.running_owners() if hasattr(self.store, "running_owners") else []
        return {"runs": [{"run_id": r, "owner": o} for r, o in owners]}

    def _heartbeat(self, run_id: str) -> None:
        # A write to a run is a sign of life; recorded at most every few seconds per run.
        now = int(time.time() * 1000)
        if now - self._beats.get(run_id, 0) < _HEARTBEAT_EVERY_MS or not hasattr(self.store, "heartbeat"):
            return
        if len(self._beats) > 10_000:
            self._beats.clear()
        self._beats[run_id] = now
        self.store.heartbeat([run_id])


_S, _I, _L, _KV, _O = "string", "integer", "array", "keyvalues", "object"
_RUN_ID = {"run_id": _S, "run_uuid": _S}
ENDPOINTS = [
    Endpoint("POST", "experiments/create", Tracking.create_experiment, True,
             {"name": _S, "artifact_location": _S, "tags": _KV}, ("name",)),
    Endpoint("GET", "experiments/get", Tracking.get_experiment, False, {"experiment_id": _S},
             ("experiment_id",)),
    Endpoint("GET", "experiments/get-by-name", Tracking.get_experiment_by_name, False,
             {"experiment_name": _S}, ("experiment_name",)),
    Endpoint("POST", "experiments/search", Tracking.search_experiments, False,
             {"max_results": _I, "page_token": _S, "filter": _S, "order_by": _L, "view_type": _S}),
    Endpoint("GET", "experiments/search", Tracking.search_experiments, False,
             {"max_results": _I, "page_token": _S, "filter": _S, "order_by": _L, "view_type": _S}),
    Endpoint("POST", "experiments/update", Tracking.update_experiment, True,
             {"experiment_id": _S, "new_name": _S}, ("experiment_id",)),
    Endpoint("POST", "experiments/delete", Tracking.delete_experiment, True, {"experiment_id": _S},
             ("experiment_id",)),
    Endpoint("POST", "experiments/restore", Tracking.restore_experiment, True, {"experiment_id": _S},
             ("experiment_id",)),
    Endpoint("POST", "experiments/set-experiment-tag", Tracking.set_experiment_tag, True,
             {"experiment_id": _S, "key": _S, "value": _S}, ("experiment_id", "key", "value")),
    Endpoint("POST", "runs/create", Tracking.create_run, True,
             {"experiment_id": _S, "user_id": _S, "run_name": _S, "start_time": _I, "tags": _KV}),
    Endpoint("GET", "runs/get", Tracking.get_run, False, _RUN_ID, ("run_id",)),
    Endpoint("POST", "runs/update", Tracking.update_run, True,
             {**_RUN_ID, "status": _S, "end_time": _I, "run_name": _S}, ("run_id",)),
    Endpoint("POST", "runs/delete", Tracking.delete_run, True, {"run_id": _S}, ("run_id",)),
    Endpoint("POST", "runs/restore", Tracking.restore_run, True, {"run_id": _S}, ("run_id",)),
    Endpoint("POST", "runs/search", Tracking.search_runs, False,
             {"experiment_ids": _L, "filter": _S, "run_view_type": _S, "max_results": _I,
              "order_by": _L, "page_token": _S}),
    Endpoint("POST", "runs/log-metric", Tracking.log_metric, True,
             {**_RUN_ID, "key": _S, "value": "number", "timestamp": _I, "step": _I},
             ("run_id", "key", "value")),
    Endpoint("POST", "runs/log-parameter", Tracking.log_param, True,
             {**_RUN_ID, "key": _S, "value": _S}, ("run_id", "key", "value")),
    Endpoint("POST", "runs/set-tag", Tracking.set_tag, True, {**_RUN_ID, "key": _S, "value": _S},
             ("run_id", "key", "value")),
    Endpoint("POST", "runs/delete-tag", Tracking.delete_tag, True, {"run_id": _S, "key": _S},
             ("run_id", "key")),
    Endpoint("POST", "runs/log-batch", Tracking.log_batch, True,
             {"run_id": _S, "metrics": "metrics", "params": _KV, "tags": _KV}, ("run_id",)),
    Endpoint("POST", "runs/log-inputs", Tracking.log_inputs, True,
             {"run_id": _S, "datasets": "datasets"}, ("run_id",)),
    Endpoint("GET", "metrics/get-history", Tracking.get_metric_history, False,
             {**_RUN_ID, "metric_key": _S, "page_token": _S, "max_results": _I},
             ("run_id", "metric_key")),
    Endpoint("GET", "artifacts/list", Tracking.list_artifacts, False,
             {**_RUN_ID, "path": _S, "page_token": _S}, ("run_id",)),
    Endpoint("POST", "logged-models/search", Tracking.search_logged_models, False,
             {"experiment_ids": _L, "filter": _S, "max_results": _I, "page_token": _S}),
]


# autolog's own additions, under /api/2.0/autolog/ (MLflow's clients never call them).
AUTOLOG_ENDPOINTS = [
    Endpoint("POST", "runs/heartbeat", Tracking.heartbeat, True, {"run_ids": _L}),
    Endpoint("GET", "runs/running-owners", Tracking.running_owners, False, {}),
]
