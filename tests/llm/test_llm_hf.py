"""The hf backend on a tiny model built on the spot (+ a LoRA adapter saved and reloaded)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from redistill.errors import RedistillError
from redistill.llm.cache import CachedBackend
from redistill.llm.factory import make_backend
from redistill.llm.hf import HFBackend
from redistill.llm.local import render_prompt
from redistill.llm.types import Request, SamplingParams


def req(text: str, **params) -> Request:
    return Request([{"role": "user", "content": text}], SamplingParams(**{"max_tokens": 8, **params}))


PROMPTS = ["Input: [1, 2]", "Input: [3, 1, 4, 1, 5, 9, 2, 6]\nOutput:", "rule: reverse the list"]


@pytest.fixture(scope="module")
def hf(tiny_model_dir) -> HFBackend:
    return HFBackend(str(tiny_model_dir), batch_size=64)


def make_adapter(base_dir: Path, out: Path, seed: int = 0) -> Path:
    """A LoRA with non-zero weights (so it changes the model), saved the way training saves it."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base_dir)
    peft = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                            init_lora_weights=False))
    peft.save_pretrained(out)
    return out


def test_n_answers_and_real_usage(hf):
    out = hf.generate([req(p, n=4, temperature=1.0) for p in PROMPTS])
    assert [len(c.texts) for c in out] == [4, 4, 4]
    for p, c in zip(PROMPTS, out, strict=True):
        prompt_ids = hf.tokenizer(render_prompt(hf.tokenizer, [{"role": "user", "content": p}]),
                                  add_special_tokens=False)["input_ids"]
        assert c.usage.prompt_tokens == len(prompt_ids)
        assert 4 <= c.usage.completion_tokens <= 4 * 8
    assert len(set(out[0].texts)) > 1  # sampled, not copies
    assert hf.ledger.prompt_tokens >= sum(c.usage.prompt_tokens for c in out)


def test_seeding_reproduces_samples(hf):
    requests = [req(p, n=3, temperature=1.0) for p in PROMPTS]
    a = hf.generate(requests)
    b = hf.generate(requests)
    assert [c.texts for c in a] == [c.texts for c in b]
    c = hf.generate([req(p, n=3, temperature=1.0, seed=123) for p in PROMPTS])
    assert [x.texts for x in c] != [x.texts for x in a]


def test_greedy_batched_equals_one_at_a_time(hf):
    """Left padding must not change answers: a batch gives what each prompt gives alone."""
    batched = hf.generate([req(p, n=2) for p in PROMPTS])
    alone = [hf.generate([req(p, n=2)])[0] for p in PROMPTS]
    assert [c.texts for c in batched] == [c.texts for c in alone]
    assert all(c.texts[0] == c.texts[1] for c in batched)  # temperature 0: n identical answers


SHARED = "Apply the rule below to the input and give the output.\nrule: reverse the list, then add one to each element\n"


def test_shared_prefix_read_once_gives_the_same_answers(hf, monkeypatch):
    """Prompts that share instruction + rule read that prefix once, yet answer as each alone does."""
    from redistill.llm import hf as hf_module

    inputs = ["Input: [1, 2]", "Input: [3, 1, 4, 1, 5, 9, 2, 6]", "Input: []", "Input: [7]"]
    prompts = [SHARED + x for x in inputs] + ["Input: [1, 2]"]  # + one prompt sharing nothing
    plans = []
    real = hf_module.plan_prefixes
    monkeypatch.setattr(hf_module, "plan_prefixes", lambda ids: plans.append(real(ids)) or plans[-1])
    batched = hf.generate([req(p, max_tokens=6) for p in prompts])
    [plan] = plans
    assert len(plan.prefixes) == 2 and sorted(plan.owner).count(plan.owner[0]) in (1, 4)
    total = sum(len(p) + len(s) for p, s in zip([plan.prefixes[o] for o in plan.owner], plan.suffixes))
    assert plan.tokens_read < total - 3 * 20  # the shared part of three of the four prompts is skipped
    alone = [hf.generate([req(p, max_tokens=6)])[0] for p in prompts]
    assert [c.texts for c in batched] == [c.texts for c in alone]
    assert [c.usage.prompt_tokens for c in batched] == [c.usage.prompt_tokens for c in alone]


def test_shared_prefix_sampling_is_seeded(hf):
    requests = [req(SHARED + f"Input: [{i}]", n=3, temperature=1.0, seed=7) for i in range(5)]
    a, b = hf.generate(requests), hf.generate(requests)
    assert [c.texts for c in a] == [c.texts for c in b]
    assert len({t for c in a for t in c.texts}) > 3  # distinct samples, not one answer copied


