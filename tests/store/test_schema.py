"""Schema revisions: every released revision keeps a fixture database that must open and upgrade."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from autolog.errors import StorageError
from autolog.store import _schema
from autolog.store.sql import SqlStore

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_RUN = "9f4cbf9b49244f5aa75ae3d0119bd65f"


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("schema_*.db")), ids=lambda p: p.stem)
def test_released_schema_opens_and_upgrades(tmp_path, fixture):
    db = tmp_path / "old.db"
    shutil.copy(fixture, db)
    store = SqlStore(f"sqlite:///{db}", str(tmp_path / "art"))
    run = store.get_run(FIXTURE_RUN)
    assert run.info.run_name == "v1-run" and run.data.params == {"p": "v"}
    assert run.data.metrics == {"m": 0.5} and run.data.tags["t"] == "x"
    assert store.get_experiment_by_name("fixture") is not None
    new = store.create_run(run.info.experiment_id, "after-upgrade", 1)
    assert store.get_run(new.info.run_id).info.run_name == "after-upgrade"
    store.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == _schema.SCHEMA_REVISION


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
