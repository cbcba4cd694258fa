"""Build a small student from scratch: a tokenizer trained on local text and a random-init Llama.

Used by the offline quickstart and by the tests (no machine here reaches a model hub). The result is
saved with ``save_pretrained`` and loads through the same ``from_pretrained`` path as an 8B model.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from pydantic import Field, model_validator
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

from redistill.config import StageConfig
from redistill.jsonl import read_jsonl

DATA_FILES = ("rule_generation.jsonl", "rule_application.jsonl")
"""The files of a data folder (``redistill build``'s) whose messages the tokenizer is trained on."""


class ScratchConfig(StageConfig):
    """A student built from scratch: a tokenizer trained on the run's prompts + a random-init Llama."""

    hidden_size: int = Field(128, ge=8, description="Hidden size of the Llama.")
    num_layers: int = Field(4, ge=1, description="Decoder layers.")
    num_heads: int = Field(4, ge=1, description="Attention heads (must divide hidden_size).")
    vocab_size: int = Field(1024, ge=262, description="Tokenizer vocabulary: at least the 256 byte symbols and "
                            "6 special tokens.")
    max_positions: int = Field(2048, ge=64, description="Longest sequence the model takes.")
    tie_embeddings: bool = Field(True, description="Share the input embedding with the output layer. Untied, a "
                                 "2-layer student learned to copy in a synthetic probe where a tied one never did; "
                                 "in the quickstart untying changed nothing measurable (README).")

    @model_validator(mode="after")
    def _heads_divide(self) -> ScratchConfig:
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not a multiple of num_heads {self.num_heads}; "
                             "pick heads that divide it (e.g. 4 for 128)")
        return self

# The assistant turn is wrapped in {% generation %} so TRL can mask the loss to it.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|assistant|>\n' }}{% generation %}{{ message['content'] + '<|end|>' }}{% endgeneration %}{{ '\n' }}"
    "{% else %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)
PIECES = r"\d+| ?[A-Za-z]+|[^\sA-Za-z\d]+ ?|\s+"
SPECIAL_TOKENS = ["<|pad|>", "<|end|>", "<|user|>", "<|assistant|>", "<|system|>", "<|bos|>"]


def train_tokenizer(texts: Iterable[str], vocab_size: int = 1024):
    """A byte-level BPE tokenizer trained on ``texts``, with a chat template."""
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    # A number is always the same piece, whatever precedes it ("[52" and ", 52" both give "52"), and a
    # punctuation run takes its trailing space (", " is one piece), so a list costs 2 tokens an element
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PIECES), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|bos|>",
        eos_token="<|end|>",
        pad_token="<|pad|>",
        padding_side="left",
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def corpus(data_dirs: Iterable[str | Path]) -> list[str]:
    """Every message text of the training data in ``data_dirs`` (the tokenizer's training text)."""
    texts = []
    for folder in data_dirs:
        for name in DATA_FILES:
            path = Path(folder) / name
            if path.exists():
                texts += [m["content"] for r in read_jsonl(path) for m in r["messages"]]
    return texts


def init_student(cfg: ScratchConfig, data_dirs: list[str | Path], out_dir: str | Path, seed: int = 0) -> str:
    """``redistill train init``: a from-scratch student for the data in ``data_dirs``, saved to ``out_dir``;
    returns a line saying what was built."""
    texts = corpus(data_dirs)
    if not texts:
        from redistill.errors import RedistillError

        raise RedistillError(f"{', '.join(map(str, data_dirs))}: no training data ({', '.join(DATA_FILES)}) to "
                             "train the tokenizer on; run `redistill build` first")
    out = build_student(texts, out_dir, cfg.hidden_size, cfg.num_layers, cfg.num_heads, cfg.vocab_size,
                        cfg.max_positions, tie_embeddings=cfg.tie_embeddings, seed=seed)
    n = json.loads((out / "config.json").read_text())
    return (f"student built from scratch: hidden {n['hidden_size']}, {n['num_hidden_layers']} layers, "
            f"vocab {n['vocab_size']} -> {out}")


def build_student(
    texts: Iterable[str],
    out_dir: str | Path,
    hidden_size: int = 128,
    num_layers: int = 4,
    num_heads: int = 4,
    vocab_size: int = 1024,
    max_positions: int = 2048,
    tie_embeddings: bool = True,
    seed: int = 0,
) -> Path:
    """Train a tokenizer on ``texts``, build a random-init Llama of the given size, save both to ``out_dir``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = train_tokenizer(texts, vocab_size=vocab_size)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 4,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        max_position_embeddings=max_positions,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=tie_embeddings,
    )
    model = LlamaForCausalLM(config)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    model.generation_config.save_pretrained(out)
    return out
