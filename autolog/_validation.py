"""Validation at the call site, so a bad input fails where the user wrote it.

Kept cheap: the fluent ``log_metric`` path runs these for every call, so keys already seen are
remembered and the common float case is checked first.
"""

from __future__ import annotations

import math
import re
from typing import Any

from autolog._redact import mask_value
from autolog.errors import InvalidInputError

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000

# \w is Unicode-aware: keys in any language ("точность", "精度"), as MLflow accepts them.
_KEY_RE = re.compile(r"^[\w\-. /]+$")
_valid_keys: set[str] = set()


def validate_key(key: Any, kind: str) -> str:
    """Return ``key`` if it is a valid metric/param/tag name, else raise.

    Raises:
        InvalidInputError: the key is not a string, is empty or too long, has characters other
            than letters and digits (any script), ``_ - . / space``, or is a path escaping
            (``..`` segments).
    """
    if key in _valid_keys:
        return key  # type: ignore[no-any-return]
    if not isinstance(key, str):
        raise InvalidInputError(f"Invalid {kind} key {key!r}: keys must be strings.")
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInputError(
            f"Invalid {kind} key {key!r}: keys must be 1 to {MAX_KEY_LENGTH} characters long."
        )
    if not _KEY_RE.fullmatch(key) or key.startswith("/") or ".." in key.split("/"):
        raise InvalidInputError(
            f"Invalid {kind} key {key!r}: keys may contain only letters, digits, underscores, "
            "dashes, periods, slashes and spaces, and must not start with '/' or contain '..'."
        )
    if len(_valid_keys) < 100_000:
        _valid_keys.add(key)
    return key


def metric_value(key: str, value: Any) -> float:
    """Convert a metric value to float64, accepting numpy scalars and 0-d arrays/tensors.

    Raises:
        InvalidInputError: the value is not a real number (strings, bools, arrays of size > 1).
    """
    if type(value) is float:
        return value
    if isinstance(value, (str, bytes, bool)) or value is None:
        raise InvalidInputError(
            f"Invalid value {value!r} for metric {key!r}: metrics must be numbers."
        )
    try:
        if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
            value = value.item()
            if isinstance(value, bool):
                raise TypeError
        return float(value)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise InvalidInputError(
            f"Invalid value {value!r} for metric {key!r}: metrics must be numbers "
            "(Python or numpy scalars, 0-d arrays or tensors)."
        ) from exc


def metric_step(step: Any) -> int:
    """Validate a metric step (an integer, default 0)."""
    if step is None:
        return 0
    if type(step) is int:
        return step
    try:
        as_int = int(step)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"Invalid metric step {step!r}: steps must be integers.") from exc
    if as_int != step:
        raise InvalidInputError(f"Invalid metric step {step!r}: steps must be integers.")
    return as_int


def param_value(key: str, value: Any) -> str:
    """Stringify a param value as MLflow does (``str(value)``), bounded in length, with
    secrets masked (:mod:`autolog._redact`)."""
    text = mask_value(key, value if isinstance(value, str) else str(value))
    if len(text) > MAX_PARAM_VALUE_LENGTH:
        text = text[: MAX_PARAM_VALUE_LENGTH - 3] + "..."
    return text


def tag_value(key: str, value: Any) -> str:
    """Stringify a tag value, with secrets masked.

    Raises:
        InvalidInputError: the value is longer than MAX_TAG_VALUE_LENGTH.
    """
    text = mask_value(key, value if isinstance(value, str) else str(value))
    if len(text) > MAX_TAG_VALUE_LENGTH:
        raise InvalidInputError(
            f"Invalid value for tag {key!r}: it is {len(text)} characters long; tag values may "
            f"be at most {MAX_TAG_VALUE_LENGTH} characters."
        )
    return text


def is_finite_number(value: float) -> bool:
    return not (math.isnan(value) or math.isinf(value))
