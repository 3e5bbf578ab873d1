"""Overhead of Lightning autologging (per-epoch metrics, params, summary, model at the end): a
small MLP on 10,000 x 20 synthetic data, batch 64, CPU, one thread. Runs alternate off/on in
the same process; prints the median fit times and their ratio (target: under 1.03), then
autolog's own time on the training thread per fit (measured directly: the figure that does not
drown in the run-to-run noise of a shared machine).

    python benchmarks/bench_lightning.py [--epochs 20] [--repeats 5]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
import warnings

import torch
from torch.utils.data import DataLoader, TensorDataset

import _bench
import autolog

import lightning.pytorch as pl  # noqa: E402

HEADER = ("Lightning fit, {epochs} epochs x {steps} steps, batch 64, CPU, 1 thread, "
          "{repeats} alternating off/on repeats")
TARGET = 1.03

warnings.filterwarnings("ignore")  # num_workers advice and similar: not what is measured
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)


class MLP(pl.LightningModule):
    def __init__(self, hidden: int = 64, lr: float = 1e-3) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(20, hidden), torch.nn.ReLU(),
                                       torch.nn.Linear(hidden, hidden), torch.nn.ReLU(),
                                       torch.nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = torch.nn.functional.mse_loss(self(batch[0]), batch[1])
        self.log("train_loss", loss, on_step=True, on_epoch=True)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def fit(data: DataLoader, epochs: int) -> tuple[float, ...]:
    """(training-path wall, process CPU, durable-point wall, process CPU)."""
    pl.seed_everything(0, verbose=False)
    trainer = pl.Trainer(max_epochs=epochs, logger=False, enable_progress_bar=False,
                         enable_model_summary=False, enable_checkpointing=False, accelerator="cpu")
    model = MLP()
    start, cpu = time.perf_counter(), time.process_time()
    trainer.fit(model, data)
    path = time.perf_counter() - start, time.process_time() - cpu
    autolog.flush()  # the durable point: everything the run logged is committed
    return (*path, time.perf_counter() - start, time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    autolog.set_tracking_uri(tempfile.mkdtemp(prefix="bench-lightning-"))
    x, y = _bench.mlp_data()
    data = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True)
    fit(data, 1)  # warm-up, then once on: the store's creation and imports are not measured
    autolog.lightning.autolog()
    fit(data, 1)
    off: list[tuple[float, ...]] = []
    on: list[tuple[float, ...]] = []
    for _ in range(args.repeats):
        autolog.lightning.autolog(disable=True, silent=True)
        off.append(fit(data, args.epochs))
        autolog.lightning.autolog()
        on.append(fit(data, args.epochs))
    autolog.lightning.autolog(disable=True, silent=True)
    steps = args.epochs * ((len(x) + 63) // 64)
    print(HEADER.format(epochs=args.epochs, steps=steps // args.epochs, repeats=args.repeats))
    # CPU time of this process (training thread plus autolog's writer thread) is the figure to
    # trust on a shared machine; wall time is shown too, with every run so the noise is visible.
    _bench.print_ratios(off, on, steps, TARGET, (
        ("training path, process CPU time", 1), ("training path, wall time", 0),
        ("durable point (flush in the clock), process CPU time", 3),
        ("durable point, wall time", 2)))
    own_time(data, args.epochs, statistics.median(r[1] for r in off))


def own_time(data: DataLoader, epochs: int, baseline: float, fits: int = 2) -> None:
    """autolog's own time on the training thread per fit: the patched fit's hooks, every method
    of the callback and the run start/end, timed where they run."""
    from autolog.integrations import lightning as integration

    mixin = integration._CallbackMixin
    targets = [(integration, "_before_fit", "fit hooks"), (integration, "_after_fit", "fit hooks"),
               *((mixin, attr, "callback") for attr, value in list(vars(mixin).items())
                 if attr.startswith("on_") and callable(value))]

    def enable(on: bool) -> None:
        if on:
            autolog.lightning.autolog()
        else:
            autolog.lightning.autolog(disable=True, silent=True)

    total, detail = _bench.own_time(targets, enable, lambda: fit(data, epochs), fits,
                                    time.thread_time)
    print(f"autolog's own time on the training thread: {total * 1000:.1f} ms per fit = "
          f"{total / baseline * 100:.2f}% of a fit off ({detail}); its writer thread works "
          "beside it")


if __name__ == "__main__":
    main()
