"""Local models on vLLM's offline engine (optional extra: ``pip install redistill[vllm]``).

One ``LLM.generate`` call for the whole batch (vLLM schedules it), ``SamplingParams(n=...)`` per
request, prefix caching on (the seen examples repeat across a task's prompts), and a LoRA adapter
through ``LoRARequest``. vLLM applies one adapter per request, so stacked adapters must be merged first.
A ``.gguf`` file is served from its dequantized plain folder (see ``llm/gguf.py``), so LoRA works on it.

Checked against vLLM's ``LLM`` (vllm/entrypoints/llm.py, from 0.8 up to the current main): the constructor
keywords used here (dtype, seed, gpu_memory_utilization, tensor_parallel_size, trust_remote_code; and
max_model_len, enable_prefix_caching, enable_lora, max_lora_rank, max_loras passed on to EngineArgs),
``generate(prompts, params, lora_request=, use_tqdm=)``, ``get_tokenizer()``, ``LoRARequest(name, id, path)``
and ``RequestOutput.prompt_token_ids`` / ``outputs[i].text`` / ``.token_ids`` are unchanged.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

from redistill.errors import RedistillError
from redistill.llm.gguf import gguf_folder, is_gguf
from redistill.llm.local import check_adapters, check_model, cut_at_stop, fingerprint, render_prompt
from redistill.llm.types import Completion, ProgressFn, Request, Usage
from redistill.llm.usage import UsageLedger

LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)  # the ranks vLLM accepts for max_lora_rank


def lora_rank_for(rank: int) -> int:
    """The smallest rank vLLM accepts that holds an adapter of rank ``rank``."""
    return next((r for r in LORA_RANKS if r >= rank), max(rank, LORA_RANKS[-1]))


class VLLMBackend:
    """``vllm:NAME_OR_PATH`` (+ one adapter)."""

    def __init__(self, name: str, adapters: list[str] | None = None, *, spec: str | None = None,
                 dtype: str | None = None, seed: int = 0, gpu_memory_utilization: float = 0.85,
                 max_model_len: int | None = None, tensor_parallel_size: int = 1,
                 ledger: UsageLedger | None = None, trust_remote_code: bool = False):
        self.spec = spec or f"vllm:{name}"
        self.name = name
        path = check_model(name, self.spec)
        self.adapters = check_adapters(list(adapters or []), path)
        if len(self.adapters) > 1:
            raise RedistillError(f"model spec '{self.spec}': vLLM serves one adapter per request; merge the "
                                 "stacked adapters first (PeftModel.merge_and_unload) or use hf:")
        try:
            import vllm
            from vllm.lora.request import LoRARequest
        except ImportError:
            raise RedistillError(f"model spec '{self.spec}': vLLM is not installed; pip install "
                                 "'redistill[vllm]' (needs a CUDA GPU), or use hf:") from None
        self.ledger = ledger or UsageLedger()
        self.seed = seed
        lora: dict[str, Any] = {}
        if self.adapters:
            lora = {"enable_lora": True, "max_lora_rank": lora_rank_for(self.adapters[0].rank), "max_loras": 1}
            self.lora_request = LoRARequest("adapter", 1, self.adapters[0].path)
        else:
            self.lora_request = None
        model = str(gguf_folder(path)) if is_gguf(path) else path  # vLLM gets the dequantized plain folder
        try:
            self.llm = vllm.LLM(model=model, dtype=dtype or "auto", seed=seed, enable_prefix_caching=True,
                                gpu_memory_utilization=gpu_memory_utilization, max_model_len=max_model_len,
                                tensor_parallel_size=tensor_parallel_size, trust_remote_code=trust_remote_code,
                                **lora)
        except (OSError, ValueError) as e:
            raise RedistillError(f"model spec '{self.spec}': vLLM cannot load it ({str(e)[:300]})") from None
        self.tokenizer = self.llm.get_tokenizer()
        self._fingerprint = fingerprint(path) if Path(path).is_dir() or is_gguf(path) else None
        self._vllm = vllm

    def identity(self) -> dict[str, Any]:
        # vLLM's kernels sample differently from transformers: its answers are its own cache entries.
        return {"engine": "vllm", "model": self.name, "weights": self._fingerprint,
                "adapters": [{"path": a.path, "sha256": a.digest} for a in self.adapters]}

    def _seed_for(self, prompt: str) -> int:
        """A per-request seed from the prompt text: the same answers whatever else is in the batch."""
        return (zlib.crc32(prompt.encode()) ^ self.seed) & 0x7FFFFFFF

    def generate(self, requests: list[Request], progress: ProgressFn | None = None) -> list[Completion]:
        if not requests:
            return []
        with self.ledger.timed():
            prompts = [render_prompt(self.tokenizer, r.messages) for r in requests]
            params = [self._vllm.SamplingParams(
                n=r.params.n, temperature=r.params.temperature, top_p=r.params.top_p,
                max_tokens=r.params.max_tokens, stop=list(r.params.stop) if r.params.stop else None,
                seed=r.params.seed if r.params.seed is not None else self._seed_for(p))
                for r, p in zip(requests, prompts, strict=True)]
            outputs = self.llm.generate(prompts, params, lora_request=self.lora_request, use_tqdm=False)
            results = []
            total = Usage()
            for r, out in zip(requests, outputs, strict=True):
                usage = Usage(len(out.prompt_token_ids or []), sum(len(o.token_ids) for o in out.outputs))
                texts = [cut_at_stop(o.text, r.params.stop) for o in out.outputs]
                results.append(Completion(texts=texts, usage=usage))
                total = total + usage
            self.ledger.add(calls=len(requests), usage=total)
            if progress:
                progress(len(requests), total)
            return results
