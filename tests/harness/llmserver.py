"""LLM servers on loopback for tests and benchmarks.

- `llama_server()`: the real OpenAI-compatible server of llama-cpp-python
  (`python -m llama_cpp.server`) running the bundled SmolLM2-135M.
- `FaultProxy`: an OpenAI-compatible front that forwards chat completions to an upstream
  (the real server) and, on command, answers 429 with Retry-After, 500, hangs past the
  client's timeout, returns malformed JSON or JSON that breaks the schema. Without an
  upstream it answers at once with `{}` (a fast server for rate benchmarks). It logs every
  request with its time.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field

from claimflow.core.models import bundled_gguf_path
from tests.harness.loopback import LoopbackServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def llama_server(threads: int = 2) -> Iterator[str]:
    """Start llama_cpp.server with the bundled model; yield its base URL (…/v1)."""
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", bundled_gguf_path(), "--host", "127.0.0.1",
               "--port", str(port), "--n_threads", str(threads), "--n_ctx", "4096", "--seed", "0"]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/models", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("llama_cpp.server did not start") from None
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@dataclass
class LLMFault:
    action: str  # "status", "hang", "malformed", "bad_schema", "content"
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 5.0
    times: int | None = 1
    content: str = ""  # the answer's text, for action "content"


@dataclass
class Seen:
    t: float
    answer: str
    response_format: str | None
    authorization: str | None = None  # the request's Authorization header, as sent
    model: str | None = None  # the model the request named
    messages: str = ""  # what it asked, as JSON (to tell a request asked again from a new one)


class FaultProxy(LoopbackServer):
    def __init__(self, upstream: str | None = None):
        self.upstream = upstream.rstrip("/") if upstream else None
        self.faults: list[LLMFault] = []
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self._serve(self._handler())
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def add(self, fault: LLMFault) -> LLMFault:
        self.faults.append(fault)
        return fault

    def answered(self, answer: str) -> list[Seen]:
        return [r for r in self.requests if r.answer == answer]

    def _take(self) -> LLMFault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times is None or fault.times > 0:
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = json.loads(body or b"{}")
                fault = proxy._take()
                answer = "ok" if fault is None else (fault.action if fault.action != "status" else str(fault.status))
                kind = (request.get("response_format") or {}).get("type")
                with proxy._lock:
                    proxy.requests.append(Seen(time.time(), answer, kind, self.headers.get("Authorization"),
                                               request.get("model"), json.dumps(request.get("messages"))))  # fmt: skip
                if fault is not None and fault.action == "status":
                    return self._send(fault.status, {"error": {"message": "injected", "type": "fault"}}, fault.headers)
                if fault is not None and fault.action == "hang":
                    time.sleep(fault.delay)
                status, payload = self._forward(body)
                if fault is not None and fault.action in ("malformed", "bad_schema", "content") and status == 200:
                    content = {"malformed": '{"claims": [{"claim_text": "cut off', "bad_schema": '{"claims": 7}'}
                    payload["choices"][0]["message"]["content"] = content.get(fault.action, fault.content)
                self._send(status, payload)

            def do_GET(self) -> None:  # noqa: N802 - the model list: the upstream's, else the fast fake's
                if proxy.upstream is not None and self.path.endswith("/models"):
                    with urllib.request.urlopen(f"{proxy.upstream}/models", timeout=30) as answer:
                        return self._send(200, json.loads(answer.read()))
                self._send(200, {"object": "list", "data": [{"id": "fast", "object": "model"}]})

            def _forward(self, body: bytes) -> tuple[int, dict]:
                if proxy.upstream is None:
                    message = {"role": "assistant", "content": "{}"}
                    return 200, {
                        "id": "x", "object": "chat.completion", "created": int(time.time()), "model": "fast",
                        "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    }  # fmt: skip
                upstream = urllib.request.Request(
                    f"{proxy.upstream}/chat/completions", data=body, headers={"Content-Type": "application/json"}
                )
                try:
                    with urllib.request.urlopen(upstream, timeout=300) as reply:
                        return reply.status, json.loads(reply.read())
                except urllib.error.HTTPError as error:
                    return error.code, {"error": {"message": error.read().decode(errors="replace")[:500]}}

            def _send(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout): nothing to answer

        return Handler
