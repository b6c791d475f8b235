"""Use cases about patients: enrolment, consent, preferences, opting out and back in."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import NumberParseException
from sqlalchemy import and_, func, select, union_all, update
from sqlalchemy.orm import Session

from pathway.models import Episode, Message, Patient
from pathway.schemas.fields import Context
from pathway.schemas.inputs import ConsentIn, PatientIn, PatientUpdateIn
from pathway.schemas.vocab import CONSENT_METHODS
from pathway.services import episodes as ep
from pathway.services import outbox, outcomes, tasks
from pathway.services.base import Actor, Env, audit, check_version, get_or_404, read_input
from pathway.services.calendar import issue_patient_link
from pathway.services.planning import add_message, apply_diff, compute_diff, current_plan, episode_messages, render
from pathway.timeline import HoldPlanInput, PlanDiff, PlannedMessage
from pathway.timeline.holds import HoldAtRisk, compute_hold, hold_at_risk
from pathway.timeline.vocabulary import CARE_TEAM, NOTICE_KINDS, ConsentMethod, EpisodeStatus

__all__ = ["CONSENT_METHODS", "Found", "PatientList", "PatientUpdate", "TextChange", "enrol_patient", "find", "fold",
           "opt_in", "opt_out", "queue_enrolment_text", "record_consent", "search_patients", "set_names",
           "suppress_pending", "update_patient"]


def enrol_patient(session: Session, env: Env, actor: Actor, data: Mapping[str, Any] | PatientIn) -> Patient:
    """Enrol a patient; with consent, queue the enrolment text (clinic name, STOP/HELP)."""
    actor.require(*CARE_TEAM)
    given = read_input(PatientIn, data, Context(
        now=env.now, default_zone=env.rules.clinic.timezone,
        mrn_taken=lambda mrn: session.scalar(select(Patient.id).where(Patient.mrn == mrn)) is not None))
    consent = given.sms_consent
    patient = Patient(
        mrn=given.mrn,
        birth_date=given.birth_date,
        phone=given.phone,
        timezone=given.timezone,
        language=given.language,
        detailed_texts=given.detailed_texts,
        sms_consent_at=env.now if consent else None,
        sms_consent_method=given.consent_method,
        sms_consent_by_id=actor.user_id if consent else None,
        created_at=env.now,
    )
    set_names(patient, given.given_name, given.family_name)
    session.add(patient)
    session.flush()
    # The private calendar, from enrolment; its row goes in with the next flush (one flush fewer
    # per patient, which `pathway import schedule` does 10,000 times).
    issue_patient_link(session, env, actor, patient, flush=False)
    audit(session, env, actor, "patient.enrol", "patient", patient.id, patient_id=patient.id,
          detail={"sms_consent": consent, "language": given.language})
    if consent:
        queue_enrolment_text(session, env, patient)
    return patient


def queue_enrolment_text(session: Session, env: Env, patient: Patient, *, reason: str = "consent recorded",
                         nominal: datetime | None = None) -> int:
    """Queue the enrolment text; returns its id. ``nominal``: the moment the text is for
    (default: the consent; a new number: the edit)."""
    assert patient.sms_consent_at is not None
    nominal = nominal or patient.sms_consent_at
    planned = PlannedMessage(
        kind="enrolment",
        milestone_key=None,
        nominal_at=nominal,
        send_at=env.rules.quiet.next_allowed(env.now, ZoneInfo(patient.timezone)),
        context={},
    )
    return add_message(session, env, patient, planned, episode=None, milestone=None, reason=reason)


def record_consent(session: Session, env: Env, actor: Actor, patient_id: Any, method: str,
                   *, version: Any = None) -> Patient:
    """Record consent to texts (and queue the enrolment text). ``version``: the patient's version
    the page was made from (a stale one is a 409 ``StaleVersion``)."""
    actor.require(*CARE_TEAM)
    consent = read_input(ConsentIn, {"consent_method": method})
    patient: Patient = get_or_404(session, Patient, patient_id, "patient", lock=True)
    check_version(patient, {"version": version}, "patient")
    _give_consent(session, env, actor, patient, consent.consent_method)
    audit(session, env, actor, "patient.consent", "patient", patient.id, patient_id=patient.id,
          detail={"method": consent.consent_method})
    return patient


def _give_consent(session: Session, env: Env, actor: Actor, patient: Patient, method: str) -> None:
    """Consent recorded by staff: it also ends an opt-out, and the enrolment text is queued."""
    patient.sms_consent_at = env.now
    patient.sms_consent_method = method
    patient.sms_consent_by_id = actor.user_id
    patient.opted_out_at = None
    patient.opted_out_via = None
    queue_enrolment_text(session, env, patient)


def opt_out(session: Session, env: Env, actor: Actor, patient: Patient, via: str) -> int:
    """Stop all texts to a patient at once; returns how many pending texts were suppressed."""
    if patient.opted_out_at is None:
        patient.opted_out_at = env.now
        patient.opted_out_via = via
    n = suppress_pending(session, env, patient, f"patient opted out ({via})", actor)
    audit(session, env, actor, "patient.opt_out", "patient", patient.id, patient_id=patient.id,
          detail={"via": via, "suppressed": n})
    return n


def opt_in(session: Session, env: Env, actor: Actor, patient: Patient, via: str) -> None:
    patient.opted_out_at = None
    patient.opted_out_via = None
    if patient.sms_consent_at is None:
        patient.sms_consent_at = env.now
        patient.sms_consent_method = "text"
    audit(session, env, actor, "patient.opt_in", "patient", patient.id, patient_id=patient.id, detail={"via": via})


def suppress_pending(session: Session, env: Env, patient: Patient, reason: str, actor: Actor) -> int:
    """Suppress every text still waiting for this patient; one statement, so none slips through."""
    return len(outbox.record_where(session, outbox.Suppressed(reason), expect="scheduled",
                                   where=Message.patient_id == patient.id, now=env.now, source="user",
                                   actor=actor.label))


# --- names and the patient search (issue 15) ------------------------------------------------

# A search reads at most this many words (a name of more is read by its first ones).
MAX_QUERY_WORDS = 6
# The patients the search page opens on: a procedure within this many days ago, or ahead.
ACTIVE_DAYS = 30
# Characters dropped from a name rather than read as a space: "O'Brien" is "obrien".
_JOINERS = "'\u2019`"
# The top of Unicode: a key that starts with a prefix sorts at or after it and before this after it.
_TOP = chr(0x10FFFF)
_PHONE_CHARS = frozenset("0123456789+()-. /")

# Why a patient is in the list (schemas.vocab.PATIENT_MATCHES), in words a coordinator reads.
MATCH_WORDS = {
    "active": "procedure in the last 30 days or ahead",
    "mrn": "MRN",
    "phone": "mobile phone",
    "family_given": "family name and given name",
    "family": "family name",
    "given": "given name",
}


def fold(text: str | None) -> str:
    """A name as the search compares it: no accents, lower case, words split by one space
    ("José  García-López" -> "jose garcia lopez", "O'Brien" -> "obrien")."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    kept = "".join(c if c.isalnum() else ("" if c in _JOINERS else " ") for c in bare)
    return " ".join(kept.split())[:120]


