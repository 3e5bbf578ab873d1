"""Logged models: a folder with ``model.json``, ``input_example.json``, ``requirements.txt`` and
the model in its framework's own format; flavors say how each framework saves and loads."""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
import time
import warnings
from typing import Any

from autolog.entities import _Entity
from autolog.errors import AutologWarning, InvalidInputError, NotFoundError
from autolog.models._flavors import Flavor, flavor_for, get_flavor, register_flavor
from autolog.models._signature import ModelSignature, infer_signature
from autolog.store.artifacts import repository

__all__ = [
    "Flavor",
    "ModelInfo",
    "ModelSignature",
    "flavor_functions",
    "get_model_info",
    "infer_signature",
    "load_model",
    "log_model",
    "register_flavor",
    "save_model",
]

META_FILE = "model.json"
EXAMPLE_FILE = "input_example.json"
REQUIREMENTS_FILE = "requirements.txt"
EXAMPLE_ROWS = 5


class ModelInfo(_Entity):
    """What ``model.json`` says of a logged model."""

    __slots__ = ("model_uri", "flavor", "framework", "framework_version", "python_version",
                 "signature", "run_id", "artifact_path", "creation_time", "metadata")

    model_uri: str
    flavor: str
    framework: str | None
    framework_version: str | None
    python_version: str
    signature: ModelSignature | None
    run_id: str | None
    artifact_path: str | None
    creation_time: int
    metadata: dict[str, Any]


@functools.lru_cache(maxsize=None)
def _dist_version(dist: str) -> str | None:
    from importlib import metadata as _metadata

    try:
        return _metadata.version(dist)
    except _metadata.PackageNotFoundError:
        return None


# The extras pyproject.toml declares (a test keeps this equal to it), for when autolog's own
# distribution metadata cannot be read (run from a source tree).
_EXTRAS = frozenset({"sklearn", "xgboost", "lightgbm", "statsmodels", "torch", "lightning",
                     "keras", "spark"})


def _extra_for(flavor: str) -> str | None:
    """The ``autolog[extra]`` that installs a flavor's framework, or None (the pickle flavor, a
    third-party flavor): then the framework itself is what to install."""
    from importlib import metadata as _metadata

    try:
        extras = set(_metadata.metadata("autolog").get_all("Provides-Extra") or ()) or _EXTRAS
    except _metadata.PackageNotFoundError:
        extras = _EXTRAS
    return flavor if flavor in extras and flavor not in ("all", "dev") else None


def _python_version() -> str:
    import platform

    return platform.python_version()


def _example_json(example: Any) -> Any:
    module = type(example).__module__.split(".")[0]
    if module == "pandas" and hasattr(example, "columns"):
        head = example.head(EXAMPLE_ROWS)
        return {"columns": [str(c) for c in head.columns],
                "data": json.loads(head.to_json(orient="values", date_format="iso"))}
    if module == "torch" and hasattr(example, "detach"):
        example = example[:EXAMPLE_ROWS].detach().cpu().numpy()
    if hasattr(example, "tolist"):
        return example[:EXAMPLE_ROWS].tolist() if getattr(example, "ndim", 0) else example.tolist()
    if isinstance(example, dict):
        return {str(k): _example_json(v) for k, v in example.items()}
    if isinstance(example, (list, tuple)):
        return list(example[:EXAMPLE_ROWS])
    return example


def _predict_sample(model: Any, example: Any) -> Any:
    for method in ("predict", "transform", "forward", "__call__"):
        fn = getattr(model, method, None)
        if callable(fn):
            try:
                return fn(example)
            except Exception:  # noqa: BLE001 - a signature without outputs is still useful
                return None
    return None


