"""Plot specs: building, checking, drawing (PNG on an Agg canvas, HTML), and the lazy read side
(listing shows the drawn name, the first read draws and caches) through Client, the fluent
``autolog.artifacts`` functions and the CLI. No ML framework needed; matplotlib and Pillow are
(as for ``log_figure``)."""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

import autolog
import autolog.plots
from autolog.cli import cli
from autolog.plots import SPEC_SUFFIX, draw, spec
from tests.conftest import require

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def examples() -> dict[str, dict]:
    """One spec of each kind (and the variants the drawer branches on)."""
    xs = [i / 20 for i in range(21)]
    return {
        "confusion_matrix": spec.confusion_matrix(["cat", "dog", "eel"], [[5, 1, 0], [2, 7, 1], [0, 0, 9]]),
        "confusion_matrix_weighted": spec.confusion_matrix(["a", "b"], [[1.5, 0.25], [0.0, 2.0]]),
        "curves": spec.curves([{"name": "ROC (AUC = 0.9)", "x": xs, "y": [x ** 0.3 for x in xs]}],
                              "ROC", "False positive rate", "True positive rate", diagonal=True),
        "curves_log": spec.curves([{"name": "a", "x": [1, 10, 100], "y": [1, float("nan"), 3]},
                                   {"name": "b", "x": [1, 10, 100], "y": [2, 2, 2]}],
                                  "Loss", "step", "loss", x_scale="log", y_scale="log"),
        "bars": spec.bars(["f1", "a long feature name", "f3"], [0.5, 0.3, -0.1], "Importance",
                          x_label="importance"),
        "bars_vertical": spec.bars(["x", "y"], [1, 2], "Counts", orientation="vertical",
                                   errors=[0.1, 0.2]),
        "bars_grouped": spec.bars(["f1", "f2"], [3, 1], "Per class", groups=[
            {"name": "class 0", "values": [1, 0.5]}, {"name": "class 1", "values": [2, 0.5]}]),
    }


def estimator_example() -> dict:
    leaf = spec.node("LogisticRegression", name="clf", params={"C": "0.5"})
    union = spec.node("ColumnTransformer", name="prep", layout="parallel", children=[
        spec.node("StandardScaler", name="num", params={"columns": "['a', 'b']"}),
        spec.node("OneHotEncoder", name="cat<script>", params={"handle_unknown": "'ignore'"})])
    return spec.estimator(spec.node("Pipeline", layout="serial", children=[union, leaf]))


# -- building and checking -------------------------------------------------------------------------

def test_specs_round_trip_as_compact_json_with_nan_as_null():
    built = examples()["curves_log"]
    data = spec.dumps(built)
    assert b"NaN" not in data
    loaded = spec.loads(data)
    assert loaded["series"][0]["y"] == [1.0, None, 3.0]
    assert loaded["format"] == "autolog.plot/1" and loaded["kind"] == "curves"
    assert spec.loads(spec.dumps(estimator_example()))["root"]["children"][0]["layout"] == "parallel"


def test_confusion_matrix_counts_are_integers_unless_weighted():
    assert examples()["confusion_matrix"]["matrix"][1] == [2, 7, 1]
    assert all(isinstance(v, int) for row in examples()["confusion_matrix"]["matrix"] for v in row)
    assert examples()["confusion_matrix_weighted"]["matrix"][0] == [1.5, 0.25]


def test_curves_are_downsampled_keeping_ends_and_extremes():
    n = 20_000
    x = list(range(n))
    y = [math.sin(i / 500) for i in range(n)]
    y[12_345] = 5.0   # a lone spike must survive
    y[777] = -7.0
    built = spec.curves([{"name": "s", "x": x, "y": y}], "t", "x", "y")
    xs, ys = built["series"][0]["x"], built["series"][0]["y"]
    assert len(xs) <= spec.MAX_POINTS
    assert xs[0] == 0 and xs[-1] == n - 1
    assert max(ys) == 5.0 and min(ys) == -7.0
    assert xs == sorted(xs)
    short = spec.curves([{"name": "s", "x": [0, 1], "y": [2, 3]}], "t", "x", "y")
    assert short["series"][0]["y"] == [2.0, 3.0]


