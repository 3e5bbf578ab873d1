"""Test support shipped with autolog: the store and artifact contract suites that every backend
must pass, and throwaway services (:mod:`.services`) to run them against."""

from __future__ import annotations

import threading
from typing import Callable


def run_threads(work: Callable[[int], None], count: int) -> list[BaseException]:
    """Run ``work(0) ... work(count - 1)`` in as many threads at once; return what they raised."""
    errors: list[BaseException] = []

    def guarded(index: int) -> None:
        try:
            work(index)
        except BaseException as exc:  # noqa: BLE001 - collected for the test to assert on
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return errors
