"""Thirty simulated days: 200 patients in six US zones, a daylight-saving change inside the window.

Episodes are created through the services (enrol, schedule with holds, clearance, bookings,
reschedules, cancellations) at the moments a clinic would; a stepping clock runs dispatch passes
every 5-15 simulated minutes. Every text sent is then compared with what the pathway says it
should be -- computed here, independently of the planner, from the episode's facts:

- last_dose: 17:00 local the day before the last-dose day (procedure's local date minus
  ``stop_days + 1``; for hour holds the local date of start minus ``stop_hours``);
- stop_confirm: 09:00 local the morning after the last-dose day, while before the procedure;
- pre_procedure: 10:00 local the day before the procedure;
- restart: the RECORDED end + the drug's restart hours (absolute hours), planned when the end is
  recorded (never before: most ends are recorded within two hours, some late, some never); one
  whose moment passed before the end was recorded goes at once, until a day after that moment;
- check_72h: start + 72 h (absolute: across the DST change the wall time moves);
- follow_up / pt_start: 10:00 local the day before the appointment;
- enrolment, date_changed, cancelled: when the event happened;
- outcome: the baseline pain question when the episode is scheduled, if that is within 30 days
  of the procedure's local date (from 10:00 that day) and it can go before the procedure starts
  (the later outcome questions come from the worker's housekeeping tick, which this run leaves out);
- quiet hours 08:00-20:00 in the patient's zone: a time outside waits for the next 08:00;
- a text whose time already passed when it was planned (late approval, late booking) goes at
  once if its deadline has not passed, else never; a last-dose text whose hold was signed after
  its time may go until the end of the last-dose day (local midnight) if quiet hours let it go
  before then, else never (a day-based last dose may be taken any time that day).

A text is expected at the first dispatch step at or after that moment that falls in the
patient's daytime, and nowhere else; none may be sent twice, outside daytime, or for a
cancelled episode after the cancellation (except the cancellation notice itself).
"""

from __future__ import annotations

import bisect
import random
import time as _time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from pathway.dispatch.housekeeping import housekeeping
from pathway.models import Episode, MedicationHold, Message, Milestone
from pathway.services import episodes as ep
from pathway.services.base import Env
from pathway.services.patients import enrol_patient
from pathway.sms import OutgoingSms, ProviderMessage, SendResult

UTC = UTC
START = datetime(2027, 2, 25, 14, 0, tzinfo=UTC)  # 09:00 in New York; DST starts 2027-03-14
DAYS = 30
END = START + timedelta(days=DAYS)
PATIENTS = 200
SEED = 2027
ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles",
         "Pacific/Honolulu"]
# drug key -> (stop_days, stop_hours, restart_hours), as in the hold catalogue.
DRUGS = {"warfarin": (5, None, 6), "clopidogrel": (7, None, 24), "apixaban": (3, None, 24),
         "enoxaparin-prophylactic": (None, 12, 24)}
PROCEDURE_TIMES = [time(7, 30), time(8, 0), time(9, 0), time(11, 0), time(13, 30), time(15, 0), time(16, 30)]
DAY_START, DAY_END = time(8, 0), time(20, 0)


# --- the rules, restated ----------------------------------------------------------------------


def local_at(day: date, t: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, t, tzinfo=zone).astimezone(UTC)


def daytime(instant: datetime, zone: ZoneInfo) -> bool:
    return DAY_START <= instant.astimezone(zone).time() < DAY_END


def next_daytime(instant: datetime, zone: ZoneInfo) -> datetime:
    if daytime(instant, zone):
        return instant
    local = instant.astimezone(zone)
    day = local.date() + timedelta(days=1) if local.time() >= DAY_END else local.date()
    return local_at(day, DAY_START, zone)


@dataclass
class Hold:
    drug: str
    approved_at: datetime | None = None  # None: never approved (needed or declined)
    id: int = 0


@dataclass
class Case:
    """One patient and their episode, as the clinic acts on it (times are when it happened)."""

    index: int
    zone: ZoneInfo
    procedures: list[tuple[datetime, datetime]]  # (from, procedure_at) eras: scheduled, then moved
    holds: list[Hold]
    follow_up: datetime | None = None
    pt_start: datetime | None = None
    booked_at: datetime | None = None
    ended: tuple[datetime, datetime] | None = None  # (the procedure's end, when it was recorded)
    cancelled_at: datetime | None = None
    patient_id: int = 0
    episode_id: int = 0
    # Planned actions, applied at the first step at or after their time.
    plan: list[tuple[datetime, str, Any]] = field(default_factory=list)

    @property
    def phone(self) -> str:
        return f"+1212555{self.index:04d}"


