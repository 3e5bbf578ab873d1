"""PyTorch Lightning integration: tiny models on synthetic data, CPU, a few epochs."""

from __future__ import annotations

import functools
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

import autolog
from autolog.errors import AutologWarning
from tests.conftest import require

pytestmark = pytest.mark.filterwarnings(
    # Lightning advises more DataLoader workers; tiny in-memory test data needs none.
    "ignore:.*does not have many workers.*",
    # Four batches per epoch is below Lightning's default logging interval of 50.
    "ignore:The number of training batches .* is smaller than the logging interval",
    # Lightning 2.6's _pytree uses an API that torch 2.13 deprecates. Not ours.
    "ignore:.*isinstance\\(treespec, LeafSpec\\).* is deprecated:FutureWarning",
)

ROOT = Path(__file__).resolve().parents[2]
TRAINER_QUIET = dict(enable_progress_bar=False, enable_model_summary=False, logger=False,
                     enable_checkpointing=False)


@functools.cache
def _lib() -> SimpleNamespace:
    """The Lightning classes the tests share (built once, after Lightning is imported)."""
    torch = require("torch")
    pl = require("lightning.pytorch")
    from torch.utils.data import DataLoader, TensorDataset

    class Regressor(pl.LightningModule):
        def __init__(self, hidden: int = 8, lr: float = 0.05, constant_val: bool = False) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.net = torch.nn.Sequential(torch.nn.Linear(4, hidden), torch.nn.ReLU(),
                                           torch.nn.Linear(hidden, 1))

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self(x), y)
            self.log("train_loss", loss, on_step=True, on_epoch=True)
            return loss

        def validation_step(self, batch, batch_idx):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self(x), y)
            self.log("val_loss", torch.ones(()) if self.hparams.constant_val else loss)
            self.log("val_mae", (self(x) - y).abs().mean())

        def test_step(self, batch, batch_idx):
            x, y = batch
            self.log("test_loss", torch.nn.functional.mse_loss(self(x), y))

        def configure_optimizers(self):
            optimizer = torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
            return {"optimizer": optimizer,
                    "lr_scheduler": torch.optim.lr_scheduler.StepLR(optimizer, 1, gamma=0.5)}

    class TwoOptimizers(pl.LightningModule):
        """Manual optimization, two optimizers each stepping once per batch."""

        def __init__(self) -> None:
            super().__init__()
            self.automatic_optimization = False
            self.a = torch.nn.Linear(4, 1)
            self.b = torch.nn.Linear(4, 1)

        def forward(self, x):
            return self.a(x) + self.b(x)

        def training_step(self, batch, batch_idx):
            x, y = batch
            opt_a, opt_b = self.optimizers()
            for name, layer, opt in (("loss_a", self.a, opt_a), ("loss_b", self.b, opt_b)):
                loss = torch.nn.functional.mse_loss(layer(x), y)
                opt.zero_grad()
                self.manual_backward(loss)
                opt.step()
                self.log(name, loss)

        def configure_optimizers(self):
            return [torch.optim.SGD(self.a.parameters(), lr=0.1),
                    torch.optim.Adam(self.b.parameters(), lr=0.01)]

    class Recorder(pl.Callback):
        """A user callback recording what Lightning reports at each epoch end."""

        def __init__(self) -> None:
            self.epochs: list[dict[str, float]] = []
            self.fit_ends = 0

        def on_train_epoch_end(self, trainer, pl_module):
            self.epochs.append({k: float(v) for k, v in trainer.callback_metrics.items()})

        def on_fit_end(self, trainer, pl_module):
            self.fit_ends += 1

    def loader(n: int = 64, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(n, 4, generator=g)
        return DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=16)

    return SimpleNamespace(torch=torch, pl=pl, Regressor=Regressor, TwoOptimizers=TwoOptimizers,
                           Recorder=Recorder, loader=loader)


@pytest.fixture
def lib() -> SimpleNamespace:
    return _lib()


def _only_run():
    autolog.flush()
    runs = autolog.search_runs(output_format="list")
    assert len(runs) == 1, [r.data.tags for r in runs]
    return runs[0]


def _history(run, key):
    return [(m.step, m.value) for m in autolog.Client().get_metric_history(run.info.run_id, key)]


