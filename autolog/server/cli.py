"""``autolog server``: run the tracking server, and manage its users.

::

    autolog server [--backend-store-uri URI] [--default-artifact-root URI] [--host H] [--port N]
                   [--workers N] [--serve-artifacts/--no-serve-artifacts] [--auth]
                   [--heartbeat-timeout SECONDS]
    autolog server users add NAME --role {read,write,admin} [--password-stdin]
    autolog server users remove NAME
    autolog server users set-password NAME [--password-stdin]
    autolog server users list

Only click is imported here; uvicorn and Starlette load when the server starts, so the rest of
the ``autolog`` command stays fast and works without the ``server`` extra.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

_STORE_HELP = ("Where runs are stored: a folder, sqlite:///path.db (or any URI the store supports) "
               "[default: ./autolog-runs].")


def _fail(exc: BaseException) -> click.ClickException:
    return click.ClickException(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--backend-store-uri", default=None, metavar="URI", help=_STORE_HELP)
@click.option("--default-artifact-root", default=None, metavar="URI",
              help="Root of new experiments' artifacts (a folder) [default: beside the store].")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but 127.0.0.1 exposes the server to the network.")
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes.")
@click.option("--serve-artifacts/--no-serve-artifacts", default=True, show_default=True,
              help="Serve artifacts through the server (clients need no storage credentials).")
@click.option("--auth", is_flag=True, help="Require a user name and password (HTTP basic auth).")
@click.option("--heartbeat-timeout", default=600.0, show_default=True, type=float, metavar="SECONDS",
              help="Mark a client's RUNNING run KILLED after this long without a heartbeat (0: never).")
@click.pass_context
def server(ctx: click.Context, backend_store_uri: str | None, default_artifact_root: str | None,
           host: str, port: int, workers: int, serve_artifacts: bool, auth: bool,
           heartbeat_timeout: float) -> None:
    """Run the tracking server (MLflow's REST API), or manage its users."""
    ctx.obj = {"backend_store_uri": backend_store_uri}
    if ctx.invoked_subcommand is not None:
        return
    try:
        import uvicorn
    except ImportError:
        raise click.ClickException('uvicorn is not installed; install it with: pip install "autolog[server]"') from None
    from autolog import _tracking

    uri = backend_store_uri or os.path.abspath(_tracking.DEFAULT_FOLDER)
    env = {
        "AUTOLOG_SERVER_BACKEND_STORE_URI": uri,
        "AUTOLOG_SERVER_ARTIFACT_ROOT": default_artifact_root or "",
        "AUTOLOG_SERVER_SERVE_ARTIFACTS": "1" if serve_artifacts else "0",
        "AUTOLOG_SERVER_AUTH": "1" if auth else "0",
        "AUTOLOG_SERVER_HEARTBEAT_TIMEOUT": str(heartbeat_timeout),
    }
    os.environ.update(env)  # worker processes build their app from these
    try:
        from autolog.server.app import app_from_env

        app: Any = app_from_env()  # opened here too, so a bad URI or database fails before binding
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback
        raise _fail(exc) from exc
    if auth:
        from autolog.server.auth import Users

        if not Users(app.state.store).list():
            click.echo("Warning: --auth but no users yet; add one with "
                       "`autolog server users add NAME --role admin`.", err=True)
    else:
        where = "this machine only" if host in ("127.0.0.1", "localhost", "::1") else "the NETWORK"
        click.echo(f"Warning: no --auth: anyone who can connect ({where}) can read and write runs.",
                   err=True)
    click.echo(f"autolog server: store {_safe(uri)}; listening on http://{host}:{port}", err=True)
    if workers > 1:
        uvicorn.run("autolog.server.app:app_from_env", factory=True, host=host, port=port,
                    workers=workers, log_level="warning")
    else:
        uvicorn.run(app, host=host, port=port, log_level="warning")


def _safe(uri: str) -> str:
    """``uri`` without a password, for printing."""
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    if parts.password:
        return uri.replace(f":{parts.password}@", ":***@")
    return uri


@server.group()
def users() -> None:
    """Manage the users of ``autolog server --auth`` (in the backend store)."""


def _store_option(fn: Any) -> Any:
    """``--backend-store-uri`` on each users command too (the same as the server's)."""
    def remember(ctx: click.Context, _param: Any, value: str | None) -> None:
        if value:
            ctx.obj["backend_store_uri"] = value

    return click.option("--backend-store-uri", default=None, metavar="URI", help=_STORE_HELP,
                        expose_value=False, callback=remember)(fn)


def _users(ctx: click.Context) -> Any:
    from autolog import _tracking
    from autolog.server.auth import Users

    uri = ctx.obj["backend_store_uri"] or os.path.abspath(_tracking.DEFAULT_FOLDER)
    try:
        return Users(_tracking.open_store(uri))
    except Exception as exc:  # noqa: BLE001
        raise _fail(exc) from exc


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


def _run(fn: Any, *args: Any) -> None:
    from autolog.errors import AutologError

    try:
        fn(*args)
    except AutologError as exc:
        raise _fail(exc) from exc


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["read", "write", "admin"]), default="write", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@_store_option
@click.pass_context
def users_add(ctx: click.Context, name: str, role: str, password_stdin: bool) -> None:
    """Add a user."""
    store = _users(ctx)
    _run(store.add, name, _password(password_stdin), role)
    click.echo(f"User {name!r} added with role {role!r}.")


@users.command("remove")
@click.argument("name")
@_store_option
@click.pass_context
def users_remove(ctx: click.Context, name: str) -> None:
    """Remove a user."""
    _run(_users(ctx).remove, name)
    click.echo(f"User {name!r} removed.")


@users.command("set-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@_store_option
@click.pass_context
def users_set_password(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Change a user's password."""
    store = _users(ctx)
    _run(store.set_password, name, _password(password_stdin))
    click.echo(f"Password of {name!r} changed.")


@users.command("set-role")
@click.argument("name")
@click.argument("role", type=click.Choice(["read", "write", "admin"]))
@_store_option
@click.pass_context
def users_set_role(ctx: click.Context, name: str, role: str) -> None:
    """Change a user's role."""
    _run(_users(ctx).set_role, name, role)
    click.echo(f"User {name!r} now has role {role!r}.")


@users.command("list")
@_store_option
@click.pass_context
def users_list(ctx: click.Context) -> None:
    """List users and their roles."""
    for name, role in _users(ctx).list():
        click.echo(f"{name}\t{role}")
