"""The one writer of a text's state: every status change and its event are written here, together.

A change is a small typed value (:class:`Scheduled`, :class:`Sending`, :class:`Sent`,
:class:`Reported`, :class:`Failed`, :class:`Unknown`, :class:`Cancelled`, :class:`Suppressed`)
that knows which columns it writes and from which statuses it may come (the forward-only rules
of shared docs/dispatch.md, enforced here and nowhere else). Three shapes of write, one rule:

``record(session, message, change)``     one loaded (or new) message, through the ORM;
``create(session, rows, change)``        many new messages (a plan's texts), Core: no ORM objects;
``record_where(db, change, expect=...)``  one conditional UPDATE of every message a condition
                                         picks at status ``expect`` (a claim, an opt-out, a
                                         re-plan's cancellations), RETURNING the ids it moved;
``record_many(db, rows, expect=...)``     the same conditional UPDATE for many messages with
                                         their own values (a group of accepted texts).

``note`` keeps an event that changes nothing (a repeated callback, a provider we could not ask).
No other module assigns ``Message.status`` or builds a ``MessageEvent``: tests/services/
test_outbox_writer.py walks the package and fails if one does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, cast

from sqlalchemy import ColumnElement, Connection, Row, Table, bindparam, insert, text, update
from sqlalchemy.orm import Session

from pathway.models import Message, MessageEvent
from pathway.timeline.vocabulary import MessageStatus

_MESSAGES = cast(Table, Message.__table__)
_EVENTS = cast(Table, MessageEvent.__table__)
_EVENT_COLUMNS = ("message_id", "at", "source", "from_status", "to_status", "reason", "actor", "provider_status",
                  "error_code")

# How far along a text is; a provider's report only ever raises it (a late 'sent' never
# overwrites 'delivered').
RANK: Mapping[MessageStatus, int] = {
    MessageStatus.CANCELLED: 0, MessageStatus.SUPPRESSED: 0, MessageStatus.SCHEDULED: 0,
    MessageStatus.SENDING: 1, MessageStatus.UNKNOWN: 1,
    MessageStatus.SENT: 2,
    MessageStatus.DELIVERED: 3, MessageStatus.UNDELIVERED: 3, MessageStatus.FAILED: 3,
}
_NEW = None  # the from-status of a message being created
_From = frozenset[MessageStatus | None]  # the statuses a change may leave


@dataclass(frozen=True)
class Change:
    """One transition. ``values`` are the message's columns it writes besides status and updated_at."""

    reason: str
    allowed_from: ClassVar[_From] = frozenset()
    _to: ClassVar[str] = ""

    @property
    def to(self) -> str:
        return self._to

    def values(self, msg: Message | None) -> dict[str, Any]:
        """Columns to write; ``msg`` is None for a Core UPDATE (then SQL expressions may be used)."""
        return {}

    def event(self) -> dict[str, Any]:
        """The event's provider_status / error_code / data, when the change carries them."""
        return {}

    def describe(self, row: Any) -> str:
        return self.reason

    def may_leave(self, status: str | None) -> bool:
        return status in self.allowed_from


def _give_back(msg: Message | None) -> dict[str, Any]:
    """A claim that did not become an attempt: the attempt is not counted, the lease is released."""
    attempts = _MESSAGES.c.attempts - 1 if msg is None else msg.attempts - 1
    return {"attempts": attempts, "claimed_by": None, "lease_until": None, "attempt_started_at": None}


@dataclass(frozen=True)
class Scheduled(Change):
    """Waiting to be sent: newly planned (from nothing), given back, deferred, or to be retried."""

    send_at: datetime | None = None
    give_back: bool = False  # the claim is undone (not counted as an attempt)
    error_code: int | None = None
    allowed_from: ClassVar[_From] = frozenset({_NEW, MessageStatus.SENDING, MessageStatus.UNKNOWN})
    _to: ClassVar[str] = MessageStatus.SCHEDULED

    def values(self, msg: Message | None) -> dict[str, Any]:
        if msg is not None and msg.id is None:  # newly planned: the planner set every column
            return {}
        out: dict[str, Any] = {"claimed_by": None, "lease_until": None, "status_reason": self.reason}
        if self.give_back:
            out |= _give_back(msg)
        else:
            out["error_code"] = self.error_code
        if self.send_at is not None:
            out["send_at"] = self.send_at
        return out


