"""Resolve texts whose outcome is unknown by asking the provider what it actually has.

A timeout or 5xx may have reached Twilio, and a worker killed mid-send leaves a lease that
expires. Either way the text is ``unknown``. We list the messages to that number since the
attempt began and match the body: found means ``sent`` (we take its sid); not found after a
grace period means it is safe to send again. Nothing is ever resent blindly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from pathway.clock import Clock
from pathway.dispatch.outbox import picked
from pathway.dispatch.settings import DispatchSettings
from pathway.models import Message, Patient
from pathway.services import outbox, outcomes
from pathway.services.base import Env, Rules
from pathway.services.tasks import open_task
from pathway.sms import SmsError, Transport

# Clocks differ a little between us and the provider.
SKEW = timedelta(minutes=2)
# An unknown text nobody could resolve for this long goes to a person.
ESCALATE_AFTER = timedelta(hours=6)


@dataclass
class ReconcileReport:
    found: int = 0
    resend: int = 0
    waiting: int = 0
    errors: int = 0
    ids: list[int] = field(default_factory=list)


def _claim_unknown(session: Session, *, now: datetime, worker_id: str, limit: int, lease: timedelta) -> list[int]:
    pick = (select(Message.id).where(Message.status == "unknown",
                                     (Message.lease_until.is_(None)) | (Message.lease_until < now))
            .order_by(Message.attempt_started_at, Message.id).limit(limit))
    rows = session.execute(
        update(Message)
        .where(picked(session.get_bind().dialect.name, pick), Message.status == "unknown")
        .values(claimed_by=worker_id, lease_until=now + lease)
        .returning(Message.id)
        .execution_options(synchronize_session=False)
    ).all()
    return [r[0] for r in rows]


def reconcile_unknown(sessions: sessionmaker[Session], transport: Transport, settings: DispatchSettings,
                      rules: Rules, *, clock: Clock, worker_id: str, limit: int = 20) -> ReconcileReport:
    report = ReconcileReport()
    with sessions.begin() as session:
        ids = _claim_unknown(session, now=clock(), worker_id=worker_id, limit=limit, lease=settings.lease)
    for mid in ids:
        with sessions() as session:
            msg = session.get(Message, mid)
            patient = session.get(Patient, msg.patient_id) if msg else None
            if msg is None or patient is None or msg.status != "unknown":
                continue
            started = msg.attempt_started_at or msg.updated_at
            to, body = patient.phone, msg.body
            taken = set(session.scalars(select(Message.provider_id).where(
                Message.patient_id == msg.patient_id, Message.provider_id.is_not(None))))
        try:
            candidates = transport.list_sent(to, started - SKEW)
        except SmsError as exc:
            report.errors += 1
            _after_error(sessions, rules, mid, clock, worker_id, started, exc)
            continue
        match = next((c for c in sorted(candidates, key=lambda c: c.created_at)
                      if c.body == body and c.provider_id not in taken), None)
        with sessions.begin() as session:
            msg = session.scalars(select(Message).where(Message.id == mid).with_for_update()).one()
            if msg.status != "unknown":
                continue  # a callback resolved it meanwhile
            now = clock()
            if match is not None:
                status = match.status if match.status in ("delivered", "undelivered", "failed") else "sent"
                outbox.record(session, msg, outbox.Reported("found at the provider", status=status,
                                                            sid=match.provider_id, provider_status=match.status,
                                                            sent_at=match.created_at),
                              now=now, source="reconcile", actor=worker_id)
                if status in ("undelivered", "failed"):
                    outcomes.not_asked(session, Env(rules=rules, now=now), msg)
                report.found += 1
            elif now - started >= settings.reconcile_grace:
                if msg.attempts >= settings.max_attempts:
                    outbox.record(session, msg, outbox.Failed("not found at the provider after the last attempt"),
                                  now=now, source="reconcile", actor=worker_id)
                    open_task(session, Env(rules=rules, now=now), "send_failed", f"message:{mid}",
                              f"A {msg.kind.replace('_', ' ')} text could not be sent: call the patient",
                              patient_id=msg.patient_id, episode_id=msg.episode_id, message_id=mid)
                    outcomes.not_asked(session, Env(rules=rules, now=now), msg)
                else:
                    outbox.record(session, msg, outbox.Scheduled("not found at the provider: resend", send_at=now),
                                  now=now, source="reconcile", actor=worker_id)
                report.resend += 1
            else:
                msg.lease_until = None  # look again on a later pass
                report.waiting += 1
        report.ids.append(mid)
    return report


def _after_error(sessions: sessionmaker[Session], rules: Rules, mid: int, clock: Clock, worker_id: str,
                 started: datetime, exc: SmsError) -> None:
    with sessions.begin() as session:
        msg = session.scalars(select(Message).where(Message.id == mid).with_for_update()).one()
        now = clock()
        msg.lease_until = None
        if msg.status == "unknown" and now - started >= ESCALATE_AFTER:
            open_task(session, Env(rules=rules, now=now), "reconcile_unknown", f"message:{mid}",
                      "We cannot tell whether a text reached the patient: check the provider's log or call",
                      patient_id=msg.patient_id, episode_id=msg.episode_id, message_id=mid)
        outbox.note(session, mid, f"could not ask the provider ({exc.outcome})", now=now, source="reconcile",
                    actor=worker_id)
