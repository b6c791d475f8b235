"""Who reviewed which version of the medicine catalogue (data/anticoagulants.toml), and when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from pathway.db import Base


class CatalogueReview(Base):
    """One clinician's review of one catalogue version; a version bump needs a new review."""

    __tablename__ = "catalogue_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(40), index=True)
    reviewed_by: Mapped[str] = mapped_column(String(200))
    reviewed_at: Mapped[datetime]
