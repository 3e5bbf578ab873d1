"""The batching writer: log calls enqueue and return; one background thread writes.

Why a wrapper with the store's own interface: every reader and writer keeps talking to "a
store", and batching stays one cross-cutting concern instead of a branch in each caller.

* ``log_metric_fast``/``log_batch``/``log_inputs`` append to thread-safe deques (``append`` and
  ``popleft`` on a deque are atomic under the GIL, so the training thread never takes a lock
  for a metric) and return without I/O.
* The writer thread drains at least every ``interval`` seconds (0.5 s: data is committed less
  than a second after it was logged) and whenever :meth:`flush` asks, one transaction per drain
  (run creations, params, tags, metrics, inputs and run ends together) where the store can.
* :meth:`flush` is a barrier: everything enqueued before it is committed when it returns (or
  kept for retrying, see below), and a storage failure of a user's run since the last flush is
  raised there, once.
* When the store fails, nothing is thrown away at once: writes wait in order in a bounded
  backlog and are retried with back-off for a minute; what is given up is always reported with
  its count, to the user's flush for the user's runs, as one warning at the next autologged
  call or at exit for autologging's own runs (:mod:`._backlog`).
* Reads flush first, so a process always reads what it logged.
* Runs that autologging starts and ends are created and ended through the queue too
  (:meth:`start_run_async`, :meth:`end_run_async`): the run id is chosen here, so a fit pays
  for no database round trip at all.
* After ``fork`` the child starts with empty queues and its own thread (the parent's queued
  records belong to the parent).
"""

from __future__ import annotations

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
from autolog.store import _backlog
from autolog.store._backlog import Op
from autolog.store.base import AbstractStore, PagedList, new_run

# Metrics held while the backend (a tracking server) is unreachable; past this, the oldest are
# dropped and counted, so that a long outage cannot exhaust the training process's memory.
MAX_BUFFERED_METRICS = int(os.environ.get("AUTOLOG_MAX_BUFFERED_METRICS", "2000000"))
_MAX_QUEUED_OTHER = 256
_MAX_GROUP_METRICS = 200_000
_live_writers: "weakref.WeakSet[BatchingStore]" = weakref.WeakSet()


class _Group:
    """What one drain writes to the database: run creations, batches and inputs."""

    def __init__(self) -> None:
        self.creates: list[dict[str, Any]] = []
        self.metrics: dict[str, list[Metric]] = collections.defaultdict(list)
        self.params: dict[str, list[Param]] = collections.defaultdict(list)
        self.tags: dict[str, list[RunTag]] = collections.defaultdict(list)
        self.inputs: list[tuple[str, list[Dataset]]] = []
        self.size = 0  # metrics gathered


