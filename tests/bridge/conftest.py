"""A real MLflow 2, in its own virtualenv (created once, kept in ``.venv-mlflow2``; the server
tests' MLflow 3 client lives in ``.venv-mlflow``), for the bridge
tests: it writes the stores autolog imports and reads back what autolog exports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
# mlflow-skinny has the SQL and file stores; flask and gunicorn run its tracking server.
# SQLAlchemy 2.1 removed a pool class MLflow 2.22 imports, hence the bound.
REQUIREMENTS = ["mlflow-skinny==2.22.0", "sqlalchemy>=2,<2.1", "alembic<2", "flask<4",
                "gunicorn<24"]


def _venv() -> Path:
    return Path(os.environ.get("AUTOLOG_MLFLOW_VENV", ROOT / ".venv-mlflow2"))


@pytest.fixture(scope="session")
def mlflow_python() -> str:
    venv = _venv()
    python = venv / "bin" / "python"
    marker = venv / "autolog-requirements.txt"
    wanted = "\n".join(REQUIREMENTS)
    if not (python.exists() and marker.exists() and marker.read_text() == wanted):
        try:
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True,
                           capture_output=True, timeout=300)
            subprocess.run([str(python), "-m", "pip", "install", "-q", *REQUIREMENTS],
                           check=True, capture_output=True, text=True, timeout=900)
        except (subprocess.SubprocessError, OSError) as exc:
            detail = getattr(exc, "stderr", "") or ""
            message = f"cannot create the MLflow virtualenv at {venv}: {exc} {detail[-2000:]}"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(message)
            pytest.skip(message)
        marker.write_text(wanted)
    return str(python)


def run_mlflow(python: str, script: str, *args: str, cwd: str | None = None) -> dict:
    """Run one of this folder's scripts with MLflow's Python; return the JSON it prints."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOLOG_", "PYTHON"))}
    env["MLFLOW_TRACKING_URI"] = ""
    out = subprocess.run([python, str(HERE / script), *args], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise AssertionError(f"{script} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(python: str, backend_uri: str, cwd: str) -> tuple[subprocess.Popen, str]:
    """MLflow's tracking server on 127.0.0.1 over ``backend_uri``; returns (process, URL)."""
    import time
    import urllib.request

    port = free_port()
    mlflow_cli = str(Path(python).parent / "mlflow")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOLOG_", "PYTHON"))}
    proc = subprocess.Popen(
        [mlflow_cli, "server", "--backend-store-uri", backend_uri, "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1"], cwd=cwd, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"mlflow server exited: {proc.stderr.read()[-3000:]!r}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.3)
    stop_server(proc)
    raise AssertionError("mlflow server did not answer within 120 s")


def stop_server(proc: subprocess.Popen) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)  # gunicorn's master and its worker
        proc.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    if proc.stderr is not None:
        proc.stderr.close()
