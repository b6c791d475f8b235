"""Importing the schedule (issue 14): a CSV file of patients and their procedures.

A practice's scheduling system exports one row per procedure::

    mrn,given_name,family_name,birth_date,phone,timezone,language,sms_consent,procedure_at,facility,proceduralist,levels,drugs

``drugs`` lists the medicines to hold, separated by ``;`` (brand names and common misspellings
are resolved by the catalogue, as on the scheduling form). Each row is read with the same input
models the API and the pages use (``PatientIn``, ``EpisodeIn``), then applied with the same use
cases (``enrol_patient``, ``schedule_episode``, ``reschedule``), so an import accepts and refuses
exactly what typing the row in would.

What a row does, decided from the record (by MRN):

- ``new patient``: the MRN is not enrolled: the patient is enrolled and the episode scheduled.
- ``new episode``: the patient has no open episode (none, or only cancelled or ended ones).
- ``unchanged``: the patient's open episode is at this time with these details: nothing to do,
  so importing the same file twice changes nothing the second time.
- ``details changed``: same time, another facility, proceduralist or levels: the episode's
  details are edited (as a PATCH of the episode).
- ``reschedule``: another time: the open episode is moved through the normal re-planning.
- ``needs confirmation``: the move breaks a signed hold, or comes after a hold's last dose. An
  import never applies that silently: the row is reported (with each hold and its problem) and
  nothing in the file is stored, unless the import is confirmed (``confirm_holds_at_risk``),
  which applies it exactly as a confirmed move on the episode page does (each broken hold is
  unsigned and goes on the worklist; a postponement after a last dose puts a call on it).

For an enrolled MRN the patient's own details are not edited by an import (a new phone or zone
is an edit of the patient, with its own re-planning and checks): a birth date that differs from
the record is an error (the MRN may be the wrong person's); other differences, and drugs that
differ from the episode's holds, are noted on the row and left as they are.

Every row is checked before anything is stored, and the whole file is applied in one savepoint:
if any row is bad (or needs confirmation), nothing is stored. A dry run tries each change to a
stored episode the same way and rolls it back, so its report is what the import would do.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from pathway.models import Episode, Patient
from pathway.schemas.fields import Context
from pathway.schemas.inputs import EpisodeIn, PatientIn
from pathway.services import episodes as ep
from pathway.services.base import (
    Actor,
    Env,
    NotFound,
    ServiceError,
    ValidationError,
    audit,
    audit_batch,
    read_input,
)
from pathway.services.patients import enrol_patient
from pathway.services.users import find_user
from pathway.timeline import AmbiguousDrug
from pathway.timeline.vocabulary import CARE_TEAM, EpisodeStatus

# The columns, exactly (any order); the first line of the file names them.
COLUMNS = ("mrn", "given_name", "family_name", "birth_date", "phone", "timezone", "language", "sms_consent",
           "procedure_at", "facility", "proceduralist", "levels", "drugs")
PATIENT_COLUMNS = ("mrn", "given_name", "family_name", "birth_date", "phone", "timezone", "language",
                   "sms_consent")
DETAIL_COLUMNS = ("facility", "proceduralist", "levels")
DRUG_SEPARATOR = ";"

NEW_PATIENT = "new patient"
NEW_EPISODE = "new episode"
RESCHEDULE = "reschedule"
DETAILS_CHANGED = "details changed"
UNCHANGED = "unchanged"
NEEDS_CONFIRMATION = "needs confirmation"
ACTIONS = (NEW_PATIENT, NEW_EPISODE, RESCHEDULE, DETAILS_CHANGED, UNCHANGED, NEEDS_CONFIRMATION)

# How many MRNs one look-up asks for (well under every database's parameter limit).
_LOOKUP_CHUNK = 500

# Called as rows are checked and then stored: (stage, rows done since the last call).
Progress = Callable[[str, int], None]
CHECKING = "checking"
STORING = "storing"


@dataclass(frozen=True)
class Problem:
    """A bad row: its line in the file (the header is line 1), the column and what to fix."""

    line: int
    column: str
    message: str
    mrn: str = ""  # the row's MRN as written, when it has one


@dataclass(frozen=True)
class RowResult:
    """What a row does (or would do, or would have done had the file been accepted)."""

    line: int
    mrn: str
    action: str
    procedure_at: datetime | None = None  # the row's time (UTC)
    procedure_at_before: datetime | None = None  # a reschedule's old time
    timezone: str | None = None  # the patient's zone, to show the times in
    notes: tuple[str, ...] = ()
    patient_id: int | None = None  # set once stored
    episode_id: int | None = None


@dataclass(frozen=True)
class ParsedFile:
    """A CSV file read: its rows (line number, values by column) and any problem with its shape."""

    rows: tuple[tuple[int, dict[str, str]], ...]
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class ImportReport:
    rows: tuple[RowResult, ...]
    problems: tuple[Problem, ...]
    dry_run: bool
    applied: bool  # True when the file was stored

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(ACTIONS, 0)
        for row in self.rows:
            out[row.action] += 1
        return out

    def lines(self) -> list[tuple[int, RowResult | None, list[Problem]]]:
        """Every line the report is about, in file order: what the row does (None when it was
        refused before it could be decided) and its problems."""
        bad = self.problems_by_line()
        rows = {r.line: r for r in self.rows}
        return [(line, rows.get(line), bad.get(line, [])) for line in sorted({*rows, *bad})]

    def problems_by_line(self) -> dict[int, list[Problem]]:
        out: dict[int, list[Problem]] = {}
        for p in self.problems:
            out.setdefault(p.line, []).append(p)
        return out


# --- reading the file ----------------------------------------------------------------------


def parse_file(data: bytes | str) -> ParsedFile:
    """The rows of a CSV file (UTF-8, a byte-order mark allowed), each with the line it starts on.

    The header must name exactly ``COLUMNS`` (any order, any case and surrounding spaces):
    an unknown, missing or repeated column is a problem on line 1. Blank lines are skipped."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return ParsedFile((), (Problem(1, "file", f"is not UTF-8 text (byte {exc.start + 1}); "
                                                     "save it as CSV UTF-8 and import it again"),))
    elif data.startswith("\ufeff"):
        data = data[1:]
    reader = csv.reader(io.StringIO(data, newline=""))
    last = 0
    header: list[str] | None = None
    rows: list[tuple[int, dict[str, str]]] = []
    problems: list[Problem] = []
    try:
        for fields in reader:
            line, last = last + 1, reader.line_num
            if not any(f.strip() for f in fields):
                continue
            if header is None:
                header = [f.strip().lower() for f in fields]
                problems.extend(_header_problems(header, line))
                if problems:
                    break
                continue
            if len(fields) != len(header):
                problems.append(Problem(line, "row", f"has {len(fields)} fields; the header has {len(header)} "
                                                     "(a comma inside a value must be in double quotes)"))
                continue
            rows.append((line, dict(zip(header, fields, strict=True))))
    except csv.Error as exc:
        problems.append(Problem(last + 1, "row", f"cannot be read as CSV: {exc}"))
    if header is None and not problems:
        problems.append(Problem(1, "file", f"is empty; the first line names the columns: {', '.join(COLUMNS)}"))
    return ParsedFile(tuple(rows), tuple(problems))


