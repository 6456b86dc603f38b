"""What a running node tells the scheduler: a status message and its progress, sparingly.

Through ``luigid`` every update is an HTTP round trip (about 2-3 ms here, as long as a
trivial node's whole work), so updates are coalesced and sent from a background thread.
While a node runs, its latest message and progress are sent once it has run for
:data:`INTERVAL` seconds and then at most once per interval, only if they changed; when it
ends, its final message is queued and sent within an interval, while Luigi goes on with
the next tasks. A quick node costs one call to the scheduler, a long one about one per
second, and none of them holds up the worker. Queued messages are sent before the process
exits.

Example:
    >>> with StatusReporter(task) as status:     # stops updating when the block ends
    ...     status.update("loading train_x", progress=20)   # shown if still busy in 1 s
    ...     status.finish("done in 3.1 s; out: model (LinearRegression)")
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("luigi_tasks")

#: Seconds a node runs before its progress is first shown, and between two updates.
INTERVAL = 1.0
#: Seconds the process waits at exit for queued messages to reach the scheduler.
EXIT_WAIT = 10.0


class StatusReporter:
    """Sends a task's status message and progress percentage to its scheduler, coalesced.

    Args:
        task: The running Luigi task; Luigi gives it ``set_status_message`` and
            ``set_progress_percentage`` callbacks while it runs (``None`` outside a worker,
            when nothing is sent).
        interval: Seconds between two updates while the task runs.
        on_long_run: Called once, before the first update, if the task is still running
            after ``interval`` (and never after :meth:`close`).
    """

    def __init__(
        self, task: Any, interval: float = INTERVAL, on_long_run: Callable[[], None] | None = None
    ) -> None:
        self._send_message: Callable[[str], None] | None = getattr(task, "set_status_message", None)
        self._send_progress: Callable[[int], None] | None = getattr(task, "set_progress_percentage", None)
        self.interval = interval
        self._lock = threading.Lock()
        self._pending: tuple[str | None, int | None] = (None, None)
        self._sent: tuple[str | None, int | None] = (None, None)
        self._on_long_run = on_long_run
        self._started = False
        self._closed = False
        if self._send_message is not None:  # for show_failure, once Luigi took the callbacks back
            with contextlib.suppress(TypeError):  # an object that cannot be weakly referenced or hashed
                _reporters[task] = self

    def update(self, message: str | None = None, progress: int | None = None) -> None:
        """Note the current message and/or progress (0-100); sent later if still current."""
        with self._lock:
            old_message, old_progress = self._pending
            self._pending = (message or old_message, progress if progress is not None else old_progress)
            if self._started or self._closed:
                return
            self._started = True
        _ticker().add(self, time.monotonic() + self.interval)

    def finish(self, message: str) -> None:
        """Queue the final message (and 100 %, if progress was shown); stop updating.

        In a worker process forked by ``--workers N``, which ends without running exit
        handlers, the message is sent before this returns.
        """
        self.close()
        ticker = _ticker()
        ticker.post(lambda: self._send_final(message))
        if multiprocessing.parent_process() is not None:
            ticker.flush(EXIT_WAIT)

    def close(self) -> None:
        """Stop updating, sending nothing more (a failed node keeps its last shown state)."""
        _ticker().remove(self)
        with self._lock:
            self._closed = True
            self._on_long_run = None  # it holds the task, the key of this reporter in _reporters

    def tick(self) -> None:
        """Send the latest message and progress if they changed (called by the ticker)."""
        with self._lock:
            if self._closed:
                return
            if self._on_long_run is not None:
                on_long_run, self._on_long_run = self._on_long_run, None
                try:
                    on_long_run()
                except Exception:  # a side duty must not stop the updates
                    logger.warning("status: the long-run callback failed", exc_info=True)
            self._send(*self._pending)

    def __enter__(self) -> StatusReporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send_final(self, message: str) -> None:
        with self._lock:
            self._send(message, 100 if self._sent[1] is not None else None)

    def _send(self, message: str | None, progress: int | None) -> None:
        sent_message, sent_progress = self._sent
        try:
            if message is not None and message != sent_message and self._send_message is not None:
                self._send_message(message)
                sent_message = message
            if progress is not None and progress != sent_progress and self._send_progress is not None:
                self._send_progress(progress)
                sent_progress = progress
        except Exception:  # a status the scheduler missed must not fail the node
            logger.warning("could not send the status to the scheduler", exc_info=True)
        self._sent = (sent_message, sent_progress)


#: Each running or ended task's reporter: Luigi takes its callbacks off the task before it
#: calls ``on_failure``, where :func:`show_failure` still needs them.
_reporters: weakref.WeakKeyDictionary[Any, StatusReporter] = weakref.WeakKeyDictionary()


def show_failure(task: Any, message: str) -> None:
    """Make ``message`` the status the scheduler shows for ``task``, which failed; sent now.

    Through the callback Luigi gave the task's :class:`StatusReporter` while it ran (Luigi
    removes it from the task before ``on_failure``), else the task's own, if any. A task
    that never reported leaves nothing to replace; a scheduler that does not answer is
    logged, not raised (the failure itself must reach Luigi).
    """
    reporter = _reporters.get(task)
    if reporter is not None:
        reporter.close()  # nothing queued may overwrite it
        with reporter._lock:
            reporter._send(message, None)
        return
    send = getattr(task, "set_status_message", None)
    if send is not None:
        try:
            send(message)
        except Exception:  # a status the scheduler missed must not hide the failure
            logger.warning("could not send the status to the scheduler", exc_info=True)


def flush(timeout: float = EXIT_WAIT) -> bool:
    """Wait until every queued final message was sent; ``False`` if ``timeout`` passed first."""
    return _ticker().flush(timeout)


class _Ticker:
    """One thread per process that sends queued final messages and calls each running
    reporter's :meth:`~StatusReporter.tick` when it is due. A thread per node would cost its
    start-up on every node. This one wakes when a tick is due, and at least every
    :data:`INTERVAL` seconds to send the final messages queued meanwhile; it is woken early
    only for a tick due before its next wake, or by :meth:`flush`. Waking it for each node
    would cost two thread switches per node (a third of a trivial node's time)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._due: dict[StatusReporter, float] = {}
        self._outbox: deque[Callable[[], None]] = deque()
        self._sending = 0
        self._wakes_at: float | None = None  # None: not waiting yet
        threading.Thread(target=self._loop, name="luigi-tasks-status", daemon=True).start()
        atexit.register(self.flush, EXIT_WAIT)

    def add(self, reporter: StatusReporter, due: float) -> None:
        with self._cond:
            self._due[reporter] = due
            if self._wakes_at is None or due < self._wakes_at:
                self._cond.notify_all()  # the common case, a node quicker than INTERVAL, wakes nothing

    def remove(self, reporter: StatusReporter) -> None:
        with self._cond:
            self._due.pop(reporter, None)

    def post(self, send: Callable[[], None]) -> None:
        with self._cond:
            self._outbox.append(send)  # sent at the next wake, within INTERVAL

    def flush(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            self._cond.notify_all()
            while self._outbox or self._sending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def _loop(self) -> None:
        while True:
            with self._cond:
                now = time.monotonic()
                work = list(self._outbox)
                self._outbox.clear()
                due = [r for r, t in self._due.items() if t <= now]
                for reporter in due:
                    self._due[reporter] = now + reporter.interval
                self._wakes_at = min(self._due.values(), default=now + INTERVAL)
                if not work and not due:
                    self._cond.wait(self._wakes_at - now)
                    continue
                self._sending = len(work)
            # Outside the lock: each is a round trip to the scheduler.
            for call in [*work, *(reporter.tick for reporter in due)]:
                try:
                    call()
                except Exception:  # the thread must outlive any one message
                    logger.warning("could not send a status to the scheduler", exc_info=True)
            with self._cond:
                self._sending = 0
                self._cond.notify_all()  # flush() waits for this


_instance: tuple[int, _Ticker] | None = None
_instance_lock = threading.Lock()


def _ticker() -> _Ticker:
    """This process's ticker (a forked worker process starts its own: threads do not fork)."""
    global _instance
    with _instance_lock:
        if _instance is None or _instance[0] != os.getpid():
            _instance = (os.getpid(), _Ticker())
        return _instance[1]
