"""MLflow's ``mlruns`` folder (its file store), read and written in MLflow's documented layout::

    mlruns/<experiment id>/meta.yaml            name, artifact_location, lifecycle_stage, times
    mlruns/<experiment id>/tags/<key>           one file per tag, the value as its content
    mlruns/<experiment id>/datasets/<id>/meta.yaml
    mlruns/<experiment id>/<run id>/meta.yaml   run_uuid, run_name, status (1-5), times, ...
    mlruns/<experiment id>/<run id>/params/<key>, tags/<key>
    mlruns/<experiment id>/<run id>/metrics/<key>   lines "timestamp value step"
    mlruns/<experiment id>/<run id>/inputs/<id>/meta.yaml
    mlruns/<experiment id>/<run id>/artifacts/
    mlruns/.trash/<experiment id>/              deleted experiments

A key with slashes is a path of folders, as MLflow writes it.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
from typing import Any, Iterator

from autolog.bridge._records import STATUS_NAMES, STATUS_NUMBERS, Dataset, Experiment, Run
from autolog.errors import InvalidInputError

TRASH = ".trash"


def _yaml(path: str) -> dict[str, Any]:
    import yaml

    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"Damaged MLflow file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidInputError(f"Damaged MLflow file {path}: not a mapping.")
    return data


def _files(folder: str) -> dict[str, str]:
    """``{key: content}`` for a params/tags folder (nested folders make keys with slashes)."""
    out: dict[str, str] = {}
    if not os.path.isdir(folder):
        return out
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            path = os.path.join(dirpath, name)
            with open(path, encoding="utf-8") as fh:
                out[os.path.relpath(path, folder).replace(os.sep, "/")] = fh.read()
    return out


class FolderSource:
    """An ``mlruns`` folder to import from."""

    def __init__(self, path: str) -> None:
        self.root = os.path.abspath(path)
        self.description = self.root
        if not os.path.isdir(self.root):
            raise InvalidInputError(f"No mlruns folder at {self.root}.")
        self._experiments: list[tuple[Experiment, str]] = []
        self._runs: list[tuple[str, str, dict[str, Any]]] = []  # (experiment id, folder, meta)

    def check(self) -> None:
        """Read every meta.yaml before anything is written.

        Raises:
            InvalidInputError: the folder holds no MLflow experiment, or a meta.yaml is damaged.
        """
        for parent in (self.root, os.path.join(self.root, TRASH)):
            if not os.path.isdir(parent):
                continue
            for name in sorted(os.listdir(parent)):
                folder = os.path.join(parent, name)
                meta_path = os.path.join(folder, "meta.yaml")
                if name == TRASH or not os.path.isfile(meta_path):
                    continue
                meta = _yaml(meta_path)
                if "name" not in meta or "experiment_id" not in meta:
                    continue
                exp = Experiment(str(meta["experiment_id"]), str(meta["name"]),
                                 meta.get("artifact_location") or "",
                                 "deleted" if parent != self.root else meta.get("lifecycle_stage", "active"),
                                 meta.get("creation_time"), meta.get("last_update_time"),
                                 _files(os.path.join(folder, "tags")))
                self._experiments.append((exp, folder))
                for run_name in sorted(os.listdir(folder)):
                    run_meta = os.path.join(folder, run_name, "meta.yaml")
                    if os.path.isfile(run_meta):
                        meta = _yaml(run_meta)
                        if meta.get("run_uuid") or meta.get("run_id"):
                            self._runs.append((exp.experiment_id, os.path.join(folder, run_name), meta))
        if not self._experiments:
            raise InvalidInputError(
                f"{self.root} is not an MLflow mlruns folder (no experiment meta.yaml in it).")

    def experiments(self) -> list[Experiment]:
        return [e for e, _ in self._experiments]

    def count_runs(self) -> int:
        return len(self._runs)

    def runs(self) -> Iterator[Run]:
        for experiment_id, folder, meta in sorted(
                self._runs, key=lambda r: (r[2].get("start_time") or 0, r[1])):
            status = meta.get("status", 3)
            run = Run(str(meta.get("run_uuid") or meta.get("run_id")), experiment_id,
                      meta.get("run_name") or "",
                      STATUS_NAMES.get(status, str(status)) if isinstance(status, int) else str(status),
                      meta.get("start_time"), meta.get("end_time"),
                      meta.get("lifecycle_stage", "active"), meta.get("user_id") or "",
                      meta.get("artifact_uri") or "")
            run.params = _files(os.path.join(folder, "params"))
            run.tags = _files(os.path.join(folder, "tags"))
            run.metrics = self._metrics(os.path.join(folder, "metrics"))
            run.datasets = self._datasets(folder)
            run.artifact_uri = run.artifact_uri or os.path.join(folder, "artifacts")
            yield run

    @staticmethod
    def _metrics(folder: str) -> list[tuple[str, float, int, int]]:
        out = []
        for key, text in _files(folder).items():
            for line in text.splitlines():
                parts = line.split()
                if len(parts) >= 2:
                    out.append((key, float(parts[1]), int(parts[0]),
                                int(parts[2]) if len(parts) > 2 else 0))
        return out

    @staticmethod
    def _datasets(run_folder: str) -> list[Dataset]:
        inputs = os.path.join(run_folder, "inputs")
        datasets = os.path.join(os.path.dirname(run_folder), "datasets")
        out: list[Dataset] = []
        if not os.path.isdir(inputs):
            return out
        for name in sorted(os.listdir(inputs)):
            meta_path = os.path.join(inputs, name, "meta.yaml")
            if not os.path.isfile(meta_path):
                continue
            meta = _yaml(meta_path)
            if meta.get("source_type") != "DATASET":
                continue
            ds_path = os.path.join(datasets, str(meta.get("source_id")), "meta.yaml")
            if not os.path.isfile(ds_path):
                continue
            ds = _yaml(ds_path)
            out.append(Dataset(str(ds.get("name", "")), str(ds.get("digest", "")),
                               ds.get("source_type") or "", ds.get("source") or "",
                               ds.get("schema"), ds.get("profile"),
                               (meta.get("tags") or {}).get("mlflow.data.context")))
        return out

    def artifact_dir(self, run: Run, scratch: str) -> str | None:
        from autolog.bridge._artifacts import local_folder

        found = local_folder(run.artifact_uri, self.root)
        if found is None or not os.path.isdir(found):
            # A folder moved since: its artifacts are still beside its meta.yaml.
            for experiment_id, folder, _meta in self._runs:
                if os.path.basename(folder) == run.run_id:
                    candidate = os.path.join(folder, "artifacts")
                    return candidate if os.path.isdir(candidate) else None
        return found

    def close(self) -> None:
        pass


class FolderDestination:
    """An ``mlruns`` folder to export into (created when missing)."""

    def __init__(self, path: str) -> None:
        self.root = os.path.abspath(path)
        self.description = self.root
        self._names: dict[str, str] = {}  # experiment name -> id
        self._runs: set[str] = set()

    def check(self) -> None:
        """Raises: InvalidInputError: the folder holds files that are not an mlruns store."""
        if not os.path.exists(self.root):
            return
        if not os.path.isdir(self.root):
            raise InvalidInputError(f"{self.root} is a file, not an mlruns folder.")
        foreign = []
        for parent in (self.root, os.path.join(self.root, TRASH)):
            for name in os.listdir(parent) if os.path.isdir(parent) else []:
                folder = os.path.join(parent, name)
                meta_path = os.path.join(folder, "meta.yaml")
                if name.startswith("."):  # .trash, and hidden files a desktop leaves behind
                    continue
                if not os.path.isfile(meta_path):
                    foreign.append(name)
                    continue
                meta = _yaml(meta_path)
                self._names[str(meta.get("name"))] = name
                self._runs.update(n for n in os.listdir(folder)
                                  if os.path.isfile(os.path.join(folder, n, "meta.yaml")))
        if foreign:
            raise InvalidInputError(
                f"{self.root} is not an mlruns folder (it holds {', '.join(sorted(foreign)[:3])}).")

    def has_experiment(self, name: str) -> bool:
        return name in self._names

    def has_run(self, run_id: str) -> bool:
        return run_id in self._runs

    def experiment(self, exp: Any) -> str:
        """The id of the experiment named like ``exp`` here, created if missing."""
        import yaml

        if exp.name in self._names:
            return self._names[exp.name]
        taken = {int(i) for i in self._names.values() if i.isdigit()}
        new_id = "0" if exp.name == "Default" and 0 not in taken else str(max(taken, default=0) + 1)
        deleted = exp.lifecycle_stage == "deleted"
        folder = os.path.join(self.root, TRASH if deleted else "", new_id)
        os.makedirs(os.path.join(self.root, TRASH), exist_ok=True)
        os.makedirs(folder, exist_ok=True)
        meta = {"artifact_location": f"file://{os.path.join(self.root, new_id)}",
                "creation_time": exp.creation_time, "experiment_id": new_id,
                "last_update_time": exp.last_update_time, "lifecycle_stage": exp.lifecycle_stage,
                "name": exp.name}
        self._write_tree(os.path.join(folder, "tags"), dict(exp.tags))
        with open(os.path.join(folder, "meta.yaml"), "w", encoding="utf-8") as fh:
            yaml.safe_dump(meta, fh, default_flow_style=False)
        self._names[exp.name] = new_id
        return new_id

    @staticmethod
    def _write_tree(folder: str, values: dict[str, str]) -> None:
        os.makedirs(folder, exist_ok=True)
        for key, value in values.items():
            path = os.path.join(folder, *key.split("/"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(value)

    def write_run(self, experiment_id: str, run: Run, artifacts: str | None) -> None:
        """Write one run (into a hidden folder first, renamed when complete)."""
        import yaml

        exp_folder = os.path.join(self.root, experiment_id)
        if not os.path.isdir(exp_folder):
            exp_folder = os.path.join(self.root, TRASH, experiment_id)
        final = os.path.join(exp_folder, run.run_id)
        tmp = os.path.join(exp_folder, f".{run.run_id}.partial")
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        self._write_tree(os.path.join(tmp, "params"), run.params)
        self._write_tree(os.path.join(tmp, "tags"), run.tags)
        lines: dict[str, list[str]] = {}
        for key, value, timestamp, step in run.metrics:
            text = "nan" if math.isnan(value) else repr(float(value))
            lines.setdefault(key, []).append(f"{timestamp} {text} {step}\n")
        self._write_tree(os.path.join(tmp, "metrics"),
                         {k: "".join(v) for k, v in lines.items()})
        for ds in run.datasets:
            self._write_dataset(exp_folder, tmp, run.run_id, ds)
        if artifacts:
            shutil.copytree(artifacts, os.path.join(tmp, "artifacts"), dirs_exist_ok=True)
        else:
            os.makedirs(os.path.join(tmp, "artifacts"), exist_ok=True)
        meta: dict[str, Any] = {
            "artifact_uri": f"file://{os.path.join(final, 'artifacts')}",
            "end_time": run.end_time, "entry_point_name": "",
            "experiment_id": experiment_id, "lifecycle_stage": run.lifecycle_stage,
            "run_id": run.run_id, "run_name": run.name, "run_uuid": run.run_id,
            "source_name": "", "source_type": 4, "source_version": "",
            "start_time": run.start_time, "status": STATUS_NUMBERS.get(run.status, 3),
            "tags": [], "user_id": run.user_id}
        if run.lifecycle_stage == "deleted":
            meta["deleted_time"] = run.end_time or run.start_time
        with open(os.path.join(tmp, "meta.yaml"), "w", encoding="utf-8") as fh:
            yaml.safe_dump(meta, fh, default_flow_style=False)
        os.replace(tmp, final)
        self._runs.add(run.run_id)

    @staticmethod
    def _write_dataset(exp_folder: str, run_folder: str, run_id: str, ds: Dataset) -> None:
        import yaml

        dataset_id = hashlib.md5(f"{ds.name}:{ds.digest}".encode()).hexdigest()  # noqa: S324 - a name
        ds_folder = os.path.join(exp_folder, "datasets", dataset_id)
        os.makedirs(ds_folder, exist_ok=True)
        with open(os.path.join(ds_folder, "meta.yaml"), "w", encoding="utf-8") as fh:
            yaml.safe_dump({"digest": ds.digest, "name": ds.name, "profile": ds.profile,
                            "schema": ds.schema, "source": ds.source,
                            "source_type": ds.source_type}, fh, default_flow_style=False)
        input_id = hashlib.md5(f"{dataset_id}:{run_id}:{ds.context}".encode()).hexdigest()  # noqa: S324
        in_folder = os.path.join(run_folder, "inputs", input_id)
        os.makedirs(in_folder, exist_ok=True)
        with open(os.path.join(in_folder, "meta.yaml"), "w", encoding="utf-8") as fh:
            yaml.safe_dump({"destination_id": run_id, "destination_type": "RUN",
                            "source_id": dataset_id, "source_type": "DATASET",
                            "tags": {"mlflow.data.context": ds.context or "train"}}, fh,
                           default_flow_style=False)
