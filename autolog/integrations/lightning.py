"""PyTorch Lightning integration, for both ``lightning.pytorch`` and ``pytorch_lightning``.

``Trainer.fit`` gets an autolog callback appended to a copy of ``trainer.callbacks`` (unless one
is already there); the callback translates Lightning's events into log calls:

* params: the LightningModule's and DataModule's ``save_hyperparameters()`` under their own
  names; trainer settings under their ``Trainer`` argument names plus MLflow's ``epochs``; each
  optimizer as ``optimizer_name``/``optimizer.<key>`` (``optimizer_<i>_name``/``optimizer_<i>.<key>``
  with several), schedulers likewise under ``scheduler``; EarlyStopping's ``monitor``, ``mode``,
  ``patience``, ``min_delta``; the user's ModelCheckpoint ``checkpoint_monitor``;
* metrics: ``trainer.callback_metrics`` of each training epoch (step = epoch; validation
  metrics only for epochs that validated), read once the epoch is over, so that what the
  LightningModule logs in its own ``on_train_epoch_end`` belongs to its epoch; with validation
  inside the epoch (``val_check_interval`` below 1.0, or a number of batches), every validation
  pass at its global step instead; every ``log_every_n_step`` optimizer steps if set (step =
  global step), never during the sanity check; ``learning_rate`` (``learning_rate_<i>``)
  per epoch; EarlyStopping's ``stopped_epoch``, ``best_score``, ``wait_count``;
  ``best_checkpoint_score``; ``trainer.validate()``/``test()`` afterwards into the fit's run;
* artifacts: ``model_summary.txt``; ``checkpoints/best.ckpt`` (the user's ModelCheckpoint's best,
  copied once at the end on the writer thread); the final model as ``model`` with a signature
  from the first forward call.

Under DDP every process runs the patched ``fit``, but only global rank 0 starts a run and logs.
"""

from __future__ import annotations

import importlib
import os
import shutil
import weakref
from dataclasses import dataclass
from typing import Any, Mapping

from autolog.errors import InvalidInputError
from autolog.integrations import _common, configure
from autolog.integrations.torch import model as _torch_model
from autolog.integrations._patch import Call, open_managed_run, patch, safe_call
from autolog.models._flavors import Flavor

NAME = "lightning"
FLAVOR = Flavor(name=NAME, save=_torch_model.save, load=_torch_model.load,
                requirements=("cloudpickle", "torch", "lightning"), snapshot=_torch_model.snapshot)

# Public callback class name -> the Lightning namespace whose Callback it subclasses.
_CALLBACK_NAMES = {"AutologCallback": "lightning.pytorch", "AutologCallbackPL": "pytorch_lightning"}
_callback_classes: dict[str, type] = {}
# trainer or LightningModule -> the run its last fit logged into, for validate()/test() after it.
_fit_runs: "weakref.WeakKeyDictionary[Any, _RunRef]" = weakref.WeakKeyDictionary()

_TRAINER_SETTINGS = (
    "max_epochs", "min_epochs", "max_steps", "min_steps", "precision", "accumulate_grad_batches",
    "gradient_clip_val", "gradient_clip_algorithm", "check_val_every_n_epoch", "val_check_interval",
    "log_every_n_steps", "limit_train_batches", "limit_val_batches", "num_nodes",
    "overfit_batches", "reload_dataloaders_every_n_epochs", "fast_dev_run",
)


