"""Twilio's calls into us: delivery status callbacks and replies, signature-checked."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server

from pathway.app import create_app
from pathway.models import Message, MessageEvent, Patient, Reply, Task
from pathway.runtime import Runtime
from pathway.services import episodes as ep
from tests.conftest import T0
from tests.dispatch.conftest import PUBLIC_URL


def _sign(fake: Any, url: str, params: dict[str, str]) -> str:
    return RequestValidator(fake.auth_token).compute_signature(url, params)


def _sent_message(sessions: Any, enrol: Any, make_dispatcher: Any, **kw: Any) -> Message:
    enrol(**kw)
    make_dispatcher().dispatch_due()
    with sessions() as s:
        return s.scalars(select(Message).where(Message.status == "sent")).one()


def _count(sessions: Any, model: Any) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)))


def _status(sessions: Any, mid: int) -> str:
    with sessions() as s:
        return s.get(Message, mid).status


def test_signed_callback_behind_a_tls_proxy_moves_the_text_to_delivered(app, sessions, enrol, make_dispatcher,
                                                                        fake_twilio) -> None:
    msg = _sent_message(sessions, enrol, make_dispatcher)
    params = fake_twilio.callback_params(msg.provider_id, "delivered")
    path = f"/webhooks/twilio/status?m={msg.id}"
    # Twilio called the public https address; the app behind the proxy sees plain http on localhost.
    sig = _sign(fake_twilio, PUBLIC_URL + path, params)
    r = app.test_client().post(path, data=params, headers={"X-Twilio-Signature": sig},
                               base_url="http://10.0.0.5:8000")
    assert r.status_code == 204
    assert _status(sessions, msg.id) == "delivered"


@pytest.mark.parametrize("how", ["missing", "forged", "wrong_url", "tampered"])
def test_unsigned_or_forged_callbacks_get_403_and_store_nothing(how, app, sessions, enrol, make_dispatcher,
                                                                fake_twilio) -> None:
    msg = _sent_message(sessions, enrol, make_dispatcher)
    params = fake_twilio.callback_params(msg.provider_id, "delivered")
    path = f"/webhooks/twilio/status?m={msg.id}"
    headers = {}
    if how == "forged":
        headers["X-Twilio-Signature"] = RequestValidator("not-the-token").compute_signature(PUBLIC_URL + path, params)
    elif how == "wrong_url":
        headers["X-Twilio-Signature"] = _sign(fake_twilio, "https://evil.example" + path, params)
    elif how == "tampered":
        headers["X-Twilio-Signature"] = _sign(fake_twilio, PUBLIC_URL + path, params)
        params = {**params, "MessageStatus": "failed"}
    events = _count(sessions, MessageEvent)
    r = app.test_client().post(path, data=params, headers=headers)
    assert r.status_code == 403
    assert _status(sessions, msg.id) == "sent" and _count(sessions, MessageEvent) == events


def test_callbacks_only_move_forward_and_repeats_change_nothing(app, sessions, enrol, make_dispatcher,
                                                                fake_twilio) -> None:
    msg = _sent_message(sessions, enrol, make_dispatcher)
    client = app.test_client()

    def post(status: str) -> None:
        params = fake_twilio.callback_params(msg.provider_id, status)
        path = f"/webhooks/twilio/status?m={msg.id}"
        assert client.post(path, data=params, headers={"X-Twilio-Signature": _sign(fake_twilio, PUBLIC_URL + path,
                                                                                   params)}).status_code == 204

    post("delivered")
    post("delivered")  # idempotent
    post("sent")  # late: never overwrites delivered
    assert _status(sessions, msg.id) == "delivered"
    with sessions() as s:
        callbacks = list(s.scalars(select(MessageEvent).where(MessageEvent.message_id == msg.id,
                                                              MessageEvent.source == "callback")))
    assert len(callbacks) == 3  # every callback kept as a delivery event
    assert [c.to_status for c in callbacks] == ["delivered", None, None]


def test_undelivered_to_a_landline_flags_the_phone_and_asks_a_person(app, sessions, enrol, make_dispatcher,
                                                                    fake_twilio) -> None:
    msg = _sent_message(sessions, enrol, make_dispatcher)
    params = fake_twilio.callback_params(msg.provider_id, "undelivered", error_code=30006)
    path = f"/webhooks/twilio/status?m={msg.id}"
    app.test_client().post(path, data=params, headers={"X-Twilio-Signature": _sign(fake_twilio, PUBLIC_URL + path,
                                                                                   params)})
    with sessions() as s:
        assert s.get(Message, msg.id).status == "undelivered"
        assert s.get(Patient, msg.patient_id).phone_flagged_at is not None
        assert s.scalars(select(Task.kind)).all() == ["text_undelivered"]


def test_a_callback_that_beats_our_commit_still_settles_the_text(app, sessions, enrol, make_dispatcher,
                                                                 fake_twilio) -> None:
    """Crash between Twilio's 201 and our commit: the callback carries our id and repairs it."""
    enrol()
    d = make_dispatcher()
    (claimed,) = d.claim()
    from pathway.sms import OutgoingSms

    result = d.transport.send(OutgoingSms(ref="m", to=claimed.to, body=claimed.body,
                                          status_callback=d.settings.callback_url(claimed.id)))
    params = fake_twilio.callback_params(result.provider_id, "delivered")
    path = f"/webhooks/twilio/status?m={claimed.id}"
    app.test_client().post(path, data=params, headers={"X-Twilio-Signature": _sign(fake_twilio, PUBLIC_URL + path,
                                                                                   params)})
    with sessions() as s:
        msg = s.get(Message, claimed.id)
        assert (msg.status, msg.provider_id) == ("delivered", result.provider_id)
    assert fake_twilio.count() == 1