def test_max_tokens_and_stop_strings(hf):
    [full] = hf.generate([req(PROMPTS[2], max_tokens=12, temperature=1.0, seed=5)])
    assert full.usage.completion_tokens <= 12
    text = full.texts[0]
    stop = next((text[i:i + 2] for i in range(2, len(text) - 1) if text[i:i + 2].strip()), None)
    if stop is None:
        pytest.skip("the random model produced only whitespace")
    [cut] = hf.generate([req(PROMPTS[2], max_tokens=12, temperature=1.0, seed=5, stop=(stop,))])
    assert cut.texts[0] == text[: text.find(stop)]


def test_batch_size_halves_on_out_of_memory(hf, monkeypatch):
    requests = [req(p, n=4, temperature=0) for p in PROMPTS]
    expected = hf.generate(requests)
    real = hf.model.generate
    sizes = []

    def small_device(*args, **kwargs):  # a device that holds one sequence at a time
        rows = kwargs["input_ids"].shape[0]
        sizes.append(rows)
        if rows > 1:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(*args, **kwargs)

    monkeypatch.setattr(hf.model, "generate", small_device)
    monkeypatch.setattr(hf, "batch_size", 8)
    got = hf.generate(requests)
    assert hf.batch_size == 1 and sizes[0] > 1
    assert [c.texts for c in got] == [c.texts for c in expected]


def test_plain_template_without_chat_template(hf, monkeypatch):
    monkeypatch.setattr(hf.tokenizer, "chat_template", None)
    text = render_prompt(hf.tokenizer, [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])
    assert text == "### System:\nS\n\n### User:\nU\n\n### Assistant:\n"
    [c] = hf.generate([req("U", n=2, temperature=1.0)])
    assert len(c.texts) == 2 and c.usage.prompt_tokens > 0


def test_adapter_changes_model_and_identity(tiny_model_dir, tmp_path, hf):
    adapter = make_adapter(tiny_model_dir, tmp_path / "lora")
    tuned = HFBackend(str(tiny_model_dir), adapters=[str(adapter)])
    assert tuned.identity() != hf.identity()
    assert tuned.identity()["adapters"][0]["path"] == str(adapter.resolve())
    ids = torch.tensor([[1, 5, 9, 12, 30]])
    with torch.no_grad():
        assert not torch.allclose(tuned.model(ids).logits, hf.model(ids).logits)
    [c] = tuned.generate([req("x", n=3, temperature=1.0)])
    assert len(c.texts) == 3
    other = make_adapter(tiny_model_dir, tmp_path / "lora2", seed=1)  # same config, other weights
    assert HFBackend(str(tiny_model_dir), adapters=[str(other)]).identity() != tuned.identity()


def test_cache_hits_on_second_run_and_adapter_misses(tiny_model_dir, tmp_path):
    requests = [req(p, n=3, temperature=1.0) for p in PROMPTS]
    first = make_backend(f"hf:{tiny_model_dir}", cache=tmp_path / "c")
    out1 = first.generate(requests)
    second = make_backend(f"hf:{tiny_model_dir}", cache=tmp_path / "c")
    assert isinstance(second, CachedBackend)
    out2 = second.generate(requests)
    assert [c.texts for c in out2] == [c.texts for c in out1]
    assert second.hits == 9 and second.ledger.calls == 0
    adapter = make_adapter(tiny_model_dir, tmp_path / "lora")
    tuned = make_backend(f"hf:{tiny_model_dir}", adapter=adapter, cache=tmp_path / "c")
    tuned.generate(requests)
    assert tuned.hits == 0 and tuned.misses == 9


def test_bad_adapters_fail_before_loading(tiny_model_dir, tmp_path):
    from redistill.train.scratch import build_student
    from tests.conftest import tiny_corpus

    with pytest.raises(RedistillError, match="not a PEFT adapter"):
        make_backend(f"hf:{tiny_model_dir}", adapter=tiny_model_dir, cache=None)  # a model, not an adapter
    with pytest.raises(RedistillError, match="does not exist"):
        make_backend(f"hf:{tiny_model_dir}", adapter=tmp_path / "nope", cache=None)
    other_base = build_student(tiny_corpus(50), tmp_path / "other", hidden_size=16, num_layers=1,
                               num_heads=2, vocab_size=300)
    foreign = make_adapter(other_base, tmp_path / "foreign")
    with pytest.raises(RedistillError, match="base_model_name_or_path.*trained on"):
        make_backend(f"hf:{tiny_model_dir}", adapter=foreign, cache=None)


def test_bad_model_specs(tmp_path):
    with pytest.raises(RedistillError, match="not found"):
        make_backend(f"hf:{tmp_path / 'missing'}", cache=None)
    with pytest.raises(RedistillError, match="no config.json"):
        make_backend(f"hf:{tmp_path}", cache=None)
    with pytest.raises(RedistillError, match="cannot load"):
        make_backend("hf:nobody/no-such-model-xyz", cache=None)
