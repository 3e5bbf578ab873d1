"""What every integration logs the same way: params, metrics, datasets, models, text and plots.

All of it goes through the batching writer: params and metrics are validated and queued; model
files, text artifacts and plot specs are written on the writer thread, so nothing here does
disk I/O on the training path. Plots are recorded as data (:mod:`autolog.plots`) and drawn when
someone reads them, unless ``plots="eager"``.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable, Iterable, Mapping, Sequence

from autolog import _tracking
from autolog._validation import metric_value, param_value, tag_value, validate_key
from autolog.entities import Param, RunTag
from autolog.errors import ParamConflictError
from autolog._log import logger
from autolog.integrations import _config
from autolog.integrations._patch import Call, report
from autolog.store import artifacts as _artifacts




def _store(run: Any) -> Any:
    return _tracking.get_store(run.store_uri)


_sanitized: dict[str, str] = {}


def sanitize_key(key: str) -> str:
    """Make a framework's metric/param name a valid key (``@`` -> ``_at_``, others -> ``_``)."""
    done = _sanitized.get(key)
    if done is not None:
        return done  # per-step metrics repeat the same few names: remember them
    text = str(key).replace("@", "_at_")
    done = "".join(c if c.isalnum() or c in "_-. /" else "_" for c in text).strip("/") or "_"
    if len(_sanitized) < 10_000:
        _sanitized[key] = done
    return done


def log_params(run: Any, params: Mapping[str, Any]) -> None:
    """Queue params on ``run``; a key already logged with the same value is a no-op.

    A key the run already holds with another value (a second fit inside the user's run) keeps
    its first value and the other keys are still logged: autologging never fails a fit with
    MLflow's "Changing param values is not allowed".
    """
    batch = [Param(validate_key(sanitize_key(k), "param"), param_value(k, v))
             for k, v in params.items()]
    if not batch:
        return
    store = _store(run)
    try:
        store.log_batch(run.info.run_id, params=batch)
    except ParamConflictError:
        for param in batch:
            try:
                store.log_batch(run.info.run_id, params=[param])
            except ParamConflictError:
                logger.info("autolog: param %r of run %s is already set; kept the first value",
                            param.key, run.info.run_id)


def log_metrics(run: Any, metrics: Mapping[str, Any], step: int = 0,
                timestamp: int | None = None) -> None:
    """Queue numeric metrics; values that are not finite numbers are still kept (NaN, inf),
    non-numbers are skipped silently (frameworks report strings and None in their logs)."""
    store = _store(run)
    ts = int(time.time() * 1000) if timestamp is None else timestamp
    run_id = run.info.run_id
    for key, value in metrics.items():
        try:
            number = metric_value(key, value)
        except ValueError:
            continue
        store.log_metric_fast(run_id, validate_key(sanitize_key(key), "metric"), number, ts, int(step))


def set_tags(run: Any, tags: Mapping[str, Any]) -> None:
    batch = [RunTag(validate_key(k, "tag"), tag_value(k, v)) for k, v in tags.items()]
    if batch:
        _store(run).log_batch(run.info.run_id, tags=batch)


def log_dataset(run: Any, data: Any, context: str = "train", name: str | None = None) -> None:
    """Record a fingerprint of ``data`` (sampled, never copied) as a run input."""
    if data is None:
        return
    from autolog._datasets import fingerprint

    _store(run).log_inputs(run.info.run_id, [fingerprint(data, name=name, context=context)])


def in_background(call_or_run: Any, integration: str, target: str, task: Callable[[], Any]) -> None:
    """Run ``task`` on the writer thread; its failure is reported like any autolog error."""
    run = call_or_run.run if isinstance(call_or_run, Call) else call_or_run

    def guarded() -> None:
        # Under AUTOLOG_STRICT report() re-raises; the writer then surfaces it at the next flush.
        try:
            task()
        except Exception as exc:  # noqa: BLE001
            report(integration, target, exc)

    _store(run).submit(guarded)


def log_child_runs(call: Call, integration: str, estimator: Any,
                   children: Sequence[tuple[int, Mapping[str, Any], Mapping[str, float]]]) -> None:
    """Queue a finished child run of ``call.run`` per ``(index, params, metrics)``: a search's
    candidate ``<parent name>-candidate-<index>``, tagged with its parent and ``estimator``'s
    class, created on the writer thread."""
    run = call.run
    cls = type(estimator)
    tags = {"autolog.parentRunId": run.info.run_id, "mlflow.parentRunId": run.info.run_id,
            "autolog.integration": integration, "estimator_name": cls.__name__,
            "estimator_class": f"{cls.__module__}.{cls.__qualname__}",
            **(call.settings.get("extra_tags") or {})}
    start, now = run.info.start_time, int(time.time() * 1000)

    def create() -> None:
        from autolog.client import Client
        from autolog.entities import Metric

        client = Client(tracking_uri=run.store_uri)
        for index, params, metrics in children:
            child = client.create_run(run.info.experiment_id, start_time=start, tags=tags,
                                      run_name=f"{run.info.run_name}-candidate-{index}")
            client.log_batch(
                child.info.run_id,
                metrics=[Metric(sanitize_key(k), v, now, 0) for k, v in metrics.items()],
                params=[Param(sanitize_key(k), str(v)) for k, v in params.items()])
            client.set_terminated(child.info.run_id, end_time=now)

    in_background(run, integration, "child runs", create)


