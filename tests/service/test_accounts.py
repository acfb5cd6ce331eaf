"""service/accounts.py: what the web UI and CLI need of accounts, through the facade, on
both databases — and the web and CLI layers never open database sessions themselves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import event
from tests.conftest import BOTH_DBS

from triptych.errors import InvalidRequest, NotFound


@BOTH_DBS
def test_sign_up_sign_in_session_sign_out(tp):
    signed = tp.accounts.sign_up("Ada@Example.com", "hash-1", days=14)
    assert signed.member.email == "ada@example.com" and signed.member.role == "admin"
    assert tp.as_user("ada@example.com").credits(statement=False)["available"] == 50
    member, csrf = tp.accounts.session(signed.token)
    assert member.id == signed.member.id and csrf == signed.csrf_token
    assert tp.accounts.password_hash("ada@example.com") == (member.id, "hash-1")
    again = tp.accounts.sign_in(member.id, days=14, new_hash="hash-2")
    assert tp.accounts.password_hash("ADA@example.com ") == (member.id, "hash-2")
    tp.accounts.sign_out(signed.token)
    assert tp.accounts.session(signed.token) is None
    assert tp.accounts.session(again.token) is not None  # other sessions live on
    with pytest.raises(InvalidRequest):
        tp.accounts.sign_up("ada@example.com", "x", days=14)


@BOTH_DBS
def test_keys_create_authenticate_revoke(tp):
    member = tp.accounts.create_user("bo@example.com")
    other = tp.accounts.create_user("cy@example.com")
    key, secret = tp.accounts.create_key(member.id, "laptop")
    assert tp.accounts.authenticate(secret).email == "bo@example.com"
    assert [k["id"] for k in tp.accounts.keys(member.id)] == [key["id"]]
    assert tp.accounts.live_key(other.id, key["id"]) is None  # someone else's
    with pytest.raises(NotFound):
        tp.accounts.revoke_key(other.id, key["id"])
    assert tp.accounts.revoke_key(member.id, key["id"])["revoked_at"]
    assert tp.accounts.authenticate(secret) is None
    assert tp.accounts.live_key(member.id, key["id"]) is None
    assert tp.accounts.keys(member.id) == []
    assert len(tp.accounts.keys(member.id, include_revoked=True)) == 1


@BOTH_DBS
def test_admin_job_list_is_two_queries_whatever_the_page(tp):
    for i in range(6):
        tp.generate(f"a red circle {i}", "fake-draft", n=2)
    engine = tp.ctx.sessions.kw["bind"]
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        rows = tp.accounts.all_jobs(limit=50, offset=0)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert len(rows) == 6 and all(len(images) == 2 for _, images, _ in rows)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 2


def test_web_and_cli_reach_accounts_only_through_the_facade():
    root = Path(__file__).resolve().parents[2] / "src" / "triptych"
    found = [f"{path.relative_to(root)}: {line.strip()}"
             for layer in ("web", "cli") for path in (root / layer).rglob("*.py")
             for line in path.read_text().splitlines()
             if re.search(r"\.ctx\.(sessions|hub|ledger)\b", line)]
    assert not found, found
