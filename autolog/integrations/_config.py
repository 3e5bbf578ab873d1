"""Per-integration settings, read by patched code at call time.

Why read at call time: calling ``autolog(...)`` again changes what already-patched functions
do, without re-patching and without any import-order requirement.
"""

from __future__ import annotations

import os
import threading
from typing import Any

COMMON_DEFAULTS: dict[str, Any] = {
    "disable": False,
    "exclusive": False,
    "silent": False,
    "log_models": True,
    "log_input_examples": False,
    "log_model_signatures": True,
    "log_datasets": True,
    "log_post_training_metrics": True,
    "max_tuning_runs": 5,
    "extra_tags": None,
    "disable_for_unsupported_versions": False,
    "plots": "lazy",
}

_settings: dict[str, dict[str, Any]] = {}
_explicit: set[str] = set()
_lock = threading.RLock()


def set_config(name: str, settings: dict[str, Any], explicit: bool) -> None:
    with _lock:
        _settings[name] = dict(settings)
        if explicit:
            _explicit.add(name)
        else:
            _explicit.discard(name)


def get_config(name: str) -> dict[str, Any] | None:
    """The integration's settings, or None when autolog was never enabled for it."""
    return _settings.get(name)


def is_enabled(name: str) -> bool:
    settings = _settings.get(name)
    return settings is not None and not settings.get("disable", False)


def is_explicit(name: str) -> bool:
    return name in _explicit


def strict() -> bool:
    """AUTOLOG_STRICT=1 makes autolog's own errors raise instead of warning (tests set it)."""
    return os.environ.get("AUTOLOG_STRICT", "").lower() in ("1", "true", "yes")
