"""A notification receiver on loopback: what Apprise's `json://` scheme posts (title, message,
type, with the URL's user and password as HTTP basic auth), recorded as it came on the wire."""

from __future__ import annotations

import http.server
import json
import socket

from tests.harness.loopback import LoopbackServer


class Receiver(LoopbackServer):
    def __init__(self) -> None:
        self.posts: list[dict] = []  # each body as JSON
        self.raw: list[bytes] = []  # each request's headers and body, as received
        received = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server hook's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.raw.append(bytes(self.headers) + body)
                received.posts.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._serve(Handler)

    def url(self, path: str = "hook", user: str = "") -> str:
        return f"json://{user + '@' if user else ''}127.0.0.1:{self.port}/{path}"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then let go): a receiver that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
