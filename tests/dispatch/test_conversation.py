"""The conversation with a patient, end to end (issue 11, "Acting on replies"): a one-off text
typed by a person goes through the API into the outbox, the worker sends it with the real
twilio SDK to the fake Twilio server, Twilio's signed callback delivers it, the patient's
reply arrives through the signed inbound webhook, a red flag is resolved with a note, and the
thread shows all of it in time order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from pathway.models import AuditEvent, Message, Reply
from pathway.services import episodes as ep
from pathway.services.base import SYSTEM
from pathway.services.users import create_token
from tests.conftest import T0
from tests.dispatch.conftest import PUBLIC_URL

PHONE = "+13125550187"  # the patient's, in Chicago (the clinic is in New York)


@pytest.fixture
def token(seed: Any, people: Any) -> str:
    return str(seed(lambda s, env: create_token(s, env, SYSTEM, "coordinator@example.test")))


@pytest.fixture
def episode_id(seed: Any, people: Any, enrol: Any) -> int:
    pid = enrol(phone=PHONE, timezone="America/Chicago")
    return int(seed(ep.schedule_episode, people["coordinator"], pid, {"procedure_at": "2027-03-17T08:00"}))


def _api(app: Any, token: str, method: str, path: str, body: Any = None) -> Any:
    return app.test_client().open("/api/v1" + path, method=method, json=body,
                                  headers={"Authorization": f"Bearer {token}"})


def _signed_post(app: Any, fake: Any, path: str, params: dict[str, str]) -> Any:
    sig = RequestValidator(fake.auth_token).compute_signature(PUBLIC_URL + path, params)
    return app.test_client().post(path, data=params, headers={"X-Twilio-Signature": sig})


def _inbound(app: Any, fake: Any, body: str, sid: str) -> Any:
    return _signed_post(app, fake, "/webhooks/twilio/inbound", {
        "From": PHONE, "To": "+15005550006", "Body": body, "MessageSid": sid, "AccountSid": fake.account_sid})


def _deliver(app: Any, fake: Any, sid: str, mid: int) -> None:
    r = _signed_post(app, fake, f"/webhooks/twilio/status?m={mid}", fake.callback_params(sid, "delivered"))
    assert r.status_code == 204


def test_a_one_off_text_a_reply_and_the_red_flags_note_make_one_thread_in_time_order(
        app, sessions, clock, token, episode_id, make_dispatcher, fake_twilio) -> None:
    words = "Hi, this is Riverside. How are you feeling today? Reply here or call us."
    sent = _api(app, token, "POST", f"/episodes/{episode_id}/messages", {"body": words, "urgent": False})
    assert sent.status_code == 201, sent.get_json()
    text = sent.get_json()
    assert (text["kind"], text["status"], text["body"], text["urgent"], text["segments"]) == (
        "staff", "scheduled", words, False, 1)
    assert text["send_at"] == T0.isoformat() and not text["waits_for_quiet_hours"]  # 10:00 in New York, 09:00 there
    assert text["send_at_local"] == "2027-02-01T09:00:00-06:00"

    make_dispatcher().dispatch_due()
    (record,) = [r for r in fake_twilio.records() if r.body == words]
    assert record.to == PHONE
    _deliver(app, fake_twilio, record.sid, text["id"])

    clock.advance(timedelta(minutes=20))
    answer = _inbound(app, fake_twilio, "not great, I have a fever and chills since last night", "SMthread1")
    assert "911" in answer.get_data(as_text=True)
    worklist = _api(app, token, "GET", "/worklist").get_json()
    red = next(i for i in worklist["items"] if i["kind"] == "red_flag")
    clock.advance(timedelta(minutes=7))
    refused = _api(app, token, "POST", f"/tasks/{red['task_id']}/resolve", {"resolution": "  "})
    assert refused.status_code == 422 and "resolution" in refused.get_json()["errors"]
    note = "Called her: 38.4 C, wound red. Sent to the emergency department."
    assert _api(app, token, "POST", f"/tasks/{red['task_id']}/resolve", {"resolution": note}).status_code == 200

    thread = _api(app, token, "GET", f"/episodes/{episode_id}/thread").get_json()
    assert thread["timezone"] == "America/Chicago"
    shape = [(i["type"], i["message_kind"] or i["classification"] or i["label"]) for i in thread["items"]]
    assert shape == [("text", "enrolment"), ("text", "staff"), ("reply", "red_flag"), ("text", "reply"),
                     ("note", "red_flag")]
    enrolment, mine, reply, straight_back, resolved = thread["items"]
    assert enrolment["status"] == "sent" and enrolment["label"] == "enrolment confirmation"
    assert mine["body"] == words and mine["status"] == "delivered" and mine["by"] == "coordinator@example.test"
    assert [(h["from_status"], h["to_status"]) for h in mine["history"]] == [
        (None, "scheduled"), ("scheduled", "sending"), ("sending", "sent"), ("sent", "delivered")]
    assert mine["history"][0]["source"] == "user"
    assert reply["body"].startswith("not great") and reply["red_flag_groups"] == ["fever"]
    assert reply["open_task_id"] is None  # resolved
    assert "911" in straight_back["body"] and straight_back["at"] == reply["at"]
    assert resolved["body"] == note and resolved["by"] == "coordinator@example.test"
    assert resolved["task_id"] == red["task_id"] and resolved["reply_id"] == reply["reply_id"]
    assert resolved["at"] == (T0 + timedelta(minutes=27)).isoformat()
    assert resolved["at_local"] == "2027-02-01T09:27:00-06:00"
    with sessions() as s:
        actions = list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
        assert "message.send" in actions and "task.resolve" in actions and "episode.thread" in actions
        detail = s.scalars(select(AuditEvent.detail).where(AuditEvent.action == "message.send")).one()
        assert words not in str(detail)  # the words stay in the outbox, never in the audit


def test_a_text_typed_in_quiet_hours_waits_for_morning_in_the_patients_zone_unless_urgent(
        app, sessions, clock, token, episode_id, make_dispatcher, fake_twilio) -> None:
    # Saturday 13 March 2027, 21:30 in Chicago; clocks go forward that night (CST -> CDT).
    clock.set(datetime(2027, 3, 14, 3, 30, tzinfo=UTC))
    make_dispatcher().dispatch_due()  # the enrolment text waits too
    before = fake_twilio.count()
    calm = _api(app, token, "POST", f"/episodes/{episode_id}/messages",
                {"body": "Your paperwork is ready, no rush."}).get_json()
    assert calm["waits_for_quiet_hours"] and calm["send_at_local"] == "2027-03-14T08:00:00-05:00"
    assert calm["send_at"] == "2027-03-14T13:00:00+00:00"  # 08:00 CDT, not CST
    urgent = _api(app, token, "POST", f"/episodes/{episode_id}/messages",
                  {"body": "Please call the clinic tonight about your results.", "urgent": "true"}).get_json()
    assert urgent["urgent"] and not urgent["waits_for_quiet_hours"] and urgent["send_at"] == "2027-03-14T03:30:00+00:00"
    make_dispatcher().dispatch_due()
    assert fake_twilio.bodies()[before:] == ["Please call the clinic tonight about your results."]
    clock.set(datetime(2027, 3, 14, 13, 0, tzinfo=UTC))
    make_dispatcher().dispatch_due()
    assert "Your paperwork is ready, no rush." in fake_twilio.bodies()
    with sessions() as s:
        assert s.get(Message, calm["id"]).status == "sent"


def test_a_text_too_long_empty_or_to_someone_who_cannot_be_texted_is_refused_and_nothing_stored(
        app, sessions, clock, token, episode_id, make_dispatcher, fake_twilio) -> None:
    def messages() -> int:
        with sessions() as s:
            return int(s.scalar(select(func.count()).select_from(Message)))

    stored = messages()
    for body in ("", "   ", None):
        r = _api(app, token, "POST", f"/episodes/{episode_id}/messages", {"body": body})
        assert r.status_code == 422 and list(r.get_json()["errors"]) == ["body"]
    fits = "x" * 459  # three GSM-7 segments
    too_long = _api(app, token, "POST", f"/episodes/{episode_id}/messages", {"body": fits + "x"})
    assert too_long.status_code == 422
    said = too_long.get_json()["errors"]["body"]
    assert "4 SMS segments" in said and "at most 3 SMS segments" in said
    # An accent makes it UCS-2: 201 units in three segments.
    accented = _api(app, token, "POST", f"/episodes/{episode_id}/messages", {"body": "á" * 202})
    assert accented.status_code == 422 and "UCS-2" in accented.get_json()["errors"]["body"]
    assert messages() == stored
    assert _api(app, token, "POST", f"/episodes/{episode_id}/messages", {"body": "á" * 201}).status_code == 201
    assert _api(app, token, "POST", f"/episodes/{episode_id}/messages", {"body": fits}).status_code == 201
    stored = messages()

    # A text waiting when the patient replies STOP is suppressed by the worker; new ones are refused.
    waiting = _api(app, token, "POST", f"/episodes/{episode_id}/messages", {"body": "See you soon."}).get_json()
    _inbound(app, fake_twilio, "STOP", "SMthread-stop")
    refused = _api(app, token, "POST", f"/episodes/{episode_id}/messages", {"body": "Are you there?"})
    assert refused.status_code == 409 and "opted out" in refused.get_json()["message"]
    with sessions() as s:
        assert s.get(Message, waiting["id"]).status == "suppressed"
        assert s.scalar(select(func.count()).select_from(Reply)) == 1
    thread = _api(app, token, "GET", f"/episodes/{episode_id}/thread").get_json()
    assert [i["status"] for i in thread["items"] if i["message_id"] == waiting["id"]] == ["suppressed"]

    # A cancelled episode: the patient was told; a person calls instead.
    _api(app, token, "POST", f"/episodes/{episode_id}/cancel", {"reason": "patient chose to wait"})
    cancelled = _api(app, token, "POST", f"/episodes/{episode_id}/messages", {"body": "Call us to rebook."})
    assert cancelled.status_code == 409 and "cancelled" in cancelled.get_json()["message"]
    assert _api(app, token, "POST", "/episodes/987654/messages", {"body": "hi"}).status_code == 404
