"""The statsmodels integration against real statsmodels (AUTOLOG_STRICT=1, see conftest)."""

from __future__ import annotations

import csv
import io
import json
import os
import pickle
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import autolog
from autolog.errors import AutologWarning
from autolog.integrations import _patch
from tests.conftest import require

sm = require("statsmodels.api")
smf = require("statsmodels.formula.api")
from statsmodels.tsa.api import VAR  # noqa: E402
from statsmodels.tsa.arima.model import ARIMA  # noqa: E402
from statsmodels.tsa.holtwinters import ExponentialSmoothing  # noqa: E402
from statsmodels.tsa.statespace.sarimax import SARIMAX  # noqa: E402

from autolog.integrations.statsmodels import results as results_reader  # noqa: E402
from autolog.integrations import statsmodels as integration  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
N = 200


def _data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    X = sm.add_constant(rng.normal(size=(N, 2)))
    latent = X @ [0.2, 1.0, -1.0]
    mu = np.exp(0.5 + 0.4 * X[:, 1])
    ar = np.zeros(N)
    pair = np.zeros((N, 2))
    for t in range(1, N):
        ar[t] = 0.6 * ar[t - 1] + rng.normal()
        pair[t] = [0.5 * pair[t - 1, 0] + 0.1 * pair[t - 1, 1], 0.3 * pair[t - 1, 1]] + rng.normal(size=2)
    return {
        "X": X,
        "y": X @ [1.0, 2.0, -1.0] + rng.normal(size=N),
        "binary": (latent + rng.logistic(size=N) > 0).astype(float),
        "classes": np.digitize(latent + rng.logistic(size=N), [-1.0, 1.0]).astype(float),
        "counts": rng.poisson(mu).astype(float),
        "overdispersed": rng.negative_binomial(2, 2 / (2 + mu)).astype(float),
        "groups": np.repeat(np.arange(20), N // 20),
        "mixed": X @ [1.0, 2.0, -1.0] + np.repeat(rng.normal(size=20), N // 20) + rng.normal(size=N),
        "series": 10 + ar,
        "pair": pair,
    }


DATA = _data()
D = DATA

# class name -> (build the model, fit kwargs, metrics that must be logged)
CASES = {
    "OLS": (lambda: sm.OLS(D["y"], D["X"]), {},
            {"rsquared", "rsquared_adj", "fvalue", "f_pvalue", "aic", "bic", "llf", "ssr", "ess",
             "centered_tss", "uncentered_tss", "mse_model", "mse_resid", "mse_total",
             "condition_number", "df_model", "df_resid", "scale", "nobs"}),
    "WLS": (lambda: sm.WLS(D["y"], D["X"], weights=np.linspace(1, 2, N)), {}, {"rsquared", "aic"}),
    "GLS": (lambda: sm.GLS(D["y"], D["X"]), {}, {"rsquared", "llf"}),
    "GLM": (lambda: sm.GLM(D["counts"], D["X"], family=sm.families.Poisson()), {},
            {"deviance", "pearson_chi2", "llf", "llnull", "aic", "scale"}),
    "Logit": (lambda: sm.Logit(D["binary"], D["X"]), {"disp": 0},
              {"prsquared", "llr", "llr_pvalue", "llnull", "llf", "aic", "bic"}),
    "Probit": (lambda: sm.Probit(D["binary"], D["X"]), {"disp": 0}, {"prsquared", "llr"}),
    "MNLogit": (lambda: sm.MNLogit(D["classes"], D["X"]), {"disp": 0}, {"prsquared", "llr", "aic"}),
    "Poisson": (lambda: sm.Poisson(D["counts"], D["X"]), {"disp": 0}, {"prsquared", "llf", "aic"}),
    "NegativeBinomial": (lambda: sm.NegativeBinomial(D["overdispersed"], D["X"]), {"disp": 0},
                         {"prsquared", "llf", "llnull"}),
    "QuantReg": (lambda: sm.QuantReg(D["y"], D["X"]), {"q": 0.5}, {"prsquared", "ssr"}),
    "RLM": (lambda: sm.RLM(D["y"], D["X"]), {}, {"scale", "df_model", "nobs"}),
    "MixedLM": (lambda: sm.MixedLM(D["mixed"], D["X"], D["groups"]), {}, {"llf", "scale"}),
    "ARIMA": (lambda: ARIMA(D["series"], order=(1, 0, 0)), {}, {"aic", "bic", "hqic", "llf"}),
    "SARIMAX": (lambda: SARIMAX(D["series"], order=(1, 0, 0), seasonal_order=(0, 0, 1, 4)),
                {"disp": False}, {"aic", "bic", "hqic", "llf"}),
    "ExponentialSmoothing": (lambda: ExponentialSmoothing(D["series"], trend="add"), {},
                             {"aic", "bic"}),
    "VAR": (lambda: VAR(D["pair"]), {"maxlags": 2}, {"aic", "bic", "hqic", "llf"}),
}


def _only_run():
    autolog.flush()
    runs = autolog.search_runs(output_format="list")
    assert len(runs) == 1, [r.info.run_name for r in runs]
    return runs[0]


def _artifact(run, path: str) -> str:
    # Through autolog, as every reader gets it: model_summary.txt is rendered on first read.
    return autolog.artifacts.load_text(f"runs:/{run.info.run_id}/{path}")


def _undated(text: str) -> str:
    """A summary without its clock: the copy rendered on the writer thread is a second later."""
    return re.sub(r"\d\d:\d\d:\d\d|\w{3}, \d\d \w{3} \d{4}|\w{3}, \d{1,2}, \w{3}, \d{4}", "", text)


def _coefficients(run) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(_artifact(run, "coefficients.csv"))))


