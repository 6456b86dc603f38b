"""Ctrl-C during a ``luigi`` command: no node saves a result it did not finish, and the
run says it was interrupted instead of printing a traceback.

Some libraries catch ``KeyboardInterrupt`` and return early (scikit-learn's
``MLPRegressor.fit`` keeps the half-trained model), so a node cannot tell from its
function's return that it was interrupted. :func:`watch` installs, in the command's main
process, a SIGINT handler that notes the time and then does what the previous handler did
(normally: raise ``KeyboardInterrupt``); a node whose function was running when it fired
raises instead of saving (:func:`raise_if_interrupted_since`). Forked workers
(``--workers N``) inherit the handler and its note.

Example:
    >>> started = time.monotonic()
    >>> result = func(*values)
    >>> raise_if_interrupted_since(started, "data_science.TrainModel")  # before any save
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from types import FrameType, TracebackType
from typing import Any

#: When SIGINT last arrived in this process (``time.monotonic()``), or ``None``.
_last: float | None = None
_watching = False


def watch() -> None:
    """Note every SIGINT this process receives, and print no traceback for the
    ``KeyboardInterrupt`` that ends the command (its closing lines say what happened).

    Only in the main thread, once, and only where SIGINT raises ``KeyboardInterrupt``
    (a handler that is a Python function): an ignored or default SIGINT is left alone.
    """
    global _watching
    if _watching or threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous):
        return
    _watching = True

    def noted(signum: int, frame: FrameType | None) -> Any:
        global _last
        _last = time.monotonic()
        return previous(signum, frame)

    signal.signal(signal.SIGINT, noted)
    hook = sys.excepthook

    def quiet(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if not (issubclass(kind, KeyboardInterrupt) and _last is not None):
            hook(kind, value, tb)

    sys.excepthook = quiet


def interrupted() -> bool:
    """Whether this process received SIGINT while watched."""
    return _last is not None


def raise_if_interrupted_since(started: float, node: str) -> None:
    """Raise ``KeyboardInterrupt`` if SIGINT arrived after ``started`` (``time.monotonic()``),
    even though the node's function returned: its result may be partial.
    """
    if _last is not None and _last >= started:
        raise KeyboardInterrupt(f"{node}: interrupted (Ctrl-C) while its function ran; nothing saved")
