"""Overhead of scikit-learn autologging: the same fits with autolog off and on, in one process.

Every workload runs as paired off/on runs (``_bench.paired_runs``); each on run is clocked at
the training path (the fit returns) and at the durable point (``autolog.flush()`` returned:
the run, its params, metrics, inputs, model and plot specs are committed and written), in wall
time and process CPU (the writer thread included). Prints:

1. LogisticRegression on iris, one fit per pair (a loop of small fits): overhead per fit, with
   default settings (plots lazy), with ``plots="eager"`` (pictures drawn on the writer thread,
   as before issue 10) and with models and metrics off;
2. RandomForestClassifier(n_estimators=100) on breast cancer: on/off ratios;
3. the MLflow tutorial's GridSearchCV (GradientBoostingClassifier, 8 candidates, cv=3, on the
   breast cancer training split): on/off ratios;
4. what model serialisation costs per fit (the snapshot on the training thread, the model
   folder on the writer thread);
5. reading a lazily drawn PNG: the first read (drawn from its spec and cached) and later reads.

Run: ``python benchmarks/bench_sklearn.py [--quick]`` (about a minute; ``--quick`` is a smoke
run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from typing import Any

import _bench
import autolog
from autolog.integrations import _config


def _switch(**settings: Any) -> Any:
    def enable(on: bool) -> None:
        if on:
            autolog.sklearn.autolog(silent=True, **settings)
        else:
            autolog.sklearn.autolog(disable=True, silent=True)
    return enable


def lazy_reads(reads: int) -> None:
    """First read of a lazily drawn PNG (draws, caches) and a later read, through ``Client``."""

    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    autolog.sklearn.autolog(silent=True, log_models=False)
    run_ids = []
    for _ in range(reads + 1):
        LogisticRegression(max_iter=500).fit(X, y)
        autolog.flush()
        run_ids.append(autolog.last_active_run().info.run_id)
    autolog.sklearn.autolog(disable=True, silent=True)
    client = autolog.Client()
    dst = tempfile.mkdtemp(prefix="bench-read-")
    name = "training_confusion_matrix.png"
    start = time.perf_counter()
    client.download_artifacts(run_ids[0], name, os.path.join(dst, "cold"))
    cold = time.perf_counter() - start  # includes importing matplotlib in this process
    first: list[float] = []
    later: list[float] = []
    for i, run_id in enumerate(run_ids[1:]):
        for bucket in (first, later):
            start = time.perf_counter()
            client.download_artifacts(run_id, name, os.path.join(dst, f"{i}-{len(bucket)}"))
            bucket.append(time.perf_counter() - start)
    print(f"lazy PNG read ({name}, Client.download_artifacts): first read "
          f"{statistics.median(first) * 1000:.1f} ms (median of {reads}; the very first in the "
          f"process, importing matplotlib, {cold * 1000:.0f} ms), later reads "
          f"{statistics.median(later) * 1000:.2f} ms  (targets <= 300 ms, <= 5 ms)")


def model_cost(models: dict[str, Any], repeats: int) -> None:
    """What model serialisation costs per fit, as autolog does it: the snapshot on the training
    thread (the flavor's pickle, in memory) and the model folder on the writer thread
    (model.pkl, model.json, requirements.txt, staged and renamed). Process CPU, medians."""
    import shutil

    from autolog.models import get_flavor, save_model

    flavor = get_flavor("sklearn")
    folder = tempfile.mkdtemp(prefix="bench-model-")
    try:
        for label, model in models.items():
            snap_ms, save_ms = [], []
            for i in range(repeats):
                start = time.process_time()
                frozen = flavor.snapshot(model)
                snap_ms.append((time.process_time() - start) * 1000)
                start = time.process_time()
                save_model(model, os.path.join(folder, f"{label}-{i}"), flavor=flavor,
                           snapshot=frozen)
                save_ms.append((time.process_time() - start) * 1000)
            print(f"model serialisation, {label} ({len(frozen) / 1024:.0f} KiB pickle): snapshot "
                  f"{statistics.median(snap_ms):.2f} ms CPU (training thread), model folder "
                  f"{statistics.median(save_ms):.2f} ms CPU (writer thread) per fit")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    from sklearn.datasets import load_breast_cancer, load_iris
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, train_test_split

    # One BLAS/OpenMP thread: on a shared machine, idle worker threads spinning would swamp
    # millisecond timings; the workloads are the same with autolog off and on.
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    fits = 8 if args.quick else 40
    repeats = 2 if args.quick else 5
    forest_pairs = 2 if args.quick else 15  # 0.2 s fits: the paired difference needs many
    with tempfile.TemporaryDirectory() as root:
        autolog.set_tracking_uri(root)
        print(f"python {sys.version.split()[0]}, scikit-learn {__import__('sklearn').__version__}")
        print(_bench.settle_disk(root, max_wait_s=0 if args.quick else 90))
        X, y = load_iris(return_X_y=True)

        def logistic() -> None:
            LogisticRegression(max_iter=500).fit(X, y)

        for label, settings in (("default settings (plots lazy)", {}),
                                ('plots="eager"', {"plots": "eager"}),
                                ("models, metrics and plots off",
                                 {"log_models": False, "log_post_training_metrics": False,
                                  "log_training_metrics": False, "plots": False})):
            _bench.print_pairs(f"LogisticRegression/iris, {label}",
                               _bench.paired_runs(logistic, _switch(**settings), fits),
                               target="target <= 5 ms wall, <= 10 ms CPU per fit durable"
                               if not settings else "")
        data = load_breast_cancer(return_X_y=True)
        _bench.print_pairs("RandomForestClassifier(100)/breast cancer", _bench.paired_runs(
            lambda: RandomForestClassifier(n_estimators=100, random_state=0).fit(*data),
            _switch(), forest_pairs), target="target <= x1.05 durable")
        X_train, _, y_train, _ = train_test_split(data[0], data[1], test_size=0.2, random_state=42)
        grid = {"n_estimators": [50, 100], "max_depth": [3, 5], "learning_rate": [0.01, 0.1]}
        _bench.print_pairs("tutorial GridSearchCV(GradientBoostingClassifier)", _bench.paired_runs(
            lambda: GridSearchCV(GradientBoostingClassifier(random_state=42), grid, cv=3,
                                 scoring="accuracy").fit(X_train, y_train),
            _switch(), max(1, repeats // 2 + 1), warmup=False), target="target <= x1.05 durable")
        print(f"disk by the end: a new folder + small file costs {_bench.disk_latency_us(root):.0f} us")
        model_cost({"LogisticRegression/iris": LogisticRegression(max_iter=500).fit(X, y),
                    "RandomForest(100)/breast cancer":
                        RandomForestClassifier(n_estimators=100, random_state=0).fit(*data)},
                   5 if args.quick else 20)
        lazy_reads(4 if args.quick else 10)
        _config._settings.pop("sklearn", None)


if __name__ == "__main__":
    main()
