"""Config layering, paper defaults and clear validation errors."""

from __future__ import annotations

import pytest

from redistill.errors import RedistillError
from redistill.train.config import (
    ORPORunConfig,
    SFTRunConfig,
    SimPORunConfig,
    align_config_class,
    load_config,
)


def test_paper_defaults():
    sft = load_config(SFTRunConfig, flags={"output_dir": "x"})
    assert (sft.learning_rate, sft.num_train_epochs, sft.max_length) == (1e-4, 4, 2048)
    assert str(sft.lr_scheduler_type.value) == "cosine" and sft.warmup_steps == 0.1
    assert sft.per_device_train_batch_size * sft.gradient_accumulation_steps == 8
    assert (sft.lora_r, sft.lora_alpha, sft.lora_dropout, sft.lora_target_modules) == (8, 16, 0.05, "all-linear")
    assert sft.eval_ratio == 0.05 and sft.completion_only_loss is True and not sft.full
    orpo = load_config(align_config_class("orpo"), flags={"output_dir": "x"})
    assert isinstance(orpo, ORPORunConfig)
    assert (orpo.beta, orpo.learning_rate, orpo.num_train_epochs) == (0.1, 5e-6, 5)
    simpo = load_config(align_config_class("simpo"), flags={"output_dir": "x"})
    assert isinstance(simpo, SimPORunConfig) and simpo.loss_type == "simpo" and simpo.cpo_alpha == 0.0


def test_yaml_then_flags_then_set(tmp_path):
    yml = tmp_path / "c.yaml"
    yml.write_text("learning_rate: 3e-4\nlora_r: 4\nnum_train_epochs: 2\nfull: true\n")
    cfg = load_config(SFTRunConfig, yml, {"output_dir": "x", "num_train_epochs": 3, "seed": None}, ["lora_r=32"])
    assert cfg.learning_rate == 3e-4  # PyYAML reads 3e-4 as text: coerced to the field's type
    assert cfg.num_train_epochs == 3  # flag over YAML
    assert cfg.lora_r == 32  # --set over everything
    assert cfg.full is True and cfg.seed == 42  # a flag left unset (None) does not override


def test_any_trl_field_through_set():
    cfg = load_config(SFTRunConfig, flags={"output_dir": "x"}, sets=["packing=true", "weight_decay=0.01"])
    assert cfg.packing is True and cfg.weight_decay == 0.01


def test_no_and_on_are_words_not_booleans(tmp_path):
    """YAML 1.1 reads no/yes/on/off as booleans: `save_strategy: no` failed as 'False is not a valid
    SaveStrategy'. Only true/false are booleans here, in files and in --set alike."""
    yml = tmp_path / "c.yaml"
    yml.write_text("save_strategy: no\nfull: true\n")
    cfg = load_config(SFTRunConfig, yml, {"output_dir": "x"}, ["logging_strategy=no", "packing=false"])
    assert str(cfg.save_strategy.value) == "no" and str(cfg.logging_strategy.value) == "no"
    assert cfg.full is True and cfg.packing is False


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sets": ["lora_rank=4"]}, "--set: unknown config key 'lora_rank'.*did you mean.*lora_r"),
        ({"sets": ["lora_r"]}, "expected key=value"),
        ({"sets": ["full=maybe"]}, "field 'full'"),
        ({"sets": ["only=both"]}, "field 'only'"),
        ({"sets": ["eval_ratio=0.7"]}, "field 'eval_ratio'"),
    ],
)
def test_bad_values_name_the_field(kwargs, message):
    with pytest.raises(RedistillError, match=message):
        load_config(SFTRunConfig, flags={"output_dir": "x"}, **kwargs)


def test_bad_yaml_files(tmp_path):
    with pytest.raises(RedistillError, match="config file not found"):
        load_config(SFTRunConfig, tmp_path / "missing.yaml")
    listy = tmp_path / "l.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(RedistillError, match="l.yaml: expected a mapping"):
        load_config(SFTRunConfig, listy)
    unknown = tmp_path / "u.yaml"
    unknown.write_text("lerning_rate: 1\n")
    with pytest.raises(RedistillError, match="u.yaml: unknown config key 'lerning_rate'"):
        load_config(SFTRunConfig, unknown)


def test_unknown_method():
    with pytest.raises(RedistillError, match="unknown alignment method 'ppo'.*orpo, dpo, simpo, kto"):
        align_config_class("ppo")

