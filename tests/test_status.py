"""StatusReporter: what a node sends to the scheduler, coalesced and in the background (the
callbacks Luigi gives a running task are replaced by plain recorders; the real path, through
luigid, runs in test_scheduler.py)."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from luigi_tasks.status import StatusReporter, flush


def recording_task() -> tuple[SimpleNamespace, list[tuple[str, object]]]:
    calls: list[tuple[str, object]] = []
    task = SimpleNamespace(
        set_status_message=lambda m: calls.append(("message", m)),
        set_progress_percentage=lambda p: calls.append(("progress", p)),
    )
    return task, calls


def test_a_quick_node_sends_only_its_final_message() -> None:
    task, calls = recording_task()
    status = StatusReporter(task, interval=5.0)
    status.update("loading x", progress=0)
    status.update("running f", progress=50)
    status.finish("done in 0.01 s")
    assert flush(5.0)
    assert calls == [("message", "done in 0.01 s")]


def test_a_slow_node_sends_its_latest_state_each_interval_and_ends_at_100() -> None:
    task, calls = recording_task()
    status = StatusReporter(task, interval=0.2)
    status.update("loading x", progress=0)
    status.update("running f", progress=50)
    time.sleep(0.5)  # two intervals: the second has nothing new to send
    assert calls == [("message", "running f"), ("progress", 50)]
    status.update(progress=80)
    time.sleep(0.3)
    status.finish("done in 0.8 s")
    assert flush(5.0)
    assert calls == [("message", "running f"), ("progress", 50), ("progress", 80),
                     ("message", "done in 0.8 s"), ("progress", 100)]
    time.sleep(0.3)
    assert len(calls) == 5  # nothing after finish


def test_outside_a_worker_nothing_is_sent_and_nothing_fails(caplog) -> None:
    """A task run without a worker (no callbacks): no send is tried, so nothing is logged."""
    status = StatusReporter(SimpleNamespace(set_status_message=None, set_progress_percentage=None), interval=0.05)
    status.update("running f", progress=10)
    time.sleep(0.1)
    status.finish("done")
    assert flush(5.0)
    assert caplog.records == []


def test_a_scheduler_error_is_logged_not_raised(caplog) -> None:
    def broken(_: object) -> None:
        raise ConnectionError("scheduler gone")

    status = StatusReporter(SimpleNamespace(set_status_message=broken, set_progress_percentage=broken))
    status.finish("done")
    assert flush(5.0)
    assert "could not send the status" in caplog.text


def test_a_failed_node_stops_updating_when_its_block_ends() -> None:
    task, calls = recording_task()
    try:
        with StatusReporter(task, interval=0.1) as status:
            status.update("running f", progress=50)
            raise RuntimeError("node failed")
    except RuntimeError:
        pass
    time.sleep(0.3)  # three intervals: a reporter left running would have sent "running f"
    assert calls == []


def test_the_final_message_does_not_wait_for_the_scheduler() -> None:
    sent = threading.Event()

    def slow_scheduler(message: str) -> None:
        time.sleep(0.5)
        sent.set()

    status = StatusReporter(SimpleNamespace(set_status_message=slow_scheduler, set_progress_percentage=None))
    status.finish("done")
    assert not sent.is_set()  # a synchronous send would have taken the scheduler's 0.5 s
    assert flush(5.0) and sent.is_set()  # and the message is sent before the process exits


def test_the_long_run_callback_fires_once_for_a_slow_node_and_never_for_a_quick_one() -> None:
    task, _ = recording_task()
    fired: list[str] = []
    quick = StatusReporter(task, interval=0.2, on_long_run=lambda: fired.append("quick"))
    quick.update("running f")
    quick.finish("done")
    slow = StatusReporter(task, interval=0.1, on_long_run=lambda: fired.append("slow"))
    slow.update("running g")
    time.sleep(0.45)  # four intervals
    slow.finish("done")
    time.sleep(0.3)
    assert fired == ["slow"]