@pytest.mark.parametrize("name", list(CASES))
def test_each_model_class_logs_once_with_its_metrics(name, client):
    build, fit_kwargs, expected = CASES[name]
    autolog.statsmodels.autolog()
    results = build().fit(**fit_kwargs)
    run = _only_run()  # ARIMA, NegativeBinomial, ... fit other models inside: still one run
    assert run.info.status == "FINISHED"
    assert run.info.run_name == name
    assert run.data.tags["autolog.integration"] == "statsmodels"
    assert run.data.params["model_class"] == name
    assert expected <= set(run.data.metrics), expected - set(run.data.metrics)
    assert set(run.data.metrics) <= set(integration.METRICS)
    for key in expected:
        assert run.data.metrics[key] == pytest.approx(float(getattr(results, key)))
    files = {f.path for f in client.list_artifacts(run.info.run_id)}
    assert {"model_summary.txt", "coefficients.csv", "model"} <= files
    summary = results.summary()
    assert _undated(_artifact(run, "model_summary.txt")) == _undated(
        summary.as_text() if hasattr(summary, "as_text") else str(summary))
    assert len(_coefficients(run)) >= 1
    assert {d.name for d in run.inputs} >= {"endog"}


def test_construction_settings_and_fit_arguments_are_params():
    autolog.statsmodels.autolog()
    SARIMAX(D["series"], order=(1, 0, 0), seasonal_order=(0, 0, 1, 4)).fit(disp=False, maxiter=30)
    params = _only_run().data.params
    assert params["order"] == "(1, 0, 0)"
    assert params["seasonal_order"] == "(0, 0, 1, 4)"
    assert params["trend"] == "None"
    assert params["maxiter"] == "30"  # explicit fit argument
    assert params["method"] == "lbfgs"  # fit default
    assert params["disp"] == "False"


def test_glm_family_and_clashing_names():
    autolog.statsmodels.autolog()
    sm.GLM(D["counts"], D["X"], family=sm.families.Poisson()).fit(scale="X2")
    params = _only_run().data.params
    assert params["family"] == "Poisson"
    assert params["link"] == "Log"
    assert params["method"] == "IRLS"
    assert params["scale"] == "X2"