def save_model(model: Any, path: str, *, flavor: Flavor | str | None = None,
               signature: ModelSignature | None = None, input_example: Any = None,
               run_id: str | None = None, artifact_path: str | None = None,
               extra: dict[str, Any] | None = None, snapshot: Any = None) -> ModelInfo:
    """Write ``model`` as a model folder at ``path`` (which must not exist or be empty).

    Raises:
        InvalidInputError: ``path`` exists and is not empty.
    """
    from autolog.store._local_files import write_file

    if os.path.isdir(path) and os.listdir(path):
        raise InvalidInputError(f"Cannot save a model into {path!r}: the folder is not empty.")
    chosen = get_flavor(flavor) if isinstance(flavor, str) else (flavor or flavor_for(model))
    if signature is None and input_example is not None:
        # With a snapshot we may be on the writer thread while the user trains the live model
        # further: never call it then, describe the inputs only.
        output = _predict_sample(model, input_example) if snapshot is None else None
        signature = infer_signature(input_example, output)
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):  # one stat where the run's folder exists already
        os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".autolog-model-", dir=parent)
    try:
        flavor_meta = chosen.save(snapshot if snapshot is not None else model, staging) or {}
        framework = chosen.requirements[-1] if chosen.requirements else None
        now = int(time.time() * 1000)
        meta = {
            "flavor": chosen.name,
            "framework": framework,
            "framework_version": _dist_version(framework) if framework else None,
            "python_version": _python_version(),
            "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
            "signature": signature.to_dict() if signature is not None else None,
            "creation_time": now,
            "run_id": run_id,
            "artifact_path": artifact_path,
            "flavor_metadata": flavor_meta,
            **(extra or {}),
        }
        if input_example is not None:
            with open(os.path.join(staging, EXAMPLE_FILE), "w") as fh:
                json.dump(_example_json(input_example), fh, default=str)
            meta["input_example"] = EXAMPLE_FILE
        # One write each, not one per token; the pins, the same for every model of the flavor,
        # hard-linked to an earlier copy.
        write_file(os.path.join(staging, META_FILE),
                   json.dumps(meta, indent=2, default=str).encode("utf-8"), atomic=False)
        pins = [f"{d}=={v}" for d in dict.fromkeys(("numpy", *chosen.requirements))
                if (v := _dist_version(d))]
        write_file(os.path.join(staging, REQUIREMENTS_FILE), ("\n".join(pins) + "\n").encode(),
                   shared=True, atomic=False)
        if os.path.isdir(path):
            os.rmdir(path)
        os.replace(staging, path)  # a reader sees the whole model folder or none
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return _info(path, meta)


def log_model(model: Any, name: str = "model", input_example: Any = None,
              signature: ModelSignature | None = None, *, artifact_path: str | None = None,
              flavor: str | None = None, run_id: str | None = None, **kwargs: Any) -> ModelInfo:
    """Save ``model`` into the active run's artifacts under ``name``.

    ``artifact_path`` is MLflow 2's name for ``name``; extra MLflow keyword arguments
    (``registered_model_name``, ``pip_requirements``, ...) are accepted and ignored.

    Raises:
        InvalidInputError: the artifact folder for ``name`` already holds a model.
    """
    del kwargs
    from autolog import _runs, _tracking

    name = artifact_path or name
    if run_id is None:
        run = _runs.active_run() or _runs.start_run()
        run_id, root = run.info.run_id, run.info.artifact_uri
    else:
        root = _tracking.get_store().get_run(run_id).info.artifact_uri
    with repository(root).folder_to_log(name) as path:
        info = save_model(model, path, flavor=flavor, signature=signature,
                          input_example=input_example, run_id=run_id, artifact_path=name)
    return _with_uri(info, f"runs:/{run_id}/{name}")


def _with_uri(info: ModelInfo, uri: str) -> ModelInfo:
    values = {n: getattr(info, n) for n in ModelInfo.__slots__}
    values["model_uri"] = uri
    return ModelInfo(**values)


