"""Payments through Stripe Checkout: credit packs and a subscription to a paid plan.

Off unless the operator sets ``TRIPTYCH_STRIPE_SECRET_KEY`` and
``TRIPTYCH_STRIPE_WEBHOOK_SECRET``. ``gateway`` talks to Stripe (sessions out), ``webhook``
takes Stripe's signed events in and applies each once (``packs`` for credits, ``subscriptions``
for plans), ``receipts`` is the hook called after a payment commits.
"""
