"""Helpers shared by the benchmarks (imported from the benchmark's own folder:
``python benchmarks/bench_x.py`` puts it on ``sys.path``)."""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from typing import Any, Callable, Sequence


def timed(owner: Any, attr: str, label: str, spent: dict[str, float],
          clock: Callable[[], float] = time.perf_counter) -> None:
    """Replace ``owner.attr`` by a wrapper adding the time of each call to ``spent[label]``.

    Call it before enabling autolog: patch() captures hook functions when it installs them.
    """
    fn = getattr(owner, attr)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = clock()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[label] = spent.get(label, 0.0) + clock() - start

    setattr(owner, attr, wrapper)


def mlp_data() -> tuple[Any, Any]:
    """The issue's workload data: 10,000 x 20 synthetic regression rows (torch tensors)."""
    import torch

    g = torch.Generator().manual_seed(0)
    x = torch.randn(10_000, 20, generator=g)
    return x, x[:, :5].sum(1, keepdim=True) + 0.1 * torch.randn(10_000, 1, generator=g)


def print_ratios(off: Sequence[Sequence[float]], on: Sequence[Sequence[float]], steps: int,
                 target: float, columns: Sequence[tuple[str, int]]) -> None:
    """Each measure's off and on runs, and their on/off ratio three ways: of the medians, the
    median of the paired runs' ratios, and of the minima (on a shared machine, noise only ever
    adds time, so the pairs and the minima are the steadier figures)."""
    for label, index in columns:
        t_off, t_on = [r[index] for r in off], [r[index] for r in on]
        m_off, m_on = statistics.median(t_off), statistics.median(t_on)
        paired = statistics.median(b / a for a, b in zip(t_off, t_on))
        print(f"{label}: off median {m_off:.3f} s ({', '.join(f'{t:.2f}' for t in t_off)}); "
              f"on median {m_on:.3f} s ({', '.join(f'{t:.2f}' for t in t_on)})")
        print(f"  ratio on/off: of medians {m_on / m_off:.3f}, median of pairs {paired:.3f}, "
              f"of minima {min(t_on) / min(t_off):.3f}  (target < {target}); "
              f"per step {(m_on - m_off) / steps * 1e6:+.1f} us")


def own_time(targets: Sequence[tuple[Any, str, str]], enable: Callable[[bool], None],
             workload: Callable[[], None], runs: int,
             clock: Callable[[], float] = time.perf_counter) -> tuple[float, str]:
    """autolog's own time per run of ``workload``: each ``(owner, attr, label)`` of ``targets``
    plus the run start/end, timed where they run (a figure that the run-to-run noise of a loaded
    machine barely moves). Returns the total (seconds, median over ``runs``) and its parts
    written out. ``enable(on)`` switches the integration."""
    import autolog
    from autolog import _runs

    spent: dict[str, float] = {}
    enable(False)  # patch() captures hook functions when it installs them: wrap them before
    for owner, attr, label in [*targets, (_runs, "start_run", "run start/end"),
                               (_runs, "end_run", "run start/end")]:
        timed(owner, attr, label, spent, clock)
    enable(True)
    totals = []
    for _ in range(runs):
        spent.clear()
        workload()
        autolog.flush()
        totals.append(dict(spent))
    enable(False)
    parts = {k: statistics.median(t.get(k, 0.0) for t in totals) for k in totals[0]}
    return sum(parts.values()), ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in parts.items())


# -- the disk under the store ---------------------------------------------------------------------
# A durable point includes creating a run's folders and files. On a virtual disk (this project's
# 2-core VMs: ext4 mounted with online discard) creating a file or folder costs 15-50 us one
# minute and 400-1300 us of kernel CPU the next, after another process freed many files: enough to
# triple a run's writer time. The benchmarks print what the disk costs when they measure, and
# wait (a bounded time) for it to settle first, so that figures are compared on a known disk.