def set_names(patient: Patient, given_name: str, family_name: str) -> None:
    """The one writer of a patient's names: it writes the search keys with them."""
    patient.given_name, patient.family_name = given_name, family_name
    patient.search_given, patient.search_family = fold(given_name), fold(family_name)


@dataclass(frozen=True)
class Found:
    """A patient in a list, why they are in it, and their procedure within the active days."""

    patient: Patient
    matched: str  # a key of MATCH_WORDS
    procedure_at: datetime | None = None

    @property
    def matched_words(self) -> str:
        return MATCH_WORDS[self.matched]


@dataclass(frozen=True)
class PatientList:
    """A page of patients: the active ones (no query) or those a query found."""

    rows: list[Found]
    query: str
    total: int
    limit: int
    offset: int

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.rows) < self.total


def _phone_of(query: str) -> str | None:
    """The query as an E.164 number, if it is written as a phone number is (digits, +, (), -, .)."""
    digits = sum(c.isdigit() for c in query)
    if digits < 7 or not set(query) <= _PHONE_CHARS:
        return None
    try:
        number = phonenumbers.parse(query, "US")
    except NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _starts(column: Any, prefix: str) -> Any:
    """``column`` starts with ``prefix``, as one range an index answers (the keys compare bytewise)."""
    return and_(column >= prefix, column < prefix + _TOP)