def _resolve(model_uri: str) -> str:
    from autolog import _tracking

    if model_uri.startswith("runs:/"):
        run_id, _, rel = model_uri[len("runs:/"):].partition("/")
        root = _tracking.get_store().get_run(run_id).info.artifact_uri
        try:
            path = repository(root).local_copy(rel)
        except NotFoundError:
            path = os.path.join(root, rel)
    elif model_uri.startswith("file://"):
        path = model_uri[len("file://"):]
    else:
        path = model_uri
    if not os.path.isfile(os.path.join(path, META_FILE)):
        raise NotFoundError(f"No logged model at {model_uri!r} (no {META_FILE} in {path}).")
    return path


def _read_meta(path: str) -> dict[str, Any]:
    with open(os.path.join(path, META_FILE)) as fh:
        return json.load(fh)  # type: ignore[no-any-return]


def _info(path: str, meta: dict[str, Any]) -> ModelInfo:
    return ModelInfo(
        model_uri=path, flavor=meta["flavor"], framework=meta.get("framework"),
        framework_version=meta.get("framework_version"), python_version=meta["python_version"],
        signature=ModelSignature.from_dict(meta.get("signature")), run_id=meta.get("run_id"),
        artifact_path=meta.get("artifact_path"), creation_time=meta["creation_time"], metadata=meta,
    )


def get_model_info(model_uri: str) -> ModelInfo:
    """Metadata of a logged model (``runs:/<run_id>/<name>`` or a folder path).

    Raises:
        NotFoundError: no model there.
    """
    path = _resolve(model_uri)
    return _with_uri(_info(path, _read_meta(path)), model_uri)


def load_model(model_uri: str, **kwargs: Any) -> Any:
    """Load a logged model as its framework's native object.

    Warns with :class:`~autolog.errors.AutologWarning` when the framework version installed now
    differs from the one the model was saved with.

    Raises:
        NotFoundError: no model at ``model_uri``.
        ImportError: the model's framework is not installed (the message names the extra).
    """
    path = _resolve(model_uri)
    meta = _read_meta(path)
    flavor = get_flavor(meta["flavor"])
    framework, saved = meta.get("framework"), meta.get("framework_version")
    if framework and saved:
        installed = _dist_version(framework)
        if installed is None:
            from autolog.errors import missing_dependency

            raise missing_dependency(framework, _extra_for(meta["flavor"]))
        if installed != saved:
            warnings.warn(
                f"This model was saved with {framework} {saved} and is loaded with {framework} "
                f"{installed}; predictions may differ.", AutologWarning, stacklevel=2)
    return flavor.load(path, {**meta.get("flavor_metadata", {}), **meta, **kwargs})


def flavor_functions(flavor: str, framework: str, note: str = "") -> tuple[Any, Any]:
    """``log_model`` and ``load_model`` for one flavor, as ``mlflow.<flavor>`` has them.

    Args:
        flavor: the flavor name (``"xgboost"``).
        framework: how docstrings name the framework (``"XGBoost"``).
        note: a sentence added to ``load_model``'s docstring (options the flavor accepts).
    """

    def log_flavor_model(model: Any, name: str = "model", input_example: Any = None,
                         signature: ModelSignature | None = None, **kwargs: Any) -> ModelInfo:
        return log_model(model, name, input_example=input_example, signature=signature,
                         flavor=flavor, **kwargs)

    def load_flavor_model(model_uri: str, **kwargs: Any) -> Any:
        return load_model(model_uri, **kwargs)

    log_flavor_model.__name__ = log_flavor_model.__qualname__ = "log_model"
    load_flavor_model.__name__ = load_flavor_model.__qualname__ = "load_model"
    log_flavor_model.__doc__ = (
        f"Log a {framework} model into the active run (``mlflow.{flavor}.log_model``).\n\n"
        "Raises:\n    InvalidInputError: the run already has a model under ``name``.\n")
    load_flavor_model.__doc__ = (
        f"Load a logged {framework} model as its native object (``mlflow.{flavor}.load_model``)."
        f"{' ' + note if note else ''}\n\n"
        "Raises:\n    NotFoundError: no model at ``model_uri``.\n")
    return log_flavor_model, load_flavor_model
