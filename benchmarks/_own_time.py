"""Shared by the benchmarks that time autolog's own code where it runs (imported from the
benchmark's own folder: ``python benchmarks/bench_x.py`` puts it on ``sys.path``)."""

from __future__ import annotations

import time
from typing import Any, Callable


def timed(owner: Any, attr: str, label: str, spent: dict[str, float],
          clock: Callable[[], float] = time.perf_counter) -> None:
    """Replace ``owner.attr`` by a wrapper adding the time of each call to ``spent[label]``.

    Call it before enabling autolog: patch() captures hook functions when it installs them.
    """
    fn = getattr(owner, attr)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = clock()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[label] = spent.get(label, 0.0) + clock() - start

    setattr(owner, attr, wrapper)
