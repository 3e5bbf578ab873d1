"""The team setup's figures: PostgreSQL beside SQLite, S3 (moto) beside the local folder.

Prints, for each SQL backend: log_metric committed per second (the fluent API, ``autolog.flush()``
inside the clock, wall and process CPU) and ``search_runs`` over 100,000 runs (a filter on a
metric and a param, ordered by a metric, a 100-run page; target <= 300 ms on PostgreSQL); then
artifact upload MB/s to S3 through moto's server beside a local folder. Asserts nothing.

Needs PostgreSQL's server binaries (a throwaway durable cluster is started on 127.0.0.1, fsync
on) and ``autolog[postgres,s3]`` with ``moto[server]``.
Run: python benchmarks/bench_postgres.py [--runs 100000] [--metrics 100000] [--mb 64]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from typing import Any

from _bench import search_rows


def bench_log_metric(uri: str, n: int) -> None:
    import autolog

    autolog.set_tracking_uri(uri)
    with autolog.start_run():
        autolog.log_metric("warmup", 0.0)
        autolog.flush()
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(n):
            autolog.log_metric("loss", 0.5, step=i)
        accepted = time.perf_counter() - wall
        autolog.flush()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"  log_metric: {n / wall:,.0f} committed/s ({n:,} in {wall:.2f} s wall, {cpu:.2f} s "
          f"process CPU; {n / accepted:,.0f}/s accepted before the flush)")


def _bulk(conn: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    """Seed rows fast: COPY on PostgreSQL, the driver's executemany on SQLite."""
    if not rows:
        return
    columns = list(rows[0])
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.driver_connection.cursor()
        names = ", ".join(f'"{c}"' for c in columns)
        with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])
    else:
        marks = ", ".join("?" for _ in columns)
        names = ", ".join(f'"{c}"' for c in columns)
        conn.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({marks})",
                             [tuple(row[c] for c in columns) for row in rows])


def bench_search(uri: str, n_runs: int) -> None:
    import autolog
    from autolog import _tracking
    from autolog.store import _schema as S

    autolog.set_tracking_uri(uri)
    store = _tracking.get_store()
    eid = autolog.create_experiment(f"search-bench-{uuid.uuid4().hex[:6]}")
    rows = search_rows(eid, n_runs)
    del rows["metrics"]  # the history table plays no part in search
    start = time.perf_counter()
    with store.inner._engine.begin() as conn:
        for name, table_rows in rows.items():
            _bulk(conn, S.metadata.tables[name], table_rows)
    with store.inner._engine.connect() as conn:  # fresh statistics, as a live database has
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    print(f"  seeded {n_runs:,} runs ({sum(map(len, rows.values())) - n_runs:,} values) in "
          f"{time.perf_counter() - start:.1f} s")
    order = ["metrics.accuracy DESC"]
    # The target (<= 300 ms on PostgreSQL), then the same order without a filter.
    for flt in ("metrics.accuracy > 0.5 AND params.model = 'rf'", ""):
        times = []
        for _ in range(7):
            start = time.perf_counter()
            found = store.search_runs([eid], flt, max_results=100, order_by=order)
            times.append(time.perf_counter() - start)
        print(f"  search_runs: {statistics.median(times) * 1000:.1f} ms median of 7 (min "
              f"{min(times) * 1000:.1f}) over {n_runs:,} runs, filter {flt!r}, order {order}, "
              f"page of {len(found)}")


def bench_upload(roots: list[tuple[str, str]], mb: int, tmp: str) -> None:
    from autolog.store import artifacts

    path = os.path.join(tmp, "upload.bin")
    with open(path, "wb") as fh:
        block = os.urandom(1 << 20)
        for _ in range(mb):
            fh.write(block)
    for label, root in roots:
        times = []
        for i in range(3):
            repo = artifacts.repository(f"{root}/{i}")
            start = time.perf_counter()
            repo.log_file(path, "ckpt")
            times.append(time.perf_counter() - start)
            repo.delete()
        print(f"  {label}: {mb / statistics.median(times):,.0f} MB/s median of 3 "
              f"({mb} MB file, {', '.join(f'{t:.2f}' for t in times)} s)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--metrics", type=int, default=100_000)
    parser.add_argument("--mb", type=int, default=64)
    args = parser.parse_args()
    from autolog.testing.services import MotoS3Server, PostgresCluster

    print("Figures from a shared machine are noisy; compare ratios, rerun on a quiet one.")
    with tempfile.TemporaryDirectory() as tmp, PostgresCluster.start(durable=True) as pg:
        backends = [("SQLite", f"sqlite:///{os.path.join(tmp, 'bench.db')}"),
                    ("PostgreSQL 15 (fsync on)", pg.new_database())]
        for label, uri in backends:
            print(label)
            bench_log_metric(uri, args.metrics)
            bench_search(uri, args.runs)
        moto = MotoS3Server()
        try:
            os.environ.update(moto.env)
            moto.create_bucket("autolog-bench")
            print("Artifact upload")
            bench_upload([("local folder", os.path.join(tmp, "artifacts")),
                          ("S3 via moto (127.0.0.1)", "s3://autolog-bench/artifacts")], args.mb, tmp)
        finally:
            moto.stop()
        from autolog import _tracking

        for store in _tracking._stores.values():
            store.flush(raise_errors=False)
            store.inner.close()


if __name__ == "__main__":
    main()
