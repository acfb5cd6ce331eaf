"""A fake of the Stripe endpoints Triptych calls, as a real HTTP server on 127.0.0.1, and
webhook deliveries signed the way Stripe signs them.

Endpoints: ``POST /v1/checkout/sessions`` (form-encoded, as the ``stripe`` library sends it)
and ``POST /v1/subscriptions/<id>``. Sessions are kept, so a test can then build the events
Stripe would send for them: ``completed``, ``refunded``, ``disputed``, ``subscription``.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

SECRET_KEY = "sk_test_triptych"
WEBHOOK_SECRET = "whsec_test_triptych"
_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    return f"{prefix}_test_{next(_ids):06d}"


def nest(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (``a[b][0][c]=v``) back to nested dicts and lists."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(out)


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        if node and all(k.isdigit() for k in node):
            return [_lists(node[k]) for k in sorted(node, key=int)]
        return {k: _lists(v) for k, v in node.items()}
    return node


class FakeStripe:
    def __init__(self) -> None:
        self.sessions: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self.fail_next = 0  # answer this many requests with a 500
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                page = b"<!doctype html><title>Fake Checkout</title><h1>Fake Checkout</h1>"
                self.send_response(200 if self.path.startswith("/pay/") else 404)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                params = nest(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
                status, body = fake.answer(self.path, self.headers.get("Authorization", ""),
                                           params)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", new_id("req"))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # -- the API --------------------------------------------------------------------------

    def answer(self, path: str, auth: str, params: dict[str, Any]) -> tuple[int, dict]:
        with self._lock:
            self.requests.append(("POST", path, params))
            if auth != f"Bearer {SECRET_KEY}":
                return 401, {"error": {"type": "invalid_request_error",
                                       "message": "Invalid API Key provided"}}
            if self.fail_next:
                self.fail_next -= 1
                return 500, {"error": {"type": "api_error", "message": "fake outage"}}
            if path == "/v1/checkout/sessions":
                return 200, self._create_session(params)
            match = re.fullmatch(r"/v1/subscriptions/([\w-]+)", path)
            if match and match.group(1) in self.subscriptions:
                sub = self.subscriptions[match.group(1)]
                sub["cancel_at_period_end"] = params.get("cancel_at_period_end") == "true"
                return 200, sub
            return 404, {"error": {"type": "invalid_request_error",
                                   "message": f"No such resource: {path}"}}

    def _create_session(self, params: dict[str, Any]) -> dict[str, Any]:
        line = params["line_items"][0]
        amount = int(line.get("price_data", {}).get("unit_amount") or 0)
        session = {
            "id": new_id("cs"), "object": "checkout.session", "mode": params["mode"],
            "url": f"{self.url}/pay/{next(_ids)}",  # the hosted page, served by this fake
            "client_reference_id": params.get("client_reference_id"),
            "customer_email": params.get("customer_email"),
            "metadata": params.get("metadata", {}), "amount_total": amount,
            "currency": line.get("price_data", {}).get("currency", "usd"),
            "payment_status": "unpaid", "status": "open", "line_items_sent": params["line_items"],
            "success_url": params["success_url"], "cancel_url": params["cancel_url"],
            "payment_intent": None, "subscription": None,
            "customer": params.get("customer"),
            "subscription_metadata": params.get("subscription_data", {}).get("metadata", {}),
        }
        self.sessions[session["id"]] = session
        return session

    # -- what Stripe would send -----------------------------------------------------------

    def completed(self, session_id: str, *, paid: bool = True) -> dict[str, Any]:
        """``checkout.session.completed`` for a session: paid (and given its payment intent
        or subscription) now."""
        with self._lock:
            session = self.sessions[session_id]
            session.update(status="complete", payment_status="paid" if paid else "unpaid",
                           customer=session["customer"] or new_id("cus"))
            if session["mode"] == "payment" and not session["payment_intent"]:
                session["payment_intent"] = new_id("pi")
            if session["mode"] == "subscription" and not session["subscription"]:
                sub_id = new_id("sub")
                session["subscription"] = sub_id
                self.subscriptions[sub_id] = {
                    "id": sub_id, "object": "subscription", "status": "active",
                    "customer": session["customer"], "cancel_at_period_end": False,
                    "metadata": session["subscription_metadata"]}
            obj = {k: v for k, v in session.items()
                   if k not in ("line_items_sent", "subscription_metadata")}
        return event("checkout.session.completed", obj)

    def refunded(self, session_id: str, amount_refunded: int | None = None) -> dict[str, Any]:
        session = self.sessions[session_id]
        amount = session["amount_total"]
        refunded = amount if amount_refunded is None else amount_refunded
        return event("charge.refunded", {
            "id": new_id("ch"), "object": "charge", "amount": amount,
            "amount_refunded": refunded, "refunded": refunded == amount,
            "payment_intent": session["payment_intent"]})

    def disputed(self, session_id: str) -> dict[str, Any]:
        session = self.sessions[session_id]
        return event("charge.dispute.created", {
            "id": new_id("dp"), "object": "dispute", "amount": session["amount_total"],
            "charge": new_id("ch"), "payment_intent": session["payment_intent"],
            "status": "needs_response"})

    def subscription(self, sub_id: str, kind: str, **changes: Any) -> dict[str, Any]:
        """``customer.subscription.<kind>`` with the subscription as it stands (+ changes)."""
        sub = {**self.subscriptions[sub_id], **changes}
        if kind == "deleted":
            sub["status"] = "canceled"
        self.subscriptions[sub_id] = sub
        return event(f"customer.subscription.{kind}", dict(sub))

    @contextmanager
    def running(self) -> Iterator[FakeStripe]:
        self._thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()


def event(kind: str, obj: dict[str, Any], *, created: int | None = None) -> dict[str, Any]:
    return {"id": new_id("evt"), "object": "event", "type": kind, "api_version": "2024-06-20",
            "created": created if created is not None else int(time.time()),
            "livemode": False, "data": {"object": obj}}


def sign(payload: str, *, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """A ``Stripe-Signature`` header: ``t=<time>,v1=HMAC-SHA256(secret, "<time>.<payload>")``."""
    t = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def delivery(evt: dict[str, Any], **how: Any) -> tuple[bytes, str]:
    """The body and signature header of one webhook delivery of ``evt``."""
    payload = json.dumps(evt)
    return payload.encode(), sign(payload, **how)
