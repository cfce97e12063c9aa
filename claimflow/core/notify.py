"""Alerts: what a person away from the terminal must hear, sent through Apprise to the URLs
`notify:` lists (docs/watching.md, 'Alerts').

Two halves, so that no job ever waits on the network:
- `emit()`: a job or the workflow's main process appends an event to `<state>/notify-events.jsonl`
  (one short line, appended whole: lines from concurrent jobs never interleave). No Apprise, no
  request, nothing that can fail the job: an event that cannot be written is dropped.
- `Notifier`: `claimflow run`'s own process (the parent of Snakemake) reads the events written
  since the run began and sends each from a thread of its own, sends a digest every
  `notify_digest_hours`, and at the end the run's last lines and exit status.

Nothing secret leaves: the messages are claimflow's own lines (cookie values and keys never
reach them, and they are redacted as every log line is), and the URLs' own tokens (a bot token,
a webhook key, a password) are masked wherever a URL is named, in logs and messages alike. A
receiver that is down costs one log line per message and never fails or slows the batch.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from claimflow.core import layout
from claimflow.core.logs import redact

SEND_TIMEOUT = 10.0  # seconds the run's end waits for messages still being sent
# The kinds of event, as the receiver's title names them.
RUN_ENDED, DOWNLOADS_STOPPED, ACCOUNT, LLM_PREFLIGHT, BUDGET, DIGEST = (
    "run ended", "downloads stopped", "account", "LLM endpoint", "budget reached", "digest")  # fmt: skip


@dataclass(frozen=True)
class Event:
    kind: str
    title: str
    body: str
    at: float

    def line(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False) + "\n"


def events_path(state_dir: str | Path) -> Path:
    return Path(layout.State.of(state_dir).notify_events)


def emit(state_dir: str | Path, kind: str, title: str, body: str) -> None:
    """An event for `claimflow run` to send, if it has anywhere to send it. Never raises."""
    event = Event(kind, redact(title), redact(body), time.time())
    try:
        path = events_path(state_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        # One write of one line with O_APPEND: whole, whatever other jobs append at once.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, event.line().encode())
        finally:
            os.close(fd)
    except OSError:
        pass


def read_events(path: Path, offset: int) -> tuple[list[Event], int]:
    """The whole lines written after `offset`, and the offset after them."""
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except OSError:
        return [], offset
    whole = data[: data.rfind(b"\n") + 1]
    events = []
    for raw in whole.splitlines():
        try:
            events.append(Event(**json.loads(raw)))
        except (ValueError, TypeError):
            continue
    return events, offset + len(whole)


def _secrets_of(url: str) -> list[str]:
    """The parts of an Apprise URL that may be a credential: user, password, host (a bot token
    sits there in `tgram://TOKEN/CHAT`), every path part and every query value."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    # A host name or address is where the message goes, not a secret; a "host" that is neither
    # is a service's token (`tgram://TOKEN/CHAT`, `pover://USER@TOKEN`).
    token_host = host and "." not in host and ":" not in host and host != "localhost"
    found = [parts.username, parts.password, host if token_host else None]
    found += [p for p in parts.path.split("/") if p]
    found += [value for _, value in parse_qsl(parts.query)]
    return sorted({p for p in found if p and len(p) >= 4}, key=len, reverse=True)


class Masker:
    """Text with every credential of the notification URLs masked, then the usual redaction."""

    def __init__(self, urls: list[str]):
        self._secrets = sorted({s for url in urls for s in _secrets_of(url)}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return redact(text)

    def url(self, url: str) -> str:
        """A URL as a log line may name it: its scheme and nothing else that could be a token."""
        return self(f"{urlsplit(url).scheme}://{urlsplit(url).hostname or ''}").rstrip("/") + "/..."


def expand(url: str) -> str:
    """`${NAME}` in a URL replaced by the environment variable NAME, so a token can stay out of
    the config file (a name that is not set is left as it is)."""
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: os.environ.get(m.group(1), m.group(0)), url)