class BatchingStore(AbstractStore):
    """Wraps a store; writes go through a background thread, reads flush first."""

    def __init__(self, inner: AbstractStore, interval: float = 0.5,
                 retry_window: float | None = None) -> None:
        self.inner = inner
        self.interval = interval
        # How long a failing write is retried before it is given up (AUTOLOG_WRITE_RETRY_S).
        self.retry_window = _backlog.default_retry_window() if retry_window is None else retry_window
        self._reset()
        if hasattr(inner, "set_waiting_hook"):
            inner.set_waiting_hook(self._shed)
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
        self._errors: list[tuple[str | None, BaseException]] = []  # (run id, error)
        self._dropped = 0
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._experiments: dict[str, Experiment] = {}
        # Runs autologging started itself (run id -> integration): their losses are warned of,
        # never raised at the user's flush.
        self._managed: dict[str, str] = {}
        self._lost: dict[str | None, tuple[dict[str, int], BaseException]] = {}
        self._backlog = _backlog.Backlog(self.retry_window, self._on_failure)
        self._group = _Group()
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
        integration = next((t.value for t in tags if t.key == "autolog.integration"), None)
        if integration is not None:
            self._managed[run_id] = integration
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
                # A flush waiting on us retries a failing store at once; a timed drain waits
                # for the back-off.
                self._drain(force=requested > self._done)
            except BaseException as exc:  # noqa: BLE001 - the thread must survive anything
                self._errors.append((None, exc))
            with self._cond:
                self._done = max(self._done, requested)
                self._cond.notify_all()
            if self._stopping:
                return

    def _drain(self, force: bool = False) -> None:
        # One drain at a time: the writer thread, or a flush() that found no live writer.
        with self._drain_lock:
            try:
                self._drain_locked(force)
            finally:
                self._publish_losses()

    def _drain_locked(self, force: bool) -> None:
        # What the database gets (run creations, batches, inputs) is gathered in self._group and
        # written at the end of the drain together with the run ends: one transaction per
        # autologged run in the common case (everything a fit queued before the writer woke),
        # where the store can. Tasks (files, plot specs, models) go first, in queue order. Run
        # ends wait until the queues are empty, so that what a writer task queues in turn (a
        # dataset fingerprint, a file) is stored before its run shows as ended. A task that reads
        # the store flushes, which drains recursively and writes the group gathered so far.
        # Every write goes through the backlog, which keeps and retries it while the store fails.
        ends: list[tuple[str, str, int]] = []
        drain_start = time.perf_counter_ns()
        weights: collections.Counter[str] = collections.Counter()
        rounds = 0
        while (self._metrics or self._other) and rounds < 100:
            rounds += 1
            group = self._group  # re-read: a recursive drain may have written and replaced it
            if group.size >= _MAX_GROUP_METRICS:
                self._group = _Group()
                self._backlog.add(self._group_ops(group, []))  # bounded memory when metrics pour in
                group = self._group
            group.size += min(len(self._metrics), 200_000)
            for _ in range(min(len(self._metrics), 200_000)):
                run_id, key, value, ts, step = self._metrics.popleft()
                group.metrics[run_id].append(Metric(key, value, ts, step))
                weights[run_id] += 1
            tasks: list[Op] = []
            for _ in range(len(self._other)):
                kind, run_id, payload = self._other.popleft()
                weights[run_id] += len(payload[0]) + len(payload[1]) if kind == "batch" else 1
                if kind == "batch":
                    group.params[run_id].extend(payload[0])
                    group.tags[run_id].extend(payload[1])
                elif kind == "create":
                    group.creates.append(dict(payload, run_id=run_id))
                elif kind == "inputs":
                    group.inputs.append((run_id, payload))
                elif kind == "end":
                    ends.append((run_id, *payload))
                else:
                    tasks.append(Op("a file", payload, {None: 0}))
            self._backlog.add(tasks)
            self._backlog.run(force)
        group, self._group = self._group, _Group()
        # autolog.writer_ms: this drain's time so far shared among its runs by records; a run
        # that ends here gets its tag in the same write as its end (the tag cannot count that
        # last transaction, which it is part of).
        _overhead.writer_round(self._writer_ns, time.perf_counter_ns() - drain_start, weights)
        for run_id, _status, _end_time in ends:
            writer_ns = self._writer_ns.pop(run_id, 0)
            if run_id in self._report_writer:
                self._report_writer.discard(run_id)
                group.tags[run_id].append(_overhead.writer_tag(writer_ns))
        self._backlog.add(self._group_ops(group, ends))
        self._backlog.run(force)

    def _group_ops(self, group: "_Group", ends: list[tuple[str, str, int]]) -> list[Op]:
        """The backlog ops that write a group: the writes one by one (a run is created before
        anything is logged to it; inputs, then ends, after the batches), or, where the store
        writes a group all or nothing, one op for all of them that falls back to the writes one
        by one when it fails (they retry a busy store and keep one bad run from losing the
        others, each reported for its own run)."""
        run_ids = list(dict.fromkeys([*group.params, *group.tags, *group.metrics]))
        batches = [(r, group.metrics.get(r, []), group.params.get(r, []), group.tags.get(r, []))
                   for r in run_ids]
        ops = [Op("its creation", functools.partial(self.inner.create_run, **create),
                  {create["run_id"]: 0}) for create in group.creates]
        if batches:
            ops.append(Op("params, metrics and tags", functools.partial(self._write, batches),
                          {b[0]: len(b[1]) + len(b[2]) + len(b[3]) for b in batches}))
        ops += [Op("dataset inputs", functools.partial(self.inner.log_inputs, run_id, datasets),
                   {run_id: len(datasets)}) for run_id, datasets in group.inputs]
        ops += [Op("its end", functools.partial(self.inner.update_run_info, run_id, status=status,
                                                end_time=end_time), {run_id: 0})
                for run_id, status, end_time in ends]
        if len(ops) < 2 or not self.inner.atomic_groups:
            return ops
        values: dict[str | None, int] = collections.Counter()
        for op in ops:
            values.update(op.values)

        def write_all() -> None:
            try:
                self.inner.write_group(group.creates, batches, group.inputs, ends)
            except Exception:  # noqa: BLE001 - nothing was stored: the writes one by one next
                self._backlog.push_front(ops)

        return [Op("params, metrics and tags", write_all, dict(values))]

    def _write(self, batches: list[tuple[str, list[Metric], list[Param], list[RunTag]]]) -> None:
        try:
            self.inner.log_many(batches)
        except StorageError:
            raise  # the store failed: the backlog keeps the batches and retries
        except AutologError:
            # One run's batch is bad (deleted run, a conflict from another process): write
            # the others one by one so that a single bad batch loses nothing else.
            for run_id, metrics, params, tags in batches:
                try:
                    self.inner.log_batch(run_id, metrics, params, tags)
                except Exception as exc:  # noqa: BLE001 - lost, reported for its run
                    self._on_failure(Op("params, metrics and tags", lambda: None, {
                        run_id: len(metrics) + len(params) + len(tags)}), exc, True)

    def _on_failure(self, op: Op, exc: BaseException, lost: bool) -> None:
        """One op failed: remember what was lost per run; a user's run hears of a failure
        at its next flush even while it is still being retried."""
        for run_id, count in op.values.items():
            if lost:
                # The first error is the cause (a deleted experiment); what follows it for the
                # same run is its consequence ("no run with id").
                what, first = self._lost.get(run_id, ({}, exc))
                what[op.what] = what.get(op.what, 0) + count
                self._lost[run_id] = (what, first)
            elif run_id is not None and run_id not in self._managed:
                self._errors.append((run_id, exc))

    def _publish_losses(self) -> None:
        lost, self._lost = self._lost, {}
        for run_id, (what, exc) in lost.items():
            message = _backlog.lost_message(run_id, what, exc)
            if run_id is None or run_id in self._managed:
                _backlog.push_undelivered(self._managed.get(run_id or ""), message)
            else:
                error = StorageError(message[0].upper() + message[1:] + ".")
                error.__cause__ = exc
                # The loss says more than the failure reported while it was being retried.
                self._errors = [e for e in self._errors if e[0] != run_id] + [(run_id, error)]

    def backlog(self) -> int:
        """How many writes wait for a failing store to accept them (0: everything is written)."""
        return len(self._backlog.ops)

    def _shed(self) -> None:
        """Keep the metric queue bounded while the backend is away: drop the oldest past
        :data:`MAX_BUFFERED_METRICS` (``popleft`` is atomic; producers keep appending)."""
        extra = len(self._metrics) - MAX_BUFFERED_METRICS
        for _ in range(max(extra, 0)):
            self._metrics.popleft()
        self._dropped += max(extra, 0)

    # -- barriers -------------------------------------------------------------------------------
    def flush(self, raise_errors: bool = True) -> None:
        """Commit everything enqueued so far (a failing store is retried once more now; what it
        still refuses stays queued for retrying); raise the first failure of a user's run since
        last time. Failures of runs autologging started are never raised here: they are
        reported as a warning at the next autologged call or at exit.

        Raises:
            StorageError: (or another AutologError) a background write failed.
        """
        if self._thread is not None and self._thread.is_alive():
            if threading.current_thread() is self._thread:
                self._drain(force=True)
            else:
                with self._cond:
                    self._requested += 1
                    target = self._requested
                    self._wake.set()
                    while self._done < target and self._thread.is_alive():
                        self._cond.wait(1.0)
        elif self._metrics or self._other or self._backlog.ops:
            self._drain(force=True)
        if self._dropped:
            self._errors.insert(0, (None, StorageError(
                f"{self._dropped} metrics were dropped while the tracking store was unreachable "
                f"(at most {MAX_BUFFERED_METRICS} are held; AUTOLOG_MAX_BUFFERED_METRICS).")))
            self._dropped = 0
        if self._errors and raise_errors:
            errors, self._errors = self._errors, []
            raise errors[0][1]

    def finish(self) -> None:
        """At exit: write what can be written, retry a failing store for what is left of the
        retry window (bounded), give up the rest, and report every failure not reported yet
        (the user's too: there is no later flush to raise them at). Never raises."""
        try:
            self.flush(raise_errors=False)
            with self._drain_lock:
                self._backlog.wait_out(_backlog.EXIT_WAIT_S)
                self._publish_losses()
            errors, self._errors = self._errors, []
            for run_id, exc in errors:
                _backlog.push_undelivered(None, f"run {run_id}: {exc}" if run_id else str(exc))
        except Exception:  # noqa: BLE001 - nothing may fail the interpreter's exit
            pass

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

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self.inner.rename_experiment(experiment_id, new_name)

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
                    order_by: Sequence[str] | None = None,
                    page_token: str | None = None) -> PagedList:
        self._read()
        return self.inner.search_runs(experiment_ids, filter_string, run_view_type, max_results,
                                      order_by, page_token)

    def mark_stale_runs(self, alive: Any) -> int:
        return self.inner.mark_stale_runs(alive)


def flush_all_at_exit() -> None:
    """Called by the run context at exit, after it ended the runs still active."""
    for writer in list(_live_writers):
        writer.finish()
    _backlog.deliver()
