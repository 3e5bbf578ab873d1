"""System metrics with real psutil (and NVML when a GPU is there): keys, points, switches, and
no sampler thread left behind."""

from __future__ import annotations

import threading
import time

import pytest

import autolog
from autolog import _system_metrics
from tests.conftest import require

require("psutil")

BASE_KEYS = {
    "system/cpu_utilization_percentage", "system/system_memory_usage_megabytes",
    "system/system_memory_usage_percentage", "system/disk_usage_megabytes",
    "system/disk_usage_percentage", "system/disk_available_megabytes",
    "system/network_receive_megabytes", "system/network_transmit_megabytes",
    "system/process_memory_rss_megabytes", "system/process_cpu_utilization_percentage",
}


@pytest.fixture(autouse=True)
def reset_switches(monkeypatch):
    monkeypatch.delenv(_system_metrics.ENV_ENABLE, raising=False)
    monkeypatch.delenv(_system_metrics.ENV_INTERVAL, raising=False)
    yield
    _system_metrics._enabled = None
    _system_metrics._interval = None
    _system_metrics._autolog_runs = None


def _sampler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "autolog-system-metrics"]


def _history(run_id: str, key: str) -> list:
    return autolog.Client().get_metric_history(run_id, key)


def test_a_run_gets_mlflow_named_metrics_and_the_thread_ends_with_it():
    autolog.set_system_metrics_sampling_interval(0.2)
    with autolog.start_run(log_system_metrics=True) as run:
        assert len(_sampler_threads()) == 1
        time.sleep(1.5)
    assert _sampler_threads() == []
    metrics = autolog.get_run(run.info.run_id).data.metrics
    assert BASE_KEYS <= set(metrics)
    assert not any(k.startswith("system/gpu_") for k in metrics) or _system_metrics.gpu_names()
    points = _history(run.info.run_id, "system/cpu_utilization_percentage")
    assert len(points) >= 3
    assert [p.step for p in points] == list(range(len(points)))
    assert 0 <= metrics["system/system_memory_usage_percentage"] <= 100
    assert metrics["system/process_memory_rss_megabytes"] > 1
    # Nothing is logged to the run after it ended.
    count = len(points)
    time.sleep(0.5)
    assert len(_history(run.info.run_id, "system/cpu_utilization_percentage")) == count


def test_a_25_second_run_with_a_2_second_interval_has_at_least_10_points_per_key():
    autolog.set_system_metrics_sampling_interval(2)
    with autolog.start_run(log_system_metrics=True) as run:
        time.sleep(25)
    assert _sampler_threads() == []
    for key in BASE_KEYS:
        assert len(_history(run.info.run_id, key)) >= 10, key


def test_switches_global_env_and_per_run(monkeypatch):
    monkeypatch.setenv(_system_metrics.ENV_INTERVAL, "0.1")
    with autolog.start_run() as plain:
        time.sleep(0.3)
    assert not any(k.startswith("system/") for k in autolog.get_run(plain.info.run_id).data.metrics)

    monkeypatch.setenv(_system_metrics.ENV_ENABLE, "true")
    with autolog.start_run() as by_env:
        time.sleep(1.0)
    with autolog.start_run(log_system_metrics=False) as refused:
        time.sleep(0.3)
    autolog.disable_system_metrics_logging()  # wins over the variable
    with autolog.start_run() as disabled:
        time.sleep(0.3)
    autolog.enable_system_metrics_logging()
    monkeypatch.delenv(_system_metrics.ENV_ENABLE)
    with autolog.start_run() as enabled:
        time.sleep(1.0)
    got = {name: any(k.startswith("system/") for k in autolog.get_run(r.info.run_id).data.metrics)
           for name, r in [("env", by_env), ("refused", refused), ("disabled", disabled),
                           ("enabled", enabled)]}
    assert got == {"env": True, "refused": False, "disabled": False, "enabled": True}
    assert _sampler_threads() == []


def test_autolog_flag_applies_to_runs_autologging_starts():
    autolog.set_system_metrics_sampling_interval(0.1)
    autolog.autolog(log_system_metrics=True, include=[])
    with autolog.start_run(tags={"autolog.integration": "sklearn"}) as autologged:
        time.sleep(1.0)
    with autolog.start_run() as user_run:
        time.sleep(0.3)
    assert "system/cpu_utilization_percentage" in autolog.get_run(autologged.info.run_id).data.metrics
    assert "system/cpu_utilization_percentage" not in autolog.get_run(user_run.info.run_id).data.metrics


def test_nested_runs_share_one_sampler_and_each_stops_on_its_own():
    autolog.set_system_metrics_sampling_interval(0.1)
    with autolog.start_run(log_system_metrics=True) as outer:
        with autolog.start_run(nested=True, log_system_metrics=True) as inner:
            time.sleep(1.0)
            assert len(_sampler_threads()) == 1
        assert len(_sampler_threads()) == 1  # the outer run is still monitored
        time.sleep(1.0)
    assert _sampler_threads() == []
    inner_n = len(_history(inner.info.run_id, "system/cpu_utilization_percentage"))
    outer_n = len(_history(outer.info.run_id, "system/cpu_utilization_percentage"))
    assert inner_n >= 2 and outer_n > inner_n


def test_bad_interval_is_refused():
    with pytest.raises(autolog.InvalidInputError):
        autolog.set_system_metrics_sampling_interval(0)


def test_gpu_metrics_only_with_a_gpu():
    names = _system_metrics.gpu_names()
    autolog.set_system_metrics_sampling_interval(0.1)
    with autolog.start_run(log_system_metrics=True) as run:
        time.sleep(1.0)
    metrics = autolog.get_run(run.info.run_id).data.metrics
    gpu_keys = {k for k in metrics if k.startswith("system/gpu_")}
    if names:
        assert {"system/gpu_0_utilization_percentage", "system/gpu_0_memory_usage_megabytes"} <= gpu_keys
    else:
        assert gpu_keys == set()
