"""Job logging: every script logs to its rule's `log:` file, with secrets masked.

Secrets (API keys, proxy passwords) are registered once and replaced by `***` in every
record, including exception text, so a traceback cannot leak them either.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

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


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def setup(log_path: str | Path | None, level: int = logging.INFO) -> logging.Logger:
    """Send the root logger to `log_path` (or stderr) through the redacting formatter."""
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
    sys.excepthook = _log_then_raise
    return logging.getLogger("claimflow")


def _log_then_raise(kind: type[BaseException], error: BaseException, tb) -> None:  # noqa: ANN001
    """An error that ends a job goes into the job's log too (masked), not only to Snakemake's
    console: the log is where a user looks days later."""
    logging.getLogger("claimflow").error("job failed: %s: %s", kind.__name__, error, exc_info=(kind, error, tb))
    sys.__excepthook__(kind, redact_exception(error), tb)


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
