"""Overhead of autologging on XGBoost and LightGBM training (issue 4's benchmark).

Workload: 200 boosting rounds with one eval set on 20,000 x 50 synthetic data (binary
classification), 2 threads. Each timed run builds the data containers (DMatrix / Dataset, where
autolog fingerprints the data) and trains; autolog off and on alternate, repeated, medians
compared. Each on run is clocked when training returns (the training path) and when
``autolog.flush()`` returns (the durable point: model file, importance JSON and plot specs
written), in wall time and process CPU.

    python benchmarks/bench_boosting.py [--reps 5] [--rounds 200] [--framework xgboost]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

import numpy as np

import _bench
import autolog


def data(rows: int = 20_000, cols: int = 50) -> tuple[Any, Any, Any, Any]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, cols)).astype(np.float32)
    w = rng.normal(size=cols)
    y = ((X @ w + rng.normal(scale=2.0, size=rows)) > 0).astype(np.float32)
    cut = int(rows * 0.8)
    return X[:cut], y[:cut], X[cut:], y[cut:]


def xgboost_workload(rounds: int) -> Callable[[], None]:
    import xgboost as xgb

    X, y, Xv, yv = data()
    params = {"objective": "binary:logistic", "eval_metric": "logloss", "nthread": 2,
              "max_depth": 6, "eta": 0.1, "tree_method": "hist"}

    def run() -> None:
        dtrain, dvalid = xgb.DMatrix(X, y), xgb.DMatrix(Xv, yv)
        xgb.train(params, dtrain, rounds, evals=[(dvalid, "validation")], verbose_eval=False)

    return run


def lightgbm_workload(rounds: int) -> Callable[[], None]:
    import lightgbm as lgb

    X, y, Xv, yv = data()
    params = {"objective": "binary", "metric": "binary_logloss", "num_threads": 2,
              "num_leaves": 31, "learning_rate": 0.1, "verbose": -1}

    def run() -> None:
        train_set = lgb.Dataset(X, y)
        valid_set = lgb.Dataset(Xv, yv, reference=train_set)
        lgb.train(params, train_set, rounds, valid_sets=[valid_set])

    return run


def measure(name: str, enable: Callable[[bool], None], workload: Callable[[], None],
            reps: int) -> float:
    """Paired off/on runs (``_bench.paired_runs``): autolog's overhead at the training path
    and at the durable point (``autolog.flush()`` inside the clock: the model file, the
    importance JSON and plot specs written), wall and CPU. Returns the median time off."""
    runs = _bench.paired_runs(workload, enable, reps)
    figures = _bench.print_pairs(name, runs, target="target <= x1.05 durable")
    return figures["off_ms"] / 1000


def own_time(name: str, module: Any, hooks: tuple[str, ...], enable: Callable[[bool], None],
             workload: Callable[[], None], baseline: float, calls: int = 3) -> None:
    """Time spent in autolog's own code on the training thread, per call: the hooks, the
    per-iteration recording and the run start/end (measured directly, so the figure does not
    drown in the run-to-run noise of a loaded machine)."""
    from autolog.integrations import _boosting

    targets = [*((module, hook, "hooks") for hook in hooks),
               (_boosting.Tracker, "record", "per-iteration")]
    total, detail = _bench.own_time(targets, enable, workload, calls)
    print(f"{name}: autolog's own time on the training thread {total * 1000:.1f} ms per call "
          f"= {total / baseline * 100:.2f}% of the call off ({detail})")


def per_round_cost(rounds: int = 5000, metrics: int = 4) -> None:
    """What the callback adds per boosting round: recording ``metrics`` values."""
    from autolog.integrations._boosting import Tracker

    autolog.set_tracking_uri(os.path.join(tempfile.mkdtemp(prefix="bench-boosting-"), "runs"))
    with autolog.start_run(run_name="per-round-cost") as run:
        tracker = Tracker(run)
        names = [("validation", "-", f"metric{i}") for i in range(metrics)]
        start = time.perf_counter()
        for step in range(rounds):
            tracker.record(step, {tracker.key(*n): 0.5 for n in names})
        elapsed = time.perf_counter() - start
    autolog.flush()
    print(f"per-round logging: {elapsed / rounds * 1e6:.1f} us per round with {metrics} metrics "
          f"({rounds} rounds: {elapsed * 1000:.1f} ms in all)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--framework", choices=("xgboost", "lightgbm", "both"), default="both")
    args = parser.parse_args()
    if args.framework == "both":
        # One process per library: with both loaded, their OpenMP runtimes fight (on a 2-core
        # machine XGBoost with nthread=2 ran 8x slower once lightgbm was imported, autolog or not).
        print(f"{args.rounds} rounds, 20,000 x 50 (80% train, 20% eval), 2 threads, "
              f"{os.cpu_count()} CPUs")
        for framework in ("xgboost", "lightgbm"):
            subprocess.run([sys.executable, __file__, "--framework", framework,
                            "--reps", str(args.reps), "--rounds", str(args.rounds)], check=True)
        per_round_cost()
        return
    autolog.set_tracking_uri(os.path.join(tempfile.mkdtemp(prefix="bench-boosting-"), "runs"))
    if args.framework == "xgboost":
        import xgboost

        from autolog.integrations import xgboost as integration

        name = f"xgboost {xgboost.__version__} train "
        enable = lambda on: autolog.xgboost.autolog(disable=not on, silent=True)  # noqa: E731
        workload = xgboost_workload(args.rounds)
        hooks: tuple[str, ...] = ("_dmatrix_after", "_log_native_inputs", "_finish")
    else:
        import lightgbm

        from autolog.integrations import lightgbm as integration  # type: ignore[no-redef]

        name = f"lightgbm {lightgbm.__version__} train"
        enable = lambda on: autolog.lightgbm.autolog(disable=not on, silent=True)  # noqa: E731
        workload = lightgbm_workload(args.rounds)
        hooks = ("_log_native_inputs", "_finish")
    baseline = measure(name, enable, workload, args.reps)
    own_time(name, integration, hooks, enable, workload, baseline)

if __name__ == "__main__":
    main()