@pytest.mark.parametrize("broken, message", [
    ({"format": "autolog.plot/9", "kind": "bars"}, "format"),
    ({"format": "autolog.plot/1", "kind": "pie"}, "kind"),
    ({"format": "autolog.plot/1", "kind": "bars", "labels": ["a"], "values": [1, 2]}, "values"),
    ({"format": "autolog.plot/1", "kind": "confusion_matrix", "labels": ["a", "b"], "matrix": [[1]]}, "matrix"),
    ({"format": "autolog.plot/1", "kind": "curves", "series": [{"name": "s", "x": [1], "y": []}]}, "series"),
    ({"format": "autolog.plot/1", "kind": "curves", "series": [{"name": "s", "x": ["a"], "y": [1]}]}, "numbers"),
    ({"format": "autolog.plot/1", "kind": "estimator", "root": {"class": "X", "layout": "diagonal"}}, "layout"),
    ({"format": "autolog.plot/1", "kind": "model_summary", "model": "../other", "flavor": "statsmodels"}, "inside"),
    ({"format": "autolog.plot/1", "kind": "model_summary", "model": "model"}, "flavor"),
])
def test_malformed_specs_are_refused_with_what_is_wrong(broken, message):
    with pytest.raises(autolog.PlotError, match=message):
        spec.validate(broken, "x.png.plotspec.json")
    with pytest.raises(autolog.PlotError, match="not valid JSON"):
        spec.loads(b"{nope", "x.png.plotspec.json")


# -- drawing ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(examples()))
def test_every_kind_draws_a_valid_deterministic_png(name):
    require("matplotlib")
    Image = require("PIL.Image")
    built = spec.loads(spec.dumps(examples()[name]))
    png = draw.render(built, "plot.png")
    with Image.open(io.BytesIO(png)) as image:
        image.verify()
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG" and image.size[0] >= 300 and image.size[1] >= 200
        assert "Software" not in image.info  # nothing version- or time-dependent in metadata
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
        assert len(colours) > 10  # something was drawn, not a blank canvas
    assert draw.render(built, "plot.png") == png


def test_estimator_spec_draws_escaped_html():
    page = draw.render(estimator_example(), "estimator.html").decode("utf-8")
    assert page.startswith("<!DOCTYPE html>")
    for text in ("Pipeline", "ColumnTransformer", "LogisticRegression", "&#x27;ignore&#x27;"):
        assert text in page
    assert "<script>" not in page and "cat&lt;script&gt;" in page
    assert page.index("StandardScaler") < page.index("OneHotEncoder") < page.index("LogisticRegression")
    with pytest.raises(autolog.PlotError, match="HTML"):
        draw.render(estimator_example(), "estimator.png")
    with pytest.raises(autolog.PlotError, match="PNG"):
        draw.render(examples()["bars"], "bars.html")


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": ROOT, **env}
    full_env.pop("MPLBACKEND", None)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=full_env, timeout=240)


