"""What can go wrong with a payment, as the API and pages report it."""

from __future__ import annotations

from triptych.errors import TriptychError


class PaymentsOff(TriptychError):
    code = "payments_off"
    http_status = 404

    def __init__(self) -> None:
        super().__init__("Payments are not set up on this server; ask your administrator "
                         "for credits or a plan change.")


class BadSignature(TriptychError):
    code = "bad_signature"
    http_status = 400


class PaymentProviderError(TriptychError):
    code = "payment_provider_error"
    http_status = 502
