"""`autolog ui` as a user starts it: a real process serving the UI over a store on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

from tests.conftest import require
from tests.ui.conftest import ROOT, free_port

require("starlette")
require("uvicorn")


def test_autolog_ui_serves_the_store(tmp_path):
    import autolog

    autolog.set_experiment("served <b>here</b>")
    with autolog.start_run(run_name="one"):
        autolog.log_metric("m", 1.0)
    autolog.flush()
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    proc = subprocess.Popen(
        [sys.executable, "-m", "autolog.cli", "ui", "--tracking-uri", str(tmp_path / "runs"),
         "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ui-api/experiments",
                                            timeout=5) as response:
                    data = json.loads(response.read())
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, proc.communicate()[1]
                assert time.monotonic() < deadline, "autolog ui did not start"
                time.sleep(0.2)
        names = {e["name"]: e["run_count"] for e in data["experiments"]}
        assert names["served <b>here</b>"] == 1
        exp = next(e for e in data["experiments"] if e["name"] == "served <b>here</b>")
        with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/experiments/{exp['experiment_id']}") as response:
            html = response.read().decode()
        assert "served &lt;b&gt;here&lt;/b&gt;" in html and "<b>here" not in html
        assert '<script type="module" src="/static/runs.js">' in html
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/" in out


def test_autolog_server_serves_the_ui_beside_its_api_and_views_follow_writes(tmp_path):
    """`autolog server` mounts the UI after its REST API (one process, one store): a view kept
    by the UI (sorted by a param) shows a run logged through the API right after."""
    require("argon2")
    from tests.server.conftest import ServerProcess

    server = ServerProcess(tmp_path).start()
    api = f"{server.url}/api/2.0/mlflow"

    def call(path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            f"{api}/{path}" if body is not None else f"{server.url}{path}",
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def log_run(name: str, lr: str) -> None:
        run = call("runs/create", {"experiment_id": exp, "run_name": name, "start_time": 1})
        call("runs/log-batch", {"run_id": run["run"]["info"]["run_id"],
                                "params": [{"key": "lr", "value": lr}]})

    try:
        exp = call("experiments/create", {"name": "<i>served</i>"})["experiment_id"]
        log_run("b", "0.2")
        log_run("a", "0.1")
        view = f"/ui-api/experiments/{exp}/runs?sort=-params:lr&cols=params:lr"
        assert [r["run_name"] for r in call(view)["runs"]] == ["b", "a"]
        assert call(f"/ui-api/experiments/{exp}/runs?count=1&filter=params.lr%20%3E%20'0'") \
            == {"total": 2, "more": False}
        log_run("c", "0.3")
        assert [r["run_name"] for r in call(view)["runs"]] == ["c", "b", "a"]
        assert call(f"/ui-api/experiments/{exp}/runs?count=1&filter=params.lr%20%3E%20'0'") \
            == {"total": 3, "more": False}
        with urllib.request.urlopen(f"{server.url}/experiments/{exp}", timeout=30) as response:
            html = response.read().decode()
        assert "&lt;i&gt;served&lt;/i&gt;" in html and "/static/runs.js" in html
    finally:
        server.stop()
