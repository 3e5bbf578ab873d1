"""Copying runs between an MLflow store and the autolog store, idempotently."""

from __future__ import annotations

import os
import tempfile
from typing import Any, Callable

from autolog.bridge._records import Dataset, Run, to_autolog_tags, to_mlflow_tags
from autolog.errors import InvalidInputError, NotFoundError


class Summary:
    """What one import or export did."""

    __slots__ = ("experiments_created", "experiments_matched", "runs_copied", "runs_skipped",
                 "metric_values", "artifact_files", "runs_without_artifacts")

    def __init__(self) -> None:
        self.experiments_created = self.experiments_matched = 0
        self.runs_copied = self.runs_skipped = self.metric_values = 0
        self.artifact_files = self.runs_without_artifacts = 0

    def __str__(self) -> str:
        text = (f"{self.runs_copied} runs copied, {self.runs_skipped} already there; "
                f"{self.experiments_created} experiments created, {self.experiments_matched} "
                f"matched by name; {self.metric_values} metric values, {self.artifact_files} "
                "artifact files")
        if self.runs_without_artifacts:
            text += (f"; {self.runs_without_artifacts} runs' artifacts not reachable as files "
                     "(remote storage)")
        return text


def open_source(source: str) -> Any:
    """The reader for an MLflow store URI or folder.

    Raises:
        InvalidInputError: the source does not exist or its kind is unknown.
    """
    if source.startswith(("sqlite:", "postgresql", "mysql", "mssql")):
        from autolog.bridge.mlflow_sql import SqlSource

        return SqlSource(source)
    if source.startswith(("http://", "https://")):
        from autolog.bridge.mlflow_rest import RestSource

        return RestSource(source)
    if source.startswith("file://"):
        source = source[len("file://"):]
    if "://" in source:
        raise InvalidInputError(
            f"Unsupported MLflow store {source!r}: give sqlite:///mlflow.db, postgresql://..., "
            "an mlruns folder or http(s)://server.")
    if os.path.isfile(source):
        from autolog.bridge.mlflow_sql import SqlSource

        return SqlSource(f"sqlite:///{os.path.abspath(source)}")
    from autolog.bridge.mlflow_files import FolderSource

    return FolderSource(source)


def _count(folder: str) -> int:
    return sum(len(files) for _, _, files in os.walk(folder))


def import_mlflow(source: str, tracking_uri: str | None = None,
                  progress: Callable[[Run], None] | None = None,
                  on_total: Callable[[int], None] | None = None) -> Summary:
    """Copy an MLflow store's experiments and runs into the autolog store at ``tracking_uri``.

    Raises:
        InvalidInputError: the source is missing, damaged or not an MLflow store (nothing is
            written then).
        StorageError: writing to the autolog store failed.
    """
    from autolog import _tracking
    from autolog._redact import mask_value
    from autolog.client import Client
    from autolog.entities import Metric, Param, RunTag

    reader = open_source(source)
    summary = Summary()
    try:
        reader.check()
        experiments = reader.experiments()
        if on_total is not None:
            on_total(reader.count_runs())
        uri = tracking_uri or _tracking.get_tracking_uri()
        store = _tracking.get_store(uri)
        client = Client(uri)
        ids: dict[str, str] = {}
        deleted: list[str] = []
        for exp in experiments:
            tags = {k: mask_value(k, v) for k, v in to_autolog_tags(exp.tags).items()}
            found = store.get_experiment_by_name(exp.name)
            if found is None:
                ids[exp.experiment_id] = store.create_experiment(exp.name, None, tags)
                summary.experiments_created += 1
                if exp.lifecycle_stage == "deleted":
                    deleted.append(ids[exp.experiment_id])
            else:
                ids[exp.experiment_id] = found.experiment_id
                summary.experiments_matched += 1
                for key, value in tags.items():
                    if key not in found.tags:
                        store.set_experiment_tag(found.experiment_id, key, value)
                if found.lifecycle_stage != "active":  # its runs must be writable meanwhile
                    store.set_experiment_lifecycle(found.experiment_id, "active")
                    deleted.append(found.experiment_id)
        with tempfile.TemporaryDirectory(prefix="autolog-import-") as scratch:
            for run in reader.runs():
                if progress is not None:
                    progress(run)
                try:
                    store.get_run(run.run_id)
                    summary.runs_skipped += 1
                    continue
                except NotFoundError:
                    pass
                tags = {k: mask_value(k, v) for k, v in to_autolog_tags(run.tags).items()}
                tags["mlflow.runName"] = run.name or tags.get("mlflow.runName", "")
                store.create_run(ids[run.experiment_id], run.name, run.start_time or 0,
                                 [RunTag(k, v) for k, v in tags.items()], run.user_id,
                                 run.parent_run_id, None, run.run_id)
                store.log_batch(
                    run.run_id, [Metric(k, v, ts, step) for k, v, ts, step in run.metrics],
                    [Param(k, mask_value(k, v)) for k, v in run.params.items()])
                if run.datasets:
                    store.log_inputs(run.run_id, [d.to_autolog() for d in run.datasets])
                store.update_run_info(run.run_id, status=run.status, end_time=run.end_time)
                if run.lifecycle_stage == "deleted":
                    store.set_run_lifecycle(run.run_id, "deleted")
                folder = reader.artifact_dir(run, scratch)
                if folder is None:
                    summary.runs_without_artifacts += bool(run.artifact_uri)
                elif os.path.isdir(folder) and os.listdir(folder):
                    client.log_artifacts(run.run_id, folder)
                    summary.artifact_files += _count(folder)
                store.flush()
                summary.runs_copied += 1
                summary.metric_values += len(run.metrics)
        for experiment_id in deleted:
            store.set_experiment_lifecycle(experiment_id, "deleted")
    finally:
        reader.close()
    return summary


