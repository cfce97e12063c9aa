"""A forwarding HTTP proxy on loopback that demands a password (Basic Proxy-Authorization), as
an account's proxy does: for tests that a proxy password is used and never leaks."""

from __future__ import annotations

import base64
import http.server
import threading
import urllib.request
from dataclasses import dataclass

from tests.harness.loopback import LoopbackServer


@dataclass
class Forwarded:
    url: str
    status: int


class AuthProxy(LoopbackServer):
    def __init__(self, user: str, password: str):
        self.expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.forwarded: list[Forwarded] = []
        self.refused = 0
        self._lock = threading.Lock()
        self._serve(self._handler())

    def url(self, user: str, password: str) -> str:
        return f"http://{user}:{password}@127.0.0.1:{self.port}"

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        proxy = self
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy itself

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.headers.get("Proxy-Authorization") != proxy.expected:
                    with proxy._lock:
                        proxy.refused += 1
                    self.send_response(407)
                    self.send_header("Proxy-Authenticate", 'Basic realm="test"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-authorization", "host")}
                try:
                    with direct.open(urllib.request.Request(self.path, headers=headers), timeout=30) as answer:
                        status, body, kind = answer.status, answer.read(), answer.headers.get("Content-Type")
                except urllib.error.HTTPError as error:
                    status, body, kind = error.code, error.read(), "application/json"
                with proxy._lock:
                    proxy.forwarded.append(Forwarded(self.path, status))
                self.send_response(status)
                self.send_header("Content-Type", kind or "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
