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
