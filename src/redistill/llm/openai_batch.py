"""The OpenAI Batch API as a backend: the same requests as the online path, at half price, within 24 h.

``generate(requests)`` writes one JSONL line per request (the body the online path sends), uploads it
(``/v1/files``), starts a batch (``/v1/batches``) and polls it until it ends. State lives in
``state_dir`` (the run folder's ``augment/batches/``), so a killed process resumes by polling:

    <job>.json                  the job: its batch ids, their status and which lines each carried
    <job>.<attempt>.input.jsonl the lines sent;  <job>.<attempt>.output.jsonl the answers received

``job`` is a hash of the request bodies, so the same requests (the same cache misses of a re-run)
find their job. A batch id is saved the moment it exists; a kill between creating a batch and saving
its id is caught by looking the batch up by its metadata before creating another. Lines that failed
or were left undone by an expired or cancelled batch go into a new batch of their own (up to
``max_attempts`` batches in all); only then does a request carry ``Completion.error``. Answers reach
the response cache through ``CachedBackend`` as for the online path (same identity, same keys), and
the ledger prices them at ``BATCH_DISCOUNT`` of the list price.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import openai
from openai.types.chat import ChatCompletion

from redistill.errors import RedistillError
from redistill.llm.openai_api import OpenAIBackend
from redistill.llm.types import Completion, ProgressFn, Request, SamplingParams, Usage

BATCH_DISCOUNT = 0.5
"""Batch API price as a fraction of the online price (OpenAI: 50% off input and output)."""
ENDPOINT = "/v1/chat/completions"
DONE = ("completed", "failed", "expired", "cancelled")


def request_body(model: str, p: SamplingParams, messages: list[dict[str, str]]) -> dict[str, Any]:
    """The chat-completions body of one request, as the online path sends it."""
    body: dict[str, Any] = {"model": model, "messages": messages, "n": p.n, "temperature": p.temperature,
                            "top_p": p.top_p, "max_tokens": p.max_tokens}
    if p.seed is not None:
        body["seed"] = p.seed
    if p.stop:
        body["stop"] = list(p.stop)
    return body


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class OpenAIBatchBackend(OpenAIBackend):
    """``openai:MODEL[@URL]`` through ``/v1/batches``; built by ``make_backend(..., batch_dir=DIR)``."""

    def __init__(self, model: str, base_url: str | None = None, *, batch_dir: str | Path,
                 poll_s: float = 30.0, max_attempts: int = 3, log: Any = None, **options: Any):
        super().__init__(model, base_url, **options)
        if max_attempts < 1 or poll_s < 0:
            raise RedistillError("options: need max_attempts >= 1 and poll_s >= 0 for the batch backend")
        self.state_dir = Path(batch_dir)
        self.poll_s, self.max_attempts = poll_s, max_attempts
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))

    def __repr__(self) -> str:
        return f"OpenAIBatchBackend({self.spec!r})"

    def generate(self, requests: list[Request], progress: ProgressFn | None = None) -> list[Completion]:
        if not requests:
            return []
        with self.ledger.timed():
            job = _Job(self, requests)
            try:
                return job.run(progress)
            except openai.APIStatusError as e:
                raise RedistillError(f"batch job {job.job}: the server answered HTTP {e.status_code} "
                                     f"({_first_line(e)}); fix it and re-run: the job resumes from "
                                     f"{job.state_path}") from None
            except openai.APIError as e:  # connection lost, timeouts: after the client's own retries
                raise RedistillError(f"batch job {job.job}: cannot reach {self.base_url} ({_first_line(e)}); "
                                     f"re-run to resume from {job.state_path}") from None

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(api_key=self._key, base_url=self.base_url, timeout=self.timeout,
                             max_retries=self.max_retries)

    def charge(self, usage: Usage, lines: int) -> None:
        cost = self.prices.cost(self.model, usage)
        if cost is None:
            self.ledger.note(f"no price for model '{self.model}': its cost counts as 0 (add it to the prices)")
        self.ledger.add(calls=lines, usage=usage, cost=(cost or 0.0) * BATCH_DISCOUNT)


class _Job:
    """One ``generate`` call: its lines, its state file, its batches."""

    def __init__(self, backend: OpenAIBatchBackend, requests: list[Request]):
        self.b, self.requests = backend, requests
        self.bodies = [request_body(backend.model, r.params, r.messages) for r in requests]
        blob = json.dumps({"url": backend.base_url, "bodies": self.bodies}, sort_keys=True, ensure_ascii=False)
        self.job = hashlib.sha256(blob.encode()).hexdigest()[:16]
        self.dir = backend.state_dir
        self.state_path = self.dir / f"{self.job}.json"
        self.results: dict[int, Completion] = {}
        self.failures: dict[int, str] = {}
        self.api = backend.client()

    # -- state ---------------------------------------------------------------------------------------
    def load(self) -> dict[str, Any]:
        if not self.state_path.exists():
            return {"job": self.job, "model": self.b.model, "lines": len(self.requests), "attempts": []}
        try:
            state = json.loads(self.state_path.read_text())
        except ValueError as e:
            raise RedistillError(f"{self.state_path}: not valid JSON ({e}); delete it to resubmit that batch "
                                 "(check https://platform.openai.com/batches first: it may still run)") from None
        if state.get("lines") != len(self.requests) or not isinstance(state.get("attempts"), list):
            raise RedistillError(f"{self.state_path}: field 'lines': made for {state.get('lines')} requests, not "
                                 f"{len(self.requests)}; delete it only if its batches are not running")
        return state

    def save(self, state: dict[str, Any]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        _write_atomic(self.state_path, json.dumps(state, indent=1))

    # -- the loop ------------------------------------------------------------------------------------
    def run(self, progress: ProgressFn | None) -> list[Completion]:
        state = self.load()
        for k, attempt in enumerate(list(state["attempts"])):  # resumed: poll what was sent, send nothing twice
            self.collect(state, k, attempt, progress)
        while True:
            pending = [i for i in range(len(self.requests)) if i not in self.results]
            if not pending or len(state["attempts"]) >= self.b.max_attempts:
                break
            k = len(state["attempts"])
            attempt = self.submit(state, k, pending)
            self.collect(state, k, attempt, progress)
        out = []
        for i, r in enumerate(self.requests):
            if i in self.results:
                out.append(self.results[i])
            else:
                why = self.failures.get(i, "not answered")
                self.b.ledger.add(errors=1)
                out.append(Completion(texts=[""] * r.params.n, error=f"batch: {why} (after "
                                      f"{len(state['attempts'])} batch(es) of job {self.job})"))
        return out

    def submit(self, state: dict[str, Any], k: int, pending: list[int]) -> dict[str, Any]:
        lines = [json.dumps({"custom_id": f"r{i}", "method": "POST", "url": ENDPOINT, "body": self.bodies[i]},
                            ensure_ascii=False) for i in pending]
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / f"{self.job}.{k}.input.jsonl"
        _write_atomic(path, "\n".join(lines) + "\n")
        attempt: dict[str, Any] = {"lines": pending, "status": "uploading"}
        state["attempts"].append(attempt)
        self.save(state)
        with open(path, "rb") as f:
            attempt["input_file_id"] = self.api.files.create(file=(path.name, f), purpose="batch").id
        self.save(state)
        self.create(state, k, attempt)
        return attempt

    def create(self, state: dict[str, Any], k: int, attempt: dict[str, Any]) -> None:
        batch = self.api.batches.create(input_file_id=attempt["input_file_id"], endpoint=ENDPOINT,
                                        completion_window="24h",
                                        metadata={"redistill_job": self.job, "attempt": str(k)})
        attempt.update(batch_id=batch.id, status=batch.status)
        self.save(state)
        self.b.log(f"batch {batch.id}: {len(attempt['lines'])} requests sent (job {self.job}, batch {k + 1})")

    def find(self, attempt: dict[str, Any], k: int) -> str | None:
        """The batch made from this attempt's file before a kill could save its id, if any."""
        for batch in self.api.batches.list(limit=100):
            meta = batch.metadata or {}
            if meta.get("redistill_job") == self.job and meta.get("attempt") == str(k) \
                    and batch.input_file_id == attempt.get("input_file_id"):
                return batch.id
        return None

    def collect(self, state: dict[str, Any], k: int, attempt: dict[str, Any], progress: ProgressFn | None) -> None:
        """Wait for one batch to end and take in its answers."""
        out_path = self.dir / f"{self.job}.{k}.output.jsonl"
        if not out_path.exists():
            if not attempt.get("batch_id"):
                if not attempt.get("input_file_id"):  # killed before the upload finished: nothing was sent
                    state["attempts"].remove(attempt)
                    self.save(state)
                    return
                found = self.find(attempt, k)
                if found:
                    attempt.update(batch_id=found)
                    self.save(state)
                else:
                    self.create(state, k, attempt)
            batch = self.wait(state, attempt)
            if batch.status == "failed" and not batch.output_file_id:  # the file was refused: nothing ran
                errors = getattr(batch.errors, "data", None) or []
                why = "; ".join(f"{e.code}: {e.message}" for e in errors[:3]) or "no reason given"
                state["attempts"].remove(attempt)  # a re-run sends it again
                self.save(state)
                raise RedistillError(f"batch {batch.id} was refused as a whole ({why}); nothing was charged. "
                                     "Fix the cause and re-run")
            text = ""
            for file_id in (batch.output_file_id, batch.error_file_id):
                if file_id:
                    text += self.api.files.content(file_id).text.rstrip("\n") + "\n"
            _write_atomic(out_path, text)
        self.read(out_path, attempt, progress)

    def wait(self, state: dict[str, Any], attempt: dict[str, Any]) -> Any:
        last = None
        while True:
            batch = self.api.batches.retrieve(attempt["batch_id"])
            if batch.status != last:
                counts = batch.request_counts
                done = f" {counts.completed + counts.failed}/{counts.total}" if counts else ""
                self.b.log(f"batch {batch.id}: {batch.status}{done}")
                attempt["status"] = last = batch.status
                self.save(state)
            if batch.status in DONE:
                return batch
            time.sleep(self.b.poll_s)

    def read(self, path: Path, attempt: dict[str, Any], progress: ProgressFn | None) -> None:
        sent = set(attempt["lines"])
        got = 0
        usage = Usage()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                i = int(str(row["custom_id"]).removeprefix("r"))
            except (ValueError, KeyError, TypeError):
                raise RedistillError(f"{path}:{n}: field 'custom_id': not a line this job sent; delete the "
                                     "file to download the batch's answers again") from None
            if i not in sent or i in self.results:
                continue
            response, error = row.get("response") or {}, row.get("error")
            if error or response.get("status_code") != 200:
                why = (error or {}).get("message") or _error_text(response)
                self.failures[i] = f"HTTP {response.get('status_code')}: {why}" if not error else str(why)
                continue
            try:
                resp = ChatCompletion.model_validate(response["body"])
            except (ValueError, KeyError) as e:
                self.failures[i] = f"bad response: {str(e).splitlines()[0][:200]}"
                continue
            p = self.requests[i].params
            texts = [c.message.content or "" for c in resp.choices][: p.n]
            u = Usage(resp.usage.prompt_tokens or 0, resp.usage.completion_tokens or 0) if resp.usage else Usage()
            short = f"the server returned {len(texts)} of {p.n} samples" if len(texts) < p.n else None
            self.results[i] = Completion(texts=texts + [""] * (p.n - len(texts)), usage=u, error=short)
            self.failures.pop(i, None)
            usage = usage + u
            got += 1
        for i in sent - set(self.results) - set(self.failures):
            self.failures[i] = f"left undone by a batch that ended {attempt.get('status', 'early')}"
        if got:
            self.b.charge(usage, got)
            if progress:
                progress(got, usage)


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:200]


def _error_text(response: dict[str, Any]) -> str:
    body = response.get("body")
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message") or body["error"])[:200]
    return str(body)[:200]
