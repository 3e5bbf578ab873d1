"""A real MLflow, in its own virtualenv (created once, kept in ``.venv-mlflow``), for the bridge
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
# mlflow-skinny has the SQL and file stores; SQLAlchemy 2.1 removed a pool class MLflow 2.22
# imports, hence the bound.
REQUIREMENTS = ["mlflow-skinny==2.22.0", "sqlalchemy>=2,<2.1", "alembic<2"]


def _venv() -> Path:
    return Path(os.environ.get("AUTOLOG_MLFLOW_VENV", ROOT / ".venv-mlflow"))


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
