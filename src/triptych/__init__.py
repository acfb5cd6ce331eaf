"""Triptych: one place for many text-to-image models, behind one credit ledger."""

from typing import TYPE_CHECKING, Any

__all__ = ["Triptych"]
__version__ = "0.1.0"

if TYPE_CHECKING:
    from triptych.client import Triptych


def __getattr__(name: str) -> Any:
    # Lazy: importing triptych.world or triptych.nets must not pull in the whole service.
    if name == "Triptych":
        from triptych.client import Triptych

        return Triptych
    raise AttributeError(name)
