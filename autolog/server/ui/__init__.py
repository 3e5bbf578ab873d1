"""The web UI: experiments, the runs table, run pages, charts and comparison.

Pages are served at ``/`` and below (HTML shells from Jinja templates, autoescaped), their JSON
twins under ``/ui-api/``, and the pages' ES modules and stylesheet under ``/static/``. The
tracking server appends :func:`routes` after its API; ``autolog ui`` serves
:func:`create_ui_app` alone.

::

    /                               experiments          /ui-api/experiments
    /experiments/{id}               runs table           /ui-api/experiments/{id}/runs, .../keys
    /runs/{run_id}                  run page             /ui-api/runs/{run_id}, .../artifacts
    /chart?runs=..&metrics=..       metric charts        /ui-api/series
    /compare?runs=..                comparison           /ui-api/compare

Starlette and Jinja2 are imported here, never by ``import autolog``.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, AsyncIterator

from autolog.errors import missing_dependency

__all__ = ["create_ui_app", "routes"]

HERE = os.path.dirname(os.path.abspath(__file__))


def _require() -> None:
    for module in ("starlette", "jinja2"):
        try:
            __import__(module)
        except ImportError:
            raise missing_dependency(module, "ui") from None


def routes(store: Any) -> list[Any]:
    """The UI's routes over ``store`` (a SQL store, or a wrapper of one).

    Raises:
        ImportError: starlette or jinja2 is missing (``pip install "autolog[ui]"``).
        InvalidInputError: the store is not backed by SQL.
    """
    _require()
    import jinja2
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles
    from starlette.templating import Jinja2Templates

    from autolog.server.ui.views import UI

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(HERE, "templates")),
                             autoescape=True)
    ui = UI(store, Jinja2Templates(env=env))
    j = ui.json
    return [
        Route("/", ui.page("experiments.html", api=lambda r: "/ui-api/experiments")),
        Route("/experiments/{experiment_id}", ui.page(
            "runs.html", ui.experiment_title,
            lambda r: f"/ui-api/experiments/{r.path_params['experiment_id']}/runs")),
        Route("/runs/{run_id}", ui.page(
            "run.html", ui.run_title, lambda r: f"/ui-api/runs/{r.path_params['run_id']}")),
        Route("/chart", ui.page("chart.html", lambda r: "Chart", lambda r: "/ui-api/series")),
        Route("/compare", ui.page("compare.html", lambda r: "Compare runs",
                                  lambda r: "/ui-api/compare")),
        Route("/ui-api/experiments", j(ui.experiments)),
        Route("/ui-api/experiments/create", ui.action(ui.create_experiment), methods=["POST"]),
        Route("/ui-api/experiments/{experiment_id}", j(ui.experiment)),
        Route("/ui-api/experiments/{experiment_id}/update", ui.action(ui.update_experiment),
              methods=["POST"]),
        Route("/ui-api/experiments/{experiment_id}/runs", j(ui.runs)),
        Route("/ui-api/experiments/{experiment_id}/keys", j(ui.keys)),
        Route("/ui-api/runs/{run_id}", j(ui.run)),
        Route("/ui-api/runs/{run_id}/artifacts", j(ui.artifact_list)),
        Route("/ui-api/runs/{run_id}/preview", j(ui.artifact_preview)),
        Route("/ui-api/runs/{run_id}/raw", j(ui.artifact_raw)),
        Route("/ui-api/series", j(ui.series)),
        Route("/ui-api/compare", j(ui.compare)),
        Mount("/static", StaticFiles(directory=os.path.join(HERE, "static")), name="static"),
    ]


def create_ui_app(tracking_uri: str | None = None) -> Any:
    """A Starlette app serving only the UI over the store at ``tracking_uri`` (default: the
    current tracking URI, ``./autolog-runs`` unless configured).

    Raises:
        ImportError: starlette or jinja2 is missing (``pip install "autolog[ui]"``).
        InvalidInputError: the URI is not a SQL-backed store.
        StorageError: the store cannot be opened.
    """
    _require()
    from starlette.applications import Starlette

    from autolog import _tracking
    from autolog.store.sql import SqlStore

    db_url, artifact_root = _tracking.resolve(tracking_uri or _tracking.get_tracking_uri())
    store = SqlStore(db_url, artifact_root)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        yield
        store.close()

    return Starlette(routes=routes(store), lifespan=lifespan)
