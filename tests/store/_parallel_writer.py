"""One writer process of the parallel-writers test: THREADS threads log METRICS metrics each
(plus a shared param and a contended tag) into one run, directly into the database. Even
threads use the fluent API (the batching writer: one transaction per drain); odd threads call
the SQL store themselves, 50 metrics a transaction, so that transactions of many threads and
processes race on the same run's rows."""

from __future__ import annotations

import sys

import autolog
from autolog import _tracking
from autolog.entities import Metric
from autolog.testing import run_threads

THREADS = 4
METRICS = 5000


def main(uri: str, run_id: str, proc: int) -> None:
    autolog.set_tracking_uri(uri)

    def work(thread: int) -> None:
        key = f"p{proc}_t{thread}"
        direct = _tracking.get_store().inner
        for step in range(METRICS):
            if thread % 2 == 0:
                autolog.log_metric(key, step * 0.5, step=step, run_id=run_id)
            elif step % 50 == 49:
                direct.log_batch(run_id, metrics=[
                    Metric(key, s * 0.5, 1, s) for s in range(step - 49, step + 1)])
            if step % 1000 == 0:
                # Same param from every writer (not a conflict), tag raced by all.
                autolog.Client().log_param(run_id, "shared", "same")
                autolog.Client().set_tag(run_id, "last_writer", key)

    errors = run_threads(work, THREADS)
    autolog.flush()
    if errors:
        raise errors[0]


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
