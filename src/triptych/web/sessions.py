"""The browser session's cookie. Sessions themselves live in the database
(``service/web_sessions.py``) and are reached through ``tp.accounts``."""

COOKIE = "triptych_session"
