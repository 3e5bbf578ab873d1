"""Plain PyTorch integration: loops with no trainer, SummaryWriter, and the torch model flavor."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import autolog
from autolog.errors import AutologWarning
from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def torch():
    return require("torch")


def _net(torch, hidden: int = 8):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))


def _data(torch, n: int = 48):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, 4, generator=g)
    return x, x.sum(1, keepdim=True)


def _loop(torch, model, optimizer, steps: int, scheduler=None, accumulate: int = 1):
    """A plain training loop; returns the loss values it computed (read after training)."""
    x, y = _data(torch)
    losses = []
    for step in range(steps):
        optimizer.zero_grad()
        for part in range(accumulate):
            rows = slice((step * accumulate + part) % 3 * 16, (step * accumulate + part) % 3 * 16 + 16)
            loss = torch.nn.functional.mse_loss(model(x[rows]), y[rows])
            loss.backward()
            losses.append(loss.detach())
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    return [float(v) for v in losses]


def _history(run_id, key):
    return [(m.step, m.value) for m in autolog.Client().get_metric_history(run_id, key)]


def _windows(values, size):
    return [statistics.fmean(values[i:i + size]) for i in range(0, len(values), size)]


def test_loop_loss_windows_optimizer_params_and_learning_rate(torch):
    autolog.pytorch.autolog(log_every_n_steps=5)
    model = _net(torch)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=8, gamma=0.5)
    losses = _loop(torch, model, optimizer, 22, scheduler)
    run = autolog.active_run()
    assert run is not None and run.data.tags["autolog.integration"] == "torch"
    run_id = run.info.run_id
    autolog.end_run()

    history = _history(run_id, "train_loss")
    # The last, partial window (2 steps) is logged by end_run itself.
    assert [s for s, _ in history] == [5, 10, 15, 20, 22]
    assert [v for _, v in history] == pytest.approx(_windows(losses, 5), rel=1e-6)
    assert _history(run_id, "learning_rate") == [(1, 0.1), (9, 0.05), (17, 0.025)]
    final = autolog.get_run(run_id)
    assert final.info.status == "FINISHED"
    params = final.data.params
    assert params["optimizer_name"] == "SGD" and params["optimizer.lr"] == "0.1"
    assert params["optimizer.momentum"] == "0.9" and params["optimizer.weight_decay"] == "0.0001"


def test_gradient_accumulation_and_second_optimizer(torch):
    autolog.pytorch.autolog(log_every_n_steps=2)
    model = _net(torch)
    head = torch.nn.Linear(1, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.99))
    torch.optim.RMSprop(head.parameters(), lr=0.002)
    losses = _loop(torch, model, optimizer, 6, accumulate=3)
    run_id = autolog.active_run().info.run_id
    autolog.end_run()
    history = _history(run_id, "train_loss")
    # Three backward calls per optimizer step: a step's loss is their sum, and each window
    # averages two steps.
    steps = [sum(losses[i:i + 3]) for i in range(0, len(losses), 3)]
    assert [s for s, _ in history] == [2, 4, 6]
    assert [v for _, v in history] == pytest.approx(_windows(steps, 2), rel=1e-6)
    params = autolog.get_run(run_id).data.params
    assert params["optimizer.betas"] == "(0.8, 0.99)"
    assert params["optimizer_1_name"] == "RMSprop" and params["optimizer_1.lr"] == "0.002"


def test_many_backward_calls_without_a_step_stay_bounded(torch):
    # Gradients computed for 1,000 batches before one update: the window must not hold 1,000
    # tensors, and its mean must still be the mean of every loss.
    from autolog.integrations import torch as integration

    autolog.pytorch.autolog(log_every_n_steps=1)
    model = _net(torch)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    x = torch.randn(8, 4)
    losses = []
    for i in range(1000):
        loss = (model(x) * (1 + i / 1000)).pow(2).mean()
        loss.backward()
        losses.append(loss.item())
    assert len(integration._loop.losses) < integration._FOLD_AT
    optimizer.step()
    run_id = autolog.active_run().info.run_id
    autolog.end_run()
    [(step, value)] = _history(run_id, "train_loss")
    # One optimizer step: its loss is the sum of the 1,000 losses it accumulated.
    assert step == 1 and value == pytest.approx(sum(losses), rel=1e-5)


def test_user_run_gets_everything_and_exclusive_logs_nothing(torch):
    autolog.pytorch.autolog(log_every_n_steps=4)
    with autolog.start_run() as run:
        model = _net(torch)
        _loop(torch, model, torch.optim.SGD(model.parameters(), lr=0.05), 10)
    runs = autolog.search_runs(output_format="list")
    assert len(runs) == 1 and runs[0].info.run_id == run.info.run_id
    assert [s for s, _ in _history(run.info.run_id, "train_loss")] == [4, 8, 10]
    assert runs[0].data.params["optimizer_name"] == "SGD"

    autolog.pytorch.autolog(exclusive=True, log_every_n_steps=4)
    with autolog.start_run() as other:
        model = _net(torch)
        _loop(torch, model, torch.optim.SGD(model.parameters(), lr=0.05), 8)
    assert autolog.get_run(other.info.run_id).data.metrics == {}
    assert len(autolog.search_runs(output_format="list")) == 2

    # exclusive skips only the user's runs: with none active, the loop's own run gets it all,
    # including what is logged after that run started (a second optimizer, later windows).
    model = _net(torch)
    _loop(torch, model, torch.optim.SGD(model.parameters(), lr=0.05), 8)
    torch.optim.Adam(model.parameters(), lr=0.01)
    own = autolog.active_run()
    assert own is not None and own.data.tags["autolog.integration"] == "torch"
    autolog.end_run()
    stored = autolog.get_run(own.info.run_id)
    assert [s for s, _ in _history(own.info.run_id, "train_loss")] == [4, 8]
    assert stored.data.params["optimizer_name"] == "SGD"
    assert stored.data.params["optimizer_1_name"] == "Adam"


def test_summary_writer_scalars_groups_and_hparams(torch, tmp_path):
    autolog.pytorch.autolog()
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(tmp_path / "tb"))
    for step in range(3):
        writer.add_scalar("loss/train", torch.tensor(1.0 / (step + 1)), step)
        writer.add_scalars("acc", {"train": 0.5 + step / 10, "val": 0.4 + step / 10}, global_step=step)
    writer.add_hparams({"lr": 0.1, "optimizer": "sgd"}, {"hparam/accuracy": 0.7})
    writer.close()
    run = autolog.active_run()
    run_id = run.info.run_id
    autolog.end_run()
    assert _history(run_id, "loss/train") == [(0, 1.0), (1, 0.5), (2, pytest.approx(1 / 3))]
    assert [v for _, v in _history(run_id, "acc/val")] == pytest.approx([0.4, 0.5, 0.6])
    assert len(_history(run_id, "acc/train")) == 3
    final = autolog.get_run(run_id)
    assert final.data.params["lr"] == "0.1" and final.data.params["optimizer"] == "sgd"
    assert final.data.metrics["hparam/accuracy"] == pytest.approx(0.7)
    assert final.data.tags["autolog.integration"] == "torch"
    # The TensorBoard event files are still written.
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "tb").rglob("*"))


# TorchScript (torch.jit.script/save/load) is deprecated in torch 2.13; the flavor still supports
# it when asked, and torch's warning about it is not ours to fix.
@pytest.mark.filterwarnings("ignore:`torch\\.jit\\.\\w+` is deprecated:DeprecationWarning")
def test_model_round_trips(torch):
    x = torch.randn(5, 4)
    model = _net(torch)
    with autolog.start_run():
        pickled = autolog.pytorch.log_model(model, "seq", input_example=x[:2])
        scripted = autolog.pytorch.log_model(model, "ts", serialization="torchscript")
    assert pickled.metadata["flavor_metadata"]["serialization"] == "pickle"  # Sequential(*args)
    assert pickled.signature.inputs[0]["shape"] == [-1, 4]
    assert torch.equal(autolog.load_model(pickled.model_uri)(x), model(x))
    assert torch.equal(autolog.load_model(scripted.model_uri)(x), model(x))

    class Wide(torch.nn.Module):
        def __init__(self, width: int) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(4, width)

        def forward(self, inputs):
            return self.layer(inputs)

    wide = Wide(3)
    with autolog.start_run():
        info = autolog.pytorch.log_model(wide, "wide", init_kwargs={"width": 3})
        with pytest.raises(autolog.InvalidInputError, match="init_kwargs"):
            autolog.pytorch.log_model(wide, "bad", serialization="state_dict")
    assert info.metadata["flavor_metadata"]["serialization"] == "state_dict"
    loaded = autolog.pytorch.load_model(info.model_uri)
    assert type(loaded).__name__ == "Wide" and not loaded.training
    assert torch.equal(loaded(x), wide(x))


FAILING_SCRIPT = """
import torch
import autolog
autolog.pytorch.autolog(log_every_n_steps=100)
model = torch.nn.Linear(2, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for _ in range(3):
    opt.zero_grad()
    loss = model(torch.ones(4, 2)).pow(2).mean()
    loss.backward()
    opt.step()
print(autolog.active_run().info.run_id, flush=True)
raise RuntimeError("boom")
"""


def test_run_ends_failed_on_uncaught_exception_with_last_window(torch, tmp_path):
    script = tmp_path / "fails.py"
    script.write_text(textwrap.dedent(FAILING_SCRIPT))
    env = {**os.environ, "AUTOLOG_TRACKING_URI": str(tmp_path / "store"), "AUTOLOG_STRICT": "1",
           "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, timeout=120,
                          capture_output=True, text=True)
    assert done.returncode == 1 and "boom" in done.stderr
    autolog.set_tracking_uri(str(tmp_path / "store"))
    run = autolog.get_run(done.stdout.split()[0])
    assert run.info.status == "FAILED"
    # The partial window (3 steps of 100) is logged at exit, not lost.
    assert [s for s, _ in _history(run.info.run_id, "train_loss")] == [3]


def test_patched_backward_keeps_signature_docstring_pickling_and_reverts(torch):
    import inspect
    import pickle

    from autolog.integrations import _patch

    original = torch.Tensor.backward
    autolog.pytorch.autolog()
    patched = torch.Tensor.backward
    assert patched is not original and _patch.is_patched(torch.Tensor, "backward")
    assert inspect.signature(patched) == inspect.signature(original)
    assert patched.__doc__ == original.__doc__ and patched.__qualname__ == "Tensor.backward"
    assert pickle.loads(pickle.dumps(patched)) is patched
    autolog.pytorch.autolog()  # enabling again does not wrap twice
    assert torch.Tensor.backward is patched
    autolog.pytorch.autolog(disable=True)
    assert torch.Tensor.backward is original and not _patch.is_patched(torch.Tensor, "backward")


@pytest.mark.parametrize("target", ["add_loss", "emit_loss", "on_step", "log_params", "log_metrics",
                                    "start_run"])
def test_fault_injection_never_breaks_training(torch, monkeypatch, target):
    from autolog.integrations import _common
    from autolog.integrations import torch as integration

    monkeypatch.setenv("AUTOLOG_STRICT", "0")

    def train():
        model = _net(torch)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        _loop(torch, model, optimizer, 6)
        return [p.detach().clone() for p in model.parameters()]

    baseline = train()
    owner = {"add_loss": integration._Loop, "emit_loss": integration._Loop, "on_step": integration._Loop,
             "log_params": _common, "log_metrics": _common, "start_run": integration._runs}[target]

    def boom(*args, **kwargs):
        raise RuntimeError("injected")

    autolog.pytorch.autolog(log_every_n_steps=2)
    monkeypatch.setattr(owner, target, boom)
    with pytest.warns(AutologWarning, match="injected"):
        weights = train()
        autolog.end_run()  # ending the run flushes the last window: that may fail too
    assert all(torch.equal(a, b) for a, b in zip(baseline, weights))


def _run_example(name, tmp_path):
    env = {**os.environ, "AUTOLOG_TRACKING_URI": str(tmp_path / "store"), "MPLBACKEND": "Agg",
           "AUTOLOG_STRICT": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(ROOT / "examples" / name)], cwd=tmp_path, env=env,
                          timeout=180, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    autolog.set_tracking_uri(str(tmp_path / "store"))


def test_example_summarywriter_loop(torch, tmp_path):
    _run_example("pytorch_summarywriter_loop.py", tmp_path)
    runs = autolog.search_runs(output_format="list")
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED" and run.data.tags["autolog.integration"] == "torch"
    # 4 epochs x 16 steps: windows of 10, then the last partial window at exit.
    assert [s for s, _ in _history(run.info.run_id, "train_loss")] == [10, 20, 30, 40, 50, 60, 64]
    assert len(_history(run.info.run_id, "batch/loss")) == 64
    assert [s for s, _ in _history(run.info.run_id, "epoch/val_loss")] == [0, 1, 2, 3]
    assert [v for _, v in _history(run.info.run_id, "learning_rate")] == [0.05, 0.025]
    assert run.data.params["hidden"] == "16" and run.data.params["optimizer_name"] == "SGD"
    assert "hparam/final_val_loss" in run.data.metrics


def test_example_pytorch_tracking(torch, tmp_path):
    _run_example("pytorch_tracking.py", tmp_path)
    experiment = autolog.get_experiment_by_name("pytorch_classification")
    runs = autolog.search_runs([experiment.experiment_id], output_format="list")
    assert sorted(r.info.run_name for r in runs) == ["pytorch_hs16_lr0.01", "pytorch_hs32_lr0.01"]
    for run in runs:
        assert len(_history(run.info.run_id, "val_accuracy")) == 5
        assert "autolog.integration" not in run.data.tags  # manual tracking: the user's runs
        uri = f"runs:/{run.info.run_id}/pytorch_model"
        info = autolog.models.get_model_info(uri)
        assert info.metadata["flavor_metadata"]["serialization"] == "state_dict"
        assert autolog.load_model(uri)(torch.zeros(3, 20)).shape == (3, 2)


# -- issue 9: the user's run after the optimizer, AMP and gradient accumulation --------------------

def test_optimizer_built_before_start_run_logs_into_the_users_run(torch):
    """The tutorial's shape: model and optimizer built, then the run started, then the loop."""
    autolog.pytorch.autolog(log_every_n_steps=4)
    model = _net(torch)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    assert autolog.active_run() is None  # building an optimizer opens no run
    with autolog.start_run(run_name="mine") as run:
        autolog.log_param("hidden_size", 8)
        losses = _loop(torch, model, optimizer, 8)
    runs = autolog.search_runs(output_format="list")
    assert [r.info.run_id for r in runs] == [run.info.run_id]
    stored = runs[0]
    assert stored.data.params["optimizer_name"] == "Adam" and stored.data.params["hidden_size"] == "8"
    assert [v for _, v in _history(run.info.run_id, "train_loss")] == pytest.approx(
        _windows(losses, 4), rel=1e-6)


def test_autolog_opened_run_gives_way_to_the_users_start_run(torch):
    autolog.pytorch.autolog(log_every_n_steps=2)
    model = _net(torch)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    _loop(torch, model, optimizer, 3)  # no run active: the loop opens its own
    own = autolog.active_run()
    assert own is not None and own.data.tags["autolog.integration"] == "torch"
    with autolog.start_run(run_name="user") as user:  # no "already active" error
        assert autolog.active_run() is user
        _loop(torch, model, optimizer, 2)
    ended = autolog.get_run(own.info.run_id)
    assert ended.info.status == "FINISHED"
    # The loop's last, partial window went to its own run before it gave way.
    assert [s for s, _ in _history(own.info.run_id, "train_loss")] == [2, 3]
    assert [s for s, _ in _history(user.info.run_id, "train_loss")] == [2]
    assert autolog.get_run(user.info.run_id).data.params["optimizer_name"] == "SGD"
    assert autolog.active_run() is None


def test_amp_grad_scaler_logs_the_unscaled_loss(torch):
    autolog.pytorch.autolog(log_every_n_steps=1)
    model = _net(torch)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    scaler = torch.amp.GradScaler("cpu")
    assert scaler.get_scale() == 65536.0
    x, y = _data(torch)
    true_losses = []
    with autolog.start_run() as run:
        for step in range(4):
            optimizer.zero_grad()
            rows = slice(step % 3 * 16, step % 3 * 16 + 16)
            loss = torch.nn.functional.mse_loss(model(x[rows]), y[rows])
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            true_losses.append(loss.item())
    logged = [v for _, v in _history(run.info.run_id, "train_loss")]
    assert len(logged) == 4
    for got, want in zip(logged, true_losses):
        assert got == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize("k", [2, 4])
def test_gradient_accumulation_logs_the_steps_true_loss(torch, k):
    autolog.pytorch.autolog(log_every_n_steps=1)
    model = _net(torch)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = _data(torch, n=48)
    true_losses = []
    with autolog.start_run() as run:
        for step in range(3):
            optimizer.zero_grad()
            batch = slice(step * 16, step * 16 + 16)
            micro = torch.arange(16).chunk(k)
            for part in micro:
                idx = part + step * 16
                (torch.nn.functional.mse_loss(model(x[idx]), y[idx]) / k).backward()
            with torch.no_grad():
                # The step's true loss: the mean over its micro-batches (equal sizes).
                true_losses.append(sum(torch.nn.functional.mse_loss(model(x[part + step * 16]),
                                                                    y[part + step * 16]).item()
                                       for part in micro) / k)
            optimizer.step()
            del batch
    logged = [v for _, v in _history(run.info.run_id, "train_loss")]
    assert len(logged) == 3
    for got, want in zip(logged, true_losses):
        assert got == pytest.approx(want, rel=1e-5)


def test_amp_with_accumulation_combined(torch):
    autolog.pytorch.autolog(log_every_n_steps=1)
    model = _net(torch)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    x, y = _data(torch)
    with autolog.start_run() as run:
        optimizer.zero_grad()
        parts = []
        for half in (slice(0, 8), slice(8, 16)):
            loss = torch.nn.functional.mse_loss(model(x[half]), y[half]) / 2
            parts.append(loss.item())
            scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    [(step, value)] = _history(run.info.run_id, "train_loss")
    assert step == 1 and value == pytest.approx(sum(parts), rel=1e-5)


def test_grad_scaler_patch_is_reverted(torch):
    original = torch.amp.GradScaler.__dict__["scale"]
    autolog.pytorch.autolog()
    assert torch.amp.GradScaler.__dict__["scale"] is not original
    autolog.pytorch.autolog(disable=True)
    assert torch.amp.GradScaler.__dict__["scale"] is original