def _header_problems(header: list[str], line: int) -> Iterable[Problem]:
    seen: set[str] = set()
    for name in header:
        if name in seen:
            yield Problem(line, name or "header", "is listed twice")
        elif name not in COLUMNS:
            yield Problem(line, name or "header", f"unknown column; the columns are {', '.join(COLUMNS)}")
        seen.add(name)
    for name in COLUMNS:
        if name not in seen:
            yield Problem(line, name, "missing column")


def importer(session: Session, email: str) -> Actor:
    """The staff member an import from the command line is done as (``--by EMAIL``): an active
    coordinator or clinician, audited as ``user:<id>`` like a signed-in user."""
    user = find_user(session, email)
    if user is None or not user.active:
        raise NotFound(f"active staff account {email.strip()}")
    actor = Actor.for_user(user)
    actor.require(*CARE_TEAM)
    return actor


# --- checking and applying ------------------------------------------------------------------


@dataclass
class _Row:
    line: int
    values: dict[str, str]
    action: str
    patient_in: PatientIn | None = None
    episode_in: EpisodeIn | None = None
    patient: Patient | None = None
    episode: Episode | None = None
    changes: dict[str, Any] = field(default_factory=dict)  # a reschedule's or edit's fields
    before: datetime | None = None  # a reschedule's old time
    notes: list[str] = field(default_factory=list)

    @property
    def mrn(self) -> str:
        return self.values["mrn"].strip()


