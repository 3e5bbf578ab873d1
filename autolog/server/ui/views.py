"""The UI's endpoints: HTML page shells (templates) and their JSON twins under ``/ui-api/``.

Each page's state lives in its URL query; the page's ES module reads it, fetches the JSON twin
with the same state, and draws. Errors become JSON ``{"error": ..., "position": ...}`` with a
status (400 bad input, 404 not found, 503 the store failed or a query ran out of time).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from typing import Any, Awaitable, Callable

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from autolog.entities import LifecycleStage
from autolog.errors import (
    AutologError,
    FilterSyntaxError,
    InvalidInputError,
    NotFoundError,
)
from autolog.server.ui import artifacts as A
from autolog.server.ui import queries as Q
from autolog.server.ui import runs_table as RT
from autolog.server.ui.series import series as series_of

MAX_COMPARE = 50
MAX_SERIES = 100
# Raw artifacts may be hostile HTML or SVG: served sandboxed (no script, no same-origin access)
# even when opened directly, never sniffed into another type.
RAW_HEADERS = {
    "Content-Security-Policy": "sandbox; default-src 'none'; img-src data: 'self'; "
                               "style-src 'unsafe-inline'; font-src data:",
    "X-Content-Type-Options": "nosniff",
}

Handler = Callable[[Request], Awaitable[Response]]


def _error(exc: AutologError) -> JSONResponse:
    body: dict[str, Any] = {"error": str(exc)}
    if isinstance(exc, FilterSyntaxError):
        body["position"] = exc.position
    status = 400 if isinstance(exc, InvalidInputError) else 404 if isinstance(exc, NotFoundError) else 503
    return JSONResponse(body, status_code=status)


def _int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidInputError(f"{name} must be an integer, not {raw!r}.") from None


def _list(request: Request, name: str) -> list[str]:
    """Comma-separated or repeated query values (keys with commas: repeat the parameter)."""
    values = request.query_params.getlist(name)
    if len(values) == 1:
        values = values[0].split(",")
    return [v for v in values if v]


class UI:
    """The UI's handlers over one store."""

    def __init__(self, store: Any, templates: Any) -> None:
        self.store = store
        self.engine = Q.engine_of(store)
        self.templates = templates

    def _read(self, fn: Callable[[Any], Any]) -> Any:
        return Q.read(self.engine, fn)

    def json(self, fn: Callable[[Request], Any]) -> Callable[[Request], Response]:
        """A sync JSON endpoint (Starlette runs it in its thread pool: the store is blocking)."""
        def endpoint(request: Request) -> Response:
            try:
                result = fn(request)
            except AutologError as exc:
                return _error(exc)
            if isinstance(result, Response):
                return result
            return JSONResponse(result)
        return endpoint

    def page(self, template: str, title: Callable[[Request], str] | None = None,
             api: Callable[[Request], str] | None = None) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            try:
                heading = title(request) if title else "Experiments"
            except AutologError as exc:
                return self.templates.TemplateResponse(
                    request, "error.html", {"message": str(exc)}, status_code=404)
            twin = api(request) if api else ""
            query = request.url.query
            return self.templates.TemplateResponse(request, template, {
                "title": heading, "params": dict(request.path_params),
                "json_url": twin + ("?" + query if query else ""),
            })
        return endpoint

    # -- page titles (server-rendered, escaped by Jinja) ------------------------------------
    def experiment_title(self, request: Request) -> str:
        return self.store.get_experiment(request.path_params["experiment_id"]).name

    def run_title(self, request: Request) -> str:
        run = self.store.get_run(request.path_params["run_id"])
        return run.info.run_name or run.info.run_id

    # -- experiments ------------------------------------------------------------------------
    def experiments(self, request: Request) -> Any:
        view = request.query_params.get("view", "active")
        if view not in ("active", "deleted", "all"):
            raise InvalidInputError("view must be active, deleted or all.")
        return {"experiments": self._read(lambda c: Q.experiments(c, view)), "view": view}

    async def _body(self, request: Request) -> dict[str, Any]:
        # JSON only: a cross-site form cannot send application/json without a CORS preflight.
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise InvalidInputError("Send application/json.")
        try:
            body = json.loads(await request.body())
        except ValueError:
            raise InvalidInputError("The body is not JSON.") from None
        if not isinstance(body, dict):
            raise InvalidInputError("The body must be a JSON object.")
        return body

    def action(self, fn: Callable[[Request, dict[str, Any]], Any]) -> Handler:
        async def endpoint(request: Request) -> Response:
            from starlette.concurrency import run_in_threadpool

            try:
                body = await self._body(request)
                result = await run_in_threadpool(fn, request, body)
            except AutologError as exc:
                return _error(exc)
            return JSONResponse(result)
        return endpoint

    def create_experiment(self, request: Request, body: dict[str, Any]) -> Any:
        name = str(body.get("name", "")).strip()
        if not name:
            raise InvalidInputError("Give the experiment a name.")
        return {"experiment_id": self.store.create_experiment(name)}

    def update_experiment(self, request: Request, body: dict[str, Any]) -> Any:
        experiment_id = request.path_params["experiment_id"]
        key = Q.parse_experiment_id(experiment_id)
        op = body.get("op")
        if op == "rename":
            name = str(body.get("name", "")).strip()
            Q.read(self.engine, lambda c: Q.rename_experiment(c, key, name), write=True)
        elif op in ("delete", "restore"):
            stage = LifecycleStage.DELETED if op == "delete" else LifecycleStage.ACTIVE
            self.store.set_experiment_lifecycle(experiment_id, stage)
        else:
            raise InvalidInputError("op must be rename, delete or restore.")
        return {"experiment_id": experiment_id, "op": op}

    def experiment(self, request: Request) -> Any:
        e = self.store.get_experiment(request.path_params["experiment_id"])
        return {"experiment_id": e.experiment_id, "name": e.name,
                "lifecycle_stage": e.lifecycle_stage, "tags": dict(e.tags),
                "artifact_location": e.artifact_location}

    # -- runs table -------------------------------------------------------------------------
    def runs(self, request: Request) -> Any:
        """A page of runs; ``count=1``: the number of matching runs; ``ids=``: those runs."""
        experiment_id = Q.parse_experiment_id(request.path_params["experiment_id"])
        qp = request.query_params
        columns = _list(request, "cols")
        if "ids" in qp:
            return self._read(lambda c: RT.runs_by_id(c, _list(request, "ids"), columns))
        where = RT.run_filter(experiment_id, qp.get("filter", ""), qp.get("parent") or None,
                              grouped=qp.get("group", "1") != "0", deleted=qp.get("deleted") == "1")
        if qp.get("count") == "1":
            # The whole table's count reads an index alone; a filter's is bounded.
            if not qp.get("filter", "").strip():
                return {"total": self._read(lambda c: RT.count_runs(c, where)), "more": False}
            return self._read(lambda c: RT.bounded_count(c, where))
        return self._read(lambda c: RT.runs_page(
            c, where, sort=qp.get("sort") or "-attributes:start_time", columns=columns,
            offset=_int(request, "offset", 0), limit=_int(request, "limit", 100),
            page_token=qp.get("page_token") or None))

    def keys(self, request: Request) -> Any:
        experiment_id = Q.parse_experiment_id(request.path_params["experiment_id"])
        qp = request.query_params
        kinds = [qp["kind"]] if qp.get("kind") else ["params", "metrics", "tags"]
        limit = _int(request, "limit", 200)
        q = qp.get("q", "")
        return {kind: self._read(functools.partial(
            Q.column_keys, experiment_id=experiment_id, kind=kind, q=q, limit=limit))
            for kind in kinds}

    # -- one run ----------------------------------------------------------------------------
    def run(self, request: Request) -> Any:
        run = self.store.get_run(request.path_params["run_id"])
        info, data = run.info, run.data
        parent_id = data.tags.get("autolog.parentRunId") or data.tags.get("mlflow.parentRunId")
        parent, children = self._read(lambda c: (Q.run_brief(c, parent_id),
                                                 Q.run_children(c, info.run_id)))
        experiment = self.store.get_experiment(info.experiment_id)
        metrics = self._read(lambda c: Q.latest_metrics(c, info.run_id))
        return {
            "run_id": info.run_id, "run_name": info.run_name, "status": info.status,
            "experiment_id": info.experiment_id, "experiment_name": experiment.name,
            "start_time": info.start_time, "end_time": info.end_time,
            "user_id": info.user_id, "lifecycle_stage": info.lifecycle_stage,
            "artifact_uri": info.artifact_uri,
            "description": data.tags.get("autolog.note.content") or data.tags.get(
                "mlflow.note.content", ""),
            "params": dict(sorted(data.params.items())), "tags": dict(sorted(data.tags.items())),
            "metrics": metrics, "parent": parent, "children": children,
            "inputs": [{"name": d.name, "digest": d.digest, "context": d.context,
                        "shape": list(d.shape) if d.shape else None, "source": d.source}
                       for d in run.inputs],
        }

    def _repo(self, request: Request) -> Any:
        run = self.store.get_run(request.path_params["run_id"])
        return A.repo_of(run.info.artifact_uri)

    def artifact_list(self, request: Request) -> Any:
        path = request.query_params.get("path", "")
        return {"path": path, "files": A.listing(self._repo(request), path)}

    def artifact_preview(self, request: Request) -> Any:
        return A.preview(self._repo(request), request.query_params.get("path", ""))

    def artifact_raw(self, request: Request) -> Response:
        repo = self._repo(request)
        rel = A.clean_path(request.query_params.get("path", ""))
        download = request.query_params.get("download") == "1"
        name = rel.rsplit("/", 1)[-1] or "artifacts"
        headers = dict(RAW_HEADERS)
        try:
            data = repo.read_bytes(rel) if rel else None
        except NotFoundError:
            data = None
        if data is None:  # a folder (or the root): a zip of it
            if not rel and not repo.list(None) or rel and not repo.list(rel):
                raise NotFoundError(f"No artifact {rel!r}.")
            tmp = tempfile.mkdtemp(prefix="autolog-ui-")
            local = repo.download(rel or None, os.path.join(tmp, "files"))
            archive = shutil.make_archive(os.path.join(tmp, name), "zip", local)
            return FileResponse(archive, filename=f"{name}.zip", media_type="application/zip",
                                headers=headers,
                                background=BackgroundTask(shutil.rmtree, tmp, True))
        if download:
            headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{_quote(name)}"
        return Response(data, media_type=A.content_type(rel), headers=headers)

    # -- charts and comparison --------------------------------------------------------------
    def series(self, request: Request) -> Any:
        run_ids, keys = _list(request, "runs"), _list(request, "metrics")
        if len(run_ids) * len(keys) > MAX_SERIES:
            raise InvalidInputError(f"At most {MAX_SERIES} series (runs x metrics) per chart.")
        points = _int(request, "points", 1000)
        names = self._read(lambda c: {r: Q.run_brief(c, r) for r in run_ids})
        missing = [r for r, brief in names.items() if brief is None]
        if missing:
            raise NotFoundError(f"No run with id {missing[0]!r}.")
        out = []
        scope = str(self.engine.url)
        for run_id in run_ids:
            for key in keys:
                s = self._read(functools.partial(series_of, run_id=run_id, key=key,
                                                 max_points=points, scope=scope))
                s["run_name"] = names[run_id]["run_name"]
                out.append(s)
        starts = self._read(lambda c: Q.start_times(c, run_ids))
        return {"series": out, "start_times": starts}

    def compare(self, request: Request) -> Any:
        run_ids = _list(request, "runs")
        if not 1 <= len(run_ids) <= MAX_COMPARE:
            raise InvalidInputError(f"Compare 2 to {MAX_COMPARE} runs.")
        runs = [self.store.get_run(r) for r in run_ids]
        params = sorted({k for r in runs for k in r.data.params})
        metrics = sorted({k for r in runs for k in r.data.metrics})
        rows = []
        for r in runs:
            rows.append({
                "run_id": r.info.run_id, "run_name": r.info.run_name, "status": r.info.status,
                "experiment_id": r.info.experiment_id, "start_time": r.info.start_time,
                "end_time": r.info.end_time,
                "params": dict(r.data.params),
                "metrics": {k: (None if v != v else v) for k, v in r.data.metrics.items()},
            })
        differs = [k for k in params if len({r.data.params.get(k) for r in runs}) > 1]
        experiment = self.store.get_experiment(runs[0].info.experiment_id)
        return {"runs": rows, "params": params, "metrics": metrics, "differs": differs,
                "experiment_id": experiment.experiment_id, "experiment_name": experiment.name}


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")