def test_model_prefix_only_where_a_fit_argument_has_the_name():
    autolog.statsmodels.autolog()
    VAR(D["pair"]).fit(maxlags=1, trend="n")
    params = _only_run().data.params
    assert params["trend"] == "n"  # VAR.fit's argument, no clash with VAR()'s settings
    assert not any(k.startswith("model.") for k in params)
    with autolog.start_run() as run:
        # GLS(sigma=None) is a setting; fit(**kwargs) accepts (and ignores) a sigma too.
        sm.GLS(D["y"], D["X"]).fit(sigma=2)
    params = autolog.get_run(run.info.run_id).data.params
    assert params["model.sigma"] == "None" and params["sigma"] == "2"
    assert results_reader.construction_settings(
        ExponentialSmoothing(D["series"], trend="add"))["trend"] == "add"


def test_formula_api_params_dataset_and_prediction():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"x": rng.normal(size=80), "g": rng.choice(["a", "b", "c"], 80)})
    df["y"] = 1 + 2 * df["x"] + (df["g"] == "b") + rng.normal(size=80)
    autolog.statsmodels.autolog()
    results = smf.ols("y ~ x + C(g)", data=df).fit()
    run = _only_run()
    assert run.data.params["formula"] == "y ~ x + C(g)"
    assert run.data.params["endog_names"] == "y"
    assert run.data.params["exog_names"] == str(list(results.params.index))
    [dataset] = run.inputs
    assert dataset.name == "data" and dataset.columns == ("x", "g", "y")
    loaded = autolog.load_model(f"runs:/{run.info.run_id}/model")
    np.testing.assert_array_equal(loaded.predict(df.head(10)), results.predict(df.head(10)))
    info = autolog.models.get_model_info(f"runs:/{run.info.run_id}/model")
    assert [c["name"] for c in info.signature.inputs] == ["x", "g", "y"]


def test_coefficients_csv_matches_results():
    df = pd.DataFrame(D["X"][:, 1:], columns=["a", "b"]).assign(y=D["y"])
    autolog.statsmodels.autolog()
    results = sm.OLS(df["y"], sm.add_constant(df[["a", "b"]])).fit()
    rows = _coefficients(_only_run())
    assert list(rows[0]) == list(integration.COEFFICIENT_COLUMNS)
    assert [r["term"] for r in rows] == ["const", "a", "b"]
    ci = results.conf_int()
    for row in rows:
        term = row["term"]
        assert float(row["estimate"]) == results.params[term]
        assert float(row["std_err"]) == results.bse[term]
        assert float(row["statistic"]) == results.tvalues[term]
        assert float(row["p_value"]) == results.pvalues[term]
        assert (float(row["ci_lower"]), float(row["ci_upper"])) == tuple(ci.loc[term])


def test_multi_equation_coefficients():
    autolog.statsmodels.autolog()
    results = sm.MNLogit(D["classes"], D["X"]).fit(disp=0)
    rows = _coefficients(_only_run())
    assert [r["term"] for r in rows] == [f"y={j}:{t}" for j in ("1", "2") for t in ("const", "x1", "x2")]
    estimates = [float(r["estimate"]) for r in rows]
    np.testing.assert_array_equal(estimates, results.params.T.ravel())
    np.testing.assert_array_equal([float(r["ci_lower"]) for r in rows],
                                  results.conf_int().reshape(-1, 2)[:, 0])


def test_model_round_trip_predicts_identically():
    autolog.statsmodels.autolog()
    results = sm.OLS(D["y"], D["X"]).fit()
    run = _only_run()
    loaded = autolog.load_model(f"runs:/{run.info.run_id}/model")
    assert type(loaded) is type(results)
    np.testing.assert_array_equal(loaded.predict(D["X"][:20]), results.predict(D["X"][:20]))
    np.testing.assert_array_equal(loaded.params, results.params)
    meta = autolog.models.get_model_info(f"runs:/{run.info.run_id}/model").metadata
    assert meta["flavor"] == "statsmodels" and meta["framework"] == "statsmodels"
    assert os.path.isfile(Path(run.info.artifact_uri, "model", "model.statsmodels"))


