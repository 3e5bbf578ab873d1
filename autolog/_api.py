"""The fluent tracking API: MLflow's module-level functions, names and arguments."""

from __future__ import annotations

import io
import os
import time
from typing import Any, Mapping, Sequence

from autolog import _runs, _tracking
from autolog._validation import (
    _valid_keys,
    metric_step,
    metric_value,
    param_value,
    tag_value,
    validate_key,
)
from autolog.entities import Dataset, Experiment, Param, Run, RunTag, ViewType
from autolog.errors import InvalidInputError, missing_dependency
from autolog.store import artifacts as _artifacts

SEARCH_MAX_RESULTS_PANDAS = 100_000


def _store() -> Any:
    return _tracking.get_store()


# -- experiments --------------------------------------------------------------------------------
def set_experiment(experiment_name: str | None = None, experiment_id: str | None = None) -> Experiment:
    """Make an experiment active, creating it by name if it does not exist.

    Raises:
        InvalidInputError: neither or both of name and id given.
        NotFoundError: ``experiment_id`` does not exist.
        RunStateError: the experiment is deleted.
    """
    from autolog.errors import RunStateError

    if (experiment_name is None) == (experiment_id is None):
        raise InvalidInputError("Give exactly one of experiment_name and experiment_id.")
    store = _store()
    if experiment_id is not None:
        experiment = store.get_experiment(str(experiment_id))
    else:
        experiment = store.get_experiment_by_name(experiment_name)  # type: ignore[arg-type]
        if experiment is None:
            try:
                store.create_experiment(experiment_name)  # type: ignore[arg-type]
            except InvalidInputError:
                pass  # another process created it first
            experiment = store.get_experiment_by_name(experiment_name)  # type: ignore[arg-type]
    if experiment.lifecycle_stage != "active":
        raise RunStateError(
            f"Experiment {experiment.name!r} is deleted; restore it with "
            "Client().restore_experiment() or use another name.")
    _runs.set_active_experiment(experiment.experiment_id)
    return experiment


def create_experiment(name: str, artifact_location: str | None = None,
                      tags: Mapping[str, Any] | None = None) -> str:
    """Create an experiment and return its id.

    Raises:
        InvalidInputError: the name is empty or taken.
    """
    return _store().create_experiment(
        name, artifact_location, {k: str(v) for k, v in (tags or {}).items()})


def get_experiment(experiment_id: str) -> Experiment:
    """Raises: NotFoundError: no experiment has that id."""
    return _store().get_experiment(str(experiment_id))


def get_experiment_by_name(name: str) -> Experiment | None:
    return _store().get_experiment_by_name(name)  # type: ignore[no-any-return]


def search_experiments(view_type: int = ViewType.ACTIVE_ONLY, max_results: int | None = None,
                       filter_string: str | None = None,
                       order_by: Sequence[str] | None = None) -> list[Experiment]:
    """Raises: FilterSyntaxError: the filter does not parse."""
    return _store().search_experiments(view_type, max_results, filter_string, order_by)  # type: ignore[no-any-return]


def delete_experiment(experiment_id: str) -> None:
    _store().set_experiment_lifecycle(str(experiment_id), "deleted")


def set_experiment_tag(key: str, value: Any) -> None:
    _store().set_experiment_tag(_runs.current_experiment_id(), validate_key(key, "tag"),
                                tag_value(key, value))


# -- logging ------------------------------------------------------------------------------------
def log_metric(key: str, value: Any, step: int | None = None, timestamp: int | None = None,
               synchronous: bool | None = None, run_id: str | None = None) -> None:
    """Log a metric value (float64) at ``step`` (default 0); returns without touching the disk.

    Raises:
        InvalidInputError: the key is invalid or the value is not a number.
    """
    # The hot path: a few dict/attribute lookups and one deque append.
    if run_id is None:
        stack = _runs._stack()
        run = stack[-1] if stack else _runs.start_run()
        run_id = run.info.run_id
        store = _tracking.get_store(run.store_uri)
    else:
        store = _store()
    if key not in _valid_keys:
        validate_key(key, "metric")
    store.log_metric_fast(
        run_id, key, value if type(value) is float else metric_value(key, value),
        int(time.time() * 1000) if timestamp is None else int(timestamp),
        step if type(step) is int else metric_step(step),
    )
    if synchronous:
        store.flush()


