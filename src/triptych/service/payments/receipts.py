"""The one call site for receipts: every payment that commits (credits granted, a plan
started) is handed to the registered hooks, after the commit, outside any transaction.
A server that sends mail registers ``AccountEmail.receipt`` here (``web/mail.py``); a
failing hook is logged, never fatal (the payment stands)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("triptych.payments")


@dataclass(frozen=True)
class Receipt:
    user_id: int
    email: str
    what: str  # "pack" or "subscription"
    description: str  # e.g. "500 credits" or "Pro plan"
    credits: int  # credits granted (0 for a subscription)
    amount_cents: int
    currency: str
    reference: str  # the Checkout Session id


ReceiptHook = Callable[[Receipt], None]
_hooks: list[ReceiptHook] = []
_lock = threading.Lock()


def on_receipt(hook: ReceiptHook) -> ReceiptHook:
    """Register ``hook`` (usable as a decorator); it is called once per committed payment."""
    with _lock:
        if hook not in _hooks:
            _hooks.append(hook)
    return hook


def remove_hook(hook: ReceiptHook) -> None:
    with _lock:
        if hook in _hooks:
            _hooks.remove(hook)


def deliver(receipts: list[Receipt]) -> None:
    """Called by the webhook handler after its transaction commits."""
    with _lock:
        hooks = list(_hooks)
    for receipt in receipts:
        for hook in hooks:
            try:
                hook(receipt)
            except Exception:  # a receipt is a courtesy: the payment is already recorded
                log.exception("receipt hook %r failed for %s", hook, receipt.reference)