Text = tuple[str, str, datetime, datetime, datetime | None, bool]


def nominal_texts(case: Case, procedure_at: datetime) -> list[Text]:
    """(kind, drug, nominal time, catch-up deadline, prerequisite time, whether a catch-up must
    also be sent before the deadline) for procedure-bound texts."""
    z = case.zone
    day = procedure_at.astimezone(z).date()
    out: list[Text] = [
        ("pre_procedure", "", local_at(day - timedelta(days=1), time(10, 0), z), procedure_at, None, False),
        ("check_72h", "", procedure_at + timedelta(hours=72), procedure_at + timedelta(hours=72), None, False),
    ]
    for h in case.holds:
        if h.approved_at is None:
            continue
        stop_days, stop_hours, _ = DRUGS[h.drug]
        signed_late = False
        if stop_days is not None:
            last_day = day - timedelta(days=stop_days + 1)
            nominal = local_at(last_day - timedelta(days=1), time(17, 0), z)
            # Signed after the reminder's time: it may still go until the last-dose day is over.
            signed_late = h.approved_at >= nominal
            deadline = local_at(last_day + timedelta(days=1) if signed_late else last_day, time(0, 0), z)
        else:
            last_at = procedure_at - timedelta(hours=stop_hours)
            last_day, deadline = last_at.astimezone(z).date(), last_at
            nominal = local_at(last_day - timedelta(days=1), time(17, 0), z)
        out.append(("last_dose", h.drug, nominal, deadline, h.approved_at, signed_late))
        # The stop question: 09:00 local the morning after the last-dose day, while before the
        # procedure (an hour-based hold's last dose is often the day before: then there is none).
        ask = local_at(last_day + timedelta(days=1), time(9, 0), z)
        if ask < procedure_at:
            out.append(("stop_confirm", h.drug, ask, procedure_at, h.approved_at, False))
    return out  # no restart text from the scheduled time: it waits for the recorded end


def planned_send(nominal: datetime, deadline: datetime, planned_at: datetime, zone: ZoneInfo,
                 strict: bool = False) -> datetime | None:
    """When a text planned at ``planned_at`` becomes due, or None when it is too late to plan.
    ``strict``: a catch-up that quiet hours push to or past the deadline is dropped."""
    due = next_daytime(nominal, zone)
    if due >= planned_at:
        return due
    if deadline <= planned_at:
        return None
    catch_up = next_daytime(planned_at, zone)
    return None if strict and catch_up >= deadline else catch_up


def expected_texts(case: Case, steps: list[datetime]) -> list[tuple[str, str, datetime]]:
    """(kind, drug, step) of every text this case should have had sent within the run."""
    z = case.zone

    def step_for(due: datetime) -> datetime | None:
        i = bisect.bisect_left(steps, due)
        while i < len(steps) and not daytime(steps[i], z):
            i += 1
        return steps[i] if i < len(steps) else None

    out: list[tuple[str, str, datetime]] = []

    def expect(kind: str, drug: str, due: datetime | None, until: datetime | None) -> None:
        at = step_for(due) if due is not None else None
        if at is not None and (until is None or at < until):
            out.append((kind, drug, at))

    cancel = case.cancelled_at
    expect("enrolment", "", next_daytime(START, z), None)
    scheduled, first = case.procedures[0]
    if scheduled >= local_at(first.astimezone(z).date() - timedelta(days=30), time(10, 0), z):
        starts = procedure_on(case, scheduled)
        expect("outcome", "", next_daytime(scheduled, z), starts if cancel is None else min(starts, cancel))
    for era, (since, procedure_at) in enumerate(case.procedures):
        until = case.procedures[era + 1][0] if era + 1 < len(case.procedures) else None
        if cancel is not None:
            until = cancel if until is None else min(until, cancel)
        if until is not None and until <= since:
            continue
        if era > 0:
            expect("date_changed", "", next_daytime(since, z), cancel)
        for kind, drug, nominal, deadline, prerequisite, strict in nominal_texts(case, procedure_at):
            planned_at = max(since, prerequisite) if prerequisite is not None else since
            if until is not None and planned_at >= until:
                continue
            expect(kind, drug, planned_send(nominal, deadline, planned_at, z, strict), until)
    for kind, at in (("follow_up", case.follow_up), ("pt_start", case.pt_start)):
        if at is None or case.booked_at is None:
            continue
        nominal = local_at(at.astimezone(z).date() - timedelta(days=1), time(10, 0), z)
        expect(kind, "", planned_send(nominal, at, case.booked_at, z), cancel)
    if case.ended is not None:
        ended_at, recorded_at = case.ended
        for h in case.holds:
            if h.approved_at is None:
                continue
            restart = ended_at + timedelta(hours=DRUGS[h.drug][2])
            stale = restart + timedelta(days=1)  # the dispatcher's limit (plan.LATE_REMINDER_GRACE)
            planned_at = max(recorded_at, h.approved_at)
            if cancel is not None and planned_at >= cancel:
                continue
            expect("restart", h.drug, planned_send(restart, stale, planned_at, z),
                   stale if cancel is None else min(stale, cancel))
    if cancel is not None and cancel < procedure_on(case, cancel):
        expect("cancelled", "", next_daytime(cancel, z), None)
    return out


