"""Per-fit overhead of the statsmodels integration: OLS on 10,000 x 10 synthetic data.

Run: ``python benchmarks/bench_statsmodels.py [--fits 60]``

Training path: the same ``model.fit()`` is timed with autolog off, on inside a user's run, and
on with a run per fit (the default: the fit starts and ends its own run), alternating fit by
fit in one process. After every fit an untimed ``autolog.flush()`` lets the writer thread finish
that fit's work (summary, files, model, SQLite) so that no fit is timed against the previous
one's background work; that flush time is printed as the writer's cost per fit.

Throughput: fits back to back with a run per fit, then one flush, against the same fits off:
what a tight loop of fits costs end to end, writer included (the writer's backlog is bounded,
so a long loop runs at the writer's pace).

Durable point: paired off/on fits with ``autolog.flush()`` inside the clock (everything the
fit recorded committed and written), wall and process CPU; issue 10's target (under 5 ms per
fit) is this figure.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
import warnings

# One BLAS thread: on a shared machine a multi-threaded fit's time swings with other processes'
# load far more than the few milliseconds measured here. Both settings get the same BLAS.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import _bench  # noqa: E402
import autolog  # noqa: E402
from autolog.integrations.statsmodels import results as reader  # noqa: E402
from autolog.integrations import statsmodels as integration  # noqa: E402
from autolog.models import save_model  # noqa: E402


def _ms(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1e3


def _wall_and_cpu(fn) -> tuple[float, float]:
    """Wall time and this thread's CPU time, in ms. The CPU time is what the fitting thread
    itself spent: on a machine shared with other jobs it is not inflated by their load."""
    wall, cpu = time.perf_counter(), time.thread_time()
    fn()
    return (time.perf_counter() - wall) * 1e3, (time.thread_time() - cpu) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fits", type=int, default=60, help="fits per setting")
    args = parser.parse_args()

    import statsmodels.api as sm

    rng = np.random.default_rng(0)
    X = rng.normal(size=(10_000, 10))
    y = X @ rng.normal(size=10) + rng.normal(size=10_000)
    model = sm.OLS(y, X)

    folder = tempfile.mkdtemp(prefix="autolog-bench-statsmodels-")
    autolog.set_tracking_uri(folder)
    warnings.simplefilter("ignore")  # an unrelated warning must not skew one setting
    times: dict[str, list[float]] = {k: [] for k in ("off", "user run", "own run", "writer")}
    cpu: dict[str, list[float]] = {k: [] for k in ("off", "user run", "own run")}
    paired: dict[str, list[float]] = {"user run": [], "own run": []}
    paired_cpu: dict[str, list[float]] = {"user run": [], "own run": []}
    try:
        model.fit()  # warm-up: imports, caches, the store's first connection
        autolog.statsmodels.autolog()
        model.fit()
        autolog.flush()
        with autolog.start_run() as user_run:
            autolog.log_param("bench", "statsmodels")
        order = ("off", "user run", "own run")
        for i in range(args.fits):
            # The order rotates, so that load on a shared machine hits every setting alike;
            # each "on" time is compared with the "off" fit next to it.
            sample: dict[str, tuple[float, float]] = {}
            for setting in order[i % 3:] + order[:i % 3]:
                if setting == "off":
                    autolog.statsmodels.autolog(disable=True)
                    sample[setting] = _wall_and_cpu(model.fit)
                    continue
                autolog.statsmodels.autolog()
                if setting == "user run":
                    autolog.start_run(run_id=user_run.info.run_id)
                    autolog.log_param("bench", "statsmodels")  # warms the run's param cache
                sample[setting] = _wall_and_cpu(model.fit)
                times["writer"].append(_ms(autolog.flush))
                if setting == "user run":
                    autolog.end_run()
            for setting, (wall, spent) in sample.items():
                times[setting].append(wall)
                cpu[setting].append(spent)
            for setting in paired:
                paired[setting].append(sample[setting][0] - sample["off"][0])
                paired_cpu[setting].append(sample[setting][1] - sample["off"][1])

        # Throughput: a loop of fits, each its own run, then one flush; the same loop off.
        loop = max(10, args.fits // 3)
        autolog.statsmodels.autolog(disable=True)
        loop_off = _ms(lambda: [model.fit() for _ in range(loop)]) / loop
        autolog.statsmodels.autolog()
        loop_on = _ms(lambda: ([model.fit() for _ in range(loop)], autolog.flush())) / loop

        # Durable point: fit and flush inside the clock, paired with an off fit.
        disk = _bench.settle_disk(folder)
        durable = _bench.paired_runs(
            model.fit, lambda on: autolog.statsmodels.autolog(disable=not on), args.fits,
            warmup=False)

        # Where the training-path time goes, each part on fresh results (statsmodels caches
        # what it computes, so a second call on the same results would cost nothing).
        autolog.statsmodels.autolog(disable=True)
        parts = {
            "metrics": reader.metrics,
            "coefficient table (writer thread)": reader.coefficients,
            "snapshot (pickle, arrays out of band)": integration._snapshot,
            "summary() as text (now on first read)": reader.summary_text,
            "model folder from the snapshot (writer)": lambda results: save_model(
                results, tempfile.mkdtemp(dir=folder) + "/model", flavor=integration.FLAVOR,
                snapshot=integration._snapshot(results)),
        }
        samples: dict[str, list[float]] = {name: [] for name in parts}
        for _ in range(30):
            for name, fn in parts.items():
                results = model.fit()
                samples[name].append(_ms(lambda: fn(results)))
        breakdown = {name: statistics.median(v) for name, v in samples.items()}

        # model_summary.txt is rendered from the logged model when first read, then cached.
        autolog.statsmodels.autolog()
        reads: dict[str, list[float]] = {"first": [], "later": []}
        for _ in range(10):
            model.fit()
            autolog.flush()
            run_id = autolog.search_runs(output_format="list", max_results=1,
                                         order_by=["attributes.start_time DESC"])[0].info.run_id
            for key in ("first", "later"):
                reads[key].append(_ms(lambda: autolog.artifacts.load_text(
                    f"runs:/{run_id}/{integration.SUMMARY_FILE}")))
        autolog.statsmodels.autolog(disable=True)
    finally:
        autolog.statsmodels.autolog(disable=True)
        shutil.rmtree(folder, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in times.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    over = {k: statistics.median(v) for k, v in paired.items()}
    over_cpu = {k: statistics.median(v) for k, v in paired_cpu.items()}
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    print(f"statsmodels OLS fit, 10,000 x 10: {args.fits} fits per setting, alternating; "
          f"medians; {os.cpu_count()} CPUs, load average {load}")
    print("  overhead = median of (on - the adjacent off); cpu = the fitting thread's CPU time")
    print(f"  {'':24s}{'wall':>9s}{'overhead':>10s}{'cpu':>9s}{'overhead':>10s}")
    print(f"  {'off':24s}{med['off']:7.2f}ms{'':10s}{med_cpu['off']:7.2f}ms")
    for setting, label in (("user run", "on, inside a user run"), ("own run", "on, a run per fit")):
        print(f"  {label:24s}{med[setting]:7.2f}ms{over[setting]:+8.2f}ms"
              f"{med_cpu[setting]:7.2f}ms{over_cpu[setting]:+8.2f}ms")
    print(f"  writer thread, per fit  {med['writer']:7.2f}ms  (flush after the fit returned)")
    print("  parts, on fresh results (median of 30, wall; the model folder includes its snapshot):")
    for name, ms in breakdown.items():
        print(f"    {name:38s}{ms:7.3f} ms")
    print(f"  reading model_summary.txt (median of 10): first read {statistics.median(reads['first']):.1f} ms "
          f"(loads the model, renders summary()), later reads {statistics.median(reads['later']):.2f} ms "
          "(targets <= 300 ms, <= 5 ms)")
    print(f"  loop of {loop} fits then flush, per fit: off {loop_off:.2f} ms, "
          f"on {loop_on:.2f} ms (writer included)")
    print(disk)
    _bench.print_pairs("statsmodels OLS 10,000 x 10, a run per fit (training path and durable "
                       "point, process CPU)", durable, target="target <= 5 ms per fit durable")
    worst, worst_cpu = max(over.values()), max(over_cpu.values())
    print(f"target < 5 ms overhead per fit on the training path: wall {worst:+.2f} ms "
          f"({'MET' if worst < 5 else 'MISSED'}), cpu {worst_cpu:+.2f} ms "
          f"({'MET' if worst_cpu < 5 else 'MISSED'})")


if __name__ == "__main__":
    main()