def import_schedule(
    session: Session, env: Env, actor: Actor, parsed: ParsedFile, *, dry_run: bool = False,
    confirm_holds_at_risk: bool = False, progress: Progress | None = None,
) -> ImportReport:
    """Check every row, then (when every row is good and this is not a dry run) store them all.

    Runs inside the caller's transaction and writes only inside a savepoint that is released
    when the file is stored and rolled back otherwise, so the caller commits either the whole
    file or nothing. Audited per change by the use cases, and once for the file."""
    actor.require(*CARE_TEAM)
    if parsed.problems:
        return ImportReport((), parsed.problems, dry_run, False)
    tick = progress or (lambda stage, n: None)
    known = _patients_by_mrn(session, [values.get("mrn", "").strip() for _, values in parsed.rows])
    problems: list[Problem] = []
    checked: list[_Row] = []
    first_line: dict[str, int] = {}
    for line, values in parsed.rows:
        row, bad = _check(env, line, values, known, first_line)
        problems.extend(replace(p, mrn=values["mrn"].strip()) for p in bad)
        if row is not None:
            checked.append(row)
        tick(CHECKING, 1)
    if problems:
        return ImportReport(tuple(_result(r) for r in checked), tuple(problems), dry_run, False)

    results: list[RowResult] = []
    savepoint = session.begin_nested()
    try:
        # The use cases' audit rows (20,000 for 10,000 new patients) go in as one write at the end.
        with audit_batch(session):
            for row in checked:
                # A new patient or episode was decided by the check (nothing in the record can refuse
                # it): a dry run tries only the changes to stored episodes, which the holds can refuse.
                if dry_run and row.action in (NEW_PATIENT, NEW_EPISODE):
                    results.append(_result(row))
                    tick(STORING, 1)
                    continue
                try:
                    _apply(session, env, actor, row, confirm_holds_at_risk)
                except ep.HoldsAtRisk as exc:
                    row.action = NEEDS_CONFIRMATION
                    problems.append(Problem(row.line, "procedure_at", _risk_message(exc), row.mrn))
                except ValidationError as exc:
                    problems.extend(Problem(row.line, _column(k), m, row.mrn) for k, m in exc.errors.items())
                except ServiceError as exc:
                    problems.append(Problem(row.line, "row", str(exc), row.mrn))
                results.append(_result(row, stored=not dry_run))
                tick(STORING, 1)
            store = not problems and not dry_run
            if store:
                counts = {a: 0 for a in ACTIONS}
                for r in results:
                    counts[r.action] += 1
                audit(session, env, actor, "schedule.import", "schedule", None,
                      detail={"rows": len(results), **{k.replace(" ", "_"): v for k, v in counts.items() if v}})
        if store:
            savepoint.commit()
        else:
            savepoint.rollback()
    except BaseException:
        if savepoint.is_active:
            savepoint.rollback()
        raise
    if not store:
        results = [RowResult(r.line, r.mrn, r.action, r.procedure_at, r.procedure_at_before, r.timezone, r.notes)
                   for r in results]
    return ImportReport(tuple(results), tuple(problems), dry_run, store)


def _patients_by_mrn(session: Session, mrns: list[str]) -> dict[str, Patient]:
    wanted = sorted({m for m in mrns if m})
    found: dict[str, Patient] = {}
    for i in range(0, len(wanted), _LOOKUP_CHUNK):
        chunk = wanted[i:i + _LOOKUP_CHUNK]
        stmt = (select(Patient).where(Patient.mrn.in_(chunk))
                .options(selectinload(Patient.episodes).selectinload(Episode.holds)))
        for p in session.scalars(stmt):
            found[p.mrn] = p
    return found


def _column(key: str) -> str:
    """The column a field's error belongs to (``holds[1].drug`` is the ``drugs`` column)."""
    if key.startswith("holds"):
        return "drugs"
    return key if key in COLUMNS else "row"


def _drug_list(raw: str) -> list[dict[str, str]]:
    return [{"drug": d.strip()} for d in raw.split(DRUG_SEPARATOR) if d.strip()]