def log_metrics(metrics: Mapping[str, Any], step: int | None = None, synchronous: bool | None = None,
                run_id: str | None = None, timestamp: int | None = None) -> None:
    """Log several metrics at one step.

    Raises:
        InvalidInputError: a key is invalid or a value is not a number; nothing is logged then.
    """
    rid, store = _runs.require_run_id(run_id)
    ts = int(time.time() * 1000) if timestamp is None else int(timestamp)
    st = metric_step(step)
    checked = [(validate_key(k, "metric"), metric_value(k, v)) for k, v in metrics.items()]
    for key, value in checked:
        store.log_metric_fast(rid, key, value, ts, st)
    if synchronous:
        store.flush()


def log_param(key: str, value: Any, synchronous: bool | None = None) -> Any:
    """Log a param (stored as a string); the same value again is a no-op.

    Raises:
        InvalidInputError: the key is invalid.
        ParamConflictError: the run already has this param with another value.
    """
    log_params({key: value}, synchronous=synchronous)
    return value


def log_params(params: Mapping[str, Any], synchronous: bool | None = None,
               run_id: str | None = None) -> None:
    """Log several params at once.

    Raises:
        InvalidInputError: a key is invalid; nothing is logged then.
        ParamConflictError: a param exists with another value; nothing is logged then.
    """
    rid, store = _runs.require_run_id(run_id)
    batch = [Param(validate_key(k, "param"), param_value(k, v)) for k, v in params.items()]
    store.log_batch(rid, params=batch)
    if synchronous:
        store.flush()


def set_tag(key: str, value: Any, synchronous: bool | None = None) -> None:
    """Set a tag on the active run (last write wins).

    Raises:
        InvalidInputError: the key or value is invalid.
    """
    set_tags({key: value}, synchronous=synchronous)


def set_tags(tags: Mapping[str, Any], synchronous: bool | None = None) -> None:
    """Raises: InvalidInputError: a key or value is invalid; nothing is set then."""
    rid, store = _runs.require_run_id()
    batch = [RunTag(validate_key(k, "tag"), tag_value(k, v)) for k, v in tags.items()]
    store.log_batch(rid, tags=batch)
    if synchronous:
        store.flush()


def delete_tag(key: str) -> None:
    """Raises: NotFoundError: the active run has no such tag."""
    rid, store = _runs.require_run_id()
    store.delete_tag(rid, key)


def log_input(dataset: Any, context: str = "train", name: str | None = None,
              tags: Mapping[str, str] | None = None) -> Dataset:
    """Record a dataset fingerprint (name, digest, shape, columns, dtypes) on the active run,
    with ``tags`` on the input (``mlflow.log_input``'s).

    ``dataset`` is a numpy array, pandas DataFrame/Series, a sequence, or an
    :class:`~autolog.entities.Dataset` already built.

    Raises:
        InvalidInputError: a tag key is invalid.
    """
    from autolog._datasets import fingerprint

    input_tags = {validate_key(k, "tag"): tag_value(k, v) for k, v in (tags or {}).items()}
    rid, store = _runs.require_run_id()
    fp = dataset if isinstance(dataset, Dataset) else fingerprint(dataset, name=name, context=context)
    if input_tags:
        fp = Dataset(**{**{n: getattr(fp, n) for n in Dataset.__slots__},
                        "tags": {**fp.tags, **input_tags}})
    store.log_inputs(rid, [fp])
    return fp


def flush() -> None:
    """Commit everything this process logged so far.

    Raises:
        StorageError: a background write failed since the last flush.
    """
    for store in list(_tracking._stores.values()):
        store.flush()


