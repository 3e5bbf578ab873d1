"""The store contract every backend keeps.

Guarantees of every implementation:

* Thread-safe: any method may be called from any thread at the same time.
* Ids are unique: run ids are 32-hex uuids; experiment ids are decimal strings, ``"0"`` is the
  ``Default`` experiment.
* Returned entities are immutable snapshots (:mod:`autolog.entities`).
* Writes are atomic per call: a ``log_batch`` is stored whole or not at all.
* Errors: :class:`~autolog.errors.NotFoundError` for a missing experiment or run,
  :class:`~autolog.errors.ParamConflictError` for a param logged again with another value,
  :class:`~autolog.errors.InvalidInputError` for bad arguments (a duplicate experiment name, a bad
  filter), :class:`~autolog.errors.StorageError` for the backend failing; nothing else escapes.
"""

from __future__ import annotations

import abc
from typing import Any, Callable, Sequence

from autolog.entities import (
    Dataset,
    Experiment,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from autolog.errors import InvalidInputError

DEFAULT_EXPERIMENT_ID = "0"


def run_artifact_uri(experiment: Experiment, run_id: str) -> str:
    """Where a run's artifacts live: ``<experiment artifact location>/<run id>/artifacts``."""
    import os

    return os.path.join(experiment.artifact_location, run_id, "artifacts")


def new_run(experiment: Experiment, run_id: str, run_name: str, start_time: int,
            tags: Sequence[RunTag], user_id: str) -> Run:
    """The entity of a run just created: RUNNING, with its tags and nothing logged yet (built
    rather than read back, so that creating a run costs no read)."""
    info = RunInfo(run_id=run_id, run_name=run_name, experiment_id=experiment.experiment_id,
                   status=RunStatus.RUNNING, start_time=start_time, end_time=None,
                   artifact_uri=run_artifact_uri(experiment, run_id),
                   lifecycle_stage=LifecycleStage.ACTIVE, user_id=user_id)
    return Run(info, RunData(tags={t.key: t.value for t in tags}))


DEFAULT_EXPERIMENT_NAME = "Default"


class PagedList(list):  # type: ignore[type-arg]
    """One page of results (a plain list) with ``token``: the opaque ``page_token`` that fetches
    the next page, or None on the last one (MLflow's ``PagedList``)."""

    def __init__(self, items: Sequence[Any] = (), token: str | None = None) -> None:
        super().__init__(items)
        self.token = token


def encode_page_token(offset: int) -> str:
    """An opaque page token for the rows after the first ``offset``."""
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_page_token(token: str | None) -> int:
    """The offset a page token stands for (0 for none).

    Raises:
        InvalidInputError: the token was not made by :func:`encode_page_token`.
    """
    if not token:
        return 0
    import base64
    import binascii
    import json

    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError):
        offset = None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InvalidInputError(f"Invalid page_token {token[:100]!r}: pass the token of a previous page.")
    return offset


