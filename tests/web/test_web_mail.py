"""The server's mail settings are checked at start-up, and a sign-up answers while the mail
server says nothing at all."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.support.smtp_server import mail_settings, stalled_server
from tests.web.conftest import fast_config
from triptych.client import Triptych
from triptych.errors import TriptychError
from triptych.settings import Settings
from triptych.web.app import create_app
from triptych.web.mail import check_mail_settings


def test_mail_settings_mistakes_stop_the_server_with_a_clear_error(tmp_path):
    check_mail_settings(Settings(home=tmp_path, _env_file=None))  # no mail: fine
    with pytest.raises(TriptychError, match="TRIPTYCH_PUBLIC_URL"):
        check_mail_settings(Settings(home=tmp_path, smtp_url="smtp://h", _env_file=None))
    with pytest.raises(TriptychError, match="needs TRIPTYCH_SMTP_URL"):
        check_mail_settings(Settings(home=tmp_path, require_verified_email=True,
                                     _env_file=None))
    with pytest.raises(TriptychError, match="smtp:// or smtps://"):
        check_mail_settings(Settings(home=tmp_path, smtp_url="http://h",
                                     public_url="https://x.test", _env_file=None))
    with pytest.raises(TriptychError, match="http:// or https://"):
        check_mail_settings(Settings(home=tmp_path, smtp_url="smtp://h",
                                     public_url="x.test", _env_file=None))
    assert not Settings(home=tmp_path, _env_file=None).verification_required
    assert Settings(home=tmp_path, smtp_url="smtp://h", _env_file=None).verification_required
    assert not Settings(home=tmp_path, smtp_url="smtp://h", require_verified_email=False,
                        _env_file=None).verification_required


def test_sign_up_answers_while_the_mail_server_is_stalled(tmp_path, fake_catalog):
    with stalled_server() as stalled:
        tp = Triptych(mail_settings(tmp_path / "home",
                                    f"smtp://127.0.0.1:{stalled.port}?timeout=60"),
                      catalog=fake_catalog)
        with TestClient(create_app(tp, fast_config())) as client:
            first = client.post("/v1/auth/signup", json={"email": "a@example.com",
                                                         "password": "violet-orbit-53"})
            assert first.status_code == 202
            assert stalled.accepted.wait(10)  # the sender is stuck on the server now
            second = client.post("/v1/auth/signup", json={"email": "b@example.com",
                                                          "password": "violet-orbit-53"})
            assert second.status_code == 202 and second.content == first.content
            stalled.close()  # the stuck send fails at once and waits for a retry
    tp.db.dispose()
