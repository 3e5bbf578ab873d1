"""Schema revisions on every SQL backend: each released fixture database (SQLite files under
``fixtures/``, copied table by table into a fresh PostgreSQL database for that backend) upgrades
to the head losing no row; revision 0002 (long values) in particular; new databases match
``_schema``; foreign and newer databases are refused."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from autolog.entities import Param, RunTag
from autolog.errors import StorageError
from autolog.store import _schema
from autolog.store.sql import SqlStore

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_RUN = "9f4cbf9b49244f5aa75ae3d0119bd65f"


def load_fixture(fixture: Path, db_url: str, tmp_path: Path) -> str:
    """``db_url`` holding the fixture's schema and rows, exactly as released."""
    if db_url.startswith("sqlite"):
        db = tmp_path / "old.db"
        shutil.copy(fixture, db)
        return f"sqlite:///{db}"
    source = sa.create_engine(f"sqlite:///{fixture}")
    meta = sa.MetaData()
    meta.reflect(source)
    for table in meta.tables.values():
        for column in table.columns:
            # SQLite spells a boolean default 0/1; PostgreSQL wants false/true.
            if isinstance(column.type, sa.Boolean) and column.server_default is not None:
                text = str(getattr(column.server_default, "arg", "")).strip("'")
                column.server_default = sa.DefaultClause(sa.true() if text == "1" else sa.false())
    target = sa.create_engine(db_url)
    with source.connect() as src, target.begin() as dst:
        meta.create_all(dst)
        for table in meta.sorted_tables:
            rows = [dict(r._mapping) for r in src.execute(sa.select(table))]
            if rows:
                dst.execute(table.insert(), rows)
        # Rows were copied with their ids: move the id sequence past them, as the app had it.
        dst.execute(sa.text("SELECT setval(pg_get_serial_sequence('experiments', 'experiment_id'), "
                            "(SELECT max(experiment_id) FROM experiments))"))
    source.dispose()
    target.dispose()
    return db_url


def _read(db_url: str, fn: Any) -> Any:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return fn(conn)
    finally:
        engine.dispose()


def _execute(db_url: str, sql: str) -> None:
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text(sql))
    engine.dispose()


def _rows(db_url: str, tables: dict[str, list[str]]) -> dict[str, list[tuple[Any, ...]]]:
    def read(conn: sa.Connection) -> dict[str, list[tuple[Any, ...]]]:
        return {name: sorted((tuple(r) for r in conn.execute(sa.select(
                    *[sa.column(c) for c in cols]).select_from(sa.table(name)))), key=repr)
                for name, cols in tables.items()}
    return _read(db_url, read)  # type: ignore[no-any-return]


def _indexes(db_url: str, table: str) -> dict[str, list[str]]:
    return _read(db_url, lambda conn: {  # type: ignore[no-any-return]
        ix["name"]: ix["column_names"] for ix in sa.inspect(conn).get_indexes(table)
        if not ix.get("duplicates_constraint")})  # PostgreSQL lists UNIQUE constraints too


def _revision(db_url: str) -> str:
    return str(_read(db_url, lambda c: c.execute(
        sa.text("SELECT version_num FROM alembic_version")).scalar_one()))


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("schema_*.db")), ids=lambda p: p.stem)
def test_released_schema_upgrades_losing_nothing(tmp_path, fixture, db_url):
    url = load_fixture(fixture, db_url, tmp_path)
    tables = _read(url, lambda c: {t: [col["name"] for col in sa.inspect(c).get_columns(t)]
                                   for t in sa.inspect(c).get_table_names() if t != "alembic_version"})
    before = _rows(url, tables)
    assert sum(map(len, before.values())) > 0, "the fixture must hold data"
    store = SqlStore(url, str(tmp_path / "art"))
    run = store.get_run(FIXTURE_RUN)
    new = store.create_run(run.info.experiment_id, "after-upgrade", 1)
    assert store.get_run(new.info.run_id).info.run_name == "after-upgrade"
    assert store.create_experiment("after-upgrade") not in ("0", run.info.experiment_id)
    store.close()
    assert _revision(url) == _schema.SCHEMA_REVISION
    after = _rows(url, tables)
    assert {t: [r for r in rows if new.info.run_id not in r] for t, rows in after.items()
            if t != "experiments"} == {t: rows for t, rows in before.items() if t != "experiments"}


def test_0002_long_values_after_upgrade(tmp_path, db_url):
    """Revision 0002 on a 0001 database with data: the (key, value) indexes are gone, long values
    in any language fit and are found by search, the old rows are untouched."""
    url = load_fixture(FIXTURES / "schema_0001.db", db_url, tmp_path)
    assert "ix_tags_key_value" in _indexes(url, "tags")
    store = SqlStore(url, str(tmp_path / "art"))
    before = store.get_run(FIXTURE_RUN)
    long_tag, long_param = "é" * 3840 + "t" * 4160, "ß" * 6000  # 8,000 and 6,000 characters
    store.log_batch(FIXTURE_RUN, params=[Param("long", long_param)],
                    tags=[RunTag("long", long_tag), RunTag("名前", "値")])
    after = store.get_run(FIXTURE_RUN)
    assert after.data.tags["long"] == long_tag and after.data.params["long"] == long_param
    assert after.data.tags["名前"] == "値"
    assert {k: v for k, v in after.data.params.items() if k != "long"} == before.data.params
    eid = before.info.experiment_id
    assert [r.info.run_id for r in store.search_runs([eid], f"tags.long = '{long_tag}'")] == [FIXTURE_RUN]
    assert [r.info.run_id for r in store.search_runs([eid], "params.long LIKE 'ßß%'")] == [FIXTURE_RUN]
    store.close()
    for table in ("params", "tags"):
        indexes = _indexes(url, table)
        assert f"ix_{table}_key_value" not in indexes
        assert indexes[f"ix_{table}_key"] == ["key"]


def test_new_database_matches_the_schema(tmp_path, db_url):
    SqlStore(db_url, str(tmp_path / "art")).close()
    assert _revision(db_url) == _schema.SCHEMA_REVISION
    for name, table in _schema.metadata.tables.items():
        expected = {ix.name: [c.name for c in ix.columns] for ix in table.indexes}
        assert _indexes(db_url, name) == expected, name


def test_unknown_newer_revision_is_refused(tmp_path, db_url):
    url = load_fixture(FIXTURES / "schema_0001.db", db_url, tmp_path)
    _execute(url, "UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StorageError, match="9999"):
        SqlStore(url, str(tmp_path / "art"))


def test_foreign_database_is_refused(tmp_path, db_url):
    _execute(db_url, "CREATE TABLE runs (x INTEGER)")
    with pytest.raises(StorageError, match="not created by autolog"):
        SqlStore(db_url, str(tmp_path / "art"))