@dataclass(frozen=True)
class Sending(Change):
    """Claimed by a worker: the attempt is counted and committed before the HTTP call."""

    reason: str = "claimed"
    worker: str = ""
    lease_until: datetime | None = None
    started_at: datetime | None = None
    allowed_from: ClassVar[_From] = frozenset({MessageStatus.SCHEDULED})
    _to: ClassVar[str] = MessageStatus.SENDING

    def values(self, msg: Message | None) -> dict[str, Any]:
        attempts = _MESSAGES.c.attempts + 1 if msg is None else msg.attempts + 1
        return {"claimed_by": self.worker, "lease_until": self.lease_until, "attempt_started_at": self.started_at,
                "attempts": attempts}

    def describe(self, row: Any) -> str:
        return f"claimed, attempt {row.attempts}"


@dataclass(frozen=True)
class Sent(Change):
    """The provider accepted the text (or it left at once as a webhook's answer, from nothing)."""

    reason: str = ""
    sid: str | None = None
    provider_status: str | None = None
    sent_at: datetime | None = None
    allowed_from: ClassVar[_From] = frozenset({_NEW, MessageStatus.SENDING, MessageStatus.UNKNOWN})

    @property
    def to(self) -> str:
        return "delivered" if self.provider_status == "delivered" else "sent"

    def values(self, msg: Message | None) -> dict[str, Any]:
        return {"provider_id": self.sid, "sent_at": self.sent_at, "lease_until": None, "error_code": None}

    def event(self) -> dict[str, Any]:
        out: dict[str, Any] = {"provider_status": self.provider_status}
        if self.sid is not None:
            out["data"] = {"sid": self.sid}
        return out


@dataclass(frozen=True)
class Reported(Change):
    """The provider says where the text is (a status callback, or found when reconciling): only
    ever forward, by :data:`RANK`. Keeps a sid and a send time already known."""

    status: str = "sent"
    sid: str | None = None
    provider_status: str | None = None
    error_code: int | None = None
    sent_at: datetime | None = None

    @property
    def to(self) -> str:
        return self.status

    def may_leave(self, status: str | None) -> bool:
        return status is not None and RANK[MessageStatus(self.status)] > RANK[MessageStatus(status)]

    def values(self, msg: Message | None) -> dict[str, Any]:
        assert msg is not None, "a provider's report is applied to a loaded message"
        out: dict[str, Any] = {"provider_id": msg.provider_id or self.sid or None,
                               "sent_at": msg.sent_at or self.sent_at, "lease_until": None}
        if self.error_code is not None:
            out["error_code"] = self.error_code
        return out

    def event(self) -> dict[str, Any]:
        out: dict[str, Any] = {"provider_status": self.provider_status, "error_code": self.error_code}
        if self.sid:
            out["data"] = {"sid": self.sid}
        return out


@dataclass(frozen=True)
class Failed(Change):
    """Will not be sent: refused for good, opted out, or attempts exhausted. A person follows up."""

    error_code: int | None = None
    allowed_from: ClassVar[_From] = frozenset({MessageStatus.SENDING, MessageStatus.UNKNOWN})
    _to: ClassVar[str] = MessageStatus.FAILED

    def values(self, msg: Message | None) -> dict[str, Any]:
        return {"status_reason": self.reason, "error_code": self.error_code, "lease_until": None}

    def event(self) -> dict[str, Any]:
        return {"error_code": self.error_code}


@dataclass(frozen=True)
class Unknown(Change):
    """The provider may have it (timeout, 5xx, a worker died mid-send): reconcile, never resend blindly."""

    error_code: int | None = None
    allowed_from: ClassVar[_From] = frozenset({MessageStatus.SENDING})
    _to: ClassVar[str] = MessageStatus.UNKNOWN

    def values(self, msg: Message | None) -> dict[str, Any]:
        out: dict[str, Any] = {"status_reason": self.reason, "lease_until": None}
        if self.error_code is not None:
            out["error_code"] = self.error_code
        return out

    def event(self) -> dict[str, Any]:
        return {"error_code": self.error_code}


@dataclass(frozen=True)
class Cancelled(Change):
    """No longer wanted (re-planned, episode or milestone closed, too late); from 'sending' the
    claim is given back, since it never became an attempt."""

    allowed_from: ClassVar[_From] = frozenset({MessageStatus.SCHEDULED, MessageStatus.SENDING})
    _to: ClassVar[str] = MessageStatus.CANCELLED
    give_back: bool = False

    def values(self, msg: Message | None) -> dict[str, Any]:
        out: dict[str, Any] = {"status_reason": self.reason}
        if self.give_back:
            out |= {k: v for k, v in _give_back(msg).items() if k != "attempt_started_at"}
        return out


@dataclass(frozen=True)
class Suppressed(Cancelled):
    """Must not reach the patient (no consent, opted out, phone flagged, hold not approved)."""

    _to: ClassVar[str] = MessageStatus.SUPPRESSED