def _name_forms(query: str) -> list[tuple[str, str]]:
    """(family prefix, given prefix) pairs the query may mean; "" means any.

    "Ruiz, Ana" is family then given. Without a comma the words may be family then given, given
    then family, or one name alone, split anywhere ("de la Cruz Ana" is family "de la cruz")."""
    if "," in query:
        family, _, given = query.partition(",")
        return [(fold(family), fold(given))] if fold(family) else ([("", fold(given))] if fold(given) else [])
    words = fold(query).split()[:MAX_QUERY_WORDS]
    forms: list[tuple[str, str]] = []
    for i in range(1, len(words) + 1):
        forms.append((" ".join(words[:i]), " ".join(words[i:])))  # family first (all: family alone)
        forms.append((" ".join(words[i:]), " ".join(words[:i])))  # given first (all: given alone)
    return list(dict.fromkeys(forms))


def _form_matches(patient: Patient, family: str, given: str) -> bool:
    return patient.search_family.startswith(family) and patient.search_given.startswith(given)


def _why(patient: Patient, query: str, phone: str | None, forms: list[tuple[str, str]]) -> str:
    if patient.mrn.casefold() == query.casefold():
        return "mrn"
    if phone is not None and patient.phone == phone:
        return "phone"
    hits = [(f, g) for f, g in forms if _form_matches(patient, f, g)]
    if any(f and g for f, g in hits):
        return "family_given"
    return "family" if any(f for f, _ in hits) else "given"


def search_patients(session: Session, query: str, *, limit: int = 50) -> list[Patient]:
    """The patients a query finds (``find``), first page."""
    return [f.patient for f in find(session, query, limit=limit).rows]


def find(session: Session, query: str, *, limit: int = 50, offset: int = 0,
         now: datetime | None = None) -> PatientList:
    """Patients by name, MRN or mobile phone, one page, by family then given name.

    - a name in any case, with or without accents: "Ana Ruiz", "Ruiz Ana", "Ruiz, Ana", "ruiz",
      a start of each ("ru an"); hyphens and spaces alike, apostrophes dropped;
    - an MRN in any case;
    - a mobile number as people write it: "(646) 555-0100", "646.555.0100", "+1 646 555 0100".
    Without a query (and with ``now``): the active patients, whose procedure (not cancelled) is
    within the last ``ACTIVE_DAYS`` days or ahead, with that procedure (the earliest such).
    """
    q = (query or "").strip()
    if not q:
        return _active(session, now, limit=limit, offset=offset)
    phone = _phone_of(q)
    forms = _name_forms(q)
    conditions: list[Any] = [Patient.mrn.in_({q, q.upper(), q.lower()})]
    if any(c.isdigit() for c in q) and not any(c.isspace() for c in q) and session.scalar(
            select(Patient.id).where(conditions[0]).limit(1)) is None:
        # An MRN stored in mixed case ("Ab12") typed in another mix: compared folded, which reads
        # the whole table, so only for a one-word query with a digit that the index did not find.
        conditions.append(func.lower(Patient.mrn) == q.lower())
    if phone is not None:
        conditions.append(Patient.phone == phone)
    for family, given in forms:
        parts = [_starts(Patient.search_family, family) if family else None,
                 _starts(Patient.search_given, given) if given else None]
        conditions.append(and_(*(p for p in parts if p is not None)))
    # Each way of matching is one range on an index that holds both names (no table read); their
    # union is sorted here. One statement ORed and ordered by name lets a planner walk the whole
    # name index in order instead (SQLite did, at 100,000 patients).
    keyed = select(Patient.id, Patient.search_family, Patient.search_given)
    matches = sorted({(f, g, pid) for pid, f, g in session.execute(union_all(*(keyed.where(c) for c in conditions)))})
    ids = [pid for _, _, pid in matches[offset:offset + limit]]
    by_id = {p.id: p for p in session.scalars(select(Patient).where(Patient.id.in_(ids)))} if ids else {}
    return PatientList([Found(by_id[i], _why(by_id[i], q, phone, forms)) for i in ids], q, len(matches), limit,
                       offset)


