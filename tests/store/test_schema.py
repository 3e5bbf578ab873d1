"""Schema revisions: every released revision keeps a fixture database that must open and upgrade
with every row it holds, and the revisions build exactly the schema ``_schema`` describes."""

from __future__ import annotations

import math
import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from autolog.errors import StorageError
from autolog.store import _schema, migrations
from autolog.store.sql import SqlStore

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_RUN = "9f4cbf9b49244f5aa75ae3d0119bd65f"
RELEASED = sorted(FIXTURES.glob("schema_*.db"))


def _rows(db: Path, tables: dict[str, list[str]]) -> dict[str, list[tuple]]:
    """Every row of every table, in the columns the old revision had, in a stable order."""
    with sqlite3.connect(db) as conn:
        return {t: sorted(conn.execute(f'SELECT {", ".join(map(repr, cols))} FROM "{t}"').fetchall(),
                          key=repr)
                for t, cols in tables.items()}


def _tables(db: Path) -> dict[str, list[str]]:
    with sqlite3.connect(db) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name != 'alembic_version'")]
        return {n: [c[1] for c in conn.execute(f'PRAGMA table_info("{n}")')] for n in names}


@pytest.mark.parametrize("fixture", RELEASED, ids=lambda p: p.stem)
def test_released_schema_upgrades_to_head_losing_nothing(tmp_path, fixture):
    db = tmp_path / "old.db"
    shutil.copy(fixture, db)
    tables = _tables(db)
    before = _rows(db, tables)
    assert sum(len(rows) for rows in before.values()) >= 20, "the fixture must hold data"
    SqlStore(f"sqlite:///{db}", str(tmp_path / "art")).close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (_schema.SCHEMA_REVISION,)]
    assert _rows(db, tables) == before


@pytest.mark.parametrize("fixture", RELEASED, ids=lambda p: p.stem)
def test_upgraded_store_reads_old_runs_and_writes_new_ones(tmp_path, fixture):
    db = tmp_path / "old.db"
    shutil.copy(fixture, db)
    store = SqlStore(f"sqlite:///{db}", str(tmp_path / "art"))
    run = store.get_run(FIXTURE_RUN)
    assert run.info.run_name == "v1-run" and run.data.params == {"p": "v", "alpha": "0.5"}
    assert run.data.metrics["m"] == 0.5 and math.isnan(run.data.metrics["loss"])
    assert run.data.tags["t"] == "x"
    assert [m.value for m in store.get_metric_history(FIXTURE_RUN, "m")] == [0.25, 0.5]
    assert [(d.name, d.shape, d.columns) for d in run.inputs] == [("iris", (150, 4), ("a", "b", "c", "d"))]
    assert store.get_experiment_by_name("fixture").tags["team"] == "vision"
    assert store.get_experiment_by_name("retired").lifecycle_stage == "deleted"
    new = store.create_run(run.info.experiment_id, "after-upgrade", 1)
    assert store.get_run(new.info.run_id).info.run_name == "after-upgrade"
    store.close()


def test_new_database_is_built_by_the_revisions_and_matches_schema_module(tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    assert migrations.script_directory().get_current_head() == _schema.SCHEMA_REVISION
    db = tmp_path / "new.db"
    SqlStore(f"sqlite:///{db}", str(tmp_path / "art")).close()
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), _schema.metadata)
        indexes = {i["name"] for t in _schema.metadata.tables for i in sa.inspect(conn).get_indexes(t)}
    engine.dispose()
    assert diff == []
    assert indexes == {i.name for t in _schema.metadata.tables.values() for i in t.indexes}


def test_new_database_is_never_built_by_create_all(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("create_all must not build a tracking database")

    monkeypatch.setattr(sa.MetaData, "create_all", refuse)
    store = SqlStore(f"sqlite:///{tmp_path / 'new.db'}", str(tmp_path / "art"))
    assert store.get_experiment("0").name == "Default"
    store.close()


def test_unknown_newer_revision_is_refused(tmp_path):
    db = tmp_path / "future.db"
    shutil.copy(FIXTURES / "schema_0001.db", db)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StorageError, match="9999"):
        SqlStore(f"sqlite:///{db}", str(tmp_path / "art"))


def test_foreign_database_is_refused(tmp_path):
    db = tmp_path / "foreign.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE runs (x INTEGER)")
    with pytest.raises(StorageError, match="not created by autolog"):
        SqlStore(f"sqlite:///{db}", str(tmp_path / "art"))


def test_corrupt_database_gives_one_clear_line(tmp_path):
    db = tmp_path / "junk.db"
    db.write_bytes(b"junk" * 100)
    with pytest.raises(StorageError) as err:
        SqlStore(f"sqlite:///{db}", str(tmp_path / "art"))
    assert str(err.value) == "The tracking store failed: file is not a database"


def test_fixture_script_rebuilds_the_same_rows(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_schema_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rebuilt = tmp_path / "schema_0001.db"
    module.make_0001(rebuilt)
    tables = _tables(FIXTURES / "schema_0001.db")
    assert _tables(rebuilt) == tables
    assert _rows(rebuilt, tables) == _rows(FIXTURES / "schema_0001.db", tables)


def test_upgraded_schema_equals_a_new_one(tmp_path):
    """Alembic's revisions and _schema.py (what new databases get) describe the same tables."""
    import sqlalchemy as sa

    old = tmp_path / "old.db"
    shutil.copy(FIXTURES / "schema_0001.db", old)
    SqlStore(f"sqlite:///{old}", str(tmp_path / "a")).close()
    new = tmp_path / "new.db"
    SqlStore(f"sqlite:///{new}", str(tmp_path / "b")).close()

    def shape(db):
        inspector = sa.inspect(sa.create_engine(f"sqlite:///{db}"))
        return {t: (sorted(c["name"] for c in inspector.get_columns(t)),
                    sorted(i["name"] for i in inspector.get_indexes(t)))
                for t in inspector.get_table_names()}

    assert shape(old) == shape(new)
    assert "users" in shape(new) and "last_heartbeat" in shape(new)["runs"][0]
