"""Calendar feeds (issue 14, "Calendars"): a patient's private calendar and staff feeds.

A calendar link is an unguessable token (256 random bits) that opens one feed at
``/ical/<token>.ics`` without signing in. Each patient gets one at enrolment; staff revoke and
re-issue it (audited). Staff feeds (per proceduralist or per facility) are created and revoked by
an admin or a coordinator (audited) and show each patient by initials only.

The feeds are RFC 5545, built with ``icalendar``: times carry their zone (``TZID``, with the
``VTIMEZONE`` it names), and each event's ``UID`` comes from the episode and milestone ids, never
from a time, so a calendar app updates a moved event (``SEQUENCE`` is the episode's plan
revision) instead of adding a second one. A cancelled episode's events stay, ``STATUS:CANCELLED``.
The words are data (``pathway/data/calendar.toml``), in the patient's language; like a default
text they name no diagnosis, procedure or medicine, and the place is exactly the one the
day-before text names.
"""

from __future__ import annotations

import re
import secrets
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from pathway.models import CalendarLink, Episode, Patient
from pathway.resources import DATA_DIR
from pathway.schemas.inputs import CalendarFeedIn
from pathway.services.base import Actor, Conflict, Env, NotFound, audit, get_or_404, read_input
from pathway.timeline.arrival import effective_arrival, place_words, revealing_word
from pathway.timeline.vocabulary import CARE_TEAM, AppointmentKind, CalendarKind, EpisodeStatus, Language, Role

__all__ = [
    "FEED_ROLES", "CalendarWords", "calendar_url", "create_feed", "feed_for_token", "issue_patient_link",
    "list_feeds", "new_token", "reissue_patient_link", "revoke_feed", "revoke_patient_link", "words",
]

# Who may create, list and revoke staff feeds.
FEED_ROLES = (Role.ADMIN, Role.COORDINATOR)
PRODID = "-//pathway//calendar feeds//EN"
# What a token looks like (secrets.token_urlsafe(32)): anything else is a 404 without a lookup.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,64}")


# --- the words (data/calendar.toml) ---------------------------------------------------------


@dataclass(frozen=True)
class CalendarWords:
    follow_up: timedelta
    pt_start: timedelta
    staff_days_back: timedelta
    by_language: Mapping[str, Mapping[str, str]]

    def of(self, language: str) -> Mapping[str, str]:
        return self.by_language.get(language) or self.by_language[Language.EN]


@cache
def words() -> CalendarWords:
    with (DATA_DIR / "calendar.toml").open("rb") as f:
        doc = tomllib.load(f)
    lengths = doc["lengths"]
    return CalendarWords(
        follow_up=timedelta(minutes=int(lengths["follow_up_minutes"])),
        pt_start=timedelta(minutes=int(lengths["pt_start_minutes"])),
        staff_days_back=timedelta(days=int(lengths["staff_days_back"])),
        by_language={lang: dict(table) for lang, table in doc["words"].items()},
    )


# --- links ----------------------------------------------------------------------------------


def new_token() -> str:
    """256 random bits, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


def calendar_url(public_url: str, token: str | None) -> str | None:
    """The address a calendar app subscribes to (relative when no public address is known)."""
    if token is None:
        return None
    return f"{public_url.rstrip('/')}/ical/{token}.ics"


def issue_patient_link(session: Session, env: Env, actor: Actor, patient: Patient, *,
                       flush: bool = True) -> CalendarLink:
    """A new link for the patient (at enrolment, or in place of a revoked one). ``flush=False``:
    the link goes in with the session's next flush (enrolment needs no id for it)."""
    link = CalendarLink(token=new_token(), kind=CalendarKind.PATIENT, patient_id=patient.id, name="",
                        created_at=env.now, created_by_id=actor.user_id)
    session.add(link)
    if flush:
        session.flush()
    session.expire(patient, ["calendar_links"])
    return link


def _revoke_patient_links(session: Session, env: Env, patient: Patient) -> int:
    links = session.scalars(select(CalendarLink).where(
        CalendarLink.patient_id == patient.id, CalendarLink.revoked_at.is_(None)).with_for_update()).all()
    for link in links:
        link.revoked_at = env.now
    session.flush()
    session.expire(patient, ["calendar_links"])
    return len(links)


def reissue_patient_link(session: Session, env: Env, actor: Actor, patient_id: Any) -> Patient:
    """Revoke the patient's link (its address answers 404 at once) and issue a new one."""
    actor.require(*CARE_TEAM)
    patient: Patient = get_or_404(session, Patient, patient_id, "patient", lock=True)
    revoked = _revoke_patient_links(session, env, patient)
    link = issue_patient_link(session, env, actor, patient)
    audit(session, env, actor, "calendar.reissue", "calendar_link", link.id, patient_id=patient.id,
          detail={"revoked": revoked})
    return patient


