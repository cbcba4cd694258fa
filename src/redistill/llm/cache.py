"""Response cache: every paid sample is kept in SQLite, keyed by (backend identity, messages, params, slot).

A request with ``n=50`` is 50 slots, so 50 samples of one prompt stay 50 distinct answers and a re-run
returns the same 50; on a partial hit only the missing slots are generated. The cache lives in the
user cache folder by default, so a new run folder still reuses every answer already paid for.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from redistill.errors import RedistillError
from redistill.llm.types import Backend, Completion, ProgressFn, Request, Usage
from redistill.llm.usage import UsageLedger

CACHE_FILE = "responses.sqlite"


def default_cache_dir() -> Path:
    """``$REDISTILL_CACHE_DIR``, else ``$XDG_CACHE_HOME/redistill``, else ``~/.cache/redistill``."""
    if os.environ.get("REDISTILL_CACHE_DIR"):
        return Path(os.environ["REDISTILL_CACHE_DIR"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "redistill"
    return Path.home() / ".cache" / "redistill"


class ResponseCache:
    """A key -> text store in SQLite (WAL, busy timeout), safe with several writer processes."""

    def __init__(self, path: str | Path | None = None):
        path = Path(path).expanduser() if path is not None else default_cache_dir()
        if path.suffix not in (".sqlite", ".db"):
            path = path / CACHE_FILE  # a folder was given
        self.path = path
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=60, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, text TEXT NOT NULL, "
                "model TEXT, created REAL)")
        except (OSError, sqlite3.Error) as e:
            raise RedistillError(
                f"{path}: cannot open the response cache ({e}); pass --cache-dir to a writable folder "
                "or --no-cache") from None

    def get_many(self, keys: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        with self._lock:
            for i in range(0, len(keys), 500):  # stay under SQLite's variable limit
                chunk = keys[i : i + 500]
                marks = ",".join("?" * len(chunk))
                found.update(self._db.execute(
                    f"SELECT key, text FROM responses WHERE key IN ({marks})", chunk).fetchall())
        return found

    def put_many(self, items: list[tuple[str, str]], model: str = "") -> None:
        """Store answers in one transaction; a key already present keeps its first answer."""
        if not items:
            return
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT OR IGNORE INTO responses VALUES (?, ?, ?, ?)",
                                     [(k, t, model, now) for k, t in items])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def request_key(identity: dict[str, Any], request: Request) -> str:
    """The base key of a request: everything that shapes its answers except ``n``."""
    params = request.params.to_json()
    params.pop("n")
    blob = json.dumps({"backend": identity, "messages": request.messages, "params": params},
                      sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def slot_key(base: str, slot: int) -> str:
    return hashlib.sha256(f"{base}:{slot}".encode()).hexdigest()


@dataclass
class _Group:
    """Identical requests of one batch share their slots (generated once, same answers on a re-run)."""

    base: str
    request: Request
    members: list[int]
    need: int


class CachedBackend:
    """Wraps any backend: serves cached slots, generates only the missing ones, stores new answers."""

    def __init__(self, inner: Backend, cache: ResponseCache, ledger: UsageLedger | None = None):
        self.inner = inner
        self.cache = cache
        self.spec = inner.spec
        self.ledger = ledger or getattr(inner, "ledger", None) or UsageLedger()
        self.hits = 0
        self.misses = 0

    def identity(self) -> dict[str, Any]:
        return self.inner.identity()

    def generate(self, requests: list[Request], progress: ProgressFn | None = None) -> list[Completion]:
        with self.ledger.timed():
            return self._generate(requests, progress)

    def _generate(self, requests: list[Request], progress: ProgressFn | None) -> list[Completion]:
        identity = self.identity()
        groups: dict[str, _Group] = {}
        for i, r in enumerate(requests):
            base = request_key(identity, r)
            g = groups.setdefault(base, _Group(base, r, [], 0))
            g.members.append(i)
            g.need = max(g.need, r.params.n)
        keys = {g.base: [slot_key(g.base, s) for s in range(g.need)] for g in groups.values()}
        stored = self.cache.get_many([k for ks in keys.values() for k in ks])
        slots = {b: [stored.get(k) for k in ks] for b, ks in keys.items()}

        todo = [g for g in groups.values() if None in slots[g.base]]
        sub_requests = []
        for g in todo:
            missing = [s for s, t in enumerate(slots[g.base]) if t is None]
            params = replace(g.request.params, n=len(missing))
            if params.seed is not None and missing[0] > 0:  # new slots must not repeat the seeded old ones
                params = replace(params, seed=params.seed + missing[0])
            sub_requests.append(Request(g.request.messages, params))
        hits = sum(t is not None for b in slots for t in slots[b])
        misses = sum(r.params.n for r in sub_requests)
        self.hits += hits
        self.misses += misses
        self.ledger.add(hits=hits, misses=misses)

        done_early = sum(len(g.members) for g in groups.values() if g not in todo)
        if progress and done_early:
            progress(done_early, Usage())
        def fresh(j: int, result: Completion) -> list[tuple[str, str]]:
            """The (key, text) pairs a finished sub-request adds (none when it failed)."""
            g = todo[j]
            missing = [s for s, t in enumerate(slots[g.base]) if t is None]
            return [] if result.error is not None else [
                (keys[g.base][s], text) for s, text in zip(missing, result.texts, strict=False)]

        stored_early: set[int] = set()

        def store_now(j: int, result: Completion) -> None:  # an engine that finishes requests one by one
            self.cache.put_many(fresh(j, result), model=self.spec)
            stored_early.add(j)

        generated = []
        if sub_requests:
            streams = "on_result" in inspect.signature(self.inner.generate).parameters
            extra = {"on_result": store_now} if streams else {}
            generated = self.inner.generate(sub_requests, progress=progress, **extra)
        if progress and todo:
            progress(sum(len(g.members) - 1 for g in todo), Usage())

        errors: dict[str, str] = {}
        usages: dict[str, Usage] = {}
        late: list[tuple[str, str]] = []
        for j, (g, result) in enumerate(zip(todo, generated, strict=True)):
            usages[g.base] = result.usage
            if result.error is not None:
                errors[g.base] = result.error
            pairs = fresh(j, result)
            if j not in stored_early:
                late += pairs
            by_key = dict(pairs)
            slots[g.base] = [by_key.get(k, t) for k, t in zip(keys[g.base], slots[g.base])]
        self.cache.put_many(late, model=self.spec)

        out: list[Completion | None] = [None] * len(requests)
        for g in groups.values():
            for j, i in enumerate(g.members):
                n = requests[i].params.n
                texts = [t if t is not None else "" for t in slots[g.base][:n]]
                if j == 0:  # the first of identical requests carries the cost
                    cached = sum(k in stored for k in keys[g.base][:n])
                    usage = usages.get(g.base, Usage())
                else:  # its duplicates were served without paying
                    cached, usage = n, Usage()
                out[i] = Completion(texts=texts, usage=usage, cached=cached, error=errors.get(g.base))
        return out  # type: ignore[return-value]
