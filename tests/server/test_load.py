"""Load: 8 client processes x 4 threads x 5,000 metrics each through one ``autolog server`` on
loopback; none lost, none twice, no errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import autolog
from tests.server.conftest import subprocess_env

CLIENT = textwrap.dedent("""
    import sys, threading
    import autolog

    client = autolog.Client()
    with autolog.start_run(run_name=sys.argv[1]) as run:
        def work(t):  # the active run is per thread: worker threads name the run
            for step in range(5000):
                client.log_metric(run.info.run_id, f"m{t}", float(step), step=step)
        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    autolog.flush()
    print(run.info.run_id)
""")


def test_eight_clients_four_threads_each(server_process, tmp_path):
    env = subprocess_env({"AUTOLOG_TRACKING_URI": server_process.url, "AUTOLOG_STRICT": "1"})
    procs = [subprocess.Popen([sys.executable, "-c", CLIENT, f"client{i}"], env=env, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(8)]
    outputs = [p.communicate(timeout=600) for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
        assert "Warning" not in err, err
    run_ids = [out.strip() for out, _ in outputs]
    client = autolog.Client(server_process.url)
    for run_id in run_ids:
        run = client.get_run(run_id)
        assert run.info.status == "FINISHED"
        for t in range(4):
            history = client.get_metric_history(run_id, f"m{t}")
            assert [m.step for m in history] == list(range(5000))
    assert len(client.search_runs(["0"])) == 8
