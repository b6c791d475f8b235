"""Holds and the medicine catalogue: brand names, free text, "consider" rows, renal function, reviews."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from pathway.models import AuditEvent, CatalogueReview
from pathway.services import catalogue as catalogue_service
from pathway.services import episodes as ep
from pathway.services.answers import hold as hold_answer
from pathway.services.base import Actor, Forbidden, ValidationError
from tests.conftest import at


def _approve(session, env, staff, hold, **extra):
    return ep.record_clearance(session, env, staff["clinician"], hold.id,
                               {"status": "approved", "by": "Dr. Ortiz", **extra})


@pytest.mark.parametrize("typed", ["Coumadin", "  coumadin ", "JANTOVEN", "warfarine", "wafarin", "Coumadin 5 mg"])
def test_a_brand_or_misspelt_warfarin_is_stored_as_warfarin_with_the_inr_gate(make_episode, typed: str) -> None:
    e = make_episode(holds=[{"drug": typed}])
    (hold,) = e.holds
    assert (hold.drug_key, hold.drug_name, hold.inr_required) == ("warfarin", "warfarin", True)
    assert (hold.stop_days, hold.restart_hours) == (5, 6)
    answer = hold_answer(hold)
    assert answer.drug == "warfarin" and answer.catalogued is True and answer.inr_required is True


def test_the_same_drug_by_brand_and_generic_is_listed_twice(make_episode) -> None:
    with pytest.raises(ValidationError) as err:
        make_episode(holds=[{"drug": "warfarin"}, {"drug": "Coumadin"}])
    assert "listed twice" in err.value.errors["holds[1].drug"]


@pytest.mark.parametrize("typed", ["Bayer", "baby aspirin", "Ecotrin", "Lovenox"])
def test_a_brand_that_does_not_say_the_regimen_is_refused_listing_the_variants(make_episode, typed: str) -> None:
    with pytest.raises(ValidationError) as err:
        make_episode(holds=[{"drug": typed}])
    message = err.value.errors["holds[0].drug"]
    assert ("aspirin-primary, aspirin-secondary" in message) or ("enoxaparin-prophylactic" in message)


def test_an_unknown_drug_is_free_text_and_cannot_be_signed_without_stop_and_restart(
    session, env, staff, make_episode
) -> None:
    e = make_episode(holds=[{"drug": "Mystery herbal blend"}])
    (hold,) = e.holds
    assert hold.drug_key is None and (hold.stop_days, hold.stop_hours, hold.restart_hours) == (None, None, None)
    later = at(env, env.now + timedelta(days=1))
    with pytest.raises(ValidationError) as err:
        _approve(session, later, staff, hold)
    assert set(err.value.errors) == {"stop_days", "restart_hours"}
    with pytest.raises(ValidationError) as err:
        _approve(session, later, staff, hold, stop_days=3)
    assert set(err.value.errors) == {"restart_hours"}
    with pytest.raises(ValidationError) as err:
        _approve(session, later, staff, hold, restart_hours=24)
    assert set(err.value.errors) == {"stop_days"}
    _approve(session, later, staff, hold, stop_hours=48, restart_hours=24)
    assert hold.approved_and_signed and hold.stop_hours == 48


def test_the_missing_interval_message_uses_the_words_on_the_form_not_field_names(
    session, env, staff, make_episode
) -> None:
    (hold,) = make_episode(holds=[{"drug": "Mystery herbal blend"}]).holds
    with pytest.raises(ValidationError) as err:
        _approve(session, at(env, env.now + timedelta(days=1)), staff, hold)
    message = err.value.errors["stop_days"]
    assert "stop days (or stop hours)" in message and "_" not in message


def test_a_clinicians_one_day_plan_reads_one_day_on_the_timeline(session, env, staff, make_episode) -> None:
    from pathway.services.planning import hold_rule

    (hold,) = make_episode(holds=[{"drug": "Mystery herbal blend"}]).holds
    _approve(session, at(env, env.now + timedelta(days=1)), staff, hold, stop_days=1, restart_hours=24)
    assert "1 day before, restart 24 h after" in hold_rule(env, hold)


@pytest.mark.parametrize("typed", ["Zoloft", "duloxetine", "fish oil", "Ginkgo biloba", "Celebrex"])
def test_a_consider_stopping_drug_gets_no_default_and_needs_the_clinicians_plan(
    session, env, staff, make_episode, typed: str
) -> None:
    e = make_episode(holds=[{"drug": typed}])
    (hold,) = e.holds
    assert hold.drug_key is not None and not hold.has_plan and hold.restart_hours is None
    assert hold.interval_source.startswith("consider stopping")
    with pytest.raises(ValidationError) as err:
        _approve(session, at(env, env.now + timedelta(days=1)), staff, hold)
    assert set(err.value.errors) == {"stop_days", "restart_hours"}


def test_fish_oil_shows_the_guidelines_suggestion_without_applying_it(make_episode) -> None:
    (hold,) = make_episode(holds=[{"drug": "fish oil"}]).holds
    assert "stop 7 days before" in hold.interval_source and hold.stop_days is None


def test_dabigatran_follows_the_creatinine_clearance_band(make_episode) -> None:
    normal = make_episode(holds=[{"drug": "Pradaxa", "crcl_ml_min": 80}]).holds[0]
    low = make_episode(holds=[{"drug": "dabigatran", "crcl_ml_min": 35}]).holds[0]
    at_threshold = make_episode(holds=[{"drug": "dabigatran", "crcl_ml_min": 50}]).holds[0]
    assert (normal.stop_days, low.stop_days, at_threshold.stop_days) == (4, 6, 4)
    assert low.crcl_ml_min == 35
    assert not hold_answer(low).assumes_normal_renal_function
    assert not hold_answer(normal).assumes_normal_renal_function


def test_dabigatran_without_a_clearance_says_it_assumes_normal_renal_function(make_episode) -> None:
    hold, other = make_episode(holds=[{"drug": "dabigatran"}, {"drug": "apixaban"}]).holds
    answer = hold_answer(hold)
    assert answer.assumes_normal_renal_function is True and answer.crcl_ml_min is None
    assert hold.stop_days == 4
    assert "assumes normal renal function" in (catalogue_service.renal_note(hold) or "")
    assert hold_answer(other).assumes_normal_renal_function is False


def test_a_crcl_out_of_range_is_refused_naming_the_field(make_episode) -> None:
    with pytest.raises(ValidationError) as err:
        make_episode(holds=[{"drug": "dabigatran", "crcl_ml_min": 0}])
    assert "holds[0].crcl_ml_min" in err.value.errors


# --- catalogue reviews ----------------------------------------------------------------------


def test_a_review_records_who_reviewed_which_version_and_is_audited(session, env) -> None:
    cli = Actor(role="admin", label="cli")
    assert catalogue_service.unreviewed_banner(session, env.rules.catalogue) == \
        "Medicine catalogue not yet reviewed by a clinician"
    review = catalogue_service.record_review(session, env, cli, "  Dr. Rivera ")
    assert (review.version, review.reviewed_by, review.reviewed_at) == (env.rules.catalogue.version, "Dr. Rivera",
                                                                         env.now)
    assert catalogue_service.unreviewed_banner(session, env.rules.catalogue) is None
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "catalogue.review")).one()
    assert event.detail == {"version": env.rules.catalogue.version} and event.actor == "cli"
    bumped = replace(env.rules.catalogue, version="2099.1")
    assert catalogue_service.unreviewed_banner(session, bumped) is not None


def test_a_review_needs_a_name_and_a_clinician_or_admin(session, env, staff) -> None:
    with pytest.raises(ValidationError) as err:
        catalogue_service.record_review(session, env, Actor(role="admin", label="cli"), "  ")
    assert set(err.value.errors) == {"by"}
    with pytest.raises(Forbidden):
        catalogue_service.record_review(session, env, staff["coordinator"], "Dr. Rivera")
    assert session.scalars(select(CatalogueReview)).first() is None
