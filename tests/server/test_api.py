"""The REST API on the wire: MLflow's paths, fields and error codes, bad input refused with a
4xx and a clear message, nothing stored harmed; the artifact proxy; the remote client's errors."""

from __future__ import annotations

import json

import httpx
import pytest

import autolog
from autolog.entities import Metric, Param
from autolog.errors import FilterSyntaxError, NotFoundError, ParamConflictError, StorageError
from autolog.store.rest import RestStore

API = "/api/2.0/mlflow"


@pytest.fixture
def http(live_server):
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        yield client


@pytest.fixture
def run_id(http):
    r = http.post(f"{API}/runs/create", json={"experiment_id": "0", "run_name": "wire",
                                              "start_time": 1000, "tags": [{"key": "t", "value": "1"}]})
    assert r.status_code == 200, r.text
    return r.json()["run"]["info"]["run_id"]


def _error(response, status, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code and body["message"]
    return body["message"]


def test_run_round_trip_with_mlflow_field_names(http, run_id):
    batch = {"run_id": run_id,
             "metrics": [{"key": "loss", "value": 0.5, "timestamp": 1, "step": 0},
                         {"key": "loss", "value": "NaN", "timestamp": 2, "step": 1},
                         {"key": "big", "value": "Infinity", "timestamp": "3", "step": "2"}],
             "params": [{"key": "lr", "value": "0.1"}], "tags": [{"key": "phase", "value": "a"}]}
    assert http.post(f"{API}/runs/log-batch", json=batch).json() == {}
    run = http.get(f"{API}/runs/get", params={"run_id": run_id}).json()["run"]
    info = run["info"]
    assert info["run_uuid"] == run_id and info["status"] == "RUNNING" and info["start_time"] == 1000
    assert info["artifact_uri"] == f"mlflow-artifacts:/0/{run_id}/artifacts"
    assert {"key": "lr", "value": "0.1"} in run["data"]["params"]
    metrics = {m["key"]: m["value"] for m in run["data"]["metrics"]}
    assert metrics == {"loss": "NaN", "big": "Infinity"}
    history = http.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "loss"})
    assert [(m["step"], m["value"]) for m in history.json()["metrics"]] == [(0, 0.5), (1, "NaN")]
    done = http.post(f"{API}/runs/update", json={"run_id": run_id, "status": "FINISHED",
                                                 "end_time": 2000}).json()["run_info"]
    assert (done["status"], done["end_time"]) == ("FINISHED", 2000)


def test_experiments_endpoints(http):
    eid = http.post(f"{API}/experiments/create", json={"name": "e1", "tags": [{"key": "k", "value": "v"}]}
                    ).json()["experiment_id"]
    msg = _error(http.post(f"{API}/experiments/create", json={"name": "e1"}), 400, "RESOURCE_ALREADY_EXISTS")
    assert "e1" in msg
    got = http.get(f"{API}/experiments/get-by-name", params={"experiment_name": "e1"}).json()["experiment"]
    assert got["experiment_id"] == eid and got["tags"] == [{"key": "k", "value": "v"}]
    assert got["artifact_location"] == f"mlflow-artifacts:/{eid}"
    assert http.post(f"{API}/experiments/update", json={"experiment_id": eid, "new_name": "e2"}).status_code == 200
    assert http.get(f"{API}/experiments/get", params={"experiment_id": eid}).json()["experiment"]["name"] == "e2"
    http.post(f"{API}/experiments/set-experiment-tag", json={"experiment_id": eid, "key": "a", "value": "b"})
    http.post(f"{API}/experiments/delete", json={"experiment_id": eid})
    names = [e["name"] for e in http.post(f"{API}/experiments/search", json={}).json()["experiments"]]
    assert names == ["Default"]
    deleted = http.get(f"{API}/experiments/search", params={"view_type": "DELETED_ONLY"}).json()
    assert [e["name"] for e in deleted["experiments"]] == ["e2"]
    http.post(f"{API}/experiments/restore", json={"experiment_id": eid})
    page = http.post(f"{API}/experiments/search", json={"max_results": 1}).json()
    assert len(page["experiments"]) == 1 and page["next_page_token"]
    rest = http.post(f"{API}/experiments/search", json={"max_results": 1, "page_token": page["next_page_token"]}).json()
    assert len(rest["experiments"]) == 1 and "next_page_token" not in rest
    _error(http.get(f"{API}/experiments/get-by-name", params={"experiment_name": "nope"}), 404,
           "RESOURCE_DOES_NOT_EXIST")


