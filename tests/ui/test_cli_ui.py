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
