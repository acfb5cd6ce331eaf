"""A new API key's secret, carried from the POST that made it to the page that shows it once
(post-redirect-get: a reload creates nothing and shows nothing).

The secret rides in a short-lived cookie scoped to ``/account``, encrypted (Fernet) with a
key derived from the browser's session token. The server keeps only that token's hash, so
neither the database nor a copied flash cookie alone can reveal the secret, and it never
appears in a URL. The page that shows it deletes the cookie.
"""

from __future__ import annotations

import base64
import json

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import Request, Response

from triptych.web.sessions import COOKIE as SESSION_COOKIE

COOKIE = "triptych_new_key"
PATH = "/account"
MAX_AGE = 300  # seconds: time enough for a redirect, not for a forgotten tab


def _fernet(session_token: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"triptych new-key flash").derive(session_token.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def stash(request: Request, response: Response, key_id: str, secret: str,
          secure: bool) -> None:
    token = request.cookies.get(SESSION_COOKIE, "")
    sealed = _fernet(token).encrypt(json.dumps({"id": key_id, "key": secret}).encode())
    response.set_cookie(COOKIE, sealed.decode(), max_age=MAX_AGE, path=PATH, httponly=True,
                        samesite="strict", secure=secure)


def take(request: Request, response: Response) -> tuple[str, str] | None:
    """(key id, secret) if a fresh one waits for this session; the cookie goes either way."""
    sealed = request.cookies.get(COOKIE)
    if not sealed:
        return None
    response.delete_cookie(COOKIE, path=PATH)
    try:
        data = json.loads(_fernet(request.cookies.get(SESSION_COOKIE, ""))
                          .decrypt(sealed.encode(), ttl=MAX_AGE))
    except (InvalidToken, ValueError):
        return None  # another session's, expired or tampered with: show nothing
    return str(data["id"]), str(data["key"])
