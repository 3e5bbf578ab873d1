"""Tracking servers for the tests: the app served by uvicorn in a thread of this process, or
``autolog server`` as a real subprocess, both on a free port of 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import require

for _module in ("starlette", "uvicorn", "httpx", "argon2"):
    require(_module)

ROOT = Path(__file__).resolve().parents[2]


class LiveServer:
    """An ASGI app served by uvicorn on a thread (real HTTP, same process)."""

    def __init__(self, app) -> None:
        import uvicorn

        self.app = app
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "the in-process server did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen | None = None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.read() == b"OK":
                    return
        except OSError:
            pass
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the server exited with {proc.returncode}:\n{proc.stderr.read()}")
        assert time.monotonic() < deadline, f"no server at {url}"
        time.sleep(0.05)


def subprocess_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("AUTOLOG_TRACKING_URI", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


class ServerProcess:
    """``autolog server`` in a subprocess; restartable on the same port and store. The store and
    artifact root default to a SQLite file and a folder in ``folder``."""

    def __init__(self, folder: Path, *args: str, port: int | None = None, store: str | None = None,
                 artifact_root: str | None = None) -> None:
        self.folder = folder
        self.args = list(args)
        self.store = store or f"sqlite:///{folder / 'server.db'}"
        self.artifact_root = artifact_root or str(folder / "server-artifacts")
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.stderr = ""

    def start(self) -> "ServerProcess":
        cmd = [sys.executable, "-m", "autolog.cli", "server", "--port", str(self.port),
               "--backend-store-uri", self.store, "--default-artifact-root", self.artifact_root,
               *self.args]
        self.proc = subprocess.Popen(cmd, env=subprocess_env(), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, cwd=self.folder)
        wait_healthy(self.url, self.proc)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc is not None and not self.proc.stderr.closed:
            self.stderr += self.proc.stderr.read()
            for stream in (self.proc.stdout, self.proc.stderr):
                stream.close()


@pytest.fixture
def live_server(tmp_path):
    from autolog.server import create_app

    app = create_app(f"sqlite:///{tmp_path / 'server.db'}",
                     default_artifact_root=str(tmp_path / "server-artifacts"))
    with LiveServer(app) as server:
        yield server
    app.state.store.close()


@pytest.fixture
def server_process(tmp_path):
    folder = tmp_path / "server"
    folder.mkdir()
    server = ServerProcess(folder).start()
    yield server
    server.stop()
