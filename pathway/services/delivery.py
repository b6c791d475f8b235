"""What Twilio tells us about a text after it left: status callbacks.

A status only ever moves forward (``sent`` -> ``delivered``/``undelivered``/``failed``); a late
``sent`` never overwrites ``delivered``. Every callback is kept as a delivery event, even one that
changes nothing, so the coordinator sees the whole history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathway.models import Message, MessageEvent, Patient
from pathway.services.base import Env
from pathway.services.tasks import open_task

# How far along a message is. Callbacks may only raise the rank.
RANK = {
    "cancelled": 0, "suppressed": 0, "scheduled": 0, "sending": 1, "unknown": 1,
    "sent": 2, "delivered": 3, "undelivered": 3, "failed": 3,
}
# Twilio's message statuses -> ours.
PROVIDER_STATUS = {
    "accepted": "sent", "scheduled": "sent", "queued": "sent", "sending": "sent", "sent": "sent",
    "delivered": "delivered", "read": "delivered", "undelivered": "undelivered", "failed": "failed",
}
# Carrier errors that mean the number itself cannot take texts.
BAD_NUMBER_ERRORS = {30003: "unreachable handset", 30005: "unknown destination", 30006: "landline or unreachable carrier"}


@dataclass(frozen=True)
class CallbackResult:
    message_id: int | None
    changed: bool
    status: str | None


def apply_status_callback(session: Session, env: Env, params: Mapping[str, str], message_ref: str | None) -> CallbackResult:
    """Record one signed status callback. Idempotent: the same callback twice changes nothing more."""
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
    changed = False
    old = msg.status
    if new is not None and RANK[new] > RANK.get(old, 0) and (msg.provider_id in (None, sid) or not sid):
        msg.status = new
        msg.provider_id = msg.provider_id or sid or None
        msg.sent_at = msg.sent_at or env.now
        msg.lease_until = None
        if error_code is not None:
            msg.error_code = error_code
        msg.updated_at = env.now
        changed = True
    msg.events.append(MessageEvent(
        at=env.now, source="callback", from_status=old, to_status=msg.status if changed else None,
        reason=f"Twilio status {provider_status or '?'}" + ("" if changed else " (no change)"),
        provider_status=provider_status or None, error_code=error_code,
        data={"sid": sid} if sid else None,
    ))
    if changed and new in ("undelivered", "failed"):
        patient = session.get(Patient, msg.patient_id)
        why = BAD_NUMBER_ERRORS.get(error_code or 0)
        if patient is not None and why and patient.phone_flagged_at is None:
            patient.phone_flagged_at, patient.phone_flag_reason = env.now, f"carrier error {error_code}: {why}"
        open_task(session, env, "text_undelivered", f"message:{msg.id}",
                  f"A {msg.kind.replace('_', ' ')} text was not delivered (error {error_code or 'none given'}): "
                  "call the patient", patient_id=msg.patient_id, episode_id=msg.episode_id, message_id=msg.id)
    return CallbackResult(msg.id, changed, msg.status)
