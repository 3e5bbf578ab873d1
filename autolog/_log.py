"""The ``autolog`` logger and the one way autolog reports what it survived.

The logger has a ``NullHandler``, as a library's should: without it, logging's last-resort
handler prints our records on stderr when the user configured no logging, and ``silent=True``
would not be silent. Autolog never configures logging otherwise (no level, no other handler,
nothing on the root logger). Imported only by code that reports: ``import autolog`` does not
import :mod:`logging`.
"""

from __future__ import annotations

import logging
import sys
import warnings

from autolog.errors import AutologWarning

logger = logging.getLogger("autolog")
if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
    logger.addHandler(logging.NullHandler())


def warn(message: str, *, silent: bool = False, stacklevel: int = 2) -> None:
    """Report ``message`` on the logger and, unless ``silent``, as an :class:`AutologWarning`.

    Never raises: where warnings are turned into errors (``python -W error``, a project's pytest
    ``filterwarnings = error``), the warning is written to stderr instead of becoming an
    exception in the user's code. ``silent`` logs at DEBUG and writes nothing anywhere.
    """
    if silent:
        logger.debug(message)
        return
    logger.warning(message)
    try:
        warnings.warn(message, AutologWarning, stacklevel=stacklevel + 1)
    except Exception:  # noqa: BLE001 - a filter of "error" turned it into an exception
        try:
            sys.stderr.write(f"AutologWarning: {message}\n")
        except Exception:  # noqa: BLE001 - a closed stderr must not fail training either
            pass
