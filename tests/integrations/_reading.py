"""Reading a test's runs back from the store (shared by the integration tests)."""

from __future__ import annotations

import json
from pathlib import Path

import autolog


def only_run():
    """The one run the test made (after committing everything); fails if there are others."""
    autolog.flush()
    runs = autolog.search_runs(output_format="list")
    assert len(runs) == 1, [r.info.run_name for r in runs]
    return runs[0]


def history(run, key):
    return autolog.Client().get_metric_history(run.info.run_id, key)


def artifacts(run):
    return {f.path for f in autolog.Client().list_artifacts(run.info.run_id)}


def read_artifact(run, path):
    return json.loads(Path(run.info.artifact_uri, path).read_text())
