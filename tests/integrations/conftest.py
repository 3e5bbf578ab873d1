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


# Resources pyspark leaves to the garbage collector, whose ResourceWarnings then surface in
# whatever test runs the collection: py4j's per-thread loopback sockets (one for each Python
# thread that called the JVM: pyspark's pool threads, autolog's writer thread) and the
# ThreadPool that CrossValidator/TrainValidationSplit/OneVsRest never close.
SPARK_WARNINGS = (
    r"ignore:unclosed <socket\.socket .*raddr=\('127\.0\.0\.1':ResourceWarning",
    r"ignore:unclosed running multiprocessing pool <multiprocessing\.pool\.ThreadPool:ResourceWarning",
)


@pytest.fixture(scope="session")
def spark_session(pytestconfig):
    """One local Spark for the whole test session: starting a JVM costs seconds. One core, no
    UI, one shuffle partition and no progress bars keep the Spark tests small and quiet."""
    from tests.conftest import require

    require("pyspark")
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[1]").appName("autolog-tests")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "1")
               .config("spark.default.parallelism", "1")
               .config("spark.driver.memory", "512m")
               .config("spark.ui.retainedJobs", "100000")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    for line in SPARK_WARNINGS:
        pytestconfig.addinivalue_line("filterwarnings", line)
    yield session
    session.stop()
    import gc

    gc.collect()