def write_text(run: Any, integration: str, artifact_file: str, text: str) -> None:
    """Write a text artifact from the writer thread."""
    repo = _artifacts.repository(run.info.artifact_uri)
    in_background(run, integration, artifact_file,
                  lambda: repo.write_bytes(artifact_file, text.encode("utf-8")))


def write_json(run: Any, integration: str, artifact_file: str, payload: Any) -> None:
    write_text(run, integration, artifact_file, json.dumps(payload, indent=2, default=str))


def log_model(run: Any, integration: str, model: Any, name: str = "model", *,
              input_example: Any = None, signature: Any = None, flavor: str | None = None,
              extra: dict[str, Any] | None = None) -> None:
    """Snapshot ``model`` now (cheaply, in memory) and write the model folder on the writer thread.

    A flavor without ``snapshot`` is saved synchronously: correctness over speed, since the model
    object may change after the call returns.
    """
    from autolog.models import save_model
    from autolog.models._flavors import flavor_for, get_flavor

    chosen = get_flavor(flavor) if flavor else flavor_for(model)
    repo = _artifacts.repository(run.info.artifact_uri)
    kwargs = dict(flavor=chosen, signature=signature, input_example=input_example,
                  run_id=run.info.run_id, artifact_path=name, extra=extra)

    def save(snapshot: Any = None) -> None:
        with repo.folder_to_log(name) as path:
            save_model(model, path, snapshot=snapshot, **kwargs)

    if chosen.snapshot is None:
        save()
        return
    frozen = chosen.snapshot(model)
    in_background(run, integration, f"log_model({name})", lambda: save(frozen))


def plots_mode(integration: str) -> str | bool:
    """The integration's ``plots=`` setting, read at call time: "lazy", "eager" or False."""
    return (_config.get_config(integration) or {}).get("plots", "lazy")  # type: ignore[no-any-return]


def log_plot(run: Any, integration: str, artifact_file: str,
             build: Callable[[], Mapping[str, Any]]) -> None:
    """Record a picture as its plot spec ``<artifact_file>.plotspec.json``.

    ``build()`` returns the spec (:mod:`autolog.plots.spec`); it runs on the writer thread.
    Under ``plots="eager"`` the picture is drawn there too (when matplotlib is installed);
    under ``plots=False`` nothing is recorded. Readers draw a missing picture from its spec.
    """
    mode = plots_mode(integration)
    if not mode:
        return
    repo = _artifacts.repository(run.info.artifact_uri)

    def task() -> None:
        from autolog.plots import SPEC_SUFFIX, spec

        built = build()
        repo.write_bytes(artifact_file + SPEC_SUFFIX, spec.dumps(built))
        if mode == "eager" and _can_draw(artifact_file):
            from autolog.plots import draw

            repo.write_bytes(artifact_file, draw.render(built, artifact_file))

    in_background(run, integration, artifact_file, task)


def _can_draw(artifact_file: str) -> bool:
    import importlib.util

    # Eager drawing without matplotlib keeps the spec only; a reader draws it (or says what
    # to install).
    return artifact_file.endswith(".html") or importlib.util.find_spec("matplotlib") is not None


def log_feature_importance(run: Any, integration: str, names: Sequence[str],
                           values: Iterable[float], suffix: str = "",
                           title: str = "Feature importance") -> None:
    """``feature_importance{suffix}.json`` ({name: value}) and a bar chart of the top 30."""
    pairs = [(str(n), float(v)) for n, v in zip(names, values)]
    write_json(run, integration, f"feature_importance{suffix}.json", dict(pairs))

    def build() -> Mapping[str, Any]:
        from autolog.plots import spec

        top = sorted(pairs, key=lambda p: abs(p[1]), reverse=True)[:30]
        return spec.bars([p[0] for p in top], [p[1] for p in top], title, x_label="importance")

    log_plot(run, integration, f"feature_importance{suffix}.png", build)


def feature_names(X: Any, n_features: int | None = None, fitted: Any = None) -> list[str]:
    """Real feature names: DataFrame columns, ``feature_names_in_``, else ``feature_<i>``."""
    columns = getattr(X, "columns", None)
    if columns is not None:
        return [str(c) for c in columns]
    names = getattr(fitted, "feature_names_in_", None) if fitted is not None else None
    if names is not None:
        return [str(c) for c in names]
    if n_features is None:
        shape = getattr(X, "shape", None)
        n_features = int(shape[1]) if shape is not None and len(shape) > 1 else 0
    return [f"feature_{i}" for i in range(n_features)]


def head(data: Any, rows: int = 5) -> Any:
    """The first rows of ``data`` without copying the rest (a view or a tiny slice)."""
    if data is None:
        return None
    if hasattr(data, "iloc"):
        return data.iloc[:rows]
    try:
        return data[:rows]
    except Exception:  # noqa: BLE001 - not sliceable: no example
        return None
