"""What autolog cost a run: ``autolog.overhead_ms`` and ``autolog.writer_ms`` tags.

* ``autolog.overhead_ms``: time spent in autolog's own code on the training thread during the
  run, i.e. in the patch helper around each patched call (starting the run, the integration's
  before/after hooks) minus the original call itself; measured with ``perf_counter_ns``.
* ``autolog.writer_ms``: time the batching writer's thread spent on the run (each drain's time
  shared among the runs it wrote, by records), written just before the run's end.

Why tags rather than metrics: metrics keep MLflow autologging's names (a user's query or
chart of "all metrics" of an autologged run must not change), and the cost is a property of
the run like the other ``autolog.*`` system tags; ``search_runs`` returns them as
``tags.autolog.overhead_ms`` columns (``.astype(float)`` to compare) and ``autolog runs show``
prints them. Recorded for every run into which a patched call logged (the runs autologging
starts, and a user's run that an autologged fit logged into).
"""

from __future__ import annotations

from typing import Any

OVERHEAD_TAG = "autolog.overhead_ms"
WRITER_TAG = "autolog.writer_ms"

# run id -> [nanoseconds, store uri]; a run is added by its first patched call.
_training: dict[str, list[Any]] = {}
_hooked = False


def charge(run: Any, ns: int) -> None:
    """Add ``ns`` of autolog time on the training thread to ``run`` (an ActiveRun or None)."""
    if run is None:
        return
    run_id = run.info.run_id
    entry = _training.get(run_id)
    if entry is None:
        global _hooked
        if not _hooked:
            from autolog import _runs

            _runs.on_run_end(_on_run_end)
            _hooked = True
        _training[run_id] = [ns, getattr(run, "store_uri", None)]
    else:
        entry[0] += ns


def _on_run_end(run_id: str) -> None:
    entry = _training.pop(run_id, None)
    if entry is None:
        return
    try:
        from autolog import _tracking
        from autolog.entities import RunTag

        store = _tracking.get_store(entry[1])
        store.log_batch(run_id, tags=[RunTag(OVERHEAD_TAG, f"{entry[0] / 1e6:.3f}")])
        report = getattr(store, "report_writer_time", None)
        if report is not None:
            report(run_id)
    except Exception as exc:  # noqa: BLE001 - an end hook must not raise
        from autolog.integrations import _config

        if _config.strict():
            raise
        import logging

        logging.getLogger("autolog").warning("autolog: could not record the cost of run %s: %r",
                                             run_id, exc)


def writer_round(writer_ns: dict[str, int], elapsed_ns: int, weights: dict[str, int]) -> None:
    """Share one writer drain round's time among the runs it wrote, by records written."""
    total = sum(weights.values())
    if total <= 0:
        return
    if len(writer_ns) > 10_000:
        writer_ns.clear()  # runs ended outside the queue (Client.set_terminated) never pop theirs
    for run_id, weight in weights.items():
        if run_id is not None:
            writer_ns[run_id] = writer_ns.get(run_id, 0) + elapsed_ns * weight // total


def writer_tag(ns: int) -> Any:
    from autolog.entities import RunTag

    return RunTag(WRITER_TAG, f"{ns / 1e6:.3f}")
