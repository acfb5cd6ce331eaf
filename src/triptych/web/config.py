"""What the HTTP layer needs of the settings, as one object: ``from_settings`` in a server,
built directly by tests (cheap password hashing, generous limits). Every value is read from
the environment by ``Settings``, nowhere else."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from triptych.private_files import private_dir
from triptych.settings import Settings


@dataclass
class WebConfig:
    secret_key: str = ""  # signs the pre-login CSRF cookie; generated and kept in home if empty
    secure_cookies: bool = False  # set behind HTTPS
    session_days: int = 14
    rate_per_minute: float = 120.0  # per API key (or per signed-in browser user)
    rate_burst: int = 60
    auth_per_minute: float = 20.0  # sign-up/log-in attempts per client address
    auth_burst: int = 10
    workers: int | None = None  # executor threads; default Settings.workers
    openai_wait_seconds: float = 300.0  # the openai client gives up after 600 s
    # Argon2id cost. The defaults are argon2-cffi's RFC 9106 "low memory" profile; tests may
    # lower them (the algorithm stays Argon2id).
    password_time_cost: int = 3
    password_memory_kib: int = 65536
    password_parallelism: int = 4
    metrics_token: str = ""  # when set, /metrics wants it as a bearer token
    max_body_bytes: int = 1_048_576  # refused with 413 before anything reads more
    trusted_proxies: str = ""  # CIDRs whose X-Forwarded-For is believed (client_ip.py)
    signup_per_address: int = 5  # sign-ups per client address per window
    signup_per_network: int = 20  # per IPv4 /24 or IPv6 /64
    signup_window_minutes: int = 60

    @classmethod
    def from_settings(cls, settings: Settings) -> WebConfig:
        return cls(
            secret_key=settings.web_secret.get_secret_value() if settings.web_secret else "",
            secure_cookies=settings.secure_cookies, session_days=settings.session_days,
            rate_per_minute=settings.rate_per_minute, rate_burst=settings.rate_burst,
            auth_per_minute=settings.auth_per_minute, auth_burst=settings.auth_burst,
            openai_wait_seconds=settings.openai_wait_seconds,
            password_time_cost=settings.password_time_cost,
            password_memory_kib=settings.password_memory_kib,
            password_parallelism=settings.password_parallelism,
            metrics_token=(settings.metrics_token.get_secret_value()
                           if settings.metrics_token else ""),
            max_body_bytes=settings.max_body_bytes,
            trusted_proxies=settings.trusted_proxies,
            signup_per_address=settings.signup_per_address,
            signup_per_network=settings.signup_per_network,
            signup_window_minutes=settings.signup_window_minutes,
        )


def load_or_create_secret(home: Path) -> str:
    """A per-install secret kept in ``home/web-secret`` (mode 0600), made on first start."""
    path = home / "web-secret"
    if path.exists():
        return path.read_text().strip()
    private_dir(home)
    secret = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret)
    return secret
