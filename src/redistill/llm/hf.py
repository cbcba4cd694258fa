"""Local models on transformers (+ stacked PEFT adapters): batched ``generate`` with n samples per prompt.

Requests with the same sampling parameters run together, sorted so prompts that start alike are
neighbours; a prefix they share (the instruction and rule of rule application) is read once and its
KV cache copied to each of them (``llm.prefix``), and each prompt's KV is copied to its n samples. The batch size counts sequences and
halves when the device runs out of memory.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from redistill.errors import RedistillError
from redistill.llm.gguf import is_gguf, load_gguf_model, load_gguf_tokenizer
from redistill.llm.local import check_adapters, check_model, cut_at_stop, fingerprint, render_prompt
from redistill.llm.prefix import plan_prefixes, sharing_order
from redistill.llm.types import Completion, ProgressFn, Request, ResultFn, SamplingParams, Usage
from redistill.llm.usage import UsageLedger


def pick_device(device: str | None) -> str:
    import torch

    if device:
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(dtype: str | None, device: str) -> Any:
    """bf16 on a GPU that has it, fp16 on an older GPU, fp32 elsewhere; or the dtype named."""
    import torch

    if dtype and dtype != "auto":
        value = getattr(torch, dtype, None)
        if not isinstance(value, torch.dtype):
            raise RedistillError(f"option 'dtype': unknown dtype '{dtype}'; use bfloat16, float16 or float32")
        return value
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


class HFBackend:
    """``hf:NAME_OR_PATH``: a causal LM loaded with ``from_pretrained``, adapters merged on top in order."""

    def __init__(self, name: str, adapters: list[str] | None = None, *, spec: str | None = None,
                 device: str | None = None, dtype: str | None = None, batch_size: int = 256,
                 seed: int = 0, ledger: UsageLedger | None = None, trust_remote_code: bool = False):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.spec = spec or f"hf:{name}"
        self.name = name
        path = check_model(name, self.spec)
        self.adapters = check_adapters(list(adapters or []), path)  # before minutes of loading
        self.device = pick_device(device)
        self.dtype = pick_dtype(dtype, self.device)
        if batch_size < 1:
            raise RedistillError(f"option 'batch_size': must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.seed = seed
        self.ledger = ledger or UsageLedger()
        try:
            if is_gguf(path):  # dequantized into a plain model
                self.tokenizer, model = load_gguf_tokenizer(path), load_gguf_model(path, self.dtype)
            else:
                self.tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
                model = AutoModelForCausalLM.from_pretrained(path, dtype=self.dtype, trust_remote_code=trust_remote_code)
        except OSError as e:
            raise RedistillError(f"model spec '{self.spec}': cannot load ({e}); give a local folder or a "
                                 "hub name available offline") from None
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        model.to(self.device)
        for adapter in self.adapters:
            model = _merge_adapter(model, adapter.path)
        self.model = model.eval()
        local = Path(path).is_dir() or is_gguf(path)
        self._fingerprint = fingerprint(path) if local else getattr(model.config, "_commit_hash", None)
        eos = model.generation_config.eos_token_id
        if eos is None:
            eos = self.tokenizer.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos]) - {None}
        self._torch = torch

    def identity(self) -> dict[str, Any]:
        return {"engine": "hf", "model": self.name, "weights": self._fingerprint,
                "dtype": str(self.dtype).removeprefix("torch."),
                "adapters": [{"path": a.path, "sha256": a.digest} for a in self.adapters]}

    def generate(self, requests: list[Request], progress: ProgressFn | None = None,
                 on_result: ResultFn | None = None) -> list[Completion]:
        """``on_result(i, completion)`` is called as each request's samples are all drawn."""
        with self.ledger.timed():
            plain = not getattr(self.tokenizer, "chat_template", None)
            prompts = [render_prompt(self.tokenizer, r.messages) for r in requests]
            ids = self.tokenizer(prompts, add_special_tokens=plain)["input_ids"] if prompts else []
            results: list[Completion | None] = [None] * len(requests)
            groups: dict[SamplingParams, list[int]] = defaultdict(list)
            for i, r in enumerate(requests):
                groups[r.params].append(i)
            for params, idxs in groups.items():
                idxs = sharing_order(ids, idxs)  # prompts that start alike together: shared prefixes
                self._run_group(params, idxs, ids, results, progress, on_result)
            return results  # type: ignore[return-value]

    def _run_group(self, params: SamplingParams, idxs: list[int], ids: list[list[int]],
                   results: list[Completion | None], progress: ProgressFn | None,
                   on_result: ResultFn | None = None) -> None:
        torch = self._torch
        sample = params.temperature > 0
        texts: dict[int, list[str]] = {i: [] for i in idxs}
        tokens: dict[int, int] = dict.fromkeys(idxs, 0)
        pending = [[i, params.n if sample else 1] for i in idxs]  # [request, samples still to draw]
        torch.manual_seed(params.seed if params.seed is not None else self.seed)
        while pending:
            k = min(pending[0][1], self.batch_size)
            chunk = [p for p in pending if p[1] >= k][: max(1, self.batch_size // k)]
            try:
                outs = self._generate_chunk([ids[i] for i, _ in chunk], params, k, sample)
            except torch.OutOfMemoryError:
                if self.batch_size == 1:
                    raise RedistillError("out of memory with batch size 1; lower max_tokens or use a larger "
                                         "device") from None
                self.batch_size //= 2
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                continue
            self.ledger.add(calls=len(chunk))
            for (i, _), rows in zip(chunk, outs, strict=True):
                texts[i].extend(t for t, _ in rows)
                tokens[i] += sum(c for _, c in rows)
            finished = []
            for p in chunk:
                p[1] -= k
                if p[1] == 0:
                    finished.append(p[0])
            pending = [p for p in pending if p[1] > 0]
            done_usage = Usage()
            for i in finished:
                usage = Usage(len(ids[i]), tokens[i])
                answers = texts[i] if sample else texts[i] * params.n  # greedy: one run, n copies
                results[i] = Completion(texts=answers, usage=usage)
                if on_result:
                    on_result(i, results[i])
                done_usage = done_usage + usage
            self.ledger.add(usage=done_usage)
            if progress and finished:
                progress(len(finished), done_usage)

    def _generate_chunk(self, prompts: list[list[int]], params: SamplingParams, k: int,
                        sample: bool) -> list[list[tuple[str, int]]]:
        """Run one ``generate`` call; per prompt, k (text, completion tokens) pairs."""
        from transformers import GenerationConfig, StaticCache

        torch = self._torch
        config = GenerationConfig(
            max_new_tokens=params.max_tokens, do_sample=sample,
            pad_token_id=self.tokenizer.pad_token_id, eos_token_id=sorted(self.eos_ids) or None,
            **({"temperature": params.temperature, "top_p": params.top_p, "top_k": 0} if sample else {}),
            **({"stop_strings": list(params.stop)} if params.stop else {}))
        # Each prompt is [shared prefix | its own suffix]; both blocks are left-padded, so a row reads
        # pad..prefix pad..suffix and its positions count its real tokens only (mask cumsum).
        plan = plan_prefixes(prompts)
        pre = self.tokenizer.pad({"input_ids": plan.prefixes}, return_tensors="pt").to(self.device)
        suf = self.tokenizer.pad({"input_ids": plan.suffixes}, return_tensors="pt").to(self.device)
        owner = torch.tensor(plan.owner, device=self.device)
        width = pre["input_ids"].shape[1]
        ids = torch.cat([pre["input_ids"][owner], suf["input_ids"]], 1)
        mask = torch.cat([pre["attention_mask"][owner], suf["attention_mask"]], 1)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            # a cache sized for prompt + answer up front: a growing one copies itself at every new token
            cache = StaticCache(config=self.model.config, max_cache_len=ids.shape[1] + params.max_tokens)
            if width:  # each distinct prefix once; only the cache is wanted here
                self.model(input_ids=pre["input_ids"], attention_mask=pre["attention_mask"],
                           position_ids=(pre["attention_mask"].cumsum(-1) - 1).clamp(min=0), cache=cache,
                           use_cache=True, logits_to_keep=1)
                _select_cache(cache, owner)
            if ids.shape[1] - 1 > width:  # then every prompt's own tokens but the last
                self.model(input_ids=ids[:, width:-1], attention_mask=mask[:, :-1],
                           position_ids=positions[:, width:-1], cache=cache, use_cache=True, logits_to_keep=1)
            if k > 1:
                # then copy each prompt's KV to its k samples: the prompt is most of the work, and
                # num_return_sequences alone would read it k times
                _select_cache(cache, torch.arange(len(prompts), device=self.device).repeat_interleave(k))
                ids, mask = ids.repeat_interleave(k, 0), mask.repeat_interleave(k, 0)
            out = self.model.generate(input_ids=ids, attention_mask=mask, cache=cache, generation_config=config,
                                      tokenizer=self.tokenizer)
        new = out[:, ids.shape[1]:].tolist()
        pad = self.tokenizer.pad_token_id
        rows: list[tuple[str, int]] = []
        for seq in new:
            end = next((j for j, t in enumerate(seq) if t in self.eos_ids), None)
            body = seq[:end] if end is not None else [t for t in seq if t != pad]
            count = end + 1 if end is not None else len(body)
            text = self.tokenizer.decode(body, skip_special_tokens=True)
            rows.append((cut_at_stop(text, params.stop), count))
        return [rows[j * k:(j + 1) * k] for j in range(len(prompts))]


def _select_cache(cache: Any, rows: Any) -> None:
    """Make the cache's batch ``rows`` of its current batch (copies a prefix's KV to each prompt that
    shares it, or a prompt's to its samples; StaticCache layers lack ``batch_select_indices``)."""
    for layer in cache.layers:
        if getattr(layer, "is_initialized", False):
            layer.keys = layer.keys.index_select(0, rows)
            layer.values = layer.values.index_select(0, rows)
            layer.batch_size = layer.keys.shape[0]


def _merge_adapter(model: Any, path: str) -> Any:
    """Load a PEFT adapter on top and merge it, so the next adapter stacks on the result."""
    from peft import PeftModel

    try:
        return PeftModel.from_pretrained(model, path).merge_and_unload()
    except (RuntimeError, ValueError, KeyError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise RedistillError(f"adapter {path}: does not fit the base model ({first[:300]}); use the base "
                             "model the adapter was trained on") from None