def disk_latency_us(folder: str, entries: int = 40) -> float:
    """Median microseconds to create a folder and a 300-byte file in it, under ``folder``."""
    scratch = tempfile.mkdtemp(prefix="disk-probe-", dir=folder)
    times = []
    try:
        for i in range(entries):
            start = time.perf_counter()
            sub = os.path.join(scratch, str(i))
            os.mkdir(sub)
            fd = os.open(os.path.join(sub, "f"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, b"x" * 300)
            os.close(fd)
            times.append(time.perf_counter() - start)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return statistics.median(times) * 1e6


def settle_disk(folder: str, quiet_us: float = 200.0, max_wait_s: float = 90.0) -> str:
    """Wait until creating a folder and a file under ``folder`` costs at most ``quiet_us``
    (or ``max_wait_s`` passed); return a line saying what the disk costs now."""
    waited = 0.0
    latency = disk_latency_us(folder)
    while latency > quiet_us and waited < max_wait_s:
        time.sleep(3.0)
        waited += 3.0
        latency = disk_latency_us(folder)
    note = f", after waiting {waited:.0f} s for it to settle" if waited else ""
    slow = "" if latency <= quiet_us else " (still slow: figures below include it)"
    return f"disk: a new folder + small file costs {latency:.0f} us{note}{slow}"


# -- training path and durable point -------------------------------------------------------------

def _clocks() -> tuple[float, float]:
    # process_time counts every thread of the process: the writer thread's work is included.
    return time.perf_counter(), time.process_time()


def paired_runs(workload: Callable[[], Any], enable: Callable[[bool], None], pairs: int,
                warmup: bool = True) -> dict[str, list[float]]:
    """Alternate ``pairs`` off and on runs of ``workload`` in this process.

    Each on run is clocked at two points: when ``workload`` returns (the training path) and
    when ``autolog.flush()`` returns (the durable point: everything the run recorded is
    committed and its files written). The off run flushes inside its clock too (a no-op with
    autolog off), so both sides run the same code. Wall time and process CPU (all threads, so
    the writer thread's work counts). ``enable(on)`` switches autolog.
    """
    import autolog

    if warmup:  # imports, thread pools, first-use caches: not what is measured
        for state in (False, True):
            enable(state)
            workload()
            autolog.flush()
    keys = ("off_wall", "off_cpu", "path_wall", "path_cpu", "durable_wall", "durable_cpu")
    out: dict[str, list[float]] = {k: [] for k in keys}
    for _ in range(pairs):
        enable(False)
        autolog.flush()
        w0, c0 = _clocks()
        workload()
        autolog.flush()
        w1, c1 = _clocks()
        out["off_wall"].append(w1 - w0)
        out["off_cpu"].append(c1 - c0)
        enable(True)
        w0, c0 = _clocks()
        workload()
        w1, c1 = _clocks()
        autolog.flush()
        w2, c2 = _clocks()
        out["path_wall"].append(w1 - w0)
        out["path_cpu"].append(c1 - c0)
        out["durable_wall"].append(w2 - w0)
        out["durable_cpu"].append(c2 - c0)
    enable(False)
    return out


def print_pairs(label: str, runs: dict[str, list[float]], per: int = 1,
                target: str = "") -> dict[str, float]:
    """Print the off time and autolog's overhead at both points, wall and CPU: the median of
    the paired (on - off) differences per unit of work (``per`` fits in one run), and the
    median of the paired on/off ratios. Returns the figures printed (ms and ratios)."""
    med = statistics.median
    off_w, off_c = med(runs["off_wall"]) * 1000 / per, med(runs["off_cpu"]) * 1000 / per
    figures = {"off_ms": off_w, "off_cpu_ms": off_c}
    print(f"{label}: off {off_w:.2f} ms wall, {off_c:.2f} ms CPU"
          f"{' per fit' if per > 1 else ''} ({len(runs['off_wall'])} pairs){'; ' + target if target else ''}")
    for point, name in (("path", "training path"), ("durable", "durable point")):
        extra = {}
        for clock in ("wall", "cpu"):
            on, off = runs[f"{point}_{clock}"], runs[f"off_{clock}"]
            extra[clock] = (med(b - a for a, b in zip(off, on)) * 1000 / per,
                            med(b / a for a, b in zip(off, on) if a > 0) if any(off) else float("nan"))
        figures[f"{point}_ms"], figures[f"{point}_ratio"] = extra["wall"]
        figures[f"{point}_cpu_ms"], figures[f"{point}_cpu_ratio"] = extra["cpu"]
        print(f"  {name + ':':15s} {extra['wall'][0]:+9.2f} ms wall (x{extra['wall'][1]:.3f}), "
              f"{extra['cpu'][0]:+9.2f} ms CPU (x{extra['cpu'][1]:.3f})")
    return figures


def search_rows(experiment_id: str, n_runs: int) -> dict[str, list[dict[str, Any]]]:
    """Rows of ``n_runs`` finished runs for the search benchmarks, by table name: two params
    (model, depth), a tag (phase) and two metrics (accuracy, loss) each, seeded for repeatability.
    ``latest_metrics`` and ``metrics`` hold the same rows."""
    import random
    import uuid

    rng = random.Random(0)
    now = int(time.time() * 1000)
    runs, params, tags, metrics = [], [], [], []
    for i in range(n_runs):
        rid = uuid.uuid4().hex
        runs.append({"run_id": rid, "experiment_id": int(experiment_id), "run_name": f"r{i}",
                     "status": "FINISHED", "start_time": now + i, "end_time": now + i + 1,
                     "artifact_uri": "", "lifecycle_stage": "active", "user_id": "u"})
        params += [{"run_id": rid, "key": "model", "value": rng.choice(["rf", "lr", "svm", "gb"])},
                   {"run_id": rid, "key": "depth", "value": str(rng.randint(1, 10))}]
        tags += [{"run_id": rid, "key": "phase", "value": rng.choice(["tuning", "baseline"])}]
        for key in ("accuracy", "loss"):
            metrics.append({"run_id": rid, "key": key, "value": rng.random(), "is_nan": False,
                            "timestamp": now, "step": 0})
    return {"runs": runs, "params": params, "tags": tags, "latest_metrics": metrics,
            "metrics": metrics}
