"""The medicine catalogue's review record, and what staff must see about a hold's renal assumption.

A catalogue version is a clinical document: until a clinician has reviewed the version the
program runs, every staff page says so. ``pathway catalogue review --by NAME`` records the
review (the time comes from the clock at the CLI edge).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathway.models import CatalogueReview, MedicationHold
from pathway.services.base import Actor, Env, ValidationError, audit
from pathway.timeline import Catalogue
from pathway.timeline.catalogue import default_catalogue
from pathway.timeline.texts import plural
from pathway.timeline.vocabulary import Role

UNREVIEWED_BANNER = "Medicine catalogue not yet reviewed by a clinician"


def record_review(session: Session, env: Env, actor: Actor, reviewed_by: str) -> CatalogueReview:
    """Record that ``reviewed_by`` reviewed the catalogue version this program runs."""
    actor.require(Role.ADMIN, Role.CLINICIAN)
    name = (reviewed_by or "").strip()
    if not name:
        raise ValidationError({"by": "name the clinician who reviewed the catalogue"})
    if len(name) > 200:
        raise ValidationError({"by": "too long: at most 200 characters"})
    review = CatalogueReview(version=env.rules.catalogue.version, reviewed_by=name, reviewed_at=env.now)
    session.add(review)
    session.flush()
    audit(session, env, actor, "catalogue.review", "catalogue_review", review.id,
          detail={"version": review.version})
    return review


def current_review(session: Session, catalogue: Catalogue) -> CatalogueReview | None:
    """The latest review of the catalogue's current version, or None."""
    return session.scalars(
        select(CatalogueReview).where(CatalogueReview.version == catalogue.version)
        .order_by(CatalogueReview.reviewed_at.desc(), CatalogueReview.id.desc()).limit(1)
    ).first()


def unreviewed_banner(session: Session, catalogue: Catalogue) -> str | None:
    """The banner every staff page shows until the current version has a review."""
    return None if current_review(session, catalogue) is not None else UNREVIEWED_BANNER


def assumes_normal_renal_function(hold: MedicationHold, catalogue: Catalogue | None = None) -> bool:
    """True when a renal-dependent hold (dabigatran) uses the normal-function interval without a CrCl.

    A clinician who entered their own interval has decided; a hold with a CrCl follows its band.
    """
    drug = (catalogue or default_catalogue()).drugs.get(hold.drug_key) if hold.drug_key else None
    return bool(drug is not None and drug.renal_dependent and hold.crcl_ml_min is None
                and hold.stop_days == drug.stop_days)


def renal_note(hold: MedicationHold, catalogue: Catalogue | None = None) -> str | None:
    """Words for the sign-off when the interval assumes normal renal function."""
    if not assumes_normal_renal_function(hold, catalogue):
        return None
    drug = (catalogue or default_catalogue()).drugs[hold.drug_key or ""]
    bands = "; ".join(f"{plural(b.stop_days, 'day', 'days')} if CrCl is below {b.crcl_below} mL/min"
                      for b in drug.renal_bands)
    return (f"This interval assumes normal renal function: no creatinine clearance is recorded. "
            f"Check renal function before signing ({bands}).")
