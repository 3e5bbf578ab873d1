"""The patch helper: every integration patches through here, and here the safety contract lives.

The contract, for every patched callable:

* The original is called exactly once, with the caller's arguments (or with arguments an
  integration's ``before`` hook returned, such as a callback list extended in a copy); its
  result or exception reaches the caller unchanged.
* Autolog's own exceptions never reach the caller: caught, reported once per run and target as an
  :class:`~autolog.errors.AutologWarning` naming the integration and the target (and on the
  ``autolog`` logger). ``AUTOLOG_STRICT=1`` re-raises them instead, so tests see every bug.
* Only the outermost patched call logs; nested calls pass straight through unless a patch asks to
  join its outer call (a booster's ``train`` inside its sklearn wrapper). The nesting state is a
  ``ContextVar``, so each thread has its own.
* Run scoping: with no active run a training call gets its own run (tagged
  ``autolog.integration``), ended FINISHED, FAILED on an exception, KILLED on KeyboardInterrupt;
  with a user run active it logs there, or not at all with ``exclusive=True``.
* Patched callables keep signature and docstring (wrapt proxies them; a per-step method gets a
  plain ``functools.wraps`` function, see :func:`make_step_wrapper`) and pickle as the
  original: a patched module-level function pickles by reference to its defining module, where
  it is patched too, so ``pickle`` finds "the same object" (MLflow's "Can't pickle r2_score").
* Disabling is a flag read at call time, and :func:`revert` restores the originals.
"""

from __future__ import annotations

import contextvars
import functools
import threading
import os
from time import perf_counter_ns
from typing import Any, Callable

import wrapt

from autolog import _log, _overhead, _runs
from autolog.entities import RunStatus
from autolog.integrations import _config
from autolog.store import _backlog


_current: contextvars.ContextVar["Call | None"] = contextvars.ContextVar("autolog_call", default=None)
# integration -> [(owner, attribute, original raw attribute value)], for revert()
_patches: dict[str, list[tuple[Any, str, Any]]] = {}
_patches_lock = threading.Lock()


class Call:
    """One patched call, as the integration's hooks see it.

    ``run`` is the run to log into (``None`` when logging is skipped); ``state`` is scratch
    space shared by ``before`` and ``after`` (and by nested calls that join through ``parent``).
    A slotted plain class: one is built per patched call, including per-step ones (backward).
    """

    __slots__ = ("integration", "target", "instance", "args", "kwargs", "settings", "run",
                 "managed", "parent", "state")

    def __init__(self, integration: str, target: str, instance: Any, args: tuple[Any, ...],
                 kwargs: dict[str, Any], settings: dict[str, Any], run: Any = None,
                 managed: bool = False, parent: "Call | None" = None) -> None:
        self.integration = integration
        self.target = target
        self.instance = instance
        self.args = args
        self.kwargs = kwargs
        self.settings = settings
        self.run = run
        self.managed = managed
        self.parent = parent
        self.state: dict[str, Any] = {}

    @property
    def nested(self) -> bool:
        return self.parent is not None

    @property
    def run_id(self) -> str | None:
        return self.run.info.run_id if self.run is not None else None


def current_call() -> Call | None:
    """The outermost-or-joined patched call running in this thread/context, if any."""
    return _current.get()


_reported: set[tuple[str, str, str | None]] = set()
# A test hook: AUTOLOG_TEST_INJECT_FAILURE="start,before,after,end" makes autolog's own code fail
# at those points of every patched call (read once, at import), so a test can show in a real
# process, under `python -W error` say, that no failure of ours reaches the user's code.
_INJECTED = frozenset(p for p in os.environ.get("AUTOLOG_TEST_INJECT_FAILURE", "").split(",") if p)


def _inject(point: str) -> None:
    if point in _INJECTED:
        raise RuntimeError(f"failure injected by AUTOLOG_TEST_INJECT_FAILURE at {point!r}")



def report(integration: str, target: str, exc: BaseException, call: Call | None = None) -> None:
    """Report an exception of autolog's own code; re-raise it under AUTOLOG_STRICT=1.

    Reported once per (integration, target, run): a per-step patch (``backward``, a callback)
    that keeps failing warns once for the run, not once per step. Never raises otherwise, even
    where warnings are errors (:func:`autolog._log.warn`), and ``silent=True`` writes nothing.
    """
    if _config.strict():
        raise exc
    try:
        run = call.run if call is not None and call.run is not None else _runs.active_run()
        key = (integration, target, run.info.run_id if run is not None else None)
        if key in _reported:
            return
        if len(_reported) < 10_000:
            _reported.add(key)
        settings = _config.get_config(integration) or {}
        message = (f"autolog: the {integration} integration failed in {target}: {exc!r}. "
                   "Training was not affected; some data may be missing from the run.")
        _log.warn(message, silent=bool(settings.get("silent")), stacklevel=4)
    except Exception:  # noqa: BLE001 - reporting must never be what breaks training
        pass


