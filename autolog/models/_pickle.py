"""Pickle-based flavors: the fallback for any Python object, and the base of the sklearn flavor.

cloudpickle writes classes defined in ``__main__`` by value, so a model of a user's own
estimator class loads in another process; the output is read by plain ``pickle``.
"""

from __future__ import annotations

import os
import pickle
from typing import Any

from autolog.models._flavors import Flavor

MODEL_FILE = "model.pkl"


class Pickled(bytes):
    """A model already serialised by :func:`snapshot`."""


def snapshot(model: Any) -> Pickled:
    import cloudpickle

    return Pickled(cloudpickle.dumps(model))


def _save(model: Any, folder: str) -> dict[str, Any]:
    data = model if isinstance(model, Pickled) else snapshot(model)
    with open(os.path.join(folder, MODEL_FILE), "wb") as fh:
        fh.write(data)
    return {"model_file": MODEL_FILE, "serialization": "cloudpickle"}


def _load(folder: str, metadata: dict[str, Any]) -> Any:
    with open(os.path.join(folder, metadata.get("model_file", MODEL_FILE)), "rb") as fh:
        return pickle.load(fh)


def pickle_flavor(name: str, requirements: tuple[str, ...] = ()) -> Flavor:
    return Flavor(name=name, save=_save, load=_load, requirements=("cloudpickle", *requirements),
                  snapshot=snapshot)


FLAVOR = pickle_flavor("pickle")