@pytest.fixture
def live_app(config: Any, sessions: Any, clock: Any) -> Iterator[str]:
    """The app on a real loopback port, with public_url pointing at it."""
    from dataclasses import replace

    server = make_server("127.0.0.1", 0, None)  # type: ignore[arg-type]
    port = server.socket.getsockname()[1]
    server.server_close()
    cfg = config.replace(web=replace(config.web, public_url=f"http://127.0.0.1:{port}"))
    rt = Runtime.build(cfg, clock=clock, engine=sessions.kw["bind"])
    srv = make_server("127.0.0.1", port, create_app(runtime=rt), threaded=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield cfg
    finally:
        srv.shutdown()
        t.join(timeout=5)


def test_end_to_end_fake_twilio_posts_a_signed_callback_over_http(live_app, sessions, enrol, make_dispatcher,
                                                                  fake_twilio) -> None:
    from pathway.dispatch.settings import DispatchSettings

    enrol()
    d = make_dispatcher(public_url=DispatchSettings.from_config(live_app, None).public_url)
    d.dispatch_due()
    (rec,) = fake_twilio.records()
    r = fake_twilio.deliver(rec.sid, "delivered")
    assert r.status_code == 204
    with sessions() as s:
        assert s.scalars(select(Message.status)).one() == "delivered"


# --- replies ---------------------------------------------------------------------------------


def _inbound(app: Any, fake: Any, from_: str, body: str, sid: str) -> Any:
    params = {"From": from_, "To": "+15005550006", "Body": body, "MessageSid": sid, "AccountSid": fake.account_sid}
    path = "/webhooks/twilio/inbound"
    return app.test_client().post(path, data=params, headers={"X-Twilio-Signature": _sign(fake, PUBLIC_URL + path,
                                                                                         params)})


def test_stop_reply_opts_out_and_suppresses_pending_texts(app, sessions, seed, people, enrol, fake_twilio) -> None:
    pid = enrol()
    seed(ep.schedule_episode, people["coordinator"], pid, {"procedure_at": "2027-03-10T08:00"})
    r = _inbound(app, fake_twilio, "+12125550001", " stop ", "SMin1")
    assert r.status_code == 200 and "<Message>" not in r.get_data(as_text=True)
    with sessions() as s:
        assert s.get(Patient, pid).opted_out_via == "STOP reply"
        assert set(s.scalars(select(Message.status))) == {"suppressed"}
        assert s.scalars(select(Reply.classification)).all() == ["stop"]
    r = _inbound(app, fake_twilio, "+12125550001", "START", "SMin2")
    with sessions() as s:
        assert s.get(Patient, pid).opted_out_at is None


def test_help_reply_gets_the_clinic_name_and_phone(app, sessions, enrol, fake_twilio) -> None:
    enrol(language="es")
    body = _inbound(app, fake_twilio, "+12125550001", "HELP", "SMin3").get_data(as_text=True)
    assert "<Message>" in body and "Riverside" in body and "+15555550100" in body and "ayuda" in body


def test_red_flag_reply_goes_to_the_top_and_is_answered_at_once(app, sessions, seed, people, enrol,
                                                                fake_twilio) -> None:
    pid = enrol()
    seed(ep.schedule_episode, people["coordinator"], pid, {"procedure_at": "2027-03-10T08:00"})
    body = _inbound(app, fake_twilio, "+12125550001", "I have a fever and the wound is red", "SMin4")
    text = body.get_data(as_text=True)
    assert "911" in text and "+15555550100" in text
    with sessions() as s:
        task = s.scalars(select(Task)).one()
        assert (task.kind, task.priority, task.patient_id) == ("red_flag", 0, pid)
        answer = s.scalars(select(Message).where(Message.kind == "reply")).one()
        assert answer.status == "sent" and "911" in answer.body
    # Twilio retries webhooks: the same reply twice is stored once.
    _inbound(app, fake_twilio, "+12125550001", "I have a fever and the wound is red", "SMin4")
    assert _count(sessions, Reply) == 1 and _count(sessions, Task) == 1


@pytest.mark.parametrize(
    ("language", "body", "named"),
    [
        ("en", "mi esposo tiene calentura", "fever"),  # the family answers in Spanish
        ("es", "she cant feel her legs and cant pee", "leg numbness, bladder or bowel"),
        ("es", "estoy sangrando, no se si es normal", "bleeding"),
        ("en", "fevr since last nite", "fever"),
    ],
)
def test_a_red_flag_in_either_language_opens_a_red_flag_task_naming_what_was_read(
        app, sessions, enrol, fake_twilio, language: str, body: str, named: str) -> None:
    pid = enrol(language=language)
    text = _inbound(app, fake_twilio, "+12125550001", body, "SMin40").get_data(as_text=True)
    assert "911" in text
    with sessions() as s:
        task = s.scalars(select(Task)).one()
        assert (task.kind, task.priority, task.patient_id) == ("red_flag", 0, pid)
        assert f"({named})" in task.summary
        assert s.scalars(select(Reply.classification)).all() == ["red_flag"]


@pytest.mark.parametrize("body", ["no fever, just sore", "sin fiebre ni escalofrios, todo bien"])
def test_a_denied_symptom_is_an_ordinary_reply_for_a_person_to_read(app, sessions, enrol, fake_twilio,
                                                                    body: str) -> None:
    enrol()
    text = _inbound(app, fake_twilio, "+12125550001", body, "SMin41").get_data(as_text=True)
    assert "<Message>" not in text
    with sessions() as s:
        assert s.scalars(select(Task.kind)).all() == ["reply"]


def test_free_text_stop_request_reaches_a_person(app, sessions, enrol, fake_twilio) -> None:
    pid = enrol()
    _inbound(app, fake_twilio, "+12125550001", "please don't text me anymore", "SMin5")
    with sessions() as s:
        assert s.scalars(select(Task.kind)).all() == ["stop_request"]
        assert s.get(Patient, pid).opted_out_at is None  # a person confirms and honours it


def test_unsigned_reply_is_refused_and_not_stored(app, sessions, enrol, fake_twilio) -> None:
    enrol()
    r = app.test_client().post("/webhooks/twilio/inbound", data={"From": "+12125550001", "Body": "STOP"})
    assert r.status_code == 403 and _count(sessions, Reply) == 0


# --- health ----------------------------------------------------------------------------------


def test_healthz_reports_heartbeat_age_and_overdue_texts(app, sessions, enrol, make_dispatcher, clock) -> None:
    client = app.test_client()
    r = client.get("/healthz")
    assert r.status_code == 503 and r.json["worker_heartbeat_age_seconds"] is None
    make_dispatcher().dispatch_due()
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json["status"] == "ok" and r.json["database"] == "ok"
    assert r.json["worker_heartbeat_age_seconds"] == 0
    enrol()
    clock.advance(timedelta(minutes=10))  # the worker stopped: three ticks pass without a beat
    r = client.get("/healthz")
    assert r.status_code == 503 and r.json["overdue_unsent_messages"] == 1


# --- replies from unknown and shared numbers (issue 11) -------------------------------------


def _worklist(seed: Any, people: Any) -> list[Any]:
    from pathway.services.worklist import worklist
    return list(seed(worklist, people["coordinator"]))


def _tasks(sessions: Any) -> list[tuple[str, int, int | None]]:
    with sessions() as s:
        return [(t.kind, t.priority, t.patient_id) for t in s.scalars(select(Task).where(Task.resolved_at.is_(None))
                                                                       .order_by(Task.id))]


def test_a_red_flag_from_an_unknown_number_is_a_red_flag_priority_item_a_person_links_to_the_patient(
        app, sessions, seed, people, enrol, fake_twilio) -> None:
    from pathway.services.replies import link_reply

    pid = enrol()
    eid = seed(ep.schedule_episode, people["coordinator"], pid, {"procedure_at": "2027-03-10T08:00"})
    text = _inbound(app, fake_twilio, "+13055550199", "this is his daughter, dad cant feel his legs", "SMun1")
    assert "911" in text.get_data(as_text=True)  # answered at once, whoever wrote
    [item] = [i for i in _worklist(seed, people) if i.kind == "unmatched_reply"]
    assert (item.priority, item.patient_id, item.from_number) == (0, None, "+13055550199")
    assert item.reply_body == "this is his daughter, dad cant feel his legs" and item.reply_id is not None
    assert item.title == "Red flag from an unknown number: call today"
    seed(link_reply, people["coordinator"], item.reply_id, {"patient_id": pid})
    top = _worklist(seed, people)[0]
    assert (top.kind, top.priority, top.patient_id, top.episode_id, top.reply_id) == ("red_flag", 0, pid, eid,
                                                                                     item.reply_id)
    assert "unmatched_reply" not in {i.kind for i in _worklist(seed, people)}
    with sessions() as s:
        assert s.get(Reply, item.reply_id).patient_id == pid
        from pathway.models import AuditEvent
        link = s.scalars(select(AuditEvent).where(AuditEvent.action == "reply.link")).one()
        assert (link.entity_id, link.patient_id) == (item.reply_id, pid)
        assert "+1305" not in str(link.detail) and "legs" not in str(link.detail)


def test_an_ordinary_reply_from_an_unknown_number_waits_until_dismissed_with_a_note(
        app, sessions, seed, people, enrol, fake_twilio) -> None:
    from pathway.services.base import ValidationError
    from pathway.services.replies import dismiss_reply

    enrol()
    _inbound(app, fake_twilio, "+13055550199", "who is this?", "SMun2")
    [item] = [i for i in _worklist(seed, people) if i.kind == "unmatched_reply"]
    assert item.priority == 5 and item.title == "Reply from an unknown number" and item.reply_body == "who is this?"
    with pytest.raises(ValidationError) as refused:
        seed(dismiss_reply, people["coordinator"], item.reply_id, {"note": "  "})
    assert set(refused.value.errors) == {"note"}
    seed(dismiss_reply, people["coordinator"], item.reply_id, {"note": "wrong number, told them so"})
    assert [i for i in _worklist(seed, people) if i.kind == "unmatched_reply"] == []
    with sessions() as s:
        task = s.scalars(select(Task).where(Task.kind == "unmatched_reply")).one()
        assert task.resolution == "wrong number, told them so" and s.get(Reply, item.reply_id).handled_at


@pytest.mark.parametrize(("body", "priority", "then"), [("is the appointment still on?", 5, "reply"),
                                                        ("tiene fiebre y la herida supura", 0, "red_flag")])
def test_a_reply_from_a_shared_number_is_one_item_listing_each_patient_until_a_person_picks_one(
        app, sessions, seed, people, enrol, fake_twilio, body: str, priority: int, then: str) -> None:
    from pathway.services.replies import link_reply

    husband = enrol(phone="+1 212 555 0001", family_name="Ruiz", given_name="Ana")
    wife = enrol(phone="+1 212 555 0001", family_name="Ruiz", given_name="Luis")
    for pid in (husband, wife):
        seed(ep.schedule_episode, people["coordinator"], pid, {"procedure_at": "2027-03-10T08:00"})
    _inbound(app, fake_twilio, "+12125550001", body, "SMsh1")
    [item] = [i for i in _worklist(seed, people) if i.kind == "unmatched_reply"]
    assert item.priority == priority and item.patient_id is None
    assert {c.patient_id for c in item.candidates} == {husband, wife}
    assert "shared number" in item.title
    seed(link_reply, people["coordinator"], item.reply_id, {"patient_id": wife})
    assert _tasks(sessions) == [(then, priority if then == "red_flag" else 40, wife)]


def test_linking_refuses_a_patient_that_does_not_exist_or_an_episode_of_someone_else(
        app, sessions, seed, people, enrol, fake_twilio) -> None:
    from pathway.services.base import ValidationError
    from pathway.services.replies import link_reply

    pid, other = enrol(), enrol()
    foreign = seed(ep.schedule_episode, people["coordinator"], other, {"procedure_at": "2027-03-10T08:00"})
    _inbound(app, fake_twilio, "+13055550199", "hello", "SMun3")
    [item] = [i for i in _worklist(seed, people) if i.kind == "unmatched_reply"]
    for data, field in (({}, "patient_id"), ({"patient_id": 999999}, "patient_id"),
                        ({"patient_id": pid, "episode_id": foreign}, "episode_id")):
        with pytest.raises(ValidationError) as refused:
            seed(link_reply, people["coordinator"], item.reply_id, data)
        assert set(refused.value.errors) == {field}
    with sessions() as s:
        assert s.get(Reply, item.reply_id).patient_id is None  # nothing half-stored


def test_stop_from_a_shared_number_opts_out_everyone_on_it_start_brings_them_all_back_help_answers_once(
        app, sessions, seed, people, enrol, fake_twilio) -> None:
    first = enrol(phone="+1 212 555 0001")
    second = enrol(phone="+1 212 555 0001")
    for pid in (first, second):
        seed(ep.schedule_episode, people["coordinator"], pid, {"procedure_at": "2027-03-10T08:00"})
    r = _inbound(app, fake_twilio, "+12125550001", "STOP", "SMsh2")
    assert "<Message>" not in r.get_data(as_text=True)
    with sessions() as s:
        assert [s.get(Patient, p).opted_out_via for p in (first, second)] == ["STOP reply", "STOP reply"]
        assert set(s.scalars(select(Message.status))) == {"suppressed"}
    assert sorted(_tasks(sessions)) == sorted([("opted_out", 25, first), ("opted_out", 25, second)])
    _inbound(app, fake_twilio, "+12125550001", "START", "SMsh3")
    with sessions() as s:
        assert [s.get(Patient, p).opted_out_at for p in (first, second)] == [None, None]
    body = _inbound(app, fake_twilio, "+12125550001", "HELP", "SMsh4").get_data(as_text=True)
    assert body.count("<Message>") == 1 and "+15555550100" in body
    assert "unmatched_reply" not in {k for k, _, _ in _tasks(sessions)}


def test_start_from_a_shared_number_does_not_undo_a_consent_staff_recorded_as_withdrawn(
        app, sessions, seed, people, enrol, fake_twilio) -> None:
    from pathway.services import patients as pt

    first = enrol(phone="+1 212 555 0001")
    second = enrol(phone="+1 212 555 0001")
    seed(pt.update_patient, people["coordinator"], second, {"sms_consent": False})  # told staff: no texts
    _inbound(app, fake_twilio, "+12125550001", "STOP", "SMwd1")
    _inbound(app, fake_twilio, "+12125550001", "START", "SMwd2")  # someone on the phone wants texts again
    with sessions() as s:
        assert s.get(Patient, first).opted_out_at is None  # back in: it was their STOP
        withdrawn = s.get(Patient, second)
        assert withdrawn.opted_out_at is not None and withdrawn.opted_out_via == pt.WITHDRAWN_VIA


def test_a_free_text_reply_in_the_two_weeks_after_the_procedure_is_read_ahead_of_routine_items(
        app, sessions, seed, people, enrol, fake_twilio, clock) -> None:
    from datetime import UTC, datetime

    pid = enrol()
    seed(ep.schedule_episode, people["coordinator"], pid, {"procedure_at": "2027-03-10T08:00"})
    clock.set(datetime(2027, 3, 24, 15, tzinfo=UTC))  # day 14
    _inbound(app, fake_twilio, "+12125550001", "feeling ok, a bit stiff", "SMrd1")
    [item] = [i for i in _worklist(seed, people) if i.reply_id is not None]
    assert (item.kind, item.priority, item.patient_id) == ("task", 12, pid)
    assert item.reply_body == "feeling ok, a bit stiff" and "read it" in item.title
    clock.set(datetime(2027, 3, 25, 15, tzinfo=UTC))  # day 15: still shown, at routine priority
    _inbound(app, fake_twilio, "+12125550001", "all good thanks", "SMrd2")
    later = [i for i in _worklist(seed, people) if i.reply_body == "all good thanks"]
    assert [(i.kind, i.priority) for i in later] == [("task", 40)]


def test_resolving_a_red_flag_needs_a_note_of_what_was_done_and_is_audited(
        app, sessions, seed, people, enrol, fake_twilio) -> None:
    from pathway.models import AuditEvent
    from pathway.services.base import ValidationError
    from pathway.services.tasks import resolve_task

    pid = enrol()
    _inbound(app, fake_twilio, "+12125550001", "I have a fever", "SMrf1")
    with sessions() as s:
        tid = s.scalars(select(Task.id).where(Task.kind == "red_flag")).one()
    for blank in ("", {"resolution": "   "}):
        with pytest.raises(ValidationError) as refused:
            seed(resolve_task, people["coordinator"], tid, blank)
        assert "emergency department" in refused.value.errors["resolution"]
    seed(resolve_task, people["coordinator"], tid, {"resolution": "Called: sent to the emergency department"})
    with sessions() as s:
        task = s.get(Task, tid)
        assert task.resolution == "Called: sent to the emergency department" and task.resolved_at is not None
        audit = s.scalars(select(AuditEvent).where(AuditEvent.action == "task.resolve")).one()
        assert (audit.entity_id, audit.patient_id, audit.detail) == (tid, pid, {"kind": "red_flag"})


def test_a_red_flag_stored_with_no_patient_before_unmatched_items_existed_shows_and_can_be_linked(
        app, sessions, seed, people, enrol, fake_twilio) -> None:
    from pathway.services.replies import link_reply
    from pathway.services.tasks import open_task

    pid = enrol()
    with sessions.begin() as s:
        old = Reply(from_number="+13055550100", body="fever 102", received_at=T0, classification="red_flag")
        s.add(old)
        s.flush()
        rid = old.id
    seed(open_task, "red_flag", f"reply:{rid}", "Patient reported a possible red-flag symptom (fever)",
         reply_id=rid)
    [item] = [i for i in _worklist(seed, people) if i.kind == "unmatched_reply"]
    assert (item.reply_id, item.priority, item.from_number) == (rid, 0, "+13055550100")
    seed(link_reply, people["coordinator"], rid, {"patient_id": pid})
    assert _tasks(sessions) == [("red_flag", 0, pid)]
