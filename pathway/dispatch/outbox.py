"""Claim due texts, re-check them, and record what happened. Each function is one transaction.

The attempt is committed *before* the HTTP call and its result right after; see shared
docs/dispatch.md for the states. Every status change goes through :mod:`pathway.services.outbox`;
nothing here talks to Twilio.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Integer,
    Row,
    Select,
    Table,
    TextualSelect,
    any_,
    bindparam,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.orm import Session

from pathway.db import UTCDateTime
from pathway.models import Episode, MedicationHold, Message, Milestone, Patient
from pathway.services import outbox
from pathway.services.base import Actor, Env, Rules
from pathway.services.patients import opt_out
from pathway.services.tasks import open_task
from pathway.timeline import NOTICE_KINDS, QuietHours, procedure_end
from pathway.timeline.plan import LATE_REMINDER_GRACE

WORKER = Actor(role="system", label="worker")
_MESSAGES = cast(Table, Message.__table__)


@dataclass(frozen=True)
class Claimed:
    id: int
    to: str
    body: str
    attempt: int
    slot: datetime
    lease_until: datetime  # after this the text may be someone else's: never send it then


def picked(dialect: str, pick: Select[Any] | TextualSelect) -> ColumnElement[bool]:
    """``messages.id`` is one of the ids ``pick`` selects, with the SELECT run exactly once.

    PostgreSQL: ``id IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)`` is NOT safe: without table
    statistics (a new table, right after a bulk insert) the planner makes it the inner side of a
    nested-loop semi join and re-runs it for every outer row; each re-run skips the rows this
    statement has already updated and locks the next ones, so the UPDATE takes every due row,
    not ``n``. ``id = ANY(ARRAY(SELECT ...))`` is an uncorrelated sublink: an InitPlan, run once
    before the UPDATE, which then reads the picked rows by primary key.
    """
    ids = _MESSAGES.c.id
    if dialect == "postgresql":
        assert isinstance(pick, Select)
        locked = pick.with_for_update(skip_locked=True).scalar_subquery()
        return ids == any_(func.array(locked))
    return ids.in_(pick.scalar_subquery())


def _due_ids(dialect: str, now: datetime, limit: int) -> Select[Any] | TextualSelect:
    """The ids of the next ``limit`` texts due at ``now``, read from the small partial index ix_messages_due.

    ``status = 'scheduled'`` is written as a literal, never a bound parameter: only then may the
    partial index (WHERE status = 'scheduled') serve the query. SQLite without statistics still
    prefers ix_messages_status and would sort every future text on every tick (a million future
    texts: half a second a pass), so there the index is named with INDEXED BY, which fails
    loudly rather than scan silently.
    """
    if dialect == "sqlite":
        return (
            text("SELECT messages.id FROM messages INDEXED BY ix_messages_due "
                 "WHERE messages.status = 'scheduled' AND messages.send_at <= :now "
                 "ORDER BY messages.send_at, messages.id LIMIT :limit")
            .bindparams(bindparam("now", now, type_=UTCDateTime()), bindparam("limit", limit))
            .columns(_MESSAGES.c.id)
        )
    return (
        select(_MESSAGES.c.id)
        .where(_MESSAGES.c.status == literal_column("'scheduled'"), _MESSAGES.c.send_at <= now)
        .order_by(_MESSAGES.c.send_at, _MESSAGES.c.id)
        .limit(limit)
    )


# What the claim returns and the send-time checks read: plain rows, no ORM objects.
_CLAIM_COLUMNS = tuple(_MESSAGES.c[name] for name in ("attempts", "body", "patient_id", "episode_id",
                                                       "milestone_id", "kind", "send_at", "lease_until", "urgent"))


def claim_due_rows(session: Session, *, now: datetime, worker_id: str, limit: int, lease: timedelta) -> list[Row[Any]]:
    """Move up to ``limit`` due texts from scheduled to sending in ONE statement; return their rows.

    PostgreSQL: the inner SELECT takes row locks with SKIP LOCKED, so concurrent workers take
    disjoint rows without waiting. SQLite: writers are serialised (BEGIN IMMEDIATE) and the
    outer ``status = 'scheduled'`` makes the UPDATE conditional; its RETURNING decides.
    Rows come back in (send_at, id) order with the columns the send-time checks need.
    """
    dialect = session.get_bind().dialect.name
    rows = outbox.record_where(session, outbox.Sending(worker=worker_id, lease_until=now + lease, started_at=now),
                               expect="scheduled", where=picked(dialect, _due_ids(dialect, now, limit)), now=now,
                               source="dispatch", actor=worker_id, returning=_CLAIM_COLUMNS)
    return sorted(rows, key=lambda r: (r.send_at, r.id))


@dataclass(frozen=True)
class Verdict:
    action: str  # send | suppressed | cancelled | defer
    reason: str = ""
    defer_to: datetime | None = None


def _stale_after(msg: Message, episode: Episode | None, milestone: Milestone | None) -> datetime | None:
    """After this moment a reminder would do more harm than good (it would arrive too late)."""
    if episode is None:
        return None
    if msg.kind in ("last_dose", "pre_procedure", "stop_confirm"):
        return episode.procedure_at
    if msg.kind in ("follow_up", "pt_start") and milestone is not None and milestone.due_at is not None:
        return milestone.due_at
    if msg.kind in ("restart", "check_72h") and milestone is not None and milestone.due_at is not None:
        return milestone.due_at + LATE_REMINDER_GRACE
    return None


_NOTICE_WORDS = {"date_changed": "date-change", "cancelled": "cancellation"}
NOTICE_TOO_LATE = "too late: the procedure this notice is about has ended (a person calls instead)"


def check_before_send(msg: Any, patient: Any, episode: Any | None, milestone: Any | None, hold: Any | None,
                      quiet: QuietHours, now: datetime) -> Verdict:
    """Re-check at send time what planning assumed.

    Takes plain rows (the claim's hot path loads no ORM objects) or models alike; it reads
    msg.kind, the patient's consent, opt-out, phone flag and time zone, the episode's status and
    procedure time and recorded end, the milestone's status and due time, and whether the hold is
    approved and signed.
    """
    if msg.kind != "reply":
        if patient.sms_consent_at is None:
            return Verdict("suppressed", "no consent to texts recorded")
        if patient.opted_out_at is not None:
            return Verdict("suppressed", f"patient opted out ({patient.opted_out_via or 'unknown'})")
    if patient.phone_flagged_at is not None:
        return Verdict("suppressed", f"phone flagged: {patient.phone_flag_reason or 'refused by carrier'}")
    if episode is not None and episode.status == "cancelled" and msg.kind != "cancelled":
        return Verdict("cancelled", "episode cancelled")
    if msg.kind in NOTICE_KINDS and episode is not None:
        # No notice about a change goes after the procedure it concerns has ended: a notice may
        # have waited in the outbox (quiet hours, a stopped worker) past that moment.
        end = procedure_end(episode.procedure_at, episode.duration_minutes, episode.ended_at)
        if now >= end or (not msg.urgent and quiet.next_allowed(now, ZoneInfo(patient.timezone)) >= end):
            return Verdict("cancelled", NOTICE_TOO_LATE)
    if msg.kind in ("last_dose", "restart", "stop_confirm") and (hold is None or not hold.approved_and_signed):
        return Verdict("suppressed", "hold is no longer approved and signed")
    if msg.kind == "restart" and (episode is None or episode.ended_at is None):
        # Planning waits for the recorded end; a restart text stored before that rule (or by
        # any other path) must not go from an estimate either.
        return Verdict("suppressed", "procedure end not recorded: the restart text waits for it")
    if milestone is not None and milestone.status in ("done", "cancelled"):
        return Verdict("cancelled", f"milestone {milestone.status}")
    stale = _stale_after(msg, episode, milestone)
    if stale is not None and now >= stale:
        return Verdict("cancelled", "too late to be useful: its milestone has passed")
    if msg.kind != "reply" and not msg.urgent:  # a person marked a one-off text urgent: it goes now
        tz = ZoneInfo(patient.timezone)
        if not quiet.allowed(now, tz):
            return Verdict("defer", "quiet hours in the patient's time zone", quiet.next_allowed(now, tz))
    return Verdict("send")



def backoff(attempt: int, base: timedelta, ceiling: timedelta, rng: random.Random,
            retry_after: float | None = None) -> timedelta:
    """Exponential backoff with full jitter in its upper half; never sooner than Retry-After."""
    raw = min(ceiling.total_seconds(), base.total_seconds() * (2 ** max(0, attempt - 1)))
    delay = raw * (0.5 + rng.random() / 2)
    if retry_after:
        delay = max(delay, retry_after)
    return timedelta(seconds=delay)


@dataclass(frozen=True)
class HoldRow:
    """The columns of a medication hold the send-time check reads."""
    id: int
    clearance: str
    signed_at: datetime | None
    removed_at: datetime | None = None

    @property
    def approved_and_signed(self) -> bool:  # the same rule as MedicationHold.approved_and_signed
        return self.clearance == "approved" and self.signed_at is not None and self.removed_at is None


_CHECK_READS: dict[str, tuple[Any, ...]] = {
    "patients": (Patient.id, Patient.phone, Patient.sms_consent_at, Patient.opted_out_at, Patient.opted_out_via,
                 Patient.phone_flagged_at, Patient.phone_flag_reason, Patient.timezone),
    "episodes": (Episode.id, Episode.status, Episode.procedure_at, Episode.ended_at, Episode.duration_minutes),
    "milestones": (Milestone.id, Milestone.status, Milestone.due_at, Milestone.hold_id),
    "holds": (MedicationHold.id, MedicationHold.clearance, MedicationHold.signed_at, MedicationHold.removed_at),
}


# PostgreSQL reads the rows by one array parameter (``id = ANY(:ids)``), a statement built once
# whatever the batch holds; an IN list is a new statement for every count of ids. Kept for the
# throughput target: bench/dispatch.py on PostgreSQL went from 0.74 to 0.8+ with it (bench/README.md).
_PG_CHECK_READS = {what: select(*columns).where(columns[0] == any_(bindparam("ids", type_=ARRAY(Integer))))
                   for what, columns in _CHECK_READS.items()}


def _by_id(session: Session, what: str, ids: set[int]) -> dict[int, Any]:
    """The ``what`` rows with these ids, keyed by id (plain rows: no ORM objects on the hot path)."""
    if not ids:
        return {}
    if session.get_bind().dialect.name == "postgresql":
        return {r.id: r for r in session.execute(_PG_CHECK_READS[what], {"ids": sorted(ids)})}
    columns = _CHECK_READS[what]
    return {r.id: r for r in session.execute(select(*columns).where(columns[0].in_(ids)))}


def prepare_claimed(session: Session, claimed: list[Row[Any]], *, now: datetime, worker_id: str,
                    quiet: QuietHours, rules: Rules | None = None) -> list[tuple[Row[Any], str]]:
    """Apply the send-time checks to claimed rows; return ``(row, phone)`` for those that may go now.

    Texts that may not go now are given back (deferred) or closed (suppressed/cancelled); the
    claim is undone, so it does not count as an attempt.
    """
    if not claimed:
        return []
    patients = _by_id(session, "patients", {m.patient_id for m in claimed})
    episodes = _by_id(session, "episodes", {m.episode_id for m in claimed if m.episode_id})
    milestones = _by_id(session, "milestones", {m.milestone_id for m in claimed if m.milestone_id})
    holds = {r.id: HoldRow(r.id, r.clearance, r.signed_at, r.removed_at)
             for r in _by_id(session, "holds", {m.hold_id for m in milestones.values() if m.hold_id}).values()}
    ready = []
    for msg in claimed:
        milestone = milestones.get(msg.milestone_id) if msg.milestone_id else None
        hold = holds.get(milestone.hold_id) if milestone is not None and milestone.hold_id else None
        verdict = check_before_send(msg, patients[msg.patient_id], episodes.get(msg.episode_id or 0), milestone,
                                    hold, quiet, now)
        if verdict.action == "send":
            ready.append((msg, patients[msg.patient_id].phone))
            continue
        change: outbox.Change
        if verdict.action == "defer":
            assert verdict.defer_to is not None
            change = outbox.Scheduled(f"deferred to {verdict.defer_to.isoformat()}: {verdict.reason}",
                                      send_at=verdict.defer_to, give_back=True)
        elif verdict.action == "suppressed":
            change = outbox.Suppressed(verdict.reason, give_back=True)
        else:
            change = outbox.Cancelled(verdict.reason, give_back=True)
            if verdict.reason == NOTICE_TOO_LATE and rules is not None and msg.episode_id is not None:
                open_task(session, Env(rules=rules, now=now), "notice_too_late", f"episode:{msg.episode_id}",
                          f"The {_NOTICE_WORDS.get(msg.kind, 'change')} text did not go: the procedure it is about has "
                          "ended. "
                          "Call the patient about the change, and record the call.",
                          patient_id=msg.patient_id, episode_id=msg.episode_id, message_id=msg.id)
        outbox.record_where(session, change, expect="sending", where=_MESSAGES.c.id == msg.id, now=now,
                            source="dispatch", actor=worker_id)
    return ready


def _locked(session: Session, message_id: int) -> Message:
    return session.scalars(select(Message).where(Message.id == message_id).with_for_update()).one()


def release(session: Session, message_id: int, *, now: datetime, worker_id: str, reason: str) -> None:
    """Give back a claimed text that was never handed to the transport."""
    msg = _locked(session, message_id)
    if msg.status == "sending" and msg.claimed_by == worker_id:
        outbox.record(session, msg, outbox.Scheduled(reason, give_back=True), now=now, source="dispatch",
                      actor=worker_id)


def acceptance(sid: str, provider_status: str, at: datetime) -> outbox.Sent:
    """What the provider's acceptance of a text records."""
    return outbox.Sent(f"accepted by provider ({provider_status})", sid=sid, provider_status=provider_status,
                       sent_at=at)


def record_sent(session: Session, message_id: int, provider_id: str, provider_status: str, *, now: datetime,
                worker_id: str) -> None:
    """Record one accepted text, whatever happened to it meanwhile (the group commit's slow path)."""
    msg = _locked(session, message_id)
    if not outbox.record(session, msg, acceptance(provider_id, provider_status, now), now=now, source="dispatch",
                         actor=worker_id):
        # A status callback got here first (it carries our id): keep its status, note the sid.
        msg.provider_id = msg.provider_id or provider_id
        outbox.note(session, msg.id, f"provider accepted; status already {msg.status}", now=now, source="dispatch",
                    actor=worker_id, provider_status=provider_status, data={"sid": provider_id})


def record_failure(session: Session, env: Env, message_id: int, *, outcome: str, code: int | None,
                   http_status: int | None, retry_after: float | None, configuration: str | None, worker_id: str,
                   max_attempts: int, base: timedelta, ceiling: timedelta, rng: random.Random) -> str:
    """Apply a failed attempt's outcome; return the message's new status.

    ``configuration`` is the transport's word that the sender or account is misconfigured (not the
    number): such a refusal is retried with backoff while someone fixes the settings.
    """
    now = env.now
    msg = _locked(session, message_id)
    if msg.status not in ("sending", "unknown"):
        return msg.status  # a callback already settled it
    label = f"error {code}" if code else (f"HTTP {http_status}" if http_status else "no answer")
    patient = session.get(Patient, msg.patient_id)
    assert patient is not None
    if outcome == "permanent" and configuration is not None:
        open_task(session, env, "sms_config", "sender",
                  f"Texts are being refused: {configuration} (error {code}). Check the Twilio settings.")
        outcome = "retry"
    change: outbox.Change
    if outcome == "retry":
        if msg.attempts >= max_attempts:
            change = outbox.Failed(f"gave up after {msg.attempts} attempts ({label})", error_code=code)
            open_task(session, env, "send_failed", f"message:{msg.id}",
                      f"A {msg.kind.replace('_', ' ')} text could not be sent after {msg.attempts} attempts: "
                      "call the patient", patient_id=msg.patient_id, episode_id=msg.episode_id, message_id=msg.id)
        else:
            when = now + backoff(msg.attempts, base, ceiling, rng, retry_after)
            change = outbox.Scheduled(f"retry at {when.isoformat()} ({label})", send_at=when, error_code=code)
    elif outcome == "opted_out":
        change = outbox.Failed(f"the patient replied STOP ({label})", error_code=code)
    elif outcome == "permanent":
        change = outbox.Failed(f"refused by the provider ({label})", error_code=code)
    else:  # ambiguous: the provider may have it. Never resend blindly; reconcile.
        change = outbox.Unknown(f"outcome unknown ({label}); will reconcile", error_code=code)
    outbox.record(session, msg, change, now=now, source="dispatch", actor=worker_id)
    if outcome == "opted_out":
        opt_out(session, env, WORKER, patient, f"carrier {code}" if code else "carrier opt-out")
        open_task(session, env, "opted_out", f"patient:{patient.id}",
                  "The patient opted out of texts; reach them by phone for the rest of the pathway",
                  patient_id=patient.id, episode_id=msg.episode_id)
    elif outcome == "permanent":
        if patient.phone_flagged_at is None:
            patient.phone_flagged_at, patient.phone_flag_reason = now, f"provider error {code}"
        open_task(session, env, "phone_invalid", f"patient:{patient.id}",
                  f"Texts to this patient's phone are refused ({label}): confirm the mobile number",
                  patient_id=patient.id, episode_id=msg.episode_id, message_id=msg.id)
    return msg.status
