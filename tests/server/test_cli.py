"""``autolog server`` options beyond the defaults."""

from __future__ import annotations

from autolog.store.rest import RestStore
from tests.server.conftest import ServerProcess


def test_several_workers_share_one_store(tmp_path):
    folder = tmp_path / "srv"
    folder.mkdir()
    server = ServerProcess(folder, "--workers", "2").start()
    try:
        store = RestStore(server.url)
        run_ids = [store.create_run("0", f"r{i}", i).info.run_id for i in range(6)]
        found = {r.info.run_id for r in store.search_runs(["0"])}
        assert found == set(run_ids)
        store.close()
    finally:
        server.stop()