def _check(env: Env, line: int, values: dict[str, str], known: Mapping[str, Patient],
           first_line: dict[str, int]) -> tuple[_Row | None, list[Problem]]:
    """Read one row with the API's models, and decide what it does. Nothing is written."""
    problems: list[Problem] = []
    patient_data = {c: values[c] for c in PATIENT_COLUMNS}
    mrn = values["mrn"].strip()
    if mrn and mrn in first_line:
        problems.append(Problem(line, "mrn", f"MRN {mrn} is also on line {first_line[mrn]}: "
                                             "give each patient one row"))
    elif mrn:
        first_line[mrn] = line
    patient = known.get(mrn)
    patient_in: PatientIn | None = None
    try:
        patient_in = read_input(PatientIn, patient_data, Context(now=env.now, default_zone=env.rules.clinic.timezone))
    except ValidationError as exc:
        problems.extend(Problem(line, _column(k), m) for k, m in exc.errors.items())
    # The patient's zone reads the procedure's wall time; with a bad zone the clinic's stands in,
    # so the row's other columns are still checked (the row is refused for its zone anyway).
    zone = (patient.timezone if patient is not None else patient_in.timezone if patient_in
            else env.rules.clinic.timezone)
    episode_data: dict[str, Any] = {c: values[c] for c in ("procedure_at", *DETAIL_COLUMNS)}
    episode_data["holds"] = _drug_list(values["drugs"])
    episode_in: EpisodeIn | None = None
    try:
        episode_in = read_input(EpisodeIn, episode_data, Context(now=env.now, tz=ZoneInfo(zone),
                                                                 catalogue=env.rules.catalogue))
    except ValidationError as exc:
        problems.extend(Problem(line, _column(k), _drug_message(k, m, episode_data))
                        for k, m in exc.errors.items())
    if patient is None:
        row = _Row(line, values, NEW_PATIENT, patient_in, episode_in)
        return (row if not problems else None), problems
    row = _Row(line, values, NEW_EPISODE, patient_in, episode_in, patient=patient)
    if patient_in is not None:
        if patient_in.birth_date != patient.birth_date:
            problems.append(Problem(line, "birth_date", f"differs from the birth date of the patient enrolled with "
                                                        f"MRN {mrn}: check the MRN"))
        differ = [c for c in PATIENT_COLUMNS if c not in ("mrn", "birth_date", "sms_consent")
                  and getattr(patient_in, c) != getattr(patient, c)]
        if patient_in.sms_consent != (patient.sms_consent_at is not None and patient.opted_out_at is None):
            differ.append("sms_consent")  # consent is recorded (or withdrawn) on the patient's page
        if differ:
            row.notes.append(f"{', '.join(differ)} differ{'s' if len(differ) == 1 else ''} from the patient's record "
                             "and were left as they are (edit the patient to change them)")
    if episode_in is None or problems:
        return None, problems
    open_episodes = [e for e in patient.episodes if e.status != EpisodeStatus.CANCELLED and e.ended_at is None]
    same = [e for e in open_episodes if e.procedure_at == episode_in.procedure_at]
    if not open_episodes:
        return row, problems
    if same:
        row.episode = same[0]
    elif len(open_episodes) == 1:
        row.episode = open_episodes[0]
        row.changes["procedure_at"] = episode_in.procedure_at
        row.before = row.episode.procedure_at
    else:
        problems.append(Problem(line, "procedure_at", f"the patient has {len(open_episodes)} open episodes, none at "
                                                      "this time: move the right one on its episode page"))
        return None, problems
    episode = row.episode
    row.changes.update({c: getattr(episode_in, c) for c in DETAIL_COLUMNS
                        if getattr(episode, c) != getattr(episode_in, c)})
    row.action = (RESCHEDULE if "procedure_at" in row.changes else DETAILS_CHANGED if row.changes else UNCHANGED)
    if _drug_keys(env, [h["drug"] for h in episode_data["holds"]]) != _drug_keys(env, [h.drug_key or h.drug_name
                                                                                      for h in episode.holds]):
        row.notes.append("the drugs differ from the episode's holds and were left as they are "
                         "(add or remove holds on the episode page)")
    return row, problems


def _drug_keys(env: Env, drugs: Iterable[str]) -> set[str]:
    keys = set()
    for d in drugs:
        try:
            found = env.rules.catalogue.find(d.lower())
        except AmbiguousDrug:
            found = None
        keys.add(found.key if found else d.strip().casefold())
    return keys


