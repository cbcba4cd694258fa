"""A loopback stub of OpenAI's Batch API (``/v1/files``, ``/v1/batches``) plus ``/v1/chat/completions``.

    with FakeBatchServer() as server:
        backend = make_backend(f"openai:gpt-4o@{server.url}", batch_dir=tmp, poll_s=0.01)
        server.plans.append(BatchPlan(expire_after=2))   # the next batch expires after 2 lines
        server.hold = True                               # batches stay in_progress until released

Each batch runs its lines when it is polled ``polls`` times (and ``hold`` is off), answering each
body with ``responder`` (default ``echo_responder``) in the shape of the online stub, so batch and online answers are equal.
``lines_run`` counts every line a batch answered (what a real batch would bill).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .openai_server import LoopbackServer, echo_responder


@dataclass
class BatchPlan:
    """How the next batch created behaves."""

    expire_after: int | None = None
    """Answer only this many lines, then end ``expired`` (the rest get ``batch_expired`` errors)."""
    fail: Callable[[dict], bool] | None = None
    """Lines whose body this accepts are answered with HTTP 500 in the error file."""
    refuse: bool = False
    """The whole input file is refused: status ``failed`` with ``errors``, no output file."""


def completion(body: dict, n_seen: int, responder=echo_responder) -> dict:
    texts = responder(body)
    prompt_tokens = sum(len(m["content"].split()) for m in body["messages"])
    completion_tokens = sum(len(t.split()) for t in texts)
    return {"id": f"chatcmpl-{n_seen}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", ""),
            "choices": [{"index": i, "finish_reason": "stop", "message": {"role": "assistant", "content": t}}
                        for i, t in enumerate(texts)],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}


class FakeBatchServer(LoopbackServer):
    def __init__(self, polls: int = 2, responder=echo_responder):
        self.polls, self.responder = polls, responder
        self.hold = False
        self.plans: deque[BatchPlan] = deque()
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.lines_run: list[str] = []
        """``custom_id`` of every line answered, across batches."""
        self.bodies_run: list[dict] = []
        self.chat_requests: list[dict] = []
        self._plans: dict[str, BatchPlan] = {}
        self._polled: dict[str, int] = {}
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    # -- batch logic -----------------------------------------------------------------------------
    def _new_file(self, data: bytes, purpose: str, name: str) -> dict:
        fid = f"file-{len(self.files) + 1}"
        self.files[fid] = data
        return {"id": fid, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                "filename": name, "purpose": purpose, "status": "processed"}

    def _create_batch(self, body: dict) -> dict:
        bid = f"batch_{len(self.batches) + 1}"
        batch = {"id": bid, "object": "batch", "endpoint": body["endpoint"], "errors": None,
                 "input_file_id": body["input_file_id"], "completion_window": body["completion_window"],
                 "status": "validating", "output_file_id": None, "error_file_id": None,
                 "created_at": int(time.time()), "metadata": body.get("metadata"),
                 "request_counts": {"total": 0, "completed": 0, "failed": 0}}
        self.batches[bid] = batch
        self._plans[bid] = self.plans.popleft() if self.plans else BatchPlan()
        self._polled[bid] = 0
        return batch

    def _poll(self, bid: str) -> dict:
        batch = self.batches[bid]
        if batch["status"] in ("completed", "failed", "expired", "cancelled"):
            return batch
        self._polled[bid] += 1
        if self.hold or self._polled[bid] < self.polls:
            batch["status"] = "in_progress"
            return batch
        plan = self._plans[bid]
        if plan.refuse:
            batch.update(status="failed", errors={"object": "list", "data": [
                {"code": "invalid_request", "message": "line 1: model not found", "line": 1, "param": "model"}]})
            return batch
        lines = [json.loads(x) for x in self.files[batch["input_file_id"]].decode().splitlines() if x.strip()]
        out, err = [], []
        for j, line in enumerate(lines):
            cid, body = line["custom_id"], line["body"]
            if plan.expire_after is not None and j >= plan.expire_after:
                err.append({"id": f"req_{cid}", "custom_id": cid, "response": None,
                            "error": {"code": "batch_expired", "message": "This request could not be executed "
                                      "before the completion window expired."}})
            elif plan.fail is not None and plan.fail(body):
                err.append({"id": f"req_{cid}", "custom_id": cid, "error": None,
                            "response": {"status_code": 500, "request_id": "x",
                                         "body": {"error": {"message": "injected failure", "type": "server_error"}}}})
            else:
                self.lines_run.append(cid)
                self.bodies_run.append(body)
                out.append({"id": f"req_{cid}", "custom_id": cid, "error": None,
                            "response": {"status_code": 200, "request_id": "x",
                                         "body": completion(body, len(self.lines_run), self.responder)}})
        if out:
            batch["output_file_id"] = self._new_file("".join(json.dumps(x) + "\n" for x in out).encode(),
                                                     "batch_output", f"{bid}_output.jsonl")["id"]
        if err:
            batch["error_file_id"] = self._new_file("".join(json.dumps(x) + "\n" for x in err).encode(),
                                                    "batch_output", f"{bid}_error.jsonl")["id"]
        batch["request_counts"] = {"total": len(lines), "completed": len(out), "failed": len(err)}
        batch["status"] = "expired" if plan.expire_after is not None and plan.expire_after < len(lines) else "completed"
        return batch

    # -- http ------------------------------------------------------------------------------------
    def start(self) -> FakeBatchServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                path = self.path.split("?")[0].rstrip("/")
                with server._lock:
                    if path.endswith("/batches"):
                        data = sorted(server.batches.values(), key=lambda b: b["id"], reverse=True)
                        return self._json(200, {"object": "list", "data": data, "has_more": False,
                                                "first_id": None, "last_id": None})
                    if "/batches/" in path:
                        bid = path.rsplit("/", 1)[1]
                        if bid not in server.batches:
                            return self._json(404, {"error": {"message": "no such batch"}})
                        return self._json(200, server._poll(bid))
                    if path.endswith("/content"):
                        fid = path.split("/")[-2]
                        data = server.files.get(fid)
                        if data is None:
                            return self._json(404, {"error": {"message": "no such file"}})
                        return self._send(200, data, "application/octet-stream")
                return self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path.split("?")[0].rstrip("/")
                with server._lock:
                    if path.endswith("/files"):
                        head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
                        msg = BytesParser(policy=email_policy).parsebytes(head + raw)
                        fields = {p.get_param("name", header="content-disposition"): p for p in msg.iter_parts()}
                        part = fields["file"]
                        return self._json(200, server._new_file(part.get_payload(decode=True),
                                                                fields["purpose"].get_content().strip(),
                                                                part.get_filename() or "upload.jsonl"))
                    if path.endswith("/batches"):
                        return self._json(200, server._create_batch(json.loads(raw)))
                    if path.endswith("/chat/completions"):
                        body = json.loads(raw)
                        server.chat_requests.append(body)
                        return self._json(200, completion(body, len(server.chat_requests), server.responder))
                return self._json(404, {"error": {"message": "not found"}})

            def _json(self, status: int, payload: dict) -> None:
                self._send(status, json.dumps(payload).encode(), "application/json")

            def _send(self, status: int, data: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._serve(Handler)
        return self