def _apprise_send(url: str, title: str, body: str) -> bool:
    import apprise  # only the run's parent process sends, and only when `notify:` lists a URL

    sender = apprise.Apprise()
    if not sender.add(url):
        return False
    return bool(sender.notify(title=title, body=body or title))  # Apprise refuses an empty body


def _quiet_apprise() -> None:
    # Apprise logs through the "apprise" logger, and Python's last-resort handler would print its
    # warnings (which may name a URL) to the terminal: claimflow says what failed, once, masked.
    apprise_log = logging.getLogger("apprise")
    apprise_log.addHandler(logging.NullHandler())
    apprise_log.propagate = False


class Notifier:
    """Sends the run's events from one thread; `close()` ends it (bounded by SEND_TIMEOUT)."""

    def __init__(self, urls: list[str], state_dir: str | Path, digest_hours: float = 0.0,
                 digest: Callable[[], str] | None = None, send: Callable[[str, str, str], bool] = _apprise_send,
                 say: Callable[[str], None] | None = None, poll: float = 2.0):  # fmt: skip
        self.urls = [expand(u) for u in urls]
        self.mask = Masker(self.urls)
        self._events = events_path(state_dir)
        try:
            self._offset = self._events.stat().st_size  # what earlier runs left is theirs
        except OSError:
            self._offset = 0
        self._digest_every = digest_hours * 3600.0
        self._digest = digest
        self._next_digest = time.time() + self._digest_every
        self._send = send
        self._say = say or (lambda line: print(line, file=sys.stderr))
        self._poll = poll
        self._outbox: queue.Queue[Event | None] = queue.Queue()
        self._stop = threading.Event()
        self.sent: list[Event] = []
        self.failed = 0
        _quiet_apprise()
        self._reader = threading.Thread(target=self._read, name="claimflow-notify-read", daemon=True)
        self._sender = threading.Thread(target=self._deliver, name="claimflow-notify-send", daemon=True)
        self._reader.start()
        self._sender.start()

    def _pump(self) -> None:
        events, self._offset = read_events(self._events, self._offset)
        for event in events:
            self._outbox.put(event)

    def _read(self) -> None:
        while not self._stop.wait(self._poll):
            self._pump()
            if self._digest and self._digest_every > 0 and time.time() >= self._next_digest:
                self._next_digest = time.time() + self._digest_every
                try:
                    body = self._digest()
                except Exception as exc:  # a digest that cannot be made is one line, not a stop
                    self._say(f"claimflow: the digest could not be made: {self.mask(str(exc))}")
                    continue
                self._outbox.put(Event(DIGEST, "claimflow digest", body, time.time()))

    def _deliver(self) -> None:
        while (event := self._outbox.get()) is not None:
            title, body = self.mask(event.title), self.mask(event.body)
            for url in self.urls:
                try:
                    ok = self._send(url, title, body)
                except Exception:  # a plugin's bug is the receiver's failure, never the batch's
                    ok = False
                if not ok:
                    self.failed += 1
                    self._say(f"claimflow: the {event.kind} notification to {self.mask.url(url)} was not "
                              "delivered (the receiver did not accept it); the batch goes on")  # fmt: skip
            self.sent.append(event)

    def close(self, title: str, body: str) -> None:
        """The run has ended: the events it left, then `title` and `body`, sent within SEND_TIMEOUT."""
        self._stop.set()
        self._reader.join(timeout=SEND_TIMEOUT)
        self._pump()
        self._outbox.put(Event(RUN_ENDED, title, body, time.time()))
        self._outbox.put(None)
        self._sender.join(timeout=SEND_TIMEOUT)


def run_ended(lines: list[str], code: int) -> tuple[str, str]:
    """The run-ended message: the status in the title, the run's last lines in the body."""
    word = {
        0: "done",
        1: "videos failed",
        2: "bad input",
        3: "videos partial",
        4: "budget reached",
        130: "interrupted",
    }.get(code, "failed")
    last = [line for line in lines if line.strip()]
    body = "\n".join(last) if last else "The run ended before any claimflow line (Snakemake's own output says why)."
    return f"claimflow run ended: {word} (exit {code})", f"{body}\nExit status: {code}."
