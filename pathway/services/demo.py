"""A realistic demo clinic: patients at every stage of the pathway, built through the real use cases.

Each episode is created by running the services with the clock set to when a coordinator would
have done it, so the demo's history is what the product itself would have recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathway.models import Episode, Message, Patient, Reply, Task
from pathway.services import episodes as ep
from pathway.services import outbox
from pathway.services.base import Actor, Env, Rules
from pathway.services.patients import enrol_patient, opt_out
from pathway.services.users import create_user
from pathway.timeline.vocabulary import Role

DEMO_PASSWORD = "demo-password"
DEMO_USERS: tuple[tuple[str, str, str], ...] = (
    ("coordinator@demo.clinic", Role.COORDINATOR, "Casey Coordinator"),
    ("clinician@demo.clinic", Role.CLINICIAN, "Dr. Morgan Lee"),
    ("admin@demo.clinic", Role.ADMIN, "Alex Admin"),
)

# (given, family, tz, language, days from today to the procedure, holds, stage)
PEOPLE = [
    ("Ana", "Ruiz", "America/Chicago", "es", 21, ["clopidogrel"], "clearance_needed"),
    ("Walter", "Brooks", "America/New_York", "en", 12, ["warfarin"], "approved_no_inr"),
    ("Linda", "Okafor", "America/New_York", "en", 6, ["apixaban"], "clearance_requested"),
    ("Raymond", "Diaz", "America/New_York", "en", 15, ["aspirin-secondary"], "no_default"),
    ("George", "Hall", "America/New_York", "en", 1, [], "tomorrow"),
    ("Maria", "Santos", "America/Chicago", "es", 0, ["ibuprofen"], "today"),
    ("Robert", "Chen", "America/Los_Angeles", "en", -2, ["clopidogrel"], "after_72h_red_flag"),
    ("Susan", "Patel", "America/New_York", "en", -5, [], "follow_up_unbooked"),
    ("James", "Miller", "America/Denver", "en", -8, ["rivaroxaban"], "follow_up_booked"),
    ("Dorothy", "Kim", "America/Phoenix", "en", -20, [], "pt_booked"),
    ("Frank", "Russo", "America/New_York", "en", 9, ["naproxen"], "cancelled"),
    ("Helen", "Nguyen", "Pacific/Honolulu", "en", -3, [], "opted_out"),
    ("Paul", "Young", "America/New_York", "en", None, [], "enrolled"),
]


def _at(env: Env, days: int, hour: int, tz: ZoneInfo) -> datetime:
    day = env.now.astimezone(tz).date() + timedelta(days=days)
    return datetime.combine(day, time(hour, 0), tz).astimezone(ZoneInfo("UTC"))


def _settle_history(session: Session, now: datetime) -> None:
    """Texts whose time has passed were delivered (the demo has no past worker)."""
    rows = session.scalars(select(Message).where(Message.status == "scheduled", Message.send_at < now))
    for m in list(rows):
        at = m.send_at
        outbox.record(session, m, outbox.Sending(worker="demo", started_at=at), now=at, source="dispatch", actor="demo")
        outbox.record(session, m, outbox.Sent("sent (demo history)", sid=f"demo-{m.id}", sent_at=at), now=at,
                      source="dispatch", actor="demo")
        outbox.record(session, m, outbox.Reported("delivered (demo history)", status="delivered",
                                                  provider_status="delivered"),
                      now=at + timedelta(seconds=4), source="callback")


def seed_demo(session: Session, env: Env) -> list[tuple[str, str]]:
    system_admin = Actor(role=Role.ADMIN, label="demo")
    users = {}
    for email, role, name in DEMO_USERS:
        users[role] = create_user(session, env, system_admin, email, role, DEMO_PASSWORD, name)
    coord = Actor.for_user(users[Role.COORDINATOR])
    clin = Actor.for_user(users[Role.CLINICIAN])
    for i, (given, family, tz_name, lang, days, drugs, stage) in enumerate(PEOPLE):
        tz = ZoneInfo(tz_name)
        past = replace(env, now=env.now - timedelta(days=40))
        patient = enrol_patient(session, past, coord, {
            "mrn": f"MRN{100200 + i}", "given_name": given, "family_name": family,
            "birth_date": f"19{44 + i}-0{1 + i % 9}-1{i % 9}", "phone": f"+1 (212) 555-01{i:02d}",
            "timezone": tz_name, "language": lang, "sms_consent": True, "consent_method": "verbal",
        })
        if days is None:
            continue
        procedure_at = _at(env, days, 8 + i % 3, tz)
        booked = replace(env, now=min(procedure_at - timedelta(days=25), env.now - timedelta(hours=1)))
        episode = ep.schedule_episode(session, booked, coord, patient.id, {
            "procedure_at": procedure_at.isoformat(), "facility": "Riverside Surgery Center",
            "facility_address": "1200 N Main St",
            "proceduralist": ["Dr. Morgan Lee", "Dr. Priya Shah"][i % 2], "levels": "L4-L5",
            "mri_reviewed_on": (booked.now - timedelta(days=10)).date().isoformat(),
            "tried_pt": True, "tried_medication": True, "tried_injections": i % 2 == 0,
            "escort_arranged": stage not in ("clearance_needed", "tomorrow"),
            "holds": [{"drug": d, "prescriber_name": "Dr. Alan Ortiz", "prescriber_phone": "+1 212 555 0199"}
                      for d in drugs],
        })
        later = replace(booked, now=booked.now + timedelta(days=1))
        for hold in episode.holds:
            if stage == "clearance_requested" or stage == "no_default":
                ep.record_clearance(session, later, coord, hold.id, {"status": "requested"})
            elif stage not in ("clearance_needed",):
                ep.record_clearance(session, later, clin, hold.id, {"status": "approved", "by": "Dr. Alan Ortiz",
                                                                      "note": "cleared by phone"})
                if hold.inr_required and stage != "approved_no_inr":
                    ep.record_inr(session, later, coord, hold.id, {"value": "1.1"})
        if stage == "cancelled":
            ep.cancel_episode(session, replace(env, now=env.now - timedelta(days=1)), coord, episode.id,
                              {"reason": "patient chose to wait"})
            continue
        if days < 0:
            after = replace(env, now=procedure_at + timedelta(hours=2))
            _settle_history(session, after.now)
            ep.record_procedure_end(session, after, clin, episode.id,
                                    {"ended_at": (procedure_at + timedelta(minutes=55)).isoformat()})
        if stage == "follow_up_booked":
            ep.book_appointment(session, replace(env, now=procedure_at + timedelta(days=1)), coord, episode.id,
                                "follow_up", {"appointment_at": _at(env, 1, 10, tz).isoformat()})
        if stage == "pt_booked":
            visit = procedure_at + timedelta(days=8, hours=2)
            ep.book_appointment(session, replace(env, now=procedure_at + timedelta(days=1)), coord, episode.id,
                                "follow_up", {"appointment_at": visit.isoformat()})
            _settle_history(session, visit)
            fu = next(m for m in episode.milestones if m.kind == "follow_up")
            ep.complete_milestone(session, replace(env, now=visit + timedelta(hours=1)), clin, fu.id,
                                  {"result": {"pain_nprs": 3, "walking_minutes": 25}})
            ep.book_appointment(session, replace(env, now=visit + timedelta(hours=1)), coord, episode.id,
                                "pt_start", {"appointment_at": _at(env, 2, 14, tz).isoformat()})
        if stage == "opted_out":
            opt_out(session, replace(env, now=env.now - timedelta(days=1)), Actor(role="system", label="patient"),
                    patient, "STOP reply")
        if stage == "after_72h_red_flag":
            reply = Reply(patient_id=patient.id, episode_id=episode.id, from_number=patient.phone,
                          body="my left leg feels numb since this morning", received_at=env.now - timedelta(hours=1),
                          classification="red_flag")
            session.add(reply)
            session.flush()
            session.add(Task(kind="red_flag", subject=f"reply:{reply.id}", priority=0, patient_id=patient.id,
                             episode_id=episode.id, reply_id=reply.id, created_at=reply.received_at,
                             summary="Patient reported a red-flag symptom after the procedure: call today"))
    _settle_history(session, env.now)
    session.flush()
    return [(email, role) for email, role, _ in DEMO_USERS]


def print_timelines(session: Session, rules: Rules, echo: Callable[[str], None]) -> None:
    clinic_tz = rules.clinic.tz
    for patient in session.scalars(select(Patient).order_by(Patient.id)):
        tz = ZoneInfo(patient.timezone)
        echo(f"\n{patient.display_name}  MRN {patient.mrn}  {patient.timezone}  ({patient.language})"
             + ("  [opted out]" if patient.opted_out_at else ""))
        for episode in session.scalars(select(Episode).where(Episode.patient_id == patient.id)):
            local = episode.procedure_at.astimezone(tz)
            echo(f"  Episode {episode.id}: procedure {local:%a %d %b %Y %H:%M} [{episode.status}]")
            for m in sorted(episode.milestones, key=lambda m: (m.due_at or m.window_start or episode.procedure_at)):
                when = m.due_at or m.window_start
                shown = when.astimezone(clinic_tz).strftime("%a %d %b %H:%M") if when else "-"
                echo(f"    {m.kind:<15} {shown:<18} {m.status:<10} {m.rule}")
        for msg in session.scalars(select(Message).where(Message.patient_id == patient.id).order_by(Message.send_at)):
            echo(f"    text {msg.kind:<14} {msg.send_at.astimezone(tz):%a %d %b %H:%M} {msg.status}")
