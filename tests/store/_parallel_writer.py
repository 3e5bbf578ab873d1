"""The parallel-writers test: PROCESSES writer processes (this module run as a script) of
THREADS threads log METRICS metrics each (plus a shared param and a contended tag) into one run,
directly into the database or through a tracking server, whichever the URI names. Even threads
use the fluent API (the batching writer: one transaction per drain); odd threads call the store
under it themselves (SQL or REST), 50 metrics a write, so that transactions of many threads and
processes race on the same run's rows. :func:`run_and_check` starts them and checks the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import autolog
from autolog import _tracking
from autolog.entities import Metric
from autolog.testing import run_threads

PROCESSES = 4
THREADS = 4
METRICS = 5000
ROOT = Path(__file__).resolve().parents[2]


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


def run_and_check(uri: str) -> None:
    """Create a run at ``uri``, write into it from PROCESSES processes at once, then check that
    every value arrived and that no writer failed or warned."""
    autolog.set_tracking_uri(uri)
    run_id = autolog.Client().create_run("0", run_name="parallel").info.run_id
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    procs = [subprocess.Popen([sys.executable, "-m", "tests.store._parallel_writer", uri, run_id,
                               str(p)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, cwd=ROOT)
             for p in range(PROCESSES)]
    outputs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0] * PROCESSES, outputs
    assert all(err == "" for _, err in outputs), outputs  # no warning, no error
    client = autolog.Client()
    stored = client.get_run(run_id)
    keys = {f"p{p}_t{t}" for p in range(PROCESSES) for t in range(THREADS)}
    assert set(stored.data.metrics) == keys
    assert all(v == (METRICS - 1) * 0.5 for v in stored.data.metrics.values())
    for key in sorted(keys):
        history = client.get_metric_history(run_id, key)
        assert [m.step for m in history] == list(range(METRICS)), key
    assert stored.data.params == {"shared": "same"}
    assert stored.data.tags["last_writer"] in keys


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