def procedure_on(case: Case, at: datetime) -> datetime:
    return [p for since, p in case.procedures if since <= at][-1]


# --- the clinic ---------------------------------------------------------------------------------


def end_recorded(rng: random.Random, procedure_at: datetime) -> tuple[datetime, datetime] | None:
    """When the procedure ended and when someone recorded it: mostly within two hours, some late
    (after a 6-hour restart moment, a few more than a day after it), some never."""
    ended = procedure_at + timedelta(minutes=rng.randint(35, 90))
    r = rng.random()
    if r < 0.1:
        return None
    if r < 0.7:
        return ended, ended + timedelta(minutes=rng.randint(1, 120))
    if r < 0.9:
        return ended, ended + timedelta(hours=rng.uniform(2, 12))
    return ended, ended + timedelta(hours=rng.uniform(26, 60))


def make_cases(rng: random.Random) -> list[Case]:
    cases = []
    ends = random.Random(SEED + 1)  # its own stream: the rest of the draw stays as it was
    start_day = START.date()
    for i in range(PATIENTS):
        zone = ZoneInfo(ZONES[i % len(ZONES)])
        r = rng.random()
        drugs = [] if r < 0.5 else rng.sample(sorted(DRUGS), 2 if r > 0.9 else 1)
        min_offset = max([3] + [(DRUGS[d][0] or 1) + 3 for d in drugs])
        day = start_day + timedelta(days=rng.randint(min_offset, 24))
        procedure_at = local_at(day, rng.choice(PROCEDURE_TIMES), zone)
        case = Case(i, zone, [(START, procedure_at)], [Hold(d) for d in drugs])
        for hold in case.holds:
            r = rng.random()
            if r < 0.55:
                hold.approved_at = START
            elif r < 0.8:  # approved later, sometimes after its reminder's time (catch-up or too late)
                case.plan.append((START + (procedure_at - START - timedelta(days=1)) * rng.uniform(0.1, 0.9),
                                  "approve", hold))
            elif r < 0.9:
                case.plan.append((START, "decline", hold))
        group = rng.random()
        if group < 0.10 and procedure_at - timedelta(days=2) > START + timedelta(hours=6):
            moved_at = START + timedelta(hours=6) + (procedure_at - timedelta(days=2) - START - timedelta(hours=6)) \
                * rng.random()
            new_day = procedure_at.astimezone(zone).date() + timedelta(days=rng.randint(2, 6))
            case.plan.append((moved_at, "reschedule", local_at(new_day, procedure_at.astimezone(zone).time(), zone)))
        elif group < 0.18:
            case.plan.append((START + timedelta(hours=2) + (procedure_at + timedelta(days=4) - START) * rng.random(),
                              "cancel", None))
        moves = [arg for _, action, arg in case.plan if action == "reschedule"]
        end = end_recorded(ends, moves[-1] if moves else procedure_at)
        if end is not None and end[1] < END:
            case.plan.append((end[1], "end", end[0]))
        if rng.random() < 0.6:
            final = moves[-1] if moves else procedure_at
            fu = local_at(final.astimezone(zone).date() + timedelta(days=rng.randint(7, 10)),
                          rng.choice([time(9, 0), time(14, 0)]), zone)
            pt = (local_at(fu.astimezone(zone).date() + timedelta(days=rng.randint(3, 8)), time(11, 0), zone)
                  if rng.random() < 0.4 else None)
            reminder = local_at(fu.astimezone(zone).date() - timedelta(days=1), time(10, 0), zone)
            if rng.random() < 0.15:  # booked late: after its reminder's time, still before the visit
                booked = reminder + timedelta(minutes=rng.randint(10, 300))
            else:
                booked = START + max(timedelta(0), reminder - timedelta(days=1) - START) * rng.random()
            if booked < END:
                case.plan.append((booked, "book", (fu, pt)))
        case.plan.sort(key=lambda p: p[0])
        cases.append(case)
    return cases