# -- artifacts ----------------------------------------------------------------------------------
def get_artifact_uri(artifact_path: str | None = None) -> str:
    """The active run's artifact folder, or a path inside it."""
    root = (_runs.active_run() or _runs.start_run()).info.artifact_uri
    return f"{root.rstrip('/')}/{_artifacts.clean_path(artifact_path)}" if artifact_path else root


def _artifact_repo(run_id: str | None) -> _artifacts.ArtifactRepository:
    """The artifact repository of ``run_id``, else of the active run (started if there is none)."""
    if run_id:
        uri = _tracking.get_store().get_run(run_id).info.artifact_uri
    else:
        uri = (_runs.active_run() or _runs.start_run()).info.artifact_uri
    return _artifacts.repository(uri)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None,
                 run_id: str | None = None) -> None:
    """Copy a file into the active run's artifacts (under ``artifact_path``).

    Raises:
        NotFoundError: the file does not exist.
        StorageError: the copy failed.
    """
    _artifact_repo(run_id).log_file(os.fspath(local_path), artifact_path)


def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str | None = None,
                  run_id: str | None = None) -> None:
    """Copy a directory's files into the active run's artifacts.

    Raises:
        NotFoundError: the directory does not exist.
        StorageError: the copy failed.
    """
    _artifact_repo(run_id).log_dir(os.fspath(local_dir), artifact_path)


def log_text(text: str, artifact_file: str, run_id: str | None = None) -> None:
    """Save ``text`` as the artifact ``artifact_file``."""
    _artifact_repo(run_id).write_bytes(artifact_file, text.encode("utf-8"))


