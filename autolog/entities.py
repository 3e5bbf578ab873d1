"""Immutable entities returned by the store, with MLflow's field names."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping, NamedTuple

__all__ = [
    "Dataset",
    "Experiment",
    "FileInfo",
    "LifecycleStage",
    "Metric",
    "Param",
    "Run",
    "RunData",
    "RunInfo",
    "RunStatus",
    "RunTag",
    "ViewType",
]


class RunStatus:
    """Run status names, as MLflow spells them."""

    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"
    ALL = (RUNNING, SCHEDULED, FINISHED, FAILED, KILLED)
    TERMINAL = (FINISHED, FAILED, KILLED)


class LifecycleStage:
    ACTIVE = "active"
    DELETED = "deleted"


class ViewType:
    """Which runs or experiments a search returns (MLflow's values)."""

    ACTIVE_ONLY = 1
    DELETED_ONLY = 2
    ALL = 3


def _frozen(d: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(d or {}))


class _Entity:
    """Immutable, slotted value objects. Plain classes rather than dataclasses because
    ``import autolog`` must stay fast and dataclasses pull in ``inspect``."""

    __slots__: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        names = self.__slots__
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__} takes at most {len(names)} arguments")
        values = dict(zip(names, args))
        for key, value in kwargs.items():
            if key not in names or key in values:
                raise TypeError(f"{type(self).__name__} got an unexpected or repeated {key!r}")
            values[key] = value
        defaults = self._defaults()
        for name in names:
            if name not in values:
                if name not in defaults:
                    raise TypeError(f"{type(self).__name__} is missing {name!r}")
                values[name] = defaults[name]
            object.__setattr__(self, name, self._convert(name, values[name]))

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        return {}

    def _convert(self, name: str, value: Any) -> Any:
        return value

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, n) for n in self.__slots__)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, *(
            v if not isinstance(v, MappingProxyType) else tuple(sorted(v.items()))
            for v in self._values())))

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__name__}({fields})"

    def __reduce__(self) -> Any:
        return (type(self), tuple(
            dict(v) if isinstance(v, MappingProxyType) else v for v in self._values()))


class Metric(NamedTuple):
    """One logged metric value. A tuple, so that the writer can hand 100,000 of them to the
    database driver without per-row conversion."""

    key: str
    value: float
    timestamp: int
    step: int = 0


class Param(NamedTuple):
    key: str
    value: str


class RunTag(NamedTuple):
    key: str
    value: str


class FileInfo(_Entity):
    __slots__ = ("path", "is_dir", "file_size")
    path: str
    is_dir: bool
    file_size: int | None


class Dataset(_Entity):
    """A dataset fingerprint recorded on a run with ``log_input``."""

    __slots__ = ("name", "digest", "context", "shape", "columns", "dtypes", "source", "tags")
    name: str
    digest: str
    context: str
    shape: tuple[int, ...] | None
    columns: tuple[str, ...] | None
    dtypes: tuple[str, ...] | None
    source: str | None
    tags: Mapping[str, str]

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        return {"context": "train", "shape": None, "columns": None, "dtypes": None, "source": None,
                "tags": None}

    def _convert(self, name: str, value: Any) -> Any:
        return _frozen(value) if name == "tags" else value


class Experiment(_Entity):
    __slots__ = ("experiment_id", "name", "artifact_location", "lifecycle_stage", "tags",
                 "creation_time", "last_update_time")
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    tags: Mapping[str, str]
    creation_time: int | None
    last_update_time: int | None

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        return {"lifecycle_stage": LifecycleStage.ACTIVE, "tags": None, "creation_time": None,
                "last_update_time": None}

    def _convert(self, name: str, value: Any) -> Any:
        return _frozen(value) if name == "tags" else value


class RunInfo(_Entity):
    __slots__ = ("run_id", "run_name", "experiment_id", "status", "start_time", "end_time",
                 "artifact_uri", "lifecycle_stage", "user_id")
    run_id: str
    run_name: str
    experiment_id: str
    status: str
    start_time: int
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str
    user_id: str

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        return {"lifecycle_stage": LifecycleStage.ACTIVE, "user_id": ""}

    @property
    def run_uuid(self) -> str:
        return self.run_id


class RunData(_Entity):
    """A run's params, metrics (latest values) and tags.

    Each attribute returns a new plain ``dict`` (a copy: the entity stays immutable), so code
    written for MLflow can ``json.dumps(run.data.params)`` or change what it got.
    """

    __slots__ = ("_params", "_metrics", "_tags")
    _params: Mapping[str, str]
    _metrics: Mapping[str, float]
    _tags: Mapping[str, str]

    def __init__(self, params: Mapping[str, str] | None = None,
                 metrics: Mapping[str, float] | None = None,
                 tags: Mapping[str, str] | None = None) -> None:
        object.__setattr__(self, "_params", _frozen(params))
        object.__setattr__(self, "_metrics", _frozen(metrics))
        object.__setattr__(self, "_tags", _frozen(tags))

    @property
    def params(self) -> dict[str, str]:
        return dict(self._params)

    @property
    def metrics(self) -> dict[str, float]:
        return dict(self._metrics)

    @property
    def tags(self) -> dict[str, str]:
        return dict(self._tags)

    def __repr__(self) -> str:
        return f"RunData(params={self.params!r}, metrics={self.metrics!r}, tags={self.tags!r})"


class Run(_Entity):
    __slots__ = ("info", "data", "inputs")
    info: RunInfo
    data: RunData
    inputs: tuple[Dataset, ...]

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        return {"inputs": ()}

    def _convert(self, name: str, value: Any) -> Any:
        return tuple(value) if name == "inputs" else value
