"""The integration registry: which framework module each integration watches, the versions it
is tested against, and where its ``autolog()`` lives. Entries are checked when registered."""

from __future__ import annotations

import importlib
import re
import threading
from dataclasses import dataclass
from typing import Any, Callable

from autolog.errors import InvalidInputError

ENTRY_POINT_GROUP = "autolog.integrations"
_SPEC_RE = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*([0-9][0-9A-Za-z.]*)\s*$")


@dataclass(frozen=True)
class Integration:
    """One framework integration.

    Attributes:
        name: registry key, extra name and module name (``sklearn``).
        module: the module holding ``autolog()`` and ``apply(framework_module)``.
        watch: framework modules; importing any of them applies the patches.
        distribution: the PyPI distribution whose version is checked (``scikit-learn``).
        tested: the tested version range, as ``">=1.3,<2"``.
    """

    name: str
    module: str
    watch: tuple[str, ...]
    distribution: str
    tested: str

    def load(self) -> Any:
        return importlib.import_module(self.module)


def _parse_version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split("+")[0].split("."):
        digits = re.match(r"\d+", piece)
        if digits is None:
            break
        parts.append(int(digits.group()))
    return tuple(parts)


def _parse_range(text: str) -> list[tuple[str, tuple[int, ...]]]:
    out = []
    for clause in text.split(","):
        m = _SPEC_RE.match(clause)
        if m is None:
            raise InvalidInputError(f"Invalid version range {text!r}: expected e.g. '>=1.3,<2'.")
        out.append((m.group(1), _parse_version(m.group(2))))
    return out


_OPS: dict[str, Callable[[tuple[int, ...], tuple[int, ...]], bool]] = {
    ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
    "<": lambda a, b: a < b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}


def version_supported(integration: Integration) -> tuple[bool, str | None]:
    """(within the tested range, installed version or None)."""
    from importlib import metadata

    try:
        installed = metadata.version(integration.distribution)
    except metadata.PackageNotFoundError:
        return True, None
    v = _parse_version(installed)
    return all(_OPS[op](v, bound) for op, bound in _parse_range(integration.tested)), installed


_REGISTRY: dict[str, Integration] = {}
_lock = threading.Lock()
_entry_points_loaded = False


def register(integration: Integration) -> None:
    """Add an integration; checked now, so a bad entry fails here and not at the first fit.

    Raises:
        InvalidInputError: a malformed entry, or the name is taken by another module.
    """
    if not integration.name.isidentifier():
        raise InvalidInputError(f"Integration name {integration.name!r} must be an identifier.")
    if not integration.watch or not all(isinstance(m, str) and m for m in integration.watch):
        raise InvalidInputError(f"Integration {integration.name!r} must watch at least one module.")
    _parse_range(integration.tested)
    with _lock:
        existing = _REGISTRY.get(integration.name)
        if existing is not None and existing.module != integration.module:
            raise InvalidInputError(
                f"Integration {integration.name!r} is already registered by {existing.module}.")
        _REGISTRY[integration.name] = integration


def integrations() -> list[Integration]:
    _load_entry_points()
    return list(_REGISTRY.values())


def get(name: str) -> Integration:
    _load_entry_points()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise InvalidInputError(
            f"Unknown integration {name!r}; known: {', '.join(sorted(_REGISTRY))}.") from None


def _load_entry_points() -> None:
    """Third-party integrations: an entry point whose object is an :class:`Integration`."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    from importlib import metadata

    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            register(ep.load())
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not break autolog()
            from autolog import _log

            _log.warn(f"autolog: integration entry point {ep.name!r} failed to load: {exc}",
                      stacklevel=3)


for _builtin in (
    Integration("sklearn", "autolog.integrations.sklearn", ("sklearn",), "scikit-learn", ">=1.3,<1.11"),
    Integration("xgboost", "autolog.integrations.xgboost", ("xgboost",), "xgboost", ">=2.0,<3.5"),
    Integration("lightgbm", "autolog.integrations.lightgbm", ("lightgbm",), "lightgbm", ">=4.0,<4.8"),
    Integration("statsmodels", "autolog.integrations.statsmodels", ("statsmodels",), "statsmodels",
                ">=0.14,<0.16"),
    Integration("torch", "autolog.integrations.torch", ("torch",), "torch", ">=2.1,<2.15"),
    Integration("lightning", "autolog.integrations.lightning", ("lightning", "pytorch_lightning"),
                "lightning", ">=2.1,<2.7"),
    Integration("keras", "autolog.integrations.keras", ("keras",), "keras", ">=3.0,<3.16"),
    Integration("spark", "autolog.integrations.spark", ("pyspark.ml",), "pyspark", ">=3.5,<4.1"),
):
    register(_builtin)
