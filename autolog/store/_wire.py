"""MLflow's v2 REST wire format: entities to JSON and back, and error codes.

One module for both ends, so the server (:mod:`autolog.server`) and the REST store
(:mod:`autolog.store.rest`) cannot drift apart. Field names are MLflow's (``service.proto``); the
JSON is protobuf's JSON mapping as MLflow's server writes it: int64 values as numbers (read back
from numbers or strings), NaN and infinities as the strings ``"NaN"``, ``"Infinity"``,
``"-Infinity"``. Pure standard library: the REST client imports it.
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterable, Mapping

from autolog.entities import Dataset, Experiment, Metric, Param, Run, RunData, RunInfo, RunTag
from autolog.errors import (
    AutologError,
    FilterSyntaxError,
    InvalidInputError,
    NotFoundError,
    ParamConflictError,
    RunStateError,
    StorageError,
)

API = "/api/2.0/mlflow"
ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"
AUTOLOG_API = "/api/2.0/autolog"
PROXY_SCHEME = "mlflow-artifacts"

# MLflow's limits for one log-batch request.
MAX_BATCH_METRICS = 1000
MAX_BATCH_PARAMS = 100
MAX_BATCH_TAGS = 100
MAX_BATCH_ENTRIES = 1000
MAX_REQUEST_BYTES = 1024 * 1024

# error_code -> HTTP status, MLflow's (databricks.proto) names.
STATUS = {
    "INVALID_PARAMETER_VALUE": 400,
    "BAD_REQUEST": 400,
    "MALFORMED_REQUEST": 400,
    "INVALID_STATE": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "REQUEST_LIMIT_EXCEEDED": 429,
    "INTERNAL_ERROR": 500,
    "TEMPORARILY_UNAVAILABLE": 503,
}
DATASET_CONTEXT_TAG = "mlflow.data.context"


# -- numbers ----------------------------------------------------------------------------------
def encode_float(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def decode_float(value: Any, name: str = "value") -> float:
    """A double from JSON: a number or protobuf's string spellings.

    Raises:
        InvalidInputError: not a number.
    """
    if isinstance(value, bool):
        raise InvalidInputError(f"Field {name!r} must be a number, got {value!r}.")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise InvalidInputError(f"Field {name!r} must be a number, got {value!r}.")


def decode_int(value: Any, name: str) -> int:
    """An int64 from JSON (a number or a decimal string).

    Raises:
        InvalidInputError: not an integer.
    """
    if isinstance(value, bool):
        raise InvalidInputError(f"Field {name!r} must be an integer, got {value!r}.")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise InvalidInputError(f"Field {name!r} must be an integer, got {value!r}.")


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()


def _orjson() -> Any:
    """orjson when installed (``autolog[server]``), else None: several times faster than the
    standard library on a 1,000-metric log-batch, the bulk of a server's traffic."""
    global _ORJSON
    if _ORJSON is False:
        try:
            import orjson

            _ORJSON = orjson
        except ImportError:
            _ORJSON = None
    return _ORJSON


_ORJSON: Any = False


def loads(data: bytes | str) -> Any:
    """Parse a JSON document: by orjson when it can, else by the standard library, which also
    takes what orjson refuses (NaN literals, integers beyond 64 bits, lone surrogates).

    Raises:
        ValueError: not JSON (``json.JSONDecodeError``), or not UTF-8.
    """
    fast = _orjson()
    if fast is not None:
        try:
            return fast.loads(data)
        except fast.JSONDecodeError:
            pass
    return json.loads(data)


def dumps_batch(body: Mapping[str, Any]) -> bytes:
    """A log-batch body (strings, ints, floats already through :func:`encode_float`): by orjson
    when installed, whose only difference here (non-finite floats) cannot occur; a value it
    does not know (a float subclass) goes through the standard library."""
    fast = _orjson()
    if fast is not None:
        try:
            return bytes(fast.dumps(body))
        except TypeError:
            pass
    return dumps(body)


