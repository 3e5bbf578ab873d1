"""Overhead of plain-PyTorch autologging (loss capture on every backward, optimizer hook on every
step): a small MLP on 10,000 x 20 synthetic data, batch 64, CPU, one thread (target: under 1.05).

Three figures, from the most to the least exposed to other load on the machine: whole 20-epoch
runs alternating off/on in one process (run start and end counted); adjacent off/on epochs of
one model (autolog switched between them); and autolog's own cost per step, timed on a step that
does almost nothing.

    python benchmarks/bench_torch.py [--epochs 20] [--repeats 9] [--interleaved 20]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

import _bench
import autolog

HEADER = ("plain PyTorch loop, {epochs} epochs x {steps} steps, batch 64, CPU, 1 thread, "
          "{repeats} alternating off/on repeats")
TARGET = 1.05


def train(x: torch.Tensor, y: torch.Tensor, epochs: int) -> tuple[float, ...]:
    """(training-path wall, process CPU, training-thread CPU, durable-point wall, process CPU)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(20, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64),
                                torch.nn.ReLU(), torch.nn.Linear(64, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    start, cpu, own = time.perf_counter(), time.process_time(), time.thread_time()
    for _ in range(epochs):
        for i in range(0, len(x), 64):
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x[i:i + 64]), y[i:i + 64])
            loss.backward()
            optimizer.step()
    path = time.perf_counter() - start, time.process_time() - cpu, time.thread_time() - own
    if autolog.active_run() is not None:
        autolog.end_run()
    autolog.flush()  # the durable point: everything the run logged is committed
    return (*path, time.perf_counter() - start, time.process_time() - cpu)


def per_step_cost(steps: int = 10_000) -> float:
    """Autolog's own cost per step, in seconds: a step whose backward and update do almost
    nothing, timed off and on. Less sensitive to other processes than the whole workload."""
    w = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=0.0)
    timings = {}
    for state in ("off", "on") * 4:
        if state == "on":
            autolog.pytorch.autolog(log_every_n_steps=10)
        else:
            autolog.pytorch.autolog(disable=True, silent=True)
        start = time.thread_time()
        for _ in range(steps):
            (w * 2.0).sum().backward()
            optimizer.step()
        timings.setdefault(state, []).append(time.thread_time() - start)
        if autolog.active_run() is not None:
            autolog.end_run()
    autolog.pytorch.autolog(disable=True, silent=True)
    return (min(timings["on"]) - min(timings["off"])) / steps


def interleaved(x: torch.Tensor, y: torch.Tensor, rounds: int) -> list[tuple[float, float]]:
    """Per-step time (training thread CPU) of adjacent epochs of one model, autolog switched off
    and on between them (order alternating; the run stays open): pairs taken a second apart see
    the same machine, so their ratio is the steadiest figure on a shared host."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(20, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64),
                                torch.nn.ReLU(), torch.nn.Linear(64, 1))
    autolog.pytorch.autolog(log_every_n_steps=10)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def epoch(on: bool) -> float:
        if on:
            autolog.pytorch.autolog(log_every_n_steps=10)
        else:
            autolog.pytorch.autolog(disable=True, silent=True)
        start = time.thread_time()
        for i in range(0, len(x), 64):
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x[i:i + 64]), y[i:i + 64])
            loss.backward()
            optimizer.step()
        return time.thread_time() - start

    epoch(True)
    pairs = []
    for r in range(rounds):
        if r % 2:
            on = epoch(True)
            off = epoch(False)
        else:
            off = epoch(False)
            on = epoch(True)
        pairs.append((off, on))
    autolog.pytorch.autolog(disable=True, silent=True)
    autolog.end_run()
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--interleaved", type=int, default=20, help="off/on epoch pairs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    autolog.set_tracking_uri(tempfile.mkdtemp(prefix="bench-torch-"))
    x, y = _bench.mlp_data()
    train(x, y, 1)  # warm-up, then once on: the store's creation and imports are not measured
    autolog.pytorch.autolog(log_every_n_steps=10)
    train(x, y, 1)
    off: list[tuple[float, ...]] = []
    on: list[tuple[float, ...]] = []
    for _ in range(args.repeats):
        autolog.pytorch.autolog(disable=True, silent=True)
        off.append(train(x, y, args.epochs))
        autolog.pytorch.autolog(log_every_n_steps=10)
        on.append(train(x, y, args.epochs))
    autolog.pytorch.autolog(disable=True, silent=True)
    steps = args.epochs * ((len(x) + 63) // 64)
    print(HEADER.format(epochs=args.epochs, steps=steps // args.epochs, repeats=args.repeats))
    # CPU time of this process (training thread plus autolog's writer thread) is the figure to
    # trust on a shared machine; wall time is shown too, with every run so the noise is visible.
    # The durable point has autolog.flush() inside the clock (the run's data committed).
    _bench.print_ratios(off, on, steps, TARGET, (
        ("training path, process CPU time", 1), ("training path, training thread CPU time", 2),
        ("training path, wall time", 0), ("durable point, process CPU time", 4),
        ("durable point, wall time", 3)))
    pairs = interleaved(x, y, args.interleaved)
    ratio = statistics.median(b / a for a, b in pairs)
    step_off = statistics.median(a for a, _ in pairs) / (len(x) // 64 + 1)
    print(f"interleaved: {len(pairs)} adjacent off/on epoch pairs of one model: median ratio "
          f"{ratio:.3f} (target < {TARGET}); {step_off * 1e6:.0f} us per step off, "
          f"{(ratio - 1) * step_off * 1e6:+.1f} us per step on")
    cost = per_step_cost()
    step_time = min(r[1] for r in off) / steps
    print(f"direct: autolog costs {cost * 1e6:.1f} us per step (backward + optimizer step); a step "
          f"of this workload takes {step_time * 1e6:.0f} us, so the expected ratio is "
          f"{1 + cost / step_time:.3f}")


if __name__ == "__main__":
    main()
