"""A real OpenAI-compatible HTTP server on 127.0.0.1 for tests (reusable by any test module).

    with FakeOpenAIServer(responder=lambda body: ["rule: reverse"]) as server:
        backend = make_backend(f"openai:m@{server.url}", cache=None)
        server.faults.append(Fault.rate_limit(retry_after=0.1))   # the next request gets a 429
        ...
        server.requests       # every JSON body received, in order (thread-safe list)

``responder(body) -> list[str]`` gives the texts of the choices; the default echoes the last message
with the choice index, so answers are deterministic and distinct per sample. Faults queued in
``faults`` are consumed one per request (the first whose ``when`` accepts the body), before the
responder runs. ``headers`` logs each request's headers (lower-case names).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[dict], list[str]]


class Drop(Exception):
    """Raised by a responder: the connection is closed with no answer (a server killed mid-request)."""


def echo_responder(body: dict) -> list[str]:
    """``"echo[i]: <last message>"`` for each of the n choices asked for."""
    last = body["messages"][-1]["content"]
    return [f"echo[{i}]: {last}" for i in range(int(body.get("n") or 1))]


@dataclass
class Fault:
    """What the server does instead of answering one request."""

    status: int = 500
    body: str = '{"error": {"message": "injected failure", "type": "server_error"}}'
    content_type: str = "application/json"
    headers: dict[str, str] | None = None
    sleep: float = 0.0
    """Seconds to wait before answering (a hang past the client's timeout)."""
    when: Callable[[dict], bool] | None = None
    """Only a request whose body this accepts consumes the fault (None: the next request does)."""
    sticky: bool = False
    """Stay queued after use: every matching request gets it (a teacher that is down for some tasks)."""

    @classmethod
    def rate_limit(cls, retry_after: float = 0.05) -> Fault:
        return cls(429, '{"error": {"message": "rate limited", "type": "rate_limit"}}',
                   headers={"Retry-After": f"{retry_after:g}"})

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        return cls(status)

    @classmethod
    def hang(cls, seconds: float) -> Fault:
        return cls(status=200, body="{}", sleep=seconds)

    @classmethod
    def not_json(cls) -> Fault:
        return cls(status=200, body="<html>upstream proxy error</html>", content_type="text/html")

    @classmethod
    def unauthorized(cls) -> Fault:
        return cls(401, '{"error": {"message": "invalid api key", "type": "invalid_request_error"}}')


class LoopbackServer:
    """Serve a request handler on 127.0.0.1 from a daemon thread; ``with`` starts and stops it."""

    _httpd: ThreadingHTTPServer | None = None

    def _serve(self, handler: type[BaseHTTPRequestHandler], port: int = 0) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def start(self):  # pragma: no cover - each server defines its handler
        raise NotImplementedError

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class FakeOpenAIServer(LoopbackServer):
    """``/v1/chat/completions`` with ``n`` and ``usage`` on a free port, served from a thread."""

    def __init__(self, responder: Responder = echo_responder, ignore_n: bool = False, port: int = 0):
        self.port = port
        """0: a free port; a fixed one restarts a server where a spec's URL points."""
        self.responder = responder
        self.ignore_n = ignore_n
        """Answer with one choice whatever ``n`` was asked (like servers without n support)."""
        self.faults: deque[Fault] = deque()
        self.requests: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    def start(self) -> FakeOpenAIServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    return self._send(404, '{"error": {"message": "not found"}}')
                body = json.loads(raw or b"{}")
                with server._lock:
                    server.requests.append(body)
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                    fault = next((f for f in server.faults if f.when is None or f.when(body)), None)
                    if fault is not None and not fault.sticky:
                        server.faults.remove(fault)
                if fault is not None:
                    if fault.sleep:
                        time.sleep(fault.sleep)
                    return self._send(fault.status, fault.body, fault.content_type, fault.headers)
                try:
                    texts = server.responder(body)
                except Drop:
                    self.close_connection = True
                    return
                if server.ignore_n:
                    texts = texts[:1]
                prompt_tokens = sum(len(m["content"].split()) for m in body["messages"])
                payload = {
                    "id": f"chatcmpl-{len(server.requests)}", "object": "chat.completion",
                    "created": int(time.time()), "model": body.get("model", ""),
                    "choices": [{"index": i, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": t}} for i, t in enumerate(texts)],
                    "usage": {"prompt_tokens": prompt_tokens,
                              "completion_tokens": sum(len(t.split()) for t in texts),
                              "total_tokens": prompt_tokens + sum(len(t.split()) for t in texts)},
                }
                self._send(200, json.dumps(payload))

            def _send(self, status: int, body: str, content_type: str = "application/json",
                      headers: dict[str, str] | None = None) -> None:
                data = body.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass

        self._serve(Handler, self.port)
        return self