def log_dict(dictionary: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Save a dict as JSON, or as YAML when ``artifact_file`` ends in .yaml/.yml."""
    if artifact_file.endswith((".yaml", ".yml")):
        import yaml

        text = yaml.safe_dump(dictionary, default_flow_style=False, sort_keys=False)
    else:
        import json

        text = json.dumps(dictionary, indent=2, default=str)
    log_text(text, artifact_file, run_id=run_id)


def log_figure(figure: Any, artifact_file: str, *, save_kwargs: Mapping[str, Any] | None = None,
               run_id: str | None = None) -> None:
    """Save a matplotlib figure (format from the file extension) as an artifact.

    Raises:
        InvalidInputError: ``figure`` is not a matplotlib figure.
    """
    if not hasattr(figure, "savefig"):
        raise InvalidInputError(
            f"log_figure takes a matplotlib Figure, not {type(figure).__name__}.")
    buf = io.BytesIO()
    ext = os.path.splitext(artifact_file)[1].lstrip(".") or "png"
    figure.savefig(buf, format=ext, **dict(save_kwargs or {}))
    _artifact_repo(run_id).write_bytes(artifact_file, buf.getvalue())


def log_image(image: Any, artifact_file: str | None = None, key: str | None = None,
              step: int | None = None, run_id: str | None = None) -> None:
    """Save a numpy array (HxW, HxWx3, HxWx4; uint8 or floats in [0, 1]) or a PIL image.

    Raises:
        InvalidInputError: the array has an unsupported shape or value range.
        ImportError: Pillow is not installed.
    """
    if artifact_file is None:
        if key is None:
            raise InvalidInputError("log_image needs artifact_file (or key).")
        artifact_file = f"images/{key}_step_{metric_step(step)}.png"
    try:
        from PIL import Image
    except ImportError as exc:
        raise missing_dependency("pillow", "sklearn") from exc
    if not hasattr(image, "save"):
        import numpy as np

        arr = np.asarray(image)
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
            raise InvalidInputError(
                f"log_image takes an HxW, HxWx1, HxWx3 or HxWx4 array, not shape {arr.shape}.")
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        if arr.dtype.kind == "f":
            if arr.size and (arr.min() < 0 or arr.max() > 1):
                raise InvalidInputError("Float images must have values in [0, 1].")
            arr = (arr * 255).round().astype("uint8")
        elif arr.dtype != np.uint8:
            if arr.size and (arr.min() < 0 or arr.max() > 255):
                raise InvalidInputError("Integer images must have values in [0, 255].")
            arr = arr.astype("uint8")
        image = Image.fromarray(arr)
    buf = io.BytesIO()
    ext = os.path.splitext(artifact_file)[1].lstrip(".").upper() or "PNG"
    image.save(buf, format={"JPG": "JPEG"}.get(ext, ext))
    _artifact_repo(run_id).write_bytes(artifact_file, buf.getvalue())


# -- reading ------------------------------------------------------------------------------------
def get_run(run_id: str) -> Run:
    """Raises: NotFoundError: no run has that id."""
    return _store().get_run(run_id)  # type: ignore[no-any-return]


def search_runs(
    experiment_ids: Sequence[str] | None = None,
    filter_string: str = "",
    run_view_type: int = ViewType.ACTIVE_ONLY,
    max_results: int = SEARCH_MAX_RESULTS_PANDAS,
    order_by: Sequence[str] | None = None,
    output_format: str = "pandas",
    search_all_experiments: bool = False,
    experiment_names: Sequence[str] | None = None,
) -> Any:
    """Search runs with MLflow's filter grammar (plus OR and parentheses).

    Returns a pandas DataFrame (``run_id, experiment_id, status, artifact_uri, start_time,
    end_time``, then ``metrics.*``, ``params.*``, ``tags.*``) or, with ``output_format="list"``,
    a list of :class:`~autolog.entities.Run`.

    Raises:
        FilterSyntaxError: the filter or an order_by clause does not parse.
        InvalidInputError: an unknown output_format.
    """
    if output_format not in ("pandas", "list"):
        raise InvalidInputError(f"output_format must be 'pandas' or 'list', not {output_format!r}.")
    store = _store()
    ids = [str(e) for e in (experiment_ids or [])]
    for name in experiment_names or []:
        experiment = store.get_experiment_by_name(name)
        if experiment is not None:
            ids.append(experiment.experiment_id)
    if search_all_experiments:
        ids = [e.experiment_id for e in store.search_experiments(ViewType.ALL)]
    elif not ids and not experiment_names:
        ids = [_runs.current_experiment_id()]
    runs = store.search_runs(ids, filter_string, run_view_type, max_results, order_by) if ids else []
    if output_format == "list":
        return runs
    return runs_to_frame(runs)


def runs_to_frame(runs: Sequence[Run]) -> Any:
    import pandas as pd

    base = {"run_id": [], "experiment_id": [], "status": [], "artifact_uri": [],
            "start_time": [], "end_time": []}  # type: dict[str, list[Any]]
    metrics: dict[str, list[Any]] = {}
    params: dict[str, list[Any]] = {}
    tags: dict[str, list[Any]] = {}
    for i, run in enumerate(runs):
        info = run.info
        base["run_id"].append(info.run_id)
        base["experiment_id"].append(info.experiment_id)
        base["status"].append(info.status)
        base["artifact_uri"].append(info.artifact_uri)
        base["start_time"].append(info.start_time)
        base["end_time"].append(info.end_time)
        for target, values, missing in ((metrics, run.data.metrics, float("nan")),
                                        (params, run.data.params, None),
                                        (tags, run.data.tags, None)):
            for k, v in values.items():
                column = target.get(k)
                if column is None:
                    column = target[k] = [missing] * i
                column.append(v)
            for column in target.values():
                if len(column) < i + 1:
                    column.append(missing)
    frame: dict[str, Any] = dict(base)
    frame["start_time"] = pd.to_datetime(base["start_time"], unit="ms", utc=True)
    frame["end_time"] = pd.to_datetime(base["end_time"], unit="ms", utc=True)
    for prefix, columns in (("metrics", metrics), ("params", params), ("tags", tags)):
        for k in sorted(columns):
            frame[f"{prefix}.{k}"] = columns[k]
    return pd.DataFrame(frame)


