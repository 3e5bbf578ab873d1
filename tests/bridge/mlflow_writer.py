"""Run by the MLflow virtualenv's Python (not autolog's): writes a known history into an MLflow
store with MLflow's own fluent API, and prints what it wrote as JSON.

Usage: python mlflow_writer.py TRACKING_URI WORKDIR
"""

import json
import os
import sys

import mlflow
from mlflow.entities import Dataset, DatasetInput, InputTag
from mlflow.tracking import MlflowClient
from mlflow_reader import dump

uri, workdir = sys.argv[1], sys.argv[2]
mlflow.set_tracking_uri(uri)
os.chdir(workdir)
client = MlflowClient()

exp_id = mlflow.create_experiment("iris", tags={"team": "vision", "mlflow.note.content": "x"})
mlflow.set_experiment(experiment_id=exp_id)
with mlflow.start_run(run_name="parent", description="tuning") as parent:
    mlflow.log_params({"lr": 0.1, "optimizer": "adam", "layers": "[64, 32]"})
    for step in range(50):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metric("acc", step / 50.0, step=step)
    mlflow.log_metric("weird", float("nan"), step=0)
    mlflow.log_metric("weird", 2.5, step=1)
    mlflow.set_tags({"stage": "dev", "mlflow.source.git.commit": "abc123"})
    with open("notes.txt", "w") as fh:
        fh.write("hello from mlflow\n")
    os.makedirs("model", exist_ok=True)
    with open("model/weights.bin", "wb") as fh:
        fh.write(bytes(range(256)) * 4)
    mlflow.log_artifact("notes.txt")
    mlflow.log_artifacts("model", artifact_path="model")
    schema = {"mlflow_colspec": [{"type": "double", "name": c} for c in ("a", "b", "c")]}
    dataset = Dataset("iris-train", "d1g3st42", "local", json.dumps({"uri": "/data/iris.csv"}),
                      json.dumps(schema), json.dumps({"num_rows": 4, "num_elements": 12}))
    client.log_inputs(parent.info.run_id, [DatasetInput(
        dataset, tags=[InputTag("mlflow.data.context", "training")])])
    for i in range(2):
        with mlflow.start_run(run_name=f"child-{i}", nested=True) as child:
            mlflow.log_param("depth", i + 2)
            mlflow.log_metric("score", 0.5 + i / 10, step=0)
            mlflow.log_metric("score", 0.6 + i / 10, step=1)
with mlflow.start_run(run_name="failed") as failed:
    mlflow.log_param("api_key", "should-be-masked")
mlflow.end_run()
client.set_terminated(failed.info.run_id, "FAILED")
deleted = client.create_run(exp_id, run_name="deleted")
client.log_metric(deleted.info.run_id, "m", 1.0)
client.set_terminated(deleted.info.run_id)
client.delete_run(deleted.info.run_id)
default_run = client.create_run("0", run_name="in-default")
client.log_param(default_run.info.run_id, "p", "v")
client.set_terminated(default_run.info.run_id, "KILLED")

print(json.dumps(dump(client)))
