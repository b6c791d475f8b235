"""The schedule upload page (issue 14): the same import as the command line, a report per line."""

from __future__ import annotations

import io
from typing import Any

import pytest
from sqlalchemy import func, select

from pathway.models import AuditEvent, Episode, Patient
from tests.services.test_schedule_import import ANA, BOB, HEADER


@pytest.fixture
def coordinator(as_role: Any) -> Any:
    return as_role("coordinator")


def _upload(who: Any, *rows: str, header: str = HEADER, **form: str) -> Any:
    body = ("\n".join([header, *rows]) + "\n").encode()
    return who.post("/patients/import", {"file": (io.BytesIO(body), "schedule.csv"), **form},
                    content_type="multipart/form-data")


def _count(session: Any, model: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model)))


def test_the_patients_page_links_to_the_upload_page(coordinator: Any) -> None:
    assert 'href="/patients/import"' in coordinator.text("/patients")
    page = coordinator.text("/patients/import")
    assert 'enctype="multipart/form-data"' in page and 'name="file"' in page
    assert "mrn, given_name, family_name" in page and 'name="dry_run"' in page


def test_uploading_imports_the_file_and_reports_each_line(coordinator: Any, session: Any, staff: Any) -> None:
    response = _upload(coordinator, ANA, BOB)
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page[:2000]
    assert "Imported 2 rows." in page and 'id="line-2"' in page and 'id="line-3"' in page
    assert "procedure 2027-03-10 08:00 CST" in page
    ana = session.scalars(select(Patient).where(Patient.mrn == "A100")).one()
    assert f'href="/patients/{ana.id}"' in page and f'href="/episodes/{ana.episodes[0].id}"' in page
    audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "schedule.import")).one()
    assert audit.actor == staff["coordinator"].label


def test_a_bad_row_is_shown_by_line_and_column_and_nothing_is_stored(coordinator: Any, session: Any) -> None:
    response = _upload(coordinator, ANA, BOB.replace("(212) 555-0102", "12"))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Nothing was imported." in page
    assert '<tr class="table-danger" id="line-3">' in page and "<strong>phone</strong>: not a valid US mobile" in page
    assert _count(session, Patient) == 0 and _count(session, Episode) == 0


def test_an_unknown_column_or_no_file_is_refused(coordinator: Any, session: Any) -> None:
    page = _upload(coordinator, ANA + ",x", header=HEADER + ",notes").get_data(as_text=True)
    assert "<strong>notes</strong>: unknown column" in page
    empty = coordinator.post("/patients/import", {}, content_type="multipart/form-data")
    assert empty.status_code == 422 and "is empty" in empty.get_data(as_text=True)
    assert _count(session, Patient) == 0


def test_check_only_reports_and_stores_nothing(coordinator: Any, session: Any) -> None:
    page = _upload(coordinator, ANA, BOB, dry_run="1").get_data(as_text=True)
    assert "Checked only, nothing stored." in page and page.count(">new patient<") == 2
    assert _count(session, Patient) == 0


def test_uploading_the_same_file_again_changes_nothing(coordinator: Any, session: Any) -> None:
    _upload(coordinator, ANA, BOB)
    page = _upload(coordinator, ANA, BOB).get_data(as_text=True)
    assert page.count(">unchanged<") == 2
    assert _count(session, Patient) == 2 and _count(session, Episode) == 2


def test_admins_and_signed_out_visitors_cannot_import(as_role: Any, browser: Any, session: Any) -> None:
    admin = as_role("admin")
    assert admin.get("/patients/import").status_code in (302, 403, 404)
    assert browser.get("/patients/import").status_code == 302
    assert _upload(admin, ANA).status_code in (302, 403, 404)
    assert _count(session, Patient) == 0


def test_the_upload_needs_the_csrf_token(coordinator: Any, session: Any) -> None:
    body = ("\n".join([HEADER, ANA]) + "\n").encode()
    response = coordinator.post("/patients/import", {"file": (io.BytesIO(body), "s.csv")}, csrf=False,
                                content_type="multipart/form-data")
    assert response.status_code in (400, 403)
    assert _count(session, Patient) == 0


def test_a_move_that_breaks_a_signed_hold_waits_for_the_confirm_box(coordinator: Any, session: Any, env: Any,
                                                                    staff: Any) -> None:
    from pathway.services import episodes as ep

    _upload(coordinator, ANA)
    episode = session.scalars(select(Patient).where(Patient.mrn == "A100")).one().episodes[0]
    for hold in episode.holds:
        ep.record_clearance(session, env, staff["clinician"], hold.id, {"status": "approved", "by": "Dr. Ortiz"})
    session.flush()
    earlier = ANA.replace("2027-03-10T08:00", "2027-03-05T08:00")
    refused = _upload(coordinator, earlier)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and ">needs confirmation<" in page
    assert "from 2027-03-10 08:00 CST to 2027-03-05 08:00 CST" not in page  # the problem is shown instead
    assert "needs a coordinator&#39;s confirmation" in page
    session.refresh(episode)
    assert all(h.signed_at is not None for h in episode.holds)
    confirmed = _upload(coordinator, earlier, confirm_holds_at_risk="1")
    assert confirmed.status_code == 200 and "from 2027-03-10 08:00 CST to 2027-03-05 08:00 CST" in \
        confirmed.get_data(as_text=True)
    session.refresh(episode)
    assert all(h.signed_at is None for h in episode.holds)


def test_a_file_over_the_page_limit_is_refused_saying_to_use_the_command(web_app_with: Any, staff: Any,
                                                                        session: Any) -> None:
    from tests.web.conftest import Browser

    nurse = Browser(web_app_with(web={"max_request_bytes": 4096})).login_as("coordinator")
    rows = [ANA.replace("A100", f"A{i:04d}") for i in range(100)]  # about 10 KB
    response = _upload(nurse, *rows)
    page = response.get_data(as_text=True)
    assert response.status_code == 413 and response.content_type.startswith("text/html")
    assert "Nothing was imported: the file is too large for this page." in page
    assert "The page takes files up to 4.1 kB." in page
    assert "<code>pathway import schedule FILE.csv --by YOUR-EMAIL</code>" in page
    assert 'name="file"' in page and 'name="csrf_token"' in page  # the form again, to send a smaller one
    assert _count(session, Patient) == 0 and _count(session, Episode) == 0
    # Under the limit the same page imports as usual; elsewhere a too large body gets the common page.
    assert _upload(nurse, ANA).status_code == 200 and _count(session, Patient) == 1
    other = nurse.post("/patients/new", {"mrn": "x" * 8192})
    assert other.status_code == 413 and "Too large" in other.get_data(as_text=True)
    assert "pathway import schedule" not in other.get_data(as_text=True)
