"""Real services for the tests (store and server alike, registered by tests/conftest.py as a
plugin so that every folder shares them): one throwaway PostgreSQL cluster and one moto S3
server per session, started only when a test asks for them.

``AUTOLOG_TEST_POSTGRES_URI`` (a ``postgresql://`` URI whose user may create databases) points
the tests at an existing server instead. Without PostgreSQL (or psycopg, boto3, moto) the tests
that need it skip on a laptop and fail under ``CI=true``, like the framework tests.
"""

from __future__ import annotations

import importlib
import os

import pytest

from autolog.testing import services

POSTGRES_URI_ENV = "AUTOLOG_TEST_POSTGRES_URI"


def missing(what: str) -> None:
    """Skip, or fail under CI=true, where a skip could hide a broken setup."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} is required under CI=true")
    pytest.skip(f"{what} is not available")


def require_modules(*modules: str) -> None:
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            missing(f"the Python package {module!r}")


@pytest.fixture(scope="session")
def postgres():
    """The session's PostgreSQL server (a :class:`services.PostgresCluster`)."""
    require_modules("psycopg")
    uri = os.environ.get(POSTGRES_URI_ENV)
    if uri:
        yield services.PostgresCluster.at(uri.replace("postgresql://", "postgresql+psycopg://", 1))
        return
    if services.postgres_bin_dir() is None:
        missing("PostgreSQL (pg_ctl; apt-get install postgresql)")
    cluster = services.PostgresCluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def postgres_db(postgres):
    """A fresh, empty database on the session's server; dropped after the test."""
    uri = postgres.new_database()
    yield uri
    postgres.drop_database(uri)


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 server on 127.0.0.1; its endpoint and dummy credentials are in the environment
    for the session (boto3 reads them), and restored after."""
    require_modules("boto3", "moto")
    server = services.MotoS3Server()
    saved = {k: os.environ.get(k) for k in server.env}
    os.environ.update(server.env)
    yield server
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    server.stop()


@pytest.fixture
def s3_bucket(s3_server):
    """A fresh bucket's name."""
    import uuid

    name = f"autolog-{uuid.uuid4().hex[:12]}"
    s3_server.create_bucket(name)
    return name