def autolog(*, disable: bool = False, exclusive: bool = False, silent: bool = False,
            log_models: bool = True, log_input_examples: bool = False,
            log_model_signatures: bool = True, log_datasets: bool = True,
            disable_for_unsupported_versions: bool = False,
            extra_tags: dict[str, str] | None = None, log_every_n_epoch: int = 1,
            log_every_n_step: int | None = None, checkpoint: bool = True) -> None:
    """Enable (or disable) autologging of ``Trainer.fit`` (Lightning 2.x, both namespaces).

    Args:
        disable: turn the integration off and restore the original functions.
        exclusive: with a user run active, log nothing rather than into it.
        silent: no warnings from autolog itself.
        log_models: log the final model as ``model``.
        log_input_examples: save the first rows of the first forward input with the model.
        log_model_signatures: infer the model signature from the first forward call.
        log_datasets: accepted for symmetry with MLflow; Lightning data is not fingerprinted.
        disable_for_unsupported_versions: stay off outside the tested Lightning versions.
        extra_tags: tags added to the runs this integration starts.
        log_every_n_epoch: log epoch metrics every n epochs.
        log_every_n_step: also log step metrics every n optimizer steps (None: never).
        checkpoint: copy the best checkpoint of the user's ``ModelCheckpoint`` as
            ``checkpoints/best.ckpt`` (once, at the end of fit).

    Raises:
        InvalidInputError: ``log_every_n_epoch`` or ``log_every_n_step`` is not positive.
    """
    if not isinstance(log_every_n_epoch, int) or log_every_n_epoch < 1:
        raise InvalidInputError(f"log_every_n_epoch must be a positive integer, not {log_every_n_epoch!r}.")
    if log_every_n_step is not None and (not isinstance(log_every_n_step, int) or log_every_n_step < 1):
        raise InvalidInputError(f"log_every_n_step must be None or a positive integer, not {log_every_n_step!r}.")
    configure(NAME, dict(locals()))


@dataclass(frozen=True)
class _RunRef:
    """What logging needs of a run, and picklable (a DDP-spawn worker gets the callback)."""

    run_id: str
    artifact_uri: str
    store_uri: str
    epochs: int = 0

    @property
    def info(self) -> "_RunRef":
        return self


def _namespace(obj: Any) -> str:
    module = type(obj).__module__ if not isinstance(obj, type) else obj.__module__
    return "pytorch_lightning" if module.split(".")[0] == "pytorch_lightning" else "lightning.pytorch"


def _callback_class(namespace: str) -> type:
    """The autolog callback for one namespace: a module-level name, so it pickles by reference."""
    cls = _callback_classes.get(namespace)
    if cls is None:
        base = importlib.import_module(f"{namespace}.callbacks").Callback
        name = next(n for n, ns in _CALLBACK_NAMES.items() if ns == namespace)
        cls = type(name, (_CallbackMixin, base), {"__module__": __name__, "__qualname__": name,
                                                  "__doc__": _CallbackMixin.__doc__})
        _callback_classes[namespace] = cls
    return cls


def __getattr__(name: str) -> Any:
    # PEP 562: `autolog.integrations.lightning.AutologCallback` is built on first access, so
    # importing this module imports no Lightning, and unpickling in a fresh process works.
    namespace = _CALLBACK_NAMES.get(name)
    if namespace is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _callback_class(namespace)


def _float(value: Any) -> Any:
    try:
        return float(value.item()) if hasattr(value, "item") and value.numel() == 1 else value
    except Exception:  # noqa: BLE001 - not a scalar: log_metrics skips non-numbers
        return value


def _merge(into: dict[str, Any], new: Mapping[str, Any], prefix: str) -> None:
    for key, value in new.items():
        key = str(key)
        if key in into and str(into[key]) != str(value):
            key = f"{prefix}.{key}"
        into[key] = value