def _active(session: Session, now: datetime | None, *, limit: int, offset: int) -> PatientList:
    """The active patients, in steps: their earliest procedure in the active days (the episodes'
    procedure index: a clinic's few hundred), their names by id, sorted here, then the page's
    patients. One join ordered by name read the patients' name index in full to find those few."""
    if now is None:
        return PatientList([], "", 0, limit, offset)
    cutoff = now - timedelta(days=ACTIVE_DAYS)
    procedures: dict[int, datetime] = {}
    # Not GROUP BY in SQL: SQLite then walks the episodes' patient index in full for the grouping.
    for pid, at in session.execute(select(Episode.patient_id, Episode.procedure_at)
                                   .where(Episode.procedure_at >= cutoff, Episode.status != EpisodeStatus.CANCELLED)):
        if pid not in procedures or at < procedures[pid]:
            procedures[pid] = at
    if not procedures:
        return PatientList([], "", 0, limit, offset)
    # Sorted here too: ordered by name with LIMIT, PostgreSQL walked the name index filtering ids.
    keyed = select(Patient.id, Patient.search_family, Patient.search_given).where(Patient.id.in_(list(procedures)))
    ids = [pid for _, _, pid in sorted((f, g, pid) for pid, f, g in session.execute(keyed))[offset:offset + limit]]
    by_id = {p.id: p for p in session.scalars(select(Patient).where(Patient.id.in_(ids)))} if ids else {}
    return PatientList([Found(by_id[i], "active", procedures[i]) for i in ids], "", len(procedures), limit, offset)


# --- editing a patient (issue 10, "Editing after saving": the patient half) -------------------

# Edits that change when or how the patient's texts read: the open episodes are re-planned.
REPLAN_FIELDS = frozenset({"timezone", "language", "detailed_texts"})
# Who withdrew consent, in the opt-out's "via" (the worklist and the dispatcher show it).
WITHDRAWN_VIA = "consent withdrawn (staff)"


@dataclass(frozen=True)
class TextChange:
    """A text not yet sent that an edit changes: moved, re-worded, stopped or added.

    ``before_*`` is None for a text the edit adds, ``after_*`` None for one it stops; the
    times are UTC instants (the page and the answer show each in its zone: before in the
    patient's zone before the edit, after in the zone after it)."""

    message_id: int | None
    episode_id: int | None
    kind: str
    before_at: datetime | None
    before_body: str | None
    after_at: datetime | None
    after_body: str | None


@dataclass(frozen=True)
class PatientUpdate:
    """An edit of a patient (or its preview): what changed and what it did to the texts."""

    patient: Patient
    applied: bool
    fields: tuple[str, ...]  # the fields whose value changed, in the model's order
    timezone_before: str
    timezone_after: str  # a preview's patient is read back unchanged: the zone the edit would set
    diffs: tuple[tuple[Episode, PlanDiff], ...]  # each open episode whose plan the edit changed
    texts: tuple[TextChange, ...]
    suppressed: int  # texts not yet sent that consent withdrawn stops
    enrolment_text: bool  # an enrolment text (clinic name, STOP/HELP) was queued
    # Signed holds whose last-dose day the new zone changes (each with its hold id): applying
    # needs confirm_holds_at_risk; each then loses its signature and goes on the worklist.
    holds_at_risk: tuple[tuple[int, HoldAtRisk], ...] = ()


def consenting(patient: Patient) -> bool:
    """The consent as an edit sees it: recorded, and not ended by an opt-out."""
    return patient.sms_consent_at is not None and patient.opted_out_at is None


