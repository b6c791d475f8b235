"""Seed a migrated pathway database quickly, with episodes at every stage of the pathway.

The per-patient services are far too slow to call 100,000 times, so they are called only to
plan a dozen *template* episodes (one per stage, with the real rules, clock and re-plans);
their rows are then replicated with SQLAlchemy Core ``executemany`` into the real schema,
each copy with fresh ids, its own MRN and phone, and every instant (and plan key) shifted by
a whole number of days.

The population is a clinic's: an *active* cohort (at most ``active`` episodes, procedures from
about 45 days ago to 35 days ahead: planned, on the day, in follow-up) and *history* (every
other patient: a completed or cancelled episode months to years ago, all texts delivered).
Growing from 1,000 to 100,000 patients adds history, as years of use would; the active cohort,
which the worklist and the board are about, stays the size of the clinic.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar

from sqlalchemy import JSON, Connection, Engine, func, select, text

from pathway.models import (
    Appointment,
    Episode,
    MedicationHold,
    Message,
    MessageEvent,
    Milestone,
    Patient,
    Task,
)
from pathway.runtime import Runtime
from pathway.services import episodes as ep
from pathway.services.base import SYSTEM, Actor
from pathway.services.patients import enrol_patient, fold
from pathway.services.users import create_token, create_user

UTC = UTC
T0 = datetime(2027, 2, 1, 15, 0, tzinfo=UTC)  # the benchmark's "now": a Monday, 10:00 in New York
DAY = timedelta(days=1)
PASSWORD = "correct horse battery"

TABLES = [Patient, Episode, MedicationHold, Milestone, Appointment, Message, MessageEvent, Task]


# --- templates: real plans made by the services ----------------------------------------------


@dataclass(frozen=True)
class Stage:
    name: str
    offset_days: int  # procedure day relative to T0
    jitter: tuple[int, int]  # replicas move by a whole number of days in this range
    weight: int  # share of the active cohort
    holds: tuple[str, ...] = ()
    clearance: str | None = None  # requested | approved | declined
    ended: bool = False
    check_done: bool = False
    follow_up_booked: bool = False
    follow_up_done: bool = False
    pt_booked: bool = False
    pt_done: bool = False
    cancelled: bool = False


ACTIVE_STAGES = [
    Stage("planned, hold not yet requested", 20, (-12, 10), 15, holds=("clopidogrel",)),
    Stage("planned, hold awaiting prescriber", 6, (-3, 1), 6, holds=("apixaban",), clearance="requested"),
    Stage("planned, hold approved", 12, (-8, 15), 12, holds=("warfarin",), clearance="approved"),
    Stage("planned, no holds", 10, (-8, 20), 12),
    Stage("cancelled before the day", 15, (-10, 10), 4, holds=("rivaroxaban",), cancelled=True),
    Stage("procedure end not recorded", -1, (0, 0), 2),
    Stage("just done", -2, (0, 1), 5, holds=("clopidogrel",), clearance="approved", ended=True),
    Stage("72-hour check overdue", -5, (-1, 1), 3, ended=True),
    Stage("follow-up booked", -6, (-1, 1), 6, ended=True, check_done=True, follow_up_booked=True),
    Stage("follow-up not booked", -9, (-5, 3), 5, holds=("apixaban",), clearance="declined", ended=True,
          check_done=True),
    Stage("physical therapy booked", -20, (-10, 5), 10, ended=True, check_done=True, follow_up_booked=True,
          follow_up_done=True, pt_booked=True),
    Stage("pathway complete", -40, (-5, 5), 20, holds=("clopidogrel",), clearance="approved", ended=True,
          check_done=True, follow_up_booked=True, follow_up_done=True, pt_booked=True, pt_done=True),
]
HISTORY_STAGES = [
    Stage("history: complete", -60, (-1800, 0), 9, holds=("clopidogrel",), clearance="approved", ended=True,
          check_done=True, follow_up_booked=True, follow_up_done=True, pt_booked=True, pt_done=True),
    Stage("history: cancelled", -60, (-1800, 0), 1, cancelled=True),
]


@dataclass
class Staff:
    ids: dict[str, int]
    emails: dict[str, str]
    tokens: dict[str, str]

    def actor(self, role: str) -> Actor:
        return Actor(role=role, user_id=self.ids[role], label=f"user:{self.ids[role]}")


def create_staff(rt: Runtime) -> Staff:
    ids, emails, tokens = {}, {}, {}
    rt.clock.set(T0 - 400 * DAY)  # type: ignore[attr-defined]
    with rt.unit_of_work() as (session, env):
        for role in ("coordinator", "clinician", "admin"):
            email = f"bench-{role}@example.test"
            user = create_user(session, env, SYSTEM, email, role, PASSWORD, role.title())
            session.flush()
            ids[role], emails[role] = user.id, email
    # Tokens expire ([web] api_token_days): made the day before "now", so they work at T0.
    rt.clock.set(T0 - DAY)  # type: ignore[attr-defined]
    with rt.unit_of_work() as (session, env):
        for role in ids:
            tokens[role] = create_token(session, env, SYSTEM, emails[role])
    return Staff(ids, emails, tokens)


def _at(rt: Runtime, when: datetime) -> Any:
    rt.clock.set(when)  # type: ignore[attr-defined]
    return rt.unit_of_work()


def build_template(rt: Runtime, staff: Staff, stage: Stage, n: int) -> int:
    """Take one patient through ``stage`` with the real services; return the episode id."""
    coord, clin = staff.actor("coordinator"), staff.actor("clinician")
    day = (T0 + stage.offset_days * DAY).date()
    procedure_at = datetime.combine(day, time(13, 0), UTC)  # 08:00 in New York in winter
    scheduled = min(procedure_at - 21 * DAY, T0 - 2 * DAY)
    with _at(rt, scheduled) as (session, env):
        patient = enrol_patient(session, env, coord, {
            "mrn": f"TPL{n:04d}", "given_name": "Template", "family_name": f"Stage{n}", "birth_date": "1948-06-01",
            "phone": f"+1 646 555 {9000 + n:04d}", "timezone": "America/New_York", "sms_consent": True,
        })
        session.flush()
        episode = ep.schedule_episode(session, env, coord, patient.id, {
            "procedure_at": procedure_at.isoformat(), "facility": "Riverside Surgery Center",
            "proceduralist": "Dr. Lee", "levels": "L4-L5", "escort_arranged": True,
            "holds": [{"drug": d, "prescriber_name": "Dr. Ortiz", "prescriber_phone": "+1 212 555 0199"}
                      for d in stage.holds],
        })
        episode_id, hold_ids = episode.id, [h.id for h in episode.holds]
    if stage.clearance:
        with _at(rt, scheduled + DAY) as (session, env):
            for hold_id in hold_ids:
                who = coord if stage.clearance == "requested" else clin
                ep.record_clearance(session, env, who, hold_id, {"status": stage.clearance, "by": "Dr. Ortiz"})
    if stage.cancelled:
        with _at(rt, scheduled + 2 * DAY) as (session, env):
            ep.cancel_episode(session, env, coord, episode_id, {"reason": "patient unwell"})
    steps: list[tuple[datetime, Callable[[Any, Any], Any]]] = []
    if stage.ended:
        steps.append((procedure_at + timedelta(hours=3), lambda s, e: ep.record_procedure_end(
            s, e, clin, episode_id, {"ended_at": (procedure_at + timedelta(minutes=50)).isoformat()})))
    if stage.check_done:
        steps.append((procedure_at + 3 * DAY + timedelta(hours=2), lambda s, e: _complete(s, e, clin, episode_id,
                                                                                         "check_72h")))
    if stage.follow_up_booked:
        steps.append((procedure_at + 3 * DAY + timedelta(hours=3), lambda s, e: ep.book_appointment(
            s, e, coord, episode_id, "follow_up", {"appointment_at": (procedure_at + 8 * DAY).isoformat()})))
    if stage.follow_up_done:
        steps.append((procedure_at + 8 * DAY + timedelta(hours=2), lambda s, e: _complete(s, e, clin, episode_id,
                                                                                         "follow_up")))
    if stage.pt_booked:
        steps.append((procedure_at + 8 * DAY + timedelta(hours=3), lambda s, e: ep.book_appointment(
            s, e, coord, episode_id, "pt_start", {"appointment_at": (procedure_at + 15 * DAY).isoformat()})))
    if stage.pt_done:
        steps.append((procedure_at + 15 * DAY + timedelta(hours=2), lambda s, e: _complete(s, e, clin, episode_id,
                                                                                          "pt_start")))
    for when, step in steps:
        with _at(rt, when) as (session, env):
            step(session, env)
    rt.clock.set(T0)  # type: ignore[attr-defined]
    return episode_id


def _complete(session: Any, env: Any, actor: Actor, episode_id: int, kind: str) -> None:
    episode = ep.load_episode(session, episode_id)
    m = next(m for m in episode.milestones if m.kind == kind)
    ep.complete_milestone(session, env, actor, m.id, {"result": {"pain": 3}})


# --- replication -----------------------------------------------------------------------------


@dataclass
class Template:
    stage: Stage
    rows: dict[str, list[dict[str, Any]]]  # table name -> rows of this template


def read_template(conn: Connection, stage: Stage, episode_id: int) -> Template:
    e = conn.execute(select(Episode.__table__).where(Episode.id == episode_id)).mappings().one()
    pid = e["patient_id"]

    def rows(table: Any, where: Any) -> list[dict[str, Any]]:
        return [dict(r) for r in conn.execute(select(table).where(where).order_by(table.c.id)).mappings()]

    msgs = rows(Message.__table__, Message.__table__.c.patient_id == pid)
    return Template(stage, {
        "patients": rows(Patient.__table__, Patient.__table__.c.id == pid),
        "episodes": [dict(e)],
        "medication_holds": rows(MedicationHold.__table__, MedicationHold.__table__.c.episode_id == episode_id),
        "milestones": rows(Milestone.__table__, Milestone.__table__.c.episode_id == episode_id),
        "appointments": rows(Appointment.__table__, Appointment.__table__.c.episode_id == episode_id),
        "messages": msgs,
        "message_events": rows(MessageEvent.__table__,
                               MessageEvent.__table__.c.message_id.in_([m["id"] for m in msgs] or [-1])),
    })


_KEY = re.compile(r"^(?P<kind>[a-z_0-9]+):(?P<ref>[^:]*):(?P<stamp>\d{8}T\d{4,6}Z)$")
FAMILY = ["Garcia", "Smith", "Nguyen", "Johnson", "Patel", "Brown", "Kim", "Lopez", "Miller", "Davis", "Wilson",
          "Martinez", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "White", "Harris", "Clark"]
GIVEN = ["Maria", "James", "Linh", "Robert", "Priya", "Mary", "Jin", "Jose", "Patricia", "John", "Linda", "Carlos"]


class Replicator:
    """Copies template rows with new ids, shifted times and their own identities.

    Rows are tuples in column order; each template column is classified once (instant, day to
    shift, id, foreign key, plan key, plain) and each replica only fills in its own values.
    Values are written in the form SQLAlchemy itself would bind them (instants as aware UTC
    ISO text with the offset on PostgreSQL, SQLAlchemy's naive UTC text on SQLite), through
    ``Connection.exec_driver_sql`` executemany in batches.
    """

    FKS: ClassVar[dict[tuple[str, str], str]] = {
        ("episodes", "patient_id"): "patients",
        ("medication_holds", "episode_id"): "episodes",
        ("milestones", "episode_id"): "episodes",
        ("milestones", "hold_id"): "medication_holds",
        ("appointments", "episode_id"): "episodes",
        ("messages", "patient_id"): "patients",
        ("messages", "episode_id"): "episodes",
        ("messages", "milestone_id"): "milestones",
        ("message_events", "message_id"): "messages",
    }

    def __init__(self, engine: Engine, templates: list[Template], seed: int = 7) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self.rng = random.Random(seed)
        self.columns = {m.__tablename__: [c.name for c in m.__table__.columns] for m in TABLES}
        self.json_cols = {(m.__tablename__, c.name) for m in TABLES for c in m.__table__.columns
                          if isinstance(c.type, JSON)}
        mark = "?" if self.sqlite else "%s"
        self.sql = {t: f"INSERT INTO {t} ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))})"
                    for t, cols in self.columns.items()}
        self.templates = {t.stage.name: self._compile(t) for t in templates}
        with engine.connect() as conn:
            self.next_id = {m.__tablename__: int(conn.scalar(select(func.coalesce(func.max(m.id), 0))) or 0) + 1
                            for m in TABLES}
            self.patients = int(conn.scalar(select(func.count()).select_from(Patient)) or 0)
        self.batch: dict[str, list[tuple[Any, ...]]] = {m.__tablename__: [] for m in TABLES}
        self.pending = 0
        self.serial = self.patients
        self._when: dict[tuple[Any, int], str] = {}
        self._keys: dict[tuple[str, int], tuple[str, str, str]] = {}

    # -- preparing templates ------------------------------------------------------------------

    def _compile(self, tpl: Template) -> dict[str, list[tuple[int, list[Any], list[tuple[int, str, Any]]]]]:
        """table -> [(old id, base values, [(position, how, extra)])]."""
        out = {}
        for table, rows in tpl.rows.items():
            cols = self.columns[table]
            compiled = []
            for row in rows:
                base, steps = [], []
                for i, name in enumerate(cols):
                    value = row[name]
                    if name == "id":
                        steps.append((i, "id", table))
                    elif (table, name) in self.FKS and value is not None:
                        steps.append((i, "fk", (self.FKS[(table, name)], value)))
                    elif isinstance(value, datetime) or (name == "last_dose_on" and value is not None):
                        steps.append((i, "when", value))
                    elif table == "milestones" and name == "ref":
                        steps.append((i, "ref", value))
                    elif table == "messages" and name == "plan_key":
                        steps.append((i, "key", value))
                    elif (table, name) in self.json_cols and value is not None:
                        value = json.dumps(value)
                    elif isinstance(value, bool) and self.sqlite:
                        value = int(value)
                    elif isinstance(value, date):
                        value = value.isoformat()
                    base.append(value)
                compiled.append((row["id"], base, steps))
            out[table] = compiled
        return out

    # -- values -----------------------------------------------------------------------------

    def _shifted(self, value: Any, days: int) -> str:
        found = self._when.get((value, days))
        if found is None:
            moved = value + days * DAY
            if isinstance(moved, datetime):
                utc = moved.astimezone(UTC)
                found = utc.replace(tzinfo=None).isoformat(" ", "microseconds") if self.sqlite else utc.isoformat()
            else:
                found = moved.isoformat()
            self._when[(value, days)] = found
        return found

    def _plan_key(self, key: str, refs: dict[str, str], days: int) -> str:
        parts = self._keys.get((key, days))
        if parts is None:
            found = _KEY.match(key)
            if not found:
                return key
            stamp = found["stamp"]
            fmt = "%Y%m%dT%H%M%SZ" if len(stamp) == 16 else "%Y%m%dT%H%MZ"
            moved = (datetime.strptime(stamp, fmt) + days * DAY).strftime(fmt)
            parts = self._keys[(key, days)] = (found["kind"], found["ref"], moved)
        kind, ref, moved = parts
        return f"{kind}:{refs.get(ref, ref)}:{moved}"

    def _id(self, table: str) -> int:
        value = self.next_id[table]
        self.next_id[table] = value + 1
        return value

    # -- one patient ------------------------------------------------------------------------

    def add(self, stage: Stage, shift_days: int, *, red_flag: bool = False, failed_text: bool = False) -> None:
        tpl = self.templates[stage.name]
        ids: dict[tuple[str, int], int] = {}
        refs: dict[str, str] = {}
        self.serial += 1
        n = self.serial
        history = stage in HISTORY_STAGES
        made: dict[str, list[list[Any]]] = {}
        for table in ("patients", "episodes", "medication_holds", "milestones", "appointments", "messages",
                      "message_events"):
            if table == "message_events" and history:
                continue  # history keeps its texts, not every transition of them
            rows = made[table] = []
            for old_id, base, steps in tpl[table]:
                row = list(base)
                for i, how, extra in steps:
                    if how == "id":
                        row[i] = ids[(table, old_id)] = self._id(table)
                    elif how == "fk":
                        row[i] = ids[extra]
                    elif how == "when":
                        row[i] = self._shifted(extra, shift_days)
                    elif how == "ref":
                        row[i] = refs.get(extra, extra)
                    elif how == "key":
                        row[i] = self._plan_key(extra, refs, shift_days)
                if table == "medication_holds":
                    refs[f"h{old_id}"] = f"h{row[0]}"
                rows.append(row)
        cols = self.columns
        p = made["patients"][0]
        pc = cols["patients"]
        p[pc.index("mrn")] = f"B{n:08d}"
        family, given = self.rng.choice(FAMILY), self.rng.choice(GIVEN)
        p[pc.index("family_name")], p[pc.index("given_name")] = family, given
        p[pc.index("search_family")], p[pc.index("search_given")] = fold(family), fold(given)
        p[pc.index("phone")] = f"+1646{2000000 + n % 7_000_000:07d}"
        p[pc.index("birth_date")] = date(1935 + n % 40, 1 + n % 12, 1 + n % 28).isoformat()
        e = made["episodes"][0]
        e[cols["episodes"].index("proceduralist")] = f"Dr. {FAMILY[n % 4]}"
        mc = cols["messages"]
        status, send_at, sent_at, updated_at, attempts, provider, error = (
            mc.index(c) for c in ("status", "send_at", "sent_at", "updated_at", "attempts", "provider_id",
                                  "error_code"))
        now = self._shifted(T0, 0)
        delivered = []
        for msg in made["messages"]:
            if msg[status] == "scheduled" and msg[send_at] < now:  # the dispatcher sent it
                msg[status], msg[sent_at], msg[updated_at], msg[attempts] = "delivered", msg[send_at], msg[send_at], 1
                msg[provider] = f"SM{msg[0]:030d}"
                delivered.append(msg)
        if failed_text and delivered:
            delivered[-1][status], delivered[-1][error] = "failed", 30003
            delivered[-1][updated_at] = self._shifted(T0 - DAY, 0)
        for table, rows in made.items():
            for row in rows:
                self._put(table, tuple(row))
        if red_flag or (history and self.rng.random() < 0.05):
            resolved = None if red_flag else self._shifted(T0 + 5 * DAY, shift_days)
            created = self._shifted(min(T0, T0 + shift_days * DAY) - timedelta(hours=2), 0)
            values = {"id": self._id("tasks"), "kind": "red_flag", "subject": f"reply:bench{n}", "priority": 0,
                      "patient_id": p[0], "episode_id": e[0], "message_id": None, "reply_id": None,
                      "summary": "Reply mentions a red-flag symptom", "created_at": created,
                      "resolved_at": resolved, "resolved_by_id": None, "resolution": "called" if resolved else None}
            self._put("tasks", tuple(values[c] for c in cols["tasks"]))
        self.patients += 1

    def _put(self, table: str, row: tuple[Any, ...]) -> None:
        self.batch[table].append(row)
        self.pending += 1
        if self.pending >= 50_000:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        with self.engine.begin() as conn:
            for model in TABLES:  # parents first
                rows = self.batch[model.__tablename__]
                if rows:
                    conn.exec_driver_sql(self.sql[model.__tablename__], rows)
                    rows.clear()
        self.pending = 0


def grow(rt: Runtime, replicator: Replicator, target: int, *, active: int, seed: int = 11) -> int:
    """Add patients until there are ``target``: the active cohort first, then history."""
    rng = random.Random(seed + target)
    weights = [s.weight for s in ACTIVE_STAGES]
    with rt.engine.connect() as conn:
        have_active = int(conn.scalar(select(func.count()).select_from(Episode).where(
            Episode.procedure_at >= T0 - 50 * DAY)) or 0)
    added = 0
    while replicator.patients < target:
        if have_active < active:
            stage = rng.choices(ACTIVE_STAGES, weights)[0]
            have_active += 1
            completed = stage.ended
            replicator.add(stage, rng.randint(*stage.jitter),
                           red_flag=completed and rng.random() < 0.03, failed_text=rng.random() < 0.02)
        else:
            stage = rng.choices(HISTORY_STAGES, [s.weight for s in HISTORY_STAGES])[0]
            replicator.add(stage, rng.randint(*stage.jitter))
        added += 1
    replicator.flush()
    return added


def finish(engine: Engine) -> None:
    """Catch sequences up with the explicit ids (PostgreSQL) and refresh planner statistics."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            for model in TABLES:
                name = model.__tablename__
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                  f"(SELECT coalesce(max(id), 1) FROM {name}))"))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))


def build_templates(rt: Runtime, staff: Staff) -> list[Template]:
    out = []
    for n, stage in enumerate([*ACTIVE_STAGES, *HISTORY_STAGES], start=1):
        episode_id = build_template(rt, staff, stage, n)
        with rt.engine.connect() as conn:
            out.append(read_template(conn, stage, episode_id))
    return out


def counts(engine: Engine, models: Iterable[Any] = TABLES) -> dict[str, int]:
    with engine.connect() as conn:
        return {m.__tablename__: int(conn.scalar(select(func.count()).select_from(m)) or 0) for m in models}
