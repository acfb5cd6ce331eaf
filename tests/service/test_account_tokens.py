"""Single-use account links: a token works once, until it expires, and of two concurrent
uses exactly one wins (PostgreSQL runs them truly at once)."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select
from tests.conftest import BOTH_DBS

from triptych.db.email_models import AccountToken
from triptych.service import account_tokens


def _issue(tp, purpose="reset", minutes=60) -> str:
    user_id = tp.as_user("ada@example.com").user_id
    with tp.ctx.sessions.begin() as s:
        return account_tokens.issue(s, user_id, purpose, tp.ctx.clock(),
                                    timedelta(minutes=minutes))


def _use(tp, token, purpose="reset"):
    with tp.ctx.sessions.begin() as s:
        row = account_tokens.use(s, token, purpose, tp.ctx.clock())
        return row.user_id if row else None


@BOTH_DBS
def test_a_token_works_once_for_its_purpose_and_is_stored_hashed(tp):
    token = _issue(tp)
    with tp.ctx.sessions.begin() as s:
        stored = s.scalars(select(AccountToken.token_hash)).all()
    assert stored == [account_tokens.digest(token)] and token not in stored
    assert _use(tp, token, "verify") is None  # another purpose
    assert _use(tp, token) is not None
    assert _use(tp, token) is None
    assert _use(tp, "nonsense") is None and _use(tp, "") is None and _use(tp, "x" * 500) is None


def test_a_token_expires(tp, clock):
    token = _issue(tp, minutes=60)
    clock.advance(minutes=60)
    assert _use(tp, token) is None
    fresh = _issue(tp, minutes=60)
    clock.advance(minutes=59)
    assert _use(tp, fresh) is not None


@BOTH_DBS
def test_concurrent_uses_of_one_token_let_exactly_one_win(tp):
    token = _issue(tp)
    racers = 8
    barrier = threading.Barrier(racers)
    won: list[int | None] = []

    def race() -> None:
        with tp.ctx.sessions.begin() as s:
            barrier.wait()
            row = account_tokens.use(s, token, "reset", tp.ctx.clock())
            won.append(row.user_id if row else None)

    threads = [threading.Thread(target=race) for _ in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == racers and sum(w is not None for w in won) == 1


def test_tokens_long_expired_are_cleaned_up(tp, clock):
    _issue(tp, minutes=60)
    clock.advance(days=2)
    _issue(tp, minutes=60)
    with tp.ctx.sessions.begin() as s:
        assert len(s.scalars(select(AccountToken)).all()) == 1
