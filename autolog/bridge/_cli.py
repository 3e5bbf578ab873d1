"""The bodies of ``autolog import-mlflow`` and ``autolog export-mlflow`` (click wiring in
:mod:`autolog.cli`): a progress bar on stderr while runs are copied, then a one-line summary."""

from __future__ import annotations

import sys
from typing import Any, Callable

import click


def _with_progress(copy: Callable[..., Any], target: str, tracking_uri: str, label: str) -> Any:
    bars: list[Any] = []

    def on_total(total: int) -> None:
        bar = click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True)
        bar.__enter__()
        bars.append(bar)

    def progress(_run: Any) -> None:
        if bars:
            bars[0].update(1)

    try:
        return copy(target, tracking_uri=tracking_uri, progress=progress, on_total=on_total)
    finally:
        if bars:
            bars[0].__exit__(None, None, None)


def import_command(source: str, tracking_uri: str) -> None:
    from autolog.bridge import import_mlflow

    summary = _with_progress(import_mlflow, source, tracking_uri, "Importing runs")
    click.echo(f"Imported from {source} into {tracking_uri}: {summary}.")


def export_command(dest: str, tracking_uri: str) -> None:
    from autolog.bridge import export_mlflow

    summary = _with_progress(export_mlflow, dest, tracking_uri, "Exporting runs")
    click.echo(f"Exported from {tracking_uri} into {dest}: {summary}.")