def test_drawing_never_imports_pyplot_nor_touches_the_backend():
    require("matplotlib")
    done = run_python("""
        import sys, matplotlib
        before = dict.__getitem__(matplotlib.rcParams, "backend")
        from autolog.plots import draw
        from tests.core.test_plots import examples, estimator_example
        for built in examples().values():
            assert draw.render(built, "x.png").startswith(b"\\x89PNG")
        draw.render(estimator_example(), "x.html")
        assert "matplotlib.pyplot" not in sys.modules, "pyplot was imported"
        assert dict.__getitem__(matplotlib.rcParams, "backend") == before
        print("ok", before)
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok")


def test_import_autolog_loads_no_plot_module():
    done = run_python("""
        import sys, autolog
        print(sorted(m for m in sys.modules if m.startswith(("autolog.plots", "matplotlib", "jsonschema"))))
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# -- the read side ---------------------------------------------------------------------------------

def log_specs() -> str:
    """A run holding a lazily drawn PNG in a folder, an estimator page and an ordinary file."""
    with autolog.start_run() as run:
        autolog.log_text(spec.dumps(examples()["confusion_matrix"]).decode(),
                         f"plots/cm.png{SPEC_SUFFIX}")
        autolog.log_text(spec.dumps(estimator_example()).decode(), f"estimator.html{SPEC_SUFFIX}")
        autolog.log_text("hello", "notes.txt")
    return run.info.run_id


def test_client_lists_drawn_names_and_draws_on_first_download_then_reads_the_cache(tmp_path):
    require("matplotlib")
    run_id = log_specs()
    client = autolog.Client()
    top = {f.path: f for f in client.list_artifacts(run_id)}
    assert set(top) == {"estimator.html", "notes.txt", "plots"}
    assert top["plots"].is_dir and top["estimator.html"].file_size is None
    assert [f.path for f in client.list_artifacts(run_id, "plots")] == ["plots/cm.png"]

    local = client.download_artifacts(run_id, "plots/cm.png", str(tmp_path / "a"))
    with open(local, "rb") as fh:
        first = fh.read()
    assert first.startswith(b"\x89PNG")
    root = client.get_run(run_id).info.artifact_uri
    cached = os.path.join(root, "plots", "cm.png")
    assert os.path.isfile(cached)  # written beside the spec
    listed = client.list_artifacts(run_id, "plots")
    assert [(f.path, f.file_size) for f in listed] == [("plots/cm.png", len(first))]

    # The second read is the cached file: a spec changed since is not drawn again.
    with open(cached + SPEC_SUFFIX, "w") as fh:
        fh.write("{broken")
    again = client.download_artifacts(run_id, "plots/cm.png", str(tmp_path / "b"))
    with open(again, "rb") as fh:
        assert fh.read() == first


def test_downloading_a_folder_draws_its_pictures_and_leaves_the_specs_out(tmp_path):
    require("matplotlib")
    run_id = log_specs()
    local = autolog.Client().download_artifacts(run_id, "", str(tmp_path))
    found = sorted(os.path.relpath(os.path.join(d, f), local)
                   for d, _, files in os.walk(local) for f in files)
    assert found == ["estimator.html", "notes.txt", os.path.join("plots", "cm.png")]
    with open(os.path.join(local, "estimator.html")) as fh:
        assert "ColumnTransformer" in fh.read()


def test_fluent_artifact_functions_see_and_draw_pictures(tmp_path):
    require("matplotlib")
    run_id = log_specs()
    listed = autolog.artifacts.list_artifacts(run_id=run_id, artifact_path="plots")
    assert [f.path for f in listed] == ["plots/cm.png"]
    local = autolog.artifacts.download_artifacts(f"runs:/{run_id}/plots/cm.png", dst_path=str(tmp_path))
    with open(local, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    assert "Pipeline" in autolog.artifacts.load_text(f"runs:/{run_id}/estimator.html")
    with pytest.raises(autolog.InvalidInputError):
        autolog.artifacts.download_artifacts(f"runs:/{run_id}/x", run_id=run_id)


def test_cli_lists_and_downloads_lazily_drawn_artifacts(tmp_path):
    require("matplotlib")
    run_id = log_specs()
    autolog.flush()
    runner = CliRunner()
    listed = runner.invoke(cli, ["artifacts", "list", run_id, "plots"], catch_exceptions=False)
    assert listed.exit_code == 0, listed.output
    assert "plots/cm.png" in listed.stdout and SPEC_SUFFIX not in listed.stdout
    top = runner.invoke(cli, ["artifacts", "list", run_id[:8]], catch_exceptions=False)
    assert "estimator.html" in top.stdout and "plots/" in top.stdout
    done = runner.invoke(cli, ["artifacts", "download", run_id, "plots/cm.png", "--dst", str(tmp_path)],
                         catch_exceptions=False)
    assert done.exit_code == 0, done.output
    path = done.stdout.strip()
    assert path == str(tmp_path / "cm.png")
    with open(path, "rb") as fh:
        assert fh.read(4) == b"\x89PNG"
    missing = runner.invoke(cli, ["artifacts", "download", run_id, "nope.png", "--dst", str(tmp_path)])
    assert missing.exit_code == 1 and "nope.png" in missing.stderr


def test_a_bad_spec_fails_at_read_time_with_a_clear_error(tmp_path):
    require("matplotlib")
    with autolog.start_run() as run:
        autolog.log_text('{"format": "autolog.plot/1", "kind": "pie"}', f"pie.png{SPEC_SUFFIX}")
    with pytest.raises(autolog.PlotError, match="pie.png.plotspec.json.*kind"):
        autolog.Client().download_artifacts(run.info.run_id, "pie.png", str(tmp_path))
    done = CliRunner().invoke(cli, ["artifacts", "download", run.info.run_id, "pie.png", "--dst", str(tmp_path)])
    assert done.exit_code == 1 and "kind" in done.stderr and "Traceback" not in done.stderr


def test_a_coefficient_report_of_a_flavor_without_one_fails_at_read_time(tmp_path):
    # The pickle flavor has no coefficient table: the reader says so.
    with autolog.start_run() as run:
        autolog.models.log_model({"weights": [1.0, 2.0]}, "model", flavor="pickle")
        autolog.log_text(json.dumps({"format": "autolog.plot/1", "kind": "model_coefficients",
                                     "title": "t", "model": "model", "flavor": "pickle"}),
                         f"coefficients.csv{SPEC_SUFFIX}")
    autolog.flush()
    with pytest.raises(autolog.PlotError, match="no coefficient table for 'pickle'"):
        autolog.Client().download_artifacts(run.info.run_id, "coefficients.csv", str(tmp_path))


BLOCK_MATPLOTLIB = """
import sys
class _NoMatplotlib:
    # Stands for a process where matplotlib is not installed.
    def find_spec(self, name, path=None, target=None):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(f"No module named {name!r}")
        return None
sys.meta_path.insert(0, _NoMatplotlib())
"""


def test_reading_without_matplotlib_names_the_extra_to_install(tmp_path):
    run_id = log_specs()
    autolog.flush()
    uri = autolog.get_tracking_uri()
    done = run_python(BLOCK_MATPLOTLIB + f"""
import autolog
import autolog.plots
autolog.set_tracking_uri({uri!r})
client = autolog.Client()
assert [f.path for f in client.list_artifacts({run_id!r}, "plots")] == ["plots/cm.png"]
assert "Pipeline" in autolog.artifacts.load_text("runs:/{run_id}/estimator.html")  # HTML needs no matplotlib
try:
    client.download_artifacts({run_id!r}, "plots/cm.png", {str(tmp_path)!r})
except ImportError as exc:
    print("ImportError:", exc)
from click.testing import CliRunner
from autolog.cli import cli
result = CliRunner().invoke(cli, ["--tracking-uri", {uri!r}, "artifacts", "download", {run_id!r}, "plots/cm.png", "--dst", {str(tmp_path)!r}])
print("exit", result.exit_code, result.stderr.strip())
""")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("ImportError:") and 'pip install "autolog[plots]"' in lines[0]
    assert lines[1].startswith("exit 1 Error:") and 'pip install "autolog[plots]"' in lines[1]
    assert not os.path.exists(tmp_path / "cm.png")


def test_plots_setting_is_checked():
    from autolog.plots import check_mode

    assert check_mode(True) == "lazy" and check_mode("eager") == "eager" and check_mode(None) is False
    with pytest.raises(autolog.InvalidInputError, match="plots"):
        autolog.autolog(plots="sometimes")


def test_documented_examples_are_valid_and_cover_every_kind():
    import re

    with open(os.path.join(ROOT, "docs", "plot-specs.md"), encoding="utf-8") as fh:
        blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", fh.read(), re.S)]
    schema = [b for b in blocks if "$schema" in b]
    specs = [b for b in blocks if "$schema" not in b]
    assert len(schema) == 1 and schema[0]["properties"]["format"]["const"] == "autolog.plot/1"
    assert schema[0]["properties"]["kind"]["enum"] == list(autolog.plots.KINDS)
    for example in specs:
        spec.validate(example)
    assert {e["kind"] for e in specs} == set(autolog.plots.KINDS)
