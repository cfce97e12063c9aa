"""A fault-injecting media server on loopback, for tests and benchmarks.

It serves files from a folder over real HTTP and logs every request with its time, path
and Cookie header. Rules make it misbehave on command: answer a status (429 with
Retry-After, 401, 403, 404, 500), reset the connection, send a truncated body, or send the
body slowly; each rule can match a path and/or a cookie substring, and fire a limited
number of times.
"""

from __future__ import annotations

import http.server
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from tests.harness.loopback import LoopbackServer


@dataclass
class Fault:
    action: str  # "status", "reset", "truncate", "slow", "html" (a page without media, as a changed site serves)
    path: str | None = None
    cookie: str | None = None
    times: int | None = None  # None: always
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    keep_bytes: int = 1000  # truncate: bytes sent of the promised body
    delay: float = 1.0  # slow: seconds before each chunk

    def matches(self, path: str, cookie: str | None) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.path is not None and self.path != path:
            return False
        return self.cookie is None or (cookie is not None and self.cookie in cookie)


@dataclass
class Request:
    t: float
    method: str
    path: str
    cookie: str | None
    answer: str


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001
        # Clients hang up mid-body on purpose (yt-dlp reads headers, then reconnects).
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FaultServer(LoopbackServer):
    def __init__(self, root: Path):
        self.root = Path(root)
        self.faults: list[Fault] = []
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._serve(self._handler(), _QuietServer)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def add(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def _take_fault(self, path: str, cookie: str | None) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(path, cookie):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(server.root), **kwargs)

            def log_message(self, *args) -> None:
                pass

            def guess_type(self, path) -> str:  # noqa: ANN001
                # A file without an extension stands for a site's page address (`/watch/v00`) whose
                # media is served there directly: audio, so yt-dlp takes it as a direct link.
                return "audio/ogg" if not Path(str(path)).suffix else super().guess_type(path)

            def _log(self, answer: str) -> None:
                with server._lock:
                    server.requests.append(
                        Request(time.time(), self.command, self.path, self.headers.get("Cookie"), answer)
                    )

            def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
                self.do_GET()

            def do_GET(self) -> None:  # noqa: N802
                fault = server._take_fault(self.path, self.headers.get("Cookie"))
                target = server.root / unquote(self.path.lstrip("/").split("?", 1)[0])
                if fault is None:
                    if not target.is_file():
                        self._log("404")
                        self._status(404, {})
                        return
                    self._log("200")
                    return super().do_GET() if self.command == "GET" else super().do_HEAD()
                self._log(fault.action if fault.action != "status" else str(fault.status))
                if fault.action == "status":
                    self._status(fault.status, fault.headers)
                elif fault.action == "reset":
                    # RST instead of FIN: the client sees "connection reset by peer".
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                elif fault.action == "html":
                    body = b"<html><head><title>Watch</title></head><body><p>Loading the player</p></body></html>"
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if self.command == "GET":
                        self.wfile.write(body)
                elif fault.action in ("truncate", "slow"):
                    body = target.read_bytes()
                    self.send_response(200)
                    self.send_header("Content-Type", "audio/ogg")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if fault.action == "truncate":
                        self.wfile.write(body[: fault.keep_bytes])
                        self.wfile.flush()
                        self.connection.shutdown(socket.SHUT_RDWR)
                        self.close_connection = True
                        return
                    for start in range(0, len(body), 8192):
                        time.sleep(fault.delay)
                        try:
                            self.wfile.write(body[start : start + 8192])
                            self.wfile.flush()
                        except OSError:
                            return

            def _status(self, status: int, headers: dict[str, str]) -> None:
                body = f'{{"error": {status}}}'.encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command == "GET":
                    self.wfile.write(body)

        return Handler
