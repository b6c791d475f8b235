"""Staff pages and the medicine catalogue: the review banner and the renal-function note at sign-off."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Flask

from pathway.runtime import Runtime
from pathway.services import catalogue as catalogue_service
from pathway.services.base import Actor
from tests.web.conftest import Browser

BANNER = "Medicine catalogue not yet reviewed by a clinician"


def test_every_staff_page_says_the_catalogue_is_unreviewed_until_a_clinician_reviews_it(
    as_role: Any, session: Any, env: Any, make_episode: Any
) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])
    coordinator = as_role("coordinator")
    pages = ["/", "/patients", f"/episodes/{e.id}", f"/patients/{e.patient_id}"]
    for url in pages:
        assert BANNER in coordinator.text(url), url
    assert BANNER not in Browser(coordinator.app).text("/login")  # not a staff page: nothing read
    catalogue_service.record_review(session, env, Actor(role="admin", label="cli"), "Dr. Rivera")
    for url in pages:
        assert BANNER not in coordinator.text(url), url


def test_a_catalogue_version_bump_brings_the_banner_back(
    web_app: Flask, session: Any, env: Any, staff: Any
) -> None:
    catalogue_service.record_review(session, env, Actor(role="admin", label="cli"), "Dr. Rivera")
    assert BANNER not in Browser(web_app).login_as("clinician").text("/")
    rt: Runtime = web_app.extensions["pathway"]
    bumped = replace(rt.rules, catalogue=replace(rt.rules.catalogue, version="2099.1"))
    web_app.extensions["pathway"] = replace(rt, rules=bumped)
    try:
        assert BANNER in Browser(web_app).login_as("clinician").text("/")
    finally:
        web_app.extensions["pathway"] = rt


def test_the_sign_off_shows_that_a_dabigatran_interval_assumes_normal_renal_function(
    as_role: Any, make_episode: Any
) -> None:
    clinician = as_role("clinician")
    plain = make_episode(holds=[{"drug": "dabigatran"}])
    page = clinician.text(f"/episodes/{plain.id}")
    assert "assumes normal renal function" in page and "6 days if CrCl is below 50 mL/min" in page
    measured = make_episode(holds=[{"drug": "dabigatran", "crcl_ml_min": 80}])
    assert "assumes normal renal function" not in clinician.text(f"/episodes/{measured.id}")