def update_patient(
    session: Session, env: Env, actor: Actor, patient_id: Any, data: Mapping[str, Any] | PatientUpdateIn,
    *, preview: bool = False,
) -> PatientUpdate:
    """Change some of a patient's details; only the fields sent change, each re-planning what it affects.

    - ``timezone``: every open (not cancelled) episode is re-planned: texts not yet sent move to
      the same local time in the new zone (send times are patient-local); a text tied to a
      moment (72 hours after the procedure) keeps it, out of the new zone's quiet hours.
    - ``language``, ``detailed_texts``: the open episodes are re-planned and every text not yet
      sent is re-worded (the enrolment text too).
    - ``phone``: texts not yet sent go to the new number; the flag a refused number left is
      cleared; if the patient may be texted, the new number gets the enrolment text (the
      clinic's name, "Reply STOP to opt out, HELP for help") before anything else, as carriers
      expect for a number that never had it, unless one is still waiting to be sent.
    - ``sms_consent``: true records consent (as ``record_consent``); false withdraws it: every
      text not yet sent is suppressed, as on an opt-out, recorded as staff's.
    - names: stored, nothing else.

    A new zone keeps the procedure's instant, so a day-based hold's last-dose day may become
    another day (Guam to New York: Tuesday becomes Monday). A signature is for one plan: such
    an edit is refused (409, ``episodes.HoldsAtRisk``) unless ``confirm_holds_at_risk``; when
    confirmed, each such hold loses its signature and goes on the worklist, as on a move.

    With ``preview`` the same change runs in a savepoint that is rolled back: the answer says
    what would change and nothing is stored but an audit row (it shows the patient's plan).
    One audit row per edit, naming the changed fields, never their values.
    """
    actor.require(*CARE_TEAM)
    patient: Patient = get_or_404(session, Patient, patient_id, "patient", lock=not preview)
    check_version(patient, data, "patient")
    given = read_input(PatientUpdateIn, data, Context(now=env.now))
    changes = _changes(patient, given)
    risks = _zone_risks(env, patient, changes["timezone"]) if "timezone" in changes else ()
    risk_detail = [{"hold_id": hid, "last_dose_on": r.last_dose_on.isoformat(), "problem": r.problem}
                   for hid, r in risks]
    if preview:
        with session.begin_nested() as sp:
            result = _apply(session, env, actor, patient, changes, applied=False, risks=risks)
            sp.rollback()
        session.expire_all()  # what the savepoint changed is gone: read it again when asked
        audit(session, env, actor, "patient.update_preview", "patient", patient.id, patient_id=patient.id,
              detail={"fields": list(result.fields), "holds_at_risk": risk_detail})
        return result
    if risks and not given.confirm_holds_at_risk:
        audit(session, env, actor, "patient.update_refused", "patient", patient.id, patient_id=patient.id,
              detail={"fields": sorted(changes), "holds_at_risk": risk_detail})
        raise ep.HoldsAtRisk(risks, (
            f"the new time zone changes the signed last-dose day of {len(risks)} hold(s): each must be answered "
            "and signed again before the procedure; send confirm_holds_at_risk: true to change the zone anyway"))
    result = _apply(session, env, actor, patient, changes, applied=True, risks=risks)
    audit(session, env, actor, "patient.update", "patient", patient.id, patient_id=patient.id,
          detail={"fields": list(result.fields), "episodes_replanned": [e.id for e, _ in result.diffs],
                  "texts_changed": len(result.texts), "suppressed": result.suppressed,
                  "enrolment_text": result.enrolment_text, "holds_at_risk": risk_detail})
    return result


def _open_episodes(patient: Patient) -> list[Episode]:
    return [e for e in patient.episodes if e.status != EpisodeStatus.CANCELLED]


def _zone_risks(env: Env, patient: Patient, zone: str) -> tuple[tuple[int, HoldAtRisk], ...]:
    """Signed holds whose last dose the new zone changes, checked before anything changes: the
    procedure keeps its instant, so a day-based hold's last-dose day is recomputed in the new
    zone (an hour-based hold's instant is the same in every zone)."""
    tz = ZoneInfo(zone)
    found: list[tuple[int, HoldAtRisk]] = []
    for episode in _open_episodes(patient):
        if episode.ended_at is not None:
            continue
        for hold in episode.holds:
            if hold.signed_at is None or hold.clearance in ep.NO_STOP or not hold.has_plan:
                continue
            plan = HoldPlanInput(hold.stop_days, hold.stop_hours, hold.restart_hours)
            duration = timedelta(minutes=episode.duration_minutes)
            new = compute_hold(plan, procedure_at=episode.procedure_at, tz=tz, duration=duration)
            if not new.computed or (new.last_dose_on, new.last_dose_at) == (hold.last_dose_on, hold.last_dose_at):
                continue
            signed = hold.last_dose_at if hold.last_dose_at is not None else hold.last_dose_on
            risk = hold_at_risk(hold.ref, hold.drug_name, plan, signed_last_dose=signed,
                                procedure_at=episode.procedure_at, tz=tz, duration=duration, now=env.now)
            day = new.last_dose_day(tz)
            assert day is not None  # computed
            found.append((hold.id, risk or HoldAtRisk(hold.ref, hold.drug_name, day, "last_dose_day_changed")))
    return tuple(found)