def _drug_message(key: str, message: str, data: Mapping[str, Any]) -> str:
    """A hold's error names the drug it is about (the column holds several)."""
    if not key.startswith("holds["):
        return message
    index = key[len("holds["):].partition("]")[0]
    holds = data["holds"]
    if index.isdigit() and int(index) < len(holds) and not message.startswith(holds[int(index)]["drug"]):
        return f"{holds[int(index)]['drug']}: {message}"
    return message


def _apply(session: Session, env: Env, actor: Actor, row: _Row, confirm: bool) -> None:
    if row.action == UNCHANGED:
        return
    assert row.episode_in is not None
    if row.action == NEW_PATIENT:
        assert row.patient_in is not None
        row.patient = enrol_patient(session, env, actor, row.patient_in)
    if row.action in (NEW_PATIENT, NEW_EPISODE):
        assert row.patient is not None
        row.episode = ep.schedule_episode(session, env, actor, row.patient.id, row.episode_in)
        return
    assert row.episode is not None
    data = dict(row.changes)
    if "procedure_at" in data:
        data["confirm_holds_at_risk"] = confirm
    ep.reschedule(session, env, actor, row.episode.id, data)


def _risk_message(exc: ep.HoldsAtRisk) -> str:
    holds = "; ".join(f"{risk.drug}: {ep.RISK_WORDS[risk.problem]} (last dose "
                      f"{risk.last_dose_on.isoformat()})" for _, risk in exc.risks)
    return (f"needs a coordinator's confirmation: {holds}. Nothing was imported; move it on the episode page, "
            "or import again confirming the holds at risk")


def _result(row: _Row, *, stored: bool = False) -> RowResult:
    episode_in, episode, patient = row.episode_in, row.episode, row.patient
    zone = patient.timezone if patient is not None else (row.patient_in.timezone if row.patient_in else None)
    return RowResult(
        line=row.line, mrn=row.values.get("mrn", "").strip(), action=row.action,
        procedure_at=episode_in.procedure_at if episode_in else None,
        procedure_at_before=row.before,
        timezone=zone, notes=tuple(row.notes),
        patient_id=patient.id if stored and patient is not None else None,
        episode_id=episode.id if stored and episode is not None else None,
    )


# --- the report as text (the command line's) ------------------------------------------------


def local_time(at: datetime | None, zone: str | None) -> str:
    """A time as the patient's wall time with its zone, e.g. ``2027-03-10 08:00 CST``."""
    if at is None:
        return ""
    local = at.astimezone(ZoneInfo(zone)) if zone else at
    return local.strftime("%Y-%m-%d %H:%M %Z")


def row_words(row: RowResult, *, with_action: bool = True) -> str:
    """What a row does, in words, with the times in the patient's zone (``with_action=False``:
    the times only, for a page that shows the action beside them)."""
    at = local_time(row.procedure_at, row.timezone)
    if row.action in (RESCHEDULE, NEEDS_CONFIRMATION):
        words = f"move {local_time(row.procedure_at_before, row.timezone)} -> {at}"
        return f"{row.action}: {words}" if with_action else words.replace("move ", "from ", 1).replace("->", "to")
    if not with_action:
        return f"procedure {at}" if at else ""
    return f"{row.action}: {at}" if at else row.action


def report_lines(report: ImportReport) -> list[str]:
    """The report, one line per row, each bad row with its column and problem, then the summary."""
    lines: list[str] = []
    for line, row, problems in report.lines():
        mrn = row.mrn if row is not None else next((p.mrn for p in problems if p.mrn), "")
        head = f"line {line}: MRN {mrn}: " if mrn else f"line {line}: "
        if problems:
            lines.extend(f"{head}{p.column}: {p.message}" for p in problems)
        elif row is not None:
            lines.append(head + row_words(row) + "".join(f" (note: {n})" for n in row.notes))
    bad = report.problems_by_line()
    counts = ", ".join(f"{n} {a}" for a, n in report.counts().items() if n)
    if not report.ok:
        lines.append(f"{len(bad)} line(s) with problems: nothing was imported; fix them and import the file again")
    elif report.dry_run:
        lines.append(f"dry run: {len(report.rows)} row(s) checked, nothing stored ({counts or 'no rows'})")
    else:
        lines.append(f"imported {len(report.rows)} row(s): {counts or 'no rows'}")
    return lines
