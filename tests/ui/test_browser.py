"""The issue's browser scenarios: experiments, the runs table (filter, sort, columns, nesting,
selection, URL state), run pages with previews, charts, comparison; hostile content stays text."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest

from tests.ui.conftest import shot

pytestmark = pytest.mark.timeout(180)


def get_json(server, path: str) -> dict:
    with urllib.request.urlopen(server.url + path, timeout=30) as response:
        return json.loads(response.read())


def experiment_id(server, name: str) -> str:
    found = [e for e in get_json(server, "/ui-api/experiments?view=all")["experiments"]
             if e["name"] == name]
    assert found, name
    return found[0]["experiment_id"]


def run_names(page) -> list[str]:
    return page.locator(".vrow[data-run-id] .name a").all_inner_texts()


def open_runs(page, server, name: str, query: str = "") -> None:
    page.goto(f"{server.url}/experiments/{experiment_id(server, name)}{query}")
    page.wait_for_selector("body[data-ready='1']")


def test_experiments_list_create_rename_delete_restore(page, ui_server):
    page.goto(ui_server.url + "/")
    rows = page.locator("#experiments tbody tr")
    rows.first.wait_for()
    row = page.locator("#experiments tr", has_text="nested_cv_experiment")
    assert row.locator("td.num").inner_text() == "19"  # parent + 3 settings + 15 folds
    shot(page, "experiments")

    page.fill("#new-name", "made in the browser")
    page.click("#create button[type=submit]")
    made = page.locator("#experiments tr", has_text="made in the browser")
    made.wait_for()
    page.once("dialog", lambda d: d.accept("renamed in the browser"))
    made.get_by_role("button", name="Rename").click()
    renamed = page.locator("#experiments tr", has_text="renamed in the browser")
    renamed.wait_for()
    renamed.get_by_role("button", name="Delete").click()
    renamed.wait_for(state="detached")
    page.select_option("#view", "deleted")
    assert "view=deleted" in page.url
    page.locator("#experiments tr", has_text="renamed in the browser").get_by_role(
        "button", name="Restore").click()
    page.select_option("#view", "active")
    page.locator("#experiments tr", has_text="renamed in the browser").wait_for()


# Answers arrive out of order when the server is slow on one request. Each rule delays the first
# request whose URL contains its text: `before` ms before it is sent, `after` ms before its answer
# is handed to the page.
DELAY_REQUESTS = """
const realFetch = window.fetch;
window.__delays = [];
window.fetch = async (url, init) => {
  const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const i = window.__delays.findIndex((rule) => String(url).includes(rule.match));
  if (i < 0) return realFetch(url, init);
  const [rule] = window.__delays.splice(i, 1);
  await pause(rule.before);
  const response = await realFetch(url, init);
  await pause(rule.after);
  return response;
};
"""


def delay_next(page, match: str, before: int = 0, after: int = 0) -> None:
    page.evaluate("(rule) => window.__delays.push(rule)", {"match": match, "before": before,
                                                          "after": after})


def test_late_old_list_does_not_replace_newer(page, ui_server):
    # Restore, then switch to the active view at once: the switch's list is read before the
    # restore commits and arrives after the restore's own reload.
    page.add_init_script(DELAY_REQUESTS)
    page.goto(ui_server.url + "/")
    page.locator("#experiments tbody tr").first.wait_for()
    page.fill("#new-name", "restored fast")
    page.click("#create button[type=submit]")
    made = page.locator("#experiments tr", has_text="restored fast")
    made.get_by_role("button", name="Delete").click()
    made.wait_for(state="detached")
    page.select_option("#view", "deleted")
    delay_next(page, "/update", before=300)
    delay_next(page, "view=active", after=1000)
    made.get_by_role("button", name="Restore").click()
    page.select_option("#view", "active")
    page.wait_for_timeout(1800)  # past the late answer
    assert made.count() == 1


def test_late_preview_does_not_replace_newer(page, ui_server):
    page.add_init_script(DELAY_REQUESTS)
    open_runs(page, ui_server, "ui_showcase")
    page.get_by_role("link", name="plots_and_files").click()
    page.wait_for_selector("body[data-ready='1']")
    delay_next(page, "training_confusion_matrix", after=800)
    page.get_by_role("button", name=re.compile("training_confusion_matrix.png")).click()
    page.get_by_role("button", name=re.compile("training_roc_curve")).click()
    page.wait_for_selector("#preview .spec[data-kind='curves']")
    page.wait_for_timeout(1200)  # past the late answer
    assert page.locator("#preview .spec").get_attribute("data-kind") == "curves"
    assert "artifact=training_roc_curve" in page.url


def test_filter_valid_and_invalid(page, ui_server):
    open_runs(page, ui_server, "tagged_experiments")
    assert len(run_names(page)) == 3
    page.fill("#filter", "tags.phase = 'validation' OR (params.C = '0.1' AND metrics.test_accuracy > 0)")
    page.press("#filter", "Enter")
    page.wait_for_function("document.querySelector('#count').textContent === '2 runs'")
    page.wait_for_selector("body[data-ready='1']")
    assert sorted(run_names(page)) == ["logistic_regression_tuning", "logistic_regression_validation"]
    assert "filter=" in page.url
    shot(page, "runs-filtered")

    page.fill("#filter", "metrics.test_accuracy > 'high'")
    page.press("#filter", "Enter")
    error = page.locator("#filter-error")
    error.get_by_text("position 24").wait_for()
    caret = error.locator("pre.caret").inner_text()
    assert caret.splitlines()[1] == " " * 24 + "^"
    assert page.get_attribute("#filter", "aria-invalid") == "true"
    shot(page, "runs-filter-error")


def test_sort_and_columns_then_reload_from_url(page, ui_server, browser):
    open_runs(page, ui_server, "neural_network_training")
    page.click("#columns-btn")
    page.fill("#key-search", "learn")
    page.locator("input[data-col='params:learning_rate']").check()
    page.fill("#key-search", "val_acc")
    page.locator("input[data-col='metrics:final_val_accuracy']").wait_for()
    page.locator("input[data-col='metrics:val_accuracy']").check()
    page.wait_for_selector(".vhead button[data-col='metrics:val_accuracy']")
    page.click("#columns-btn")

    header = page.locator(".vhead button[data-col='params:learning_rate']")
    header.click()  # descending first
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_function("""() => {
        const cells = [...document.querySelectorAll('.vrow[data-run-id]')].map(r => r.children[7].textContent);
        return cells.length === 3 && cells[0] === '0.1';
    }""")
    header.click()  # then ascending
    page.wait_for_function("""() => {
        const cells = [...document.querySelectorAll('.vrow[data-run-id]')].map(r => r.children[7].textContent);
        return cells.length === 3 && cells[0] === '0.001';
    }""")
    values = page.locator(".vrow[data-run-id]").evaluate_all(
        "rows => rows.map(r => r.children[8].textContent)")
    assert all(re.fullmatch(r"\d\.\d+", v) for v in values), values
    page.locator(".vrow[data-run-id] input[type=checkbox]").first.check()
    assert "sort=params%3Alearning_rate" in page.url or "sort=params:learning_rate" in page.url
    assert "sel=" in page.url and "cols=" in page.url
    shot(page, "runs-sorted-columns")

    copied = page.url
    other = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    other.goto(copied)
    other.wait_for_selector("body[data-ready='1']")
    assert other.locator(".vhead button[data-col='metrics:val_accuracy']").count() == 1
    assert other.locator(".vhead [aria-sort='ascending'] button.sort").get_attribute(
        "data-col") == "params:learning_rate"
    assert run_names(other) == run_names(page)
    assert other.locator(".vrow.selected").count() == 1
    other.context.close()


def test_nested_runs_grouped_under_parent(page, ui_server):
    open_runs(page, ui_server, "nested_cv_experiment")
    assert run_names(page) == ["hyperparameter_search"]
    page.get_by_role("button", name=re.compile("Expand 3 child runs")).click()
    page.wait_for_selector(".vrow.child")
    assert sorted(page.locator(".vrow.child .name a").all_inner_texts()) == [
        "n_estimators_10", "n_estimators_20", "n_estimators_5"]
    page.get_by_role("button", name=re.compile("Expand 5 child runs")).first.click()
    page.wait_for_function("document.querySelectorAll('.vrow.child').length === 8")
    folds = page.locator(".vrow.child .name a").all_inner_texts()
    assert folds[1:6] == [f"fold_{i}" for i in (4, 3, 2, 1, 0)]  # newest first, under their parent
    assert page.locator(".vrow.child").nth(1).locator(".name").get_attribute("style").endswith("42px")
    shot(page, "runs-nested")


def test_run_page_previews(page, ui_server):
    open_runs(page, ui_server, "ui_showcase")
    page.get_by_role("link", name="plots_and_files").click()
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator("#params").inner_text().count("forest") == 1
    page.wait_for_selector("#metrics svg.spark path")

    page.get_by_role("button", name=re.compile("training_confusion_matrix.png")).click()
    matrix = page.locator("#preview .spec[data-kind='confusion_matrix'] svg")
    matrix.wait_for()
    text = matrix.text_content()
    assert "versicolor" in text and "True label" in text and "8" in text
    shot(page, "run-confusion-matrix")
    assert "artifact=training_confusion_matrix.png" in page.url

    page.get_by_role("button", name=re.compile("training_roc_curve")).click()
    page.wait_for_selector("#preview .spec[data-kind='curves'] path.series")
    page.get_by_role("button", name=re.compile("tables")).click()
    page.get_by_role("button", name=re.compile("sample.csv")).click()
    csv = page.locator("#preview table.csv")
    csv.wait_for()
    assert csv.locator("th").all_inner_texts() == ["a", "b", "label"]
    assert csv.locator("td").last.inner_text() == "<b>y</b>"  # text, not markup
    shot(page, "run-csv")

    page.get_by_role("button", name=re.compile("report.html")).click()
    frame = page.locator("#preview iframe.html")
    frame.wait_for()
    assert frame.get_attribute("sandbox") == ""
    page.frame_locator("#preview iframe.html").locator("#h").wait_for()
    assert page.evaluate("window.__pwned") is None


def test_image_and_model_previews(page, ui_server):
    open_runs(page, ui_server, "artifact_example")
    page.get_by_role("link", name="with_artifacts").click()
    page.wait_for_selector("body[data-ready='1']")
    page.get_by_role("button", name=re.compile("confusion_matrix.png")).click()
    image = page.locator("#preview img.img")
    image.wait_for()
    page.wait_for_function("document.querySelector('#preview img.img').naturalWidth > 100")
    shot(page, "run-image")

    open_runs(page, ui_server, "iris_classification")
    page.locator(".vrow[data-run-id] .name a").first.click()
    page.wait_for_selector("body[data-ready='1']")
    page.get_by_role("button", name=re.compile("random_forest_model")).click()
    model = page.locator("#preview .model")
    model.wait_for()
    assert "scikit-learn" in model.inner_text() or "sklearn" in model.inner_text()
    download = page.locator("#preview a.button")
    assert "download=1" in download.get_attribute("href")
    shot(page, "run-model")


def test_chart_of_two_runs(page, ui_server):
    open_runs(page, ui_server, "neural_network_training")
    boxes = page.locator(".vrow[data-run-id] input[type=checkbox]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.click("#chart-btn")
    page.wait_for_selector("body[data-ready='1']")
    page.locator("#metric-picks label", has_text="final_train_loss").locator("input").uncheck()
    page.wait_for_function("document.querySelectorAll('.chart-card').length === 0")
    page.locator("#metric-picks label", has_text=re.compile("^train_loss$")).locator("input").check()
    page.locator("#metric-picks label", has_text=re.compile("^val_loss$")).locator("input").check()
    page.wait_for_function("document.querySelectorAll('.chart-card').length === 2")
    card = page.locator(".chart-card").first
    assert card.locator("path.series").count() == 2
    assert card.locator(".legend .key").count() == 2
    page.check("#log")
    shot(page, "chart-two-runs")
    page.select_option("#x", "relative")
    assert "log=1" in page.url and "x=relative" in page.url
    url = page.url
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']")
    assert page.is_checked("#log") and page.input_value("#x") == "relative"
    assert page.locator(".chart-card").count() == 2


def test_chart_downsamples_long_history(page, ui_server):
    open_runs(page, ui_server, "ui_showcase")
    run_id = page.locator(".vrow[data-run-id]", has_text="plots_and_files").get_attribute(
        "data-run-id")
    data = get_json(ui_server, f"/ui-api/series?runs={run_id}&metrics=loss&points=200")
    series = data["series"][0]
    assert series["count"] == 2000 and series["sampled"]
    assert len(series["points"]) <= 200
    values = [p[2] for p in series["points"]]
    assert max(values) == pytest.approx(1.0)  # the first point's spike survives
    page.goto(f"{ui_server.url}/chart?runs={run_id}&metrics=loss")
    page.wait_for_selector(".chart-card path.series")
    assert "2,000 points" in page.locator(".chart-card").inner_text()


def test_compare_three_runs(page, ui_server):
    open_runs(page, ui_server, "tagged_experiments")
    for box in page.locator(".vrow[data-run-id] input[type=checkbox]").all():
        box.check()
    page.click("#compare-btn")
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator("#params thead th").count() == 4
    assert page.locator("#params tr.differs").count() >= 1
    page.wait_for_selector("#parallel path.pcline")
    assert page.locator("#parallel path.pcline").count() == 3
    page.select_option("#curve-metric", "train_accuracy")
    page.wait_for_selector("#curves svg.chart circle")
    shot(page, "compare")
    page.check("#only-diff")
    same = page.locator("#params tbody tr:not(.differs)")
    assert same.count() == 0
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    assert page.is_checked("#only-diff") and page.input_value("#curve-metric") == "train_accuracy"


def test_hostile_content_is_text(page, ui_server):
    from tests.ui.seed_extra import HOSTILE, HOSTILE_FILE, JS_LINK

    open_runs(page, ui_server, "ui_showcase")
    link = page.locator(".vrow[data-run-id] .name a", has_text="<script>")
    assert link.inner_text() == HOSTILE
    link.click()
    page.wait_for_selector("body[data-ready='1']")
    assert HOSTILE in page.locator("#title").inner_text()
    assert HOSTILE in page.locator("#tags").inner_text()
    assert JS_LINK in page.locator("#tags").inner_text()
    assert page.locator("a[href^='javascript']").count() == 0
    assert HOSTILE in page.locator("#overview").inner_text()  # the description
    shot(page, "run-hostile")
    page.goto(page.url.split("/runs/")[0] + "/")
    page.wait_for_selector("#experiments tbody tr")
    open_runs(page, ui_server, "ui_showcase")
    page.get_by_role("link", name="plots_and_files").click()
    page.get_by_role("button", name=re.compile("onerror")).click()
    page.locator("#preview pre.text").wait_for()
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#preview b").first.inner_text() == HOSTILE_FILE


def test_paths_cannot_leave_the_run(ui_server):
    exp = experiment_id(ui_server, "ui_showcase")
    run_id = get_json(ui_server, f"/ui-api/experiments/{exp}/runs")["runs"][0]["run_id"]
    for path in ("../../../autolog.db", "..", "/etc/passwd", "tables/../../x"):
        for endpoint in ("raw", "preview", "artifacts"):
            url = f"{ui_server.url}/ui-api/runs/{run_id}/{endpoint}?path={urllib.request.quote(path)}"
            with pytest.raises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(url, timeout=30)
            caught.value.close()
            assert caught.value.code == 400, (endpoint, path)


def test_running_runs_refresh_themselves(page, ui_server, seeded_store):
    from autolog import _tracking
    from autolog.store.sql import SqlStore

    writer = SqlStore(*_tracking.resolve(str(seeded_store)))
    try:
        exp = writer.create_experiment("live")
        run = writer.create_run(exp, "still_training", start_time=1)
        open_runs(page, ui_server, "live")
        row = page.locator(f".vrow[data-run-id='{run.info.run_id}']")
        assert row.locator(".status").inner_text() == "RUNNING"
        writer.update_run_info(run.info.run_id, status="FINISHED", end_time=2)
        row.locator(".status", has_text="FINISHED").wait_for(timeout=15_000)
        assert row.locator(".cell").nth(4).inner_text() == "1 ms"  # duration from the new end
    finally:
        writer.close()
