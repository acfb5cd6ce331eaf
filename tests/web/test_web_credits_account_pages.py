"""The credits page's paging and the new key's one-time flash, through the HTTP layer."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import BOTH_DBS
from tests.web.test_web_pages import form_token, sign_up
from triptych.web import key_flash


@BOTH_DBS
def test_statement_pages_with_show_older(client, tp):
    sign_up(client)
    me = tp.as_user("page@example.com")
    for i in range(30):
        me.generate(f"prompt number {i}", "fake-draft")
    first = client.get("/credits").text
    assert first.count('class="line ') == 25
    assert "prompt number 29" in first and "prompt number 4&#39;" not in first
    older = re.search(r'href="/credits\?before=(\d+)"', first).group(1)
    second = client.get(f"/credits?before={older}").text
    assert second.count('class="line ') == 6  # 5 jobs and the monthly credits
    assert "prompt number 4&#39;" in second and "+50 free credits" in second
    assert "Show older" not in second and 'href="/credits">Newest' in second
    assert client.get("/credits?before=0").status_code == 422


def test_new_key_flash_is_bound_to_its_session(client, app):
    sign_up(client)
    token = form_token(client, "/account")
    made = client.post("/account/keys", data={"name": "ci", "csrf_token": token},
                       follow_redirects=False)
    sealed = made.cookies.get(key_flash.COOKIE) or client.cookies.get(key_flash.COOKIE)
    assert sealed and "tpk_" not in sealed  # encrypted
    with TestClient(app) as other:  # another account replaying the cookie sees nothing
        sign_up(other, "mallory@example.com")
        other.cookies.set(key_flash.COOKIE, sealed, path="/account")
        assert 'id="new-key-value"' not in other.get("/account").text
    assert 'id="new-key-value"' in client.get("/account").text
    assert 'id="new-key-value"' not in client.get("/account").text
