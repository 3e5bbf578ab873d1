"""Plain PyTorch integration: training loops with no trainer (``autolog.torch`` / ``autolog.pytorch``).

What a loop records, with no change to the loop:

* params ``optimizer_name`` and ``optimizer.<key>`` (the optimizer's ``defaults``: ``lr``,
  ``betas``, ``momentum``, ``weight_decay``, ...) when an optimizer is constructed; a second
  optimizer of the same run is ``optimizer_1_name``, ``optimizer_1.<key>``, and so on;
* ``train_loss``: each optimizer step's loss, averaged over each window of
  ``log_every_n_steps`` optimizer steps, at step = optimizer step. A step's loss is the sum of
  the scalar losses ``backward()`` was called on since the previous step, which is the step's
  true loss under gradient accumulation (``(loss / k).backward()`` over k micro-batches); a loss
  that a ``torch.amp.GradScaler`` scaled (``scaler.scale(loss).backward()``) counts unscaled.
  (A loop whose optimizer never steps through ``torch.optim`` logs the mean per ``backward``.)
  The losses are kept on their own device (detached) and read back with ``.item()`` once per
  window, so no training step waits for the device;
* ``learning_rate`` (``learning_rate_<i>`` for the i-th optimizer) whenever it changes, however
  it changed (a scheduler's ``step()``, ``ReduceLROnPlateau``, or the loop itself), read from the
  optimizer's first param group at its next step;
* ``SummaryWriter.add_scalar`` under its tag, ``add_scalars`` as ``<main_tag>/<sub_tag>``,
  ``add_hparams`` as params and metrics, at every call.

The run of a plain loop (tagged ``autolog.integration=torch``) starts at the loop's first step
(its first ``backward``, optimizer step or ``SummaryWriter`` call; building an optimizer starts
nothing: its params wait for whichever run receives the loop) and stays active until the user's
``end_run()``, the user's next ``start_run()`` (it gives way, FINISHED) or interpreter exit
(FINISHED, or FAILED on an uncaught exception); with a user run active everything goes into it.
Either way the last, partial loss window is logged when the run ends. Inside another integration's patched call (a
Lightning or Keras fit) nothing here logs: that fit logs itself.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any, Mapping

from autolog import _runs
from autolog.errors import InvalidInputError
from autolog.integrations import _common, _config, configure
from autolog.integrations.torch import model as _torch_model
from autolog.integrations._patch import (
    Call,
    current_call,
    patch,
    record,
    report,
    safe_call,
    started_by,
)
from autolog.models._flavors import Flavor

NAME = "torch"
FLAVOR = Flavor(name=NAME, save=_torch_model.save, load=_torch_model.load,
                requirements=("cloudpickle", "torch"), snapshot=_torch_model.snapshot)


def autolog(*, disable: bool = False, exclusive: bool = False, silent: bool = False,
            log_models: bool = True, log_input_examples: bool = False,
            log_model_signatures: bool = True, log_datasets: bool = True,
            disable_for_unsupported_versions: bool = False,
            extra_tags: dict[str, str] | None = None, log_every_n_steps: int = 10,
            log_loss: bool = True, log_summary_writer: bool = True) -> None:
    """Enable (or disable) autologging of plain PyTorch training loops.

    Args:
        disable: turn the integration off and restore the original functions.
        exclusive: with a user run active, log nothing rather than into it.
        silent: no warnings from autolog itself.
        log_models: accepted for symmetry; a plain loop has no "end of fit" to log a model at,
            so use :func:`log_model`.
        log_input_examples: accepted for symmetry (see ``log_models``).
        log_model_signatures: accepted for symmetry (see ``log_models``).
        log_datasets: accepted for symmetry; nothing to log.
        disable_for_unsupported_versions: stay off for torch versions outside the tested range.
        extra_tags: tags added to the runs this integration starts.
        log_every_n_steps: the window, in optimizer steps, that ``train_loss`` is averaged over.
        log_loss: capture ``train_loss`` from ``backward()``.
        log_summary_writer: capture ``torch.utils.tensorboard.SummaryWriter`` scalars and hparams.

    Raises:
        InvalidInputError: ``log_every_n_steps`` is not a positive integer.
    """
    if not isinstance(log_every_n_steps, int) or log_every_n_steps < 1:
        raise InvalidInputError(f"log_every_n_steps must be a positive integer, not {log_every_n_steps!r}.")
    configure(NAME, dict(locals()))


# -- the loop's state ---------------------------------------------------------------------------

_FOLD_AT = 256  # losses kept per window before they are summed on the device

class _Loop:
    """What one run of a plain loop accumulates: the loss window, step and optimizer bookkeeping."""

    def __init__(self, run: Any) -> None:
        self.run = run
        self.run_id: str = run.info.run_id
        self.step = 0                # optimizer steps of the driving optimizer
        self.driver: weakref.ref[Any] | None = None
        self.losses: list[Any] = []  # this window's detached losses, still on their device
        self.count = 0               # losses folded into the window's first tensor, beyond one
        self.window_steps = 0        # driver steps closed in this window
        self.since_step = 0          # losses since the last driver step (a step in progress)
        self.optimizers: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        self.logged_optimizers: list[tuple[str, tuple[tuple[str, str], ...]]] = []
        self.last_lr: dict[int, float] = {}
        # The previous step's optimizer, its index and whether it drives the step count: a loop
        # with one optimizer finds them without a WeakKeyDictionary lookup (which builds a
        # weakref) on every step.
        self.last_optimizer: weakref.ref[Any] | None = None
        self.last_index: int | None = None
        self.last_drives = False

    def add_loss(self, loss: Any) -> None:
        # Keep the detached 0-d tensors and reduce once per window: no kernel launch and no
        # device sync per step (detach shares storage, it copies nothing).
        losses = self.losses
        losses.append(loss.detach())
        self.since_step += 1
        if len(losses) >= _FOLD_AT:
            self.fold()

    def fold(self) -> None:
        # A loop that calls backward without optimizer steps would grow the list: fold it into
        # one tensor on the device, remembering how many losses it holds.
        import torch

        device = self.losses[0].device
        self.count += len(self.losses) - 1
        self.losses = [torch.stack([t.to(device, torch.float32) for t in self.losses]).sum()]

    def emit_loss(self) -> None:
        """Log the window's mean step loss: one reduction and one ``.item()`` (sync) per window.

        A step's loss is the sum of its backward losses, so the mean over the window is the
        sum of all of them over the number of steps (a step still in progress when the run
        ends counts as one); with no optimizer step ever seen, each backward is a step.
        """
        if not self.losses:
            return
        import torch

        losses, count, self.losses, self.count = self.losses, self.count + len(self.losses), [], 0
        steps = self.window_steps + (1 if self.since_step else 0)
        if self.step == 0 and self.window_steps == 0:
            steps = count
        self.window_steps = self.since_step = 0
        if losses[0].device.type == "cpu" and len(losses) < 64:
            # No device to sync with: a few item() reads are cheaper than a stacked tensor.
            total = sum([t.item() for t in losses])
        else:
            device = losses[0].device
            total = torch.stack([t.to(device, torch.float32) for t in losses]).sum().item()
        _common.log_metrics(self.run, {"train_loss": total / steps}, step=self.step)

    def on_step(self, optimizer: Any, every: int) -> None:
        """An optimizer finished a step: count it, log a changed learning rate, close a window.

        Runs at every step, so the common case (the same optimizer as last time) reads cached
        answers only: which optimizer it is and whether it drives the step count.
        """
        last = self.last_optimizer
        if last is None or last() is not optimizer:
            self.switch_to(optimizer)
        index = self.last_index
        if index is not None:
            groups = optimizer.param_groups
            lr = groups[0].get("lr") if groups else None
            if self.last_lr.get(index) != lr and isinstance(lr, float):
                self.last_lr[index] = lr
                step = self.step + 1 if self.last_drives else self.step
                _common.log_metrics(self.run, {"learning_rate" if index == 0 else f"learning_rate_{index}": lr},
                                    step=step)
        if self.last_drives:
            self.step = step = self.step + 1
            self.window_steps += 1
            self.since_step = 0
            if step % every == 0:
                self.emit_loss()

    def switch_to(self, optimizer: Any) -> None:
        # The first optimizer to step drives the step count (until it is garbage-collected).
        driver = self.driver() if self.driver is not None else None
        if driver is None:
            self.driver, driver = weakref.ref(optimizer), optimizer
        self.last_optimizer = weakref.ref(optimizer)
        index = self.optimizers.get(optimizer)
        if index is None:
            # Built before this run received the loop (under a run that gave way, or before
            # autolog was on): its params belong to this run too.
            _log_optimizer(self, optimizer, *_optimizer_params(optimizer))
            index = self.optimizers.get(optimizer)
        self.last_index = index
        self.last_drives = optimizer is driver


_loop: _Loop | None = None
_loop_lock = threading.Lock()
_hook_handle: Any = None
# Optimizers built with no run active: their params go to the run that receives the loop.
# (weak ref to the optimizer, its name, its defaults): read at construction, since the optimizer
# may be gone (or its param groups changed) by then.
_unlogged: list[tuple[weakref.ref[Any], str, dict[str, Any]]] = []
# The last loss a GradScaler scaled: (weak ref to the scaled tensor, the unscaled loss).
_scaled: tuple[weakref.ref[Any], Any] | None = None


def _loop_for(active: Any, settings: Mapping[str, Any]) -> _Loop:
    """The loop state of the run an event logs into: the active one (the user's or ours), else a
    new torch run, which gives way to the user's next ``start_run()``."""
    global _loop
    loop = _loop
    if loop is not None and active is not None and loop.run is active:
        return loop
    with _loop_lock:
        if active is None:
            tags = {"autolog.integration": NAME, **(settings.get("extra_tags") or {})}
            active = _runs.start_yielding_run(tags=tags)
        if _loop is not None:
            _loop.emit_loss()  # the previous run's last, partial window
        _loop = loop = _Loop(active)
        pending = list(_unlogged)
        _unlogged.clear()
    for ref, name, defaults in pending:
        _log_optimizer(loop, ref(), name, defaults)
    return loop


def _on_run_end(run_id: str) -> None:
    """A run is ending (the user's ``end_run``, a ``with`` block, interpreter exit): the loop's
    last partial window goes to it before it ends, and the next event starts over."""
    global _loop
    loop = _loop
    if loop is None or loop.run_id != run_id:
        return
    with _loop_lock:
        if _loop is loop:
            _loop = None
    safe_call(NAME, "end_run", loop.emit_loss)


# -- hooks ----------------------------------------------------------------------------------------
# backward and the optimizer step run every training step: they take the lean paths (no Call, a
# run looked up only when the loop's own is no longer the active one).

def _before_backward(loss: Any, args: Any, kwargs: Any, settings: Mapping[str, Any]) -> None:
    # Only a scalar loss that autograd will differentiate; .ndim/.requires_grad read metadata,
    # they never touch the device.
    if loss.ndim != 0 or not loss.requires_grad or not settings.get("log_loss", True):
        return
    global _scaled
    loop = _loop
    active = _runs.active_run()
    if loop is None or active is None or loop.run is not active:
        if active is not None and settings.get("exclusive") and not started_by(active, NAME):
            return
        loop = _loop_for(active, settings)
    scaled = _scaled
    if scaled is not None and scaled[0]() is loss:
        # scaler.scale(loss).backward(): the loss, not the loss times the scale (65,536).
        _scaled, loss = None, scaled[1]
    loop.add_loss(loss)


def _optimizer_params(optimizer: Any) -> tuple[str, dict[str, Any]]:
    defaults = getattr(optimizer, "defaults", None) or {}
    return type(optimizer).__name__, {str(k): v for k, v in defaults.items()
                                      if not callable(v) and not hasattr(v, "shape")}


def _after_optimizer_init(call: Call, result: Any) -> None:
    if call.run is None:
        # Built before any run (the usual script: model and optimizer, then start_run): no run
        # yet; its params go to whichever run receives the loop's first step.
        _unlogged.append((weakref.ref(call.instance), *_optimizer_params(call.instance)))
        return
    _log_optimizer(_loop_for(call.run, call.settings), call.instance,
                   *_optimizer_params(call.instance))


def _log_optimizer(loop: _Loop, optimizer: Any, name: str, defaults: dict[str, Any]) -> None:
    key = (name, tuple(sorted((k, str(v)) for k, v in defaults.items())))
    if key in loop.logged_optimizers:
        # The loop builds the same optimizer again (a new one per epoch, say): same params.
        if optimizer is not None:
            loop.optimizers[optimizer] = loop.logged_optimizers.index(key)
        return
    index = len(loop.logged_optimizers)
    loop.logged_optimizers.append(key)
    if optimizer is not None:
        loop.optimizers[optimizer] = index
    prefix = "optimizer" if index == 0 else f"optimizer_{index}"
    _common.log_params(loop.run, {f"{prefix}_name": name,
                                  **{f"{prefix}.{k}": v for k, v in defaults.items()}})


def _on_optimizer_step(optimizer: Any, args: Any, kwargs: Any) -> None:
    # A global optimizer hook, not a patched call: check the switch and the nesting ourselves.
    loop = _loop
    if loop is None and not _unlogged:
        return
    settings = _config.get_config(NAME)
    if settings is None or settings.get("disable") or current_call() is not None:
        return
    try:
        if loop is None:
            # A step before any backward (log_loss=False): the loop's first step opens its run.
            active = _runs.active_run()
            if active is not None and settings.get("exclusive") and not started_by(active, NAME):
                return
            loop = _loop_for(active, settings)
        loop.on_step(optimizer, settings.get("log_every_n_steps") or 10)
    except Exception as exc:  # noqa: BLE001
        report(NAME, "Optimizer.step", exc)


def _patch_grad_scaler(torch: Any) -> None:
    """Remember the loss a ``GradScaler`` scales, so that backward on the scaled tensor logs the
    loss itself. A plain wrapper (one call per step, like ``backward``), restored by revert."""
    import functools

    scaler = getattr(getattr(torch, "amp", None), "GradScaler", None)
    original = scaler.__dict__.get("scale") if scaler is not None else None
    if scaler is None or original is None or getattr(original, "__autolog_patch__", False):
        return

    @functools.wraps(original)
    def scale(self: Any, outputs: Any) -> Any:
        scaled = original(self, outputs)
        global _scaled
        if scaled is not outputs and getattr(outputs, "ndim", None) == 0:
            try:
                settings = _config.get_config(NAME)
                if settings is not None and not settings.get("disable") and current_call() is None:
                    _scaled = (weakref.ref(scaled), outputs.detach())
            except Exception as exc:  # noqa: BLE001
                report(NAME, "GradScaler.scale", exc)
        return scaled

    scale.__autolog_patch__ = True  # type: ignore[attr-defined]
    scaler.scale = scale
    record(NAME, scaler, "scale", original)


def _arg(call: Call, index: int, name: str, default: Any = None) -> Any:
    if len(call.args) > index:
        return call.args[index]
    return call.kwargs.get(name, default)


def _scalar(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _writer_step(call: Call, loop: _Loop, index: int) -> int:
    step = _arg(call, index, "global_step")
    return loop.step if step is None else int(step)


def _after_add_scalar(call: Call, result: Any) -> None:
    if not call.settings.get("log_summary_writer", True):
        return
    loop = _loop_for(call.run, call.settings)
    _common.log_metrics(loop.run, {str(_arg(call, 0, "tag")): _scalar(_arg(call, 1, "scalar_value"))},
                        step=_writer_step(call, loop, 2))


def _after_add_scalars(call: Call, result: Any) -> None:
    if not call.settings.get("log_summary_writer", True):
        return
    loop = _loop_for(call.run, call.settings)
    main = str(_arg(call, 0, "main_tag"))
    values = _arg(call, 1, "tag_scalar_dict") or {}
    _common.log_metrics(loop.run, {f"{main}/{k}": _scalar(v) for k, v in values.items()},
                        step=_writer_step(call, loop, 2))


def _after_add_hparams(call: Call, result: Any) -> None:
    if not call.settings.get("log_summary_writer", True):
        return
    loop = _loop_for(call.run, call.settings)
    _common.log_params(loop.run, dict(_arg(call, 0, "hparam_dict") or {}))
    metrics = {str(k): _scalar(v) for k, v in (_arg(call, 1, "metric_dict") or {}).items()}
    step = _arg(call, 4, "global_step")
    _common.log_metrics(loop.run, metrics, step=0 if step is None else int(step))


def _apply_tensorboard(module: Any) -> None:
    # A post-import hook: it runs inside the user's `import`, so it must never raise.
    try:
        writer = module.writer.SummaryWriter
        patch(NAME, writer, "add_scalar", after=_after_add_scalar, manage_run=False,
              target="SummaryWriter.add_scalar")
        patch(NAME, writer, "add_scalars", after=_after_add_scalars, manage_run=False,
              target="SummaryWriter.add_scalars")
        patch(NAME, writer, "add_hparams", after=_after_add_hparams, manage_run=False,
              target="SummaryWriter.add_hparams")
    except Exception as exc:  # noqa: BLE001
        safe_call(NAME, "SummaryWriter", _raise, exc)


def _raise(exc: BaseException) -> None:
    raise exc


def apply(module: Any) -> None:
    """Install the PyTorch patches (called when torch is imported).

    ``torch.utils.tensorboard`` imports TensorBoard, which is slow: its patches wait for the
    user to import it (a post-import hook), so enabling autolog never imports it.
    """
    global _hook_handle
    import torch
    import wrapt

    patch(NAME, torch.Tensor, "backward", on_step=_before_backward, target="Tensor.backward")
    patch(NAME, torch.optim.Optimizer, "__init__", after=_after_optimizer_init, manage_run=False,
          target="Optimizer.__init__")
    _patch_grad_scaler(torch)
    if _hook_handle is None:
        # A global optimizer hook rather than a patch of each optimizer class's own `step`; it
        # stays installed across disable/enable and checks the switch at call time.
        from torch.optim.optimizer import register_optimizer_step_post_hook

        _hook_handle = register_optimizer_step_post_hook(_on_optimizer_step)
        _runs.on_run_end(_on_run_end)
    wrapt.register_post_import_hook(_apply_tensorboard, "torch.utils.tensorboard")


# -- models ---------------------------------------------------------------------------------------

def log_model(pytorch_model: Any, name: str = "model", input_example: Any = None,
              signature: Any = None, *, serialization: str = "auto",
              init_kwargs: Mapping[str, Any] | None = None, artifact_path: str | None = None,
              run_id: str | None = None, **kwargs: Any) -> Any:
    """Log an ``nn.Module`` into the active run (``mlflow.pytorch.log_model``).

    Saved as weights plus class plus init arguments when it can be rebuilt from them
    (``init_kwargs``, or a LightningModule's saved hyperparameters, or a class whose arguments
    all have defaults), else pickled whole; ``serialization="torchscript"`` saves TorchScript.
    Extra MLflow arguments (``registered_model_name``, ``pip_requirements``, ...) are ignored.

    Returns:
        The :class:`~autolog.models.ModelInfo`, with ``model_uri`` ``runs:/<run_id>/<name>``.

    Raises:
        InvalidInputError: an unknown ``serialization``, or ``state_dict`` asked for a module
            that cannot be rebuilt, or the artifact folder already holds a model.
    """
    del kwargs

    from autolog import _tracking
    from autolog.models import _with_uri, save_model

    name = artifact_path or name
    snap = _torch_model.snapshot(pytorch_model, serialization, init_kwargs)
    if run_id is None:
        run = _runs.active_run()
        if run is None:
            settings = _config.get_config(NAME) or {}
            run = _runs.start_yielding_run(
                tags={"autolog.integration": NAME, **(settings.get("extra_tags") or {})})
        run_id, root = run.info.run_id, run.info.artifact_uri
    else:
        root = _tracking.get_store().get_run(run_id).info.artifact_uri
    from autolog.store.artifacts import repository

    with repository(root).folder_to_log(name) as path:
        info = save_model(pytorch_model, path, flavor=FLAVOR, signature=signature,
                          input_example=input_example, run_id=run_id, artifact_path=name,
                          snapshot=snap)
    return _with_uri(info, f"runs:/{run_id}/{name}")


def load_model(model_uri: str, map_location: Any = None, **kwargs: Any) -> Any:
    """Load a logged PyTorch model (``mlflow.pytorch.load_model``), in eval mode.

    Raises:
        NotFoundError: no model at ``model_uri``.
    """
    from autolog.models import load_model as _load_model

    if map_location is not None:
        kwargs["map_location"] = map_location
    return _load_model(model_uri, **kwargs)
