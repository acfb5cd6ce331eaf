"""Credentials out of URLs before they are shown or logged."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def redact_url(url: str) -> str:
    """``redis://:s3cret@host:6379/0`` -> ``redis://:***@host:6379/0``; a URL without a
    password comes back unchanged."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # not a URL we can parse: show nothing of it rather than a secret
        return "***"
    if not password:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


def scrub_password(text: str, url: str) -> str:
    """``text`` (say, a driver's error message about ``url``) with ``url``'s password
    replaced wherever it appears."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return text
    return text.replace(password, "***") if password else text
