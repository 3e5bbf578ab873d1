"""The flavor registry: how each framework's models are saved and loaded.

A flavor lives in its integration module (``autolog.integrations.<name>.FLAVOR``); the registry
only names the module and the top-level packages whose classes it handles, so finding a flavor
for a model imports nothing but that one integration module.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from autolog.entities import _Entity
from autolog.errors import InvalidInputError


class Flavor(_Entity):
    """How one framework's models are saved to and loaded from a folder.

    Attributes:
        name: the flavor name written into model.json.
        save: ``save(model, folder) -> dict`` writes the model's files, returns extra metadata.
        load: ``load(folder, metadata) -> model`` rebuilds the native object.
        requirements: distribution names pinned in requirements.txt.
        snapshot: optional ``snapshot(model) -> object`` taking an independent, cheap copy
            (serialised bytes, say) that ``save`` accepts later on the writer thread, so that
            autologging never writes model files on the training path.
        coefficients: optional ``coefficients(model) -> str | None``, the model's coefficient
            table as CSV (``docs/plot-specs.md``, kind ``model_coefficients``), for the reports
            rendered on first read; None where the model has no coefficients.
    """

    __slots__ = ("name", "save", "load", "requirements", "snapshot", "coefficients")
    name: str
    save: Callable[[Any, str], dict[str, Any]]
    load: Callable[[str, dict[str, Any]], Any]
    requirements: tuple[str, ...]
    snapshot: Callable[[Any], Any] | None
    coefficients: Callable[[Any], str | None] | None

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        return {"requirements": (), "snapshot": None, "coefficients": None}


# flavor name -> (integration module, top-level packages of the classes it handles)
_REGISTRY: dict[str, tuple[str, tuple[str, ...]]] = {
    "xgboost": ("autolog.integrations.xgboost", ("xgboost",)),
    "lightgbm": ("autolog.integrations.lightgbm", ("lightgbm",)),
    "statsmodels": ("autolog.integrations.statsmodels", ("statsmodels",)),
    "lightning": ("autolog.integrations.lightning", ("lightning", "pytorch_lightning")),
    "keras": ("autolog.integrations.keras", ("keras", "tf_keras")),
    "torch": ("autolog.integrations.torch", ("torch",)),
    "sklearn": ("autolog.integrations.sklearn", ("sklearn",)),
    "spark": ("autolog.integrations.spark", ("pyspark",)),
    "pickle": ("autolog.models._pickle", ()),
}


def register_flavor(name: str, module: str, packages: tuple[str, ...]) -> None:
    """Register a flavor whose ``FLAVOR`` object lives in ``module``.

    Raises:
        InvalidInputError: the name is taken by another module.
    """
    existing = _REGISTRY.get(name)
    if existing is not None and existing[0] != module:
        raise InvalidInputError(f"Flavor {name!r} is already registered by {existing[0]}.")
    _REGISTRY[name] = (module, packages)


def get_flavor(name: str) -> Flavor:
    """Raises: InvalidInputError: no flavor of that name."""
    entry = _REGISTRY.get(name)
    if entry is None:
        raise InvalidInputError(
            f"Unknown model flavor {name!r}; known: {', '.join(sorted(_REGISTRY))}.")
    return importlib.import_module(entry[0]).FLAVOR  # type: ignore[no-any-return]


def flavor_for(model: Any) -> Flavor:
    """The flavor for a model object, by the packages of its class hierarchy (most specific
    first), falling back to cloudpickle."""
    packages = [cls.__module__.split(".")[0] for cls in type(model).__mro__]
    for package in packages:
        for name, (_module, handled) in _REGISTRY.items():
            if package in handled:
                return get_flavor(name)
    return get_flavor("pickle")
