"""``triptych payments``: the webhook's event list, for setting up the Stripe endpoint."""

from click.testing import CliRunner

from triptych.cli.main import cli
from triptych.service.payments.webhook import HANDLED_EVENTS


def test_events_lists_what_the_webhook_acts_on():
    result = CliRunner().invoke(cli, ["payments", "events"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    listed = result.output.split()
    assert listed == list(HANDLED_EVENTS)
    # packs are granted on Checkout's completion; refunds and disputes take them back
    assert {"checkout.session.completed", "checkout.session.async_payment_succeeded",
            "charge.refunded", "charge.dispute.created",
            "customer.subscription.deleted"} <= set(listed)
