"""The shipped store contract, run against every backend: SQLite and PostgreSQL, each bare and
behind the batching writer."""

from __future__ import annotations

import pytest

from autolog.store.batching import BatchingStore
from autolog.store.sql import SqlStore
from autolog.testing.store_contract import StoreContract


class TestSqlStore(StoreContract):
    @pytest.fixture
    def store(self, db_url, tmp_path):
        store = SqlStore(db_url, str(tmp_path / "artifacts"))
        yield store
        store.close()


class TestBatchingSqlStore(StoreContract):
    @pytest.fixture
    def store(self, db_url, tmp_path):
        inner = SqlStore(db_url, str(tmp_path / "artifacts"))
        store = BatchingStore(inner)
        yield store
        store.flush(raise_errors=False)
        inner.close()
