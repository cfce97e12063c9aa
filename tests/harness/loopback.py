"""What every test server here shares: an HTTP server on 127.0.0.1 at a free port, serving from
a thread while its `with` block lasts."""

from __future__ import annotations

import http.server
import threading
from typing import Self


class LoopbackServer:
    """A base for the servers: `_serve(handler)` in `__init__`, then `with server: ...`."""

    port: int

    def _serve(self, handler: type[http.server.BaseHTTPRequestHandler],
               server: type[http.server.ThreadingHTTPServer] = http.server.ThreadingHTTPServer) -> None:  # fmt: skip
        self._httpd = server(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True  # a client that hangs up never holds the test's exit
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