def _changes(patient: Patient, given: PatientUpdateIn) -> dict[str, Any]:
    """The sent fields whose value differs from the stored one (consent: from ``consenting``)."""
    changes: dict[str, Any] = {}
    for name in PatientUpdateIn.model_fields:
        if name not in given.model_fields_set or name in ("consent_method", "confirm_holds_at_risk"):
            continue
        value = getattr(given, name)
        stored = consenting(patient) if name == "sms_consent" else getattr(patient, name)
        if value != stored:
            changes[name] = value
    if changes.get("sms_consent"):
        changes["consent_method"] = given.consent_method or ConsentMethod.VERBAL  # as at enrolment
    return changes


def _pending(session: Session, patient: Patient) -> dict[int, Message]:
    return {m.id: m for m in session.scalars(
        select(Message).where(Message.patient_id == patient.id, Message.status == "scheduled"))}


def _apply(
    session: Session, env: Env, actor: Actor, patient: Patient, changes: dict[str, Any], *, applied: bool,
    risks: tuple[tuple[int, HoldAtRisk], ...] = (),
) -> PatientUpdate:
    zone_before = patient.timezone
    before = {i: (m.episode_id, m.kind, m.plan_key, m.send_at, m.body) for i, m in _pending(session, patient).items()}
    if "given_name" in changes or "family_name" in changes:
        set_names(patient, changes.get("given_name", patient.given_name),
                  changes.get("family_name", patient.family_name))
    for name in ("phone", "timezone", "language", "detailed_texts"):
        if name in changes:
            setattr(patient, name, changes[name])
    if "phone" in changes:  # a new number has not been refused (yet)
        patient.phone_flagged_at = None
        patient.phone_flag_reason = None
    session.flush()
    # A signature is for one plan: a hold whose last-dose day the zone moves is unsigned before the
    # re-plan, so no stop text goes until it is signed again (the preview shows that too).
    holds = {h.id: (e, h) for e in _open_episodes(patient) for h in e.holds}
    for hold_id, risk in risks:
        episode, hold = holds[hold_id]
        ep._unsign(env, episode, hold, risk, why="the patient's time zone changed")
        if applied:
            tasks.open_task(session, env, "hold_at_risk", f"hold:{hold_id}",
                            f"Patient's time zone changed: {ep.RISK_WORDS[risk.problem]} (new last dose "
                            f"{risk.last_dose_on.strftime('%a %b %d')}). Get the prescriber's answer and sign again.",
                            patient_id=patient.id, episode_id=episode.id)
    diffs: list[tuple[Episode, PlanDiff]] = []
    if REPLAN_FIELDS & changes.keys():
        reason = "patient's " + " and ".join(n.replace("_", " ") for n in sorted(REPLAN_FIELDS & changes.keys()))
        for episode in _open_episodes(patient):
            diff = compute_diff(session, env, episode)  # moves and re-wordings (PlanDiff.reworded)
            if not diff.is_empty:
                apply_diff(session, env, actor, episode, diff, f"{reason} changed")
                diffs.append((episode, diff))
            if "timezone" in changes:
                _requiet(session, env, episode)
        _reword_enrolment(session, env, patient, requiet="timezone" in changes)
        outcomes.reword_waiting(session, env, patient)
        if "timezone" in changes:
            _requiet_notices(session, env, patient)
    suppressed, enrolment = 0, False
    if changes.get("sms_consent") is False:
        patient.sms_consent_at = patient.sms_consent_method = patient.sms_consent_by_id = None
        patient.opted_out_at, patient.opted_out_via = env.now, WITHDRAWN_VIA
        suppressed = suppress_pending(session, env, patient, "consent withdrawn", actor)
    elif changes.get("sms_consent"):
        _give_consent(session, env, actor, patient, changes["consent_method"])
        enrolment = True
    elif "phone" in changes and patient.can_text and not any(
            m.kind == "enrolment" for m in _pending(session, patient).values()):
        queue_enrolment_text(session, env, patient, reason="new number", nominal=env.now)
        enrolment = True
    session.flush()
    fields = tuple(n for n in PatientUpdateIn.model_fields if n in changes)
    return PatientUpdate(patient, applied, fields, zone_before, patient.timezone, tuple(diffs),
                         _text_changes(before, _pending(session, patient)), suppressed, enrolment, risks)


