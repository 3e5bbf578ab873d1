"""The ``autolog`` command line, run with click's CliRunner against a real store made by the
fluent API (the conftest gives each test a fresh tracking folder and chdir's into it)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

import autolog
from autolog import _tracking
from autolog.cli import cli
from tests.conftest import next_start_time

TIME_RE = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"


def invoke(*args: str, env: dict[str, str | None] | None = None):
    # catch_exceptions=False: a traceback from the CLI must fail the test, not become output.
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def one_line_error(result, code: int) -> str:
    """Assert the CLI failed with ``code`` and a single ``Error: ...`` line on stderr."""
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.stderr
    return lines[0]


def table_rows(text: str) -> tuple[str, list[str]]:
    """(header line, data lines) of a table printed by the CLI."""
    lines = text.rstrip("\n").splitlines()
    assert set(lines[1].replace(" ", "")) == {"-"}, "second line is the header's underline"
    return lines[0], lines[2:]


def cell(header: str, row: str, column: str) -> str:
    """The value under ``column``: cells start where their header starts (left-aligned table)."""
    names = re.findall(r"\S+(?: \S+)*", header)  # headers may hold single spaces ("Run ID")
    starts = [header.index(n) for n in names]
    i = names.index(column)
    end = starts[i + 1] if i + 1 < len(starts) else len(row)
    return row[starts[i]:end].strip()


@pytest.fixture
def store():
    """Two experiments: three iris runs with metrics/params/tags, one run elsewhere."""
    autolog.set_experiment("iris")
    ids = {}
    for name, n, acc in (("rf_small", 10, 0.81), ("rf_mid", 50, 0.93), ("rf_big", 100, 0.97)):
        with autolog.start_run(run_name=name) as run:
            autolog.log_params({"n_estimators": n, "max_depth": 5})
            autolog.log_metric("accuracy", acc)
            autolog.log_metric("loss", 1 - acc)
            autolog.set_tag("phase", "tuning" if n == 50 else "baseline")
        ids[name] = run.info.run_id
        next_start_time()
    autolog.set_experiment("other")
    with autolog.start_run(run_name="lonely") as run:
        autolog.log_metric("rmse", 2.5)
    ids["lonely"] = run.info.run_id
    autolog.flush()
    return ids


# -- experiments list ----------------------------------------------------------------------------
def test_experiments_list_shows_every_experiment(store):
    result = invoke("experiments", "list")
    assert result.exit_code == 0, result.output
    header, rows = table_rows(result.stdout)
    assert header.split()[:2] == ["ID", "Name"]
    names = [cell(header, r, "Name") for r in rows]
    assert names == ["other", "iris", "Default"]  # newest first
    iris = autolog.get_experiment_by_name("iris")
    row = rows[names.index("iris")]
    assert cell(header, row, "ID") == iris.experiment_id
    assert re.fullmatch(TIME_RE, cell(header, row, "Created"))
    assert cell(header, row, "Artifact location") == iris.artifact_location


def test_experiments_list_all_includes_deleted(store):
    other = autolog.get_experiment_by_name("other")
    autolog.Client().delete_experiment(other.experiment_id)
    active = invoke("experiments", "list")
    assert "other" not in active.stdout
    everything = invoke("experiments", "list", "--all")
    header, rows = table_rows(everything.stdout)
    stages = {cell(header, r, "Name"): cell(header, r, "Stage") for r in rows}
    assert stages == {"other": "deleted", "iris": "active", "Default": "active"}


# -- runs list -----------------------------------------------------------------------------------
def test_runs_list_table_has_ids_names_status_metrics_params(store):
    result = invoke("runs", "list", "--experiment", "iris")
    assert result.exit_code == 0, result.output
    header, rows = table_rows(result.stdout)
    assert "Experiment" not in header  # one experiment: no need for the column
    by_id = {cell(header, r, "Run ID"): r for r in rows}
    assert set(by_id) == {store["rf_small"], store["rf_mid"], store["rf_big"]}
    row = by_id[store["rf_mid"]]
    assert cell(header, row, "Name") == "rf_mid"
    assert cell(header, row, "Status") == "FINISHED"
    assert re.fullmatch(TIME_RE, cell(header, row, "Start time"))
    assert cell(header, row, "params.n_estimators") == "50"
    assert cell(header, row, "params.max_depth") == "5"
    # Metric columns are right-aligned: the value ends where the column ends.
    assert re.search(r"\b0\.93\b", row)
    assert "metrics.accuracy" in header and "metrics.loss" in header
    # Newest first by default.
    assert [cell(header, r, "Name") for r in rows] == ["rf_big", "rf_mid", "rf_small"]


def test_runs_list_default_is_all_experiments_with_an_experiment_column(store):
    header, rows = table_rows(invoke("runs", "list").stdout)
    exps = {cell(header, r, "Name"): cell(header, r, "Experiment") for r in rows}
    assert exps == {"rf_small": "iris", "rf_mid": "iris", "rf_big": "iris", "lonely": "other"}


def test_runs_list_experiment_by_id_and_repeated(store):
    iris = autolog.get_experiment_by_name("iris").experiment_id
    header, rows = table_rows(invoke("runs", "list", "-e", iris).stdout)
    assert len(rows) == 3
    header, rows = table_rows(invoke("runs", "list", "-e", "iris", "-e", "other").stdout)
    assert len(rows) == 4


def test_runs_list_filter(store):
    result = invoke("runs", "list", "--filter",
                    "metrics.accuracy > 0.9 AND tags.phase = 'baseline'")
    header, rows = table_rows(result.stdout)
    assert [cell(header, r, "Run ID") for r in rows] == [store["rf_big"]]
    empty = invoke("runs", "list", "--filter", "params.n_estimators = '7'")
    assert empty.exit_code == 0
    assert empty.stdout.strip() == "No runs match the filter."


def test_runs_list_order_by_puts_the_ordered_metric_first(store):
    result = invoke("runs", "list", "-e", "iris", "--order-by", "metrics.loss ASC")
    header, rows = table_rows(result.stdout)
    assert [cell(header, r, "Name") for r in rows] == ["rf_big", "rf_mid", "rf_small"]
    assert header.index("metrics.loss") < header.index("metrics.accuracy")
    result = invoke("runs", "list", "-e", "iris", "-o", "params.n_estimators DESC",
                    "-o", "attributes.run_name")
    header, rows = table_rows(result.stdout)
    # Params are strings: "50" > "100" > "10" in string order, as in MLflow.
    assert [cell(header, r, "Name") for r in rows] == ["rf_mid", "rf_big", "rf_small"]


def test_runs_list_max_results_says_when_cut(store):
    result = invoke("runs", "list", "-e", "iris", "--max-results", "2")
    header, rows = table_rows(result.stdout)
    assert [cell(header, r, "Name") for r in rows] == ["rf_big", "rf_mid"]
    assert "showing the first 2 runs" in result.stderr
    full = invoke("runs", "list", "-e", "iris", "--max-results", "3")
    assert full.stderr == ""


def test_runs_list_chosen_columns(store):
    result = invoke("runs", "list", "-e", "iris", "-m", "loss", "-p", "max_depth")
    header, rows = table_rows(result.stdout)
    assert "metrics.loss" in header and "params.max_depth" in header
    assert "metrics.accuracy" not in header and "params.n_estimators" not in header
    missing = invoke("runs", "list", "-e", "other", "-m", "accuracy")
    header, rows = table_rows(missing.stdout)
    assert cell(header, rows[0], "metrics.accuracy") == "-"


def test_runs_list_shows_latest_metric_value(store):
    with autolog.start_run(run_name="curve", experiment_id=autolog.get_experiment_by_name(
            "other").experiment_id) as run:
        for step, loss in enumerate([0.9, 0.5, 0.25]):
            autolog.log_metric("curve_loss", loss, step=step)
    header, rows = table_rows(invoke("runs", "list", "-e", "other", "-m", "curve_loss").stdout)
    row = next(r for r in rows if cell(header, r, "Run ID") == run.info.run_id)
    assert cell(header, row, "metrics.curve_loss") == "0.25"


def test_runs_list_empty_experiment():
    autolog.set_experiment("empty")
    autolog.flush()
    result = invoke("runs", "list", "-e", "empty")
    assert result.exit_code == 0
    assert result.stdout.strip() == "No runs."


def test_runs_list_shows_running_and_failed_runs():
    with pytest.raises(RuntimeError):
        with autolog.start_run(run_name="broken"):
            raise RuntimeError("boom")
    autolog.start_run(run_name="live")
    autolog.flush()
    header, rows = table_rows(invoke("runs", "list").stdout)
    status = {cell(header, r, "Name"): cell(header, r, "Status") for r in rows}
    assert status == {"broken": "FAILED", "live": "RUNNING"}


# -- runs show -----------------------------------------------------------------------------------
def test_runs_show_everything_about_a_run(tmp_path):
    autolog.set_experiment("shown")
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("x\n1\n")
    (data / "b.csv").write_text("x\n2\n")
    with autolog.start_run(run_name="full", description="a described run") as run:
        autolog.log_params({"lr": 0.01, "optimizer": "adam"})
        for step in range(3):
            autolog.log_metric("loss", 1.0 / (step + 1), step=step)
        autolog.set_tag("team", "vision")
        autolog.log_dict({"a": 1}, "config.json")
        autolog.log_artifacts(str(data), artifact_path="samples")
        autolog.log_text("x" * 2048, "notes/long.txt")
    result = invoke("runs", "show", run.info.run_id)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith(f"Run {run.info.run_id}\n")
    assert re.search(r"Name:\s+full\n", out)
    assert re.search(r"Experiment:\s+shown \(id \d+\)", out)
    assert re.search(r"Status:\s+FINISHED", out)
    assert re.search(rf"Start time:\s+{TIME_RE}", out)
    assert re.search(rf"End time:\s+{TIME_RE}", out)
    assert re.search(r"Duration:\s+\d+\.\ds", out)
    assert re.search(r"Description:\s+a described run", out)
    assert run.info.artifact_uri in out

    params = out.split("Params (2):\n")[1].split("\n\n")[0]
    assert re.findall(r"^  (\S+)\s+(\S+)$", params, re.M) == [("lr", "0.01"), ("optimizer", "adam")]
    metrics = out.split("Metrics (1, latest values):\n")[1].split("\n\n")[0]
    assert re.findall(r"^  (\S+)\s+(\S+)$", metrics, re.M) == [("loss", "0.3333333333")]
    tags = out.split("Tags (1):\n")[1].split("\n\n")[0]
    assert re.findall(r"^  (\S+)\s+(\S+)$", tags, re.M) == [("team", "vision")]
    system = out.split("System tags (")[1].split("\n\n")[0]
    assert "mlflow.runName" in system and "autolog.user" in system and "team" not in system

    artifacts = out.split("Artifacts (4 files, ")[1]
    lines = artifacts.splitlines()[1:]
    assert [line.split()[0] for line in lines] == [
        "config.json", "notes/", "long.txt", "samples/", "a.csv", "b.csv"]
    assert lines[2].startswith("    long.txt") and "2.0 KB" in lines[2]  # nested: indented
    assert lines[4].split()[1:] == ["4", "B"]


def test_runs_show_nested_run_names_its_parent():
    with autolog.start_run(run_name="parent") as parent:
        with autolog.start_run(run_name="child", nested=True) as child:
            pass
    out = invoke("runs", "show", child.info.run_id).stdout
    assert re.search(rf"Parent run:\s+{parent.info.run_id}", out)
    assert "Parent run" not in invoke("runs", "show", parent.info.run_id).stdout


def test_runs_show_empty_run_and_running_run():
    run = autolog.start_run(run_name="bare")
    autolog.flush()
    out = invoke("runs", "show", run.info.run_id).stdout
    assert re.search(r"Status:\s+RUNNING", out)
    assert re.search(r"End time:\s+-\n", out)
    assert "Params (0):\n  (none)" in out
    assert "Metrics (0, latest values):\n  (none)" in out
    assert "Artifacts (0 files, 0 B):\n  (none)" in out


def test_runs_show_inputs():
    import numpy as np  # a core dependency (autolog imports it lazily)

    with autolog.start_run() as run:
        autolog.log_input(np.zeros((4, 3)), context="train", name="train_set")
    out = invoke("runs", "show", run.info.run_id).stdout
    inputs = out.split("Inputs (1):\n")[1]
    assert "train_set" in inputs and "context=train" in inputs and "shape=(4, 3)" in inputs


def test_runs_show_deleted_run_says_so():
    with autolog.start_run() as run:
        pass
    autolog.Client().delete_run(run.info.run_id)
    out = invoke("runs", "show", run.info.run_id).stdout
    assert re.search(r"Lifecycle:\s+deleted", out)


def test_runs_show_accepts_a_unique_prefix(store):
    run_id = store["rf_mid"]
    others = [r for r in store.values() if r != run_id]
    n = next(n for n in range(4, 33) if not any(o.startswith(run_id[:n]) for o in others))
    result = invoke("runs", "show", run_id[:n])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Run {run_id}\n")


def test_runs_show_ambiguous_prefix():
    client = autolog.Client()
    # 17 runs: two of them must share their first hex digit.
    ids = [client.create_run("0").info.run_id for _ in range(17)]
    first = next(c for c in "0123456789abcdef" if sum(i.startswith(c) for i in ids) > 1)
    line = one_line_error(invoke("runs", "show", first), 1)
    assert "ambiguous" in line


# -- errors --------------------------------------------------------------------------------------
def test_bad_filter_names_the_position(store):
    line = one_line_error(invoke("runs", "list", "--filter", "metrics.accuracy >> 0.9"), 2)
    assert "'metrics.accuracy >> 0.9'" in line
    assert "at position 18" in line  # the second '>'
    line = one_line_error(invoke("runs", "list", "-f", "params.x = 'a' AND"), 2)
    assert "at position 18" in line  # the end of the filter


def test_bad_order_by(store):
    line = one_line_error(invoke("runs", "list", "-o", "metrics.accuracy DOWN"), 2)
    assert "--order-by" in line and "at position 17" in line


def test_unknown_run(store):
    line = one_line_error(invoke("runs", "show", "f" * 32), 1)
    assert "No run with id" in line
    line = one_line_error(invoke("runs", "show", "not-a-run"), 1)
    assert "'not-a-run'" in line


def test_unknown_experiment(store):
    line = one_line_error(invoke("runs", "list", "--experiment", "nope"), 1)
    assert "No experiment named 'nope'" in line and "'iris'" in line


def test_missing_store_is_an_error_and_is_not_created(tmp_path):
    target = tmp_path / "nowhere"
    line = one_line_error(invoke("--tracking-uri", str(target), "runs", "list"), 1)
    assert "No autolog store at" in line and str(target) in line
    assert not target.exists()


def test_unsupported_tracking_uri():
    line = one_line_error(invoke("--tracking-uri", "ftp://host/x", "experiments", "list"), 2)
    assert "ftp://host/x" in line


def test_unreadable_store_is_a_one_line_error(tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "autolog.db").write_bytes(b"this is not a database" * 100)
    line = one_line_error(invoke("--tracking-uri", str(broken), "experiments", "list"), 1)
    assert "not a database" in line and str(broken) in line


def test_usage_errors_exit_2():
    assert invoke("runs", "list", "--max-results", "0").exit_code == 2
    assert invoke("runs", "frobnicate").exit_code == 2
    assert invoke("runs", "show").exit_code == 2


# -- where the store is --------------------------------------------------------------------------
def test_tracking_uri_option_and_environment(tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    autolog.set_tracking_uri(str(elsewhere))
    with autolog.start_run(run_name="far_away"):
        autolog.log_metric("m", 1.0)
    autolog.flush()
    monkeypatch.setattr(_tracking, "_uri", None)  # what a fresh `autolog` process starts with
    monkeypatch.delenv("AUTOLOG_TRACKING_URI", raising=False)
    assert "far_away" in invoke("--tracking-uri", str(elsewhere), "runs", "list").stdout
    assert "far_away" in invoke("runs", "list",
                                env={"AUTOLOG_TRACKING_URI": str(elsewhere)}).stdout
    sqlite_uri = f"sqlite:///{elsewhere / 'autolog.db'}"
    assert "far_away" in invoke("--tracking-uri", sqlite_uri, "runs", "list").stdout
    # Neither given: ./autolog-runs, which does not exist in this folder.
    one_line_error(invoke("runs", "list"), 1)


def test_default_location_is_autolog_runs_in_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.setattr(_tracking, "_uri", None)
    monkeypatch.delenv("AUTOLOG_TRACKING_URI", raising=False)
    with autolog.start_run(run_name="here"):
        pass
    assert (tmp_path / "autolog-runs").is_dir()
    assert "here" in invoke("runs", "list").stdout


# -- a real process ------------------------------------------------------------------------------
def test_console_entry_point_in_a_real_process(store, tmp_path):
    env = {**os.environ, "AUTOLOG_TRACKING_URI": str(tmp_path / "runs")}
    ok = subprocess.run([sys.executable, "-m", "autolog.cli", "runs", "show", store["rf_big"]],
                        capture_output=True, text=True, env=env, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert f"Run {store['rf_big']}" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "autolog.cli", "runs", "list", "-f", "x ="],
                         capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.startswith("Error: Invalid --filter 'x =': ")
    assert "Traceback" not in bad.stderr


def test_import_autolog_does_not_import_the_cli():
    code = ("import sys, autolog; "
            "assert 'click' not in sys.modules and 'autolog.cli' not in sys.modules, "
            "sorted(m for m in sys.modules if 'click' in m or m == 'autolog.cli')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