class _CallbackMixin:
    """Autolog's Lightning callback: logs the fit into its run from global rank 0 only."""

    # Lightning calls every callback's per-batch hooks at every step, each inside a profiler
    # context (a few microseconds each), and skips a hook that is not callable. The per-batch
    # hooks this callback does not use are None, so an autologged step pays for none of them
    # (on_train_batch_end too, per instance, unless step logging is on: see _bind).
    on_train_batch_start = on_before_backward = on_after_backward = None
    on_before_optimizer_step = on_before_zero_grad = None
    on_validation_batch_start = on_validation_batch_end = None
    on_test_batch_start = on_test_batch_end = None
    on_predict_batch_start = on_predict_batch_end = None

    def __init__(self) -> None:
        super().__init__()
        self._bind(None, {})

    def _bind(self, run: _RunRef | None, settings: dict[str, Any]) -> None:
        self._run = run
        self._settings = dict(settings)
        self._pid = os.getpid()
        self._n_optimizers = 1
        self._epoch_keys: set[str] = set()
        self._step_keys: set[str] = set()
        self._val_keys: set[str] = set()
        self._keys_before_val: set[str] = set()
        self._validated = False
        self._last_step_logged = -1
        self._handle: Any = None
        self._sample: tuple[Any, Any] | None = None
        self._epoch_lrs: dict[str, Any] = {}
        # The epoch that ended and is not logged yet: (epoch, validated, learning rates).
        self._pending: tuple[int, bool, dict[str, Any]] | None = None
        self._val_by_step = False
        if self._settings.get("log_every_n_step"):
            self.__dict__.pop("on_train_batch_end", None)
        else:
            self.on_train_batch_end = None  # type: ignore[assignment,method-assign]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_handle"] = None  # a hook handle is tied to this process's module
        return state

    def _active(self, trainer: Any) -> bool:
        return self._run is not None and trainer.is_global_zero and not trainer.sanity_checking

    def _safe(self, target: str, fn: Any, *args: Any) -> None:
        safe_call(NAME, f"AutologCallback.{target}", fn, *args)

    # -- fit start: params, summary, signature hook ---------------------------------------------
    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        if self._active(trainer):
            self._safe("on_fit_start", self._log_setup, trainer, pl_module)

    def _log_setup(self, trainer: Any, pl_module: Any) -> None:
        ns = _namespace(trainer)
        params: dict[str, Any] = {}
        _merge(params, dict(getattr(pl_module, "hparams", None) or {}), "model")
        datamodule = getattr(trainer, "datamodule", None)
        _merge(params, dict(getattr(datamodule, "hparams", None) or {}), "datamodule")
        settings = {name: getattr(trainer, name) for name in _TRAINER_SETTINGS if hasattr(trainer, name)}
        settings["epochs"] = trainer.max_epochs
        settings["devices"] = getattr(trainer, "num_devices", None)
        settings["strategy"] = type(trainer.strategy).__name__
        settings["accelerator"] = type(trainer.accelerator).__name__
        _merge(params, settings, "trainer")
        optimizers = list(trainer.optimizers)
        self._n_optimizers = max(1, len(optimizers))
        for i, optimizer in enumerate(optimizers):
            prefix = "optimizer" if len(optimizers) == 1 else f"optimizer_{i}"
            params[f"{prefix}_name"] = type(optimizer).__name__
            for key, value in (getattr(optimizer, "defaults", None) or {}).items():
                if not callable(value):
                    params[f"{prefix}.{key}"] = value
        configs = list(getattr(trainer, "lr_scheduler_configs", None) or [])
        for i, config in enumerate(configs):
            prefix = "scheduler" if len(configs) == 1 else f"scheduler_{i}"
            scheduler = config.scheduler
            params[f"{prefix}_name"] = type(scheduler).__name__
            state = scheduler.state_dict() if hasattr(scheduler, "state_dict") else {}
            for key, value in state.items():
                if not key.startswith("_") and key not in ("last_epoch", "base_lrs") and not callable(value):
                    params[f"{prefix}.{key}"] = value
            params[f"{prefix}.interval"] = config.interval
            params[f"{prefix}.frequency"] = config.frequency
            if config.monitor is not None:
                params[f"{prefix}.monitor"] = config.monitor
        stopper = _find(trainer, ns, "EarlyStopping")
        if stopper is not None:
            params.update(monitor=stopper.monitor, mode=stopper.mode, patience=stopper.patience,
                          min_delta=abs(float(stopper.min_delta)))
        ckpt = _best_checkpointer(trainer, ns)
        if ckpt is not None:
            params["checkpoint_monitor"] = ckpt.monitor
        _common.log_params(self._run, params)
        summary = importlib.import_module(f"{ns}.utilities.model_summary").ModelSummary
        _common.write_text(self._run, NAME, "model_summary.txt", str(summary(pl_module, max_depth=-1)))

    def _add_forward_hook(self, pl_module: Any) -> None:
        self._handle = pl_module.register_forward_hook(self._capture)

    def _capture(self, module: Any, args: Any, output: Any) -> None:
        self._safe("forward hook", self._capture_sample, args, output)

    def _capture_sample(self, args: Any, output: Any) -> None:
        import torch

        if self._handle is not None:
            self._handle.remove()
            self._handle = None
        if len(args) == 1 and isinstance(args[0], torch.Tensor) and isinstance(output, torch.Tensor):
            # Five rows, on the CPU: the one device sync of the signature, on the first batch.
            self._sample = (args[0][:5].detach().cpu().clone(), output[:5].detach().cpu().clone())

    # -- per step ---------------------------------------------------------------------------------
    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if self._settings.get("log_every_n_step") and self._active(trainer):
            self._safe("on_train_batch_end", self._log_step, trainer)

    def _log_step(self, trainer: Any) -> None:
        every = int(self._settings["log_every_n_step"])
        # Each optimizer's step counts in global_step: per optimizer, not per optimizer call.
        steps = trainer.global_step // self._n_optimizers
        if steps == 0 or steps % every or steps == self._last_step_logged:
            return
        self._last_step_logged = steps
        cm = trainer.callback_metrics
        metrics = {k: _float(v) for k, v in cm.items()
                   if k not in self._epoch_keys and k not in self._val_keys
                   and not k.endswith("_epoch") and f"{k}_step" not in cm}
        self._step_keys.update(metrics)
        _common.log_metrics(self._run, metrics, step=trainer.global_step)

    # -- per epoch --------------------------------------------------------------------------------
    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        if self._active(trainer):
            self._keys_before_val = set(trainer.callback_metrics)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if self._active(trainer):
            self._val_keys.update(set(trainer.callback_metrics) - self._keys_before_val)
            self._validated = True
            if self._val_by_step and trainer.state.fn == "fit":
                self._safe("on_validation_end", self._log_validation, trainer)

    def _log_validation(self, trainer: Any) -> None:
        # Validation inside the epoch: each pass is its own point, at the global step it
        # validated (the epoch-end logging would keep only the epoch's last pass).
        cm = trainer.callback_metrics
        _common.log_metrics(self._run, {k: _float(cm[k]) for k in self._val_keys if k in cm},
                            step=trainer.global_step)

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        interval = getattr(trainer, "val_check_interval", 1.0)
        self._val_by_step = (isinstance(interval, int) and not isinstance(interval, bool)) or (
            isinstance(interval, float) and interval < 1.0)
        if self._active(trainer) and self._settings.get("log_models", True) and (
                self._settings.get("log_model_signatures", True)
                or self._settings.get("log_input_examples", False)):
            self._safe("on_train_start", self._add_forward_hook, pl_module)

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        # The previous epoch is complete now (the LightningModule's own on_train_epoch_end ran
        # after ours); then the learning rate this epoch trains with: an epoch-interval
        # scheduler has already stepped by the time the epoch ends.
        if self._active(trainer):
            self._safe("on_train_epoch_start", self._log_pending, trainer)
            self._safe("on_train_epoch_start", self._read_lrs, trainer)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        if self._active(trainer):
            self._safe("on_train_end", self._log_pending, trainer)

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        # A fit that raises: what the finished epochs logged is kept, and autolog's callback
        # leaves the trainer (the patch's after-hook, which removes it, does not run).
        if self._active(trainer):
            self._safe("on_exception", self._log_pending, trainer)
        if getattr(self, "_injected", False):
            trainer.callbacks = [cb for cb in trainer.callbacks if cb is not self]

    def _read_lrs(self, trainer: Any) -> None:
        optimizers = list(trainer.optimizers)
        self._epoch_lrs = {
            "learning_rate" if len(optimizers) == 1 else f"learning_rate_{i}": groups[0]["lr"]
            for i, optimizer in enumerate(optimizers)
            if (groups := getattr(optimizer, "param_groups", None))}

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self._active(trainer):
            self._safe("on_train_epoch_end", self._log_epoch, trainer)

    def _log_epoch(self, trainer: Any) -> None:
        # Not yet: the LightningModule's own on_train_epoch_end runs after this callback's,
        # and what it logs belongs to this epoch. Logged at the next epoch start or train end.
        validated, self._validated = self._validated, False
        self._pending = (trainer.current_epoch, validated, dict(self._epoch_lrs))

    def _log_pending(self, trainer: Any) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            return
        epoch, validated, lrs = pending
        if (epoch + 1) % int(self._settings.get("log_every_n_epoch") or 1):
            return
        # Validation values stay in callback_metrics after an epoch that did not validate:
        # log them only for epochs that did, so each point is a fresh value (and not at all
        # when every validation pass is logged at its own global step).
        with_val = validated and not self._val_by_step
        metrics = {k: _float(v) for k, v in trainer.callback_metrics.items()
                   if k not in self._step_keys and (with_val or k not in self._val_keys)}
        metrics.update(lrs)
        self._epoch_keys.update(metrics)
        _common.log_metrics(self._run, metrics, step=epoch)

    # -- fit end ----------------------------------------------------------------------------------
    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
        if self._run is not None and trainer.is_global_zero:
            self._safe("on_fit_end", self._log_end, trainer, pl_module)

    def _log_end(self, trainer: Any, pl_module: Any) -> None:
        run, ns = self._run, _namespace(trainer)
        assert run is not None
        self._log_pending(trainer)
        step = trainer.current_epoch
        stopper = _find(trainer, ns, "EarlyStopping")
        if stopper is not None:
            _common.log_metrics(run, {"stopped_epoch": stopper.stopped_epoch,
                                      "best_score": _float(stopper.best_score),
                                      "wait_count": stopper.wait_count}, step=step)
        ckpt = _best_checkpointer(trainer, ns)
        if ckpt is not None and ckpt.best_model_path:
            if ckpt.best_model_score is not None:
                _common.log_metrics(run, {"best_checkpoint_score": _float(ckpt.best_model_score)},
                                    step=step)
            if self._settings.get("checkpoint", True):
                _copy_checkpoint(run, ckpt.best_model_path)
        if self._settings.get("log_models", True):
            self._log_model(run, pl_module)
        if os.getpid() != self._pid:
            # A spawned worker (ddp_spawn) exits on its own: commit before it does.
            _common._store(run).flush(raise_errors=False)

    def _log_model(self, run: Any, pl_module: Any) -> None:
        from autolog.models import infer_signature

        signature = example = None
        if self._sample is not None:
            if self._settings.get("log_model_signatures", True):
                signature = infer_signature(*self._sample)
            if self._settings.get("log_input_examples", False):
                example = self._sample[0]
        _common.log_model(run, NAME, pl_module, "model", signature=signature,
                          input_example=example, flavor=NAME)


