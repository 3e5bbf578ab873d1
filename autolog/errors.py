"""The one exception tree of autolog.

::

    Exception
     └── AutologError                 every error autolog raises on purpose
          ├── InvalidInputError       a bad key, value, argument or URI (also a ValueError)
          │    └── FilterSyntaxError  a search filter that does not parse; ``.position`` is the
          │                           0-based character offset of the offending token
          ├── ParamConflictError      a param logged again with another value in the same run
          ├── NotFoundError           an experiment, run, artifact or model that does not exist
          ├── RunStateError           a run in the wrong state (nested misuse, deleted run, ...)
          ├── PlotError               a plot spec that is malformed or cannot be drawn
          └── StorageError            the store or artifact folder failed (disk full, locked, ...)
    Warning
     └── AutologWarning               something autolog survived and reports once

Foreign errors (SQLAlchemy, OS) are translated at exactly one boundary each and chained with
``from`` so the original stays visible.
"""

from __future__ import annotations

__all__ = [
    "AutologError",
    "AutologWarning",
    "FilterSyntaxError",
    "InvalidInputError",
    "NotFoundError",
    "ParamConflictError",
    "PlotError",
    "RunStateError",
    "StorageError",
    "missing_dependency",
]


class AutologError(Exception):
    """Base class of every error autolog raises on purpose."""


class InvalidInputError(AutologError, ValueError):
    """A bad key, value, argument or URI was given."""


class FilterSyntaxError(InvalidInputError):
    """A search filter or order-by clause that does not parse.

    Attributes:
        position: 0-based character offset where the offending token starts.
    """

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at position {position}")
        self.position = position


class ParamConflictError(AutologError):
    """A param was logged again in the same run with a different value."""


class NotFoundError(AutologError, LookupError):
    """An experiment, run, artifact or model does not exist."""


class RunStateError(AutologError):
    """An operation is not valid in the run's current state."""


class PlotError(AutologError):
    """A plot spec is malformed or could not be drawn (raised when the picture is read)."""


class StorageError(AutologError):
    """The store or the artifact location failed; the cause is chained."""


class AutologWarning(UserWarning):
    """Autolog survived a problem of its own; training went on."""


def missing_dependency(module: str, extra: str | None) -> ImportError:
    """Build the error raised when an optional dependency is not installed: it names the
    ``autolog[extra]`` that installs it, or the package itself when no extra does."""
    target = f"autolog[{extra}]" if extra else module
    return ImportError(f"{module!r} is not installed; install it with: pip install \"{target}\"")
