"""The idempotency-key rule (``service/idempotency.py``): what is a key, what is refused."""

from __future__ import annotations

import pytest

from triptych.errors import InvalidRequest
from triptych.service.idempotency import MAX_KEY_CHARS, check_key


def test_the_limit_is_the_column() -> None:
    assert MAX_KEY_CHARS == 200


@pytest.mark.parametrize("key", ["a", "k" * 200, "9f1c2e1a-3b7d-4c55-8e0f-2f6c1d9a7b31",
                                 "order 42 / retry #1 ~ok"])
def test_keys_that_pass(key: str) -> None:
    assert check_key(key) == key


def test_no_key_and_an_empty_key_are_no_key() -> None:
    assert check_key(None) is None and check_key("") is None


@pytest.mark.parametrize(("key", "words"), [
    ("k" * 201, "201 characters long; use at most 200"),
    ("clé", "printable ASCII"), ("a\tb", "printable ASCII"), ("a\x7fb", "printable ASCII"),
])
def test_keys_that_are_refused(key: str, words: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        check_key(key)
    assert words in info.value.message and info.value.field == "Idempotency-Key"
