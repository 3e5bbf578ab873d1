"""``Client``: the tracking API with explicit ids, as MLflow's ``MlflowClient``."""

from __future__ import annotations

import time
from typing import Any, Mapping, Sequence

from autolog import _tracking
from autolog._validation import metric_step, metric_value, param_value, tag_value, validate_key
from autolog.entities import (
    Experiment,
    FileInfo,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from autolog.store import artifacts as _artifacts
from autolog.store.base import PagedList

__all__ = ["Client"]


class Client:
    """Explicit-id access to one tracking location (default: the current tracking URI).

    Writes are validated at the call and committed in the background; every read first commits
    what this process logged.
    """

    def __init__(self, tracking_uri: str | None = None) -> None:
        if tracking_uri is not None:
            _tracking.resolve(tracking_uri)
        self.tracking_uri = tracking_uri or _tracking.get_tracking_uri()

    @property
    def _store(self) -> Any:
        return _tracking.get_store(self.tracking_uri)

    # -- experiments ----------------------------------------------------------------------------
    def create_experiment(self, name: str, artifact_location: str | None = None,
                          tags: Mapping[str, Any] | None = None) -> str:
        """Raises: InvalidInputError: the name is empty or taken."""
        return self._store.create_experiment(  # type: ignore[no-any-return]
            name, artifact_location, {k: str(v) for k, v in (tags or {}).items()})

    def get_experiment(self, experiment_id: str) -> Experiment:
        """Raises: NotFoundError: no experiment has that id."""
        return self._store.get_experiment(str(experiment_id))  # type: ignore[no-any-return]

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self._store.get_experiment_by_name(name)  # type: ignore[no-any-return]

    def search_experiments(self, view_type: int = ViewType.ACTIVE_ONLY,
                           max_results: int | None = None, filter_string: str | None = None,
                           order_by: Sequence[str] | None = None) -> list[Experiment]:
        """Raises: FilterSyntaxError: the filter does not parse."""
        return self._store.search_experiments(  # type: ignore[no-any-return]
            view_type, max_results, filter_string, order_by)

    def delete_experiment(self, experiment_id: str) -> None:
        """Raises: NotFoundError: no experiment has that id."""
        self._store.set_experiment_lifecycle(str(experiment_id), LifecycleStage.DELETED)

    def restore_experiment(self, experiment_id: str) -> None:
        """Raises: NotFoundError: no experiment has that id."""
        self._store.set_experiment_lifecycle(str(experiment_id), LifecycleStage.ACTIVE)

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        self._store.set_experiment_tag(str(experiment_id), validate_key(key, "tag"),
                                       tag_value(key, value))

    # -- runs -----------------------------------------------------------------------------------
    def create_run(self, experiment_id: str, start_time: int | None = None,
                   tags: Mapping[str, Any] | None = None, run_name: str | None = None) -> Run:
        """Create a RUNNING run (not made active; end it with set_terminated).

        Raises:
            NotFoundError: the experiment does not exist.
        """
        from autolog import _context, _names

        all_tags = dict(_context.system_tags())
        all_tags.update({validate_key(k, "tag"): tag_value(k, v) for k, v in (tags or {}).items()})
        name = run_name or all_tags.get("mlflow.runName") or _names.generate_run_name()
        all_tags["mlflow.runName"] = name
        parent = all_tags.get("autolog.parentRunId") or all_tags.get("mlflow.parentRunId")
        return self._store.create_run(  # type: ignore[no-any-return]
            str(experiment_id), name, start_time or int(time.time() * 1000),
            [RunTag(k, v) for k, v in all_tags.items()], all_tags.get("autolog.user", ""), parent)

    def get_run(self, run_id: str) -> Run:
        """Raises: NotFoundError: no run has that id."""
        return self._store.get_run(run_id)  # type: ignore[no-any-return]

    def get_parent_run(self, run_id: str) -> Run | None:
        parent = self.get_run(run_id).data.tags.get("autolog.parentRunId")
        return self.get_run(parent) if parent else None

    def update_run(self, run_id: str, status: str | None = None, name: str | None = None) -> RunInfo:
        return self._store.update_run_info(run_id, status=status, run_name=name)  # type: ignore[no-any-return]

    def set_terminated(self, run_id: str, status: str | None = None, end_time: int | None = None) -> None:
        """End a run (FINISHED by default), committing what was logged to it first.

        Raises:
            NotFoundError: no run has that id.
            StorageError: a background write failed.
        """
        self._store.flush()
        self._store.update_run_info(run_id, status=status or RunStatus.FINISHED,
                                    end_time=end_time or int(time.time() * 1000))

    def delete_run(self, run_id: str) -> None:
        self._store.set_run_lifecycle(run_id, LifecycleStage.DELETED)

    def restore_run(self, run_id: str) -> None:
        self._store.set_run_lifecycle(run_id, LifecycleStage.ACTIVE)

    def log_param(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> Any:
        """Raises: InvalidInputError, ParamConflictError."""
        self.log_batch(run_id, params=[Param(key, value)], synchronous=synchronous)
        return value

    def log_metric(self, run_id: str, key: str, value: Any, timestamp: int | None = None,
                   step: int | None = None, synchronous: bool | None = None) -> None:
        """Raises: InvalidInputError: a bad key or a non-numeric value."""
        self._store.log_metric_fast(
            run_id, validate_key(key, "metric"), metric_value(key, value),
            int(time.time() * 1000) if timestamp is None else int(timestamp), metric_step(step))
        if synchronous:
            self._store.flush()

    def log_batch(self, run_id: str, metrics: Sequence[Metric] = (), params: Sequence[Param] = (),
                  tags: Sequence[RunTag] = (), synchronous: bool | None = None) -> None:
        """Log metrics, params and tags together; all are validated before any is queued.

        Raises:
            InvalidInputError: a bad key or value.
            ParamConflictError: a param exists with another value.
        """
        checked_metrics = [
            Metric(validate_key(m.key, "metric"), metric_value(m.key, m.value),
                   int(m.timestamp) if m.timestamp is not None else int(time.time() * 1000),
                   metric_step(m.step))
            for m in metrics
        ]
        checked_params = [Param(validate_key(p.key, "param"), param_value(p.key, p.value))
                          for p in params]
        checked_tags = [RunTag(validate_key(t.key, "tag"), tag_value(t.key, t.value)) for t in tags]
        self._store.log_batch(run_id, checked_metrics, checked_params, checked_tags)
        if synchronous:
            self._store.flush()

    def set_tag(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> None:
        self.log_batch(run_id, tags=[RunTag(key, value)], synchronous=synchronous)

    def delete_tag(self, run_id: str, key: str) -> None:
        """Raises: NotFoundError: the run or the tag does not exist."""
        self._store.delete_tag(run_id, key)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Raises: NotFoundError: no run has that id."""
        return self._store.get_metric_history(run_id, key)  # type: ignore[no-any-return]

    def search_runs(self, experiment_ids: Sequence[str], filter_string: str = "",
                    run_view_type: int = ViewType.ACTIVE_ONLY, max_results: int = 1000,
                    order_by: Sequence[str] | None = None,
                    page_token: str | None = None) -> PagedList:
        """One page of runs (MLflow's ``PagedList``: a list whose ``token`` fetches the next page
        when passed back as ``page_token``; None on the last page).

        Raises:
            FilterSyntaxError: the filter or an order_by clause does not parse.
            InvalidInputError: ``page_token`` is not a token from a previous page.
        """
        if isinstance(experiment_ids, (str, int)):
            experiment_ids = [str(experiment_ids)]
        return self._store.search_runs(  # type: ignore[no-any-return]
            [str(e) for e in experiment_ids], filter_string, run_view_type, max_results, order_by,
            page_token)

    # -- artifacts ------------------------------------------------------------------------------
    def _repo(self, run_id: str) -> _artifacts.ArtifactRepository:
        return _artifacts.repository(self.get_run(run_id).info.artifact_uri)

    def log_artifact(self, run_id: str, local_path: str, artifact_path: str | None = None) -> None:
        self._repo(run_id).log_file(local_path, artifact_path)

    def log_artifacts(self, run_id: str, local_dir: str, artifact_path: str | None = None) -> None:
        self._repo(run_id).log_dir(local_dir, artifact_path)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """Files and folders directly under ``path`` in the run's artifacts."""
        return self._repo(run_id).list(path)

    def download_artifacts(self, run_id: str, path: str, dst_path: str | None = None) -> str:
        """Copy an artifact to ``dst_path`` (a temp folder by default) and return its local path.

        Raises:
            NotFoundError: the artifact does not exist.
        """
        return self._repo(run_id).download(path, dst_path)