def test_time_series_round_trip_forecasts_identically():
    autolog.statsmodels.autolog()
    results = ARIMA(D["series"], order=(1, 0, 0)).fit()
    run = _only_run()
    loaded = autolog.load_model(f"runs:/{run.info.run_id}/model")
    np.testing.assert_array_equal(loaded.forecast(5), results.forecast(5))


def test_input_example_and_manual_log_model():
    autolog.statsmodels.autolog(log_input_examples=True)
    results = sm.OLS(D["y"], D["X"]).fit()
    run = _only_run()
    assert Path(run.info.artifact_uri, "model", "input_example.json").is_file()
    signature = autolog.models.get_model_info(f"runs:/{run.info.run_id}/model").signature
    assert signature.inputs[0]["shape"] == [-1, 3] and signature.outputs
    autolog.statsmodels.autolog(disable=True)
    with autolog.start_run() as manual:
        autolog.statsmodels.log_model(results, "ols")
    loaded = autolog.statsmodels.load_model(f"runs:/{manual.info.run_id}/ols")
    np.testing.assert_array_equal(loaded.predict(D["X"][:5]), results.predict(D["X"][:5]))


def test_models_without_data_leave_the_users_results_intact():
    autolog.statsmodels.autolog(log_models_without_data=True)
    results = sm.OLS(D["y"], D["X"]).fit()
    run = _only_run()
    loaded = autolog.load_model(f"runs:/{run.info.run_id}/model")
    assert loaded.model.exog is None
    np.testing.assert_array_equal(loaded.predict(D["X"][:5]), results.predict(D["X"][:5]))
    assert results.model.exog is not None and results.resid.shape == (N,)
    size = os.path.getsize(Path(run.info.artifact_uri, "model", "model.statsmodels"))
    assert size < D["X"].nbytes


def test_flags_turn_models_and_datasets_off(client):
    autolog.statsmodels.autolog(log_models=False, log_datasets=False)
    sm.OLS(D["y"], D["X"]).fit()
    run = _only_run()
    assert "model" not in {f.path for f in client.list_artifacts(run.info.run_id)}
    assert not run.inputs


def _on_disk(run) -> set[str]:
    return set(os.listdir(run.info.artifact_uri))


def test_summary_is_a_spec_rendered_from_the_model_on_first_read_then_cached(client, tmp_path):
    autolog.statsmodels.autolog()
    results = sm.Logit(D["binary"], D["X"]).fit(disp=0)
    run = _only_run()
    assert "model_summary.txt" not in _on_disk(run)  # nothing rendered at fit time
    spec = json.loads(Path(run.info.artifact_uri, "model_summary.txt.plotspec.json").read_text())
    assert spec == {"format": "autolog.plot/1", "kind": "model_summary", "title": "Logit results",
                    "model": "model", "flavor": "statsmodels"}
    assert "model_summary.txt" in {f.path for f in client.list_artifacts(run.info.run_id)}
    path = client.download_artifacts(run.info.run_id, "model_summary.txt", str(tmp_path))
    assert _undated(Path(path).read_text()) == _undated(results.summary().as_text())
    cached = Path(run.info.artifact_uri, "model_summary.txt")
    assert cached.read_text() == Path(path).read_text()  # the cache beside the spec
    from autolog.server.ui import artifacts as ui

    shown = ui.preview(ui.repo_of(run.info.artifact_uri), "model_summary.txt")
    assert shown["kind"] == "text" and "Logit Regression Results" in shown["text"]
    cached.write_text("cached copy")
    assert _artifact(run, "model_summary.txt") == "cached copy"  # later reads read the cache
    cached.unlink()  # the CLI renders it again from the spec
    from click.testing import CliRunner

    from autolog.cli import cli

    done = CliRunner().invoke(cli, ["artifacts", "download", run.info.run_id, "model_summary.txt",
                                    "--dst", str(tmp_path / "cli")])
    assert done.exit_code == 0, done.output
    assert "Logit Regression Results" in (tmp_path / "cli" / "model_summary.txt").read_text()


