"""``autolog server --auth``: users and roles in the backend store, basic auth on every request,
401/403 with MLflow's error codes, credentials never stored or echoed."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

import autolog
from autolog.errors import StorageError
from autolog.server import create_app
from autolog.server.auth import Users
from autolog.store.rest import RestStore
from autolog.store.sql import SqlStore
from tests.server.conftest import LiveServer, ServerProcess, subprocess_env

API = "/api/2.0/mlflow"
PASSWORDS = {"reader": "r-pass-1", "writer": "w-pass-2", "boss": "a-pass-3"}


@pytest.fixture
def auth_server(tmp_path):
    store = SqlStore(f"sqlite:///{tmp_path / 'auth.db'}", str(tmp_path / "art"))
    users = Users(store)
    for (name, password), role in zip(PASSWORDS.items(), ("read", "write", "admin")):
        users.add(name, password, role)
    app = create_app(store=store, auth=True)
    with LiveServer(app) as server:
        yield server
    store.close()


def _as(user: str | None, password: str | None = None) -> dict:
    if user is None:
        return {}
    return {"auth": (user, password if password is not None else PASSWORDS[user])}


def test_requests_need_a_user(auth_server):
    url = auth_server.url
    anonymous = httpx.get(f"{url}{API}/experiments/get", params={"experiment_id": "0"})
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Basic")
    assert anonymous.json()["error_code"] == "UNAUTHENTICATED"
    wrong = httpx.get(f"{url}{API}/experiments/get", params={"experiment_id": "0"}, **_as("reader", "nope"))
    assert wrong.status_code == 401 and "nope" not in wrong.text
    unknown = httpx.get(f"{url}{API}/experiments/get", params={"experiment_id": "0"}, **_as("ghost", "x"))
    assert unknown.status_code == 401
    assert httpx.get(f"{url}/health").text == "OK"  # for load balancers
    # Everything else is behind the password, unknown paths included (no probing).
    assert httpx.get(f"{url}/anything").status_code == 401


def test_roles(auth_server):
    url = auth_server.url
    body = {"experiment_id": "0", "run_name": "r"}
    denied = httpx.post(f"{url}{API}/runs/create", json=body, **_as("reader"))
    assert denied.status_code == 403 and denied.json()["error_code"] == "PERMISSION_DENIED"
    search = httpx.post(f"{url}{API}/runs/search", json={"experiment_ids": ["0"]}, **_as("reader"))
    assert search.status_code == 200 and search.json() == {"runs": []}
    made = httpx.post(f"{url}{API}/runs/create", json={**body, "user_id": "mallory"}, **_as("writer"))
    assert made.status_code == 200
    assert made.json()["run"]["info"]["user_id"] == "writer"  # the account, not the claim
    put = httpx.put(f"{url}/api/2.0/mlflow-artifacts/artifacts/0/x/a.txt", content=b"1", **_as("reader"))
    assert put.status_code == 403
    assert httpx.get(f"{url}/api/2.0/autolog/users", **_as("writer")).status_code == 403


def test_rest_client_reads_credentials_from_the_environment(auth_server, monkeypatch, tracking_dir):
    monkeypatch.setenv("AUTOLOG_TRACKING_USERNAME", "writer")
    monkeypatch.setenv("AUTOLOG_TRACKING_PASSWORD", PASSWORDS["writer"])
    autolog.set_tracking_uri(auth_server.url)
    with autolog.start_run() as run:
        autolog.log_param("p", "1")
        autolog.log_metric("m", 2.0)
    got = autolog.Client().get_run(run.info.run_id)
    assert got.data.params == {"p": "1"} and got.data.metrics == {"m": 2.0}
    stored = " ".join([*got.data.tags.values(), *got.data.params.values(), got.info.user_id])
    assert PASSWORDS["writer"] not in stored

    monkeypatch.delenv("AUTOLOG_TRACKING_USERNAME")
    monkeypatch.delenv("AUTOLOG_TRACKING_PASSWORD")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "reader")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORDS["reader"])
    reader = RestStore(auth_server.url)
    assert reader.get_run(run.info.run_id).info.run_id == run.info.run_id
    with pytest.raises(StorageError, match="Permission denied"):
        reader.create_run("0", "nope", 1)
    reader.close()

    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "wrong-secret")
    wrong = RestStore(auth_server.url)
    with pytest.raises(StorageError) as err:
        wrong.get_run(run.info.run_id)
    assert "AUTOLOG_TRACKING_USERNAME" in str(err.value) and "wrong-secret" not in str(err.value)
    wrong.close()


def test_changed_password_and_removed_user(tmp_path):
    store = SqlStore(f"sqlite:///{tmp_path / 'auth.db'}", str(tmp_path / "art"))
    users = Users(store)
    users.add("ana", "first", "write")
    assert users.authenticate("ana", "first") == "write"
    users.set_password("ana", "second")
    assert users.authenticate("ana", "first") is None
    assert users.authenticate("ana", "second") == "write"
    users.remove("ana")
    assert users.authenticate("ana", "second") is None
    row = store._transact(lambda c: c.exec_driver_sql("SELECT password_hash FROM users").all(), write=False)
    assert row == []
    # '-' and ' ' are outside the base64 alphabet of the hash, so a random salt or digest cannot contain the password.
    users.add("bo", "not-in clear", "read")
    (hashed,) = store._transact(lambda c: c.exec_driver_sql("SELECT password_hash FROM users").one(), write=False)
    assert hashed.startswith("$argon2id$") and "not-in clear" not in hashed
    assert users.authenticate("bo", "not-in clear") == "read"
    store.close()


def test_cli_users_then_server_with_auth(tmp_path):
    folder = tmp_path / "srv"
    folder.mkdir()
    uri = f"sqlite:///{folder / 'server.db'}"
    cli = [sys.executable, "-m", "autolog.cli", "server", "users"]
    added = subprocess.run([*cli, "add", "admin", "--role", "admin", "--password-stdin",
                            "--backend-store-uri", uri], input="s3cret-pw\n", text=True,
                           capture_output=True, env=subprocess_env(), timeout=60)
    assert added.returncode == 0, added.stderr
    assert "s3cret-pw" not in added.stdout + added.stderr
    again = subprocess.run([*cli, "add", "admin", "--password-stdin", "--backend-store-uri", uri],
                           input="x\n", text=True, capture_output=True, env=subprocess_env(), timeout=60)
    assert again.returncode == 1 and "already exists" in again.stderr
    server = ServerProcess(folder, "--auth").start()
    try:
        assert httpx.get(f"{server.url}{API}/experiments/search").status_code == 401
        ok = httpx.get(f"{server.url}{API}/experiments/search", auth=("admin", "s3cret-pw"))
        assert ok.status_code == 200 and ok.json()["experiments"][0]["name"] == "Default"
    finally:
        server.stop()
    assert "no --auth" not in server.stderr


def test_server_without_auth_says_it_is_open(server_process):
    server_process.stop()
    assert "no --auth" in server_process.stderr and "this machine only" in server_process.stderr

