"""A page and the API audit the same view the same way: the services write the rows.

Each pair reads the same thing once through the staff pages and once through the API as the
same user from the same address, and must leave identical audit rows (action, record, patient,
user, address and detail)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from pathway.models import AuditEvent
from pathway.services.base import SYSTEM
from pathway.services.users import create_token
from tests.web.conftest import Browser

ADDR = "198.51.100.23"
NEW_TIME = "2027-02-12T09:30"


def _last_id(session: Any) -> int:
    return int(session.scalar(select(func.max(AuditEvent.id))) or 0)


def _written(session: Any, since: int) -> list[tuple[Any, ...]]:
    rows = session.execute(
        select(AuditEvent.action, AuditEvent.entity_type, AuditEvent.entity_id, AuditEvent.patient_id,
               AuditEvent.user_id, AuditEvent.remote_addr, AuditEvent.detail)
        .where(AuditEvent.id > since).order_by(AuditEvent.id)
    ).all()
    return [tuple(r) for r in rows]


class Both:
    """The coordinator, signed in to the pages and holding an API token."""

    def __init__(self, web_app: Any, session: Any, env: Any) -> None:
        self.session = session
        self.page = Browser(web_app).login_as("coordinator")
        self.api = web_app.test_client()
        self.token = create_token(session, env, SYSTEM, "coordinator@example.test")
        session.flush()

    def page_rows(self, method: str, url: str, form: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        since = _last_id(self.session)
        if method == "GET":
            r = self.page.get(url, environ_base={"REMOTE_ADDR": ADDR})
        else:
            r = self.page.post(url, form, environ_base={"REMOTE_ADDR": ADDR})
        assert r.status_code == 200, (url, r.status_code)
        return _written(self.session, since)

    def api_rows(self, method: str, url: str, body: Any = None) -> list[tuple[Any, ...]]:
        since = _last_id(self.session)
        r = self.api.open(url, method=method, json=body, environ_base={"REMOTE_ADDR": ADDR},
                          headers={"Authorization": f"Bearer {self.token}"})
        assert r.status_code == 200, (url, r.status_code, r.get_data(as_text=True)[:300])
        return _written(self.session, since)


@pytest.fixture
def both(web_app: Any, session: Any, env: Any) -> Both:
    return Both(web_app, session, env)


@pytest.fixture
def episode(make_episode: Any) -> Any:
    # Four days ahead, with a hold to clear: on the worklist and on the follow-up board.
    return make_episode(procedure_at="2027-02-05T08:00", holds=[{"drug": "warfarin"}])


PAIRS = {
    "patient": (("GET", "/patients/{p}", None), ("GET", "/api/v1/patients/{p}", None)),
    "episode": (("GET", "/episodes/{e}", None), ("GET", "/api/v1/episodes/{e}", None)),
    "worklist": (("GET", "/", None), ("GET", "/api/v1/worklist", None)),
    "follow-up board": (("GET", "/board", None), ("GET", "/api/v1/followups?limit=50", None)),
    "reschedule preview": (("POST", "/episodes/{e}/reschedule", {"procedure_at": NEW_TIME}),
                           ("PATCH", "/api/v1/episodes/{e}?preview=1", {"procedure_at": NEW_TIME})),
}


@pytest.mark.parametrize("what", list(PAIRS))
def test_a_page_and_the_api_write_the_same_audit_rows_for_the_same_view(both: Both, episode: Any, what: str) -> None:
    (page_method, page_url, form), (api_method, api_url, body) = PAIRS[what]
    ids = {"p": episode.patient_id, "e": episode.id}
    from_page = both.page_rows(page_method, page_url.format(**ids), form)
    from_api = both.api_rows(api_method, api_url.format(**ids), body)
    assert from_page == from_api
    assert len(from_page) == 1  # one view, one row
    action, *_, detail = from_page[0]
    assert action != "login" and (episode.patient_id in (detail or {}).get("patient_ids", [])
                                  or from_page[0][3] == episode.patient_id)


def test_an_episode_page_shown_again_with_a_forms_errors_is_audited_like_a_view(both: Both, episode: Any) -> None:
    viewed = both.page_rows("GET", f"/episodes/{episode.id}")
    since = _last_id(both.session)
    r = both.page.post(f"/episodes/{episode.id}/cancel", {"reason": "x" * 600}, environ_base={"REMOTE_ADDR": ADDR})
    assert r.status_code == 422
    assert _written(both.session, since) == viewed  # the record shown again, nothing else stored


def test_the_messages_page_audits_the_patients_it_shows(both: Both, episode: Any) -> None:
    (row,) = both.page_rows("GET", "/messages")
    action, entity_type, _, _, user_id, addr, detail = row
    assert (action, entity_type, addr) == ("outbox.view", "outbox", ADDR) and user_id is not None
    assert episode.patient_id in detail["patient_ids"]


def test_patient_search_from_the_page_is_audited_with_the_patients_found(both: Both, episode: Any) -> None:
    (row,) = both.page_rows("GET", "/patients?q=Example")
    assert row[0] == "patient.search" and row[-1] == {"query": "Example", "results": 1,
                                                      "patient_ids": [episode.patient_id]}


def test_the_reschedule_form_is_audited_as_a_view_of_the_episode(both: Both, episode: Any) -> None:
    """It shows the patient's name and procedure time (issue 13: every page view of a record)."""
    (row,) = both.page_rows("GET", f"/episodes/{episode.id}/reschedule")
    assert row[:4] == ("episode.view", "episode", episode.id, episode.patient_id)
    assert row[-1] == {"page": "reschedule"} and row[5] == ADDR
