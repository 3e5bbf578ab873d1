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
    """``cloudpickle.dumps(model)``, by the C pickler when that writes the same thing.

    cloudpickle calls back into Python for every object of the graph (a forest of 100 trees:
    thousands of calls, twice the C pickler's time). Its output differs from plain pickle's only
    for what plain pickle writes by reference but cloudpickle by value: objects of ``__main__``
    and of modules registered with ``register_pickle_by_value``; what plain pickle cannot write
    at all (lambdas, local classes) raises. Those cases, and any doubt, go to cloudpickle.
    """
    import cloudpickle

    if not getattr(cloudpickle.cloudpickle, "_PICKLE_BY_VALUE_MODULES", True):
        try:
            data = pickle.dumps(model, protocol=cloudpickle.DEFAULT_PROTOCOL)
        except Exception:  # noqa: BLE001 - not picklable by reference: cloudpickle's job
            data = None
        if data is not None and b"__main__" not in data:
            return Pickled(data)
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
