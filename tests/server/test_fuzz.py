"""Property-based fuzzing of the served OpenAPI description (schemathesis): whatever the
generated request, the server answers without a 5xx."""

from __future__ import annotations

import pytest

from tests.conftest import require

schemathesis = require("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

from autolog.server import create_app  # noqa: E402
from tests.server.conftest import LiveServer  # noqa: E402


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    app = create_app(f"sqlite:///{folder / 'server.db'}", default_artifact_root=str(folder / "art"))
    with LiveServer(app) as server:
        yield server
    app.state.store.close()


def test_no_server_errors(fuzzed_server):
    # Each operation's generated requests, driven by hypothesis directly (schemathesis's pytest
    # plugin does not load under this pytest).
    schema = schemathesis.openapi.from_url(f"{fuzzed_server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20
    seen: list[int] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        def check(case):
            response = case.call(base_url=fuzzed_server.url)
            seen.append(response.status_code)
            assert response.status_code < 500, (case.method, case.path, response.text[:500])
            if response.status_code >= 400 and "json" in response.headers.get("content-type", ""):
                body = response.json()
                assert body["error_code"] and body["message"]

        check()
    assert any(s < 300 for s in seen) and any(400 <= s < 500 for s in seen)