def revoke_patient_link(session: Session, env: Env, actor: Actor, patient_id: Any) -> Patient:
    """End the patient's link; they have none until staff issue a new one."""
    actor.require(*CARE_TEAM)
    patient: Patient = get_or_404(session, Patient, patient_id, "patient", lock=True)
    revoked = _revoke_patient_links(session, env, patient)
    audit(session, env, actor, "calendar.revoke", "patient", patient.id, patient_id=patient.id,
          detail={"revoked": revoked})
    return patient


def create_feed(session: Session, env: Env, actor: Actor, data: Mapping[str, Any] | CalendarFeedIn) -> CalendarLink:
    """A staff feed of one proceduralist's or one facility's procedures and visits."""
    actor.require(*FEED_ROLES)
    given = read_input(CalendarFeedIn, data)
    link = CalendarLink(token=new_token(), kind=given.kind, patient_id=None, name=given.name,
                        created_at=env.now, created_by_id=actor.user_id)
    session.add(link)
    session.flush()
    audit(session, env, actor, "calendar_feed.create", "calendar_link", link.id,
          detail={"kind": given.kind, "name": given.name})
    return link


def list_feeds(session: Session, actor: Actor) -> list[CalendarLink]:
    actor.require(*FEED_ROLES)
    return list(session.scalars(select(CalendarLink).where(CalendarLink.patient_id.is_(None))
                                .order_by(CalendarLink.id)))


def revoke_feed(session: Session, env: Env, actor: Actor, feed_id: Any) -> CalendarLink:
    actor.require(*FEED_ROLES)
    link: CalendarLink = get_or_404(session, CalendarLink, feed_id, "calendar feed", lock=True)
    if link.patient_id is not None:
        raise NotFound("calendar feed")
    if link.revoked_at is not None:
        raise Conflict("this feed is already revoked")
    link.revoked_at = env.now
    audit(session, env, actor, "calendar_feed.revoke", "calendar_link", link.id,
          detail={"kind": link.kind, "name": link.name})
    return link


# --- the feeds ------------------------------------------------------------------------------


def feed_for_token(session: Session, env: Env, token: str) -> bytes:
    """The calendar a link opens, as text/calendar bytes; NotFound for an unknown or revoked one."""
    if not _TOKEN.fullmatch(token):
        raise NotFound("calendar")
    link = session.scalar(select(CalendarLink).where(CalendarLink.token == token, CalendarLink.revoked_at.is_(None)))
    if link is None:
        raise NotFound("calendar")
    if link.kind == CalendarKind.PATIENT:
        patient = session.get(Patient, link.patient_id)
        if patient is None:
            raise NotFound("calendar")
        cal = _patient_calendar(env, patient)
    else:
        cal = _staff_calendar(session, env, link)
    body: bytes = cal.to_ical()
    return body


def _clock(at: datetime, language: str) -> str:
    if language == Language.ES:
        return at.strftime("%H:%M")
    return f"{at.hour % 12 or 12}:{at.minute:02d} {'AM' if at.hour < 12 else 'PM'}"


def _initials(p: Patient) -> str:
    return "".join(f"{n.strip()[:1].upper()}." for n in (p.given_name, p.family_name) if n.strip())


def _new_calendar(name: str, zone: str | None) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    if zone:
        cal.add("x-wr-timezone", zone)
    return cal


def _uid(scope: str, e: Episode, kind: str) -> str:
    """From the episode's and the milestone's ids: a move keeps it, so the event is updated."""
    milestone = next((m for m in e.milestones if m.kind == kind and not m.ref), None)
    part = f"m{milestone.id}" if milestone is not None else kind
    return f"pathway-{scope}-e{e.id}-{part}@pathway"


def _modified(*instants: datetime | None) -> datetime:
    return max(i for i in instants if i is not None)


def _event(env: Env, e: Episode, *, uid: str, start: datetime, end: datetime, summary: str, description: str,
           location: str, modified: datetime, cancelled_prefix: str) -> Event:
    cancelled = e.status == EpisodeStatus.CANCELLED
    ev = Event()
    ev.add("uid", uid)
    ev.add("dtstamp", env.now)
    ev.add("last-modified", _modified(modified, e.cancelled_at if cancelled else None))
    ev.add("sequence", e.plan_revision + (1 if cancelled else 0))
    ev.add("dtstart", start)
    ev.add("dtend", end)
    ev.add("summary", (cancelled_prefix + summary) if cancelled else summary)
    if description:
        ev.add("description", description)
    if location:
        ev.add("location", location)
    ev.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    ev.add("transp", "OPAQUE")
    return ev