def test_epoch_metrics_params_and_user_callbacks_and_loggers(lib, tmp_path):
    from lightning.pytorch.loggers import CSVLogger

    autolog.lightning.autolog()
    recorder = lib.Recorder()
    callbacks = [recorder]
    trainer = lib.pl.Trainer(max_epochs=3, callbacks=callbacks, enable_progress_bar=False,
                             enable_model_summary=False, enable_checkpointing=False,
                             logger=CSVLogger(tmp_path / "csv"), accumulate_grad_batches=1)
    lib.torch.manual_seed(0)
    trainer.fit(lib.Regressor(hidden=8, lr=0.05), lib.loader(), lib.loader(32, seed=1))

    run = _only_run()
    assert run.data.tags["autolog.integration"] == "lightning"
    assert run.info.status == "FINISHED"
    # One point per epoch per metric, the values Lightning reported; the sanity check is not logged.
    for key in ("val_loss", "val_mae", "train_loss_epoch"):
        assert _history(run, key) == [(e, pytest.approx(m[key])) for e, m in enumerate(recorder.epochs)]
    assert [v for _, v in _history(run, "learning_rate")] == pytest.approx([0.05, 0.025, 0.0125])
    params = run.data.params
    assert params["hidden"] == "8" and params["lr"] == "0.05" and params["constant_val"] == "False"
    assert params["epochs"] == params["max_epochs"] == "3"
    assert params["accumulate_grad_batches"] == "1" and params["precision"] == "32-true"
    assert params["optimizer_name"] == "Adam" and params["optimizer.lr"] == "0.05"
    assert params["optimizer.betas"] == "(0.9, 0.999)"
    assert params["scheduler_name"] == "StepLR" and params["scheduler.gamma"] == "0.5"
    files = {f.path for f in autolog.Client().list_artifacts(run.info.run_id)}
    assert {"model_summary.txt", "model"} <= files
    # The user's callback and logger got everything; our callback was on a copy of the list.
    assert len(recorder.epochs) == 3 and recorder.fit_ends == 1
    assert callbacks == [recorder]
    assert not any(type(cb).__name__.startswith("AutologCallback") for cb in trainer.callbacks)
    csv_rows = (Path(trainer.logger.log_dir) / "metrics.csv").read_text().splitlines()
    header = csv_rows[0].split(",")
    val_col = header.index("val_loss")
    assert sum(1 for row in csv_rows[1:] if row.split(",")[val_col]) == 3


def test_early_stopping_checkpoint_and_model_round_trip(lib, tmp_path):
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    autolog.lightning.autolog()
    stopper = EarlyStopping(monitor="val_loss", mode="min", patience=1, min_delta=0.01)
    checkpointer = ModelCheckpoint(dirpath=tmp_path / "ckpt", monitor="val_mae", mode="min")
    trainer = lib.pl.Trainer(max_epochs=6, callbacks=[stopper, checkpointer], enable_progress_bar=False,
                             enable_model_summary=False, logger=False)
    lib.torch.manual_seed(0)
    model = lib.Regressor(hidden=6, constant_val=True)
    trainer.fit(model, lib.loader(), lib.loader(32, seed=1))

    run = _only_run()
    params, metrics = run.data.params, run.data.metrics
    assert (params["monitor"], params["mode"], params["patience"], params["min_delta"]) == \
        ("val_loss", "min", "1", "0.01")
    assert stopper.stopped_epoch == 1  # a constant val_loss stops after one epoch of patience
    assert metrics["stopped_epoch"] == 1 and metrics["wait_count"] == stopper.wait_count
    assert metrics["best_score"] == pytest.approx(1.0)
    assert params["checkpoint_monitor"] == "val_mae"
    assert metrics["best_checkpoint_score"] == pytest.approx(float(checkpointer.best_model_score))
    client = autolog.Client()
    assert [f.path for f in client.list_artifacts(run.info.run_id, "checkpoints")] == ["checkpoints/best.ckpt"]
    copied = Path(run.info.artifact_uri) / "checkpoints" / "best.ckpt"
    assert copied.read_bytes() == Path(checkpointer.best_model_path).read_bytes()

    x = lib.torch.randn(5, 4)
    restored = lib.Regressor.load_from_checkpoint(copied).eval()
    original = lib.Regressor.load_from_checkpoint(checkpointer.best_model_path).eval()
    assert lib.torch.equal(restored(x), original(x))
    loaded = autolog.load_model(f"runs:/{run.info.run_id}/model")
    assert type(loaded).__name__ == "Regressor" and loaded.hparams.hidden == 6
    assert lib.torch.equal(loaded(x), model.eval()(x))
    signature = autolog.models.get_model_info(f"runs:/{run.info.run_id}/model").signature
    assert signature.inputs[0]["shape"] == [-1, 4] and signature.outputs[0]["shape"] == [-1, 1]