def test_bad_input_is_a_4xx_with_mlflow_codes_and_harms_nothing(http, run_id):
    assert "not valid JSON" in _error(http.post(f"{API}/runs/log-batch", content=b"{oops"), 400,
                                      "INVALID_PARAMETER_VALUE")
    _error(http.post(f"{API}/runs/log-batch", content=b"[1, 2]"), 400, "INVALID_PARAMETER_VALUE")
    too_many = [{"key": "m", "value": 1.0, "timestamp": 1, "step": i} for i in range(1001)]
    assert "at most 1000 metrics" in _error(
        http.post(f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": too_many}), 400,
        "INVALID_PARAMETER_VALUE")
    params = [{"key": f"p{i}", "value": "x"} for i in range(101)]
    _error(http.post(f"{API}/runs/log-batch", json={"run_id": run_id, "params": params}), 400,
           "INVALID_PARAMETER_VALUE")
    huge = json.dumps({"run_id": run_id, "tags": [{"key": "t", "value": "x" * 1_100_000}]})
    assert "at most 1,048,576" in _error(http.post(f"{API}/runs/log-batch", content=huge), 400,
                                         "INVALID_PARAMETER_VALUE")
    bad_value = {"run_id": run_id, "metrics": [{"key": "m", "value": "abc", "timestamp": 1}]}
    _error(http.post(f"{API}/runs/log-batch", json=bad_value), 400, "INVALID_PARAMETER_VALUE")
    _error(http.post(f"{API}/runs/log-batch", json={"run_id": "f" * 32, "params": [{"key": "a", "value": "b"}]}),
           404, "RESOURCE_DOES_NOT_EXIST")
    _error(http.get(f"{API}/runs/get", params={"run_id": "nope"}), 404, "RESOURCE_DOES_NOT_EXIST")
    http.post(f"{API}/runs/log-parameter", json={"run_id": run_id, "key": "lr", "value": "1"})
    msg = _error(http.post(f"{API}/runs/log-parameter", json={"run_id": run_id, "key": "lr", "value": "2"}),
                 400, "INVALID_PARAMETER_VALUE")
    assert "lr" in msg
    injection = "metrics.acc > 0; DROP TABLE runs; --"
    msg = _error(http.post(f"{API}/runs/search", json={"experiment_ids": ["0"], "filter": injection}),
                 400, "INVALID_PARAMETER_VALUE")
    assert "position" in msg
    quoted = "params.lr = '1'' OR 1=1 --'"
    found = http.post(f"{API}/runs/search", json={"experiment_ids": ["0"], "filter": quoted})
    assert found.status_code in (200, 400) and not found.json().get("runs")
    _error(http.post(f"{API}/runs/search", json={"experiment_ids": ["0"], "max_results": 0}), 400,
           "INVALID_PARAMETER_VALUE")
    _error(http.post(f"{API}/runs/search", json={"experiment_ids": ["0"], "page_token": "garbage"}), 400,
           "INVALID_PARAMETER_VALUE")
    _error(http.post(f"{API}/runs/update", json={"run_id": run_id, "status": "DONE"}), 400,
           "INVALID_PARAMETER_VALUE")
    _error(http.get("/api/2.0/mlflow/no/such/endpoint"), 404, "ENDPOINT_NOT_FOUND")
    _error(http.delete(f"{API}/runs/get"), 400, "BAD_REQUEST")
    # Nothing stored was harmed: the run has exactly what was logged before.
    run = http.get(f"{API}/runs/get", params={"run_id": run_id}).json()["run"]
    assert run["data"]["params"] == [{"key": "lr", "value": "1"}]
    assert run["data"]["metrics"] == [] and {"key": "t", "value": "1"} in run["data"]["tags"]


def test_log_batch_bodies_any_json_parser_would_take(http, run_id):
    # The fast parser refuses NaN literals, integers beyond 64 bits and UTF-16; the standard
    # library takes them, as before. A body that is not JSON at all is still a clear 400.
    nan_literal = b'{"run_id": "%s", "metrics": [{"key": "n", "value": NaN, "timestamp": 1, "step": 0}]}'
    assert http.post(f"{API}/runs/log-batch", content=nan_literal % run_id.encode()).status_code == 200
    big = {"run_id": run_id, "metrics": [{"key": "b", "value": 2 ** 70, "timestamp": 1, "step": 0}]}
    assert http.post(f"{API}/runs/log-batch", content=json.dumps(big)).status_code == 200
    utf16 = json.dumps({"run_id": run_id, "tags": [{"key": "é", "value": "ü"}]}).encode("utf-16")
    assert http.post(f"{API}/runs/log-batch", content=utf16).status_code == 200
    _error(http.post(f"{API}/runs/log-batch", content=b"\xff\xfe{"), 400, "INVALID_PARAMETER_VALUE")
    run = http.get(f"{API}/runs/get", params={"run_id": run_id}).json()["run"]
    assert {"key": "n", "value": "NaN", "timestamp": 0, "step": 0} in run["data"]["metrics"]
    assert {"key": "b", "value": float(2 ** 70), "timestamp": 0, "step": 0} in run["data"]["metrics"]
    assert {"key": "é", "value": "ü"} in run["data"]["tags"]


def test_retried_requests_are_applied_once(http, run_id):
    batch = {"run_id": run_id, "metrics": [{"key": "m", "value": 1.0, "timestamp": 1, "step": 0}]}
    for _ in range(3):
        assert http.post(f"{API}/runs/log-batch", json=batch, headers={"X-Autolog-Request-Id": "req-1"}).status_code == 200
    history = http.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "m"}).json()
    assert len(history["metrics"]) == 1
    chosen = "ab" * 16
    for _ in range(2):
        r = http.post(f"{API}/runs/create", json={"experiment_id": "0", "run_id": chosen, "run_name": "x"})
        assert r.json()["run"]["info"]["run_id"] == chosen
    found = http.post(f"{API}/runs/search", json={"experiment_ids": ["0"], "filter": "attributes.run_name = 'x'"})
    assert len(found.json()["runs"]) == 1


