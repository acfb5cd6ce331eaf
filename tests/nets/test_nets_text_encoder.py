"""Tokenizer rules (never crash on user text) and the tiny text encoder's shapes."""

from __future__ import annotations

import torch

from triptych.nets.text_encoder import (
    NULL,
    PAD,
    UNK,
    TextConfig,
    TextEncoder,
    Tokenizer,
    split_words,
)


def tok() -> Tokenizer:
    return Tokenizer.build(["a red circle", "two cats", 'the word "CAT"', "a cat", "a dog"],
                           max_len=8)


def test_split_words_rules() -> None:
    assert split_words("A Red circle!") == ["a", "red", "circle"]
    assert split_words("the word CAT in white") == ["the", "word", '"cat"', "in", "white"]
    assert split_words('a sign that says "Hello there"') == [
        "a", "sign", "that", "says", '"hello"', '"there"']
    assert split_words("there are 2 dogs") == ["there", "are", "two", "dogs"]
    assert split_words("“SMILE”") == ['"smile"']


def test_vocab_starts_with_specials() -> None:
    t = tok()
    assert t.vocab[:3] == [PAD, UNK, NULL]
    assert len(t) == len(set(t.vocab))


def test_unknown_words_and_fallbacks() -> None:
    t = tok()
    ids = t.encode("a zebra")
    assert ids[1] == t.index[UNK]
    assert t.unknown_words("a zebra on a unicycle") == ["zebra", "on", "unicycle"]
    # a rendered word missing from the vocab falls back to the plain word and vice versa
    assert t.encode("RED")[0] == t.index["red"]
    assert t.encode('"DOG"')[0] == t.index["dog"]
    assert t.encode("cat")[0] == t.index["cat"]
    assert t.encode("CAT")[0] == t.index['"cat"']


def test_padding_truncation_and_empty_prompt() -> None:
    t = tok()
    assert len(t.encode("a")) == 8
    assert len(t.encode("a " * 50)) == 8
    assert t.encode("")[0] == t.null_id
    assert t.encode("!!! ???")[0] == t.null_id
    assert t(["a", "b"]).shape == (2, 8)
    assert (t.null_ids(3)[:, 0] == t.null_id).all()


def test_encoder_shapes_and_mask() -> None:
    t = tok()
    enc = TextEncoder(TextConfig(vocab_size=len(t), max_len=8, dim=16, layers=1, heads=2))
    ids = t(["a red circle", ""])
    ctx, mask = enc(ids)
    assert ctx.shape == (2, 8, 16)
    assert mask.tolist()[0][:3] == [True, True, True] and not mask[0, 3]
    assert mask[1].sum() == 1  # [NULL] only
    # padding never changes the real tokens' states
    ctx2, _ = enc(torch.cat([ids[:1, :3], torch.zeros(1, 5, dtype=torch.long)], 1))
    assert torch.allclose(ctx[0, :3], ctx2[0, :3], atol=1e-5)
