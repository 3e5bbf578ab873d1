"""The ``autolog`` command line: look at experiments and runs without writing any Python.

::

    autolog [--tracking-uri URI] experiments list [--all]
    autolog [--tracking-uri URI] runs list [--experiment NAME]... [--filter EXPR]
                                          [--order-by CLAUSE]... [--max-results N]
                                          [--metric KEY]... [--param KEY]...
    autolog [--tracking-uri URI] runs show RUN_ID
    autolog [--tracking-uri URI] artifacts list RUN_ID [PATH]
    autolog [--tracking-uri URI] artifacts download RUN_ID [PATH] [--dst DIR]
    autolog ui [--tracking-uri URI] [--host 127.0.0.1] [--port 5000]
    autolog [--tracking-uri URI] import-mlflow SOURCE
    autolog [--tracking-uri URI] export-mlflow DEST

The tracking location is ``--tracking-uri``, else ``$AUTOLOG_TRACKING_URI``, else
``./autolog-runs``. Every error is one line on stderr, never a traceback: exit status 2 for bad
input (a usage error, a filter or order-by that does not parse, an unsupported URI), 1 for
anything not found and for storage failures. Under ``AUTOLOG_STRICT=1`` an unexpected exception
(a bug of ours) keeps its traceback.

This module imports click, so ``autolog/__init__.py`` must never import it: ``import autolog``
stays fast.
"""

from __future__ import annotations

import errno
import os
import re
from collections import Counter
from datetime import datetime
from typing import Any, Iterator, Sequence

import click

from autolog import _tracking
from autolog.client import Client
from autolog.entities import Experiment, FileInfo, LifecycleStage, Run, ViewType
from autolog.errors import (
    AutologError,
    FilterSyntaxError,
    InvalidInputError,
    NotFoundError,
    PlotError,
)

__all__ = ["cli", "main"]

AUTO_COLUMNS = 3  # metric and param columns picked for `runs list` when none are named
MAX_CELL = 40  # longer cells are cut so one long tag cannot blow up a table
MAX_ARTIFACTS = 200  # entries listed by `runs show` before "... and N more"
_HEX_PREFIX = re.compile(r"[0-9a-f]{1,31}")
_SYSTEM_TAG_PREFIXES = ("autolog.", "mlflow.")


class CliError(click.ClickException):
    """A one-line error for the user (``Error: ...`` on stderr); exit status 1."""

    exit_code = 1


class BadInputError(CliError):
    """A one-line error about what the user typed; exit status 2, as click's usage errors."""

    exit_code = 2


