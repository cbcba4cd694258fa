"""Any OpenAI-compatible chat server (OpenAI, vLLM serve, llama.cpp, Ollama, DeepSeek...) on the official
async client: many requests in flight, the SDK's retries (429 after ``Retry-After``, 5xx, timeouts),
n samples per request, costs.

The first call of a backend goes out alone: a wrong URL, key or model name (any 400/401/403/404/422)
then fails once, clearly and in the server's own words, before a batch of thousands is spent. After that, a request that fails for good records its reason in
``Completion.error`` and the rest of the batch goes on.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import openai
from openai.types.chat import ChatCompletion

from redistill.errors import RedistillError
from redistill.llm.types import Completion, ProgressFn, Request, ResultFn, SamplingParams, Usage
from redistill.llm.usage import PriceTable, UsageLedger

OPENAI_URL = "https://api.openai.com/v1"
RETRY_STATUS = {408, 409, 429}  # and every 5xx: what the SDK retries
FATAL_STATUS = {400, 401, 403, 404, 422}
"""On the first call of a backend these name the model, key or request as wrong: stop before a batch."""


class _GaveUp(Exception):
    """A request that failed for good; its message goes into ``Completion.error``."""


class _BadResponse(Exception):
    """The server answered 2xx with something that is not a chat completion (a proxy page, bad JSON)."""


class OpenAIBackend:
    """``openai:MODEL`` or ``openai:MODEL@http://host:port/v1``."""

    def __init__(self, model: str, base_url: str | None = None, *, spec: str | None = None,
                 api_key_env: str = "OPENAI_API_KEY", concurrency: int = 32, timeout: float = 120.0,
                 max_retries: int = 6, backoff_base: float = 1.0, backoff_max: float = 60.0,
                 prices: Any = None, ledger: UsageLedger | None = None):
        self.spec = spec or f"openai:{model}" + (f"@{base_url}" if base_url else "")
        self.model = model
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_URL).rstrip("/")
        key = os.environ.get(api_key_env)
        if not key:
            if base_url is None:
                raise RedistillError(
                    f"model spec '{self.spec}': ${api_key_env} is not set; export your API key in it, or name "
                    "your own server as openai:MODEL@http://host:port/v1 (which may go without a key)")
            key = "EMPTY"  # local servers accept any key
        self._key = key  # never in identity(), the cache or logs
        self.key_env = api_key_env
        if concurrency < 1 or max_retries < 0 or timeout <= 0:
            raise RedistillError("options: need concurrency >= 1, max_retries >= 0 and timeout > 0")
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.prices = prices if isinstance(prices, PriceTable) else PriceTable(prices)
        self.ledger = ledger or UsageLedger()
        self.n_supported: bool | None = None
        """Learned from the first n>1 answer: False once a server returned fewer choices than asked."""
        self._verified = False

    def __repr__(self) -> str:
        return f"OpenAIBackend({self.spec!r})"

    def identity(self) -> dict[str, Any]:
        return {"engine": "openai", "model": self.model, "base_url": self.base_url}

    def generate(self, requests: list[Request], progress: ProgressFn | None = None,
                 on_result: ResultFn | None = None) -> list[Completion]:
        """``on_result(i, completion)`` is called as each request finishes (the cache stores it at once,
        so a kill mid-batch loses no answer already paid for)."""
        with self.ledger.timed():
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return asyncio.run(self._generate(requests, progress, on_result))
            with ThreadPoolExecutor(1) as pool:  # called from inside an event loop (a notebook)
                return pool.submit(asyncio.run, self._generate(requests, progress, on_result)).result()

    async def _generate(self, requests: list[Request], progress: ProgressFn | None,
                        on_result: ResultFn | None) -> list[Completion]:
        async def hook(request: Any) -> None:
            self._count_retry(request)

        http = openai.DefaultAsyncHttpxClient(event_hooks={"request": [hook]})
        client = openai.AsyncOpenAI(api_key=self._key, base_url=self.base_url, max_retries=self.max_retries,
                                    timeout=self.timeout, http_client=http)
        sem = asyncio.Semaphore(self.concurrency)
        results: list[Completion | None] = [None] * len(requests)

        async def run(i: int, probe: bool = False) -> None:
            results[i] = await self._complete(client, sem, requests[i], probe)
            if on_result:
                on_result(i, results[i])
            if progress:
                progress(1, results[i].usage)

        try:
            first = 0
            if requests and not self._verified:
                await run(0, probe=True)
                self._verified = True
                first = 1
            await asyncio.gather(*(run(i) for i in range(first, len(requests))))
        finally:
            await client.close()
        return results  # type: ignore[return-value]

    async def _complete(self, client: Any, sem: asyncio.Semaphore, req: Request, probe: bool) -> Completion:
        """All n samples of one request: one call with n, then single calls for what it did not return."""
        p = req.params
        texts: list[str] = []
        usage = Usage()
        try:
            if p.n == 1 or self.n_supported is not False:
                resp = await self._call(client, sem, req.messages, p, probe)
                texts += [c.message.content or "" for c in resp.choices][: p.n]
                usage = usage + _usage(resp)
                if p.n > 1:
                    self.n_supported = len(resp.choices) >= p.n
            missing = p.n - len(texts)
            if missing > 0:
                singles = [replace(p, n=1, seed=None if p.seed is None else p.seed + len(texts) + j)
                           for j in range(missing)]
                for resp in await asyncio.gather(*(self._call(client, sem, req.messages, s, False)
                                                   for s in singles)):
                    texts.append((resp.choices[0].message.content or "") if resp.choices else "")
                    usage = usage + _usage(resp)
        except _GaveUp as e:
            self.ledger.add(errors=1)
            return Completion(texts=texts + [""] * (p.n - len(texts)), usage=usage, error=str(e))
        return Completion(texts=texts, usage=usage)

    async def _call(self, client: Any, sem: asyncio.Semaphore, messages: list[dict[str, str]],
                    p: SamplingParams, probe: bool) -> ChatCompletion:
        """One chat completion. The SDK retries 408/409/429 (after ``Retry-After``), 5xx, timeouts and lost
        connections with its own backoff; we add only a retry of a 2xx that is not a chat completion."""
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages, "n": p.n,
                                  "temperature": p.temperature, "top_p": p.top_p, "max_tokens": p.max_tokens}
        if p.seed is not None:
            kwargs["seed"] = p.seed
        if p.stop:
            kwargs["stop"] = list(p.stop)
        retries = min(self.max_retries, 1) if probe else self.max_retries  # a dead URL fails fast
        sdk = client.with_options(max_retries=retries)
        for attempt in range(retries + 1):
            try:
                async with sem:
                    resp = await sdk.chat.completions.create(**kwargs)
                if not isinstance(resp, ChatCompletion) or not isinstance(resp.choices, list):
                    raise _BadResponse(f"not a chat completion: {str(resp)[:120]!r}")
                self._account(resp)
                return resp
            except openai.APIStatusError as e:
                status, words = e.status_code, server_words(e)
                if probe and status in FATAL_STATUS:
                    raise RedistillError(f"model spec '{self.spec}': {_fatal_hint(status, self.key_env)}; the "
                                         f"server said (HTTP {status}): {words}") from None
                tried = f" after {_retries(retries)}" if status in RETRY_STATUS or status >= 500 else ""
                raise _GaveUp(f"HTTP {status}{tried}: {words}") from None
            except openai.APITimeoutError:
                raise _GaveUp(f"no answer within {self.timeout:g}s after {_retries(retries)}; a slow or busy "
                              "server needs a larger --timeout or a smaller --concurrency") from None
            except openai.APIConnectionError as e:
                if probe:
                    raise RedistillError(f"model spec '{self.spec}': cannot reach {self.base_url} "
                                         f"({_short(e)}); is the server running and the URL right?") from None
                raise _GaveUp(f"connection failed after {_retries(retries)}: {_short(e)}") from None
            except (_BadResponse, openai.APIResponseValidationError, ValueError) as e:
                if attempt == retries:
                    raise _GaveUp(f"bad response after {_retries(retries)}: {_short(e)}") from None
                self.ledger.add(retries=1)
                await asyncio.sleep(min(self.backoff_max, self.backoff_base * 2**attempt) * random.uniform(0.5, 1))
        raise AssertionError("unreachable")

    def _count_retry(self, request: Any) -> None:
        """httpx request hook: the SDK marks each retry it sends with ``x-stainless-retry-count``."""
        try:
            if int(request.headers.get("x-stainless-retry-count") or 0) > 0:
                self.ledger.add(retries=1)
        except ValueError:
            pass

    def _account(self, resp: ChatCompletion) -> None:
        usage = _usage(resp)
        cost = self.prices.cost(self.model, usage)
        if cost is None:
            self.ledger.note(f"no price for model '{self.model}': its cost counts as 0 (add it to the prices)")
        self.ledger.add(calls=1, usage=usage, cost=cost or 0.0)


def _usage(resp: ChatCompletion) -> Usage:
    u = resp.usage
    return Usage(u.prompt_tokens or 0, u.completion_tokens or 0) if u else Usage()


def _retries(n: int) -> str:
    return "1 retry" if n == 1 else f"{n} retries"


def _fatal_hint(status: int, key_env: str) -> str:
    if status in (401, 403):
        return f"authentication failed; check ${key_env}"
    if status == 404:
        return "model or endpoint not found; check the model name and the URL (…/v1)"
    return "the server rejected the request (a wrong model name, or an option it does not take)"


def server_words(e: Exception) -> str:
    """The server's own explanation in an error response: ``error.message``, ``detail`` (FastAPI,
    ``transformers serve``) or ``message``, else the start of the body."""
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        for key in ("message", "detail", "error"):
            value = inner.get(key)
            if value:
                return _one_line(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
    response = getattr(e, "response", None)
    text = getattr(response, "text", None) if response is not None else None
    if isinstance(body, str) and body.strip():
        return _one_line(body)
    if isinstance(text, str) and text.strip():
        return _one_line(text)
    return _short(e)


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short(e: Exception) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:200]