def _find(trainer: Any, namespace: str, class_name: str) -> Any:
    cls = getattr(importlib.import_module(f"{namespace}.callbacks"), class_name)
    return next((cb for cb in trainer.callbacks if isinstance(cb, cls)), None)


def _best_checkpointer(trainer: Any, namespace: str) -> Any:
    """The first ModelCheckpoint that monitors a metric (so that "best" means something)."""
    cls = importlib.import_module(f"{namespace}.callbacks").ModelCheckpoint
    return next((cb for cb in trainer.callbacks if isinstance(cb, cls) and cb.monitor), None)


def _copy_checkpoint(run: Any, source: str) -> None:
    from autolog.store.artifacts import repository

    repo = repository(run.info.artifact_uri)

    def copy() -> None:
        with repo.folder_to_log("checkpoints") as folder:
            os.makedirs(folder, exist_ok=True)
            shutil.copyfile(source, os.path.join(folder, "best.ckpt"))

    _common.in_background(run, NAME, "checkpoints/best.ckpt", copy)


# -- patched Trainer methods ----------------------------------------------------------------------

def _model_arg(call: Call) -> Any:
    return call.args[0] if call.args else call.kwargs.get("model")


def _before_fit(call: Call) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    trainer = call.instance
    if call.run is None and trainer.global_rank == 0:
        model = _model_arg(call)
        open_managed_run(call, type(model).__name__ if model is not None else None)
    run = None
    if call.run is not None and trainer.global_rank == 0:
        run = _RunRef(call.run.info.run_id, call.run.info.artifact_uri, call.run.store_uri)
    cls = _callback_class(_namespace(trainer))
    existing = next((cb for cb in trainer.callbacks if isinstance(cb, _CallbackMixin)), None)
    if existing is not None:
        existing._bind(run, call.settings)
        return None
    callback = cls()
    callback._bind(run, call.settings)
    callback._injected = True
    call.state["callback"] = callback
    trainer.callbacks = [*trainer.callbacks, callback]  # a new list: the user's is untouched
    return None


