"""System metrics: CPU, memory, disk, network and GPUs, sampled by one background thread.

MLflow's switches and names: ``start_run(log_system_metrics=True)``,
:func:`enable_system_metrics_logging`, ``AUTOLOG_ENABLE_SYSTEM_METRICS_LOGGING=true``,
:func:`set_system_metrics_sampling_interval` / ``AUTOLOG_SYSTEM_METRICS_SAMPLING_INTERVAL``
(10 s by default), and metrics named ``system/cpu_utilization_percentage``,
``system/gpu_0_utilization_percentage``, ... logged at steps 0, 1, 2, ...

Why one thread for the whole process rather than one per run (as MLflow does): the machine is
the same for every run, so one sample serves all monitored runs, and a process with nested
runs still pays for one sampler. The thread starts with the first monitored run and is stopped
and joined when the last one ends, so no thread outlives the runs. Logging a sample is a deque
append per metric (the batching writer stores it), never I/O on the sampler's path.

psutil (``pip install "autolog[system]"``) does the sampling; NVML (``nvidia-ml-py``) adds one
set of metrics per GPU when a driver answers, and is silently absent otherwise.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from autolog.errors import InvalidInputError, missing_dependency

ENV_ENABLE = "AUTOLOG_ENABLE_SYSTEM_METRICS_LOGGING"
ENV_INTERVAL = "AUTOLOG_SYSTEM_METRICS_SAMPLING_INTERVAL"
DEFAULT_INTERVAL = 10.0
_MB = 1024 * 1024

_enabled: bool | None = None  # enable_/disable_system_metrics_logging(); None: the env var
_interval: float | None = None
_autolog_runs: bool | None = None  # autolog(log_system_metrics=...) for runs autologging starts

_lock = threading.Lock()
_monitored: dict[str, tuple[Any, list[int]]] = {}  # run id -> (store, [next step])
_thread: threading.Thread | None = None
_stop = threading.Event()  # one per sampler thread: a new thread never clears an old one's
# CPU seconds the sampler thread spent sampling and logging (read by the benchmark).
sampler_cpu_ns = 0


def enable_system_metrics_logging() -> None:
    """Log system metrics for every run started from now on (as MLflow's function of that name)."""
    global _enabled
    _enabled = True


def disable_system_metrics_logging() -> None:
    """Stop logging system metrics for runs started from now on (unless a run asks for them)."""
    global _enabled
    _enabled = False


def set_system_metrics_sampling_interval(interval: float | None) -> None:
    """Seconds between two samples (default 10); ``None`` returns to the default.

    Raises:
        InvalidInputError: ``interval`` is not a positive number.
    """
    global _interval
    if interval is not None and (not isinstance(interval, (int, float)) or interval <= 0):
        raise InvalidInputError(f"The sampling interval must be a positive number of seconds, not {interval!r}.")
    _interval = None if interval is None else float(interval)


def set_autolog_runs(flag: bool | None) -> None:
    """``autolog(log_system_metrics=flag)``: whether the runs autologging starts are monitored."""
    global _autolog_runs
    _autolog_runs = flag


def sampling_interval() -> float:
    if _interval is not None:
        return _interval
    text = os.environ.get(ENV_INTERVAL)
    try:
        value = float(text) if text else DEFAULT_INTERVAL
    except ValueError:
        value = DEFAULT_INTERVAL
    return value if value > 0 else DEFAULT_INTERVAL


def wanted(flag: bool | None, autologged: bool) -> bool:
    """Whether a new run is monitored: its own flag, else autolog()'s for its runs, else global."""
    if flag is not None:
        return bool(flag)
    if autologged and _autolog_runs is not None:
        return _autolog_runs
    if _enabled is not None:
        return _enabled
    return os.environ.get(ENV_ENABLE, "").strip().lower() in ("1", "true", "yes")


# -- sampling -----------------------------------------------------------------------------------
class _Sampler:
    """Reads the machine's counters; built on the sampler thread (psutil is imported there)."""

    def __init__(self) -> None:
        try:
            import psutil
        except ImportError as exc:
            raise missing_dependency("psutil", "system") from exc
        self.psutil = psutil
        self.process = psutil.Process()
        # cpu_percent() compares with the previous call: prime both so the first sample is real.
        psutil.cpu_percent(interval=None)
        self.process.cpu_percent(interval=None)
        net = psutil.net_io_counters()
        self.net0 = (net.bytes_recv, net.bytes_sent) if net else (0, 0)
        self.gpus = _nvml_handles()

    def sample(self) -> dict[str, float]:
        ps = self.psutil
        memory = ps.virtual_memory()
        values = {
            "system/cpu_utilization_percentage": ps.cpu_percent(interval=None),
            "system/system_memory_usage_megabytes": (memory.total - memory.available) / _MB,
            "system/system_memory_usage_percentage": memory.percent,
            "system/process_memory_rss_megabytes": self.process.memory_info().rss / _MB,
            "system/process_cpu_utilization_percentage": self.process.cpu_percent(interval=None),
        }
        try:
            disk = ps.disk_usage(os.path.abspath(os.sep))
            values["system/disk_usage_percentage"] = disk.percent
            values["system/disk_usage_megabytes"] = disk.used / _MB
            values["system/disk_available_megabytes"] = disk.free / _MB
        except OSError:
            pass
        net = ps.net_io_counters()
        if net is not None:
            # As MLflow: megabytes received and sent since monitoring started.
            values["system/network_receive_megabytes"] = (net.bytes_recv - self.net0[0]) / _MB
            values["system/network_transmit_megabytes"] = (net.bytes_sent - self.net0[1]) / _MB
        if self.gpus:
            values.update(_gpu_sample(self.gpus))
        return values


def _nvml_handles() -> list[Any]:
    """One NVML handle per GPU, or [] when nvidia-ml-py or a driver is missing (no error)."""
    try:
        import pynvml

        pynvml.nvmlInit()
        return [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
    except Exception:  # noqa: BLE001 - no library, no driver or no device: no GPU metrics
        return []


def _gpu_sample(handles: list[Any]) -> dict[str, float]:
    import pynvml

    values: dict[str, float] = {}
    for i, handle in enumerate(handles):
        prefix = f"system/gpu_{i}_"
        try:
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            values[prefix + "memory_usage_megabytes"] = memory.used / _MB
            values[prefix + "memory_usage_percentage"] = 100.0 * memory.used / max(memory.total, 1)
            values[prefix + "utilization_percentage"] = float(
                pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
        except Exception:  # noqa: BLE001 - a GPU that stops answering loses its points only
            continue
        try:
            power = pynvml.nvmlDeviceGetPowerUsage(handle) / 1000.0
            limit = pynvml.nvmlDeviceGetEnforcedPowerLimit(handle) / 1000.0
            values[prefix + "power_usage_watts"] = power
            values[prefix + "power_usage_percentage"] = 100.0 * power / limit if limit else 0.0
        except Exception:  # noqa: BLE001 - some boards do not report power
            pass
    return values


def gpu_names() -> list[str]:
    """Names of the GPUs NVML sees ([] without nvidia-ml-py or a driver)."""
    try:
        import pynvml

        names = []
        for handle in _nvml_handles():
            name = pynvml.nvmlDeviceGetName(handle)
            names.append(name.decode() if isinstance(name, bytes) else str(name))
        return names
    except Exception:  # noqa: BLE001
        return []


# -- the monitor --------------------------------------------------------------------------------
def check_installed() -> None:
    """Raises: ImportError: psutil is missing (``pip install "autolog[system]"``)."""
    try:
        import psutil  # noqa: F401 - fail in the caller's thread, with the extra to install
    except ImportError as exc:
        raise missing_dependency("psutil", "system") from exc


def start(run_id: str, store: Any) -> None:
    """Monitor ``run_id`` until :func:`stop` (called when the run ends).

    Raises:
        ImportError: psutil is missing (``pip install "autolog[system]"``).
    """
    global _thread, _stop
    check_installed()
    from autolog import _runs

    _runs.on_run_end(stop)
    with _lock:
        _monitored[run_id] = (store, [0])
        if _thread is None or not _thread.is_alive():
            _stop = threading.Event()
            _thread = threading.Thread(target=_loop, args=(sampling_interval(), _stop),
                                       name="autolog-system-metrics", daemon=True)
            _thread.start()


def stop(run_id: str) -> None:
    """Stop monitoring ``run_id``; the thread ends (and is joined) with the last monitored run."""
    global _thread
    with _lock:
        if _monitored.pop(run_id, None) is None or _monitored:
            return
        thread, _thread = _thread, None
        _stop.set()
    if thread is not None and thread is not threading.current_thread():
        thread.join(timeout=10)


def monitored() -> list[str]:
    with _lock:
        return list(_monitored)


def _loop(interval: float, stop_event: threading.Event) -> None:
    global sampler_cpu_ns
    cpu0 = time.thread_time_ns()
    try:
        sampler = _Sampler()
    except Exception:  # noqa: BLE001 - start() checked psutil; nothing else may kill training
        return
    sampler_cpu_ns += time.thread_time_ns() - cpu0
    while not stop_event.wait(interval):
        cpu0 = time.thread_time_ns()
        try:
            values = sampler.sample()
        except Exception:  # noqa: BLE001 - a failed sample is a gap, not an error
            values = {}
        timestamp = int(time.time() * 1000)
        with _lock:  # under the lock: a run that stop() removed gets no point after its end
            for run_id, (store, step) in list(_monitored.items()):
                for key, value in values.items():
                    store.log_metric_fast(run_id, key, float(value), timestamp, step[0])
                step[0] += 1
        sampler_cpu_ns += time.thread_time_ns() - cpu0


def _after_fork() -> None:
    # The child has no sampler thread; the parent's runs are not the child's to monitor.
    global _thread, _lock
    _thread = None
    _lock = threading.Lock()
    _monitored.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
