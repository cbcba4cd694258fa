"""LLM backends behind one batched interface.

``make_backend("hf:PATH" | "vllm:PATH" | "openai:MODEL[@URL]", adapter=..., cache="default")`` gives a
backend wrapped in the SQLite response cache; ``backend.ledger`` counts calls, hits, tokens and dollars.
"""

from redistill.llm.cache import CachedBackend, ResponseCache, default_cache_dir
from redistill.llm.factory import make_backend
from redistill.llm.types import Backend, Completion, Request, SamplingParams, Usage
from redistill.llm.usage import PriceTable, UsageLedger

__all__ = ["Backend", "CachedBackend", "Completion", "PriceTable", "Request", "ResponseCache", "SamplingParams",
           "Usage", "UsageLedger", "default_cache_dir", "make_backend"]
