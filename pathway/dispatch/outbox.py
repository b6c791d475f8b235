"""Claim due texts, re-check them, and record what happened. Each function is one transaction.

The attempt is committed *before* the HTTP call and its result right after; see
shared docs/dispatch.md for the states. Nothing here talks to Twilio.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Integer,
    Select,
    TextualSelect,
    any_,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from pathway.db import UTCDateTime
from pathway.models import Episode, MedicationHold, Message, MessageEvent, Milestone, Patient
from pathway.services.base import Actor, Env
from pathway.services.patients import opt_out
from pathway.services.tasks import open_task
from pathway.timeline import QuietHours

WORKER = Actor(role="system", label="worker")
# Permanent errors that say our sender or account is misconfigured, not that the number is bad:
# they are retried with backoff (someone fixes the settings) and raise one configuration task.
CONFIGURATION_ERRORS = {20003: "authentication failed", 20404: "account or resource not found",
                        21606: "From number not owned by the account", 21659: "From number not valid",
                        21212: "invalid From number"}


@dataclass(frozen=True)
class Claimed:
    id: int
    to: str
    body: str
    attempt: int
    slot: datetime
    lease_until: datetime | None = None  # after this the text may be someone else's: never send it then


def _event(session: Session, message_id: int, now: datetime, src: str, frm: str | None, to: str | None,
           reason: str, actor: str, **kw: object) -> None:
    session.add(MessageEvent(message_id=message_id, at=now, source=src, from_status=frm, to_status=to,
                             reason=reason, actor=actor, **kw))


def picked(dialect: str, pick: Select[tuple[int]] | TextualSelect) -> ColumnElement[bool]:
    """``messages.id`` is one of the ids ``pick`` selects, with the SELECT run exactly once.

    PostgreSQL: ``id IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)`` is NOT safe: without table
    statistics (a new table, right after a bulk insert) the planner makes it the inner side of a
    nested-loop semi join and re-runs it for every outer row; each re-run skips the rows this
    statement has already updated and locks the next ones, so the UPDATE takes every due row,
    not ``n``. ``id = ANY(ARRAY(SELECT ...))`` is an uncorrelated sublink: an InitPlan, run once
    before the UPDATE, which then reads the picked rows by primary key. (A join with a
    MATERIALIZED CTE also runs the SELECT once, but without statistics the planner may drive
    the join from every scheduled row.)
    """
    ids = Message.__table__.c.id
    if dialect == "postgresql":
        assert isinstance(pick, Select)
        locked = pick.with_for_update(skip_locked=True).scalar_subquery()
        return ids == any_(func.array(locked))
    return ids.in_(pick.scalar_subquery())


def _due_ids(dialect: str) -> Select[tuple[int]] | TextualSelect:
    """The ids of the next ``:limit`` texts due at ``:now``, read from the small partial index ix_messages_due.

    ``status = 'scheduled'`` is written as a literal, never a bound parameter: only then may the
    partial index (WHERE status = 'scheduled') serve the query, also from a prepared generic
    plan on PostgreSQL. SQLite without statistics still prefers ix_messages_status and would
    sort every future text on every tick (a million future texts: half a second a pass), so
    there the index is named with INDEXED BY, which fails loudly rather than scan silently.
    """
    if dialect == "sqlite":
        return (
            text("SELECT messages.id FROM messages INDEXED BY ix_messages_due "
                 "WHERE messages.status = 'scheduled' AND messages.send_at <= :now "
                 "ORDER BY messages.send_at, messages.id LIMIT :limit")
            .bindparams(bindparam("now", type_=UTCDateTime()), bindparam("limit"))
            .columns(_MESSAGES.c.id)
        )
    return (
        select(_MESSAGES.c.id)
        .where(_MESSAGES.c.status == literal_column("'scheduled'"),
               _MESSAGES.c.send_at <= bindparam("now", type_=UTCDateTime()))
        .order_by(_MESSAGES.c.send_at, _MESSAGES.c.id)
        .limit(bindparam("limit"))
    )


# What the claim returns and the send-time checks read: plain rows, no ORM objects (the claim
# runs once per batch on the dispatcher's hot path).
_MESSAGES = Message.__table__
_CLAIM_COLUMNS = tuple(_MESSAGES.c[name] for name in ("id", "attempts", "body", "patient_id", "episode_id",
                                                       "milestone_id", "kind", "send_at", "lease_until"))
_EVENTS = MessageEvent.__table__
_CLAIM_STATEMENTS: dict[str, Any] = {}


def _claim_statement(dialect: str) -> Any:
    """The claim UPDATE for one dialect, built once (building and cache-keying a statement on
    every pass costs more than running it). Parameters: now, limit, worker, lease_until."""
    stmt = _CLAIM_STATEMENTS.get(dialect)
    if stmt is None:
        stmt = _CLAIM_STATEMENTS[dialect] = (
            update(_MESSAGES)
            .where(picked(dialect, _due_ids(dialect)), _MESSAGES.c.status == "scheduled")
            .values(status="sending", claimed_by=bindparam("worker"), lease_until=bindparam("lease_until"),
                    attempt_started_at=bindparam("now"), attempts=_MESSAGES.c.attempts + 1,
                    updated_at=bindparam("now"))
            .returning(*_CLAIM_COLUMNS)
        )
    return stmt


def _event_row(message_id: int, now: datetime, src: str, frm: str | None, to: str | None, reason: str,
               actor: str, provider_status: str | None = None, error_code: int | None = None,
               data: dict[str, object] | None = None) -> dict[str, object]:
    row = {"message_id": message_id, "at": now, "source": src, "from_status": frm, "to_status": to,
           "reason": reason, "actor": actor, "provider_status": provider_status, "error_code": error_code}
    if data is not None:  # left out, not None: JSON would store None as a JSON 'null', the ORM as SQL NULL
        row["data"] = data
    return row


_INSERT_EVENTS = insert(_EVENTS)


def _connection(db: Session | Connection) -> Connection:
    return db.connection() if isinstance(db, Session) else db


# PostgreSQL: psycopg runs an executemany as one statement per row (pipelined); these take
# whole columns as arrays, one statement per group, which costs the worker far less CPU.
_PG_INSERT_EVENTS = text(
    "INSERT INTO message_events (message_id, at, source, from_status, to_status, reason, actor, provider_status, "
    "error_code, data) "
    "SELECT v.message_id, v.at, v.source, v.from_status, v.to_status, v.reason, v.actor, v.provider_status, "
    "v.error_code, CAST(v.data AS json) "
    "FROM unnest(CAST(:message_id AS bigint[]), CAST(:at AS timestamptz[]), CAST(:source AS text[]), "
    "CAST(:from_status AS text[]), CAST(:to_status AS text[]), CAST(:reason AS text[]), CAST(:actor AS text[]), "
    "CAST(:provider_status AS text[]), CAST(:error_code AS integer[]), CAST(:data AS text[])) "
    "AS v(message_id, at, source, from_status, to_status, reason, actor, provider_status, error_code, data)")
_EVENT_COLUMNS = ("message_id", "at", "source", "from_status", "to_status", "reason", "actor", "provider_status",
                  "error_code")


def add_events(db: Session | Connection, rows: list[dict[str, object]]) -> None:
    """Insert MessageEvent rows in one statement or one Core executemany (no ORM objects, no flush).

    The statements are built once: building and cache-keying a statement per call costs more
    than the insert itself on the dispatcher's hot path.
    """
    if not rows:
        return
    conn = _connection(db)
    if conn.dialect.name == "postgresql":
        params: dict[str, list[Any]] = {c: [r[c] for r in rows] for c in _EVENT_COLUMNS}
        for at in params["at"]:
            _require_aware(at)
        # A row without "data" stores SQL NULL, as the ORM does (not a JSON 'null').
        params["data"] = [json.dumps(r["data"]) if "data" in r else None for r in rows]
        conn.execute(_PG_INSERT_EVENTS, params)
        return
    with_data = [r for r in rows if "data" in r]
    without = [r for r in rows if "data" not in r]
    for group in (without, with_data):
        if group:
            conn.execute(_INSERT_EVENTS, group)


def _require_aware(value: Any) -> None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"naive or missing datetime {value!r} for a UTC column; pass an aware datetime")


def claim_due_rows(session: Session, *, now: datetime, worker_id: str, limit: int, lease: timedelta) -> list:
    """Move up to ``limit`` due texts from scheduled to sending in ONE statement; return their rows.

    PostgreSQL: the inner SELECT takes row locks with SKIP LOCKED, so concurrent workers take
    disjoint rows without waiting. SQLite: writers are serialised (BEGIN IMMEDIATE) and the
    outer ``status = 'scheduled'`` makes the UPDATE conditional; its RETURNING decides.
    Rows come back in (send_at, id) order with the columns the send-time checks need.
    """
    conn = session.connection()
    stmt = _claim_statement(conn.dialect.name)
    rows = sorted(conn.execute(stmt, {"now": now, "limit": limit, "worker": worker_id, "lease_until": now + lease}).all(),
                  key=lambda r: (r.send_at, r.id))
    add_events(session, [_event_row(r.id, now, "dispatch", "scheduled", "sending", f"claimed, attempt {r.attempts}",
                                    worker_id) for r in rows])
    return rows


def claim_due(session: Session, *, now: datetime, worker_id: str, limit: int, lease: timedelta) -> list[int]:
    """Move up to ``limit`` due texts from scheduled to sending in ONE statement; return their ids."""
    return [r.id for r in claim_due_rows(session, now=now, worker_id=worker_id, limit=limit, lease=lease)]


@dataclass(frozen=True)
class Verdict:
    action: str  # send | suppressed | cancelled | defer
    reason: str = ""
    defer_to: datetime | None = None


def _stale_after(msg: Message, episode: Episode | None, milestone: Milestone | None) -> datetime | None:
    """After this moment a reminder would do more harm than good (it would arrive too late)."""
    if episode is None:
        return None
    if msg.kind in ("last_dose", "pre_procedure"):
        return episode.procedure_at
    if msg.kind in ("follow_up", "pt_start") and milestone is not None and milestone.due_at is not None:
        return milestone.due_at
    if msg.kind in ("restart", "check_72h") and milestone is not None and milestone.due_at is not None:
        return milestone.due_at + timedelta(days=1)
    return None


def check_before_send(msg: Any, patient: Any, episode: Any | None, milestone: Any | None, hold: Any | None,
                      quiet: QuietHours, now: datetime) -> Verdict:
    """Re-check at send time what planning assumed.

    Takes plain rows (the claim's hot path loads no ORM objects) or models alike; it reads
    msg.kind, the patient's consent, opt-out, phone flag and time zone, the episode's status and
    procedure time, the milestone's status and due time, and whether the hold is approved and signed.
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
    if msg.kind in ("last_dose", "restart") and (hold is None or not hold.approved_and_signed):
        return Verdict("suppressed", "hold is no longer approved and signed")
    if milestone is not None and milestone.status in ("done", "cancelled"):
        return Verdict("cancelled", f"milestone {milestone.status}")
    stale = _stale_after(msg, episode, milestone)
    if stale is not None and now >= stale:
        return Verdict("cancelled", "too late to be useful: its milestone has passed")
    if msg.kind != "reply":
        tz = ZoneInfo(patient.timezone)
        if not quiet.allowed(now, tz):
            return Verdict("defer", "quiet hours in the patient's time zone", quiet.next_allowed(now, tz))
    return Verdict("send")


@dataclass(frozen=True)
class HoldRow:
    """The two columns of a medication hold the send-time check reads."""
    id: int
    clearance: str
    signed_at: datetime | None

    @property
    def approved_and_signed(self) -> bool:  # the same rule as MedicationHold.approved_and_signed
        return self.clearance == "approved" and self.signed_at is not None


# The send-time checks' reads: for each table, the columns the checks need (id first).
_CHECK_READS = {
    "patients": (Patient.id, Patient.phone, Patient.sms_consent_at, Patient.opted_out_at, Patient.opted_out_via,
                 Patient.phone_flagged_at, Patient.phone_flag_reason, Patient.timezone),
    "episodes": (Episode.id, Episode.status, Episode.procedure_at),
    "milestones": (Milestone.id, Milestone.status, Milestone.due_at, Milestone.hold_id),
    "holds": (MedicationHold.id, MedicationHold.clearance, MedicationHold.signed_at),
}
_CHECK_STATEMENTS: dict[tuple[str, str], Select] = {}


def _by_id(session: Session, what: str, ids: set[int]) -> dict:
    """The ``what`` rows with these ids, keyed by id, by a statement built once per dialect (see
    add_events). PostgreSQL takes the ids as one array (``= ANY``); an expanding ``IN`` would be
    re-rendered with a placeholder per id on every pass."""
    if not ids:
        return {}
    conn = session.connection()
    key = (conn.dialect.name, what)
    stmt = _CHECK_STATEMENTS.get(key)
    if stmt is None:
        columns = _CHECK_READS[what]
        pk = columns[0]
        chosen = (pk == any_(bindparam("ids", type_=ARRAY(Integer))) if key[0] == "postgresql"
                  else pk.in_(bindparam("ids", expanding=True)))
        stmt = _CHECK_STATEMENTS[key] = select(*columns).where(chosen)
    return {r.id: r for r in conn.execute(stmt, {"ids": list(ids)})}


def prepare_claimed(session: Session, claimed: list, *, now: datetime, worker_id: str,
                    quiet: QuietHours) -> list[tuple]:
    """Apply the send-time checks to claimed rows; return ``(row, phone)`` for those that may go now.

    ``claimed`` is what :func:`claim_due_rows` returned (plain rows, (send_at, id) order). Texts that
    may not go now are put back (deferred) or closed (suppressed/cancelled) with Core statements.
    """
    if not claimed:
        return []
    patients = _by_id(session, "patients", {m.patient_id for m in claimed})
    episodes = _by_id(session, "episodes", {m.episode_id for m in claimed if m.episode_id})
    milestones = _by_id(session, "milestones", {m.milestone_id for m in claimed if m.milestone_id})
    holds = {r.id: HoldRow(r.id, r.clearance, r.signed_at)
             for r in _by_id(session, "holds", {m.hold_id for m in milestones.values() if m.hold_id}).values()}
    ready = []
    events = []
    for msg in claimed:
        milestone = milestones.get(msg.milestone_id) if msg.milestone_id else None
        hold = holds.get(milestone.hold_id) if milestone is not None and milestone.hold_id else None
        verdict = check_before_send(msg, patients[msg.patient_id], episodes.get(msg.episode_id or 0), milestone,
                                    hold, quiet, now)
        if verdict.action == "send":
            ready.append((msg, patients[msg.patient_id].phone))
            continue
        put_back = update(Message).where(Message.id == msg.id).execution_options(synchronize_session=False)
        if verdict.action == "defer":
            assert verdict.defer_to is not None
            session.execute(put_back.values(status="scheduled", send_at=verdict.defer_to, attempts=msg.attempts - 1,
                                            claimed_by=None, lease_until=None, attempt_started_at=None,
                                            updated_at=now))
            events.append(_event_row(msg.id, now, "dispatch", "sending", "scheduled",
                                     f"deferred to {verdict.defer_to.isoformat()}: {verdict.reason}", worker_id))
        else:
            session.execute(put_back.values(status=verdict.action, status_reason=verdict.reason,
                                            attempts=msg.attempts - 1, claimed_by=None, lease_until=None,
                                            updated_at=now))
            events.append(_event_row(msg.id, now, "dispatch", "sending", verdict.action, verdict.reason, worker_id))
    add_events(session, events)
    return ready


def release(session: Session, message_id: int, *, now: datetime, worker_id: str, reason: str) -> None:
    """Give back a claimed text that was never handed to the transport."""
    msg = session.scalars(select(Message).where(Message.id == message_id).with_for_update()).one()
    if msg.status == "sending" and msg.claimed_by == worker_id:
        msg.status, msg.attempts, msg.claimed_by, msg.lease_until = "scheduled", msg.attempts - 1, None, None
        msg.updated_at = now
        _event(session, msg.id, now, "dispatch", "sending", "scheduled", reason, worker_id)


def _locked(session: Session, message_id: int) -> Message:
    # Nothing here reads msg.events (events are added by id), so they are not loaded.
    return session.scalars(select(Message).where(Message.id == message_id).with_for_update()).one()


def record_sent(session: Session, message_id: int, provider_id: str, provider_status: str, *, now: datetime,
                worker_id: str) -> None:
    new = "delivered" if provider_status == "delivered" else "sent"
    # The usual case, our claim still stands, in one conditional UPDATE (this runs once per text).
    if session.execute(
        update(Message)
        .where(Message.id == message_id, Message.status == "sending")
        .values(status=new, provider_id=provider_id, sent_at=now, lease_until=None, error_code=None, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount:
        _event(session, message_id, now, "dispatch", "sending", new, f"accepted by provider ({provider_status})",
               worker_id, provider_status=provider_status, data={"sid": provider_id})
        return
    msg = _locked(session, message_id)
    if msg.status in ("sending", "unknown"):
        old = msg.status
        msg.status, msg.provider_id, msg.sent_at = new, provider_id, now
        msg.lease_until, msg.error_code = None, None
        msg.updated_at = now
        _event(session, msg.id, now, "dispatch", old, new, f"accepted by provider ({provider_status})", worker_id,
               provider_status=provider_status, data={"sid": provider_id})
    else:
        # A status callback got here first (it carries our id): keep its status, note the sid.
        msg.provider_id = msg.provider_id or provider_id
        _event(session, msg.id, now, "dispatch", None, None, f"provider accepted; status already {msg.status}",
               worker_id, provider_status=provider_status, data={"sid": provider_id})


# Built once (see add_events): the usual case of recording an accepted text.
_RECORD_SENT = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("mid"), _MESSAGES.c.status == "sending")
    .values(status=bindparam("new"), provider_id=bindparam("sid"), sent_at=bindparam("now"), lease_until=None,
            error_code=None, updated_at=bindparam("now"))
)


_PG_RECORD_SENT = text(
    "UPDATE messages SET status = v.new, provider_id = v.sid, sent_at = v.at, lease_until = NULL, "
    "error_code = NULL, updated_at = v.at "
    "FROM unnest(CAST(:mid AS bigint[]), CAST(:new AS text[]), CAST(:sid AS text[]), CAST(:now AS timestamptz[])) "
    "AS v(id, new, sid, at) "
    "WHERE messages.id = v.id AND messages.status = 'sending'")


def record_sent_many(db: Session | Connection, results: list[tuple[int, str, str, datetime]], *,
                     worker_id: str) -> bool:
    """Record several accepted texts ``(id, provider_id, provider_status, now)``: the usual case only.

    One Core executemany of the same conditional UPDATE as :func:`record_sent` plus one
    executemany of events. Returns False if any text was no longer 'sending' (a callback got
    there first, or it was marked unknown): the caller must then roll this transaction back and
    record each text with :func:`record_sent`, which handles those cases.
    """
    if not results:
        return True
    params = [{"mid": mid, "new": "delivered" if ps == "delivered" else "sent", "sid": sid, "now": now}
              for mid, sid, ps, now in results]
    conn = _connection(db)
    if conn.dialect.name == "postgresql":
        for p in params:
            _require_aware(p["now"])
        columns = {key: [p[key] for p in params] for key in ("mid", "new", "sid", "now")}
        changed = conn.execute(_PG_RECORD_SENT, columns).rowcount
    else:
        changed = conn.execute(_RECORD_SENT, params).rowcount
    if changed != len(params):
        return False
    add_events(db, [_event_row(mid, now, "dispatch", "sending", p["new"], f"accepted by provider ({ps})",
                               worker_id, provider_status=ps, data={"sid": sid})
                    for (mid, sid, ps, now), p in zip(results, params, strict=True)])
    return True


def backoff(attempt: int, base: timedelta, ceiling: timedelta, rng: random.Random,
            retry_after: float | None = None) -> timedelta:
    """Exponential backoff with full jitter in its upper half; never sooner than Retry-After."""
    raw = min(ceiling.total_seconds(), base.total_seconds() * (2 ** max(0, attempt - 1)))
    delay = raw * (0.5 + rng.random() / 2)
    if retry_after:
        delay = max(delay, retry_after)
    return timedelta(seconds=delay)


def record_failure(session: Session, env: Env, message_id: int, *, outcome: str, code: int | None,
                   http_status: int | None, retry_after: float | None, worker_id: str, max_attempts: int,
                   base: timedelta, ceiling: timedelta, rng: random.Random) -> str:
    """Apply a failed attempt's outcome; return the message's new status."""
    now = env.now
    msg = _locked(session, message_id)
    if msg.status not in ("sending", "unknown"):
        return msg.status  # a callback already settled it
    old = msg.status
    msg.error_code, msg.updated_at, msg.lease_until = code, now, None
    label = f"error {code}" if code else (f"HTTP {http_status}" if http_status else "no answer")
    patient = session.get(Patient, msg.patient_id)
    assert patient is not None
    if outcome == "permanent" and code in CONFIGURATION_ERRORS:
        open_task(session, env, "sms_config", "sender",
                  f"Texts are being refused: {CONFIGURATION_ERRORS[code]} (error {code}). Check the Twilio settings.")
        outcome = "retry"
    if outcome == "retry":
        if msg.attempts >= max_attempts:
            msg.status, msg.status_reason = "failed", f"gave up after {msg.attempts} attempts ({label})"
            open_task(session, env, "send_failed", f"message:{msg.id}",
                      f"A {msg.kind.replace('_', ' ')} text could not be sent after {msg.attempts} attempts: "
                      "call the patient", patient_id=msg.patient_id, episode_id=msg.episode_id, message_id=msg.id)
        else:
            when = now + backoff(msg.attempts, base, ceiling, rng, retry_after)
            msg.status, msg.send_at, msg.claimed_by = "scheduled", when, None
            msg.status_reason = f"retry at {when.isoformat()} ({label})"
        _event(session, msg.id, now, "dispatch", old, msg.status, msg.status_reason or label, worker_id,
               error_code=code)
        return msg.status
    if outcome == "opted_out":
        msg.status, msg.status_reason = "failed", "the patient replied STOP (error 21610)"
        _event(session, msg.id, now, "dispatch", old, "failed", msg.status_reason, worker_id, error_code=code)
        opt_out(session, env, WORKER, patient, "carrier 21610")
        open_task(session, env, "opted_out", f"patient:{patient.id}",
                  "The patient opted out of texts; reach them by phone for the rest of the pathway",
                  patient_id=patient.id, episode_id=msg.episode_id)
        return "failed"
    if outcome == "permanent":
        msg.status, msg.status_reason = "failed", f"refused by the provider ({label})"
        _event(session, msg.id, now, "dispatch", old, "failed", msg.status_reason, worker_id, error_code=code)
        if patient.phone_flagged_at is None:
            patient.phone_flagged_at, patient.phone_flag_reason = now, f"provider error {code}"
        open_task(session, env, "phone_invalid", f"patient:{patient.id}",
                  f"Texts to this patient's phone are refused ({label}): confirm the mobile number",
                  patient_id=patient.id, episode_id=msg.episode_id, message_id=msg.id)
        return "failed"
    # ambiguous: the provider may have it. Never resend blindly; reconcile.
    msg.status, msg.status_reason = "unknown", f"outcome unknown ({label}); will reconcile"
    _event(session, msg.id, now, "dispatch", old, "unknown", msg.status_reason, worker_id, error_code=code)
    return "unknown"
