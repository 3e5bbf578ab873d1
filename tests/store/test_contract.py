"""The shipped store contract, run against every backend available here."""

from __future__ import annotations

import pytest

from autolog.store.batching import BatchingStore
from autolog.store.sql import SqlStore
from autolog.testing.store_contract import StoreContract


class TestSqliteStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path):
        store = SqlStore(f"sqlite:///{tmp_path / 'contract.db'}", str(tmp_path / "artifacts"))
        yield store
        store.close()


class TestBatchingSqliteStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path):
        inner = SqlStore(f"sqlite:///{tmp_path / 'contract.db'}", str(tmp_path / "artifacts"))
        store = BatchingStore(inner)
        yield store
        store.flush(raise_errors=False)
        inner.close()
