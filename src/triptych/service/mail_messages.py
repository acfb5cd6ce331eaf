"""The emails Triptych sends, each as plain text plus a simple HTML part saying the same.

Every builder answers a ``Letter``; nothing here touches the database or the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class Letter:
    subject: str
    text: str
    html: str


def _letter(subject: str, paragraphs: list[str], link: tuple[str, str] | None = None,
            after: list[str] | None = None) -> Letter:
    """Plain text and HTML from the same paragraphs; ``link``: (label, url) as a button."""
    text = list(paragraphs)
    html = [f"<p>{escape(p)}</p>" for p in paragraphs]
    if link:
        label, url = link
        text.append(url)
        html.append(f'<p><a href="{escape(url)}" style="display:inline-block;padding:10px 16px;'
                    'background:#3b5bdb;color:#ffffff;border-radius:6px;text-decoration:none">'
                    f'{escape(label)}</a></p>'
                    f'<p style="color:#555">Or paste this address into your browser: '
                    f'{escape(url)}</p>')
    for p in after or []:
        text.append(p)
        html.append(f'<p style="color:#555">{escape(p)}</p>')
    body = "\n".join(html)
    return Letter(subject, "\n\n".join(text) + "\n— Triptych\n",
                  f'<!doctype html><html><body style="font-family:sans-serif;line-height:1.5">'
                  f"{body}<p>— Triptych</p></body></html>")


def _hours(minutes: int) -> str:
    if minutes % 60 == 0 and minutes >= 60:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes} minutes"


def verify_address(link: str, minutes: int) -> Letter:
    return _letter(
        "Confirm your email address",
        ["Someone (we hope you) created a Triptych account with this address, or asked to "
         "confirm it. Open the link to confirm the address; your account's free monthly "
         "credits start then."],
        ("Confirm my address", link),
        [f"The link works once, for {_hours(minutes)}. If you did not ask for it, ignore "
         "this email: nothing happens without the link."])


def signup_attempt(reset_link: str, minutes: int) -> Letter:
    return _letter(
        "Someone tried to sign up with your address",
        ["Someone tried to create a Triptych account with this address, which already has "
         "one. If it was you, log in as usual; if you do not remember the password, choose "
         "a new one here:"],
        ("Choose a new password", reset_link),
        [f"The link works once, for {_hours(minutes)}. If it was not you, ignore this "
         "email: your account is unchanged."])


def reset_password(link: str, minutes: int) -> Letter:
    return _letter(
        "Reset your Triptych password",
        ["Someone (we hope you) asked to reset the password of the Triptych account with "
         "this address. Open the link to choose a new one; every other signed-in browser "
         "is then signed out."],
        ("Choose a new password", link),
        [f"The link works once, for {_hours(minutes)}. If you did not ask for it, ignore "
         "this email: your password stays as it is."])


def low_balance(available: int, renews_on: str, credits_link: str) -> Letter:
    return _letter(
        "Your Triptych credits are running low",
        [f"You have {available} credit{'s' if available != 1 else ''} left. Your monthly "
         f"allowance renews on {renews_on}.",
         "See your balance, and how to get more credits, on your credits page:"],
        ("Open my credits", credits_link),
        ["We send this at most once a month."])


def receipt(*, credits: int, amount: str, description: str, reference: str, at: str,
            credits_link: str) -> Letter:
    return _letter(
        f"Receipt: {description}",
        ["Thank you for your purchase.",
         f"{description}: {amount}." + (
             f" {credits} credit{'s were' if credits != 1 else ' was'} added to your account."
             if credits else ""),
         f"Date: {at}. Reference: {reference}."],
        ("Open my credits", credits_link),
        ["Keep this email as your receipt."])


def test_message(site: str) -> Letter:
    return _letter("Triptych can send email",
                   [f"This test email from {site} arrived, so its mail settings work."])
