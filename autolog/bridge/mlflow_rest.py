"""Reading an MLflow tracking server over its documented REST API (``/api/2.0/mlflow/...``):
experiments and runs by ``search`` with page tokens, full histories by
``metrics/get-history``, artifacts by ``artifacts/list`` and the server's ``get-artifact``.

Credentials come from MLflow's own variables (``MLFLOW_TRACKING_TOKEN``, or
``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD``). The standard library's urllib is
the client: the bridge needs no HTTP dependency.
"""

from __future__ import annotations

import json
import os
from typing import Any, Iterator
from urllib.parse import urlencode

from autolog.bridge._records import Dataset, Experiment, Run
from autolog.errors import InvalidInputError

PAGE = 1000
TIMEOUT_S = 60


class RestSource:
    """An MLflow tracking server (``http(s)://host:port``)."""

    def __init__(self, url: str) -> None:
        self.base = url.rstrip("/")
        self.description = self.base
        self._experiments: list[Experiment] = []

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None,
                 query: dict[str, Any] | None = None, raw: bool = False) -> Any:
        import urllib.error
        import urllib.request

        url = f"{self.base}{path}" + (f"?{urlencode(query)}" if query else "")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        token = os.environ.get("MLFLOW_TRACKING_TOKEN")
        user, password = (os.environ.get("MLFLOW_TRACKING_USERNAME"),
                          os.environ.get("MLFLOW_TRACKING_PASSWORD"))
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        elif user and password:
            import base64

            pair = base64.b64encode(f"{user}:{password}".encode()).decode()
            request.add_header("Authorization", f"Basic {pair}")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
                payload = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", "replace").strip()
            raise InvalidInputError(
                f"The MLflow server {self.base} answered {exc.code} to {path}: {detail}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise InvalidInputError(f"Cannot reach the MLflow server {self.base}: {exc}") from exc
        if raw:
            return payload
        try:
            return json.loads(payload or b"{}")
        except ValueError as exc:
            raise InvalidInputError(
                f"{self.base} is not an MLflow tracking server (no JSON from {path}).") from exc

    def _pages(self, path: str, body: dict[str, Any], field: str) -> Iterator[dict[str, Any]]:
        token = None
        while True:
            page = self._request("POST", path, {**body, **({"page_token": token} if token else {})})
            yield from page.get(field, [])
            token = page.get("next_page_token")
            if not token:
                return

    def check(self) -> None:
        """Raises: InvalidInputError: the server is unreachable or does not speak MLflow's API."""
        self._experiments = []
        for e in self._pages("/api/2.0/mlflow/experiments/search",
                             {"max_results": PAGE, "view_type": "ALL"}, "experiments"):
            if "experiment_id" not in e or "name" not in e:
                raise InvalidInputError(f"{self.base} is not an MLflow tracking server.")
            self._experiments.append(Experiment(
                e["experiment_id"], e["name"], e.get("artifact_location", ""),
                e.get("lifecycle_stage", "active"), _int(e.get("creation_time")),
                _int(e.get("last_update_time")),
                {t["key"]: t.get("value", "") for t in e.get("tags", [])}))

    def experiments(self) -> list[Experiment]:
        return list(self._experiments)

    def count_runs(self) -> int:
        return sum(1 for _ in self._run_pages())

    def _run_pages(self) -> Iterator[dict[str, Any]]:
        ids = [e.experiment_id for e in self._experiments]
        for start in range(0, len(ids), 100):  # the server caps experiment ids per search
            yield from self._pages("/api/2.0/mlflow/runs/search", {
                "experiment_ids": ids[start:start + 100], "run_view_type": "ALL",
                "max_results": PAGE, "order_by": ["attributes.start_time ASC"]}, "runs")

    def runs(self) -> Iterator[Run]:
        for r in self._run_pages():
            info, data = r.get("info", {}), r.get("data", {})
            run = Run(info.get("run_id") or info["run_uuid"], info["experiment_id"],
                      info.get("run_name", ""), info.get("status", "FINISHED"),
                      _int(info.get("start_time")), _int(info.get("end_time")),
                      info.get("lifecycle_stage", "active"), info.get("user_id", ""),
                      info.get("artifact_uri", ""))
            run.params = {p["key"]: p.get("value", "") for p in data.get("params", [])}
            run.tags = {t["key"]: t.get("value", "") for t in data.get("tags", [])}
            for key in sorted({m["key"] for m in data.get("metrics", [])}):
                run.metrics.extend(self._history(run.run_id, key))
            for d in r.get("inputs", {}).get("dataset_inputs", []):
                ds = d.get("dataset", {})
                tags = {t["key"]: t.get("value", "") for t in d.get("tags", [])}
                run.datasets.append(Dataset(ds.get("name", ""), ds.get("digest", ""),
                                            ds.get("source_type", ""), ds.get("source", ""),
                                            ds.get("schema"), ds.get("profile"),
                                            tags.get("mlflow.data.context")))
            yield run

    def _history(self, run_id: str, key: str) -> list[tuple[str, float, int, int]]:
        out: list[tuple[str, float, int, int]] = []
        token = None
        while True:
            query: dict[str, Any] = {"run_id": run_id, "metric_key": key, "max_results": 25000}
            if token:
                query["page_token"] = token
            page = self._request("GET", "/api/2.0/mlflow/metrics/get-history", query=query)
            out.extend((key, float(m["value"]), int(m.get("timestamp", 0)), int(m.get("step", 0)))
                       for m in page.get("metrics", []))
            token = page.get("next_page_token")
            if not token:
                return out

    def artifact_dir(self, run: Run, scratch: str) -> str | None:
        """Download the run's artifacts into ``scratch`` (the server serves them)."""
        folder = os.path.join(scratch, run.run_id)
        self._download(run.run_id, None, folder)
        return folder  # not created when the run has no artifacts: the caller skips it then

    def _download(self, run_id: str, path: str | None, folder: str) -> int:
        count, token = 0, None
        while True:
            query: dict[str, Any] = {"run_id": run_id}
            if path:
                query["path"] = path
            if token:
                query["page_token"] = token
            listing = self._request("GET", "/api/2.0/mlflow/artifacts/list", query=query)
            for f in listing.get("files", []):
                if f.get("is_dir"):
                    count += self._download(run_id, f["path"], folder)
                    continue
                target = os.path.join(folder, *f["path"].split("/"))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                data = self._request("GET", "/get-artifact",
                                     query={"path": f["path"], "run_uuid": run_id}, raw=True)
                with open(target, "wb") as fh:
                    fh.write(data)
                count += 1
            token = listing.get("next_page_token")
            if not token:
                return count

    def close(self) -> None:
        pass


def _int(value: Any) -> int | None:
    return int(value) if value not in (None, "") else None


__all__ = ["RestSource"]
