"""The tracking server's figures (issue 11): throughput from 8 client processes, log-batch
latency, idle memory, start-up time, and a runs search over 100,000 runs, all through
``autolog server`` on 127.0.0.1 with the SQLite store.

    python benchmarks/bench_server.py [--quick]

Targets on the reference machine: >= 50,000 metrics/s committed, idle RSS <= 150 MB, start-up
<= 1 s, a 100-run search page over 100,000 runs <= 300 ms. Throughput is measured at the durable
point: a client's time ends when ``autolog.flush()`` returns (everything committed by the server).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(folder: str, *args: str) -> tuple[subprocess.Popen, str, float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": ROOT}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "autolog.cli", "server", "--port", str(port),
                             "--backend-store-uri", f"sqlite:///{folder}/server.db",
                             "--heartbeat-timeout", "0", *args],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as r:
                if r.read() == b"OK":
                    return proc, url, time.perf_counter() - start
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"the server exited with {proc.returncode}")
            time.sleep(0.005)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


def tree_rss_mb(pid: int) -> float:
    import psutil

    root = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20


def _client(url: str, batches: int, per_batch: int, threads: int, ready: object, go: object,
            out: object) -> None:
    import threading

    import autolog
    from autolog.entities import Metric

    autolog.set_tracking_uri(url)
    client = autolog.Client()
    run_id = client.create_run("0").info.run_id
    autolog.flush()
    ready.put(1)  # type: ignore[attr-defined]
    go.wait()  # type: ignore[attr-defined]
    start = time.perf_counter()

    def work(t: int) -> None:
        for b in range(batches):
            now = int(time.time() * 1000)
            client.log_batch(run_id, metrics=[Metric(f"m{t}", float(i), now, b * per_batch + i)
                                              for i in range(per_batch)])

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    autolog.flush()  # the durable point: everything committed by the server
    out.put((time.perf_counter() - start, run_id))  # type: ignore[attr-defined]


def tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its children (the server's workers)."""
    import psutil

    root = psutil.Process(pid)
    return sum(sum(p.cpu_times()[:2]) for p in [root, *root.children(recursive=True)])


def throughput(url: str, clients: int, threads: int, batches: int, per_batch: int,
               server_pid: int) -> tuple[float, float]:
    """Metrics committed per second, and the server's CPU microseconds per metric (the steadier
    figure on a shared machine)."""
    ctx = multiprocessing.get_context("spawn")
    ready, out, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_client, args=(url, batches, per_batch, threads, ready, go, out))
             for _ in range(clients)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=120)
    cpu = tree_cpu_s(server_pid)
    start = time.perf_counter()
    go.set()
    results = [out.get(timeout=1200) for _ in procs]
    wall = time.perf_counter() - start
    cpu = tree_cpu_s(server_pid) - cpu
    for p in procs:
        p.join()
    total = clients * threads * batches * per_batch
    import autolog

    stored = sum(len(autolog.Client(url).get_metric_history(r, f"m{t}"))
                 for _, r in results for t in range(threads))
    assert stored == total, f"{stored} of {total} metrics stored"
    return total / wall, cpu / total * 1e6


def batch_latency(url: str, n: int) -> tuple[float, float]:
    import httpx

    body_run = httpx.post(f"{url}/api/2.0/mlflow/runs/create", json={"experiment_id": "0"}).json()
    run_id = body_run["run"]["info"]["run_id"]
    times = []
    with httpx.Client(base_url=url) as http:
        for b in range(n):
            body = {"run_id": run_id, "metrics": [
                {"key": "lat", "value": float(i), "timestamp": 1, "step": b * 1000 + i} for i in range(1000)]}
            start = time.perf_counter()
            r = http.post("/api/2.0/mlflow/runs/log-batch", json=body,
                          headers={"X-Autolog-Request-Id": uuid.uuid4().hex})
            times.append(time.perf_counter() - start)
            assert r.status_code == 200, r.text
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def runs_per_second(url: str, n: int) -> float:
    """Runs created per second by one client through the REST API (MLflow's create-run)."""
    import httpx

    with httpx.Client(base_url=url) as http:
        start = time.perf_counter()
        for i in range(n):
            r = http.post("/api/2.0/mlflow/runs/create", json={"experiment_id": "0", "run_name": f"r{i}"})
            assert r.status_code == 200, r.text
        return n / (time.perf_counter() - start)


