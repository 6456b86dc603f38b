"""Logging for ``luigi`` commands: a readable console, the full story in a file.

``config/logging.ini`` (named by ``luigi.cfg`` ``[core] logging_conf_file``) uses these
classes. The console shows a line per node when it ends (duration, why it ran, outputs),
one more when a node is still running after a second, warnings, errors and Luigi's
summary, but not Luigi's per-task scheduling chatter. An error of luigi-tasks' own, and
Luigi's failure to reach the central scheduler, are shown as their message alone: the
closing lines say what to do. Any other exception keeps its traceback on the console,
above all one raised in a node's own code, where it points at the line to fix. The file
keeps everything, tracebacks included.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from contextlib import suppress
from types import TracebackType

from luigi.rpc import RPCError
from luigi.task_register import TaskClassNotFoundException

from luigi_tasks.errors import LuigiTasksError

# Luigi's INFO lines that repeat once per task and drown the summary.
_CHATTER = (
    "Informed scheduler that task",
    "Done scheduling tasks",
    "Running Worker with",
    "Starting pruning",
    "Done pruning",
    "Worker Worker(",
    "Scheduled ",
    "logging configured",
    "Done\n",
    "[pid %s] Worker %s",  # "[pid 12] Worker Worker(...) running/done <task>"
)
_TRACEBACK = "Traceback (most recent call last):\n"
_OWN_ERROR = re.compile(r"^luigi_tasks\.errors\.(?=\w+: )", re.MULTILINE)


# Generic in typeshed, but StreamHandler[TextIO] fails at run time before Python 3.11.
class ConsoleHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """stderr, without Luigi's per-task chatter, and luigi-tasks errors without traceback."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(ConsoleFormatter("%(levelname)s: %(message)s"))

    def filter(self, record: logging.LogRecord) -> bool:
        # The template, not the formatted message: this runs for every record of every task.
        if (
            record.levelno <= logging.INFO
            and record.name == "luigi-interface"
            and isinstance(record.msg, str)
            and record.msg.startswith(_CHATTER)
        ):
            return False
        return super().filter(record)


class ConsoleFormatter(logging.Formatter):
    """Shows a :class:`LuigiTasksError`, or an unreachable central scheduler (``RPCError``),
    as its message; other tracebacks as usual."""

    def format(self, record: logging.LogRecord) -> str:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, (LuigiTasksError, RPCError)):
            return f"{record.levelname}: {exc}"
        # Luigi's "Will not run <task> ... due to error in complete() method:" carries the
        # traceback in its text (a dataset's exists() raised), not as exc_info.
        if record.levelno >= logging.WARNING and isinstance(record.msg, str) and _TRACEBACK in record.msg:
            own = _own_error(record.msg)
            if own is not None:
                return f"{record.levelname}: {record.msg.partition(_TRACEBACK)[0].strip()} {own}"
        return super().format(_without_empty_exc_info(record))


class FileFormatter(logging.Formatter):
    """The log file's format: every traceback kept, but no "NoneType: None" line."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(_without_empty_exc_info(record))


def _without_empty_exc_info(record: logging.LogRecord) -> logging.LogRecord:
    """``record`` without its ``exc_info`` if that holds no exception.

    Luigi logs with ``exc_info=True`` where no exception is being handled (its retries of
    the scheduler), and logging would then add a line "NoneType: None". A copy is changed,
    as the other handlers format the same record.
    """
    if record.exc_info and record.exc_info[1] is None:
        return logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None})
    return record


def _own_error(text: str) -> str | None:
    """The last line(s) of a traceback in ``text`` when the exception that ended it is a
    luigi-tasks error (``DatasetError: ...``); ``None`` otherwise."""
    starts = [match.end() for match in _OWN_ERROR.finditer(text)]
    if not starts or _TRACEBACK in text[starts[-1] :]:
        return None  # another exception, raised while handling ours, ended it
    return text[starts[-1] :].strip()


class ProjectFileHandler(logging.FileHandler):
    """A log file under the project root (a relative ``filename``, even when Python runs in a
    subfolder such as ``notebooks/``), whose folder is made if missing (``logs/`` is git-ignored)."""

    def __init__(self, filename: str, mode: str = "a", encoding: str = "utf-8") -> None:
        if not os.path.isabs(filename):
            from luigi_tasks.config import find_project_root  # late: config imports Luigi's configuration

            with suppress(LuigiTasksError):  # outside any project: the working folder, as logging does
                filename = os.path.join(find_project_root(), filename)
        os.makedirs(os.path.dirname(os.path.abspath(filename)), exist_ok=True)
        super().__init__(filename, mode, encoding)


def without_traceback(error: LuigiTasksError) -> None:
    """Make Luigi log ``error`` as its message alone when it catches it.

    For an error raised in a ``luigi`` command before ``config/logging.ini`` is in force:
    Luigi then sets up its default logging, which would print ``Uncaught exception in luigi``
    and the traceback above the message.
    """

    def message_alone(record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is error:
            record.msg, record.args, record.exc_info, record.exc_text = str(error), None, None, None
        return True

    logging.getLogger("luigi-interface").addFilter(message_alone)


def install_excepthook() -> None:
    """Print Luigi's unknown-task error (``No task FullPipelin. Did you mean: ...``) and
    luigi-tasks' own errors that escape Luigi as their message alone, without a traceback.

    Such errors happen while the command line is read, before Luigi sets up logging, so
    no handler above sees them. Other exceptions keep Python's usual traceback. Meant to
    be called when a pipeline module is imported by ``luigi --module``.
    """
    previous = sys.excepthook
    if getattr(previous, "_luigi_tasks", False):
        return

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if isinstance(exc, (TaskClassNotFoundException, LuigiTasksError)):
            sys.stderr.write(f"ERROR: {exc}\n")  # Luigi's own lists the close task names
            return
        previous(exc_type, exc, tb)

    hook._luigi_tasks = True  # type: ignore[attr-defined]
    sys.excepthook = hook