def test_search_runs_pages_through_rest(live_server):
    store = RestStore(live_server.url)
    ids = [store.create_run("0", f"r{i}", 1000 + i).info.run_id for i in range(5)]
    client = autolog.Client(live_server.url)
    first = client.search_runs(["0"], max_results=2)
    assert [r.info.run_id for r in first] == ids[:2:-1][:2] and first.token
    second = client.search_runs(["0"], max_results=2, page_token=first.token)
    third = client.search_runs(["0"], max_results=2, page_token=second.token)
    assert [r.info.run_id for r in [*first, *second, *third]] == ids[::-1] and third.token is None
    store.close()


def test_rest_store_raises_our_errors(live_server):
    store = RestStore(live_server.url)
    run = store.create_run("0", "r", 1)
    store.log_batch(run.info.run_id, params=[Param("a", "1")])
    with pytest.raises(ParamConflictError, match="'a'"):
        store.log_batch(run.info.run_id, params=[Param("a", "2")])
    with pytest.raises(FilterSyntaxError) as err:
        store.search_runs(["0"], "metrics.x >")
    assert err.value.position == 11
    with pytest.raises(NotFoundError):
        store.get_metric_history("0" * 32, "m")
    store.log_batch(run.info.run_id, metrics=[Metric("m", float(i), i, i) for i in range(2500)])
    assert len(store.get_metric_history(run.info.run_id, "m")) == 2500  # sent in 3 requests
    store.close()