class AbstractStore(abc.ABC):
    """Experiments, runs and their params, metrics, tags and inputs."""

    # -- experiments --------------------------------------------------------------------------
    @abc.abstractmethod
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, str] | None = None
    ) -> str:
        """Create an experiment and return its id.

        Raises:
            InvalidInputError: an experiment with that name exists (deleted ones included).
        """

    @abc.abstractmethod
    def get_experiment(self, experiment_id: str) -> Experiment:
        """Raises: NotFoundError: no experiment has that id."""

    @abc.abstractmethod
    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """Return the experiment of that name (deleted ones included), or None."""

    @abc.abstractmethod
    def search_experiments(
        self,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int | None = None,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
    ) -> list[Experiment]:
        """Experiments matching ``filter_string`` (``name``, ``tags.<k>`` and ``creation_time``).

        Raises:
            FilterSyntaxError: the filter does not parse.
        """

    @abc.abstractmethod
    def set_experiment_lifecycle(self, experiment_id: str, stage: str) -> None:
        """Delete (``"deleted"``) or restore (``"active"``) an experiment.

        Raises:
            NotFoundError: no experiment has that id.
        """

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Give an experiment a new name.

        Raises:
            NotFoundError: no experiment has that id.
            InvalidInputError: the name is empty or taken, or the backend cannot rename.
        """
        raise InvalidInputError(f"{type(self).__name__} cannot rename experiments.")

    @abc.abstractmethod
    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        """Raises: NotFoundError: no experiment has that id."""

    # -- runs ---------------------------------------------------------------------------------
    @abc.abstractmethod
    def create_run(
        self,
        experiment_id: str,
        run_name: str,
        start_time: int,
        tags: Sequence[RunTag] = (),
        user_id: str = "",
        parent_run_id: str | None = None,
        owner: str | None = None,
        run_id: str | None = None,
    ) -> Run:
        """Create a RUNNING run; ``run_id`` (32 hex) may be chosen by the caller.

        ``owner`` ("host:pid") lets :meth:`mark_stale_runs` recognise a run whose process died.

        Raises:
            NotFoundError: the experiment does not exist.
            RunStateError: the experiment is deleted.
        """

    @abc.abstractmethod
    def get_run(self, run_id: str) -> Run:
        """Raises: NotFoundError: no run has that id."""

    @abc.abstractmethod
    def update_run_info(
        self,
        run_id: str,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        """Change a run's status, end time or name; ``None`` leaves a field as it is.

        Raises:
            NotFoundError: no run has that id.
        """

    @abc.abstractmethod
    def set_run_lifecycle(self, run_id: str, stage: str) -> None:
        """Delete (``"deleted"``) or restore (``"active"``) a run.

        Raises:
            NotFoundError: no run has that id.
        """

    @abc.abstractmethod
    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """Store metrics (full history), params (write once) and tags (last write wins) atomically.

        A param logged again with the same value is a no-op.

        Raises:
            NotFoundError: no run has that id.
            ParamConflictError: a param exists with another value; nothing of the batch is stored.
        """

    def log_many(self, batches: Sequence[tuple[str, list[Metric], list[Param], list[RunTag]]],
                 request_ids: Sequence[str | None] | None = None) -> None:
        """Store several runs' batches; a backend may do it in one transaction.

        ``request_ids``: one per batch (or None): a backend that records applied ids skips a
        batch whose id it applied before (a remote client repeating a request whose answer it
        lost), so that a retried batch is stored once.
        """
        for run_id, metrics, params, tags in batches:
            self.log_batch(run_id, metrics, params, tags)

    #: True when :meth:`write_group` stores all or nothing (one transaction).
    atomic_groups = False

    def write_group(self, creates: Sequence[dict[str, Any]],
                    batches: Sequence[tuple[str, list[Metric], list[Param], list[RunTag]]],
                    inputs: Sequence[tuple[str, Sequence[Dataset]]],
                    ends: Sequence[tuple[str, str, int]]) -> None:
        """Create runs (``creates``: :meth:`create_run` keyword arguments, ``run_id`` given),
        then store batches, inputs and run ends (``(run_id, status, end_time)``), in this order.

        A backend that sets :attr:`atomic_groups` does it in one transaction: all or nothing.

        Raises:
            NotFoundError: a run or experiment does not exist.
            RunStateError: an experiment is deleted.
            ParamConflictError: a param conflicts with a stored one.
        """
        for create in creates:
            self.create_run(**create)
        if batches:
            self.log_many(batches)
        for run_id, datasets in inputs:
            self.log_inputs(run_id, datasets)
        for run_id, status, end_time in ends:
            self.update_run_info(run_id, status=status, end_time=end_time)

    @abc.abstractmethod
    def delete_tag(self, run_id: str, key: str) -> None:
        """Raises: NotFoundError: the run or the tag does not exist."""

    @abc.abstractmethod
    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every logged value of a metric, ordered by step then timestamp.

        Raises:
            NotFoundError: no run has that id.
        """

    @abc.abstractmethod
    def log_inputs(self, run_id: str, datasets: Sequence[Dataset]) -> None:
        """Record dataset fingerprints; the same (digest, context) twice is stored once.

        Raises:
            NotFoundError: no run has that id.
        """

    @abc.abstractmethod
    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        run_view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """Runs of the given experiments matching the filter, newest first unless ordered.

        At most ``max_results`` runs; the result's ``token`` fetches the next page when passed
        as ``page_token`` with the same other arguments (None on the last page). Paging is done
        by the backend, never by loading every run.

        Raises:
            FilterSyntaxError: the filter or an order-by clause does not parse.
            InvalidInputError: ``page_token`` is not one this store returned.
        """

    @abc.abstractmethod
    def mark_stale_runs(self, alive: Callable[[str], bool]) -> int:
        """End as KILLED every RUNNING run whose owner ``alive(owner)`` says is dead; return count."""

    def close(self) -> None:
        """Release connections; the store must not be used afterwards."""
