"""Turning database rows into immutable run entities, in a few bulk queries."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any, Sequence

import sqlalchemy as sa

from autolog.entities import Dataset, Run, RunData, RunInfo
from autolog.store import _schema as S


def build_runs(conn: sa.Connection, rows: Sequence[Any]) -> list[Run]:
    """Runs for ``runs`` table rows, with their params, latest metrics, tags and inputs."""
    ids = [r.run_id for r in rows]
    params: dict[str, dict[str, str]] = defaultdict(dict)
    tags: dict[str, dict[str, str]] = defaultdict(dict)
    metrics: dict[str, dict[str, float]] = defaultdict(dict)
    inputs: dict[str, list[Dataset]] = defaultdict(list)
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start:chunk_start + 500]
        for r in conn.execute(sa.select(S.params.c.run_id, S.params.c.key, S.params.c.value)
                              .where(S.params.c.run_id.in_(chunk))):
            params[r.run_id][r.key] = r.value
        for r in conn.execute(sa.select(S.tags.c.run_id, S.tags.c.key, S.tags.c.value)
                              .where(S.tags.c.run_id.in_(chunk))):
            tags[r.run_id][r.key] = r.value
        lm = S.latest_metrics.c
        for m in conn.execute(sa.select(lm.run_id, lm.key, lm.value, lm.is_nan)
                              .where(lm.run_id.in_(chunk))):
            metrics[m.run_id][m.key] = float("nan") if m.is_nan else m.value
        for r in conn.execute(sa.select(S.inputs).where(S.inputs.c.run_id.in_(chunk))):
            inputs[r.run_id].append(Dataset(
                name=r.name, digest=r.digest, context=r.context,
                shape=tuple(json.loads(r.shape)) if r.shape else None,
                columns=tuple(json.loads(r.columns)) if r.columns else None,
                dtypes=tuple(json.loads(r.dtypes)) if r.dtypes else None,
                source=r.source, tags=json.loads(r.tags) if r.tags else None,
            ))
    return [
        Run(
            info=build_info(r),
            data=RunData(params=params[r.run_id], metrics=metrics[r.run_id], tags=tags[r.run_id]),
            inputs=tuple(inputs[r.run_id]),
        )
        for r in rows
    ]


def build_info(r: Any) -> RunInfo:
    """The RunInfo of one ``runs`` table row."""
    return RunInfo(
        run_id=r.run_id, run_name=r.run_name or "", experiment_id=str(r.experiment_id),
        status=r.status, start_time=r.start_time, end_time=r.end_time,
        artifact_uri=r.artifact_uri, lifecycle_stage=r.lifecycle_stage, user_id=r.user_id or "",
    )