def test_step_logging_with_two_optimizers(lib):
    autolog.lightning.autolog(log_every_n_step=2)
    trainer = lib.pl.Trainer(max_epochs=2, **TRAINER_QUIET)
    trainer.fit(lib.TwoOptimizers(), lib.loader())  # 4 batches x 2 epochs, 2 optimizer steps each

    run = _only_run()
    assert trainer.global_step == 16
    # Every 2 batches (not every 2 optimizer calls), at the global step.
    assert [s for s, _ in _history(run, "loss_a")] == [4, 8, 12, 16]
    assert [s for s, _ in _history(run, "loss_b")] == [4, 8, 12, 16]
    params = run.data.params
    assert (params["optimizer_0_name"], params["optimizer_1_name"]) == ("SGD", "Adam")
    assert (params["optimizer_0.lr"], params["optimizer_1.lr"]) == ("0.1", "0.01")
    assert "optimizer_name" not in params
    assert _history(run, "learning_rate_0") == [(0, 0.1), (1, 0.1)]
    assert _history(run, "learning_rate_1") == [(0, 0.01), (1, 0.01)]


def test_callback_has_no_per_batch_hooks_unless_step_logging(lib):
    # Lightning calls every callback's per-batch hooks at every step (each in a profiler context)
    # and skips one that is not callable: without step logging ours cost nothing per batch.
    per_batch = ("on_train_batch_start", "on_train_batch_end", "on_before_backward",
                 "on_after_backward", "on_before_optimizer_step", "on_before_zero_grad",
                 "on_validation_batch_start", "on_validation_batch_end")
    callback = autolog.lightning.AutologCallback()
    assert not any(callable(getattr(callback, hook)) for hook in per_batch)
    assert not callable(pickle.loads(pickle.dumps(callback)).on_train_batch_end)
    callback._bind(None, {"log_every_n_step": 2})
    assert callable(callback.on_train_batch_end)
    assert callable(pickle.loads(pickle.dumps(callback)).on_train_batch_end)


def test_validate_and_test_after_fit_log_into_the_fit_run(lib):
    autolog.lightning.autolog()
    trainer = lib.pl.Trainer(max_epochs=2, **TRAINER_QUIET)
    model = lib.Regressor()
    trainer.fit(model, lib.loader(), lib.loader(32, seed=1))
    results = trainer.test(model, lib.loader(32, seed=2), verbose=False)
    lib.pl.Trainer(**TRAINER_QUIET).validate(model, lib.loader(32, seed=3), verbose=False)

    run = _only_run()
    assert _history(run, "test_loss") == [(2, pytest.approx(results[0]["test_loss"]))]
    assert [s for s, _ in _history(run, "val_loss")] == [0, 1, 2]


def test_user_run_and_user_added_callback(lib):
    autolog.lightning.autolog()
    seen = []

    class Counter(lib.pl.Callback):
        def on_train_start(self, trainer, pl_module):
            seen.append(sum(isinstance(cb, autolog.lightning.AutologCallback) for cb in trainer.callbacks))

    mine = autolog.lightning.AutologCallback()
    assert isinstance(pickle.loads(pickle.dumps(mine)), autolog.lightning.AutologCallback)
    with autolog.start_run(run_name="mine") as active:
        autolog.log_param("note", "user")
        trainer = lib.pl.Trainer(max_epochs=2, callbacks=[mine, Counter()], **TRAINER_QUIET)
        trainer.fit(lib.Regressor(), lib.loader(), lib.loader(32, seed=1))
    assert seen == [1]  # the user's own autolog callback was used, not a second one
    run = _only_run()
    assert run.info.run_id == active.info.run_id and run.data.params["note"] == "user"
    assert [s for s, _ in _history(run, "val_loss")] == [0, 1]


def test_pytorch_lightning_namespace(lib):
    pl_old = require("pytorch_lightning")
    torch = lib.torch
    autolog.autolog()

    class Tiny(pl_old.LightningModule):
        def __init__(self, lr: float = 0.1) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.layer = torch.nn.Linear(4, 1)

        def forward(self, x):
            return self.layer(x)

        def training_step(self, batch, batch_idx):
            loss = torch.nn.functional.mse_loss(self(batch[0]), batch[1])
            self.log("loss", loss, on_epoch=True, on_step=False)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    trainer = pl_old.Trainer(max_epochs=2, **TRAINER_QUIET)
    model = Tiny()
    trainer.fit(model, lib.loader())
    run = _only_run()  # one run: no torch run from the backward calls inside the fit
    assert run.data.tags["autolog.integration"] == "lightning"
    assert run.data.params["optimizer_name"] == "SGD" and run.data.params["lr"] == "0.1"
    assert len(_history(run, "loss")) == 2
    x = torch.randn(3, 4)
    assert torch.equal(autolog.load_model(f"runs:/{run.info.run_id}/model")(x), model.eval()(x))


