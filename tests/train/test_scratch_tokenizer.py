from redistill.train.scratch import train_tokenizer

TEXTS = [f"Input: [{a}, {b}, {a}]\nOutput: [{b}, {a}]\n\nKeep the first {a % 5} elements." for a in range(40)
         for b in range(0, 100, 7)]


def test_a_number_is_one_token_wherever_it_stands_and_text_round_trips():
    tok = train_tokenizer(TEXTS, vocab_size=400)
    text = "Input: [35, 9, 35]\nOutput: [9, 35]\nKeep the first 3 elements."
    ids = tok(text)["input_ids"]
    assert tok.decode(ids) == text
    n35 = tok.convert_tokens_to_ids("35")
    assert ids.count(n35) == 3  # after "[" and after ", " alike: the same id, not "3" "5" in one place
    assert tok.tokenize("[35, 9]") == ["[", "35", ",Ġ", "9", "]"]  # an element costs 2 tokens


def test_scratch_student_untied_keeps_its_own_output_layer_through_a_reload_and_is_tied_by_default(tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    from redistill.train.scratch import build_student

    untied = build_student(TEXTS, tmp_path / "untied", hidden_size=16, num_layers=1, num_heads=2, vocab_size=400,
                           tie_embeddings=False)
    m = AutoModelForCausalLM.from_pretrained(untied)
    assert not m.config.tie_word_embeddings
    assert m.lm_head.weight.data_ptr() != m.get_input_embeddings().weight.data_ptr()
    assert not torch.equal(m.lm_head.weight, m.get_input_embeddings().weight)  # its own saved weights, not a copy
    tied = build_student(TEXTS, tmp_path / "tied", hidden_size=16, num_layers=1, num_heads=2, vocab_size=400)
    t = AutoModelForCausalLM.from_pretrained(tied)
    assert t.lm_head.weight.data_ptr() == t.get_input_embeddings().weight.data_ptr()