class _Group(click.Group):
    """Turns autolog's errors into one-line messages, whichever subcommand raised them."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except NotFoundError as exc:
            raise CliError(_first_line(exc)) from None
        except InvalidInputError as exc:  # FilterSyntaxError included: it is bad input
            raise BadInputError(_first_line(exc)) from None
        except AutologError as exc:  # storage failures: say which store
            raise CliError(f"{_first_line(exc)} (tracking URI: {_tracking.redact(_uri(ctx))})") from None
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise  # click quiets a closed pipe (`autolog runs list | head`) itself
            raise CliError(f"{type(exc).__name__}: {_first_line(exc)}") from None
        except Exception as exc:
            if os.environ.get("AUTOLOG_STRICT") == "1":
                raise
            raise CliError(f"unexpected {type(exc).__name__}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    # Database errors carry SQL and a "Background on this error" link on further lines.
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _uri(ctx: click.Context) -> str:
    obj = ctx.obj or {}
    return obj.get("tracking_uri") or _tracking.get_tracking_uri()


# -- helpers ----------------------------------------------------------------------------------
def _client(ctx: click.Context) -> Client:
    """A client on the chosen tracking location, refusing to create a store that is not there."""
    uri = _uri(ctx)
    db_url, _ = _tracking.resolve(uri)  # InvalidInputError (exit 2) for an unsupported scheme
    path = db_url[len("sqlite:///"):]
    # Reading must not leave an empty store behind: a mistyped path should say so instead.
    if db_url.startswith("sqlite:///") and not os.path.isfile(path):
        raise CliError(
            f"No autolog store at {uri} (no {os.path.basename(path)} there); pass "
            "--tracking-uri or set AUTOLOG_TRACKING_URI.")
    return Client(tracking_uri=uri)


def _time(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def _duration(start: int | None, end: int | None) -> str:
    if start is None or end is None:
        return "-"
    seconds = max(end - start, 0) / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s"


def _size(n: int | None) -> str:
    if n is None:
        return ""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _number(value: float, digits: int = 6) -> str:
    return f"{value:.{digits}g}"


def _cut(text: str, width: int = MAX_CELL) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 3] + "..."


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]],
           right: Sequence[bool] | None = None) -> str:
    """Columns aligned with two spaces between them; ``right`` marks right-aligned columns."""
    right = right or [False] * len(headers)
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)]
        return "  ".join(parts).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    return "\n".join(out)


def _pairs(items: dict[str, str], indent: str = "  ") -> list[str]:
    if not items:
        return [f"{indent}(none)"]
    width = max(len(k) for k in items)
    return [f"{indent}{k.ljust(width)}  {v}".rstrip() for k, v in sorted(items.items())]


def _check_filter(expr: str) -> None:
    from autolog import search

    try:
        search.parse_filter(expr)
    except FilterSyntaxError as exc:
        raise BadInputError(f"Invalid --filter {expr!r}: {exc}") from None


def _check_order_by(clauses: Sequence[str]) -> list[tuple[str, str]]:
    """Parse each clause; return its (kind, key) so ordered-by metrics become columns."""
    from autolog import search

    parsed = []
    for clause in clauses:
        try:
            order = search.parse_order_by(clause)
        except FilterSyntaxError as exc:
            raise BadInputError(f"Invalid --order-by {clause!r}: {exc}") from None
        parsed.append((order.kind, order.key))
    return parsed


def _find_experiment(client: Client, name: str) -> Experiment:
    experiment = client.get_experiment_by_name(name)
    if experiment is None and name.isdigit():
        try:
            experiment = client.get_experiment(name)  # an id works too, as in the UI's URLs
        except NotFoundError:
            experiment = None
    if experiment is None:
        known = ", ".join(repr(e.name) for e in client.search_experiments()) or "none"
        raise CliError(f"No experiment named {name!r} (experiments: {known}).")
    return experiment


def _pick_keys(runs: Sequence[Run], field: str, chosen: Sequence[str],
               first: Sequence[str]) -> list[str]:
    """The keys named with -m/-p, else those ordered by, then the commonest, up to AUTO_COLUMNS."""
    if chosen:
        return list(dict.fromkeys(chosen))
    counts: Counter[str] = Counter()
    for run in runs:
        counts.update(getattr(run.data, field).keys())
    keys = [k for k in dict.fromkeys(first) if k in counts]
    for key, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if len(keys) >= AUTO_COLUMNS:
            break
        if key not in keys:
            keys.append(key)
    return keys


def _resolve_run(client: Client, run_id: str) -> Run:
    """The run with that id, or the only run whose id starts with it (as git takes a prefix)."""
    try:
        return client.get_run(run_id)
    except NotFoundError:
        pass
    prefix = run_id.lower()
    if _HEX_PREFIX.fullmatch(prefix):
        ids = [e.experiment_id for e in client.search_experiments(ViewType.ALL)]
        matches = client.search_runs(ids, f"attributes.run_id LIKE '{prefix}%'",
                                     ViewType.ALL, max_results=2) if ids else []
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise CliError(f"Run id prefix {run_id!r} is ambiguous: give more characters.")
    raise CliError(f"No run with id {run_id!r}.")


def _cost(tags: Any) -> str | None:
    """What autolog cost the run (``autolog.overhead_ms``/``autolog.writer_ms`` tags)."""
    parts = []
    for key, where in (("autolog.overhead_ms", "on the training thread"),
                       ("autolog.writer_ms", "on the writer thread")):
        if key in tags:
            parts.append(f"{tags[key]} ms {where}")
    return ", ".join(parts) or None


def _walk_artifacts(client: Client, run_id: str, path: str | None = None,
                    depth: int = 0) -> Iterator[tuple[int, FileInfo]]:
    for info in client.list_artifacts(run_id, path):
        yield depth, info
        if info.is_dir:
            yield from _walk_artifacts(client, run_id, info.path, depth + 1)


# -- commands ---------------------------------------------------------------------------------
@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--tracking-uri", metavar="URI", default=None,
              help="Where runs are stored: a folder or sqlite:///path.db "
                   "[default: $AUTOLOG_TRACKING_URI, else ./autolog-runs].")
@click.version_option(package_name="autolog", prog_name="autolog")
@click.pass_context
def cli(ctx: click.Context, tracking_uri: str | None) -> None:
    """Look at the experiments and runs that autolog recorded."""
    ctx.obj = {"tracking_uri": tracking_uri}


@cli.group()
def experiments() -> None:
    """Experiments: named groups of runs."""


@experiments.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include deleted experiments.")
@click.pass_context
def experiments_list(ctx: click.Context, show_all: bool) -> None:
    """List experiments, newest first."""
    client = _client(ctx)
    found = client.search_experiments(ViewType.ALL if show_all else ViewType.ACTIVE_ONLY)
    if not found:
        click.echo("No experiments.")
        return
    headers = ["ID", "Name", "Created", "Artifact location"]
    rows = [[e.experiment_id, _cut(e.name), _time(e.creation_time), e.artifact_location]
            for e in found]
    if show_all:
        headers.insert(2, "Stage")
        for row, e in zip(rows, found):
            row.insert(2, e.lifecycle_stage)
    click.echo(_table(headers, rows))


@cli.group()
def runs() -> None:
    """Runs: one execution of training code each."""


@runs.command("list")
@click.option("--experiment", "-e", "experiment_names", multiple=True, metavar="NAME",
              help="Only this experiment (a name or an id); repeat for several [default: all].")
@click.option("--filter", "-f", "filter_string", default="", metavar="EXPR",
              help="A search filter, e.g. \"metrics.accuracy > 0.9 AND params.max_depth = '5'\".")
@click.option("--order-by", "-o", "order_by", multiple=True, metavar="CLAUSE",
              help="E.g. \"metrics.accuracy DESC\"; repeat for ties [default: newest first].")
@click.option("--max-results", "-n", default=100, show_default=True, metavar="N",
              type=click.IntRange(min=1), help="Show at most this many runs.")
@click.option("--metric", "-m", "metric_keys", multiple=True, metavar="KEY",
              help="Metric column to show (latest value); repeat for several "
                   f"[default: the {AUTO_COLUMNS} commonest].")
@click.option("--param", "-p", "param_keys", multiple=True, metavar="KEY",
              help="Param column to show; repeat for several "
                   f"[default: the {AUTO_COLUMNS} commonest].")
@click.pass_context
def runs_list(ctx: click.Context, experiment_names: tuple[str, ...], filter_string: str,
              order_by: tuple[str, ...], max_results: int, metric_keys: tuple[str, ...],
              param_keys: tuple[str, ...]) -> None:
    """List runs as a table: id, name, status, start time, latest metrics and params."""
    _check_filter(filter_string)
    ordered = _check_order_by(order_by)
    client = _client(ctx)
    if experiment_names:
        chosen = [_find_experiment(client, name) for name in experiment_names]
    else:
        chosen = client.search_experiments()
    names = {e.experiment_id: e.name for e in chosen}
    # One more than asked for, to tell the user when the list was cut.
    page = client.search_runs(list(names), filter_string, ViewType.ACTIVE_ONLY,
                              max_results=max_results, order_by=list(order_by))
    more = page.token is not None  # the store says whether another page exists
    found = list(page)
    if not found:
        click.echo("No runs match the filter." if filter_string else "No runs.")
        return
    metrics = _pick_keys(found, "metrics", metric_keys,
                         [k for kind, k in ordered if kind == "metrics"])
    params = _pick_keys(found, "params", param_keys,
                        [k for kind, k in ordered if kind == "params"])
    show_experiment = len({r.info.experiment_id for r in found}) > 1
    headers = ["Run ID", "Name", *(["Experiment"] if show_experiment else []), "Status",
               "Start time", *(f"metrics.{k}" for k in metrics), *(f"params.{k}" for k in params)]
    right = [False] * (len(headers) - len(metrics) - len(params)) + [True] * len(metrics) \
        + [False] * len(params)
    rows = []
    for run in found:
        info, data = run.info, run.data
        row = [info.run_id, _cut(info.run_name or "")]
        if show_experiment:
            row.append(_cut(names.get(info.experiment_id, info.experiment_id)))
        row += [info.status, _time(info.start_time)]
        row += [_number(data.metrics[k]) if k in data.metrics else "-" for k in metrics]
        row += [_cut(data.params[k]) if k in data.params else "-" for k in params]
        rows.append(row)
    click.echo(_table(headers, rows, right))
    if more:
        click.echo(f"(showing the first {max_results} runs; raise --max-results to see more)",
                   err=True)


@runs.command("show")
@click.argument("run_id")
@click.pass_context
def runs_show(ctx: click.Context, run_id: str) -> None:
    """Show one run: its info, params, latest metrics, tags, inputs and artifacts.

    RUN_ID may be shortened to any unique prefix.
    """
    client = _client(ctx)
    run = _resolve_run(client, run_id)
    info, data = run.info, run.data
    try:
        experiment = client.get_experiment(info.experiment_id).name
    except NotFoundError:
        experiment = "?"
    fields = {
        "Name": info.run_name or "",
        "Experiment": f"{experiment} (id {info.experiment_id})",
        "Status": info.status,
        "Start time": _time(info.start_time),
        "End time": _time(info.end_time),
        "Duration": _duration(info.start_time, info.end_time),
        "User": info.user_id or "-",
        "Artifact URI": info.artifact_uri,
    }
    parent = data.tags.get("autolog.parentRunId")
    if parent:
        fields["Parent run"] = parent
    if info.lifecycle_stage != LifecycleStage.ACTIVE:
        fields["Lifecycle"] = info.lifecycle_stage
    cost = _cost(data.tags)
    if cost:
        fields["Autolog cost"] = cost
    note = data.tags.get("autolog.note.content")
    if note:
        fields["Description"] = _cut(note, 200)
    width = max(len(k) for k in fields) + 1
    lines = [f"Run {info.run_id}"]
    lines += [f"  {(k + ':').ljust(width)}  {v}" for k, v in fields.items()]

    user_tags = {k: v for k, v in data.tags.items() if not k.startswith(_SYSTEM_TAG_PREFIXES)}
    system_tags = {k: v for k, v in data.tags.items() if k.startswith(_SYSTEM_TAG_PREFIXES)}
    lines += ["", f"Params ({len(data.params)}):", *_pairs(dict(data.params))]
    lines += ["", f"Metrics ({len(data.metrics)}, latest values):",
              *_pairs({k: _number(v, 10) for k, v in data.metrics.items()})]
    lines += ["", f"Tags ({len(user_tags)}):", *_pairs(user_tags)]
    lines += ["", f"System tags ({len(system_tags)}):", *_pairs(system_tags)]
    if run.inputs:
        lines += ["", f"Inputs ({len(run.inputs)}):"]
        lines += [f"  {d.name}  context={d.context}  digest={d.digest}"
                  + (f"  shape={tuple(d.shape)}" if d.shape else "") for d in run.inputs]

    entries = []
    files = total = count = 0
    for depth, item in _walk_artifacts(client, info.run_id):
        count += 1
        if not item.is_dir:
            files += 1
            total += item.file_size or 0
        if count <= MAX_ARTIFACTS:
            name = os.path.basename(item.path) + ("/" if item.is_dir else "")
            entries.append((depth, name, "" if item.is_dir else _size(item.file_size)))
    lines += ["", f"Artifacts ({files} files, {_size(total)}):"]
    if not entries:
        lines.append("  (none)")
    else:
        width = max(2 * d + len(n) for d, n, _ in entries)
        lines += [f"  {('  ' * d + n).ljust(width)}  {s}".rstrip() for d, n, s in entries]
        if count > MAX_ARTIFACTS:
            lines.append(f"  ... and {count - MAX_ARTIFACTS} more")
    click.echo("\n".join(lines))


@cli.group()
def artifacts() -> None:
    """List and download a run's artifacts (pictures are drawn on first download)."""


