"""Password hashing with Argon2id (argon2-cffi). Hashes carry their own parameters, so raising
the cost later only affects new hashes; ``needs_rehash`` tells log-in to upgrade old ones."""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from triptych.web.config import WebConfig


class Passwords:
    def __init__(self, config: WebConfig) -> None:
        self._hasher = PasswordHasher(
            time_cost=config.password_time_cost, memory_cost=config.password_memory_kib,
            parallelism=config.password_parallelism, type=Type.ID)
        # Verifying against this when the account does not exist keeps log-in time the same
        # for known and unknown emails (no account enumeration by timing).
        self._dummy = self._hasher.hash("not a real password")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._dummy, password) and bool(
                password_hash)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)