@pytest.mark.parametrize("settings", [{"plots": "eager"}, {"plots": False}, {"log_models": False},
                                      {"log_models_without_data": True}])
def test_summary_is_written_as_text_at_fit_time_when_eager_or_without_a_model(settings, client):
    autolog.statsmodels.autolog(**settings)
    results = sm.OLS(D["y"], D["X"]).fit()
    run = _only_run()
    assert "model_summary.txt" in _on_disk(run)
    assert "model_summary.txt.plotspec.json" not in _on_disk(run)
    assert _undated(Path(run.info.artifact_uri, "model_summary.txt").read_text()) == _undated(
        results.summary().as_text())
    assert "coefficients.csv" in _on_disk(run) and "coefficients.csv.plotspec.json" not in _on_disk(run)


def test_coefficients_are_a_spec_rendered_from_the_model_equal_to_the_eager_table(client):
    autolog.statsmodels.autolog(plots="eager")
    sm.Logit(D["binary"], D["X"]).fit(disp=0)
    eager = _only_run()
    eager_table = Path(eager.info.artifact_uri, "coefficients.csv").read_text()
    client.delete_run(eager.info.run_id)
    autolog.statsmodels.autolog()
    sm.Logit(D["binary"], D["X"]).fit(disp=0)
    run = _only_run()
    assert "coefficients.csv" not in _on_disk(run)  # nothing computed at fit time
    spec = json.loads(Path(run.info.artifact_uri, "coefficients.csv.plotspec.json").read_text())
    assert spec == {"format": "autolog.plot/1", "kind": "model_coefficients",
                    "title": "Logit coefficients", "model": "model", "flavor": "statsmodels"}
    assert "coefficients.csv" in {f.path for f in client.list_artifacts(run.info.run_id)}
    assert _artifact(run, "coefficients.csv") == eager_table
    assert Path(run.info.artifact_uri, "coefficients.csv").read_text() == eager_table  # cached


def test_summary_renders_from_a_model_in_a_remote_store(client, s3_bucket):
    from autolog.store import artifacts

    autolog.statsmodels.autolog()
    results = sm.OLS(D["y"], D["X"]).fit()
    run = _only_run()
    remote = artifacts.repository(f"s3://{s3_bucket}/runs/{run.info.run_id}")
    remote.log_dir(str(Path(run.info.artifact_uri, "model")), "model")
    spec = Path(run.info.artifact_uri, "model_summary.txt.plotspec.json").read_bytes()
    remote.write_bytes("model_summary.txt.plotspec.json", spec)
    assert "model_summary.txt" in {f.path for f in remote.list()}
    text = remote.read_bytes("model_summary.txt").decode()
    assert _undated(text) == _undated(results.summary().as_text())
    assert remote.inner.read_bytes("model_summary.txt").decode() == text  # cached in S3


def test_summary_through_a_tracking_server(tmp_path):
    import httpx

    from tests.server.conftest import ServerProcess

    folder = tmp_path / "server"
    folder.mkdir()
    server = ServerProcess(folder).start()
    try:
        autolog.set_tracking_uri(server.url)
        autolog.statsmodels.autolog()
        results = sm.OLS(D["y"], D["X"]).fit()
        autolog.flush()
        [run] = autolog.search_runs(output_format="list")
        files = {f.path for f in autolog.Client().list_artifacts(run.info.run_id)}
        assert "model_summary.txt" in files and "model_summary.txt.plotspec.json" not in files
        # The server renders it for any HTTP client (MLflow's artifact proxy route).
        url = (f"{server.url}/api/2.0/mlflow-artifacts/artifacts/"
               f"{run.info.experiment_id}/{run.info.run_id}/artifacts/model_summary.txt")
        answer = httpx.get(url, timeout=60)
        assert answer.status_code == 200, answer.text
        assert _undated(answer.text) == _undated(results.summary().as_text())
        assert _undated(_artifact(run, "model_summary.txt")) == _undated(answer.text)
    finally:
        autolog.statsmodels.autolog(disable=True)
        server.stop()


