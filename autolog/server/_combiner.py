"""Group commit for the server's log-batch requests.

Every request waits for its own batch to be committed (a conflict or a missing run is that
client's error), but batches that arrive while a transaction is being written go into the next
transaction together: with many clients, one commit serves many requests instead of each request
queueing for the database's write lock on its own. A combined write that fails because of one
batch is redone batch by batch, so each request gets its own answer.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

from autolog.errors import AutologError, StorageError

Batch = tuple[str, list[Any], list[Any], list[Any]]
_MAX_ROWS = 50_000  # rows per transaction, so that one commit never holds the lock for long


class WriteCombiner:
    """One writer thread per store; :meth:`submit` returns a future of the batch's commit."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._pending: list[tuple[Batch, str | None, Future[None]]] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def submit(self, batch: Batch, request_id: str | None) -> "Future[None]":
        future: Future[None] = Future()
        with self._cond:
            if self._stopped:
                future.set_exception(StorageError("The server is shutting down."))
                return future
            self._pending.append((batch, request_id, future))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="autolog-server-writer",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()
        return future

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()

    def _take(self) -> list[tuple[Batch, str | None, Future[None]]]:
        with self._cond:
            while not self._pending and not self._stopped:
                self._cond.wait()
            taken: list[tuple[Batch, str | None, Future[None]]] = []
            rows = 0
            while self._pending and (not taken or rows < _MAX_ROWS):
                item = self._pending.pop(0)
                rows += len(item[0][1]) + len(item[0][2]) + len(item[0][3])
                taken.append(item)
            return taken

    def _loop(self) -> None:
        while True:
            taken = self._take()
            if not taken:
                return  # stopped with nothing left
            try:
                self.store.log_many([b for b, _, _ in taken], request_ids=[r for _, r, _ in taken])
            except AutologError:
                for item in taken:  # one bad batch: everyone else's still goes in, one by one
                    self._finish(item)
                continue
            except BaseException as exc:  # noqa: BLE001 - every waiting request must get an answer
                for _, _, future in taken:
                    future.set_exception(exc)
                continue
            for _, _, future in taken:
                future.set_result(None)

    def _finish(self, item: tuple[Batch, str | None, Future[None]]) -> None:
        batch, request_id, future = item
        try:
            self.store.log_many([batch], request_ids=[request_id])
        except BaseException as exc:  # noqa: BLE001 - handed to the request that sent it
            future.set_exception(exc)
        else:
            future.set_result(None)