def test_artifact_proxy(http, live_server, tmp_path):
    base = "/api/2.0/mlflow-artifacts/artifacts"
    assert http.put(f"{base}/0/abc/artifacts/dir/a.txt", content=b"hello").status_code == 200
    assert http.get(f"{base}/0/abc/artifacts/dir/a.txt").content == b"hello"
    listing = http.get(base, params={"path": "0/abc/artifacts"}).json()
    assert listing == {"files": [{"path": "dir", "is_dir": True}]}
    stored = tmp_path / "server-artifacts" / "0" / "abc" / "artifacts" / "dir" / "a.txt"
    assert stored.read_bytes() == b"hello"
    _error(http.get(f"{base}/0/abc/artifacts/missing.txt"), 404, "RESOURCE_DOES_NOT_EXIST")
    _error(http.put(f"{base}/..%2F..%2Fescape.txt", content=b"x"), 400, "INVALID_PARAMETER_VALUE")
    assert not (tmp_path / "escape.txt").exists()
    assert http.delete(f"{base}/0/abc/artifacts/dir").status_code == 200
    assert not stored.exists()


def test_client_artifacts_go_through_the_proxy(live_server, tmp_path):
    client = autolog.Client(live_server.url)
    run = client.create_run("0")
    (tmp_path / "notes.txt").write_text("hi")
    client.log_artifact(run.info.run_id, str(tmp_path / "notes.txt"), "docs")
    assert [f.path for f in client.list_artifacts(run.info.run_id, "docs")] == ["docs/notes.txt"]
    got = client.download_artifacts(run.info.run_id, "docs", str(tmp_path / "dl"))
    assert (tmp_path / "dl" / "docs" / "notes.txt").read_text() == "hi" and got.endswith("docs")
    listed = httpx.get(f"{live_server.url}{API}/artifacts/list",
                       params={"run_id": run.info.run_id, "path": "docs"}).json()
    assert listed["files"] == [{"path": "docs/notes.txt", "is_dir": False, "file_size": 2}]


def test_health_version_openapi(http):
    assert http.get("/health").text == "OK"
    assert http.get("/version").text == autolog.__version__
    doc = http.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.") and f"{API}/runs/log-batch" in doc["paths"]
    assert "/api/2.0/mlflow-artifacts/artifacts/{path}" in doc["paths"]


def test_unreachable_server_is_one_clear_error_at_the_call(tracking_dir):
    from tests.server.conftest import free_port

    url = f"http://user:hunter2@127.0.0.1:{free_port()}"
    autolog.set_tracking_uri(url)
    with pytest.raises(StorageError) as err:
        autolog.Client().get_experiment("0")
    message = str(err.value)
    assert "Cannot reach the tracking server at http://user@127.0.0.1" not in message
    assert "http://127.0.0.1:" in message and "hunter2" not in message


def test_unsent_values_are_counted(tracking_dir, monkeypatch):
    from tests.server.conftest import free_port

    monkeypatch.setenv("AUTOLOG_HTTP_RETRY_S", "0")
    store = RestStore(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StorageError, match="1500 metrics, 1 params and 0 tags could not be sent"):
        store.log_many([("a" * 32, [Metric("m", 1.0, 1, i) for i in range(1500)], [Param("p", "1")], [])])
    store.close()


def test_without_serve_artifacts_clients_get_the_storage_uri(tmp_path):
    from autolog.server import create_app
    from tests.server.conftest import LiveServer

    root = tmp_path / "shared-artifacts"
    app = create_app(f"sqlite:///{tmp_path / 's.db'}", default_artifact_root=str(root),
                     serve_artifacts=False)
    with LiveServer(app) as server:
        run = autolog.Client(server.url).create_run("0")
        assert run.info.artifact_uri == str(root / "0" / run.info.run_id / "artifacts")
        missing = httpx.get(f"{server.url}/api/2.0/mlflow-artifacts/artifacts/0/x")
        assert missing.status_code == 404 and missing.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    app.state.store.close()