def test_plots_setting_is_checked():
    with pytest.raises(autolog.InvalidInputError, match="plots"):
        autolog.statsmodels.autolog(plots="later")


def test_reading_the_summary_without_statsmodels_names_the_extra(client, tmp_path):
    autolog.statsmodels.autolog()
    sm.OLS(D["y"], D["X"]).fit()
    run = _only_run()
    script = (
        "import sys\n"
        "class _NoStatsmodels:\n"
        "    # Stands for a process where statsmodels is not installed.\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'statsmodels':\n"
        "            raise ImportError(f'No module named {name!r}')\n"
        "sys.meta_path.insert(0, _NoStatsmodels())\n"
        "import autolog\n"
        f"files = [f.path for f in autolog.Client().list_artifacts({run.info.run_id!r})]\n"
        "assert 'model_summary.txt' in files, files\n"
        "try:\n"
        f"    autolog.artifacts.load_text('runs:/{run.info.run_id}/model_summary.txt')\n"
        "except ImportError as exc:\n"
        "    print('ImportError:', exc)\n"
    )
    done = _run_script(["-c", script], Path(autolog.get_tracking_uri()))
    assert done.stdout.startswith("ImportError:"), done.stdout
    assert 'pip install "autolog[statsmodels]"' in done.stdout
    assert "model_summary.txt" not in _on_disk(run)


def test_user_run_collects_fits_and_exclusive_skips_them():
    autolog.statsmodels.autolog()
    with autolog.start_run() as run:
        sm.OLS(D["y"], D["X"]).fit()
        autolog.flush()
        assert "nonrobust" in _artifact(run, "model_summary.txt")  # rendered and cached
        sm.OLS(D["y"], D["X"]).fit(cov_type="HC1")  # a second fit: no conflict, latest files
    logged = _only_run()
    assert logged.info.run_id == run.info.run_id
    assert logged.data.params["cov_type"] == "nonrobust"  # the first value stays
    assert "HC1" in _artifact(logged, "model_summary.txt")
    assert autolog.load_model(f"runs:/{run.info.run_id}/model").cov_type == "HC1"
    autolog.statsmodels.autolog(exclusive=True)
    with autolog.start_run():
        sm.OLS(D["y"], D["X"]).fit()
    autolog.flush()
    assert len(autolog.search_runs(output_format="list")) == 2
    assert "rsquared" not in autolog.search_runs(output_format="list")[0].data.metrics


def test_fits_that_statsmodels_runs_internally_start_no_run():
    from statsmodels.stats.outliers_influence import variance_inflation_factor
    from statsmodels.tsa.stattools import adfuller

    autolog.statsmodels.autolog()
    adfuller(D["series"], maxlag=4, result_object=True)  # fits an OLS per candidate lag
    variance_inflation_factor(D["X"], 1)
    autolog.flush()
    assert autolog.search_runs(output_format="list") == []
    results = sm.Logit(D["binary"], D["X"]).fit(disp=0)
    results.summary()
    sm.Logit(D["binary"], D["X"]).fit(disp=0).summary()  # llnull fits a null model when needed
    autolog.flush()
    assert len(autolog.search_runs(output_format="list")) == 2


def test_extra_tags_on_the_runs_it_starts():
    autolog.statsmodels.autolog(extra_tags={"team": "forecasting"})
    sm.OLS(D["y"], D["X"]).fit()
    assert _only_run().data.tags["team"] == "forecasting"