def export_mlflow(dest: str, tracking_uri: str | None = None,
                  progress: Callable[[Run], None] | None = None,
                  on_total: Callable[[int], None] | None = None) -> Summary:
    """Write the autolog store's experiments and runs into an MLflow ``mlruns`` folder.

    Raises:
        InvalidInputError: ``dest`` is not an mlruns folder (or a kind not supported yet).
        StorageError: reading the autolog store failed.
    """
    from autolog import _tracking
    from autolog.bridge.mlflow_files import FolderDestination
    from autolog.client import Client
    from autolog.entities import ViewType

    if dest.startswith("file://"):
        dest = dest[len("file://"):]
    if "://" in dest or dest.startswith("sqlite:"):
        raise InvalidInputError(
            f"export-mlflow writes an mlruns folder; {dest!r} is not a folder path. (MLflow "
            "reads the folder with `mlflow ui --backend-store-uri ./mlruns` and can migrate it "
            "to a database.)")
    writer = FolderDestination(dest)
    writer.check()
    uri = tracking_uri or _tracking.get_tracking_uri()
    store = _tracking.get_store(uri)
    client = Client(uri)
    summary = Summary()
    experiments = store.search_experiments(ViewType.ALL)
    runs = store.search_runs([e.experiment_id for e in experiments], "", ViewType.ALL,
                             max_results=2**31 - 1) if experiments else []
    if on_total is not None:
        on_total(len(runs))
    ids = {}
    for exp in experiments:
        known = writer.has_experiment(exp.name)
        ids[exp.experiment_id] = writer.experiment(_ExperimentView(exp))
        summary.experiments_matched += known
        summary.experiments_created += not known
    with tempfile.TemporaryDirectory(prefix="autolog-export-") as scratch:
        for entity in reversed(runs):  # oldest first, as they were logged
            record = _from_autolog(entity, store)
            if progress is not None:
                progress(record)
            if writer.has_run(record.run_id):
                summary.runs_skipped += 1
                continue
            artifacts = None
            if client.list_artifacts(record.run_id):
                artifacts = client.download_artifacts(record.run_id, "", os.path.join(
                    scratch, record.run_id))
                summary.artifact_files += _count(artifacts)
            writer.write_run(ids[entity.info.experiment_id], record, artifacts)
            summary.runs_copied += 1
            summary.metric_values += len(record.metrics)
    return summary


class _ExperimentView:
    """An autolog experiment with MLflow's tag names, for the writer."""

    def __init__(self, exp: Any) -> None:
        self.name, self.lifecycle_stage = exp.name, exp.lifecycle_stage
        self.creation_time, self.last_update_time = exp.creation_time, exp.last_update_time
        self.tags = to_mlflow_tags(dict(exp.tags))


def _from_autolog(entity: Any, store: Any) -> Run:
    info, data = entity.info, entity.data
    run = Run(info.run_id, info.experiment_id, info.run_name, info.status, info.start_time,
              info.end_time, info.lifecycle_stage, info.user_id, info.artifact_uri)
    run.params = dict(data.params)
    run.tags = to_mlflow_tags(dict(data.tags))
    run.tags.setdefault("mlflow.runName", info.run_name or "")
    for key in data.metrics:
        run.metrics.extend((m.key, m.value, m.timestamp, m.step)
                           for m in store.get_metric_history(info.run_id, key))
    run.datasets = [Dataset.from_autolog(d) for d in entity.inputs]
    return run