def _event_row(message_id: int, change: Change | None, old: str | None, *, at: datetime, source: str,
               actor: str | None, reason: str, extra: Mapping[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"message_id": message_id, "at": at, "source": source, "from_status": old,
                           "to_status": change.to if change is not None else None, "reason": reason,
                           "actor": actor, "provider_status": None, "error_code": None}
    row |= {k: v for k, v in extra.items() if k != "data"}
    if extra.get("data") is not None:  # left out, not None: JSON would store a JSON 'null', the ORM SQL NULL
        row["data"] = extra["data"]
    return row


# PostgreSQL: the rows of a group as column arrays in ONE statement (unnest), where psycopg's
# executemany would send one statement per row. Kept for the dispatcher's throughput target:
# bench/dispatch.py on PostgreSQL (median of 5 alternating rounds, 2026-12-06) gave a ratio to
# the bare SDK loop of 0.72 with the executemany and 0.8+ with these (see bench/README.md).
_PG_INSERT_EVENTS = text(
    "INSERT INTO message_events (message_id, at, source, from_status, to_status, reason, actor, provider_status, "
    "error_code, data) "
    "SELECT v.message_id, v.at, v.source, v.from_status, v.to_status, v.reason, v.actor, v.provider_status, "
    "v.error_code, CAST(v.data AS json) "
    "FROM unnest(CAST(:message_id AS bigint[]), CAST(:at AS timestamptz[]), CAST(:source AS text[]), "
    "CAST(:from_status AS text[]), CAST(:to_status AS text[]), CAST(:reason AS text[]), CAST(:actor AS text[]), "
    "CAST(:provider_status AS text[]), CAST(:error_code AS integer[]), CAST(:data AS text[])) "
    "AS v(message_id, at, source, from_status, to_status, reason, actor, provider_status, error_code, data)")
_PG_SENT_MANY = text(
    "UPDATE messages SET status = v.to_status, provider_id = v.sid, sent_at = v.sent_at, lease_until = NULL, "
    "error_code = NULL, updated_at = v.at "
    "FROM unnest(CAST(:mid AS bigint[]), CAST(:to AS text[]), CAST(:sid AS text[]), CAST(:sent_at AS timestamptz[]), "
    "CAST(:now AS timestamptz[])) AS v(id, to_status, sid, sent_at, at) "
    "WHERE messages.id = v.id AND messages.status = :expect")


def _require_aware(value: Any) -> None:
    if isinstance(value, datetime) and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"naive datetime {value!r}: the outbox stores only aware UTC instants")


