"""One-off texts and the conversation thread, at the service level (issue 11, "Acting on replies")."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from pathway.models import AuditEvent, Message
from pathway.services.base import Conflict, Env, ValidationError
from pathway.services.conversation import entries, identifying_words, send_staff_text
from pathway.services.replies import receive_reply
from tests.conftest import T0


def _with_definition(env: Env, **changes: Any) -> Env:
    rules = replace(env.rules, definition=replace(env.rules.definition, **changes))
    return replace(env, rules=rules)


def test_a_text_names_medicines_the_catalogue_knows_and_the_files_words_ignoring_case_and_accents(env: Env) -> None:
    assert identifying_words(env, "Stop your eliquis and the Plavix; the aspirin too") == ("eliquis", "Plavix",
                                                                                           "aspirin")
    assert identifying_words(env, "Su DESCOMPRESIÓN es el martes") == ("descompresion",)
    assert identifying_words(env, "Your MILD procedure for spinal stenosis") == ("MILD", "spinal stenosis")
    assert identifying_words(env, "Some mild soreness is normal; call us if it gets worse") == ()


def test_a_word_a_clinician_adds_to_the_file_takes_effect(env: Env) -> None:
    assert identifying_words(env, "about your sciatica") == ()
    edited = _with_definition(env, staff_text_identifying_words=(*env.rules.definition.staff_text_identifying_words,
                                                                  "sciatica"))
    assert identifying_words(edited, "about your Sciatica") == ("sciatica",)


def test_the_longest_text_comes_from_the_file(session: Any, env: Env, staff: Any, make_episode: Any) -> None:
    e = make_episode()
    one = _with_definition(env, staff_text_max_segments=1)
    with pytest.raises(ValidationError) as refused:
        send_staff_text(session, one, staff["coordinator"], e.id, {"body": "x" * 161})
    assert "2 SMS segments" in refused.value.errors["body"] and "at most 1 SMS segment (160" in \
        refused.value.errors["body"]
    sent = send_staff_text(session, one, staff["coordinator"], e.id, {"body": "x" * 160})
    assert sent.message is not None and sent.info.segments == 1


def test_a_preview_stores_nothing_and_a_clinician_may_send_too(session: Any, env: Env, staff: Any,
                                                               make_episode: Any) -> None:
    e = make_episode()
    before = session.scalars(select(Message.id)).all()
    seen = send_staff_text(session, env, staff["clinician"], e.id, {"body": "Call us"}, preview=True)
    assert seen.message is None and session.scalars(select(Message.id)).all() == before
    assert session.scalars(select(AuditEvent).where(AuditEvent.action == "message.send")).all() == []
    sent = send_staff_text(session, env, staff["clinician"], e.id, {"body": "Call us"})
    assert sent.message is not None and sent.message.created_by_id == staff["clinician"].user_id
    with pytest.raises(Exception, match="needs the coordinator or clinician role"):
        send_staff_text(session, env, staff["admin"], e.id, {"body": "Call us"})


def test_a_patient_without_consent_is_refused_with_what_to_do(session: Any, env: Env, staff: Any,
                                                              make_patient: Any, make_episode: Any) -> None:
    e = make_episode(make_patient(data={"sms_consent": False}))
    with pytest.raises(Conflict, match="has not consented to texts: record their consent first, or call them"):
        send_staff_text(session, env, staff["coordinator"], e.id, {"body": "Hello"})


def test_the_thread_puts_a_reply_before_the_answer_sent_at_the_same_moment_and_leaves_out_unsent_plans(
        session: Any, env: Env, staff: Any, make_episode: Any) -> None:
    e = make_episode()
    later = replace(env, now=T0 + timedelta(hours=1))
    receive_reply(session, later, from_number=e.patient.phone, body="I fell in the bathroom", provider_id="SMsvc1")
    session.flush()
    thread = entries(session, e)
    assert [(x.type, x.message.kind if x.message else x.reply.classification if x.reply else "") for x in thread] \
        == [("reply", "red_flag"), ("text", "reply")]
    assert thread[0].red_flag_groups == ("fall",) and thread[0].open_task_id is not None