def test_a_loop_of_fits_longer_than_the_backlog_logs_every_fit():
    autolog.statsmodels.autolog()
    limit = integration._BACKLOG.limit
    for i in range(limit + 4):
        sm.OLS(D["y"], D["X"][:, : 1 + i % 3]).fit()
    autolog.flush()
    runs = autolog.search_runs(output_format="list")
    assert len(runs) == limit + 4
    assert all(Path(r.info.artifact_uri, "model", "model.json").is_file() for r in runs)
    assert integration._BACKLOG._pending == 0


def test_failing_fit_raises_unchanged_and_marks_the_run_failed():
    with pytest.raises(ValueError) as plain:
        sm.OLS(D["y"], D["X"]).fit(method="nope")
    autolog.statsmodels.autolog()
    with pytest.raises(ValueError) as logged:
        sm.OLS(D["y"], D["X"]).fit(method="nope")
    assert str(logged.value) == str(plain.value)
    run = _only_run()
    assert run.info.status == "FAILED"
    assert run.data.params["method"] == "nope"


def test_disable_restores_fit_and_logs_nothing():
    from statsmodels.regression.linear_model import RegressionModel

    autolog.statsmodels.autolog()
    assert _patch.is_patched(RegressionModel, "fit")
    autolog.statsmodels.autolog(disable=True)
    assert not _patch.is_patched(RegressionModel, "fit")
    sm.OLS(D["y"], D["X"]).fit()
    autolog.flush()
    assert autolog.search_runs(output_format="list") == []
    autolog.statsmodels.autolog()  # re-enabling patches the already imported modules again
    assert _patch.is_patched(RegressionModel, "fit")


def test_results_and_patched_classes_still_pickle():
    autolog.statsmodels.autolog()
    results = sm.OLS(D["y"], D["X"]).fit()
    again = pickle.loads(pickle.dumps(results))
    np.testing.assert_array_equal(again.params, results.params)
    assert pickle.loads(pickle.dumps(sm.OLS)) is sm.OLS


def test_metrics_skip_what_raises_warns_or_is_not_finite():
    class Results:
        aic = 1.5
        bic = float("nan")
        df_resid = float("inf")
        nobs = np.int64(7)
        rsquared = np.array([1.0, 2.0])

        @property
        def llf(self):
            raise np.linalg.LinAlgError("singular")

        @property
        def scale(self):
            warnings.warn("not estimable", RuntimeWarning)
            return 2.0

    assert results_reader.metrics(Results()) == {"aic": 1.5, "nobs": 7.0}


# Every step of the integration, in the module that the integration calls it through.
FAULT_STEPS = [
    (integration, "_log_params"), (results_reader, "fit_arguments"),
    (results_reader, "construction_settings"), (results_reader, "metrics"),
    (integration, "_snapshot"), (integration, "_write_summary"), (results_reader, "summary_text"),
    (integration, "_write_coefficients"), (results_reader, "coefficients"),
    (integration, "_write_file"),
    (integration, "_log_datasets"), (integration, "_save_model"), (results_reader, "model_input"),
]