def _insert_events(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """No ORM objects, no flush: on PostgreSQL one statement of column arrays, elsewhere one
    Core executemany per shape (rows with and without data)."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        columns: dict[str, list[Any]] = {c: [r.get(c) for r in rows] for c in _EVENT_COLUMNS}
        for at in columns["at"]:
            _require_aware(at)
        # A row without "data" stores SQL NULL, as the ORM does (not a JSON 'null').
        columns["data"] = [json.dumps(r["data"]) if "data" in r else None for r in rows]
        conn.execute(_PG_INSERT_EVENTS, columns)
        return
    for group in ([r for r in rows if "data" not in r], [r for r in rows if "data" in r]):
        if group:
            conn.execute(insert(_EVENTS), group)


def _connection(db: Session | Connection) -> Connection:
    if isinstance(db, Session):
        db.flush()  # ORM changes pending in the session go first, so the history stays in order
        return db.connection()
    return db


def _check(change: Change, expect: str | None) -> None:
    if not change.may_leave(expect):
        raise ValueError(f"a text may not move from {expect!r} to {change.to!r}")


def record(session: Session, msg: Message, change: Change, *, now: datetime, source: str,
           actor: str | None = None) -> bool:
    """Move one message (new, or loaded and locked by the caller) and keep its event.

    Returns False, writing nothing, when the move would not be forward from its current status.
    """
    old = None if msg.id is None else msg.status
    if not change.may_leave(old):
        return False
    for key, value in change.values(msg).items():
        setattr(msg, key, value)
    msg.status = change.to
    msg.updated_at = now
    row = _event_row(msg.id or 0, change, old, at=now, source=source, actor=actor, reason=change.describe(msg),
                     extra=change.event())
    del row["message_id"]
    event = MessageEvent(**row)
    if msg.id is None or "events" in msg.__dict__:
        msg.events.append(event)  # a new message, or its history already loaded: keep it in step
        session.add(msg)
    else:  # by id: appending would load the whole history first
        event.message_id = msg.id
        session.add(event)
    return True


# Built once: run for every planned episode.
_INSERT_MESSAGES = insert(_MESSAGES).returning(_MESSAGES.c.id, sort_by_parameter_order=True)


def create(session: Session, rows: Sequence[Mapping[str, Any]], change: Scheduled, *, now: datetime, source: str,
           actor: str | None = None) -> list[int]:
    """Create new texts, each a dict of the columns the planner set (the same keys in every row),
    at ``change``'s status, with their events; returns their ids, in the order given.

    Core, no ORM objects: `pathway import schedule` plans 10,000 episodes, and the unit of work's
    bookkeeping for each text and event cost more than writing them. The texts go in by one call
    (INSERT ... RETURNING in the order given: one statement per row on SQLite, which cannot sort
    a batch's RETURNING, batched on PostgreSQL), their events by one more. The rows they name
    (patient, episode, milestone) must be in the database already. Returns [] for no rows.
    """
    if not rows:
        return []
    _check(change, _NEW)
    if any(isinstance(o, (Message, MessageEvent)) for o in session.new):
        session.flush()  # texts or events pending in the session go first, so ids keep the order of events
    conn = session.connection()
    values = [{**r, "status": change.to, "updated_at": now} for r in rows]
    ids = list(conn.execute(_INSERT_MESSAGES, values).scalars())
    _insert_events(conn, [_event_row(mid, change, _NEW, at=now, source=source, actor=actor,
                                     reason=change.describe(None), extra=change.event()) for mid in ids])
    return ids


def record_where(db: Session | Connection, change: Change, *, expect: str, where: ColumnElement[bool], now: datetime,
                 source: str, actor: str | None = None, returning: Sequence[Any] = ()) -> list[Row[Any]]:
    """Move every message ``where`` picks that is still at ``expect``, in ONE conditional UPDATE.

    The status guard makes it safe against a concurrent writer: a row another transaction moved
    first is simply not returned. Returns the moved rows (``id`` plus ``returning``), each with
    its event written.
    """
    _check(change, expect)
    conn = _connection(db)
    stmt = (update(_MESSAGES).where(where, _MESSAGES.c.status == expect)
            .values(status=change.to, updated_at=now, **change.values(None))
            .returning(_MESSAGES.c.id, *returning))
    rows = list(conn.execute(stmt).all())
    _insert_events(conn, [_event_row(r.id, change, expect, at=now, source=source, actor=actor,
                                     reason=change.describe(r), extra=change.event()) for r in rows])
    return rows


# Built once: the group commit runs this per group on the dispatcher's hot path, where building
# and cache-keying a statement per call costs about as much as running it.
_SENT_MANY = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("mid"), _MESSAGES.c.status == bindparam("expect"))
    .values(status=bindparam("to"), provider_id=bindparam("sid"), sent_at=bindparam("sent_at"), lease_until=None,
            error_code=None, updated_at=bindparam("now"))
)


def record_many(db: Session | Connection, rows: Sequence[tuple[int, Sent, datetime]], *, expect: str, source: str,
                actor: str | None) -> bool:
    """Record many accepted texts ``(message_id, Sent(...), at)`` still at ``expect``: one
    executemany of the conditional UPDATE and one of their events.

    All or nothing: returns False when any text was no longer at ``expect`` (a callback got there
    first); then no event was written and the caller must roll the transaction back and record
    those texts one by one with :func:`record`.
    """
    if not rows:
        return True
    for _, change, _ in rows:
        _check(change, expect)
    conn = _connection(db)
    params = [{"mid": mid, "expect": expect, "to": c.to, "sid": c.sid, "sent_at": c.sent_at or at, "now": at}
              for mid, c, at in rows]
    if conn.dialect.name == "postgresql":
        for p in params:
            _require_aware(p["sent_at"])
            _require_aware(p["now"])
        arrays = {key: [p[key] for p in params] for key in ("mid", "to", "sid", "sent_at", "now")}
        changed = conn.execute(_PG_SENT_MANY, {**arrays, "expect": expect}).rowcount
    else:
        changed = conn.execute(_SENT_MANY, params).rowcount
    if changed != len(params):
        return False
    _insert_events(conn, [_event_row(mid, c, expect, at=at, source=source, actor=actor, reason=c.reason,
                                     extra=c.event()) for mid, c, at in rows])
    return True


def note(db: Session | Connection, message_id: int, reason: str, *, now: datetime, source: str,
         actor: str | None = None, status: str | None = None, provider_status: str | None = None,
         error_code: int | None = None, data: dict[str, Any] | None = None) -> None:
    """Keep an event that changes no status (``status``: the status it found, if worth saying)."""
    _insert_events(_connection(db), [_event_row(message_id, None, status, at=now, source=source, actor=actor,
                                                reason=reason, extra={"provider_status": provider_status,
                                                                      "error_code": error_code, "data": data})])
