"""The vllm backend on a tiny model (+ LoRA). Runs where vLLM and a CUDA GPU are present."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def vllm_ready():
    pytest.importorskip("vllm")
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")


def test_vllm_n_samples_usage_adapter_and_cache(vllm_ready, tiny_model_dir, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from redistill.llm.factory import make_backend
    from redistill.llm.types import Request, SamplingParams

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
                   ).save_pretrained(tmp_path / "lora")
    requests = [Request([{"role": "user", "content": f"Input: [{i}, 2]"}],
                        SamplingParams(n=5, temperature=1.0, max_tokens=8)) for i in range(6)]
    b = make_backend(f"vllm:{tiny_model_dir}", adapter=tmp_path / "lora", cache=tmp_path / "c",
                     gpu_memory_utilization=0.2, max_model_len=512)
    out = b.generate(requests)
    assert [len(c.texts) for c in out] == [5] * 6
    assert all(0 < c.usage.completion_tokens <= 40 and c.usage.prompt_tokens > 0 for c in out)
    again = b.generate(requests)
    assert [c.texts for c in again] == [c.texts for c in out] and b.hits == 30
