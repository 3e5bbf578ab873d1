"""A Lightning classifier with a validation loop, EarlyStopping and ModelCheckpoint, autologged.

Run it, then look at the run: per-epoch ``train_loss``/``val_loss``/``val_acc``, the early
stopping params and metrics, ``checkpoints/best.ckpt`` and the final ``model``::

    python examples/lightning_early_stopping.py
"""

from __future__ import annotations

import warnings

import torch
from torch.utils.data import DataLoader, TensorDataset

import autolog

autolog.autolog()  # before or after `import lightning`: import order does not matter

import lightning.pytorch as pl  # noqa: E402
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint  # noqa: E402

# Tiny in-memory data needs no DataLoader workers; Lightning would advise some.
warnings.filterwarnings("ignore", ".*does not have many workers.*")


class Classifier(pl.LightningModule):
    def __init__(self, features: int = 10, hidden: int = 16, lr: float = 0.02) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(features, hidden), torch.nn.ReLU(),
                                       torch.nn.Linear(hidden, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        logits = self(x)
        self.log("val_loss", torch.nn.functional.cross_entropy(logits, y))
        self.log("val_acc", (logits.argmax(1) == y).float().mean())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def main() -> None:
    pl.seed_everything(7, verbose=False)
    x = torch.randn(600, 10)
    y = (x[:, 0] + x[:, 1] - x[:, 2] > 0).long()
    train = DataLoader(TensorDataset(x[:480], y[:480]), batch_size=32, shuffle=True)
    val = DataLoader(TensorDataset(x[480:], y[480:]), batch_size=64)
    trainer = pl.Trainer(
        max_epochs=10, logger=False, enable_progress_bar=False, enable_model_summary=False,
        callbacks=[EarlyStopping(monitor="val_loss", patience=2, min_delta=0.005),
                   ModelCheckpoint(monitor="val_loss", mode="min")])
    trainer.fit(Classifier(), train, val)
    run = autolog.last_active_run()
    print(f"run {run.info.run_id}: stopped at epoch {trainer.current_epoch}, "
          f"val_loss {run.data.metrics['val_loss']:.4f}")


if __name__ == "__main__":
    main()
