"""What Twilio tells us about a text after it left: status callbacks.

A status only ever moves forward (``sent`` -> ``delivered``/``undelivered``/``failed``); a late
``sent`` never overwrites ``delivered``. Every callback is kept as a delivery event, even one that
changes nothing, so the coordinator sees the whole history.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathway.models import Message, Patient
from pathway.services import outbox, outcomes
from pathway.services.base import MAX_ID, Env
from pathway.services.tasks import open_task


@dataclass(frozen=True)
class CallbackResult:
    message_id: int | None
    changed: bool
    status: str | None


def _message_key(ref: str | None) -> int | None:
    """The ``m`` of a callback URL as a message id, or None (not a number, or beyond the ids' range)."""
    if not ref or not ref.isascii() or not ref.isdigit() or len(ref) > 10:
        return None
    key = int(ref)
    return key if 1 <= key <= MAX_ID else None


def apply_status_callback(session: Session, env: Env, message_ref: str | None, *, sid: str, provider_status: str,
                          status: str | None, error_code: int | None, bad_number: str | None) -> CallbackResult:
    """Record one signed status callback. Idempotent: the same callback twice changes nothing more.

    The SMS backend has read the provider's words into ours: ``status`` (None for a word we do
    not know), and ``bad_number``, why the error code says the number cannot take texts.
    """
    msg = None
    key = _message_key(message_ref)
    if key is not None:
        msg = session.scalar(select(Message).where(Message.id == key).with_for_update())
    if msg is None and sid:
        msg = session.scalar(select(Message).where(Message.provider_id == sid).with_for_update())
    if msg is None:
        return CallbackResult(None, False, None)
    reason = f"Twilio status {provider_status or '?'}"
    changed = status is not None and (msg.provider_id in (None, sid) or not sid) and outbox.record(
        session, msg, outbox.Reported(reason, status=status, sid=sid or None, provider_status=provider_status or None,
                                      error_code=error_code, sent_at=env.now),
        now=env.now, source="callback")
    if not changed:
        outbox.note(session, msg.id, reason + " (no change)", now=env.now, source="callback", status=msg.status,
                    provider_status=provider_status or None, error_code=error_code,
                    data={"sid": sid} if sid else None)
    if changed and status in ("undelivered", "failed"):
        patient = session.get(Patient, msg.patient_id)
        if patient is not None and bad_number and patient.phone_flagged_at is None:
            patient.phone_flagged_at, patient.phone_flag_reason = env.now, f"carrier error {error_code}: {bad_number}"
        open_task(session, env, "text_undelivered", f"message:{msg.id}",
                  f"A {msg.kind.replace('_', ' ')} text was not delivered (error {error_code or 'none given'}): "
                  "call the patient", patient_id=msg.patient_id, episode_id=msg.episode_id, message_id=msg.id)
        outcomes.not_asked(session, env, msg)
    return CallbackResult(msg.id, changed, msg.status)