@artifacts.command("list")
@click.argument("run_id")
@click.argument("path", required=False, default=None)
@click.pass_context
def artifacts_list(ctx: click.Context, run_id: str, path: str | None) -> None:
    """List the files and folders directly under PATH (the run's root by default).

    RUN_ID may be shortened to any unique prefix. A picture not drawn yet shows no size.
    """
    client = _client(ctx)
    run = _resolve_run(client, run_id)
    entries = client.list_artifacts(run.info.run_id, path)
    if not entries:
        click.echo("(no artifacts)")
        return
    rows = [[e.path + ("/" if e.is_dir else ""), "dir" if e.is_dir else "file",
             "" if e.is_dir else _size(e.file_size)] for e in entries]
    click.echo(_table(["Path", "Type", "Size"], rows))


@artifacts.command("download")
@click.argument("run_id")
@click.argument("path", required=False, default=None)
@click.option("--dst", "dst", metavar="DIR", default=".", show_default=True,
              help="Folder to download into.")
@click.pass_context
def artifacts_download(ctx: click.Context, run_id: str, path: str | None, dst: str) -> None:
    """Download a file or folder (all artifacts by default) and print where it went.

    RUN_ID may be shortened to any unique prefix. Pictures recorded as plot specs are drawn.
    """
    client = _client(ctx)
    run = _resolve_run(client, run_id)
    try:
        local = client.download_artifacts(run.info.run_id, path or "", os.path.abspath(dst))
    except (ImportError, PlotError) as exc:  # a picture that cannot be drawn here: say why
        raise CliError(_first_line(exc)) from None
    click.echo(local)


