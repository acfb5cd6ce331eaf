"""Admin: accounts. Search by email; one account's balance, sign-ins and API keys; grant
credits, disable or enable it, end a sign-in, revoke a key. Every change is audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from triptych.errors import TriptychError
from triptych.web import readable
from triptych.web.deps import StateDep, check_csrf
from triptych.web.pages.common import PageAdmin, actor, back, render

router = APIRouter()
PAGE = 50


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, state: StateDep, principal: PageAdmin,
               q: Annotated[str, Query(max_length=320)] = "",
               offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
               done: str = "", error: str = "") -> Response:
    now = state.now()
    users = state.tp.admin.users(q, limit=PAGE + 1, offset=offset)
    for user in users:
        user["joined"] = readable.when(user["created_at"], now)
    return render(request, state, "admin_users.html", principal, users=users[:PAGE], q=q,
                  offset=offset, more=len(users) > PAGE, page_size=PAGE, done=done[:200],
                  error=error[:300])


@router.get("/admin/users/{user_id}", response_class=HTMLResponse)
def user_page(request: Request, state: StateDep, principal: PageAdmin,
              user_id: Annotated[int, Path(ge=1)], done: str = "",
              error: str = "") -> Response:
    now = state.now()
    user = state.tp.admin.user(user_id)
    user["joined"] = readable.when(user["created_at"], now)
    for session in user["sessions"]:
        session["seen"] = readable.when(session["last_seen_at"], now)
        session["started"] = readable.when(session["created_at"], now)
    entries, _ = state.tp.admin.audit(limit=20, target=user["email"])
    return render(request, state, "admin_user.html", principal, member=user,
                  entries=entries, is_self=user_id == principal.user_id, done=done[:200],
                  error=error[:300])


def _to(user_id: int) -> str:
    return f"/admin/users/{user_id}"


@router.post("/admin/users/{user_id}/disable")
def disable_user(request: Request, state: StateDep, principal: PageAdmin,
                 user_id: Annotated[int, Path(ge=1)],
                 csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, principal, csrf_token)
    try:
        user = state.tp.admin.set_disabled(user_id, True, actor(principal))
    except TriptychError as exc:
        return back(_to(user_id), error=exc.message)
    return back(_to(user_id), done=f"{user['email']} is disabled: signed out everywhere, "
                                   f"keys and password refused.")


@router.post("/admin/users/{user_id}/enable")
def enable_user(request: Request, state: StateDep, principal: PageAdmin,
                user_id: Annotated[int, Path(ge=1)],
                csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, principal, csrf_token)
    try:
        user = state.tp.admin.set_disabled(user_id, False, actor(principal))
    except TriptychError as exc:
        return back(_to(user_id), error=exc.message)
    return back(_to(user_id), done=f"{user['email']} can sign in again.")


@router.post("/admin/users/{user_id}/sessions/{session_id}/revoke")
def revoke_session(request: Request, state: StateDep, principal: PageAdmin,
                   user_id: Annotated[int, Path(ge=1)],
                   session_id: Annotated[str, Path(max_length=16)],
                   csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, principal, csrf_token)
    try:
        state.tp.admin.revoke_session(user_id, session_id, actor(principal))
    except TriptychError as exc:
        return back(_to(user_id), error=exc.message)
    return back(_to(user_id), done="Signed out that browser.")


@router.post("/admin/users/{user_id}/keys/{key_id}/revoke")
def revoke_key(request: Request, state: StateDep, principal: PageAdmin,
               user_id: Annotated[int, Path(ge=1)], key_id: Annotated[str, Path(max_length=64)],
               csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, principal, csrf_token)
    try:
        key = state.tp.admin.revoke_key(user_id, key_id, actor(principal))
    except TriptychError as exc:
        return back(_to(user_id), error=exc.message)
    return back(_to(user_id), done=f"Revoked key {key['prefix']}_….")
