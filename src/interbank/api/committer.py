"""From the event loop to the node in groups: group commit across HTTP requests.

Request handlers run on one asyncio loop; the node's ``submit_batch`` blocks until its
entry is durable (an fsync). Calling it from the loop would stall every connection,
and a thread hop per request costs more than the request. So each handler puts its
work in a shared, bounded queue and awaits a future; worker threads take everything
queued (up to a group size), hand it to the node as one batch, and resolve all the
futures of the group with one wake-up of the loop. Many requests thus share one
journal entry and one fsync, which is the node's group commit carried up to HTTP.

The queue is bounded in work units (commands or messages) that are accepted and not
yet answered: past ``units_max`` a handler is refused at once (``Overloaded``, which
the service answers with 429 and Retry-After) rather than queued without limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

Item = TypeVar("Item")
Answer = TypeVar("Answer")

_log = logging.getLogger("interbank.api")


class Overloaded(Exception):
    """The bounded queue is full: the caller should come back after Retry-After."""


class Stopped(Exception):
    """The worker was stopped (the service is shutting down)."""


@dataclass(slots=True)
class _Waiting(Generic[Item, Answer]):
    item: Item
    units: int
    future: asyncio.Future[Answer]
    loop: asyncio.AbstractEventLoop


class GroupWorker(Generic[Item, Answer]):
    """Worker threads that run ``handle`` on groups of queued items.

    ``handle(items)`` returns one answer per item, in order, or raises: then every item
    of the group gets that exception. It runs on a worker thread, never on the loop.
    """

    def __init__(
        self,
        name: str,
        handle: Callable[[list[Item]], Sequence[Answer]],
        units_max: int,
        group_units_max: int,
        threads: int = 1,
    ) -> None:
        assert units_max >= group_units_max >= 1 and threads >= 1
        self.name = name
        self._handle = handle
        self._units_max = units_max
        self._group_units_max = group_units_max
        self._queue: deque[_Waiting[Item, Answer]] = deque()
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._units_pending = 0  # queued or being handled, not yet answered
        self._stopping = False
        self._threads = [
            threading.Thread(target=self._run, name=f"interbank-{name}-{n}", daemon=True)
            for n in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def units_pending(self) -> int:
        return self._units_pending

    def submit(self, item: Item, units: int = 1) -> asyncio.Future[Answer]:
        """Queue ``item`` (call on the loop); its future resolves with the answer.

        Raises ``Overloaded`` when accepting it would pass ``units_max``.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Answer] = loop.create_future()
        with self._lock:
            if self._stopping:
                raise Stopped(f"{self.name} is stopping")
            if self._units_pending + units > self._units_max:
                raise Overloaded(
                    f"{self._units_pending} units are waiting for the journal "
                    f"(at most {self._units_max})"
                )
            self._units_pending += units
            self._queue.append(_Waiting(item, units, future, loop))
            if len(self._queue) == 1:
                self._ready.notify()
        return future

    def stop(self) -> None:
        """Answer what is queued, then end the threads."""
        with self._lock:
            self._stopping = True
            self._ready.notify_all()
        for thread in self._threads:
            thread.join()

    def _take(self) -> list[_Waiting[Item, Answer]] | None:
        with self._lock:
            while not self._queue:
                if self._stopping:
                    return None
                self._ready.wait()
            group = [self._queue.popleft()]
            units = group[0].units
            while self._queue and units + self._queue[0].units <= self._group_units_max:
                waiting = self._queue.popleft()
                units += waiting.units
                group.append(waiting)
            if self._queue:
                self._ready.notify()  # another worker may take the rest meanwhile
            return group

    def _run(self) -> None:
        while True:
            group = self._take()
            if group is None:
                return
            answers: Sequence[Answer] | None = None
            error: BaseException | None = None
            try:
                answers = self._handle([w.item for w in group])
                assert len(answers) == len(group)
            except Exception as caught:  # every caller must be answered, whatever
                error = caught
            except BaseException as caught:
                # A future cannot carry KeyboardInterrupt/SystemExit: answer, then re-raise.
                _log.exception("%s: a group was interrupted", self.name)
                error = RuntimeError(f"{self.name} was interrupted: {caught!r}")
                self._finish(group, None, error)
                raise
            self._finish(group, answers, error)

    def _finish(
        self,
        group: list[_Waiting[Item, Answer]],
        answers: Sequence[Answer] | None,
        error: BaseException | None,
    ) -> None:
        with self._lock:
            self._units_pending -= sum(w.units for w in group)
        # One wake-up of each loop per group, not one per request.
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[int, _Waiting[Item, Answer]]]] = {}
        for index, waiting in enumerate(group):
            by_loop.setdefault(waiting.loop, []).append((index, waiting))
        for loop, members in by_loop.items():
            # A closed loop raises RuntimeError: nobody is waiting there any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, members, answers, error)


def _resolve(
    members: list[tuple[int, _Waiting[Item, Answer]]],
    answers: Sequence[Answer] | None,
    error: BaseException | None,
) -> None:
    for index, waiting in members:
        future = waiting.future
        if future.done():
            continue  # the caller went away (client disconnected, cancelled)
        if error is not None:
            future.set_exception(error)
        else:
            assert answers is not None
            future.set_result(answers[index])
