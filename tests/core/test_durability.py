"""Nothing logged is lost: parallel writers, crashes, kills, forks, exits, storage failures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

import autolog
from autolog import Client
from autolog.errors import StorageError

N = 10_000


def run_script(code: str, uri: str, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "AUTOLOG_TRACKING_URI": uri}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, timeout=120, **kwargs)


def test_two_processes_and_four_threads_lose_nothing(tmp_path):
    uri = str(tmp_path / "shared")
    code = f"""
        import sys, threading, autolog
        tag = sys.argv[1]
        def work(t):
            with autolog.start_run(run_name=f"{{tag}}-{{t}}") as run:
                for i in range({N}):
                    autolog.log_metric("m", float(i), step=i)
        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        [t.start() for t in threads]
        [t.join() for t in threads]
    """
    env = {**os.environ, "AUTOLOG_TRACKING_URI": uri}
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), tag], env=env,
                              stderr=subprocess.PIPE, text=True) for tag in ("a", "b")]
    for p in procs:
        _, err = p.communicate(timeout=180)
        assert p.returncode == 0 and "Traceback" not in err, err
    client = Client(uri)
    runs = client.search_runs(["0"])
    assert len(runs) == 8 and all(r.info.status == "FINISHED" for r in runs)
    for run in runs:
        history = client.get_metric_history(run.info.run_id, "m")
        assert len(history) == N
        assert [m.step for m in history] == list(range(N))
        assert run.data.metrics["m"] == N - 1


def test_sigkill_after_flush_keeps_flushed_data_and_marks_run_killed(tmp_path):
    uri = str(tmp_path / "store")
    code = """
        import os, signal, sys, autolog
        run = autolog.start_run()
        autolog.log_param("p", "kept")
        for i in range(1000):
            autolog.log_metric("m", i, step=i)
        autolog.flush()
        print(run.info.run_id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """
    out = run_script(code, uri)
    assert out.returncode == -signal.SIGKILL
    run_id = out.stdout.strip()
    client = Client(uri)  # opening the store marks runs of dead processes KILLED
    run = client.get_run(run_id)
    assert run.data.params == {"p": "kept"}
    assert len(client.get_metric_history(run_id, "m")) == 1000
    assert run.info.status == "KILLED" and run.info.end_time is not None


@pytest.mark.parametrize("tail, status", [("", "FINISHED"), ("raise RuntimeError('crash')", "FAILED"),
                                          ("import sys; sys.exit(0)", "FINISHED")])
def test_runs_active_at_exit_are_ended(tmp_path, tail, status):
    uri = str(tmp_path / "store")
    code = f"""
        import autolog
        run = autolog.start_run()
        child = autolog.start_run(nested=True)
        for i in range(5000):
            autolog.log_metric("m", i, step=i)
        print(run.info.run_id, child.info.run_id, flush=True)
        {tail}
    """
    out = run_script(code, uri)
    assert ("crash" in out.stderr) == (status == "FAILED")
    client = Client(uri)
    for run_id in out.stdout.split():
        assert client.get_run(run_id).info.status == status
    assert len(client.get_metric_history(out.stdout.split()[1], "m")) == 5000


def test_forked_child_gets_its_own_writer(tmp_path):
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    uri = str(tmp_path / "store")
    code = """
        import os, autolog
        with autolog.start_run() as run:
            autolog.log_metric("parent", 1)
            pid = os.fork()
            if pid == 0:
                with autolog.start_run(nested=True) as child:
                    autolog.log_metric("child", 2)
                autolog.flush()
                os._exit(0)
            os.waitpid(pid, 0)
        print(run.info.run_id)
    """
    out = run_script(code, uri)
    assert out.returncode == 0, out.stderr
    client = Client(uri)
    runs = {r.info.run_id: r for r in client.search_runs(["0"])}
    parent = runs[out.stdout.strip()]
    assert parent.data.metrics == {"parent": 1.0}  # logged once, not replayed by the child
    children = [r for r in runs.values() if r.data.tags.get("autolog.parentRunId") == parent.info.run_id]
    assert len(children) == 1 and children[0].data.metrics == {"child": 2.0}


def test_storage_failure_surfaces_at_next_flush_and_keeps_committed_data(tmp_path):
    import sqlite3

    from autolog.store.batching import BatchingStore
    from autolog.store.sql import SqlStore

    db = tmp_path / "locked.db"
    inner = SqlStore(f"sqlite:///{db}", str(tmp_path / "art"), busy_timeout_s=0.2)
    store = BatchingStore(inner)
    run_id = store.create_run("0", "r", 1).info.run_id
    store.log_metric_fast(run_id, "m", 1.0, 1, 0)
    store.flush()  # committed
    blocker = sqlite3.connect(db, timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holding the write lock too long
    try:
        store.log_metric_fast(run_id, "m", 2.0, 2, 1)
        with pytest.raises(StorageError, match="locked"):
            store.flush()
    finally:
        blocker.rollback()
        blocker.close()
    store.log_metric_fast(run_id, "m", 3.0, 3, 2)
    store.flush()  # works again once the lock is gone; the error was reported once
    # The value logged while the store was locked was kept and written, in order.
    assert [m.value for m in store.get_metric_history(run_id, "m")] == [1.0, 2.0, 3.0]
    inner.close()


def test_threads_share_one_run_via_run_id():
    with autolog.start_run() as run:
        def work(t):
            for i in range(1000):
                autolog.log_metric(f"t{t}", i, step=i, run_id=run.info.run_id)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    client = Client()
    assert all(len(client.get_metric_history(run.info.run_id, f"t{t}")) == 1000 for t in range(4))


def test_end_run_commits_before_returning(tmp_path):
    from autolog.store.sql import SqlStore

    with autolog.start_run() as run:
        for i in range(20_000):
            autolog.log_metric("m", i, step=i)
    raw = SqlStore(f"sqlite:///{autolog.get_tracking_uri()}/autolog.db", str(tmp_path / "x"))
    assert len(raw.get_metric_history(run.info.run_id, "m")) == 20_000
    assert raw.get_run(run.info.run_id).info.status == "FINISHED"
    raw.close()


def test_threads_racing_a_fresh_writer_lose_nothing(tmp_path):
    # Eight threads start runs and flush at the same instant on a store whose writer thread
    # has not started yet: drains must never interleave.
    from autolog.store.batching import BatchingStore
    from autolog.store.sql import SqlStore

    for attempt in range(5):
        inner = SqlStore(f"sqlite:///{tmp_path / f'race{attempt}.db'}", str(tmp_path / "art"))
        store = BatchingStore(inner)
        barrier = threading.Barrier(8)
        run_ids: list[str] = []
        errors: list[BaseException] = []

        def work():
            try:
                barrier.wait()
                run = store.start_run_async("0", "r", 1)
                run_ids.append(run.info.run_id)
                for i in range(500):
                    store.log_metric_fast(run.info.run_id, "m", float(i), 1, i)
                store.end_run_async(run.info.run_id, "FINISHED", 2)
                store.flush()
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert errors == []
        for run_id in run_ids:
            assert len(store.get_metric_history(run_id, "m")) == 500
            assert store.get_run(run_id).info.status == "FINISHED"
        inner.close()
