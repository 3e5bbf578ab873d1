"""Overhead of Keras autologging: a small MLP on 10,000 x 20 synthetic data, batch 64, CPU.

Runs the same seeded fit with autolog off and on, alternating (off, on, off, on, ...) so that
drift in machine load hits both alike, and prints the median wall times and their ratio, for
per-epoch logging (the default; target < 1.03) and, for information, with
``log_every_n_steps=10``. Each "on" fit includes everything autolog does for it: run start/end,
params, dataset fingerprint, model summary, the model snapshot and the per-epoch metrics.

Usage: python benchmarks/bench_keras.py [--epochs 20] [--repeats 3] [--threads 1]

Wall and CPU time (this process, all threads, so the writer thread's work counts) are both
printed: on a shared machine other load moves wall time by far more than autolog costs, and
CPU time is the steadier measure; read the fixed cost per fit alongside the ratios. Each is
given at the training path (``fit`` returned) and at the durable point (``autolog.flush()``
inside the clock).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported; no TensorFlow needed

import keras  # noqa: E402
import numpy as np  # noqa: E402

import _bench  # noqa: E402
import autolog  # noqa: E402

# Keras 3.15 + numpy 2: numpy's note that Keras' Variable.__array__ lacks `copy` (not ours).
warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)


def _fit(x: np.ndarray, y: np.ndarray, epochs: int) -> tuple[float, ...]:
    """(training-path wall, process CPU, durable-point wall, process CPU)."""
    """(wall seconds, CPU seconds of this process, all threads: the writer's work counts)."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input(shape=(x.shape[1],)),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(1),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="mse", metrics=["mae"])
    start, start_cpu = time.perf_counter(), time.process_time()
    model.fit(x, y, epochs=epochs, batch_size=64, verbose=0)
    path = time.perf_counter() - start, time.process_time() - start_cpu
    autolog.flush()  # the durable point: everything the fit recorded is committed
    return (*path, time.perf_counter() - start, time.process_time() - start_cpu)


_spent: dict[str, float] = {}


def _time_hooks() -> None:
    """Count the time spent in the integration's per-epoch and per-batch logging functions
    (looked up by name at each call), a figure that machine load barely moves."""
    from autolog.integrations import keras as integration

    for name in ("_log_epoch", "_log_batch"):
        _bench.timed(integration, name, "hooks", _spent)


def _measure(x: np.ndarray, y: np.ndarray, epochs: int, repeats: int, settings: dict[str, Any],
             ) -> tuple[list[tuple[float, ...]], list[tuple[float, ...]], float]:
    """(off fits, on fits, median seconds per on fit in the logging hooks)."""
    off: list[tuple[float, ...]] = []
    on: list[tuple[float, ...]] = []
    hooks: list[float] = []
    for _ in range(repeats):
        autolog.keras.autolog(disable=True, silent=True)
        off.append(_fit(x, y, epochs))
        autolog.keras.autolog(silent=True, **settings)
        _spent.clear()
        on.append(_fit(x, y, epochs))
        hooks.append(_spent.get("hooks", 0.0))
        autolog.flush()  # the writer's backlog is not left to slow the next "off" fit
    autolog.keras.autolog(disable=True, silent=True)
    return off, on, statistics.median(hooks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (0: torch's default); 1 resists contention best")
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(10_000, 20)).astype("float32")
    y = (x @ rng.normal(size=20) + 0.1 * rng.normal(size=10_000)).astype("float32")
    with tempfile.TemporaryDirectory(prefix="autolog-bench-keras-") as store:
        autolog.set_tracking_uri(store)
        _time_hooks()
        # Warm-up, on and off: imports, kernels and first-call costs of both paths.
        for enabled in (True, False):
            autolog.keras.autolog(disable=not enabled, silent=True)
            _fit(x[:640], y[:640], 1)
        print(f"keras {keras.__version__} ({keras.backend.backend()} backend), torch "
              f"{torch.__version__}, {torch.get_num_threads()} threads; 10,000 x 20, batch 64, "
              f"{args.epochs} epochs, {args.repeats} alternating off/on pairs, medians")
        cases: tuple[tuple[str, dict[str, Any]], ...] = (
            ("per-epoch logging", {}), ("log_every_n_steps=10", {"log_every_n_steps": 10}))
        for label, settings in cases:
            off, on, in_hooks = _measure(x, y, args.epochs, args.repeats, settings)
            for kind, i in (("wall", 0), ("CPU", 1), ("durable wall", 2), ("durable CPU", 3)):
                a, b = [t[i] for t in off], [t[i] for t in on]
                print(f"{label:<22} {kind:<12} off {statistics.median(a):7.3f} s   "
                      f"on {statistics.median(b):7.3f} s   "
                      f"ratio {statistics.median(b) / statistics.median(a):.3f} "
                      f"(best-of ratio {min(b) / min(a):.3f})")
            print(f"{label:<22} time in epoch/batch logging hooks {1000 * in_hooks:.2f} ms per fit "
                  f"({100 * in_hooks / statistics.median(t[0] for t in on):.3f} % of its wall time)")
        # The fixed cost of a fit (run, params, dataset fingerprint, summary, model snapshot),
        # from many tiny fits, where it is large enough to stand out of the noise.
        tiny_off, tiny_on, _ = _measure(x[:640], y[:640], 1, 4 * args.repeats, {})
        for kind, i in (("wall", 0), ("CPU", 1), ("durable wall", 2), ("durable CPU", 3)):
            base = statistics.median(t[i] for t in tiny_off)
            logged = statistics.median(t[i] for t in tiny_on)
            print(f"fixed cost per fit     {kind:<12} {1000 * (logged - base):.1f} ms "
                  f"(1-epoch fit of 640 rows: off {1000 * base:.1f} ms, on {1000 * logged:.1f} ms)")


if __name__ == "__main__":
    main()
