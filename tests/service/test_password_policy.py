"""The password policy: a minimum length and no common password, whatever the case."""

from __future__ import annotations

import pytest

from triptych.errors import InvalidRequest
from triptych.service.password_policy import check_password_policy, is_common


@pytest.mark.parametrize("password", ["12345678", "password1", "qwertyuiop", "Password1",
                                      "QWERTYUIOP", "iloveyou", "1234567890", "letmein1"])
def test_common_passwords_are_refused_with_a_clear_message(password):
    with pytest.raises(InvalidRequest) as caught:
        check_password_policy(password, min_length=8)
    assert caught.value.field == "password"
    assert "most common" in caught.value.message


def test_minimum_length_is_a_setting():
    with pytest.raises(InvalidRequest, match="at least 15 characters"):
        check_password_policy("tangerine-kite", min_length=15)
    check_password_policy("tangerine-kite", min_length=12)


def test_too_long_and_own_address_are_refused():
    with pytest.raises(InvalidRequest, match="at most 256"):
        check_password_policy("x" * 257, min_length=8)
    with pytest.raises(InvalidRequest, match="not your email"):
        check_password_policy("ada.lovelace", min_length=8, email="Ada.Lovelace@example.com")


def test_uncommon_passphrases_pass():
    for password in ("correct horse battery", "s3cret-pass", "violet-orbit-53"):
        assert not is_common(password)
        check_password_policy(password, min_length=10, email="ada@example.com")
