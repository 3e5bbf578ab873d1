"""The batching writer: log calls enqueue and return; one background thread writes.

Why a wrapper with the store's own interface: every reader and writer keeps talking to "a
store", and batching stays one cross-cutting concern instead of a branch in each caller.

* ``log_metric_fast``/``log_batch``/``log_inputs`` append to thread-safe deques (``append`` and
  ``popleft`` on a deque are atomic under the GIL, so the training thread never takes a lock
  for a metric) and return without I/O.
* The writer thread drains at least every ``interval`` seconds (0.5 s: data is committed less
  than a second after it was logged) and whenever :meth:`flush` asks, one transaction per drain.
* :meth:`flush` is a barrier: everything enqueued before it is committed when it returns, and a
  storage failure since the last flush is raised there, once.
* Reads flush first, so a process always reads what it logged.
* Runs that autologging starts and ends are created and ended through the queue too
  (:meth:`start_run_async`, :meth:`end_run_async`): the run id is chosen here, so a fit pays
  for no database round trip at all.
* After ``fork`` the child starts with empty queues and its own thread (the parent's queued
  records belong to the parent).
"""

from __future__ import annotations

import atexit
import collections
import functools
import os
import threading
import time
import weakref
from typing import Any, Callable, Sequence

from autolog import _overhead
from autolog.entities import (
    Dataset,
    Experiment,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunInfo,
    RunTag,
    ViewType,
)
from autolog.errors import AutologError, ParamConflictError, RunStateError, StorageError
from autolog.store.base import AbstractStore, new_run

_WRITE_RETRIES = 3
_MAX_QUEUED_OTHER = 256
_live_writers: "weakref.WeakSet[BatchingStore]" = weakref.WeakSet()