def _after_fit(call: Call, result: Any) -> None:
    trainer = call.instance
    callback = call.state.get("callback")
    if callback is not None:
        trainer.callbacks = [cb for cb in trainer.callbacks if cb is not callback]
    if call.run is None or trainer.global_rank != 0:
        return
    ref = _RunRef(call.run.info.run_id, call.run.info.artifact_uri, call.run.store_uri,
                  epochs=trainer.current_epoch)
    _fit_runs[trainer] = ref
    model = trainer.lightning_module if trainer.lightning_module is not None else _model_arg(call)
    if model is not None:
        _fit_runs[model] = ref


def _after_evaluate(call: Call, result: Any) -> None:
    trainer = call.instance
    if trainer.global_rank != 0:
        return
    model = _model_arg(call)
    if model is None:
        model = trainer.lightning_module
    fitted = _fit_runs.get(trainer)
    if fitted is None and model is not None:
        fitted = _fit_runs.get(model)
    run = fitted if fitted is not None else call.run
    if run is None:
        return
    step = fitted.epochs if fitted is not None else 0
    metrics: dict[str, Any] = {}
    for per_loader in result or []:
        metrics.update({k: _float(v) for k, v in per_loader.items()})
    _common.log_metrics(run, metrics, step=step)


def apply(module: Any) -> None:
    """Install the Lightning patches on ``module``'s Trainer (``lightning`` or ``pytorch_lightning``)."""
    namespace = "pytorch_lightning" if module.__name__ == "pytorch_lightning" else "lightning.pytorch"
    trainer_cls = importlib.import_module(namespace).Trainer
    for method, hooks in (("fit", {"before": _before_fit, "after": _after_fit}),
                          ("validate", {"after": _after_evaluate}),
                          ("test", {"after": _after_evaluate})):
        patch(NAME, trainer_cls, method, manage_run=False, target=f"{namespace}.Trainer.{method}",
              **hooks)


def log_model(pl_module: Any, name: str = "model", input_example: Any = None,
              signature: Any = None, **kwargs: Any) -> Any:
    """Log a LightningModule (weights, class and saved hyperparameters) into the active run.

    Raises:
        InvalidInputError: as :func:`autolog.integrations.torch.log_model`.
    """
    from autolog.integrations import torch as _torch

    return _torch.log_model(pl_module, name, input_example, signature, **kwargs)


def load_model(model_uri: str, **kwargs: Any) -> Any:
    """Load a logged LightningModule, in eval mode.

    Raises:
        NotFoundError: no model at ``model_uri``.
    """
    from autolog.models import load_model as _load_model

    return _load_model(model_uri, **kwargs)
