"""What Twilio tells us about a text after it left: status callbacks.

A status only ever moves forward (``sent`` -> ``delivered``/``undelivered``/``failed``); a late
``sent`` never overwrites ``delivered``. Every callback is kept as a delivery event, even one that
changes nothing, so the coordinator sees the whole history.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathway.models import Message, Patient
from pathway.services import outbox
from pathway.services.base import Env
from pathway.services.tasks import open_task

# Twilio's message statuses -> ours.
PROVIDER_STATUS = {
    "accepted": "sent", "scheduled": "sent", "queued": "sent", "sending": "sent", "sent": "sent",
    "delivered": "delivered", "read": "delivered", "undelivered": "undelivered", "failed": "failed",
}


@dataclass(frozen=True)
class CallbackResult:
    message_id: int | None
    changed: bool
    status: str | None


def apply_status_callback(session: Session, env: Env, params: Mapping[str, str], message_ref: str | None, *,
                          bad_number: Callable[[int | None], str | None]) -> CallbackResult:
    """Record one signed status callback. Idempotent: the same callback twice changes nothing more.

    ``bad_number`` is the SMS backend's word on an error code: why the number itself cannot take
    texts, or None (the codes are the provider's, so they live in its backend).
    """
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    provider_status = (params.get("MessageStatus") or params.get("SmsStatus") or "").lower()
    error_code = int(params["ErrorCode"]) if str(params.get("ErrorCode") or "").isdigit() else None
    msg = None
    if message_ref and message_ref.isdigit():
        msg = session.scalar(select(Message).where(Message.id == int(message_ref)).with_for_update())
    if msg is None and sid:
        msg = session.scalar(select(Message).where(Message.provider_id == sid).with_for_update())
    if msg is None:
        return CallbackResult(None, False, None)
    new = PROVIDER_STATUS.get(provider_status)
    reason = f"Twilio status {provider_status or '?'}"
    changed = new is not None and (msg.provider_id in (None, sid) or not sid) and outbox.record(
        session, msg, outbox.Reported(reason, status=new, sid=sid or None, provider_status=provider_status or None,
                                      error_code=error_code, sent_at=env.now),
        now=env.now, source="callback")
    if not changed:
        outbox.note(session, msg.id, reason + " (no change)", now=env.now, source="callback", status=msg.status,
                    provider_status=provider_status or None, error_code=error_code,
                    data={"sid": sid} if sid else None)
    if changed and new in ("undelivered", "failed"):
        patient = session.get(Patient, msg.patient_id)
        why = bad_number(error_code)
        if patient is not None and why and patient.phone_flagged_at is None:
            patient.phone_flagged_at, patient.phone_flag_reason = env.now, f"carrier error {error_code}: {why}"
        open_task(session, env, "text_undelivered", f"message:{msg.id}",
                  f"A {msg.kind.replace('_', ' ')} text was not delivered (error {error_code or 'none given'}): "
                  "call the patient", patient_id=msg.patient_id, episode_id=msg.episode_id, message_id=msg.id)
    return CallbackResult(msg.id, changed, msg.status)