INJECTION_POINTS = [
    ("callback", "_log_setup"), ("callback", "_capture_sample"), ("callback", "_log_step"),
    ("callback", "_log_epoch"), ("callback", "_read_lrs"), ("callback", "_log_end"), ("common", "log_model"),
    ("common", "in_background"), ("module", "_callback_class"), ("runs", "start_run"),
]


def test_fault_injection_never_breaks_training(lib, monkeypatch):
    """Each logging step raising in turn: a warning, and the same trained weights."""
    from autolog import _runs
    from autolog.integrations import _common, lightning

    monkeypatch.setenv("AUTOLOG_STRICT", "0")

    def train():
        lib.pl.seed_everything(0, verbose=False)
        model = lib.Regressor()
        trainer = lib.pl.Trainer(max_epochs=2, **TRAINER_QUIET)
        trainer.fit(model, lib.loader(), lib.loader(32, seed=1))
        return [p.detach().clone() for p in model.parameters()]

    baseline = train()
    owners = {"callback": lightning._CallbackMixin, "common": _common, "module": lightning,
              "runs": _runs}

    def boom(*args, **kwargs):
        raise RuntimeError("injected")

    for owner, attr in INJECTION_POINTS:
        autolog.lightning.autolog(log_every_n_step=1)
        with monkeypatch.context() as m:
            m.setattr(owners[owner], attr, boom)
            with pytest.warns(AutologWarning, match="injected"):
                weights = train()
        assert all(lib.torch.equal(a, b) for a, b in zip(baseline, weights)), (owner, attr)
        autolog.lightning.autolog(disable=True)


DDP_SCRIPT = """
import os, warnings
warnings.simplefilter("ignore")
import torch
import autolog
autolog.lightning.autolog()
import lightning.pytorch as pl
from torch.utils.data import DataLoader, TensorDataset

class Model(pl.LightningModule):
    def __init__(self, hidden=4):
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(4, hidden), torch.nn.Linear(hidden, 1))
    def forward(self, x):
        return self.net(x)
    def training_step(self, batch, batch_idx):
        loss = torch.nn.functional.mse_loss(self(batch[0]), batch[1])
        self.log("train_loss", loss, on_epoch=True, on_step=False, sync_dist=True)
        return loss
    def validation_step(self, batch, batch_idx):
        self.log("val_loss", torch.nn.functional.mse_loss(self(batch[0]), batch[1]), sync_dist=True)
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)

if __name__ == "__main__":
    x = torch.randn(64, 4, generator=torch.Generator().manual_seed(0))
    data = DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=8)
    trainer = pl.Trainer(max_epochs=2, strategy="ddp", accelerator="cpu", devices=2, logger=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         enable_checkpointing=False)
    trainer.fit(Model(), data, data)
    print("rank", trainer.global_rank, "done")
"""


def test_ddp_two_processes_one_run(lib, tmp_path):
    script = tmp_path / "ddp_train.py"
    script.write_text(textwrap.dedent(DDP_SCRIPT))
    env = {**os.environ, "AUTOLOG_TRACKING_URI": str(tmp_path / "store"), "AUTOLOG_STRICT": "1",
           "PYTHONPATH": str(ROOT), "MASTER_PORT": str(29500 + os.getpid() % 1000),
           "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, timeout=240,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "rank 0 done" in done.stdout
    autolog.set_tracking_uri(str(tmp_path / "store"))
    runs = autolog.search_runs(output_format="list")
    assert len(runs) == 1, [r.data.tags for r in runs]
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert run.data.params["strategy"] == "DDPStrategy" and run.data.params["devices"] == "2"
    assert [s for s, _ in _history(run, "val_loss")] == [0, 1]
    assert [s for s, _ in _history(run, "train_loss")] == [0, 1]
    assert "model" in {f.path for f in autolog.Client().list_artifacts(run.info.run_id)}


def test_example_lightning_early_stopping(lib, tmp_path):
    env = {**os.environ, "AUTOLOG_TRACKING_URI": str(tmp_path / "store"), "MPLBACKEND": "Agg",
           "AUTOLOG_STRICT": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "lightning_early_stopping.py")],
                          cwd=tmp_path, env=env, timeout=180, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    autolog.set_tracking_uri(str(tmp_path / "store"))
    run = _only_run()
    assert run.data.tags["autolog.integration"] == "lightning"
    assert run.data.params["monitor"] == "val_loss" and run.data.params["checkpoint_monitor"] == "val_loss"
    assert "stopped_epoch" in run.data.metrics and "best_checkpoint_score" in run.data.metrics
    epochs = len(_history(run, "val_loss"))
    assert epochs >= 2 and len(_history(run, "train_loss")) == epochs
    files = {f.path for f in autolog.Client().list_artifacts(run.info.run_id)}
    assert {"model", "model_summary.txt", "checkpoints"} <= files
    model = autolog.load_model(f"runs:/{run.info.run_id}/model")
    assert model(lib.torch.zeros(2, 10)).shape == (2, 2)