def safe_call(integration: str, target: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``; an exception is reported (or re-raised when strict) and None returned."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001
        report(integration, target, exc, _current.get())
        return None


class _Wrapper(wrapt.FunctionWrapper):  # type: ignore[misc]
    """A wrapt FunctionWrapper that pickles by reference, like the function it wraps."""

    def __reduce_ex__(self, protocol: Any) -> Any:
        # A str tells pickle "a global of this name in obj.__module__": it resolves to this
        # wrapper here (so the identity check passes) and to the original function in a process
        # that never imported autolog.
        return self.__wrapped__.__qualname__

    def __reduce__(self) -> Any:
        return self.__wrapped__.__qualname__


def _end_managed(call: Call, status: str) -> None:
    # Queued, not awaited: the fit returns without waiting for the database. A storage failure
    # surfaces at the next explicit flush()/end_run().
    try:
        if _INJECTED:
            _inject("end")
        _runs.end_run(status, run_id=call.run_id, wait=False)
    except Exception as exc:  # noqa: BLE001
        report(call.integration, "end_run", exc, call)


def _start(call: Call, run_name: str | Callable[[Call], str] | None, manage_run: bool) -> bool:
    """Decide where the call logs; False means: pass straight through."""
    parent = call.parent
    if parent is not None:
        call.run = parent.run
        call.state = parent.state
        return parent.run is not None
    active = _runs.active_run()
    if active is not None:
        if call.settings.get("exclusive") and not started_by(active, call.integration):
            return False
        call.run = active
        return True
    if not manage_run:
        return True
    open_managed_run(call, run_name(call) if callable(run_name) else run_name)
    return True


def started_by(run: Any, integration: str) -> bool:
    """Whether ``run`` is one ``integration`` started itself (``exclusive`` skips only the user's
    runs: a plain PyTorch loop's own run stays active across many patched calls)."""
    return run.data.tags.get("autolog.integration") == integration


def open_managed_run(call: Call, run_name: str | None = None) -> None:
    """Start the run ``call`` logs into, ended by the helper after the call (FINISHED, FAILED
    on an exception, KILLED on KeyboardInterrupt).

    ``manage_run=True`` does this for every outermost call with no active run; a patch with
    ``manage_run=False`` calls it from ``before`` when only it can tell whether this call
    deserves a run (rank 0 of a distributed fit, a fit that is not a framework's internal one).
    """
    if run_name is None:
        run_name = (type(call.instance).__name__ if call.instance is not None
                    else call.target.rsplit(".", 1)[-1])
    tags = {"autolog.integration": call.integration, **(call.settings.get("extra_tags") or {})}
    call.run = _runs.start_run(run_name=run_name, tags=tags)
    call.managed = True


def make_wrapper(
    integration: str,
    target: str,
    *,
    before: Callable[[Call], tuple[tuple[Any, ...], dict[str, Any]] | None] | None = None,
    after: Callable[[Call, Any], None] | None = None,
    manage_run: bool = True,
    join_nested: bool = False,
    run_name: str | Callable[[Call], str] | None = None,
) -> Callable[..., Any]:
    """Build the wrapt wrapper function implementing the contract for one target."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...],
                kwargs: dict[str, Any]) -> Any:
        settings = _config.get_config(integration)
        if settings is None or settings.get("disable"):
            return wrapped(*args, **kwargs)
        parent = _current.get()
        if parent is not None and not join_nested:
            return wrapped(*args, **kwargs)
        start_ns = perf_counter_ns()  # autolog.overhead_ms: this call's time minus the original's
        if _backlog.undelivered and parent is None:
            # Data an earlier autologged run lost to a failing store: reported here, in the
            # next autologged call, rather than raised from the user's own code.
            _backlog.deliver()
        call = Call(integration, target, instance, args, kwargs, settings, parent=parent)
        try:
            if _INJECTED:
                _inject("start")
            logging_on = _start(call, run_name, manage_run)
        except Exception as exc:  # noqa: BLE001
            report(integration, "start_run", exc, call)
            logging_on = False
        if not logging_on:
            # Mark the call so that patched calls nested inside it stay silent too.
            token = _current.set(Call(integration, target, instance, (), {}, settings))
            try:
                return wrapped(*args, **kwargs)
            finally:
                _current.reset(token)
        token = _current.set(call)
        status = RunStatus.FAILED
        original_ns = 0
        try:
            call_args, call_kwargs = args, kwargs
            if before is not None or _INJECTED:
                try:
                    if _INJECTED:
                        _inject("before")
                    replaced = before(call) if before is not None else None
                    if replaced is not None:
                        call_args, call_kwargs = replaced
                except Exception as exc:  # noqa: BLE001
                    report(integration, f"{target} (before)", exc, call)
            original_start = perf_counter_ns()
            try:
                result = wrapped(*call_args, **call_kwargs)
            except KeyboardInterrupt:
                status = RunStatus.KILLED
                raise
            finally:
                original_ns = perf_counter_ns() - original_start
            if after is not None or _INJECTED:
                try:
                    if _INJECTED:
                        _inject("after")
                    if after is not None:
                        after(call, result)
                except Exception as exc:  # noqa: BLE001
                    report(integration, f"{target} (after)", exc, call)
            status = RunStatus.FINISHED
            return result
        finally:
            _current.reset(token)
            try:
                _overhead.charge(call.run, perf_counter_ns() - start_ns - original_ns)
            except Exception as exc:  # noqa: BLE001
                report(integration, "cost accounting", exc, call)
            if call.managed:
                _end_managed(call, status)

    return wrapper


def make_step_wrapper(integration: str, target: str, original: Callable[..., Any],
                      hook: Callable[[Any, tuple[Any, ...], dict[str, Any], dict[str, Any]], None],
                      ) -> Callable[..., Any]:
    """A lean wrapper for a method a training loop calls every step (``Tensor.backward``).

    The contract of :func:`make_wrapper` minus what a step cannot afford (a step is measured in
    microseconds on a GPU): a plain function rather than a wrapt proxy (whose binding and call
    cost about 3 us), no :class:`Call`, no run looked up or started and no nesting mark set.
    ``hook(instance, args, kwargs, settings)`` runs before the original when the integration is
    enabled and no other patched call (a Lightning or Keras fit, which logs itself) is running
    in this context; it finds its own run, and its exceptions are reported. ``functools.wraps``
    keeps the name, docstring, signature (through ``__wrapped__``) and pickling by reference.
    """

    @functools.wraps(original)
    def step_wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        settings = _config.get_config(integration)
        if settings is not None and not settings.get("disable") and _current.get() is None:
            try:
                hook(self, args, kwargs, settings)
            except Exception as exc:  # noqa: BLE001
                report(integration, target, exc)
        return original(self, *args, **kwargs)

    step_wrapper.__autolog_patch__ = True  # type: ignore[attr-defined]
    return step_wrapper


def _is_wrapper(raw: Any) -> bool:
    return isinstance(raw, _Wrapper) or getattr(raw, "__autolog_patch__", False) is True


def record(integration: str, owner: Any, attr: str, original: Any) -> None:
    """Register a patch an integration made itself, so that :func:`revert` restores it."""
    with _patches_lock:
        _patches.setdefault(integration, []).append((owner, attr, original))


def patch(integration: str, owner: Any, attr: str, **options: Any) -> bool:
    """Wrap ``owner.attr`` (a class's own method, or a module's function) under the contract.

    ``options`` are those of :func:`make_wrapper`, or ``on_step=hook`` (and ``target``) for a
    method called every training step, wrapped by :func:`make_step_wrapper`. Returns False if
    there was nothing to patch or it is already patched. A class attribute that is a delegating
    descriptor with an ``fn`` (scikit-learn's ``available_if``) has its inner function wrapped
    instead.
    """
    raw = owner.__dict__.get(attr) if hasattr(owner, "__dict__") else None
    if raw is None:
        raw = getattr(owner, attr, None)
    if raw is None or _is_wrapper(raw):
        return False
    qualified = f"{getattr(owner, '__name__', type(owner).__name__)}.{attr}"
    target = options.pop("target", qualified)
    on_step = options.pop("on_step", None)
    if on_step is not None:
        setattr(owner, attr, make_step_wrapper(integration, target, raw, on_step))
        record(integration, owner, attr, raw)
        return True
    wrapper_fn = make_wrapper(integration, target, **options)
    if not callable(raw) and hasattr(raw, "fn") and callable(raw.fn):
        if isinstance(raw.fn, _Wrapper):
            return False
        original_fn = raw.fn
        raw.fn = _Wrapper(original_fn, wrapper_fn)
        record(integration, raw, "fn", original_fn)
        return True
    wrapped = _Wrapper(raw, wrapper_fn)
    setattr(owner, attr, wrapped)
    record(integration, owner, attr, raw)
    # A module function is pickled by reference to its defining module: patch it there too so
    # that pickle's "is it the same object" check holds.
    defining = getattr(raw, "__module__", None)
    if isinstance(owner, type(wrapt)) and defining and defining != owner.__name__:
        import sys

        home = sys.modules.get(defining)
        name = getattr(raw, "__name__", "")
        if home is not None and name and home.__dict__.get(name) is raw:
            setattr(home, name, wrapped)
            record(integration, home, name, raw)
    return True


def revert(integration: str) -> None:
    """Restore every original that ``integration`` patched."""
    with _patches_lock:
        entries = _patches.pop(integration, [])
    for owner, attr, original in reversed(entries):
        try:
            setattr(owner, attr, original)
        except Exception as exc:  # noqa: BLE001 - keep restoring the rest
            _log.logger.warning("autolog: could not restore %s.%s: %r", owner, attr, exc)


def is_patched(owner: Any, attr: str) -> bool:
    raw = owner.__dict__.get(attr) if hasattr(owner, "__dict__") else getattr(owner, attr, None)
    if raw is not None and not callable(raw) and hasattr(raw, "fn"):
        raw = raw.fn
    return _is_wrapper(raw)