def _add_server_commands() -> None:
    from autolog.server.cli import server  # only click; the server's own deps load when it runs

    cli.add_command(server)


_add_server_commands()


@cli.command("ui")
@click.option("--tracking-uri", "ui_tracking_uri", metavar="URI", default=None,
              help="The store to show [default: the group's --tracking-uri, $AUTOLOG_TRACKING_URI, "
                   "else ./autolog-runs].")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
@click.pass_context
def ui(ctx: click.Context, ui_tracking_uri: str | None, host: str, port: int) -> None:
    """Serve the web UI (experiments, runs, charts, comparison) over a store."""
    try:
        import uvicorn

        from autolog.server.ui import create_ui_app
    except ImportError as exc:
        raise CliError(f"{exc}; the UI needs: pip install \"autolog[ui]\"") from None
    uri = ui_tracking_uri or ctx.obj.get("tracking_uri") or _tracking.get_tracking_uri()
    app = create_ui_app(uri)
    click.echo(f"autolog UI for {uri} at http://{host}:{port}/ (Ctrl+C to stop)")
    uvicorn.run(app, host=host, port=port, log_level="warning")


@cli.command("import-mlflow")
@click.argument("source")
@click.pass_context
def import_mlflow_command(ctx: click.Context, source: str) -> None:
    """Copy experiments and runs from an MLflow store into this one (again: nothing twice).

    SOURCE is sqlite:///mlflow.db, postgresql://..., an mlruns folder or http(s)://server.
    """
    from autolog.bridge._cli import import_command

    _tracking.resolve(_uri(ctx))  # an unsupported URI fails before the source is read
    import_command(source, _uri(ctx))


@cli.command("export-mlflow")
@click.argument("dest")
@click.pass_context
def export_mlflow_command(ctx: click.Context, dest: str) -> None:
    """Write this store's experiments and runs into an MLflow mlruns folder DEST."""
    from autolog.bridge._cli import export_command

    export_command(dest, _client(ctx).tracking_uri)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``autolog`` console script.

    Raises:
        SystemExit: always, with the command's exit status.
    """
    cli.main(args=list(argv) if argv is not None else None, prog_name="autolog")


if __name__ == "__main__":  # pragma: no cover - ``python -m autolog.cli``
    main()
