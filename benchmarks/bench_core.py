"""Run-logging core figures: log_metric rate, commit latency, search over 10,000 runs, import time.

Prints figures; asserts nothing. Run: python benchmarks/bench_core.py
The log_metric rate is given at the training path (calls accepted) and at the durable point
(``autolog.flush()`` inside the clock), wall and process CPU.
Targets (2-core machine): >= 300,000 log_metric calls/s; 100,000 metrics committed within 1 s of
end_run; a two-key filter + order over 10,000 runs under 150 ms; import autolog under 50 ms.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

from _bench import search_rows


def bench_log_metric(n: int = 300_000) -> None:
    import autolog

    with autolog.start_run():
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(n):
            autolog.log_metric("loss", 0.5, step=i)
        elapsed, spent = time.perf_counter() - start, time.process_time() - cpu
        autolog.flush()  # the durable point: every value committed
        durable, durable_cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"log_metric: {n / elapsed:,.0f} calls/s accepted ({n:,} calls in one run; "
          f"{spent / n * 1e6:.2f} us CPU per call); durable (flush inside the clock) "
          f"{n / durable:,.0f} calls/s, {durable_cpu / n * 1e6:.2f} us CPU per call")


def bench_commit(n: int = 100_000) -> None:
    import autolog

    run = autolog.start_run()
    for i in range(n):
        autolog.log_metric("loss", 0.5, step=i)
    start = time.perf_counter()
    autolog.end_run()
    elapsed = time.perf_counter() - start
    stored = len(autolog.Client().get_metric_history(run.info.run_id, "loss"))
    print(f"commit: {stored:,} metrics committed {elapsed:.3f} s after end_run was called")


def bench_search(n_runs: int = 10_000) -> None:
    import autolog
    from autolog import _tracking
    from autolog.store import _schema as S

    store = _tracking.get_store()
    eid = autolog.create_experiment(f"search-bench-{uuid.uuid4().hex[:6]}")
    rows = search_rows(eid, n_runs)
    # Bulk setup straight through the engine: timing the 10,000 inserts is not the point here.
    with store.inner._engine.begin() as conn:
        for name, table_rows in rows.items():
            conn.execute(S.metadata.tables[name].insert(), table_rows)
    flt = "params.model = 'rf' AND metrics.accuracy > 0.5"
    order = ["metrics.accuracy DESC"]
    for fmt in ("list", "pandas"):
        times = []
        for _ in range(7):
            start = time.perf_counter()
            found = autolog.search_runs([eid], flt, order_by=order, output_format=fmt)
            times.append(time.perf_counter() - start)
        print(f"search_runs ({fmt}): {statistics.median(times) * 1000:.1f} ms median over "
              f"{n_runs:,} runs, filter {flt!r}, order {order}, {len(found):,} matches")


def bench_import(repeats: int = 7) -> None:
    code = "import time; t = time.perf_counter(); import autolog; print(time.perf_counter() - t)"
    times = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                  check=True).stdout) for _ in range(repeats)]
    print(f"import autolog: {statistics.median(times) * 1000:.1f} ms median of {repeats} fresh interpreters")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        import autolog

        autolog.set_tracking_uri(os.path.join(tmp, "store"))
        bench_log_metric()
        bench_commit()
        bench_search()
        bench_import()


if __name__ == "__main__":
    main()
