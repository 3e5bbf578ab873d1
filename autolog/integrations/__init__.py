"""The ``autolog()`` switch and the machinery every integration shares.

``autolog()`` imports no framework: it registers post-import hooks (wrapt's importer), so an
integration's patches are applied when its framework is imported, or at once if it already is;
import order never matters. Each integration module ``autolog.integrations.<name>`` has:

* ``autolog(**flags)``, which calls :func:`configure` with its settings;
* ``apply(framework_module)``, which installs its patches with :mod:`._patch` (once per process).
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING, Any, Iterable

from autolog.integrations import _config

if TYPE_CHECKING:
    from autolog.integrations._registry import Integration

__all__ = ["autolog", "configure"]

_applied: set[str] = set()
_pending: set[str] = set()  # hooks registered with wrapt, not fired yet
_lock = threading.RLock()


def configure(name: str, settings: dict[str, Any], explicit: bool = True) -> None:
    """Store an integration's settings (replacing earlier ones) and arm its patches.

    Called by each ``autolog.<name>.autolog(...)`` with all of its arguments.
    """
    from autolog.integrations._registry import get, version_supported

    settings = {k: v for k, v in settings.items() if not k.startswith("_")}
    integration = get(name)
    supported, installed = version_supported(integration)
    if installed is not None and not supported and not settings.get("disable"):
        if settings.get("disable_for_unsupported_versions"):
            settings["disable"] = True
        from autolog import _log

        _log.warn(
            f"autolog: {integration.distribution} {installed} is outside the versions the "
            f"{name} integration is tested with ({integration.tested}); it may log less."
            + (" It is disabled (disable_for_unsupported_versions=True)."
               if settings.get("disable") else ""),
            silent=bool(settings.get("silent")), stacklevel=3)
    _config.set_config(name, settings, explicit)
    if settings.get("disable"):
        from autolog.integrations._patch import revert

        with _lock:
            revert(name)
            _applied.difference_update({k for k in _applied if k.startswith(f"{name}:")})
        return
    _arm(integration)


def _arm(integration: "Integration") -> None:
    import sys

    import wrapt

    with _lock:
        for module_name in integration.watch:
            key = f"{integration.name}:{module_name}"
            module = sys.modules.get(module_name)
            if module is not None:
                _apply_safely(integration, module)
            elif key not in _pending:
                # wrapt fires (and forgets) a hook once, at the module's next import.
                _pending.add(key)
                wrapt.register_post_import_hook(
                    functools.partial(_fire_hook, integration, key), module_name)


def _fire_hook(integration: "Integration", key: str, module: Any) -> None:
    _pending.discard(key)
    _apply_safely(integration, module)


def _apply_safely(integration: "Integration", module: Any) -> None:
    # Runs inside the user's `import`: it must never raise, whatever happens.
    try:
        # Keyed by the module object too: a module imported anew (reloaded, or removed from
        # sys.modules and imported again) has unpatched classes.
        key = f"{integration.name}:{module.__name__}:{id(module)}"
        with _lock:
            if key in _applied or not _config.is_enabled(integration.name):
                return
            integration.load().apply(module)
            _applied.add(key)
    except Exception as exc:  # noqa: BLE001
        message = f"autolog: could not enable the {integration.name} integration: {exc!r}"
        from autolog import _log  # here: importing logging costs several ms of `import autolog`

        _log.warn(message)


def _accepted(fn: Any) -> dict[str, Any]:
    import inspect

    return {p.name: p.default for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and not p.name.startswith("_")}


def autolog(
    *,
    disable: bool = False,
    exclusive: bool = False,
    silent: bool = False,
    log_models: bool = True,
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_datasets: bool = True,
    log_post_training_metrics: bool = True,
    max_tuning_runs: int | None = 5,
    extra_tags: dict[str, str] | None = None,
    include: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    disable_for_unsupported_versions: bool = False,
    plots: str | bool = "lazy",
    log_system_metrics: bool | None = None,
) -> None:
    """Enable autologging for every installed framework (or those in ``include``).

    ``log_system_metrics=True`` samples system metrics into the runs autologging starts
    (``None``: as :func:`autolog.enable_system_metrics_logging` or its variable says).

    Calling it again replaces the settings; flags not passed return to their defaults. An
    explicit ``autolog.<name>.autolog(...)`` call wins over this one, except ``disable=True``,
    which turns every integration off and restores the original functions.

    ``plots`` applies to the integrations that make pictures (confusion matrices, curves,
    importance charts, ``estimator.html``): ``"lazy"`` records them as plot specs, drawn when
    someone first reads them (``Client.download_artifacts``, the CLI, the server); ``"eager"``
    also draws them on the writer thread, for browsing the artifact folder directly; ``False``
    records neither.

    Raises:
        InvalidInputError: ``include``/``exclude`` name an unknown integration,
            ``max_tuning_runs`` is negative, or ``plots`` is not "lazy", "eager" or False.
    """
    from autolog.errors import InvalidInputError
    from autolog.integrations._registry import integrations
    from autolog.plots import check_mode

    plots = check_mode(plots)

    if max_tuning_runs is not None and max_tuning_runs < 0:
        raise InvalidInputError("max_tuning_runs must be None or >= 0.")
    from autolog import _system_metrics

    _system_metrics.set_autolog_runs(None if disable else log_system_metrics)
    common = {
        "disable": disable, "exclusive": exclusive, "silent": silent, "log_models": log_models,
        "log_input_examples": log_input_examples, "log_model_signatures": log_model_signatures,
        "log_datasets": log_datasets, "log_post_training_metrics": log_post_training_metrics,
        "max_tuning_runs": max_tuning_runs, "extra_tags": extra_tags,
        "disable_for_unsupported_versions": disable_for_unsupported_versions,
        "plots": plots,
    }
    known = {i.name for i in integrations()}
    for name in list(include or []) + list(exclude or []):
        if name not in known and name != "pytorch":
            raise InvalidInputError(
                f"Unknown integration {name!r} in include/exclude; known: {', '.join(sorted(known))}.")
    wanted = {"torch" if n == "pytorch" else n for n in include} if include is not None else known
    wanted -= {"torch" if n == "pytorch" else n for n in (exclude or [])}
    for integration in integrations():
        if disable:
            configure(integration.name, {**_config.COMMON_DEFAULTS, "disable": True, "silent": silent},
                      explicit=False)
            continue
        if _config.is_explicit(integration.name):
            continue
        if integration.name not in wanted:
            # Settings are replaced: an integration this call no longer names is turned off
            # (and its originals restored) if an earlier autolog() had turned it on.
            if _config.get_config(integration.name) is not None:
                configure(integration.name, {**_config.COMMON_DEFAULTS, "disable": True,
                                             "silent": silent}, explicit=False)
            continue
        try:
            defaults = _accepted(integration.load().autolog)
        except Exception as exc:  # noqa: BLE001 - one broken integration must not stop the rest
            if _config.strict():
                raise
            from autolog import _log

            _log.warn(f"autolog: the {integration.name} integration failed to load: {exc!r}",
                      silent=silent)
            continue
        settings = {**defaults, **{k: v for k, v in common.items() if k in defaults}}
        configure(integration.name, settings, explicit=False)
