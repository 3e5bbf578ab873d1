"""What autolog cost: ``autolog.overhead_ms``/``autolog.writer_ms`` on autologged sklearn runs,
the environment on autologged runs, and ``autolog runs show`` printing the cost."""

from __future__ import annotations

import pytest

from tests.conftest import require

require("sklearn")

import autolog  # noqa: E402
from autolog import _context, _environment, _overhead  # noqa: E402
from autolog.cli import main  # noqa: E402

from sklearn.datasets import load_iris  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402


@pytest.fixture(autouse=True)
def environment_on():
    autolog.set_environment_logging()
    yield
    _environment._parts.clear()
    _context.system_tags.cache_clear()


def _fit() -> None:
    X, y = load_iris(return_X_y=True)
    LogisticRegression(max_iter=200).fit(X, y)


def test_an_autologged_run_records_its_cost_and_environment(one_blas_thread):
    autolog.autolog(log_models=False)
    _fit()
    autolog.flush()
    run = autolog.last_active_run()
    tags = run.data.tags
    assert tags["autolog.integration"] == "sklearn"
    overhead, writer = float(tags[_overhead.OVERHEAD_TAG]), float(tags[_overhead.WRITER_TAG])
    assert overhead > 0 and writer > 0
    for key in ("autolog.command", "autolog.host", "autolog.os", "autolog.cpu_count"):
        assert tags[key]
    assert {f.path for f in autolog.Client().list_artifacts(run.info.run_id)} >= {"environment"}


def test_a_user_run_that_an_autologged_fit_logged_into_records_it_too(one_blas_thread):
    autolog.autolog(log_models=False)
    with autolog.start_run() as user_run:
        _fit()
    with autolog.start_run() as quiet_run:
        autolog.log_metric("m", 1.0)
    assert float(autolog.get_run(user_run.info.run_id).data.tags[_overhead.OVERHEAD_TAG]) > 0
    assert _overhead.OVERHEAD_TAG not in autolog.get_run(quiet_run.info.run_id).data.tags
    assert _overhead.WRITER_TAG not in autolog.get_run(quiet_run.info.run_id).data.tags


def test_runs_show_prints_the_cost(capsys, one_blas_thread):
    autolog.autolog(log_models=False)
    _fit()
    autolog.flush()
    run = autolog.last_active_run()
    with pytest.raises(SystemExit) as exit_info:
        main(["runs", "show", run.info.run_id])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "Autolog cost:" in x)
    assert f"{run.data.tags[_overhead.OVERHEAD_TAG]} ms on the training thread" in line
    assert f"{run.data.tags[_overhead.WRITER_TAG]} ms on the writer thread" in line
