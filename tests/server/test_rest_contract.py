"""The shipped store contract, run against the REST store: the server app in this process, a
real ``autolog server`` subprocess, and the REST store behind the batching writer."""

from __future__ import annotations

import pytest

from autolog.store.batching import BatchingStore
from autolog.store.rest import RestStore
from autolog.testing.store_contract import StoreContract


class TestRestStoreInProcess(StoreContract):
    @pytest.fixture
    def store(self, live_server):
        store = RestStore(live_server.url)
        yield store
        store.close()


class TestBatchingRestStore(StoreContract):
    @pytest.fixture
    def store(self, live_server):
        inner = RestStore(live_server.url)
        store = BatchingStore(inner)
        yield store
        store.flush(raise_errors=False)
        inner.close()


class TestRestStoreSubprocess(StoreContract):
    @pytest.fixture
    def store(self, server_process):
        store = RestStore(server_process.url)
        yield store
        store.close()