def fill_runs(folder: str, n: int) -> None:
    """``n`` runs with a param, a tag and a metric each, written straight into the database."""
    from autolog.store.sql import SqlStore

    store = SqlStore(f"sqlite:///{folder}/server.db", f"{folder}/artifacts")
    now = int(time.time() * 1000)
    rows = [(uuid.uuid4().hex, i) for i in range(n)]

    def write(conn: object) -> None:
        c = conn  # type: ignore[assignment]
        c.exec_driver_sql(  # type: ignore[attr-defined]
            "INSERT INTO runs (run_id, experiment_id, run_name, status, start_time, artifact_uri,"
            " lifecycle_stage, user_id) VALUES (?, 0, ?, 'FINISHED', ?, '', 'active', 'bench')",
            [(r, f"run-{i}", now - i) for r, i in rows])
        c.exec_driver_sql("INSERT INTO params (run_id, key, value) VALUES (?, 'lr', ?)",  # type: ignore[attr-defined]
                          [(r, str(i % 10)) for r, i in rows])
        c.exec_driver_sql("INSERT INTO tags (run_id, key, value) VALUES (?, 'team', ?)",  # type: ignore[attr-defined]
                          [(r, "a" if i % 2 else "b") for r, i in rows])
        c.exec_driver_sql(  # type: ignore[attr-defined]
            "INSERT INTO latest_metrics (run_id, key, value, is_nan, timestamp, step) "
            "VALUES (?, 'acc', ?, 0, ?, 0)", [(r, (i % 1000) / 1000, now) for r, i in rows])

    store._transact(write)
    store.close()


def search_times(url: str, repeats: int) -> dict[str, float]:
    import autolog

    client = autolog.Client(url)
    out = {}
    cases = {"newest first": ("", None), "filter params+metrics": ("params.lr = '3' AND metrics.acc > 0.5", None),
             "order by metric": ("", ["metrics.acc DESC"])}
    for label, (flt, order) in cases.items():
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            page = client.search_runs(["0"], flt, max_results=100, order_by=order)
            times.append(time.perf_counter() - start)
            assert len(page) == 100
        out[label] = statistics.median(times)
    start = time.perf_counter()
    second = client.search_runs(["0"], "", max_results=100, page_token=page.token)
    out["second page"] = time.perf_counter() - start
    assert len(second) == 100
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller workloads (a smoke run)")
    args = parser.parse_args()
    clients, threads = 8, 4
    batches, per_batch = (5, 1000) if not args.quick else (1, 250)
    n_runs = 100_000 if not args.quick else 5_000
    print(f"bench_server: {os.cpu_count()} CPUs; figures from a shared, loaded machine are noisy")

    with tempfile.TemporaryDirectory() as folder:
        startups = []
        for _ in range(3):
            proc, url, took = start_server(folder)
            startups.append(took)
            time.sleep(2.0)
            rss = tree_rss_mb(proc.pid)
            stop(proc)
        print(f"start-up (process start to /health OK): median {statistics.median(startups):.2f} s "
              f"(runs: {', '.join(f'{t:.2f}' for t in startups)}; target <= 1 s)")
        print(f"idle RSS of the server's process tree: {rss:.0f} MB (target <= 150 MB)")

        proc, url, _ = start_server(folder)
        try:
            p50, p99 = batch_latency(url, 30 if args.quick else 200)
            print(f"log-batch of 1,000 metrics: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")
            print(f"runs created per second (one client, sequential): "
                  f"{runs_per_second(url, 50 if args.quick else 300):.0f}")
            rate, cpu_us = throughput(url, clients, threads, batches, per_batch, proc.pid)
            total = clients * threads * batches * per_batch
            print(f"throughput: {clients} client processes x {threads} threads, {total:,} metrics "
                  f"committed (flush in the clock): {rate:,.0f} metrics/s (target >= 50,000/s); "
                  f"server CPU {cpu_us:.1f} us per metric")
        finally:
            stop(proc)

    with tempfile.TemporaryDirectory() as folder:
        fill_runs(folder, n_runs)
        proc, url, _ = start_server(folder)
        try:
            for label, took in search_times(url, 3 if args.quick else 5).items():
                print(f"search_runs, 100-run page over {n_runs:,} runs, {label}: {took * 1000:.0f} ms "
                      "(target <= 300 ms)")
        finally:
            stop(proc)


MLFLOW_REFERENCE = ("MLflow 3.17.2's server with its own client, as measured on this machine in "
                    "issue 11 (not rerun here; mlflow-skinny ships no server): 7,500 metrics/s "
                    "committed from 8 processes, 1.7 GB idle RSS over 10 processes, 7 s start-up, "
                    "27 runs/s created")


if __name__ == "__main__":
    print(MLFLOW_REFERENCE)
    main()
