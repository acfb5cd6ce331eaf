"""Triptych: one place for many text-to-image models, behind one credit ledger."""

from triptych.client import Triptych

__all__ = ["Triptych"]
__version__ = "0.1.0"