class BatchingStore(AbstractStore):
    """Wraps a store; writes go through a background thread, reads flush first."""

    def __init__(self, inner: AbstractStore, interval: float = 0.5) -> None:
        self.inner = inner
        self.interval = interval
        self._reset()
        _live_writers.add(self)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._metrics: collections.deque[tuple[str, str, float, int, int]] = collections.deque()
        self._other: collections.deque[tuple[str, Any, Any]] = collections.deque()
        self._params: dict[str, dict[str, str]] = {}
        self._params_lock = threading.Lock()
        self._cond = threading.Condition()
        self._drain_lock = threading.RLock()
        self._wake = threading.Event()
        self._requested = 0
        self._done = 0
        self._errors: list[BaseException] = []
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._experiments: dict[str, Experiment] = {}
        # Writer-thread time per run, and the runs whose end writes it (autolog.writer_ms).
        self._writer_ns: dict[str, int] = {}
        self._report_writer: set[str] = set()

    # -- enqueueing -----------------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is None:
            with self._cond:
                if self._thread is None:
                    thread = threading.Thread(target=self._loop, name="autolog-writer", daemon=True)
                    thread.start()
                    # Published only once running: flush() treats "set but not alive" as a
                    # dead writer and drains itself.
                    self._thread = thread

    def log_metric_fast(self, run_id: str, key: str, value: float, timestamp: int, step: int) -> None:
        """Enqueue one validated metric; the training-path call, kept to a deque append."""
        self._metrics.append((run_id, key, value, timestamp, step))
        if self._thread is None:
            self._ensure_thread()

    def check_params(self, run_id: str, params: Sequence[Param]) -> list[Param]:
        """Raise now if a param conflicts with one this run already has; return the new ones.

        Raises:
            ParamConflictError: a key is already logged in this run with another value.
        """
        with self._params_lock:
            known = self._params.get(run_id)
            if known is None:
                known = dict(self.get_run(run_id).data.params)  # flushes first
                self._params[run_id] = known
            new: list[Param] = []
            staged: dict[str, str] = {}
            for p in params:
                old = known.get(p.key, staged.get(p.key))
                if old is None:
                    staged[p.key] = p.value
                    new.append(p)
                elif old != p.value:
                    raise ParamConflictError(
                        f"Param {p.key!r} of run {run_id} is already {old!r}; it cannot be changed "
                        f"to {p.value!r}. Log the new value under another key, or start a new run."
                    )
            known.update(staged)
            return new

    def _experiment(self, experiment_id: str) -> Experiment:
        experiment = self._experiments.get(experiment_id)
        if experiment is None:
            experiment = self.inner.get_experiment(experiment_id)
            self._experiments[experiment_id] = experiment
        return experiment

    def start_run_async(self, experiment_id: str, run_name: str, start_time: int,
                        tags: Sequence[RunTag] = (), user_id: str = "",
                        parent_run_id: str | None = None, owner: str | None = None) -> Run:
        """Create a RUNNING run through the queue and return it at once.

        Raises:
            NotFoundError: the experiment does not exist.
            RunStateError: the experiment is deleted.
        """
        import uuid

        experiment = self._experiment(experiment_id)
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
            raise RunStateError(
                f"Experiment {experiment.name!r} is deleted; restore it before logging runs to it.")
        run_id = uuid.uuid4().hex
        with self._params_lock:
            self._params[run_id] = {}
        self._other.append(("create", run_id, dict(
            experiment_id=experiment_id, run_name=run_name, start_time=start_time,
            tags=list(tags), user_id=user_id, parent_run_id=parent_run_id, owner=owner)))
        self._ensure_thread()
        return new_run(experiment, run_id, run_name, start_time, tags, user_id)

    def end_run_async(self, run_id: str, status: str, end_time: int) -> None:
        """Queue a run's end; it is written after everything logged to the run before it."""
        self._other.append(("end", run_id, (status, end_time)))
        self._ensure_thread()

    def report_writer_time(self, run_id: str) -> None:
        """Write the run's ``autolog.writer_ms`` tag just before its end is written."""
        self._report_writer.add(run_id)

    def forget_run(self, run_id: str) -> None:
        with self._params_lock:
            self._params.pop(run_id, None)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        new_params = self.check_params(run_id, params) if params else []
        for m in metrics:
            self._metrics.append((run_id, m.key, m.value, m.timestamp, m.step))
        if new_params or tags:
            self._other.append(("batch", run_id, (list(new_params), list(tags))))
        self._ensure_thread()

    def log_inputs(self, run_id: str, datasets: Sequence[Dataset]) -> None:
        self._other.append(("inputs", run_id, list(datasets)))
        self._ensure_thread()

    def submit(self, task: Callable[[], None]) -> None:
        """Run ``task`` on the writer thread, after what was enqueued before it (plots, files)."""
        self._other.append(("task", None, task))
        self._ensure_thread()
        if len(self._other) > _MAX_QUEUED_OTHER and threading.current_thread() is not self._thread:
            # Back-pressure: tasks (model snapshots, plot data) can be big. Past this many
            # waiting, the producer waits until the writer has taken them in hand (not until
            # they are all done), so at most about twice this many are held in memory.
            self._wake.set()
            thread = self._thread
            while len(self._other) > _MAX_QUEUED_OTHER // 2 and thread is not None and thread.is_alive():
                time.sleep(0.005)

    # -- the writer thread ----------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            requested = self._requested
            try:
                self._drain()
            except BaseException as exc:  # noqa: BLE001 - the thread must survive anything
                self._errors.append(exc)
            with self._cond:
                self._done = max(self._done, requested)
                self._cond.notify_all()
            if self._stopping:
                return

    def _drain(self) -> None:
        # One drain at a time: the writer thread, or a flush() that found no live writer.
        with self._drain_lock:
            self._drain_locked()

    def _drain_locked(self) -> None:
        # Run ends wait until the queues are empty, so that what a writer task queues in turn
        # (a dataset fingerprint, a file) is stored before its run shows as ended.
        ends: list[tuple[str, Any]] = []
        rounds = 0
        while (self._metrics or self._other) and rounds < 100:
            rounds += 1
            round_start = time.perf_counter_ns()
            metrics: dict[str, list[Metric]] = collections.defaultdict(list)
            for _ in range(min(len(self._metrics), 200_000)):
                run_id, key, value, ts, step = self._metrics.popleft()
                metrics[run_id].append(Metric(key, value, ts, step))
            params: dict[str, list[Param]] = collections.defaultdict(list)
            tags: dict[str, list[RunTag]] = collections.defaultdict(list)
            before: list[tuple[str, Any, Any]] = []
            after: list[tuple[str, Any, Any]] = []
            for _ in range(len(self._other)):
                kind, run_id, payload = self._other.popleft()
                if kind == "batch":
                    params[run_id].extend(payload[0])
                    tags[run_id].extend(payload[1])
                else:
                    # A run is created before anything logged to it; ends, inputs and tasks
                    # (files, plots) come after the batches, in the order they were queued.
                    (before if kind == "create" else after).append((kind, run_id, payload))
            for _kind, run_id, payload in before:
                self._guarded(lambda: self.inner.create_run(run_id=run_id, **payload))
            run_ids = list(dict.fromkeys([*params, *tags, *metrics]))
            batches = [(r, metrics.get(r, []), params.get(r, []), tags.get(r, [])) for r in run_ids]
            if batches:
                self._write(batches)
            for kind, run_id, payload in after:
                if kind == "end":
                    ends.append((run_id, payload))
                else:
                    self._guarded(lambda: self._apply_later(kind, run_id, payload))
            weights = {r: len(metrics.get(r, ())) + len(params.get(r, ())) + len(tags.get(r, ()))
                       for r in run_ids}
            for _kind, run_id, _payload in before + after:
                weights[run_id] = weights.get(run_id, 0) + 1
            _overhead.writer_round(self._writer_ns, time.perf_counter_ns() - round_start, weights)
        for run_id, (status, end_time) in ends:
            writer_ns = self._writer_ns.pop(run_id, 0)
            if run_id in self._report_writer:
                self._report_writer.discard(run_id)
                self._guarded(lambda: self.inner.log_batch(run_id, tags=[_overhead.writer_tag(writer_ns)]))
            self._guarded(lambda: self.inner.update_run_info(run_id, status=status, end_time=end_time))

    def _apply_later(self, kind: str, run_id: str, payload: Any) -> None:
        if kind == "inputs":
            self.inner.log_inputs(run_id, payload)
        else:
            payload()

    def _write(self, batches: list[tuple[str, list[Metric], list[Param], list[RunTag]]]) -> None:
        for attempt in range(_WRITE_RETRIES):
            try:
                self.inner.log_many(batches)
                return
            except StorageError as exc:
                if attempt == _WRITE_RETRIES - 1:
                    self._errors.append(exc)
                    return
                time.sleep(0.2 * (attempt + 1))
            except AutologError:
                # One run's batch is bad (deleted run, a conflict from another process): write
                # the others one by one so that a single bad batch loses nothing else.
                for run_id, metrics, params, tags in batches:
                    self._guarded(functools.partial(self.inner.log_batch, run_id, metrics, params, tags))
                return

    def _guarded(self, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - reported at the next flush
            self._errors.append(exc)

    # -- barriers -------------------------------------------------------------------------------
    def flush(self, raise_errors: bool = True) -> None:
        """Commit everything enqueued so far; raise the first storage failure since last time.

        Raises:
            StorageError: (or another AutologError) a background write failed.
        """
        if self._thread is not None and self._thread.is_alive():
            if threading.current_thread() is self._thread:
                self._drain()
            else:
                with self._cond:
                    self._requested += 1
                    target = self._requested
                    self._wake.set()
                    while self._done < target and self._thread.is_alive():
                        self._cond.wait(1.0)
        elif self._metrics or self._other:
            self._drain()
        if self._errors and raise_errors:
            errors, self._errors = self._errors, []
            raise errors[0]

    def close(self) -> None:
        self.flush(raise_errors=False)

    # -- everything else delegates, reads after a flush -----------------------------------------
    def _read(self) -> None:
        self.flush(raise_errors=False)

    def create_experiment(self, name: str, artifact_location: str | None = None,
                          tags: dict[str, str] | None = None) -> str:
        return self.inner.create_experiment(name, artifact_location, tags)

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self.inner.get_experiment(experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self.inner.get_experiment_by_name(name)

    def search_experiments(self, view_type: int = ViewType.ACTIVE_ONLY, max_results: int | None = None,
                           filter_string: str | None = None,
                           order_by: Sequence[str] | None = None) -> list[Experiment]:
        return self.inner.search_experiments(view_type, max_results, filter_string, order_by)

    def set_experiment_lifecycle(self, experiment_id: str, stage: str) -> None:
        self._experiments.pop(experiment_id, None)
        self.inner.set_experiment_lifecycle(experiment_id, stage)

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        self.inner.set_experiment_tag(experiment_id, key, value)

    def create_run(self, experiment_id: str, run_name: str, start_time: int,
                   tags: Sequence[RunTag] = (), user_id: str = "",
                   parent_run_id: str | None = None, owner: str | None = None,
                   run_id: str | None = None) -> Run:
        run = self.inner.create_run(experiment_id, run_name, start_time, tags, user_id,
                                    parent_run_id, owner, run_id)
        with self._params_lock:
            self._params[run.info.run_id] = {}
        return run

    def get_run(self, run_id: str) -> Run:
        self._read()
        return self.inner.get_run(run_id)

    def update_run_info(self, run_id: str, status: str | None = None, end_time: int | None = None,
                        run_name: str | None = None) -> RunInfo:
        self._read()
        return self.inner.update_run_info(run_id, status, end_time, run_name)

    def set_run_lifecycle(self, run_id: str, stage: str) -> None:
        self._read()
        self.inner.set_run_lifecycle(run_id, stage)

    def delete_tag(self, run_id: str, key: str) -> None:
        self._read()
        self.inner.delete_tag(run_id, key)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        self._read()
        return self.inner.get_metric_history(run_id, key)

    def search_runs(self, experiment_ids: Sequence[str], filter_string: str = "",
                    run_view_type: int = ViewType.ACTIVE_ONLY, max_results: int = 1000,
                    order_by: Sequence[str] | None = None) -> list[Run]:
        self._read()
        return self.inner.search_runs(experiment_ids, filter_string, run_view_type, max_results,
                                      order_by)

    def mark_stale_runs(self, alive: Any) -> int:
        return self.inner.mark_stale_runs(alive)


def flush_all_at_exit() -> None:
    for writer in list(_live_writers):
        try:
            writer.flush(raise_errors=False)
        except Exception:  # noqa: BLE001 - nothing may fail the interpreter's exit
            pass


atexit.register(flush_all_at_exit)