class Recorder:
    """A transport that records what it was handed and when (the stepping clock's time)."""

    name = "recorder"
    default_rate_per_second = None

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.sent: list[tuple[int, str, str, datetime]] = []

    def send(self, sms: OutgoingSms) -> SendResult:
        self.sent.append((int(sms.ref[1:]), sms.to, sms.body, self.clock()))
        return SendResult(provider_id=f"SM{len(self.sent):032d}", status="sent")

    def list_sent(self, to: str, since: datetime) -> list[ProviderMessage]:
        return [ProviderMessage(f"SM{i + 1:032d}", t, b, "sent", at) for i, (_, t, b, at) in enumerate(self.sent)
                if t == to and at >= since]


@pytest.mark.slow
def test_thirty_days_of_texts_across_zones_and_a_dst_change_go_out_on_time_once(
        sessions, rules, clock, people, make_dispatcher) -> None:
    wall = _time.monotonic()
    rng = random.Random(SEED)
    cases = make_cases(rng)
    clock.set(START)
    coordinator, clinician = people["coordinator"], people["clinician"]

    def apply(session: Any, env: Env, case: Case, action: str, arg: Any) -> None:
        if action == "approve" or action == "decline":
            ep.record_clearance(session, env, clinician, arg.id, {"status": action + "d", "by": "Dr. Rx"})
            arg.approved_at = env.now if action == "approve" else None
        elif action == "reschedule":
            ep.reschedule(session, env, coordinator, case.episode_id, {"procedure_at": arg.isoformat(),
                                                                 "confirm_holds_at_risk": True})
            case.procedures.append((env.now, arg))
        elif action == "cancel":
            ep.cancel_episode(session, env, coordinator, case.episode_id, {"reason": "patient declined"})
            case.cancelled_at = env.now
        elif action == "end":
            ep.record_procedure_end(session, env, clinician, case.episode_id, {"ended_at": arg.isoformat()})
            case.ended = (arg, env.now)
        elif action == "book":
            fu, pt = arg
            ep.book_appointment(
                session, env, coordinator, case.episode_id, "follow_up",
                {"appointment_at": fu.isoformat(), "confirm_outside_window": True},  # the draw may leave day 7-10
            )
            if pt is not None:
                ep.book_appointment(session, env, coordinator, case.episode_id, "pt_start",
                                    {"appointment_at": pt.isoformat()})
            case.follow_up, case.pt_start, case.booked_at = fu, pt, env.now

    # Day 0: every patient enrolled, their procedure scheduled with its holds, most holds signed.
    with sessions.begin() as s:
        env = Env(rules=rules, now=START)
        for case in cases:
            p = enrol_patient(s, env, coordinator, {
                "mrn": f"S{case.index:05d}", "given_name": "Pat", "family_name": f"Sim{case.index}",
                "birth_date": "1950-01-01", "phone": case.phone, "timezone": case.zone.key, "sms_consent": True})
            e = ep.schedule_episode(s, env, coordinator, p.id, {
                "procedure_at": case.procedures[0][1].isoformat(), "holds": [{"drug": h.drug} for h in case.holds]})
            case.patient_id, case.episode_id = p.id, e.id
            for hold, row in zip(case.holds, e.holds, strict=True):
                hold.id = row.id
                if hold.approved_at is not None:
                    apply(s, env, case, "approve", hold)
    setup = _time.monotonic() - wall
    pending = sorted(((at, case.index, action, arg) for case in cases for at, action, arg in case.plan),
                     key=lambda p: (p[0], p[1]))
    recorder = Recorder(clock)
    d = make_dispatcher(transport=recorder, concurrency=1, batch_size=50)
    steps: list[datetime] = []
    last_housekeeping = None
    in_dispatch = 0.0
    while clock() < END:
        now = clock()
        while pending and pending[0][0] <= now:
            _, index, action, arg = pending.pop(0)
            case = cases[index]
            if case.cancelled_at is not None:
                continue  # nothing more happens to a cancelled episode
            with sessions.begin() as s:
                apply(s, Env(rules=rules, now=now), case, action, arg)
        if last_housekeeping is None or now - last_housekeeping >= timedelta(hours=1):
            with sessions.begin() as s:
                housekeeping(s, now, "sim")
            last_housekeeping = now
        t_pass = _time.monotonic()
        while d.dispatch_due().claimed >= d.settings.batch_size:
            pass  # a busy minute: a real worker ticks every second, so all of it goes now
        in_dispatch += _time.monotonic() - t_pass
        steps.append(now)
        clock.advance(timedelta(minutes=rng.randint(5, 15)))
    simulated = _time.monotonic() - wall

    # What was sent, read back from the outbox rows the dispatcher was handed.
    with sessions() as s:
        rows = {m.id: m for m in s.scalars(select(Message))}
        drug_of_milestone = dict(
            s.execute(
                select(Milestone.id, MedicationHold.drug_key).join(
                    MedicationHold, Milestone.hold_id == MedicationHold.id
                )
            ).all()
        )
        episode_of = {e.id: e for e in s.scalars(select(Episode))}
    by_patient = {c.patient_id: c for c in cases}
    sent_ids = [mid for mid, *_ in recorder.sent]
    assert len(sent_ids) == len(set(sent_ids)), "a text was handed to the transport twice"
    actual: dict[int, list[tuple[str, str, datetime]]] = defaultdict(list)
    problems = []
    for mid, to, _body, at in recorder.sent:
        m = rows[mid]
        case = by_patient[m.patient_id]
        assert to == case.phone
        if not daytime(at, case.zone):
            problems.append(f"{case.zone.key}: {m.kind} sent at {at.astimezone(case.zone)}, outside 08:00-20:00")
        if case.cancelled_at is not None and at >= case.cancelled_at and m.kind not in ("cancelled", "enrolment"):
            problems.append(
                f"patient {case.index}: {m.kind} sent at {at} after the cancellation at {case.cancelled_at}"
            )
        if m.episode_id is not None:
            assert episode_of[m.episode_id].patient_id == m.patient_id
        actual[case.index].append((m.kind, drug_of_milestone.get(m.milestone_id, "") if m.milestone_id else "", at))
    assert len({(m.patient_id, m.plan_key) for m in (rows[i] for i in sent_ids)}) == len(sent_ids)

    expected_total = 0
    kinds: dict[str, int] = defaultdict(int)
    for case in cases:
        want = sorted(expected_texts(case, steps), key=lambda t: (t[2], t[0], t[1]))
        got = sorted(actual[case.index], key=lambda t: (t[2], t[0], t[1]))
        expected_total += len(want)
        for kind, *_ in got:
            kinds[kind] += 1
        if want != got:
            z = case.zone
            fmt = lambda ts, z=z: [(k, dr, f"{t.astimezone(z):%m-%d %H:%M}") for k, dr, t in ts]  # noqa: E731
            procedures = [f"{p.astimezone(z):%m-%d %H:%M}" for _, p in case.procedures]
            problems.append(
                f"patient {case.index} ({z.key}, procedure {procedures},"
                f" cancelled {case.cancelled_at}):\n  expected {fmt(want)}\n  sent     {fmt(got)}"
            )
    print(
        f"\nsimulated {DAYS} days in {simulated:.1f} s (setup {setup:.1f} s, dispatch {in_dispatch:.1f} s,"
        f" {len(steps)} steps); {len(recorder.sent)} texts: {dict(kinds)}"
    )
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:15])
    assert len(recorder.sent) == expected_total
    # The scenario really covered what it claims to.
    assert {"enrolment", "outcome", "last_dose", "stop_confirm", "pre_procedure", "restart", "check_72h", "follow_up",
            "pt_start", "date_changed", "cancelled"} <= set(kinds)
    # Restart texts: never without a recorded end; some ends were recorded after the restart
    # moment (their text went at once), some more than a day after it (no text), some never.
    restarts = [(case, h) for case in cases for h in case.holds if h.approved_at is not None]
    texted = {(c.index, d) for c in cases for k, d, _ in actual[c.index] if k == "restart"}
    assert all(c.ended is not None for c, h in restarts if (c.index, h.drug) in texted)

    def lateness(case: Case, hold: Hold) -> timedelta | None:
        if case.ended is None:
            return None
        return case.ended[1] - (case.ended[0] + timedelta(hours=DRUGS[hold.drug][2]))

    assert any((c.index, h.drug) in texted and (late := lateness(c, h)) is not None and late > timedelta(0)
               for c, h in restarts)
    assert any(c.cancelled_at is None and (late := lateness(c, h)) is not None and late > timedelta(days=1)
               and (c.index, h.drug) not in texted for c, h in restarts)
    assert any(c.ended is None and c.cancelled_at is None for c, _ in restarts)
    assert any(c.cancelled_at for c in cases) and any(len(c.procedures) > 1 for c in cases)
