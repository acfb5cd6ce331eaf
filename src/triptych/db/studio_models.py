"""Tables of the web studio (migration 0004): compare picks.

A pick is the image a person chose on a compare sheet, blind (models hidden, order shuffled)
or not. Picks are the user's own preference data: the "your picks" page shows win rates from
them and the recommender reads them as one more signal. A favourite is a timestamp on the
image row itself (``images.favourite_at``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from triptych.db.models import Base


class Pick(Base):
    __tablename__ = "picks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # One pick per compare: picking again replaces the earlier choice.
    compare_id: Mapped[str] = mapped_column(ForeignKey("compares.id"), unique=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"))  # the winning column
    model_id: Mapped[str] = mapped_column(String(100), index=True)
    # Every model on the sheet, in the order shown (the losers are the others).
    shown: Mapped[list[str]] = mapped_column(JSON, default=list)
    prompt_kind: Mapped[str] = mapped_column(String(32))  # recommender intent of the prompt
    blind: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    notes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
