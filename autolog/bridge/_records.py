"""What the bridge carries between stores, and how MLflow's names map to autolog's.

Plain slotted records rather than autolog's entities: an MLflow store holds what an autolog
store never creates (a metric history with its own timestamps, a run id chosen elsewhere, a
dataset's MLflow source and schema), and the readers and writers of both sides meet here.
"""

from __future__ import annotations

import json
from typing import Any

# MLflow's system tags and the autolog tags that mean the same. The MLflow run name and parent
# tags are kept as they are: autolog sets them too.
MLFLOW_TO_AUTOLOG = {
    "mlflow.user": "autolog.user",
    "mlflow.source.name": "autolog.source.name",
    "mlflow.source.type": "autolog.source.type",
    "mlflow.source.git.commit": "autolog.source.git.commit",
    "mlflow.source.git.branch": "autolog.source.git.branch",
    "mlflow.source.git.repoURL": "autolog.source.git.repoURL",
    "mlflow.note.content": "autolog.note.content",
    "mlflow.autologging": "autolog.integration",
}
AUTOLOG_TO_MLFLOW = {v: k for k, v in MLFLOW_TO_AUTOLOG.items()}
CONTEXT_TAG = "mlflow.data.context"
STATUS_NUMBERS = {"RUNNING": 1, "SCHEDULED": 2, "FINISHED": 3, "FAILED": 4, "KILLED": 5}
STATUS_NAMES = {v: k for k, v in STATUS_NUMBERS.items()}


class Experiment:
    __slots__ = ("experiment_id", "name", "artifact_location", "lifecycle_stage",
                 "creation_time", "last_update_time", "tags")

    def __init__(self, experiment_id: str, name: str, artifact_location: str = "",
                 lifecycle_stage: str = "active", creation_time: int | None = None,
                 last_update_time: int | None = None, tags: dict[str, str] | None = None) -> None:
        self.experiment_id = str(experiment_id)
        self.name = name
        self.artifact_location = artifact_location
        self.lifecycle_stage = lifecycle_stage or "active"
        self.creation_time = creation_time
        self.last_update_time = last_update_time
        self.tags = dict(tags or {})


class Dataset:
    """An MLflow dataset input: what MLflow stores, plus the context input tag."""

    __slots__ = ("name", "digest", "source_type", "source", "schema", "profile", "context")

    def __init__(self, name: str, digest: str, source_type: str = "", source: str = "",
                 schema: str | None = None, profile: str | None = None,
                 context: str | None = None) -> None:
        self.name, self.digest, self.source_type, self.source = name, digest, source_type, source
        self.schema, self.profile, self.context = schema, profile, context

    def to_autolog(self) -> Any:
        """autolog's fingerprint: columns and dtypes from MLflow's colspec schema, the shape
        from its profile's row and element counts."""
        from autolog.entities import Dataset as Fingerprint

        columns = dtypes = shape = None
        try:
            spec = json.loads(self.schema or "{}").get("mlflow_colspec")
            if isinstance(spec, list):
                columns = tuple(str(c.get("name", i)) for i, c in enumerate(spec))
                dtypes = tuple(str(c.get("type", "")) for c in spec)
        except (ValueError, AttributeError):
            pass
        try:
            profile = json.loads(self.profile or "{}")
            rows = profile.get("num_rows")
            if isinstance(rows, int):
                elements = profile.get("num_elements")
                shape = (rows, elements // rows) if isinstance(elements, int) and rows else (rows,)
        except (ValueError, AttributeError):
            pass
        return Fingerprint(name=self.name, digest=self.digest, context=self.context or "train",
                           shape=shape, columns=columns, dtypes=dtypes,
                           source=self.source or None)

    @classmethod
    def from_autolog(cls, d: Any) -> "Dataset":
        schema = profile = None
        if d.columns is not None:
            dtypes = list(d.dtypes or [""] * len(d.columns))
            schema = json.dumps({"mlflow_colspec": [
                {"type": t, "name": c} for c, t in zip(d.columns, dtypes)]})
        if d.shape:
            elements = 1
            for n in d.shape:
                elements *= int(n)
            profile = json.dumps({"num_rows": int(d.shape[0]), "num_elements": elements})
        return cls(d.name, d.digest, "code", d.source or "{}", schema, profile, d.context)


class Run:
    __slots__ = ("run_id", "experiment_id", "name", "status", "start_time", "end_time",
                 "lifecycle_stage", "user_id", "artifact_uri", "params", "tags", "metrics",
                 "datasets")

    def __init__(self, run_id: str, experiment_id: str, name: str, status: str,
                 start_time: int | None, end_time: int | None, lifecycle_stage: str,
                 user_id: str, artifact_uri: str) -> None:
        self.run_id, self.experiment_id, self.name = run_id, str(experiment_id), name or ""
        self.status = status or "FINISHED"
        self.start_time, self.end_time = start_time, end_time
        self.lifecycle_stage = lifecycle_stage or "active"
        self.user_id, self.artifact_uri = user_id or "", artifact_uri or ""
        self.params: dict[str, str] = {}
        self.tags: dict[str, str] = {}
        self.metrics: list[tuple[str, float, int, int]] = []  # key, value, timestamp, step
        self.datasets: list[Dataset] = []

    @property
    def parent_run_id(self) -> str | None:
        return self.tags.get("mlflow.parentRunId") or self.tags.get("autolog.parentRunId")


def to_autolog_tags(tags: dict[str, str]) -> dict[str, str]:
    """MLflow's tags under autolog's names (the parent link under both, as autolog keeps it)."""
    out = {MLFLOW_TO_AUTOLOG.get(k, k): v for k, v in tags.items()}
    if "mlflow.parentRunId" in tags:
        out["autolog.parentRunId"] = tags["mlflow.parentRunId"]
    return out


def to_mlflow_tags(tags: dict[str, str]) -> dict[str, str]:
    """autolog's tags under MLflow's names where MLflow has one; the other autolog.* kept."""
    out = {AUTOLOG_TO_MLFLOW.get(k, k): v for k, v in tags.items() if k != "autolog.parentRunId"}
    if "autolog.parentRunId" in tags:
        out.setdefault("mlflow.parentRunId", tags["autolog.parentRunId"])
    return out
