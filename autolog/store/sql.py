"""The SQL store: SQLite by default, PostgreSQL for teams, one schema (SQLAlchemy Core).

Concurrency (SQLite's WAL, busy timeout and ``BEGIN IMMEDIATE`` writes; PostgreSQL's pool) is
set up in :mod:`._sql_engine`; on top, a locked database, a deadlock or a dropped connection is
retried here. Writes that many processes may race on are upserts (``INSERT ... ON CONFLICT``),
their rows sorted by key so that concurrent transactions lock rows in one order. Database errors are translated
to :class:`~autolog.errors.StorageError` in exactly one place, :meth:`SqlStore._transact`.
"""

from __future__ import annotations

import json
import os
import time
import uuid
import weakref
from collections import defaultdict
from types import SimpleNamespace
from typing import Any, Callable, Sequence, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from autolog import search as _search
from autolog.entities import (
    Dataset,
    Experiment,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from autolog.errors import (
    AutologError,
    InvalidInputError,
    NotFoundError,
    ParamConflictError,
    RunStateError,
    StorageError,
)
from autolog.store import _schema as S
from autolog.store import _sql_engine, _sql_search
from autolog.store import _sql_statements as _statements
from autolog.store._sql_rows import build_info, build_runs
from autolog.store.base import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
    AbstractStore,
    PagedList,
    decode_page_token,
    encode_page_token,
    new_run,
    run_artifact_uri,
)

T = TypeVar("T")
_LOCK_RETRIES = 8
_RUN_NAME_TAGS = ("mlflow.runName", "autolog.runName")
_RUN_NAME_LENGTH = 250  # runs.run_name; the tag itself keeps the whole name
_TABLES = SimpleNamespace(
    runs=S.runs, params=S.params, tags=S.tags, latest_metrics=S.latest_metrics,
    experiments=S.experiments, experiment_tags=S.experiment_tags,
)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _dispose_in_child(engine: "weakref.ref[sa.Engine]") -> None:
    live = engine()
    if live is not None:
        live.dispose(close=False)


def _upsert(conn: sa.Connection, table: sa.Table, keys: list[str], rows: list[dict[str, Any]]) -> None:
    """Insert ``rows``, replacing the other columns of rows whose ``keys`` already exist; safe
    against a concurrent writer inserting the same key (a delete-then-insert is not)."""
    _statements.execute(conn, _statements.upsert(conn, table, tuple(keys)), rows)


def _stage_filter(column: Any, view_type: int) -> Any:
    if view_type == ViewType.ACTIVE_ONLY:
        return column == LifecycleStage.ACTIVE
    if view_type == ViewType.DELETED_ONLY:
        return column == LifecycleStage.DELETED
    return sa.true()


