"""What every integration logs the same way: params, metrics, datasets, models, text and plots.

All of it goes through the batching writer: params and metrics are validated and queued; model
files, text artifacts and plots are written or rendered on the writer thread, so nothing here
does disk I/O on the training path. Plots use matplotlib's object API on an Agg canvas, never
``pyplot``, so the user's figures and backend are untouched.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any, Callable, Iterable, Mapping, Sequence

from autolog import _tracking
from autolog._validation import metric_value, param_value, tag_value, validate_key
from autolog.entities import Param, RunTag
from autolog.errors import ParamConflictError
from autolog.integrations._patch import Call, report
from autolog.store import artifacts as _artifacts


logger = logging.getLogger("autolog")


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
    root = run.info.artifact_uri
    in_background(run, integration, artifact_file,
                  lambda: _artifacts.write_bytes(root, artifact_file, text.encode("utf-8")))


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
    path = os.path.join(run.info.artifact_uri, name)
    kwargs = dict(flavor=chosen, signature=signature, input_example=input_example,
                  run_id=run.info.run_id, artifact_path=name, extra=extra)
    if chosen.snapshot is None:
        save_model(model, path, **kwargs)
        return
    frozen = chosen.snapshot(model)
    in_background(run, integration, f"log_model({name})",
                  lambda: save_model(model, path, snapshot=frozen, **kwargs))


def render_figure(run: Any, integration: str, artifact_file: str,
                  draw: Callable[[Any], None], figsize: tuple[float, float] = (6.0, 4.5)) -> None:
    """Draw with ``draw(figure)`` and save a PNG, on the writer thread, with an Agg canvas.

    Quietly does nothing when matplotlib is not installed.
    """
    import importlib.util

    # find_spec, not import: importing matplotlib costs ~100 ms, which belongs on the writer.
    if importlib.util.find_spec("matplotlib") is None:
        return
    root = run.info.artifact_uri

    def task() -> None:
        import io

        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=figsize)
        FigureCanvasAgg(figure)
        draw(figure)
        figure.tight_layout()
        buf = io.BytesIO()
        figure.savefig(buf, format="png", dpi=100)
        _artifacts.write_bytes(root, artifact_file, buf.getvalue())

    in_background(run, integration, artifact_file, task)


def log_feature_importance(run: Any, integration: str, names: Sequence[str],
                           values: Iterable[float], suffix: str = "",
                           title: str = "Feature importance") -> None:
    """``feature_importance{suffix}.json`` ({name: value}) and a bar chart of the top 30."""
    pairs = [(str(n), float(v)) for n, v in zip(names, values)]
    write_json(run, integration, f"feature_importance{suffix}.json", dict(pairs))
    top = sorted(pairs, key=lambda p: abs(p[1]), reverse=True)[:30][::-1]

    def draw(figure: Any) -> None:
        ax = figure.add_subplot(1, 1, 1)
        ax.barh([p[0] for p in top], [p[1] for p in top], color="#4c72b0")
        ax.set_title(title)
        ax.set_xlabel("importance")

    render_figure(run, integration, f"feature_importance{suffix}.png", draw,
                  figsize=(7.0, max(3.0, 0.3 * len(top) + 1.5)))


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
