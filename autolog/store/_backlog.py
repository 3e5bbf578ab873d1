"""What the batching writer does when the store fails: keep, retry, give up loudly, and tell the
right person.

* Every write the writer drains becomes an :class:`Op` in one ordered backlog. While the store
  fails (disk full, a read-only or locked database), the ops stay, in order, and are retried
  with back-off for ``retry_window`` seconds (60 by default; ``AUTOLOG_WRITE_RETRY_S`` sets it)
  before they are given up; an explicit flush retries at once. The backlog is bounded: past
  ``MAX_VALUES`` values the oldest ops are given up. Giving up always says how many values
  were lost, and of which run.
* An error that retrying cannot fix (a deleted run or experiment, a bad batch) loses that op at
  once, and is reported the same way.
* Who hears about it depends on whose run it was. A run the user started (or logs into) gets a
  :class:`~autolog.errors.StorageError` at the user's next ``flush()``/``end_run()``. A run
  autologging started and ended by itself has no such call: its losses are collected here and
  reported as one :class:`~autolog.errors.AutologWarning` at the next autologged call, or at
  interpreter exit, never as an exception in the user's code.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from typing import Any, Callable

from autolog.errors import StorageError

MAX_VALUES = 500_000  # about 100 MB of queued metrics: beyond that, memory matters more
EXIT_WAIT_S = 15.0  # at exit, a failing store is retried this long at most (no hang at exit)

# Losses of autologging's own runs, waiting for the next autologged call or exit:
# (integration or None, message). A list, so that the per-call check is one truthiness test.
undelivered: list[tuple[str | None, str]] = []
_undelivered_lock = threading.Lock()


def default_retry_window() -> float:
    try:
        return max(0.0, float(os.environ.get("AUTOLOG_WRITE_RETRY_S", "60")))
    except ValueError:
        return 60.0


class Op:
    """One write of the backlog: ``fn`` writes it; ``values`` counts what it holds per run."""

    __slots__ = ("what", "fn", "values")

    def __init__(self, what: str, fn: Callable[[], Any], values: dict[str | None, int]) -> None:
        self.what = what
        self.fn = fn
        self.values = values

    @property
    def count(self) -> int:
        return sum(self.values.values())


class Backlog:
    """The ordered ops not written yet, and the failures to report (used by one writer)."""

    def __init__(self, retry_window: float, on_failure: Callable[[Op, BaseException, bool], None]) -> None:
        self.retry_window = retry_window
        self.on_failure = on_failure  # (op, error, lost): report one op's failure
        self.ops: collections.deque[Op] = collections.deque()
        self.values = 0
        self.failing_since: float | None = None
        self.next_try = 0.0
        self.delay = 0.0

    def add(self, ops: list[Op]) -> None:
        for op in ops:
            self.ops.append(op)
            self.values += op.count
        while self.values > MAX_VALUES and len(self.ops) > 1:
            self._drop(self.ops[0], StorageError(
                f"the store has been failing and more than {MAX_VALUES} values were waiting"))

    def push_front(self, ops: list[Op]) -> None:
        """Put ``ops`` first in line, in order (they replace an op that is running now)."""
        self.ops.extendleft(reversed(ops))
        self.values += sum(op.count for op in ops)

    def _drop(self, op: Op, exc: BaseException) -> None:
        self.ops.popleft()
        self.values -= op.count
        self.on_failure(op, exc, True)

    def run(self, force: bool) -> None:
        """Write ops in order until one fails with a storage error (then wait for the back-off,
        unless ``force``); ops failing otherwise are lost and reported."""
        if self.failing_since is not None and not force and time.monotonic() < self.next_try:
            return
        while self.ops:
            # Taken off before it runs: a writer task may read the store, and a read flushes,
            # which runs the backlog again on this thread (it must not find this op again).
            op = self.ops.popleft()
            self.values -= op.count
            try:
                op.fn()
            except StorageError as exc:
                self.ops.appendleft(op)  # first in line for the next try
                self.values += op.count
                self._stalled(op, exc)
                return
            except Exception as exc:  # noqa: BLE001 - retrying cannot fix it: lost, reported
                self.on_failure(op, exc, True)
                continue
            self.failing_since = None

    def _stalled(self, op: Op, exc: StorageError) -> None:
        now = time.monotonic()
        if self.failing_since is None:
            self.failing_since = now
            self.delay = min(0.5, self.retry_window / 4) or 0.01
            self.on_failure(op, exc, False)  # not lost yet: the user's flush hears of it now
        if now - self.failing_since >= self.retry_window:
            self.give_up(exc)
            return
        self.next_try = now + self.delay
        self.delay = min(self.delay * 2, 10.0)

    def give_up(self, exc: BaseException) -> None:
        seconds = self.retry_window if self.failing_since is None else time.monotonic() - self.failing_since
        cause = StorageError(f"retried for {seconds:.0f} s, the store still fails: {exc}")
        cause.__cause__ = exc
        while self.ops:
            op = self.ops[0]
            if op.values == {None: 0}:
                # A writer task (a model folder, a plot) writes files, not the database: run it
                # rather than lose it with the database writes it was queued behind.
                self.ops.popleft()
                try:
                    op.fn()
                except Exception as task_exc:  # noqa: BLE001 - tasks report their own errors
                    self.on_failure(op, task_exc, True)
                continue
            self._drop(op, cause)
        self.failing_since = None

    def wait_out(self, budget_s: float) -> None:
        """At exit: keep retrying for what is left of the retry window (at most ``budget_s``),
        then give up what still cannot be written."""
        if not self.ops or self.failing_since is None:
            return
        deadline = time.monotonic() + min(budget_s, max(
            0.0, self.retry_window - (time.monotonic() - self.failing_since)))
        while self.ops and time.monotonic() < deadline:
            time.sleep(max(0.0, min(self.delay, deadline - time.monotonic())))
            self.run(force=True)
        if self.ops:
            self.give_up(StorageError("the process is exiting"))


def lost_message(run_id: str | None, what: dict[str, int], exc: BaseException) -> str:
    """One line naming the run and what was lost (``what``: description -> values)."""
    total = sum(what.values())
    parts = ", ".join(f"{d} ({n})" if n else d for d, n in what.items())
    owner = f"run {run_id}" if run_id else "autologging"
    return f"{total} values of {owner} were not stored ({parts}): {str(exc).rstrip('.')}"


def push_undelivered(integration: str | None, message: str) -> None:
    with _undelivered_lock:
        undelivered.append((integration, message))


def deliver() -> None:
    """Report the losses of autologging's runs as one AutologWarning (skipped for integrations
    set ``silent``), and forget them. Never raises."""
    if not undelivered:
        return
    with _undelivered_lock:
        items, undelivered[:] = list(undelivered), []
    try:
        from autolog import _log
        from autolog.integrations import _config

        loud = [m for integration, m in items
                if not (integration and (_config.get_config(integration) or {}).get("silent"))]
        for _integration, message in items:
            _log.logger.debug("autolog: %s", message)
        if loud:
            _log.warn("autolog: some autologged data could not be stored: " + "; ".join(loud)
                      + ". Training was not affected.", stacklevel=3)
    except Exception:  # noqa: BLE001 - reporting must never fail the caller
        pass