class SqlStore(AbstractStore):
    """A store on a SQLAlchemy database URL; see :class:`AbstractStore` for the contract."""

    def __init__(self, db_url: str, artifact_root: str, busy_timeout_s: float = 30.0) -> None:
        self.db_url = db_url
        self.busy_timeout_s = busy_timeout_s
        self.artifact_root = artifact_root
        try:
            self._engine = _sql_engine.create_engine(db_url, busy_timeout_s)
        except SQLAlchemyError as exc:
            raise StorageError(f"Cannot open the tracking store at {_sql_engine.redact(db_url)}: "
                               f"{_sql_engine.first_line(exc)}") from exc
        try:
            self._ensure_schema()
        except StorageError as exc:
            self._engine.dispose()  # a refused store keeps no connection open
            cause = exc.__cause__
            if self._engine.dialect.name == "sqlite" or not isinstance(cause, SQLAlchemyError):
                raise
            # A server: say which one (password masked) in one line, e.g. a wrong password.
            raise StorageError(f"Cannot open the tracking store at {_sql_engine.redact(db_url)}: "
                               f"{_sql_engine.first_line(cause)}") from cause
        # After fork the child must not use the parent's pooled connections, nor close them
        # (closing a PostgreSQL connection in the child would end the parent's session).
        if hasattr(os, "register_at_fork"):
            engine = weakref.ref(self._engine)
            os.register_at_fork(after_in_child=lambda: _dispose_in_child(engine))

    # -- engine and transactions ----------------------------------------------------------------
    def _transact(self, fn: Callable[[sa.Connection], T], write: bool = True) -> T:
        """Run ``fn`` in one transaction, retrying on a locked database; the error boundary."""
        delay = 0.05
        retries = _LOCK_RETRIES if self.busy_timeout_s >= 1 else 2
        for attempt in range(retries):
            try:
                with self._engine.connect() as conn:
                    conn.execution_options(autolog_write=write)
                    with conn.begin():
                        return fn(conn)
            except AutologError:
                raise
            except (OperationalError, DBAPIError) as exc:
                text = str(exc).lower()
                if "readonly" in text or "disk i/o" in text:
                    # SQLite opens a file it cannot write read-only for good: pooled
                    # connections from that time would refuse writes after the disk is back.
                    self._engine.dispose()
                if not _sql_engine.is_retryable(exc) or attempt == retries - 1:
                    raise StorageError(f"The tracking store failed: {_sql_engine.first_line(exc)}") from exc
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
            except SQLAlchemyError as exc:
                raise StorageError(f"The tracking store failed: {_sql_engine.first_line(exc)}") from exc
        raise AssertionError("unreachable")

    def _ensure_schema(self) -> None:
        from autolog.store import migrations

        def create(conn: sa.Connection) -> None:
            migrations.ensure_schema(conn)
            exists = conn.execute(
                sa.select(S.experiments.c.experiment_id).where(
                    S.experiments.c.experiment_id == int(DEFAULT_EXPERIMENT_ID)
                )
            ).first()
            if exists is None:
                now = _now_ms()
                conn.execute(S.experiments.insert().values(
                    experiment_id=int(DEFAULT_EXPERIMENT_ID),
                    name=DEFAULT_EXPERIMENT_NAME,
                    artifact_location=self._artifact_location(DEFAULT_EXPERIMENT_ID),
                    lifecycle_stage=LifecycleStage.ACTIVE,
                    creation_time=now, last_update_time=now,
                ))

        self._transact(create)

    def _artifact_location(self, experiment_id: str) -> str:
        return os.path.join(self.artifact_root, str(experiment_id))

    def close(self) -> None:
        self._engine.dispose()

    # -- experiments ----------------------------------------------------------------------------
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, str] | None = None
    ) -> str:
        if not isinstance(name, str) or not name.strip():
            raise InvalidInputError("Experiment names must be non-empty strings.")

        def create(conn: sa.Connection) -> str:
            if conn.execute(sa.select(S.experiments.c.experiment_id).where(
                    S.experiments.c.name == name)).first() is not None:
                raise InvalidInputError(
                    f"An experiment named {name!r} already exists (it may be deleted: restore it "
                    "or choose another name)."
                )
            now = _now_ms()
            inserted = conn.execute(S.experiments.insert().values(
                name=name, artifact_location="", lifecycle_stage=LifecycleStage.ACTIVE,
                creation_time=now, last_update_time=now,
            )).inserted_primary_key
            assert inserted is not None
            new_id = inserted[0]
            location = artifact_location or self._artifact_location(str(new_id))
            conn.execute(S.experiments.update().where(
                S.experiments.c.experiment_id == new_id).values(artifact_location=location))
            for key, value in (tags or {}).items():
                conn.execute(S.experiment_tags.insert().values(
                    experiment_id=new_id, key=key, value=str(value)))
            return str(new_id)

        return self._transact(create)

    def _experiment_rows(self, conn: sa.Connection, where: Any, order: Sequence[Any] = (),
                         limit: int | None = None) -> list[Experiment]:
        query = sa.select(S.experiments).where(where)
        if order:
            query = query.order_by(*order)
        if limit:
            query = query.limit(limit)
        rows = conn.execute(query).all()
        if not rows:
            return []
        tag_rows = conn.execute(sa.select(S.experiment_tags).where(
            S.experiment_tags.c.experiment_id.in_([r.experiment_id for r in rows]))).all()
        tags: dict[int, dict[str, str]] = defaultdict(dict)
        for t in tag_rows:
            tags[t.experiment_id][t.key] = t.value
        return [
            Experiment(
                experiment_id=str(r.experiment_id), name=r.name,
                artifact_location=r.artifact_location, lifecycle_stage=r.lifecycle_stage,
                tags=tags[r.experiment_id], creation_time=r.creation_time,
                last_update_time=r.last_update_time,
            )
            for r in rows
        ]

    @staticmethod
    def _experiment_key(experiment_id: str) -> int:
        try:
            return int(experiment_id)
        except (TypeError, ValueError):
            raise NotFoundError(f"No experiment with id {experiment_id!r}.") from None

    def get_experiment(self, experiment_id: str) -> Experiment:
        key = self._experiment_key(experiment_id)
        found = self._transact(
            lambda c: self._experiment_rows(c, S.experiments.c.experiment_id == key), write=False)
        if not found:
            raise NotFoundError(f"No experiment with id {experiment_id!r}.")
        return found[0]

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        found = self._transact(
            lambda c: self._experiment_rows(c, S.experiments.c.name == name), write=False)
        return found[0] if found else None

    def search_experiments(
        self,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int | None = None,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
    ) -> list[Experiment]:
        where = _stage_filter(S.experiments.c.lifecycle_stage, view_type)
        node = _search.parse_filter(filter_string, _search.EXPERIMENT_ATTRIBUTES)
        if node is not None:
            where = sa.and_(where, _search.compile_experiment_filter(node, _TABLES))
        # Ordered and limited by the database: a page of 10 of 100,000 experiments reads 10.
        order: list[Any] = []
        for clause in order_by or []:
            parsed = _search.parse_order_by(clause, _search.EXPERIMENT_ATTRIBUTES)
            column = S.experiments.c[parsed.key]
            order += [column.is_(None), column.asc() if parsed.ascending else column.desc()]
        order += [S.experiments.c.creation_time.desc(), S.experiments.c.experiment_id.asc()]
        return self._transact(
            lambda c: self._experiment_rows(c, where, order, max_results), write=False)

    def set_experiment_lifecycle(self, experiment_id: str, stage: str) -> None:
        key = self._experiment_key(experiment_id)

        def update(conn: sa.Connection) -> None:
            done = conn.execute(S.experiments.update().where(
                S.experiments.c.experiment_id == key).values(
                lifecycle_stage=stage, last_update_time=_now_ms()))
            if done.rowcount == 0:
                raise NotFoundError(f"No experiment with id {experiment_id!r}.")
            conn.execute(S.runs.update().where(S.runs.c.experiment_id == key).values(
                lifecycle_stage=stage))

        self._transact(update)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        key = self._experiment_key(experiment_id)
        if not isinstance(new_name, str) or not new_name.strip():
            raise InvalidInputError("Experiment names must be non-empty strings.")

        def rename(conn: sa.Connection) -> None:
            other = conn.execute(sa.select(S.experiments.c.experiment_id).where(
                S.experiments.c.name == new_name)).first()
            if other is not None and other.experiment_id != key:
                raise InvalidInputError(f"An experiment named {new_name!r} already exists.")
            done = conn.execute(S.experiments.update().where(
                S.experiments.c.experiment_id == key).values(name=new_name, last_update_time=_now_ms()))
            if done.rowcount == 0:
                raise NotFoundError(f"No experiment with id {experiment_id!r}.")

        self._transact(rename)

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        exp_key = self._experiment_key(experiment_id)
        self.get_experiment(experiment_id)

        self._transact(lambda conn: _upsert(conn, S.experiment_tags, ["experiment_id", "key"], [
            {"experiment_id": exp_key, "key": key, "value": value}]))

    # -- runs -----------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        run_name: str,
        start_time: int,
        tags: Sequence[RunTag] = (),
        user_id: str = "",
        parent_run_id: str | None = None,
        owner: str | None = None,
        run_id: str | None = None,
    ) -> Run:
        run_id = run_id or uuid.uuid4().hex
        experiment = self._transact(lambda conn: self._insert_run(
            conn, experiment_id, run_name, start_time, tags, user_id, parent_run_id, owner, run_id))
        return new_run(experiment, run_id, run_name, start_time, tags, user_id)

    def _insert_run(self, conn: sa.Connection, experiment_id: str, run_name: str, start_time: int,
                    tags: Sequence[RunTag] = (), user_id: str = "", parent_run_id: str | None = None,
                    owner: str | None = None, run_id: str | None = None,
                    status: str = RunStatus.RUNNING, end_time: int | None = None,
                    experiments: dict[str, Experiment] | None = None) -> Experiment:
        experiment = (experiments or {}).get(experiment_id)
        if experiment is None:
            if experiments is None:
                found = self._experiment_rows(
                    conn, S.experiments.c.experiment_id == self._experiment_key(experiment_id))
            else:  # a group needs no experiment tags: one query instead of two
                found = [Experiment(experiment_id=str(r.experiment_id), name=r.name,
                                    artifact_location=r.artifact_location,
                                    lifecycle_stage=r.lifecycle_stage, tags={},
                                    creation_time=r.creation_time,
                                    last_update_time=r.last_update_time)
                         for r in conn.execute(_statements.experiment_for_run(conn), {
                             "b_experiment_id": self._experiment_key(experiment_id)})]
            if not found:
                raise NotFoundError(f"No experiment with id {experiment_id!r}.")
            experiment = found[0]
            if experiments is not None:
                experiments[experiment_id] = experiment
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
            raise RunStateError(
                f"Experiment {experiment.name!r} is deleted; restore it before logging runs to it."
            )
        _statements.execute(conn, _statements.insert(conn, S.runs), dict(
            run_id=run_id, experiment_id=int(experiment_id), run_name=run_name,
            status=status, start_time=start_time, end_time=end_time,
            artifact_uri=run_artifact_uri(experiment, str(run_id)),
            lifecycle_stage=LifecycleStage.ACTIVE,
            user_id=user_id, parent_run_id=parent_run_id, owner=owner,
        ))
        if tags:  # a key given twice: the last value wins, as when tags are set one by one
            latest = {t.key: t.value for t in tags}
            _statements.execute(conn, _statements.insert(conn, S.tags), [
                {"run_id": run_id, "key": k, "value": v} for k, v in latest.items()])
        return experiment

    atomic_groups = True

    def write_group(self, creates: Sequence[dict[str, Any]],
                    batches: Sequence[tuple[str, list[Metric], list[Param], list[RunTag]]],
                    inputs: Sequence[tuple[str, Sequence[Dataset]]],
                    ends: Sequence[tuple[str, str, int]]) -> None:
        """All of it in one transaction (one commit): a whole autologged run in the common case.

        A run created here skips the checks that only an older run needs (its params, tags,
        inputs cannot exist yet), and one also ended here is inserted ended.
        """
        end_of = {run_id: (status, end_time) for run_id, status, end_time in ends}
        new = {c["run_id"] for c in creates}

        def write(conn: sa.Connection) -> None:
            experiments: dict[str, Experiment] = {}
            for create in creates:
                status, end_time = end_of.get(create["run_id"], (RunStatus.RUNNING, None))
                self._insert_run(conn, **create, status=status, end_time=end_time,
                                 experiments=experiments)
            if batches:
                self._write_batches(conn, batches, new)
            for run_id, datasets in inputs:
                self._insert_inputs(conn, run_id, datasets, run_id in new)
            for run_id, status, end_time in ends:
                if run_id not in new:
                    self._require_run(conn, run_id)
                    _statements.execute(conn, _statements.end_run(conn), {
                        "b_run_id": run_id, "status": status, "end_time": end_time})

        self._transact(write)

    def _require_run(self, conn: sa.Connection, run_id: str) -> Any:
        row = conn.execute(sa.select(S.runs).where(S.runs.c.run_id == run_id)).first()
        if row is None:
            raise NotFoundError(f"No run with id {run_id!r}.")
        return row

    def get_run(self, run_id: str) -> Run:
        def load(conn: sa.Connection) -> Run:
            row = self._require_run(conn, run_id)
            return build_runs(conn, [row])[0]

        return self._transact(load, write=False)

    def update_run_info(
        self,
        run_id: str,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        if status is not None and status not in RunStatus.ALL:
            raise InvalidInputError(
                f"Invalid run status {status!r}: expected one of {', '.join(RunStatus.ALL)}.")
        values: dict[str, Any] = {}
        if status is not None:
            values["status"] = status
        if end_time is not None:
            values["end_time"] = end_time
        if run_name is not None:
            values["run_name"] = run_name

        def update(conn: sa.Connection) -> RunInfo:
            self._require_run(conn, run_id)
            if values:
                conn.execute(S.runs.update().where(S.runs.c.run_id == run_id).values(**values))
            if run_name is not None:
                self._upsert_tags(conn, run_id, [RunTag("mlflow.runName", run_name)])
            return build_info(self._require_run(conn, run_id))

        return self._transact(update)

    def set_run_lifecycle(self, run_id: str, stage: str) -> None:
        def update(conn: sa.Connection) -> None:
            self._require_run(conn, run_id)
            conn.execute(S.runs.update().where(S.runs.c.run_id == run_id).values(
                lifecycle_stage=stage))

        self._transact(update)

    def mark_stale_runs(self, alive: Callable[[str], bool]) -> int:
        def mark(conn: sa.Connection) -> int:
            rows = conn.execute(sa.select(S.runs.c.run_id, S.runs.c.owner).where(sa.and_(
                S.runs.c.status == RunStatus.RUNNING, S.runs.c.owner.is_not(None)))).all()
            dead = [r.run_id for r in rows if not alive(r.owner)]
            if dead:
                conn.execute(S.runs.update().where(S.runs.c.run_id.in_(dead)).values(
                    status=RunStatus.KILLED, end_time=_now_ms()))
            return len(dead)

        return self._transact(mark)

    # -- logging --------------------------------------------------------------------------------
    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        self.log_many([(run_id, list(metrics), list(params), list(tags))])

    def log_many(self, batches: Sequence[tuple[str, list[Metric], list[Param], list[RunTag]]],
                 request_ids: Sequence[str | None] | None = None) -> None:
        """``request_ids``: one per batch (or None); a batch whose id was applied before is
        skipped, so that a request retried after its response was lost is stored once."""
        self._transact(lambda conn: self._write_batches(conn, batches, request_ids=request_ids))

    def _write_batches(self, conn: sa.Connection,
                       batches: Sequence[tuple[str, list[Metric], list[Param], list[RunTag]]],
                       new: set[str] | frozenset[str] = frozenset(),
                       request_ids: Sequence[str | None] | None = None) -> None:
        """``new``: runs created in this transaction (nothing of theirs to check or replace)."""
        older = {b[0] for b in batches} - new
        known = {r.run_id for r in conn.execute(sa.select(S.runs.c.run_id).where(
            S.runs.c.run_id.in_(older)))} if older else set()
        with_metrics: list[tuple[str, Sequence[Metric]]] = []
        for i, (run_id, metrics, params, tags) in enumerate(batches):
            request_id = request_ids[i] if request_ids else None
            if request_id is not None and not self._first_application(conn, request_id):
                continue
            fresh = run_id in new
            if not fresh and run_id not in known:
                raise NotFoundError(f"No run with id {run_id!r}.")
            if params:
                self._insert_params(conn, run_id, params, fresh)
            if tags:
                self._upsert_tags(conn, run_id, tags)
            if metrics:
                with_metrics.append((run_id, metrics))
        if with_metrics:
            self._insert_metrics(conn, with_metrics)

    @staticmethod
    def _first_application(conn: sa.Connection, request_id: str) -> bool:
        """Record ``request_id`` in the write's own transaction; False if it was applied before."""
        table = S.applied_requests
        if conn.execute(sa.select(table.c.request_id).where(
                table.c.request_id == request_id)).first() is not None:
            return False
        now = _now_ms()
        conn.execute(table.insert().values(request_id=request_id[:64], applied_time=now))
        if hash(request_id) % 1000 == 0:  # now and then, forget ids older than a day
            conn.execute(table.delete().where(table.c.applied_time < now - 86_400_000))
        return True

    def _insert_params(self, conn: sa.Connection, run_id: str, params: Sequence[Param],
                       fresh: bool = False) -> None:
        wanted: dict[str, str] = {}
        for p in params:
            if wanted.setdefault(p.key, p.value) != p.value:
                raise ParamConflictError(
                    f"Param {p.key!r} was given twice in one batch with different values "
                    f"({wanted[p.key]!r} and {p.value!r})."
                )
        rows = [{"run_id": run_id, "key": k, "value": wanted[k]} for k in sorted(wanted)]
        if fresh:  # a run created in this transaction has no params yet
            _statements.execute(conn, _statements.insert(conn, S.params), rows)
            return
        # Insert what is missing, ignoring rows another writer got in first, then compare:
        # the same value logged twice (two processes, a retried batch) is not a conflict.
        _statements.execute(conn, _statements.insert_params_missing(conn), rows)
        stored = dict(conn.execute(sa.select(S.params.c.key, S.params.c.value).where(sa.and_(
            S.params.c.run_id == run_id, S.params.c.key.in_(list(wanted))))).all())
        for key, value in wanted.items():
            if stored.get(key, value) != value:
                raise ParamConflictError(
                    f"Param {key!r} of run {run_id} is already {stored[key]!r}; it cannot be "
                    f"changed to {value!r}. Log the new value under another key, or start a new run."
                )

    def _upsert_tags(self, conn: sa.Connection, run_id: str, tags: Sequence[RunTag]) -> None:
        latest = {t.key: t.value for t in tags}
        _upsert(conn, S.tags, ["run_id", "key"],
                [{"run_id": run_id, "key": k, "value": latest[k]} for k in sorted(latest)])
        for name_tag in _RUN_NAME_TAGS:
            if name_tag in latest:
                conn.execute(S.runs.update().where(S.runs.c.run_id == run_id).values(
                    run_name=latest[name_tag][:_RUN_NAME_LENGTH]))

    def _insert_metrics(self, conn: sa.Connection,
                        batches: Sequence[tuple[str, Sequence[Metric]]]) -> None:
        """Every batch's history in one executemany, then each (run, key)'s newest value upserted
        once for the whole transaction (a group commit of many batches touches few keys)."""
        history: list[tuple[Any, ...]] = []
        newest: dict[tuple[str, str], tuple[int, int, float]] = {}
        for run_id, metrics in batches:
            history += [(run_id, k, None if v != v else v, v != v, ts, st) for k, v, ts, st in metrics]
            for k, v, ts, st in metrics:
                best = newest.get((run_id, k))
                if best is None or st > best[0] or (st == best[0] and ts >= best[1]):
                    newest[(run_id, k)] = (st, ts, v)
        _sql_engine.insert_history(conn, history)
        _statements.execute(conn, _statements.upsert_latest_metrics(conn), [
            {"run_id": run_id, "key": k, "value": None if v != v else v, "is_nan": v != v,
             "timestamp": ts, "step": st}
            for (run_id, k), (st, ts, v) in sorted(newest.items())  # one lock order for all writers
        ])

    def delete_tag(self, run_id: str, key: str) -> None:
        def delete(conn: sa.Connection) -> None:
            self._require_run(conn, run_id)
            done = conn.execute(S.tags.delete().where(sa.and_(
                S.tags.c.run_id == run_id, S.tags.c.key == key)))
            if done.rowcount == 0:
                raise NotFoundError(f"Run {run_id} has no tag {key!r}.")

        self._transact(delete)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        def load(conn: sa.Connection) -> list[Metric]:
            self._require_run(conn, run_id)
            m = S.metrics.c
            rows = conn.execute(sa.select(m.value, m.is_nan, m.timestamp, m.step).where(sa.and_(
                m.run_id == run_id, m.key == key)).order_by(m.step, m.timestamp)).all()
            return [Metric(key, float("nan") if r.is_nan else r.value, r.timestamp, r.step)
                    for r in rows]

        return self._transact(load, write=False)

    def log_inputs(self, run_id: str, datasets: Sequence[Dataset]) -> None:
        self._transact(lambda conn: self._insert_inputs(conn, run_id, datasets))

    def _insert_inputs(self, conn: sa.Connection, run_id: str, datasets: Sequence[Dataset],
                       fresh: bool = False) -> None:
        if not fresh:
            self._require_run(conn, run_id)
        for d in datasets:
            # Even a run created in this transaction: the same data logged twice is one input.
            _statements.execute(conn, _statements.delete_input(conn), {
                "b_run_id": run_id, "b_digest": d.digest, "b_context": d.context})
            _statements.execute(conn, _statements.insert(conn, S.inputs), dict(
                run_id=run_id, digest=d.digest, context=d.context, name=d.name,
                shape=json.dumps(list(d.shape)) if d.shape is not None else None,
                columns=json.dumps(list(d.columns)) if d.columns is not None else None,
                dtypes=json.dumps(list(d.dtypes)) if d.dtypes is not None else None,
                source=d.source, tags=json.dumps(dict(d.tags)) if d.tags else None,
            ))

    # -- reading runs ---------------------------------------------------------------------------
    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        run_view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        offset = decode_page_token(page_token)
        runs = S.runs
        node = _search.parse_filter(filter_string)
        clauses = [_search.parse_order_by(c) for c in (order_by or [])]
        exp_keys = [self._experiment_key(e) for e in experiment_ids]
        query = sa.select(runs).where(
            runs.c.experiment_id.in_(exp_keys), _stage_filter(runs.c.lifecycle_stage, run_view_type))
        if node is not None:
            query = query.where(_search.compile_filter(node, _TABLES))

        def load(conn: sa.Connection) -> PagedList:
            # One row past the page tells whether there is a next page; paging is done in SQL.
            rows = _sql_search.page(conn, query, clauses, offset, max_results + 1)
            token = encode_page_token(offset + max_results) if len(rows) > max_results else None
            return PagedList(build_runs(conn, rows[:max_results]), token)

        return self._transact(load, write=False)

    # -- the tracking server's bookkeeping --------------------------------------------------------
    def heartbeat(self, run_ids: Sequence[str], start: bool = False, now: int | None = None) -> None:
        """Record that the client running ``run_ids`` is alive (see ``runs.last_heartbeat``).

        Only runs whose client sends heartbeats are touched, unless ``start`` begins them.
        """
        if not run_ids:
            return
        where: Any = S.runs.c.run_id.in_(list(run_ids))
        if not start:
            where = sa.and_(where, S.runs.c.last_heartbeat.is_not(None))
        values = {"last_heartbeat": now or _now_ms()}
        self._transact(lambda c: c.execute(S.runs.update().where(where).values(**values)))

    def running_owners(self) -> list[tuple[str, str]]:
        """(run id, owner) of every RUNNING run that has an owner (for a remote client's
        :meth:`mark_stale_runs`)."""
        rows = self._transact(lambda c: c.execute(sa.select(S.runs.c.run_id, S.runs.c.owner).where(
            sa.and_(S.runs.c.status == RunStatus.RUNNING, S.runs.c.owner.is_not(None)))).all(),
            write=False)
        return [(r.run_id, r.owner) for r in rows]

    def mark_silent_runs(self, timeout_ms: int, now: int | None = None) -> int:
        """End as KILLED every RUNNING run whose last heartbeat is older than ``timeout_ms``."""
        when = now or _now_ms()

        def mark(conn: sa.Connection) -> int:
            done = conn.execute(S.runs.update().where(sa.and_(
                S.runs.c.status == RunStatus.RUNNING, S.runs.c.last_heartbeat.is_not(None),
                S.runs.c.last_heartbeat < when - timeout_ms)).values(
                status=RunStatus.KILLED, end_time=when))
            return int(done.rowcount or 0)

        return self._transact(mark)


