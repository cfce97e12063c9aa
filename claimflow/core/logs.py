"""Job logging: every script logs to its rule's `log:` file, with secrets masked.

Secrets (API keys, proxy passwords) are registered once and replaced by `***` in every
record, including exception text, so a traceback cannot leak them either.
"""

from __future__ import annotations

import functools
import io
import logging
import re
import signal
import sys
from pathlib import Path
from typing import TextIO

from claimflow.core.layout import FAILED_MARK, INTERRUPTED_MARK, MARKS

_SECRETS: set[str] = set()
_URL_PASSWORD = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:/@\s]+):(?P<pw>[^@/\s]+)@")


def register_secret(value: str | None) -> None:
    if value and len(value) >= 4:
        _SECRETS.add(value)


def redact(text: str) -> str:
    """Mask registered secrets and the password part of `scheme://user:pass@host` URLs."""
    text = _URL_PASSWORD.sub(r"\g<scheme>\g<user>:***@", text)
    for secret in _SECRETS:
        text = text.replace(secret, "***")
    return text


class RedactingStream(io.TextIOBase):
    """A text stream that masks secrets before they reach the stream under it: a job's stderr,
    where third-party libraries print past the logging system (yt-dlp's write_string writes to
    `sys.stderr.buffer` when there is one, so this has none)."""

    def __init__(self, inner: TextIO):
        self._inner = inner

    def write(self, text: str) -> int:
        self._inner.write(redact(text))
        return len(text)

    def flush(self) -> None:
        self._inner.flush()

    def fileno(self) -> int:
        return self._inner.fileno()

    def isatty(self) -> bool:
        return self._inner.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._inner, "encoding", "utf-8")


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


# What a job's log says when the job failed, or was stopped (Ctrl-C, SIGTERM), for the summary
# and `claimflow status` to find (declared with the layout): the last of them in a log is what
# happened to its last attempt.


class JobInterrupted(KeyboardInterrupt):
    """A SIGTERM, raised where the job is, so it stops as on Ctrl-C: `finally` blocks run (a
    private cookie copy removed, temporary files gone) and the log says it was interrupted."""


def _interrupted_by(signum: int, _frame: object) -> None:

    raise JobInterrupted(signal.Signals(signum).name)


def last_mark(text: str) -> str | None:
    """FAILED_MARK, INTERRUPTED_MARK or BUDGET_MARK, whichever a log says last (None: none)."""
    where, mark = max((text.rfind(mark), mark) for mark in MARKS)
    return mark if where >= 0 else None


def setup(log_path: str | Path | None, level: int = logging.INFO) -> logging.Logger:
    """Send the root logger to `log_path` (or stderr) through the redacting formatter. A job
    that fails then writes its traceback into the log and one line on the console."""
    handler: logging.Handler
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_path, mode="a", encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    sys.excepthook = functools.partial(_log_then_say, log_path)
    if log_path and not isinstance(sys.stderr, RedactingStream):
        sys.stderr = RedactingStream(sys.stderr)
    if log_path:
        signal.signal(signal.SIGTERM, _interrupted_by)
    return logging.getLogger("claimflow")


def one_line(error: BaseException) -> str:
    """An error as one masked line: claimflow's own errors by their message (which names the
    fix), anything else with its type."""
    text = " ".join(str(error).split()) or type(error).__name__
    if not type(error).__module__.startswith("claimflow"):
        text = f"{type(error).__name__}: {text}"
    return redact(text)


def _log_then_say(log_path: str | Path | None, kind: type[BaseException], error: BaseException, tb) -> None:  # noqa: ANN001
    """An error that ends a job: its traceback into the job's log (masked), where a user looks
    days later; on the console one line with where the rest is. Without a log, the traceback.
    Ctrl-C or SIGTERM is no error: the log says the job was interrupted, the console nothing."""
    if issubclass(kind, KeyboardInterrupt):
        how = str(error) or "SIGINT"
        logging.getLogger("claimflow").warning("%s stopped by %s; the same command again redoes it", INTERRUPTED_MARK,
                                               how)  # fmt: skip
        return
    mark = getattr(error, "log_mark", FAILED_MARK)  # an error that is an outcome of its own names its mark
    if mark != FAILED_MARK:  # (the budget reached: no traceback, its message says what to do)
        logging.getLogger("claimflow").warning("%s %s", mark, error)
    else:
        logging.getLogger("claimflow").error("%s %s: %s", mark, kind.__name__, error, exc_info=(kind, error, tb))
    if not log_path:
        sys.__excepthook__(kind, redact_exception(error), tb)
        return
    print(f"claimflow: {one_line(error)} ({log_path} has the details)", file=sys.stderr, flush=True)


def redact_exception(error: BaseException) -> BaseException:
    """The same exception with its message masked, for the console copy of the traceback."""
    text = str(error)
    masked = redact(text)
    if masked == text:
        return error
    try:
        return type(error)(masked)
    except Exception:
        return RuntimeError(masked)