def _visits(e: Episode) -> Iterable[tuple[str, datetime]]:
    for kind in (AppointmentKind.FOLLOW_UP, AppointmentKind.PT_START):
        appt = e.appointment(kind)
        if appt is not None:
            yield kind, appt.appointment_at


def _patient_calendar(env: Env, p: Patient) -> Calendar:
    w = words()
    text = w.of(p.language)
    tz = ZoneInfo(p.timezone)
    clinic = env.rules.clinic
    definition = env.rules.definition
    shown = clinic.name if p.detailed_texts or revealing_word(clinic.name, definition.revealing_words) is None \
        else text["clinic_plain"]
    cal = _new_calendar(text["calendar"], p.timezone)
    for e in p.episodes:
        arrival = effective_arrival(e.procedure_at, e.arrival_at, definition.arrival_before).astimezone(tz)
        start = e.procedure_at.astimezone(tz)
        end = (e.procedure_at + timedelta(minutes=e.duration_minutes)).astimezone(tz)
        fill = dict(clinic=shown, phone=clinic.phone, arrival=_clock(arrival, p.language),
                    start=_clock(start, p.language))
        place = place_words(e.facility, e.facility_address, definition.revealing_words, detailed=p.detailed_texts)
        cal.add_component(_event(
            env, e, uid=_uid("patient", e, "procedure"), start=arrival, end=end,
            summary=text["procedure"].format(**fill), description=text["procedure_description"].format(**fill),
            location=place, modified=_modified(e.created_at, e.moved_at), cancelled_prefix=text["cancelled"]))
        for kind, at in _visits(e):
            length = w.follow_up if kind == AppointmentKind.FOLLOW_UP else w.pt_start
            appt = e.appointment(kind)
            cal.add_component(_event(
                env, e, uid=_uid("patient", e, kind), start=at.astimezone(tz), end=(at + length).astimezone(tz),
                summary=text[kind].format(**fill), description=text[f"{kind}_description"].format(**fill),
                location="", modified=_modified(e.created_at, appt.booked_at if appt else None),
                cancelled_prefix=text["cancelled"]))
    _add_zones(cal, [e.procedure_at for e in p.episodes])
    return cal


def _staff_calendar(session: Session, env: Env, link: CalendarLink) -> Calendar:
    w = words()
    text = w.of(Language.EN)
    clinic = env.rules.clinic
    definition = env.rules.definition
    column = Episode.proceduralist if link.kind == CalendarKind.PROCEDURALIST else Episode.facility
    episodes: Sequence[Episode] = session.scalars(
        select(Episode).where(column == link.name, Episode.procedure_at >= env.now - w.staff_days_back)
        .options(selectinload(Episode.patient), selectinload(Episode.milestones),
                 selectinload(Episode.appointments))
        .order_by(Episode.procedure_at, Episode.id)).all()
    cal = _new_calendar(text["staff_calendar"].format(name=link.name), clinic.timezone)
    for e in episodes:
        tz = ZoneInfo(e.patient.timezone)
        fill = dict(initials=_initials(e.patient))
        place = place_words(e.facility, e.facility_address, definition.revealing_words, detailed=False)
        start = e.procedure_at.astimezone(tz)
        cal.add_component(_event(
            env, e, uid=_uid("staff", e, "procedure"), start=start,
            end=(e.procedure_at + timedelta(minutes=e.duration_minutes)).astimezone(tz),
            summary=text["staff_procedure"].format(**fill), description="", location=place,
            modified=_modified(e.created_at, e.moved_at), cancelled_prefix=text["cancelled"]))
        for kind, at in _visits(e):
            length = w.follow_up if kind == AppointmentKind.FOLLOW_UP else w.pt_start
            appt = e.appointment(kind)
            cal.add_component(_event(
                env, e, uid=_uid("staff", e, kind), start=at.astimezone(tz), end=(at + length).astimezone(tz),
                summary=text[f"staff_{kind}"].format(**fill), description="", location="",
                modified=_modified(e.created_at, appt.booked_at if appt else None),
                cancelled_prefix=text["cancelled"]))
    _add_zones(cal, [e.procedure_at for e in episodes])
    return cal


def _add_zones(cal: Calendar, instants: Sequence[datetime]) -> None:
    """A VTIMEZONE for every TZID the events use, covering their years (not 1970-2038)."""
    if not instants:
        return
    first, last = min(instants).date(), max(instants).date()
    cal.add_missing_timezones(first_date=date(first.year - 1, 1, 1), last_date=date(last.year + 2, 1, 1))
