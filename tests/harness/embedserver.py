"""An OpenAI-compatible `/v1/embeddings` server on loopback, for tests: the bundled SmolLM2-135M
through llama-cpp-python, its token states mean-pooled into one 576-dimension vector per text
(llama_cpp.server answers a vector per token for this model, having no pooling option). It
answers in the OpenAI format (`data[].embedding`, `index`, `usage`), logs each request with its
Authorization header, and on command answers an HTTP status instead (a fault)."""

from __future__ import annotations

import http.server
import json
import threading
import time
from dataclasses import dataclass

from claimflow.core.models import bundled_gguf_path
from tests.harness.loopback import LoopbackServer


@dataclass
class Seen:
    t: float
    texts: int
    authorization: str | None
    answer: int


class EmbeddingServer(LoopbackServer):
    def __init__(self, model_name: str = "smollm2"):
        import llama_cpp  # the model once per server

        self.model_name = model_name
        self.requests: list[Seen] = []
        self.fail_with: int | None = None  # an HTTP status to answer every request with
        self._lock = threading.Lock()
        self._llama = llama_cpp.Llama(model_path=bundled_gguf_path(), embedding=True, n_threads=2, n_ctx=512,
                                      pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN, verbose=False)  # fmt: skip
        self._serve(self._handler())
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, payload: dict) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self._send(200, {"object": "list", "data": [{"id": server.model_name, "object": "model"}]})

            def do_POST(self) -> None:  # noqa: N802
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                texts = request.get("input") or []
                texts = [texts] if isinstance(texts, str) else texts
                status = server.fail_with or 200
                with server._lock:
                    server.requests.append(Seen(time.time(), len(texts), self.headers.get("Authorization"), status))
                if status != 200:
                    self._send(status, {"error": {"message": f"fault {status}", "type": "server_error"}})
                    return
                with server._lock:  # llama.cpp's context is one at a time
                    vectors = [server._llama.embed(text) for text in texts]
                data = [{"object": "embedding", "index": i, "embedding": [float(x) for x in v]}
                        for i, v in enumerate(vectors)]  # fmt: skip
                tokens = sum(len(t.split()) for t in texts)
                self._send(200, {"object": "list", "model": server.model_name, "data": data,
                                 "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})  # fmt: skip

        return Handler
