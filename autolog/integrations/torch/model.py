"""The model format shared by the torch and lightning flavors: weights plus a way to rebuild.

A ``torch.nn.Module`` is saved in one of three forms, chosen when it is snapshotted:

* ``state_dict`` (preferred): the weights (``torch.save`` of ``state_dict()``), the class (a
  cloudpickle of it: a reference when it is importable, the class itself when it lives in
  ``__main__`` or a function) and the keyword arguments that rebuild it (a LightningModule's
  ``save_hyperparameters()``, or ``init_kwargs`` given to ``log_model``). Used when those
  arguments bind to the class's ``__init__``, or when it takes no arguments at all.
* ``pickle``: the whole module, ``torch.save`` with cloudpickle, when it cannot be rebuilt.
* ``torchscript``: ``torch.jit.save`` of a scripted module, only when asked.

The snapshot holds bytes only, so the files are written later on the writer thread while the
training code goes on changing the live module.
"""

from __future__ import annotations

import inspect
import io
import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from autolog.errors import InvalidInputError

SERIALIZATIONS = ("auto", "state_dict", "pickle", "torchscript")
_FILES = {"state_dict": "state_dict.pt", "pickle": "model.pt", "torchscript": "model.torchscript.pt"}
CLASS_FILE = "class.pkl"
INIT_FILE = "init_kwargs.pkl"


@dataclass(frozen=True)
class TorchSnapshot:
    """An independent, serialised copy of a module, taken on the training path."""

    serialization: str
    payload: bytes
    class_module: str
    class_qualname: str
    class_bytes: bytes | None = None
    init_kwargs: bytes | None = None


def _init_kwargs(model: Any, given: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The arguments that rebuild ``model``, or None when they are unknown."""
    if given is not None:
        return dict(given)
    hparams = getattr(model, "hparams", None)  # LightningModule.save_hyperparameters()
    if isinstance(hparams, Mapping) and hparams:
        return dict(hparams)
    return None


def _rebuildable(cls: type, kwargs: Mapping[str, Any] | None) -> bool:
    """Whether ``cls(**kwargs)`` rebuilds the module. With unknown arguments only a class that
    takes none qualifies: defaults are not the values the user passed."""
    try:
        sig = inspect.signature(cls.__init__)  # type: ignore[misc]
    except (TypeError, ValueError):
        return False
    params = list(sig.parameters.values())[1:]  # drop self
    if kwargs is None:
        return all(p.kind is p.VAR_KEYWORD for p in params)
    try:
        sig.bind(None, **kwargs)
    except TypeError:
        return False
    return True


def snapshot(model: Any, serialization: str = "auto",
             init_kwargs: Mapping[str, Any] | None = None) -> TorchSnapshot:
    """Serialise ``model`` now, in memory.

    Raises:
        InvalidInputError: unknown ``serialization``, or ``state_dict`` asked for a module that
            cannot be rebuilt from its init arguments.
    """
    import cloudpickle
    import torch

    if isinstance(model, TorchSnapshot):
        return model
    if serialization not in SERIALIZATIONS:
        raise InvalidInputError(
            f"Unknown serialization {serialization!r}; expected one of {', '.join(SERIALIZATIONS)}.")
    cls = type(model)
    buf = io.BytesIO()
    if serialization == "torchscript":
        scripted = model if isinstance(model, torch.jit.ScriptModule) else torch.jit.script(model)
        torch.jit.save(scripted, buf)
        return TorchSnapshot("torchscript", buf.getvalue(), cls.__module__, cls.__qualname__)
    kwargs = _init_kwargs(model, init_kwargs)
    if serialization == "auto":
        serialization = "state_dict" if _rebuildable(cls, kwargs) else "pickle"
    if serialization == "pickle":
        torch.save(model, buf, pickle_module=cloudpickle)
        return TorchSnapshot("pickle", buf.getvalue(), cls.__module__, cls.__qualname__)
    if not _rebuildable(cls, kwargs):
        raise InvalidInputError(
            f"{cls.__qualname__} cannot be rebuilt from init arguments {sorted(kwargs or ())}: pass "
            "init_kwargs=..., or serialization='pickle'.")
    torch.save(model.state_dict(), buf)
    return TorchSnapshot("state_dict", buf.getvalue(), cls.__module__, cls.__qualname__,
                         class_bytes=cloudpickle.dumps(cls), init_kwargs=cloudpickle.dumps(kwargs or {}))


def save(model: Any, folder: str) -> dict[str, Any]:
    """Flavor ``save``: write a snapshot (taken now if ``model`` is a live module)."""
    snap = model if isinstance(model, TorchSnapshot) else snapshot(model)
    model_file = _FILES[snap.serialization]
    with open(os.path.join(folder, model_file), "wb") as fh:
        fh.write(snap.payload)
    meta: dict[str, Any] = {"serialization": snap.serialization, "model_file": model_file,
                            "class_module": snap.class_module, "class_qualname": snap.class_qualname}
    if snap.class_bytes is not None:
        with open(os.path.join(folder, CLASS_FILE), "wb") as fh:
            fh.write(snap.class_bytes)
        meta["class_file"] = CLASS_FILE
    if snap.init_kwargs is not None:
        with open(os.path.join(folder, INIT_FILE), "wb") as fh:
            fh.write(snap.init_kwargs)
        meta["init_kwargs_file"] = INIT_FILE
    return meta


def load(folder: str, meta: dict[str, Any]) -> Any:
    """Flavor ``load``: rebuild the module on ``map_location`` (default CPU), in eval mode."""
    import torch

    map_location = meta.get("map_location", "cpu")
    path = os.path.join(folder, meta["model_file"])
    serialization = meta["serialization"]
    if serialization == "torchscript":
        return torch.jit.load(path, map_location=map_location)
    if serialization == "pickle":
        model = torch.load(path, map_location=map_location, weights_only=False)
    else:
        with open(os.path.join(folder, meta["class_file"]), "rb") as fh:
            cls = pickle.load(fh)
        with open(os.path.join(folder, meta["init_kwargs_file"]), "rb") as fh:
            kwargs = pickle.load(fh)
        model = cls(**kwargs)
        model.load_state_dict(torch.load(path, map_location=map_location, weights_only=True))
        if isinstance(map_location, (str, torch.device)):
            model = model.to(map_location)
    return model.eval()