# -- issue 9: mid-epoch validation, epoch-end metrics, a fit that raises, DataModule hparams -----

def test_every_mid_epoch_validation_pass_is_logged_at_its_global_step(lib):
    autolog.lightning.autolog()
    trainer = lib.pl.Trainer(max_epochs=2, val_check_interval=0.5, **TRAINER_QUIET)
    trainer.fit(lib.Regressor(), lib.loader(), lib.loader(32, seed=1))  # 4 batches per epoch
    run = _only_run()
    # Two validation passes per epoch, after batches 2 and 4 of each: four points, not two.
    assert [s for s, _ in _history(run, "val_loss")] == [2, 4, 6, 8]
    assert [s for s, _ in _history(run, "val_mae")] == [2, 4, 6, 8]
    assert [s for s, _ in _history(run, "train_loss_epoch")] == [0, 1]


def test_metrics_logged_in_the_modules_on_train_epoch_end_belong_to_their_epoch(lib):
    class EpochEnd(lib.Regressor):
        def on_train_epoch_end(self):
            self.log("epoch_marker", float(self.current_epoch))

    autolog.lightning.autolog()
    trainer = lib.pl.Trainer(max_epochs=3, **TRAINER_QUIET)
    trainer.fit(EpochEnd(), lib.loader(), lib.loader(32, seed=1))
    run = _only_run()
    assert _history(run, "epoch_marker") == [(0, 0.0), (1, 1.0), (2, 2.0)]
    assert [s for s, _ in _history(run, "val_loss")] == [0, 1, 2]


def test_a_fit_that_raises_leaves_no_autolog_callback_in_the_trainer(lib):
    class Fails(lib.Regressor):
        def training_step(self, batch, batch_idx):
            if self.current_epoch == 1:
                raise ValueError("user bug")
            return super().training_step(batch, batch_idx)

    autolog.lightning.autolog()
    trainer = lib.pl.Trainer(max_epochs=3, **TRAINER_QUIET)
    before = list(trainer.callbacks)
    with pytest.raises(ValueError, match="user bug"):
        trainer.fit(Fails(), lib.loader(), lib.loader(32, seed=1))
    assert trainer.callbacks == before
    assert not any(isinstance(cb, autolog.lightning.AutologCallback) for cb in trainer.callbacks)
    run = _only_run()
    assert run.info.status == "FAILED"
    assert [s for s, _ in _history(run, "val_loss")] == [0]  # the finished epoch is kept


def test_datamodule_hyperparameters_are_params(lib):
    from torch.utils.data import DataLoader, TensorDataset

    torch = lib.torch

    class Data(lib.pl.LightningDataModule):
        def __init__(self, batch_size: int = 16, noise: float = 0.25) -> None:
            super().__init__()
            self.save_hyperparameters()

        def _loader(self, seed):
            g = torch.Generator().manual_seed(seed)
            x = torch.randn(64, 4, generator=g)
            return DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=self.hparams.batch_size)

        def train_dataloader(self):
            return self._loader(0)

        def val_dataloader(self):
            return self._loader(1)

    autolog.lightning.autolog()
    lib.pl.Trainer(max_epochs=1, **TRAINER_QUIET).fit(lib.Regressor(hidden=5), datamodule=Data(batch_size=32))
    params = _only_run().data.params
    assert params["batch_size"] == "32" and params["noise"] == "0.25"
    assert params["hidden"] == "5"
