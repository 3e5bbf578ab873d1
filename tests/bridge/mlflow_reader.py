"""Run by the MLflow virtualenv's Python: prints, as JSON, what MLflow's own client reads from
a tracking store (every experiment and run, deleted ones included).

Usage: python mlflow_reader.py TRACKING_URI
"""

import json
import math
import sys


def dump(client):
    out = {"runs": {}, "experiments": {}}
    for exp in client.search_experiments(view_type=3):
        out["experiments"][exp.name] = {"tags": exp.tags, "lifecycle_stage": exp.lifecycle_stage}
        for run in client.search_runs([exp.experiment_id], run_view_type=3, max_results=50000):
            info, d = run.info, run.data
            history = {k: [["nan" if math.isnan(m.value) else m.value, m.timestamp, m.step]
                           for m in client.get_metric_history(info.run_id, k)]
                       for k in d.metrics}
            out["runs"][info.run_id] = {
                "experiment": exp.name, "name": info.run_name, "status": info.status,
                "start_time": info.start_time, "end_time": info.end_time,
                "lifecycle_stage": info.lifecycle_stage, "user_id": info.user_id,
                "params": d.params, "tags": d.tags, "history": history,
                "datasets": [[i.dataset.name, i.dataset.digest,
                              {t.key: t.value for t in i.tags}.get("mlflow.data.context")]
                             for i in run.inputs.dataset_inputs],
                "artifacts": sorted(_walk(client, info.run_id, None)),
            }
    return out


def _walk(client, run_id, path):
    for f in client.list_artifacts(run_id, path):
        if f.is_dir:
            yield from _walk(client, run_id, f.path)
        else:
            yield f.path


if __name__ == "__main__":
    from mlflow.tracking import MlflowClient

    print(json.dumps(dump(MlflowClient(tracking_uri=sys.argv[1]))))
