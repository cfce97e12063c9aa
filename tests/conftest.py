"""Shared fixtures: the repository, the demo clips, and a real HTTP media server on loopback."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "demo"
DEMO_CLIPS = sorted(DEMO.glob("*.ogg"))


@dataclass
class MediaServer:
    """A loopback HTTP server that serves files and logs every request with its time and
    Cookie header. `faults[path]` makes it answer that path with a status instead."""

    root: Path
    port: int = 0
    requests: list[dict] = field(default_factory=list)
    faults: dict[str, tuple[int, dict[str, str]]] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"


def _handler(server: MediaServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(server.root), **kwargs)

        def log_message(self, *args) -> None:  # keep pytest output clean
            pass

        def _record(self) -> None:
            server.requests.append(
                {"t": time.time(), "method": self.command, "path": self.path, "cookie": self.headers.get("Cookie")}
            )

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self._record()
            fault = server.faults.get(self.path)
            if fault:
                status, headers = fault
                body = json.dumps({"error": status}).encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            super().do_GET()

        def do_HEAD(self) -> None:  # noqa: N802
            self._record()
            super().do_HEAD()

    return Handler


@pytest.fixture
def media_server(tmp_path: Path) -> Iterator[MediaServer]:
    root = tmp_path / "www"
    root.mkdir()
    for clip in DEMO_CLIPS:
        (root / clip.name).write_bytes(clip.read_bytes())
    server = MediaServer(root)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    server.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
