"""Overhead of scikit-learn autologging: the same fits with autolog off and on, in one process.

Prints:
1. the fixed per-fit overhead for LogisticRegression on iris (median of 50 fits after one
   warm-up fit), with default settings and with models, training and post-training metrics off;
2. the on/off time ratio of RandomForestClassifier(n_estimators=100) on breast cancer;
3. the on/off time ratio of the tutorial's GridSearchCV over GradientBoostingClassifier;
4. for scale, LogisticRegression fits back to back, where one fit's background work (mostly
   PNG rendering) overlaps the next fits.

Work autolog moves to its writer thread (model files, plots, estimator.html, child runs) is
not on the fit's path; it is timed separately as "background", by flushing after each fit
outside the timed region, so that one fit's background work does not land in the next one's
timing. Run: ``python benchmarks/bench_sklearn.py [--quick]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from typing import Any, Callable

import autolog
from autolog.integrations import _config


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _flush_time() -> float:
    return _timed(autolog.flush)


def _enable(**settings: Any) -> None:
    autolog.sklearn.autolog(silent=True, **settings)


def _disable() -> None:
    autolog.sklearn.autolog(disable=True, silent=True)


def per_fit_overhead(fits: int, **settings: Any) -> tuple[float, float, float, float]:
    """(median ms off, median ms on, median of paired on-off differences, median background
    ms) for LogisticRegression on iris. Each on fit is paired with the off fit just before it,
    so a change of machine load between pairs cancels out."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    off: list[float] = []
    on: list[float] = []
    background: list[float] = []
    for enabled in (False, True):  # one warm-up fit each
        (_enable(**settings) if enabled else _disable())
        LogisticRegression(max_iter=500).fit(X, y)
        autolog.flush()
    for _ in range(fits):
        _disable()
        off.append(_timed(lambda: LogisticRegression(max_iter=500).fit(X, y)))
        _enable(**settings)
        on.append(_timed(lambda: LogisticRegression(max_iter=500).fit(X, y)))
        background.append(_flush_time())
    _disable()
    ms = 1000.0
    paired = statistics.median(b - a for a, b in zip(off, on))
    return (statistics.median(off) * ms, statistics.median(on) * ms, paired * ms,
            statistics.median(background) * ms)


def back_to_back(fits: int) -> tuple[float, float, float]:
    """(ms per fit off, ms per fit on without waiting, ms per fit on including the final
    flush) for LogisticRegression fits run back to back, background work overlapping."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    _disable()
    off = _timed(lambda: [LogisticRegression(max_iter=500).fit(X, y) for _ in range(fits)])
    _enable()
    on = _timed(lambda: [LogisticRegression(max_iter=500).fit(X, y) for _ in range(fits)])
    drained = on + _flush_time()
    _disable()
    return off * 1000 / fits, on * 1000 / fits, drained * 1000 / fits


def ratio(make: Callable[[], Any], data: tuple[Any, Any], repeats: int) -> tuple[float, float, float, float]:
    """(median s off, median s on, ratio, median background s), alternating off and on."""
    X, y = data
    off: list[float] = []
    on: list[float] = []
    background: list[float] = []
    _enable()
    make().fit(X, y)  # warm-up: imports, first plots
    autolog.flush()
    for _ in range(repeats):
        _disable()
        off.append(_timed(lambda: make().fit(X, y)))
        _enable()
        on.append(_timed(lambda: make().fit(X, y)))
        background.append(_flush_time())
    _disable()
    m_off, m_on = statistics.median(off), statistics.median(on)
    return m_off, m_on, m_on / m_off, statistics.median(background)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.model_selection import GridSearchCV

    # One BLAS/OpenMP thread: on a shared machine, idle worker threads spinning would swamp
    # millisecond timings; the workloads are the same with autolog off and on.
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    fits = 10 if args.quick else 50
    repeats = 2 if args.quick else 5
    with tempfile.TemporaryDirectory() as root:
        autolog.set_tracking_uri(root)
        print(f"python {sys.version.split()[0]}, scikit-learn {__import__('sklearn').__version__}")
        off, on, extra, bg = per_fit_overhead(fits)
        print(f"LogisticRegression/iris, default settings: off {off:.2f} ms, on {on:.2f} ms, "
              f"overhead {extra:.2f} ms per fit (median of {fits} pairs); background {bg:.1f} ms")
        off, on, extra, bg = per_fit_overhead(fits, log_models=False,
                                              log_post_training_metrics=False,
                                              log_training_metrics=False)
        print(f"LogisticRegression/iris, models+metrics off: off {off:.2f} ms, on {on:.2f} ms, "
              f"overhead {extra:.2f} ms per fit (median of {fits} pairs); background {bg:.1f} ms")
        off, on, drained = back_to_back(fits)
        print(f"LogisticRegression/iris, {fits} fits back to back, default settings: off "
              f"{off:.2f} ms per fit, on {on:.2f} ms per fit ({drained:.2f} ms once the "
              f"background work is drained)")
        data = load_breast_cancer(return_X_y=True)
        m_off, m_on, r, bg = ratio(lambda: RandomForestClassifier(n_estimators=100, random_state=0),
                                   data, repeats)
        print(f"RandomForestClassifier(100)/breast cancer: off {m_off:.3f} s, on {m_on:.3f} s, "
              f"ratio {r:.3f} (median of {repeats}); background {bg:.3f} s")
        grid = {"n_estimators": [10, 20], "max_depth": [2, 3]}
        m_off, m_on, r, bg = ratio(
            lambda: GridSearchCV(GradientBoostingClassifier(random_state=0), grid, cv=3), data,
            max(1, repeats // 2 + 1))
        print(f"GridSearchCV(GradientBoostingClassifier)/breast cancer: off {m_off:.3f} s, "
              f"on {m_on:.3f} s, ratio {r:.3f}; background {bg:.3f} s")
        _config._settings.pop("sklearn", None)


if __name__ == "__main__":
    main()