@pytest.mark.parametrize("module,step", FAULT_STEPS, ids=[s for _, s in FAULT_STEPS])
def test_a_failing_logging_step_warns_and_changes_nothing(module, step, monkeypatch, client):
    monkeypatch.setenv("AUTOLOG_STRICT", "0")
    expected = sm.Logit(D["binary"], D["X"]).fit(disp=0)

    def boom(*args, **kwargs):
        raise RuntimeError(f"injected failure in {step}")

    monkeypatch.setattr(module, step, boom)
    # These run at fit time only where the reports are rendered eagerly.
    eager = step in ("summary_text", "coefficients", "_write_file")
    autolog.statsmodels.autolog(plots="eager" if eager else "lazy")
    with pytest.warns(AutologWarning, match="statsmodels integration failed"):
        results = sm.Logit(D["binary"], D["X"]).fit(disp=0)
        autolog.flush()
    np.testing.assert_array_equal(results.params, expected.params)
    np.testing.assert_array_equal(results.bse, expected.bse)
    assert _undated(results.summary().as_text()) == _undated(expected.summary().as_text())
    run = _only_run()
    assert run.info.status == "FINISHED"
    files = {f.path for f in client.list_artifacts(run.info.run_id)}
    # What failed is missing; everything else is still logged (no snapshot: no model).
    assert ("model" in files) == (step not in ("_snapshot", "_save_model", "model_input"))
    # The summary is rendered on read from the model; without a model it is written as text
    # at fit time (and then a failing summary_text or _write_file leaves it out).
    no_model = step in ("_snapshot", "_save_model", "model_input")
    assert ("model_summary.txt" in files) == (step != "_write_summary" and not (
        (no_model or eager) and step in ("summary_text", "_write_file")))
    if "model_summary.txt" in files:
        assert "Logit Regression Results" in _artifact(run, "model_summary.txt")
    # The coefficients likewise: rendered on read from the model, written at fit time without one.
    assert ("coefficients.csv" in files) == (step != "_write_coefficients" and not (
        (no_model or eager) and step in ("coefficients", "_write_file")))
    if "coefficients.csv" in files and step != "coefficients":
        assert _coefficients(run)[0]["term"] == "const"
    assert ("prsquared" in run.data.metrics) == (step != "metrics")
    assert bool(run.inputs) == (step != "_log_datasets")
    assert ("model_class" in run.data.params) == (step not in (
        "_log_params", "fit_arguments", "construction_settings"))


def _run_script(args: list[str], tracking: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AUTOLOG_TRACKING_URI": str(tracking), "MPLBACKEND": "Agg",
           "AUTOLOG_STRICT": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr, done.stderr
    return done


def test_enabling_imports_no_model_module_and_hooks_patch_on_import(tmp_path):
    script = (
        "import sys, autolog, statsmodels\n"
        "autolog.autolog()\n"
        "loaded = [m for m in sys.modules if m.startswith('statsmodels.regression')]\n"
        "assert not loaded, loaded\n"
        "import numpy as np, statsmodels.api as sm\n"
        "x = np.arange(20.0); sm.OLS(2 * x + np.sin(x), sm.add_constant(x)).fit()\n"
        "autolog.flush()\n"
        "print(len(autolog.search_runs(output_format='list')))\n"
    )
    done = _run_script(["-c", script], tmp_path / "runs")
    assert done.stdout.strip() == "1"


def test_example_formula_ols(tmp_path, client):
    _run_script(["examples/statsmodels_formula_ols.py"], tmp_path / "runs")
    autolog.set_tracking_uri(str(tmp_path / "runs"))
    run = _only_run()
    assert run.data.params["formula"] == "price ~ size + rooms + C(district)"
    assert run.data.params["cov_type"] == "HC3"
    assert run.data.metrics["rsquared"] > 0.9
    terms = [r["term"] for r in _coefficients(run)]
    assert "size" in terms and "C(district)[T.south]" in terms
    assert "OLS Regression Results" in _artifact(run, "model_summary.txt")


def test_example_sarimax_forecast(tmp_path, client):
    _run_script(["examples/statsmodels_sarimax_forecast.py"], tmp_path / "runs")
    autolog.set_tracking_uri(str(tmp_path / "runs"))
    run = _only_run()
    assert run.data.params["model_class"] == "SARIMAX"
    assert run.data.params["seasonal_order"] == "(0, 1, 1, 12)"
    assert {"aic", "bic", "hqic", "llf"} <= set(run.data.metrics)
    assert [r["term"] for r in _coefficients(run)] == ["ar.L1", "ma.S.L12", "sigma2"]
    [dataset] = run.inputs
    assert dataset.name == "endog" and dataset.shape == (96,)
    loaded = autolog.load_model(f"runs:/{run.info.run_id}/model")
    assert len(loaded.forecast(12)) == 12
