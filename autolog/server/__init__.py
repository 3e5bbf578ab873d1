"""The tracking server (``autolog server``, extra ``autolog[server]``): MLflow's v2 REST API over
a backend store, an artifact proxy, users and passwords.

``create_app`` builds the ASGI app (tests use it in-process); Starlette is imported only when it is
called, so that this package can be named without the extra installed.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def create_app(*args: Any, **kwargs: Any) -> Any:
    """Build the server's ASGI app; see :func:`autolog.server.app.create_app`.

    Raises:
        ImportError: the ``server`` extra is not installed.
    """
    try:
        from autolog.server.app import create_app as build
    except ImportError as exc:
        if exc.name in ("starlette", "uvicorn", "httpx", "argon2", "anyio"):
            from autolog.errors import missing_dependency

            raise missing_dependency(exc.name, "server") from exc
        raise
    return build(*args, **kwargs)
