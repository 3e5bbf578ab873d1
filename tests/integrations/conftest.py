"""Fixtures shared by the integration tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def one_blas_thread():
    """Tiny fits with idle BLAS/OpenMP threads spinning on a busy 2-core machine take 50x
    longer; one thread keeps the suite fast without changing any result checked here."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield
