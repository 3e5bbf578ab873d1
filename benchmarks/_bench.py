"""Helpers shared by the benchmarks (imported from the benchmark's own folder:
``python benchmarks/bench_x.py`` puts it on ``sys.path``)."""

from __future__ import annotations

import statistics
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
