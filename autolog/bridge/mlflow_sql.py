"""Reading an MLflow tracking database (``sqlite:///mlflow.db``, ``postgresql://...``) through
MLflow's documented SQL schema: ``experiments``, ``experiment_tags``, ``runs``, ``params``,
``tags``, ``metrics``, ``datasets``, ``inputs`` and ``input_tags``.

Only columns present since MLflow 2.0 are read, so any 2.x or 3.x database works; the tables a
later MLflow added (traces, logged models, ...) are ignored. SQLite files are opened read-only:
the source is never written, not even created when the path is mistyped.
"""

from __future__ import annotations

import math
import os
from typing import Any, Iterator

from autolog.bridge._records import Dataset, Experiment, Run
from autolog.errors import InvalidInputError

REQUIRED = {
    "experiments": {"experiment_id", "name", "artifact_location", "lifecycle_stage"},
    "runs": {"run_uuid", "name", "status", "start_time", "end_time", "lifecycle_stage",
             "user_id", "artifact_uri", "experiment_id"},
    "params": {"key", "value", "run_uuid"},
    "tags": {"key", "value", "run_uuid"},
    "metrics": {"key", "value", "timestamp", "step", "is_nan", "run_uuid"},
    "alembic_version": {"version_num"},
}


class SqlSource:
    """An MLflow database, read with SQLAlchemy Core text queries."""

    def __init__(self, url: str) -> None:
        import sqlalchemy as sa

        self.description = url
        self.folder = os.getcwd()
        if url.startswith("sqlite:///"):
            path = os.path.abspath(url[len("sqlite:///"):])
            if not os.path.isfile(path):
                raise InvalidInputError(f"No MLflow database at {path}.")
            self.folder = os.path.dirname(path)
            url = f"sqlite:///file:{path}?mode=ro&uri=true"
        try:
            self.engine = sa.create_engine(url)
        except Exception as exc:  # noqa: BLE001 - a bad URL or a missing driver
            raise InvalidInputError(f"Cannot open {self.description}: {exc}") from exc
        self._has_datasets = False

    def _rows(self, sql: str, **params: Any) -> list[Any]:
        import sqlalchemy as sa

        try:
            with self.engine.connect() as conn:
                return list(conn.execute(sa.text(sql), params))
        except sa.exc.SQLAlchemyError as exc:
            raise InvalidInputError(
                f"Cannot read the MLflow database {self.description}: {str(exc).splitlines()[0]}"
            ) from exc

    def check(self) -> None:
        """Raises: InvalidInputError: the file is not a database, is damaged, or is not MLflow's."""
        import sqlalchemy as sa

        if self.engine.dialect.name == "sqlite":
            problems = [r[0] for r in self._rows("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise InvalidInputError(
                    f"The MLflow database {self.description} is damaged: {problems[0]}")
        try:
            inspector = sa.inspect(self.engine)
            tables = set(inspector.get_table_names())
            for table, columns in REQUIRED.items():
                if table not in tables:
                    raise InvalidInputError(
                        f"{self.description} is not an MLflow tracking database (no table "
                        f"{table!r}).")
                have = {c["name"] for c in inspector.get_columns(table)}
                if not columns <= have:
                    raise InvalidInputError(
                        f"{self.description} is not an MLflow tracking database (table "
                        f"{table!r} lacks {', '.join(sorted(columns - have))}).")
            self._has_datasets = {"datasets", "inputs", "input_tags"} <= tables
        except sa.exc.SQLAlchemyError as exc:
            raise InvalidInputError(
                f"Cannot read {self.description}: {str(exc).splitlines()[0]}") from exc

    def experiments(self) -> list[Experiment]:
        found = {}
        for r in self._rows("SELECT experiment_id, name, artifact_location, lifecycle_stage, "
                            "creation_time, last_update_time FROM experiments ORDER BY experiment_id"):
            found[str(r[0])] = Experiment(str(r[0]), r[1], r[2] or "", r[3], r[4], r[5])
        for key, value, eid in self._rows("SELECT key, value, experiment_id FROM experiment_tags"):
            if str(eid) in found:
                found[str(eid)].tags[key] = value or ""
        return list(found.values())

    def count_runs(self) -> int:
        return int(self._rows("SELECT COUNT(*) FROM runs")[0][0])

    def runs(self) -> Iterator[Run]:
        """Every run with its params, tags, full metric history and datasets, oldest first."""
        rows = self._rows("SELECT run_uuid, experiment_id, name, status, start_time, end_time, "
                          "lifecycle_stage, user_id, artifact_uri FROM runs "
                          "ORDER BY start_time, run_uuid")
        for r in rows:
            run = Run(r[0], str(r[1]), r[2], r[3], r[4], r[5], r[6], r[7], r[8])
            rid = run.run_id
            run.params = {k: v for k, v in self._rows(
                "SELECT key, value FROM params WHERE run_uuid = :r", r=rid)}
            run.tags = {k: v or "" for k, v in self._rows(
                "SELECT key, value FROM tags WHERE run_uuid = :r", r=rid)}
            run.metrics = [
                (k, math.nan if nan else float(v), int(ts), int(step or 0))
                for k, v, ts, step, nan in self._rows(
                    "SELECT key, value, timestamp, step, is_nan FROM metrics WHERE run_uuid = :r "
                    "ORDER BY key, step, timestamp", r=rid)]
            if self._has_datasets:
                run.datasets = self._datasets(rid)
            yield run

    def _datasets(self, run_id: str) -> list[Dataset]:
        out = []
        for uuid_, name, digest, stype, source, schema, profile in self._rows(
                "SELECT i.input_uuid, d.name, d.digest, d.dataset_source_type, d.dataset_source, "
                "d.dataset_schema, d.dataset_profile FROM inputs i JOIN datasets d "
                "ON d.dataset_uuid = i.source_id WHERE i.source_type = 'DATASET' "
                "AND i.destination_type = 'RUN' AND i.destination_id = :r", r=run_id):
            tags = dict(self._rows("SELECT name, value FROM input_tags WHERE input_uuid = :u",
                                   u=uuid_))
            out.append(Dataset(name, digest, stype, source, schema, profile,
                               tags.get("mlflow.data.context")))
        return out

    def artifact_dir(self, run: Run, scratch: str) -> str | None:
        from autolog.bridge._artifacts import local_folder

        return local_folder(run.artifact_uri, self.folder)

    def close(self) -> None:
        self.engine.dispose()
