"""Which passwords are accepted: ``check_password_policy`` is the one rule for sign-up,
password reset and passwords an admin sets.

A password must be at least ``min_length`` characters (``TRIPTYCH_PASSWORD_MIN_LENGTH``) and
at most ``MAX_PASSWORD``, must not be the account's own address (or the part before the @),
and must not be one of the 30,000 most common passwords of leaked password sets as zxcvbn
ships them (compared case-insensitively): length alone lets "12345678" and "qwertyuiop"
through, and those are the first guesses of every attacker.
"""

from __future__ import annotations

import functools

from triptych.errors import InvalidRequest

MAX_PASSWORD = 256


@functools.cache
def _common() -> frozenset[str]:
    # Imported on first use: the module holds several large word lists (about 0.2 s).
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def is_common(password: str) -> bool:
    return password.lower() in _common()


def check_password_policy(password: str, *, min_length: int, email: str | None = None) -> None:
    """Raise ``InvalidRequest`` (field ``password``) saying what to change; return if the
    password is acceptable."""
    if len(password) < min_length:
        raise InvalidRequest(f"Choose a password of at least {min_length} characters.",
                             field="password")
    if len(password) > MAX_PASSWORD:
        raise InvalidRequest(f"Choose a password of at most {MAX_PASSWORD} characters.",
                             field="password")
    if is_common(password):
        raise InvalidRequest("This password is one of the most common ones, the first an "
                             "attacker tries; choose another (a few unrelated words work "
                             "well).", field="password")
    if email:
        address = email.strip().lower()
        if password.lower() in (address, address.split("@", 1)[0]):
            raise InvalidRequest("Choose a password that is not your email address.",
                                 field="password")
