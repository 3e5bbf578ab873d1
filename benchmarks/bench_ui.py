"""The UI at 100,000 runs: server time of its JSON endpoints, and page/chart times in Chromium.

Seeds a store with 100,000 runs x 10 params x 5 metrics (plus a run-name and a source tag each)
and one run with a 1,000,000-point metric, by bulk inserts through the SQL store's tables (a
minute or so), then serves the UI on 127.0.0.1 and prints:

* per endpoint, the median and best of several requests (targets: <= 300 ms each): the first
  page of the runs table, a filtered and sorted page, a page deep in the scroll, the column
  picker's keys, the big chart (1,000,000 points downsampled to 1,000);
* measured by Playwright in Debian's Chromium: the runs page usable (first rows drawn) after
  navigation (target <= 1.5 s) and the big chart drawn (target <= 1 s).

    python benchmarks/bench_ui.py [--runs 100000] [--points 1000000] [--store DIR] [--no-browser]

``--store DIR`` keeps the seeded store there and reuses it on the next call.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

CHROMIUM = os.environ.get("AUTOLOG_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PARAMS = [f"param_{i}" for i in range(10)]
METRICS = ["accuracy", "loss", "f1", "precision", "recall"]
CHUNK = 20_000


def seed(folder: str, n_runs: int, n_points: int) -> tuple[str, str]:
    """Fill a fresh store under ``folder``; return (experiment id, id of the long-metric run)."""
    from autolog import _tracking
    from autolog.store import _schema as S
    from autolog.store.sql import SqlStore

    db_url, artifact_root = _tracking.resolve(folder)
    store = SqlStore(db_url, artifact_root)
    marker = os.path.join(folder, "bench_ui.json")
    if os.path.exists(marker):
        with open(marker) as fh:
            saved = json.load(fh)
        return saved["experiment_id"], saved["big_run"]
    experiment_id = store.create_experiment("bench_ui")
    rng = random.Random(0)
    start = int(time.time() * 1000) - n_runs * 1000
    t0 = time.perf_counter()
    run_ids = [uuid.uuid4().hex for _ in range(n_runs)]
    with store._engine.begin() as conn:
        for lo in range(0, n_runs, CHUNK):
            ids = run_ids[lo:lo + CHUNK]
            conn.execute(S.runs.insert(), [{
                "run_id": rid, "experiment_id": int(experiment_id), "run_name": f"run-{lo + i}",
                "status": "FINISHED", "start_time": start + (lo + i) * 1000,
                "end_time": start + (lo + i) * 1000 + rng.randint(100, 100_000),
                "artifact_uri": os.path.join(artifact_root, experiment_id, rid, "artifacts"),
                "lifecycle_stage": "active", "user_id": f"user{(lo + i) % 7}",
            } for i, rid in enumerate(ids)])
            conn.execute(S.params.insert(), [
                {"run_id": rid, "key": key, "value": str(rng.choice([0.001, 0.01, 0.1, 1, 10]) * (k + 1))}
                for rid in ids for k, key in enumerate(PARAMS)])
            conn.execute(S.tags.insert(), [
                {"run_id": rid, "key": key, "value": value} for i, rid in enumerate(ids)
                for key, value in (("mlflow.runName", f"run-{lo + i}"),
                                   ("autolog.source.name", f"train_{(lo + i) % 13}.py"))])
            metric_rows = [
                {"run_id": rid, "key": key, "value": rng.random(), "is_nan": False,
                 "timestamp": start + (lo + i) * 1000, "step": 0}
                for i, rid in enumerate(ids) for key in METRICS]
            conn.execute(S.metrics.insert(), metric_rows)
            conn.execute(S.latest_metrics.insert(), metric_rows)
        big = run_ids[-1]
        for lo in range(0, n_points, 100_000):
            conn.execute(S.metrics.insert(), [
                {"run_id": big, "key": "long_loss", "value": 1.0 / (1 + s) + rng.random() * 0.01,
                 "is_nan": False, "timestamp": start + s, "step": s}
                for s in range(lo, min(n_points, lo + 100_000))])
        last = n_points - 1
        conn.execute(S.latest_metrics.insert(), [{
            "run_id": big, "key": "long_loss", "value": 1.0 / (1 + last), "is_nan": False,
            "timestamp": start + last, "step": last}])
    with store._engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
    store.close()
    with open(marker, "w") as fh:
        json.dump({"experiment_id": experiment_id, "big_run": big}, fh)
    print(f"seeded {n_runs:,} runs x {len(PARAMS)} params x {len(METRICS)} metrics and one "
          f"{n_points:,}-point metric in {time.perf_counter() - t0:.1f} s")
    return experiment_id, big


def serve(folder: str) -> tuple[Any, str]:
    import uvicorn

    from autolog.server.ui import create_ui_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_ui_app(folder), host="127.0.0.1", port=port,
                                           log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def time_endpoint(url: str, repeat: int = 7) -> tuple[float, float, float, Any]:
    """(first, median, best) milliseconds of ``repeat`` requests, and the last body."""
    times, body = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        with urllib.request.urlopen(url, timeout=60) as response:
            body = json.loads(response.read())
        times.append((time.perf_counter() - t0) * 1000)
    return times[0], statistics.median(times), min(times), body


def endpoints(base: str, experiment_id: str, big: str, folder: str) -> None:
    runs = f"{base}/ui-api/experiments/{experiment_id}/runs"
    cols = "cols=params:param_1,params:param_2,metrics:accuracy,metrics:loss"
    q = urllib.parse.quote
    flt = q("metrics.accuracy > 0.5 AND (params.param_1 = '0.2' OR params.param_2 = '3.0')")
    by_param = q("params.param_1 = '0.2'")
    other = q("metrics.loss < 0.3 AND params.param_4 = '0.05'")

    def token_at(query: str, offset: int) -> str:
        """The next-page token of the page before ``offset`` (what scrolling down holds)."""
        with urllib.request.urlopen(f"{runs}?{query}&limit=100&offset={offset - 100}") as resp:
            return q(json.loads(resp.read())["next_page_token"])

    by_metric = f"{cols}&sort=metrics:loss"
    sorted_param = f"{cols}&sort=params:param_3"
    param_page = f"{runs}?{cols}&limit=100&filter={by_param}&sort=-params:param_3"
    cases = [
        ("runs: first page (100 rows, 4 columns)", f"{runs}?{cols}&limit=100"),
        ("runs: count of the table (its own request)", f"{runs}?count=1"),
        ("runs: filtered + sorted by a metric", f"{runs}?{cols}&limit=100&filter={flt}&sort=-metrics:accuracy"),
        ("runs: count, filtered (after its page)", f"{runs}?count=1&filter={flt}"),
        ("runs: count, filtered (alone, no page before)", f"{runs}?count=1&filter={other}"),
        ("runs: count, filtered, 80,000 match (alone)", f"{runs}?count=1&filter={q('metrics.f1 > 0.2')}"),
        ("runs: sorted by a param", f"{runs}?{sorted_param}&limit=100"),
        ("runs: filtered by a param + sorted by a param", param_page),
        ("runs: count, filtered by a param (after its page)", f"{runs}?count=1&filter={by_param}"),
        ("runs: deep page by scrolling (token at 90,000)", f"{runs}?{cols}&limit=100&page_token={token_at(cols, 90_000)}"),
        ("runs: same, sorted by a metric", f"{runs}?{by_metric}&limit=100&page_token={token_at(by_metric, 90_000)}"),
        ("runs: same, sorted by a param", f"{runs}?{sorted_param}&limit=100&page_token={token_at(sorted_param, 90_000)}"),
        ("runs: deep page by a jump (offset 90,000)", f"{runs}?{cols}&limit=100&offset=90000"),
        ("runs: same, sorted by a metric", f"{runs}?{by_metric}&limit=100&offset=90000"),
        ("runs: same, sorted by a param", f"{runs}?{sorted_param}&limit=100&offset=90000"),
        ("column picker keys (params, metrics, tags)", f"{base}/ui-api/experiments/{experiment_id}/keys"),
        ("run page JSON of the big run", f"{base}/ui-api/runs/{big}"),
        ("experiments list", f"{base}/ui-api/experiments"),
    ]
    print(f"\n{'endpoint':52s} {'first':>9s} {'median':>9s} {'best':>9s}   (server round trip, target <= 300 ms)")
    for label, url in cases:
        print_case(label, *time_endpoint(url))
    # A write (a metric logged to one run) invalidates what the UI keeps: the next view rebuilds.
    from autolog import _tracking
    from autolog.entities import Metric
    from autolog.store.sql import SqlStore

    writer = SqlStore(*_tracking.resolve(folder))
    writer.log_batch(big, metrics=[Metric("accuracy", 0.5, int(time.time() * 1000), 1)])
    writer.close()
    print_case("after a write: filtered by a param + sorted by a param", *time_endpoint(param_page))
    chart = f"{base}/ui-api/series?runs={big}&metrics=long_loss&points=1000"
    cold, _, _, body = time_endpoint(chart, repeat=1)
    _, median, best, _ = time_endpoint(chart)
    print(f"{'big chart 1,000,000 -> ' + str(len(body['series'][0]['points'])) + ' points: first (summary built)':52s} {cold:7.1f} ms")
    print(f"{'big chart: later requests (summary cached)':52s} {'':9s} {median:7.1f} ms {best:7.1f} ms")


def print_case(label: str, first: float, median: float, best: float, body: Any) -> None:
    extra = ""
    if isinstance(body, dict) and body.get("total") is not None:
        extra = f"  total={body['total']:,}{'+' if body.get('more') else ''}"
    print(f"{label:52s} {first:7.1f} ms {median:7.1f} ms {best:7.1f} ms{extra}")


def browser(base: str, experiment_id: str, big: str, repeat: int = 5) -> None:
    if not os.path.exists(CHROMIUM):
        print(f"\n(no Chromium at {CHROMIUM}: browser timings skipped; run .ci/chromium.sh)")
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = chromium.new_page(viewport={"width": 1400, "height": 900})
        cases = [
            ("runs page usable (first rows drawn), target <= 1.5 s",
             f"{base}/experiments/{experiment_id}?cols=params:param_1,metrics:accuracy",
             "body[data-ready='1'] .vrow[data-run-id]"),
            ("runs page sorted by a metric, filtered",
             f"{base}/experiments/{experiment_id}?cols=metrics:accuracy&sort=-metrics:accuracy"
             f"&filter={urllib.parse.quote('params.param_1 = ' + chr(39) + '0.2' + chr(39))}",
             "body[data-ready='1'] .vrow[data-run-id]"),
            ("runs page sorted by a param, filtered by a param",
             f"{base}/experiments/{experiment_id}?cols=params:param_3&sort=params:param_3"
             f"&filter={urllib.parse.quote('params.param_2 = ' + chr(39) + '3' + chr(39))}",
             "body[data-ready='1'] .vrow[data-run-id]"),
            ("big chart drawn (1,000,000 points), target <= 1 s",
             f"{base}/chart?runs={big}&metrics=long_loss", ".chart-card path.series"),
        ]
        print(f"\n{'in Chromium (navigation to drawn)':52s} {'first':>9s} {'median':>9s} {'best':>9s}")
        for label, url, selector in cases:
            times = []
            for _ in range(repeat):
                page.goto("about:blank")
                t0 = time.perf_counter()
                page.goto(url, wait_until="commit")
                page.wait_for_selector(selector, timeout=60_000)
                times.append((time.perf_counter() - t0) * 1000)
            print(f"{label:52s} {times[0]:7.0f} ms {statistics.median(times):7.0f} ms {min(times):7.0f} ms")
        for label, url, selector in cases[1:3]:  # counts shown once they arrive
            page.goto(url)
            page.wait_for_function("document.querySelector('#count').textContent !== ''")
            print(f"{'  count shown: ' + label:52s} {page.inner_text('#count'):>9s}")
        # Scrolling deep: jump to the middle of 100,000 rows and wait for them to be drawn.
        page.goto(cases[0][1])
        page.wait_for_selector(cases[0][2])
        t0 = time.perf_counter()
        page.eval_on_selector(".vbody", "b => { b.scrollTop = b.scrollHeight / 2; }")
        page.wait_for_function("""() => {
            const rows = [...document.querySelectorAll('.vrow')];
            return rows.length > 10 && !rows.some(r => r.classList.contains('loading'));
        }""")
        print(f"{'runs table: jump to row 50,000, rows drawn':52s} {(time.perf_counter() - t0) * 1000:7.0f} ms")
        print(f"{'rows in the DOM (virtualised)':52s} {page.locator('.vrow').count():7d}")
        chromium.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--store", default=None, help="keep (and reuse) the seeded store here")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--no-endpoints", action="store_true")
    args = parser.parse_args()
    folder = args.store or tempfile.mkdtemp(prefix="autolog-bench-ui-")
    experiment_id, big = seed(folder, args.runs, args.points)
    server, base = serve(folder)
    print(f"store: {folder}; UI at {base}")
    print(f"machine load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1 and 5 min), {os.cpu_count()} CPUs")
    if not args.no_endpoints:
        endpoints(base, experiment_id, big, folder)
    if not args.no_browser:
        browser(base, experiment_id, big)
    server.should_exit = True


if __name__ == "__main__":
    main()