# -- entities ---------------------------------------------------------------------------------
def key_values(pairs: Mapping[str, str] | Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    items = pairs.items() if isinstance(pairs, Mapping) else pairs
    return [{"key": k, "value": v} for k, v in items]


def experiment_to_json(e: Experiment) -> dict[str, Any]:
    out: dict[str, Any] = {
        "experiment_id": e.experiment_id, "name": e.name, "artifact_location": e.artifact_location,
        "lifecycle_stage": e.lifecycle_stage, "tags": key_values(e.tags),
    }
    if e.creation_time is not None:
        out["creation_time"] = e.creation_time
    if e.last_update_time is not None:
        out["last_update_time"] = e.last_update_time
    return out


def experiment_from_json(d: Mapping[str, Any]) -> Experiment:
    return Experiment(
        experiment_id=str(d["experiment_id"]), name=d.get("name", ""),
        artifact_location=d.get("artifact_location", ""),
        lifecycle_stage=d.get("lifecycle_stage", "active"),
        tags={t["key"]: t.get("value", "") for t in d.get("tags", [])},
        creation_time=_opt_int(d.get("creation_time")),
        last_update_time=_opt_int(d.get("last_update_time")),
    )


def run_info_to_json(i: RunInfo) -> dict[str, Any]:
    out: dict[str, Any] = {
        "run_id": i.run_id, "run_uuid": i.run_id, "run_name": i.run_name,
        "experiment_id": i.experiment_id, "user_id": i.user_id, "status": i.status,
        "start_time": i.start_time, "artifact_uri": i.artifact_uri,
        "lifecycle_stage": i.lifecycle_stage,
    }
    if i.end_time is not None:
        out["end_time"] = i.end_time
    return out


def run_info_from_json(d: Mapping[str, Any]) -> RunInfo:
    return RunInfo(
        run_id=d.get("run_id") or d["run_uuid"], run_name=d.get("run_name", ""),
        experiment_id=str(d.get("experiment_id", "")), status=d.get("status", "RUNNING"),
        start_time=_opt_int(d.get("start_time")) or 0, end_time=_opt_int(d.get("end_time")),
        artifact_uri=d.get("artifact_uri", ""), lifecycle_stage=d.get("lifecycle_stage", "active"),
        user_id=d.get("user_id", ""),
    )


def metric_to_json(m: Metric) -> dict[str, Any]:
    return {"key": m.key, "value": encode_float(m.value), "timestamp": m.timestamp, "step": m.step}


def metrics_to_json(metrics: Iterable[Metric]) -> list[dict[str, Any]]:
    """:func:`metric_to_json` of many, the finite values (``v - v == 0``) without a call."""
    return [{"key": k, "value": v if v - v == 0 else encode_float(v), "timestamp": ts, "step": st}
            for k, v, ts, st in metrics]


def metric_from_json(d: Mapping[str, Any]) -> Metric:
    """Raises: InvalidInputError: a field is missing or of the wrong type."""
    if not isinstance(d, Mapping) or not isinstance(d.get("key"), str):
        raise InvalidInputError(f"A metric needs a string 'key', got {d!r:.200}.")
    if "value" not in d:
        raise InvalidInputError(f"Metric {d['key']!r} has no 'value'.")
    timestamp = d.get("timestamp")
    return Metric(d["key"], decode_float(d["value"], "value"),
                  decode_int(timestamp, "timestamp") if timestamp is not None else 0,
                  decode_int(d.get("step", 0), "step"))


def metrics_from_json(items: Any) -> list[Metric]:
    """A log-batch's metrics; the common shape (number value, int timestamp and step) is read
    without the per-field checks of :func:`metric_from_json`, which explains anything else.

    Raises:
        InvalidInputError: not a list, or a metric is malformed.
    """
    if items is None:
        return []
    if not isinstance(items, list):
        raise InvalidInputError("Field 'metrics' must be a list.")
    out: list[Metric] = []
    append = out.append
    new = tuple.__new__  # a Metric without its Python-level __new__: a third of the cost
    for d in items:
        if type(d) is dict:
            key, value, ts, step = d.get("key"), d.get("value"), d.get("timestamp"), d.get("step", 0)
            kind = type(value)
            if (type(key) is str and (kind is float or kind is int) and type(ts) is int
                    and type(step) is int):
                append(new(Metric, (key, value if kind is float else float(value), ts, step)))  # type: ignore[arg-type]
                continue
        append(metric_from_json(d))
    return out


def _pairs_from_json(items: Any, what: str) -> list[tuple[str, str]]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise InvalidInputError(f"Field {what!r} must be a list of {{key, value}} objects.")
    out = []
    for item in items:
        if not isinstance(item, Mapping) or not isinstance(item.get("key"), str):
            raise InvalidInputError(f"Each of {what!r} needs a string 'key', got {item!r:.200}.")
        value = item.get("value", "")
        if not isinstance(value, str):
            value = json.dumps(value) if not isinstance(value, (int, float)) else str(value)
        out.append((item["key"], value))
    return out


def params_from_json(items: Any) -> list[Param]:
    return [Param(k, v) for k, v in _pairs_from_json(items, "params")]


def tags_from_json(items: Any) -> list[RunTag]:
    return [RunTag(k, v) for k, v in _pairs_from_json(items, "tags")]


def dataset_to_json(d: Dataset) -> dict[str, Any]:
    schema = ""
    if d.columns is not None or d.dtypes is not None:
        names: list[str | None] = list(d.columns) if d.columns is not None else [None] * len(d.dtypes or ())
        types = list(d.dtypes) if d.dtypes is not None else [None] * len(names)
        schema = json.dumps({"mlflow_colspec": [
            {**({"name": c} if c is not None else {}), **({"type": t} if t is not None else {})}
            for c, t in zip(names, types)]})
    profile = json.dumps({"shape": list(d.shape)}) if d.shape is not None else ""
    tags = {DATASET_CONTEXT_TAG: d.context, **dict(d.tags)}
    return {
        "tags": [{"key": k, "value": v} for k, v in tags.items()],
        "dataset": {"name": d.name, "digest": d.digest, "source_type": "autolog",
                    "source": d.source or "", "schema": schema, "profile": profile},
    }


def dataset_from_json(item: Mapping[str, Any]) -> Dataset:
    """Raises: InvalidInputError: the dataset has no name or digest."""
    ds = item.get("dataset") if isinstance(item, Mapping) else None
    if not isinstance(ds, Mapping) or not ds.get("name") or not ds.get("digest"):
        raise InvalidInputError("Each dataset input needs a 'dataset' with a 'name' and a 'digest'.")
    tags = dict(_pairs_from_json(item.get("tags"), "tags"))
    columns = dtypes = shape = None
    try:
        spec = json.loads(ds.get("schema") or "{}").get("mlflow_colspec")
        if isinstance(spec, list):
            if all("name" in c for c in spec):
                columns = tuple(str(c["name"]) for c in spec)
            if all("type" in c for c in spec):
                dtypes = tuple(str(c["type"]) for c in spec)
        raw_shape = json.loads(ds.get("profile") or "{}").get("shape")
        if isinstance(raw_shape, list):
            shape = tuple(int(n) for n in raw_shape)
    except (ValueError, AttributeError, TypeError):
        pass  # a schema or profile we do not understand (another client's): keep name and digest
    return Dataset(name=str(ds["name"]), digest=str(ds["digest"])[:64],
                   context=tags.get(DATASET_CONTEXT_TAG, "train")[:32], shape=shape,
                   columns=columns, dtypes=dtypes, source=ds.get("source") or None,
                   # MLflow's clients always send the context tag: alone, it is no tags at all
                   tags=tags if set(tags) - {DATASET_CONTEXT_TAG} else None)


def run_to_json(r: Run) -> dict[str, Any]:
    return {
        "info": run_info_to_json(r.info),
        "data": {
            # MLflow's Run.data.metrics holds each metric's latest value; timestamps and steps of
            # the latest values are not kept separately here, so history readers use get-history.
            "metrics": [{"key": k, "value": encode_float(v), "timestamp": 0, "step": 0}
                        for k, v in r.data.metrics.items()],
            "params": key_values(r.data.params),
            "tags": key_values(r.data.tags),
        },
        "inputs": {"dataset_inputs": [dataset_to_json(d) for d in r.inputs]},
    }


def run_from_json(d: Mapping[str, Any]) -> Run:
    data = d.get("data") or {}
    return Run(
        info=run_info_from_json(d["info"]),
        data=RunData(
            params=dict(_pairs_from_json(data.get("params"), "params")),
            metrics={m["key"]: decode_float(m.get("value")) for m in data.get("metrics", [])},
            tags=dict(_pairs_from_json(data.get("tags"), "tags")),
        ),
        inputs=tuple(dataset_from_json(i) for i in (d.get("inputs") or {}).get("dataset_inputs", [])),
    )


def _opt_int(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


# -- errors -----------------------------------------------------------------------------------
def error_body(exc: AutologError) -> tuple[int, dict[str, Any]]:
    """The HTTP status and JSON body for one of our errors (MLflow's ``error_code`` names, plus
    ``autolog_error`` naming our class so that our client raises the same one)."""
    code = "INTERNAL_ERROR"
    if isinstance(exc, NotFoundError):
        code = "RESOURCE_DOES_NOT_EXIST"
    elif isinstance(exc, (InvalidInputError, ParamConflictError)):
        code = getattr(exc, "error_code", "INVALID_PARAMETER_VALUE")
    elif isinstance(exc, RunStateError):
        code = "INVALID_STATE"
    elif isinstance(exc, StorageError):
        code = "TEMPORARILY_UNAVAILABLE" if "locked" in str(exc).lower() else "INTERNAL_ERROR"
    body: dict[str, Any] = {"error_code": code, "message": str(exc),
                            "autolog_error": type(exc).__name__}
    if isinstance(exc, FilterSyntaxError):
        body["position"] = exc.position
    return STATUS.get(code, 500), body


_ERRORS: dict[str, type[AutologError]] = {
    cls.__name__: cls for cls in (InvalidInputError, ParamConflictError, NotFoundError,
                                  RunStateError, StorageError)
}
_BY_CODE: dict[str, type[AutologError]] = {
    "RESOURCE_DOES_NOT_EXIST": NotFoundError,
    "INVALID_PARAMETER_VALUE": InvalidInputError,
    "RESOURCE_ALREADY_EXISTS": InvalidInputError,
    "BAD_REQUEST": InvalidInputError,
    "MALFORMED_REQUEST": InvalidInputError,
    "INVALID_STATE": RunStateError,
}


def error_from_body(status: int, body: Any, default_message: str) -> AutologError:
    """The error our client raises for a server's error response."""
    if not isinstance(body, Mapping):
        return StorageError(default_message)
    message = str(body.get("message") or default_message)
    if body.get("autolog_error") == "FilterSyntaxError" and isinstance(body.get("position"), int):
        position = body["position"]
        suffix = f" at position {position}"
        return FilterSyntaxError(message[:-len(suffix)] if message.endswith(suffix) else message,
                                 position)
    cls = _ERRORS.get(str(body.get("autolog_error"))) or _BY_CODE.get(str(body.get("error_code")))
    if cls is None:
        cls = StorageError
    return cls(message)
