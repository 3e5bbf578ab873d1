"""The run context: the active experiment, a per-thread stack of active runs, and their ends.

Runs still active when the interpreter exits are ended FINISHED, or FAILED when it exits on an
uncaught exception; a run left RUNNING by a process that was killed outright is marked KILLED
the next time a process opens the store (see ``SqlStore.mark_stale_runs``).
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
from types import TracebackType
from typing import Any, Callable, Mapping

from autolog import _context, _environment, _names, _tracking
from autolog._validation import tag_value, validate_key
from autolog.entities import Run, RunData, RunInfo, RunStatus, RunTag
from autolog.errors import InvalidInputError, RunStateError
from autolog.store.base import DEFAULT_EXPERIMENT_ID

PARENT_TAG = "autolog.parentRunId"
NOTE_TAG = "autolog.note.content"

_local = threading.local()
_active: dict[str, "ActiveRun"] = {}
_active_lock = threading.Lock()
_experiment_id: str | None = None
_last_run_id: str | None = None
_last_uri: str | None = None
_uncaught = False
# Called with a run's id just before the run ends: an integration flushes what it still holds
# for the run (a plain PyTorch loop's last, partial loss window).
_end_hooks: list[Callable[[str], None]] = []


class ActiveRun:
    """A run started in this process; a context manager that ends it.

    ``with start_run():`` ends FINISHED on normal exit, FAILED on an exception and KILLED on
    KeyboardInterrupt; the exception propagates unchanged.
    """

    def __init__(self, run: Run, store_uri: str) -> None:
        self._run = run
        self.store_uri = store_uri
        self.thread_id = threading.get_ident()
        # Opened by autologging on its own and kept open past one call (a plain PyTorch loop's
        # run): it gives way to the user's next start_run() instead of making it fail.
        self.yields = False

    @property
    def info(self) -> RunInfo:
        return self._run.info

    @property
    def data(self) -> RunData:
        return self._run.data

    @property
    def inputs(self) -> Any:
        return self._run.inputs

    @property
    def store(self) -> Any:
        return _tracking.get_store(self.store_uri)

    def __enter__(self) -> "ActiveRun":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            status = RunStatus.FINISHED
        elif issubclass(exc_type, KeyboardInterrupt):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
        if self.info.run_id in _active:
            end_run(status, run_id=self.info.run_id, quiet=exc_type is not None)

    def __repr__(self) -> str:
        return f"<ActiveRun run_id={self.info.run_id} name={self.info.run_name!r}>"


def _stack() -> list[ActiveRun]:
    try:
        return _local.stack  # type: ignore[no-any-return]
    except AttributeError:
        _local.stack = []
        return _local.stack  # type: ignore[no-any-return]


def active_run() -> ActiveRun | None:
    """The innermost active run of the calling thread, or None."""
    stack = _stack()
    return stack[-1] if stack else None


def last_active_run() -> Run | None:
    """The active run, else the last run this process ended (read from the store)."""
    run = active_run()
    if run is not None:
        return _tracking.get_store(run.store_uri).get_run(run.info.run_id)
    if _last_run_id is None:
        return None
    return _tracking.get_store(_last_uri).get_run(_last_run_id)


def set_active_experiment(experiment_id: str | None) -> None:
    global _experiment_id
    _experiment_id = experiment_id


def current_experiment_id() -> str:
    if _experiment_id is not None:
        return _experiment_id
    name = os.environ.get("AUTOLOG_EXPERIMENT_NAME")
    if name:
        from autolog._api import set_experiment

        return set_experiment(name).experiment_id
    return os.environ.get("AUTOLOG_EXPERIMENT_ID") or DEFAULT_EXPERIMENT_ID


def _owner() -> str:
    import socket  # here, not at the top: `import autolog` stays light

    return f"{socket.gethostname()}:{os.getpid()}"


def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
    parent_run_id: str | None = None,
    log_system_metrics: bool | None = None,
) -> ActiveRun:
    """Start a run, or resume ``run_id``, and make it the calling thread's active run.

    ``log_system_metrics`` samples CPU, memory, disk, network and GPUs into ``system/*``
    metrics while the run is active (default: :func:`autolog.enable_system_metrics_logging`,
    else ``AUTOLOG_ENABLE_SYSTEM_METRICS_LOGGING``; see :mod:`autolog._system_metrics`).

    Raises:
        RunStateError: a run is already active and ``nested`` is False, or the run to resume
            is deleted.
        NotFoundError: ``run_id`` or ``experiment_id`` does not exist.
        InvalidInputError: a tag key is invalid.
        ImportError: ``log_system_metrics=True`` without psutil (``autolog[system]``).
    """
    from autolog import _system_metrics

    monitor = _system_metrics.wanted(log_system_metrics, "autolog.integration" in (tags or {}))
    if monitor and log_system_metrics:
        _system_metrics.check_installed()  # before the run exists: a clear error, no half run
    stack = _stack()
    while stack and stack[-1].yields:
        # The user starts a run while one autologging opened by itself is active (a training
        # script builds its model and optimizer, then starts its run): that run is done.
        end_run(RunStatus.FINISHED, run_id=stack[-1].info.run_id, quiet=True, wait=False)
    if stack and not nested:
        raise RunStateError(
            f"Run {stack[-1].info.run_id} is already active. End it with autolog.end_run() first, "
            "or start a nested run with start_run(nested=True).")
    uri = _tracking.get_tracking_uri()
    store = _tracking.get_store(uri)
    _install_excepthook()
    user_tags = {validate_key(k, "tag"): tag_value(k, v) for k, v in (tags or {}).items()}
    if description is not None:
        user_tags[NOTE_TAG] = str(description)
    if run_id is not None:
        existing = store.get_run(run_id)
        if existing.info.lifecycle_stage != "active":
            raise RunStateError(f"Run {run_id} is deleted; restore it before resuming it.")
        store.update_run_info(run_id, status=RunStatus.RUNNING, run_name=run_name)
        if user_tags:
            store.log_batch(run_id, tags=[RunTag(k, v) for k, v in user_tags.items()])
        run = store.get_run(run_id)
    else:
        parent = parent_run_id or (stack[-1].info.run_id if stack else None)
        name = run_name or user_tags.get("mlflow.runName") or _names.generate_run_name()
        all_tags = dict(_context.system_tags())
        all_tags.update(_environment.known_slow_tags())
        if parent:
            all_tags[PARENT_TAG] = parent
            all_tags["mlflow.parentRunId"] = parent
        all_tags.update(user_tags)
        all_tags["mlflow.runName"] = name
        # Created through the writer's queue: no database round trip on the caller's path.
        run = store.start_run_async(
            str(experiment_id) if experiment_id is not None else current_experiment_id(),
            run_name=name, start_time=int(time.time() * 1000),
            tags=[RunTag(k, v) for k, v in all_tags.items()],
            user_id=all_tags.get("autolog.user", ""), parent_run_id=parent, owner=_owner(),
        )
    active = ActiveRun(run, uri)
    stack.append(active)
    with _active_lock:
        _active[run.info.run_id] = active
    if run_id is None:
        _environment.on_new_run(run, store)
    if monitor:
        _start_system_metrics(run.info.run_id, store)
    return active


def start_yielding_run(tags: Mapping[str, Any], run_name: str | None = None) -> ActiveRun:
    """Start a run for autologging that stays active across calls (the integration's own,
    tagged ``autolog.integration``) and ends, FINISHED, when the user starts a run.

    Raises:
        RunStateError: see :func:`start_run`.
    """
    active = start_run(run_name=run_name, tags=tags)
    active.yields = True
    return active


def _start_system_metrics(run_id: str, store: Any) -> None:
    # Asked for by a switch rather than by this call: a missing psutil warns, never fails.
    from autolog import _system_metrics

    try:
        _system_metrics.start(run_id, store)
    except ImportError as exc:
        import warnings

        from autolog.errors import AutologWarning

        warnings.warn(f"autolog: no system metrics for run {run_id}: {exc}", AutologWarning,
                      stacklevel=3)


def end_run(status: str = RunStatus.FINISHED, run_id: str | None = None, quiet: bool = False,
            wait: bool = True) -> None:
    """End the active run (or ``run_id``, an active run of this process) with ``status``.

    Logged data is committed before this returns (unless ``wait`` is False, as autologging
    does for the runs it manages: then the end is queued behind the run's data).

    Raises:
        InvalidInputError: ``status`` is not a run status.
        StorageError: a background write failed since the last flush (unless ``quiet``).
    """
    global _last_run_id, _last_uri
    if status not in RunStatus.ALL:
        raise InvalidInputError(
            f"Invalid run status {status!r}: expected one of {', '.join(RunStatus.ALL)}.")
    if run_id is None:
        run = active_run()
        if run is None:
            return
    else:
        run = _active.get(run_id)  # type: ignore[assignment]
        if run is None:
            return
    with _active_lock:
        _active.pop(run.info.run_id, None)
    stack = _stack()
    if run in stack:
        # Ending an outer run also ends the runs nested inside it, innermost first.
        while stack and stack[-1] is not run:
            inner = stack[-1]
            end_run(status, run_id=inner.info.run_id, quiet=quiet, wait=False)
        if stack and stack[-1] is run:
            stack.pop()
    store = _tracking.get_store(run.store_uri)
    _last_run_id, _last_uri = run.info.run_id, run.store_uri
    try:
        for hook in _end_hooks:
            hook(run.info.run_id)
    finally:
        # Already off the active list: it must end even if a hook raised (AUTOLOG_STRICT).
        store.end_run_async(run.info.run_id, status, int(time.time() * 1000))
        store.forget_run(run.info.run_id)
    if wait:
        store.flush(raise_errors=not quiet)


def on_run_end(hook: Callable[[str], None]) -> None:
    """Call ``hook(run_id)`` before each run of this process ends (once per hook; the hook must
    not raise: an integration reports its own errors)."""
    if hook not in _end_hooks:
        _end_hooks.append(hook)


def _install_excepthook() -> None:
    # Chain, never replace, the current hook: we only need to know the process is dying of an
    # uncaught exception so that its runs end FAILED.
    if getattr(sys.excepthook, "_autolog", False):
        return
    previous = sys.excepthook

    def hook(exc_type: Any, exc: Any, tb: Any) -> None:
        global _uncaught
        if not issubclass(exc_type, (SystemExit,)):
            _uncaught = True
        previous(exc_type, exc, tb)

    hook._autolog = True  # type: ignore[attr-defined]
    sys.excepthook = hook


def _end_all_at_exit() -> None:
    failed = _uncaught or getattr(sys, "last_value", None) is not None
    status = RunStatus.FAILED if failed else RunStatus.FINISHED
    for run_id in list(_active):
        try:
            end_run(status, run_id=run_id, quiet=True)
        except Exception:  # noqa: BLE001 - nothing may fail the interpreter's exit
            pass
    batching = sys.modules.get("autolog.store.batching")
    if batching is not None:
        # After the runs' ends are queued: retry what a failing store refused (bounded), and
        # report every loss instead of dropping it without a word.
        batching.flush_all_at_exit()


atexit.register(_end_all_at_exit)


def require_run_id(run_id: str | None = None) -> tuple[str, Any]:
    """(run id, store) to log into: ``run_id``, else the active run, else a new run."""
    if run_id is not None:
        return run_id, _tracking.get_store()
    stack = _stack()
    run = stack[-1] if stack else start_run()
    return run.info.run_id, _tracking.get_store(run.store_uri)