def _requiet(session: Session, env: Env, episode: Episode) -> None:
    """Texts the re-plan kept (same rule, same moment: 72 hours after the procedure) but whose
    send time quiet hours shift differently in the new zone: 08:00 in New York is 07:00 in
    Chicago, before quiet hours end there. The re-plan matches texts by their moment, not their
    send time, so the shift is written here; only while the text is still scheduled."""
    planned = {m.plan_key: m for m in current_plan(env, episode).messages}
    for msg in episode_messages(session, episode):
        pm = planned.get(msg.plan_key)
        if msg.status == "scheduled" and pm is not None and pm.send_at != msg.send_at:
            _set_send_at(session, msg, pm.send_at)


def _requiet_notices(session: Session, env: Env, patient: Patient) -> None:
    """A date-change or cancellation notice still waiting is in no plan, so `_requiet` does not
    see it (nor a cancelled episode's); it was timed for the old zone's morning, which can be
    the middle of the night in the new one."""
    tz = ZoneInfo(patient.timezone)
    for msg in _pending(session, patient).values():
        if msg.kind in NOTICE_KINDS:
            allowed = env.rules.quiet.next_allowed(msg.send_at, tz)
            if allowed != msg.send_at:
                _set_send_at(session, msg, allowed)


def _set_send_at(session: Session, msg: Message, send_at: datetime) -> None:
    session.execute(update(Message).where(Message.id == msg.id, Message.status == "scheduled")
                    .values(send_at=send_at).execution_options(synchronize_session="fetch"))


def _reword_enrolment(session: Session, env: Env, patient: Patient, *, requiet: bool) -> None:
    """An enrolment text still waiting is re-worded in the patient's language (it is in no plan),
    and, after a new zone, kept out of that zone's quiet hours."""
    for msg in _pending(session, patient).values():
        if msg.kind == "enrolment" and msg.episode_id is None:
            planned = PlannedMessage(kind="enrolment", milestone_key=None, nominal_at=msg.send_at,
                                     send_at=msg.send_at, context={})
            body = render(env, patient, planned)
            session.execute(update(Message).where(Message.id == msg.id, Message.status == "scheduled")
                            .values(body=body, language=patient.language)
                            .execution_options(synchronize_session="fetch"))
            if requiet:
                _set_send_at(session, msg, env.rules.quiet.next_allowed(msg.send_at, ZoneInfo(patient.timezone)))


def _text_changes(before: dict[int, tuple[Any, ...]], after: dict[int, Message]) -> tuple[TextChange, ...]:
    """Pending texts before and after: changed in place, stopped, or replaced by a text of the
    same kind and hold in the same episode (a move: its plan key differs only in the minute)."""
    def stem(plan_key: str | None) -> str:
        return (plan_key or "").rsplit(":", 1)[0]

    added = {i: m for i, m in after.items() if i not in before}
    out: list[TextChange] = []
    for i, (episode_id, kind, plan_key, at, body) in before.items():
        now = after.get(i)
        if now is not None:
            if (now.send_at, now.body) != (at, body):
                out.append(TextChange(i, episode_id, kind, at, body, now.send_at, now.body))
            continue
        twin = next((m for m in added.values() if m.episode_id == episode_id and m.kind == kind
                     and stem(m.plan_key) == stem(plan_key)), None)
        if twin is not None:
            del added[twin.id]
        out.append(TextChange(i, episode_id, kind, at, body, twin.send_at if twin else None,
                              twin.body if twin else None))
    out.extend(TextChange(None, m.episode_id, m.kind, None, None, m.send_at, m.body) for m in added.values())
    out.sort(key=lambda t: (t.after_at or t.before_at or datetime.max.replace(tzinfo=UTC), t.kind))
    return tuple(out)
