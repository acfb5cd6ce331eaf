"""Concurrent first sign-ups on a fresh install: exactly one account becomes the admin, on
SQLite and on PostgreSQL (where each racer, alone, would count zero accounts)."""

import threading

from sqlalchemy import func, select
from tests.conftest import BOTH_DBS

from triptych.db.models import User
from triptych.service.users import create_user

RACERS = 8


@BOTH_DBS
def test_one_admin_among_concurrent_first_accounts(tp):
    barrier = threading.Barrier(RACERS)
    roles: list[str] = []
    errors: list[Exception] = []

    def sign_up(i: int) -> None:
        try:
            with tp.ctx.sessions.begin() as s:  # its own session and transaction
                barrier.wait()
                user = create_user(s, f"racer{i}@example.com", tp.ctx.clock)
                s.flush()
                tp.ctx.ledger(s).ensure_allowance(user)  # as sign-up does, before commit
                roles.append(user.role)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=sign_up, args=(i,)) for i in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(roles) == ["admin"] + ["user"] * (RACERS - 1)
    with tp.ctx.sessions.begin() as s:
        assert s.scalar(select(func.count()).where(User.role == "admin")) == 1
        assert s.scalar(select(func.count(User.id))) == RACERS
    assert tp.verify_ledger() == []
