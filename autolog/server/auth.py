"""Users and passwords for ``autolog server --auth``: HTTP basic auth against the backend store's
``users`` table.

Roles: ``read`` (every GET, and the searches sent as POST), ``write`` (read, plus every change to
experiments, runs and artifacts), ``admin`` (write, plus managing users). Passwords are stored as
argon2id hashes (argon2-cffi) and never logged or echoed. Checking a hash is deliberately slow, so
a successful check is remembered for a short while, keyed by a keyed digest of the credentials
(the password itself is never kept) and by the stored hash, so that a changed password or a
removed user stops working within seconds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
import time
from typing import Any

import sqlalchemy as sa

from autolog.errors import InvalidInputError, NotFoundError
from autolog.store import _schema as S
from autolog.store import _wire

ROLES = ("read", "write", "admin")
_RANK = {role: i for i, role in enumerate(ROLES)}
_READ_POSTS = {"runs/search", "experiments/search", "logged-models/search"}
_CACHE_S = 5.0


def _hasher() -> Any:
    try:
        from argon2 import PasswordHasher
    except ImportError:
        from autolog.errors import missing_dependency

        raise missing_dependency("argon2-cffi", "server") from None
    # OWASP's argon2id minimum (19 MiB, 2 passes): keeps a check well under the server's memory
    # budget while still costing an attacker dearly.
    return PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def check_name(name: str) -> str:
    """Raises: InvalidInputError: an empty name, or one with ':' or control characters."""
    if not name or ":" in name or any(ord(c) < 32 for c in name) or len(name) > 256:
        raise InvalidInputError(f"Invalid user name {name!r:.60}: non-empty, no ':', at most 256 characters.")
    return name


def check_role(role: str) -> str:
    """Raises: InvalidInputError: not one of read, write, admin."""
    if role not in ROLES:
        raise InvalidInputError(f"Invalid role {role!r:.30}: expected one of {', '.join(ROLES)}.")
    return role


class Users:
    """The users table of a SQL backend store."""

    def __init__(self, store: Any) -> None:
        if not hasattr(store, "_transact"):
            raise InvalidInputError("--auth needs a SQL backend store (a folder, sqlite:// or postgresql://).")
        self.store = store
        self._secret = os.urandom(32)
        self._cache: dict[bytes, tuple[float, str, str]] = {}  # digest -> (until, role, hash)
        self._lock = threading.Lock()

    def _row(self, name: str) -> Any:
        return self.store._transact(lambda c: c.execute(
            sa.select(S.users).where(S.users.c.username == name)).first(), write=False)

    def add(self, name: str, password: str, role: str) -> None:
        """Raises: InvalidInputError: bad name, role, empty password, or the user exists."""
        check_name(name), check_role(role)
        if not password:
            raise InvalidInputError("The password must not be empty.")
        hashed = _hasher().hash(password)

        def insert(conn: sa.Connection) -> None:
            if conn.execute(sa.select(S.users.c.username).where(S.users.c.username == name)).first():
                raise InvalidInputError(f"User {name!r} already exists.")
            conn.execute(S.users.insert().values(username=name, password_hash=hashed, role=role,
                                                 created_time=int(time.time() * 1000)))

        self.store._transact(insert)

    def remove(self, name: str) -> None:
        """Raises: NotFoundError: no such user."""
        done = self.store._transact(lambda c: c.execute(
            S.users.delete().where(S.users.c.username == name)).rowcount)
        if not done:
            raise NotFoundError(f"No user {name!r}.")

    def set_password(self, name: str, password: str) -> None:
        """Raises: NotFoundError: no such user. InvalidInputError: an empty password."""
        if not password:
            raise InvalidInputError("The password must not be empty.")
        hashed = _hasher().hash(password)
        done = self.store._transact(lambda c: c.execute(
            S.users.update().where(S.users.c.username == name).values(password_hash=hashed)).rowcount)
        if not done:
            raise NotFoundError(f"No user {name!r}.")

    def set_role(self, name: str, role: str) -> None:
        """Raises: NotFoundError: no such user. InvalidInputError: a bad role."""
        check_role(role)
        done = self.store._transact(lambda c: c.execute(
            S.users.update().where(S.users.c.username == name).values(role=role)).rowcount)
        if not done:
            raise NotFoundError(f"No user {name!r}.")

    def list(self) -> list[tuple[str, str]]:
        rows = self.store._transact(lambda c: c.execute(
            sa.select(S.users.c.username, S.users.c.role).order_by(S.users.c.username)).all(), write=False)
        return [(r.username, r.role) for r in rows]

    def authenticate(self, name: str, password: str) -> str | None:
        """The user's role if the password is right, else None."""
        row = self._row(name)
        if row is None:
            _hasher()  # no early answer that tells "no such user" from "wrong password" by timing
            return None
        digest = hmac.new(self._secret, f"{name}\0{password}".encode(), hashlib.sha256).digest()
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(digest)
        if cached is not None and cached[0] > now and cached[2] == row.password_hash:
            return str(row.role)
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            _hasher().verify(row.password_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now + _CACHE_S, str(row.role), row.password_hash)
        return str(row.role)


def required_role(method: str, path: str) -> str | None:
    """The least role a request needs (None: open to anyone, as the health check)."""
    if path in ("/health", "/version"):
        return None
    if path.startswith(f"{_wire.AUTOLOG_API}/users"):
        return "admin"
    if method in ("GET", "HEAD", "OPTIONS"):
        return "read"
    for prefix in (_wire.API + "/", "/ajax-api/2.0/mlflow/"):
        if path.startswith(prefix) and path[len(prefix):] in _READ_POSTS:
            return "read"
    return "write"


class AuthMiddleware:
    """Pure ASGI middleware: every request (the UI's included) needs a known user and role."""

    def __init__(self, app: Any, users: Users) -> None:
        self.app = app
        self.users = users

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        need = required_role(scope["method"], scope["path"])
        if need is None:
            await self.app(scope, receive, send)
            return
        name, password = _basic_credentials(scope)
        role = None
        if name is not None:
            from starlette.concurrency import run_in_threadpool

            role = await run_in_threadpool(self.users.authenticate, name, password or "")
        if role is None:
            await _deny(send, "UNAUTHENTICATED",
                        "You are not authenticated. Please see the server's documentation on how to "
                        "authenticate (HTTP basic auth with a user made by `autolog server users add`).",
                        {"WWW-Authenticate": 'Basic realm="autolog"'})
            return
        if _RANK[role] < _RANK[need]:
            await _deny(send, "PERMISSION_DENIED",
                        f"Permission denied: user {name!r} has role {role!r}; this request needs {need!r}.")
            return
        scope["autolog.user"] = name
        await self.app(scope, receive, send)


def _basic_credentials(scope: Any) -> tuple[str | None, str | None]:
    for key, value in scope.get("headers", []):
        if key == b"authorization":
            scheme, _, encoded = value.decode("latin-1").partition(" ")
            if scheme.lower() != "basic":
                return None, None
            try:
                name, sep, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return None, None
            return (name, password) if sep else (None, None)
    return None, None


async def _deny(send: Any, code: str, message: str, headers: dict[str, str] | None = None) -> None:
    body = _wire.dumps({"error_code": code, "message": message})
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": _wire.STATUS[code], "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
