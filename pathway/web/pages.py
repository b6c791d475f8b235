"""Server-rendered pages for coordinators, clinicians and admins.

Views only route: parse the form into a plain dict, call the same service the JSON API calls,
commit, then redirect (POST/redirect/GET) with a flash or render. The services decide every
rule (who may do what, what is overdue, what may be marked done) and write the audit rows, so a
page and the API cannot differ. A ValidationError re-renders the form with each field's error
and nothing stored but the view's audit row. Roles are checked before any lookup, and a record
that is missing or not yours answers the same 404. App set-up (Bootstrap, error pages, filters)
is in ``create_app`` (``web.ui``, ``web.filters``).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from pathway.schemas.inputs import EPISODE_DETAILS, MAX_TOKEN_DAYS, MIN_PASSWORD
from pathway.schemas.vocab import ROLES
from pathway.services import board as board_service
from pathway.services import calendar as calendar_service
from pathway.services import conversation, outcomes_report, queries, replies, schedule_import, users
from pathway.services import episodes as ep
from pathway.services import holds as holds_service
from pathway.services import observations as observations_service
from pathway.services import outcomes as outcomes_service
from pathway.services import patients as pt
from pathway.services.base import Forbidden, NotFound, ServiceError, StaleVersion, ValidationError, given_version
from pathway.services.patients import CONSENT_METHODS
from pathway.services.planning import hold_plan_sheet, segment_info
from pathway.services.tasks import NOTE_REQUIRED, RED_FLAG_OUTCOMES
from pathway.services.tasks import resolve_task as resolve
from pathway.services.worklist import WorklistItem
from pathway.services.worklist import worklist as build_worklist
from pathway.timeline.vocabulary import CARE_TEAM, Role
from pathway.web import charts, filters
from pathway.web.auth import actor, home_for, roles
from pathway.web.context import audit_denied, db, env, runtime
from pathway.web.security import too_large

log = logging.getLogger(__name__)

bp = Blueprint("pages", __name__, static_folder="static", static_url_path="/static/pathway")
HOLD_ROWS = 3
PAGE_SIZE = 50


def _form(*names: str) -> dict[str, Any]:
    data = request.form
    return {n: data.get(n) for n in names if n in data} if names else {k: v for k, v in data.items()}


@bp.app_template_global()
def seen_of(record: Any) -> str:
    """What a form's page showed of its record (``version_fields`` keeps it in the form)."""
    return queries.seen_of(record)


def _version() -> dict[str, Any]:
    """The record's version the submitted form was made from (a stale one is a 409 StaleVersion)."""
    return {"version": request.form.get("version")} if request.form.get("version") else {}


def _conflict(record: Any, values: Any = None, fields: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The notice of a change refused as stale: what someone else changed since the form was made.

    With the form's ``values`` and ``fields`` (a detail's label -> its form field), a field the
    person left as it was takes the other person's new value, so sending the form again does not
    undo their change; a field the person changed keeps what they typed."""
    changes = queries.changed_since(record, request.form.get("seen"))
    if values is not None and fields:
        for label, old, new in changes:
            field = fields.get(label)
            if field is None:
                continue
            if old in ("yes", "no"):  # a checkbox: sent as a value when ticked, left out when not
                if (values.get(field) not in (None, "", False)) == (old == "yes"):
                    values[field] = "yes" if new == "yes" else ""
            elif _same_text(values.get(field), old):
                values[field] = "" if new == "-" else new
    return {"changes": changes, "rebased": bool(values is not None and fields)}


def _same_text(typed: Any, shown: str) -> bool:
    """Whether a form value is the one the page showed (a phone compares by its digits)."""
    a, b = str(typed or "").strip(), shown.strip()
    if a == b or (not a and b == "-"):
        return True
    digits_a, digits_b = "".join(c for c in a if c.isdigit()), "".join(c for c in b if c.isdigit())
    return len(digits_b) >= 10 and digits_a[-10:] == digits_b[-10:] and b.startswith("+")


# The patient edit form's and the episode details form's fields, by the label their "what
# changed" rows use (services.queries.patient_snapshot / episode_snapshot).
PATIENT_FIELDS_BY_LABEL = {"Given name": "given_name", "Family name": "family_name", "Mobile phone": "phone",
                  "Time zone": "timezone", "Language of texts": "language", "Detailed texts": "detailed_texts"}
DETAIL_FIELDS_BY_LABEL = {"Facility": "facility", "Facility address": "facility_address",
                          "Proceduralist": "proceduralist", "Levels": "levels",
                 "Tried physical therapy": "tried_pt", "Tried medication": "tried_medication",
                 "Tried injections": "tried_injections", "Escort arranged": "escort_arranged"}


def _fail_action(exc: ServiceError, back: str) -> Any:
    """Conflicts and permission refusals on an action: say so and go back."""
    if isinstance(exc, NotFound):
        abort(404)
    if isinstance(exc, Forbidden):
        audit_denied(actor(), str(exc))
    flash(str(exc) if not isinstance(exc, Forbidden) else f"Not allowed: {exc}.", "danger")
    return redirect(back)


# --- home and worklist ---------------------------------------------------------------------


WORKLIST_LIMIT = 200  # items counted in the tiles
WORKLIST_PAGE = 50  # rows shown per page


@bp.route("/")
def worklist() -> Any:
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    if current_user.role not in CARE_TEAM:
        return redirect(home_for(current_user.role))
    everything = build_worklist(db(), env(), actor(), limit=WORKLIST_LIMIT)
    db().commit()
    # The tiles count the whole list; the page shows the most urgent rows a person can work.
    pages = max(1, -(-len(everything) // WORKLIST_PAGE))
    page = min(max(1, request.args.get("page", 1, type=int) or 1), pages)
    items = everything[(page - 1) * WORKLIST_PAGE: page * WORKLIST_PAGE]
    return render_template("pages/worklist.html", items=items, everything=everything, page=page, pages=pages,
                           more=len(everything) >= WORKLIST_LIMIT, link_for=_worklist_link,
                           red_flag_outcomes=RED_FLAG_OUTCOMES, note_required=NOTE_REQUIRED)


def _worklist_link(item: WorklistItem) -> str:
    if item.kind == "unmatched_reply" and item.reply_id is not None:
        return url_for("pages.reply", reply_id=item.reply_id)
    if item.patient_id is None:
        return url_for("pages.worklist")
    if item.episode_id is None:
        return url_for("pages.patient", patient_id=item.patient_id)
    anchor = {
        "hold_unresolved": f"hold-{item.subject_id}",
        "follow_up_unbooked": "book-follow_up",
        "milestone_overdue": f"milestone-{item.subject_id}",
        # The reply itself, in the conversation with the patient.
        "red_flag": f"reply-{item.reply_id}" if item.reply_id else "conversation",
        "task": f"reply-{item.reply_id}" if item.reply_id else "",
        "pain_high": "observations",
        "answer_unread": f"reply-{item.reply_id}" if item.reply_id else "conversation",
        "hold_not_stopped": "decision",
        "notice_too_late": f"task-{item.task_id}" if item.task_id else "",
        "stop_unconfirmed": f"hold-{item.subject_id}",
        "text_failed": f"message-{item.subject_id}",
        "text_unknown": f"message-{item.subject_id}",
    }.get(item.kind, "")
    return url_for("pages.episode", episode_id=item.episode_id, _anchor=anchor or None)


@bp.app_template_global()
def task_needs_note(kind: str) -> bool:
    """Tasks a person closes only with a note of what was done (red flags...)."""
    return kind in NOTE_REQUIRED


# What a reply was read as, and the title of a note that closed a reply's task, for a person.
REPLY_WORDS = {"stop": "STOP: opted out", "start": "START: opted back in", "help": "HELP: answered",
               "stop_request": "Asked to stop texts", "text": "Reply to read",
               "acknowledgement": "Acknowledged (not an answer: the question stays open)"}
NOTE_TITLES = {"red_flag": "Red flag resolved", "reply": "Reply handled", "stop_request": "Request to stop handled",
               "unmatched_reply": "Reply matched to this patient", "opted_out": "Opt-out followed up"}


@bp.app_template_global()
def red_flag_words(groups: tuple[str, ...]) -> str:
    return replies.group_words(groups) or "possible symptom"


@bp.app_template_global()
def reply_words(classification: str) -> str:
    return REPLY_WORDS.get(classification, classification.replace("_", " ").capitalize())


@bp.app_template_global()
def note_title(kind: str) -> str:
    return NOTE_TITLES.get(kind, kind.replace("_", " ").capitalize() + " done")


def _refused(what: str, exc: ValidationError) -> None:
    flash(f"{what}: {'; '.join(m.rstrip('.') for m in exc.errors.values())}.", "danger")


@bp.post("/tasks/<int:task_id>/resolve")
@roles(*CARE_TEAM)
def resolve_task(task_id: int) -> Any:
    # The page offers the usual outcomes as a choice next to free text; the note is both.
    note = " - ".join(p for p in ((request.form.get("outcome") or "").strip(),
                                  (request.form.get("resolution") or "").strip()) if p)
    try:
        resolve(db(), env(), actor(), task_id, {"resolution": note})
    except ValidationError as exc:
        _refused("Not marked as done", exc)
        return redirect(_back(url_for("pages.worklist")))
    except ServiceError as exc:
        return _fail_action(exc, url_for("pages.worklist"))
    db().commit()
    flash("Task marked as done.", "success")
    return redirect(_back(url_for("pages.worklist")))


# --- replies from unknown and shared numbers (issue 11) --------------------------------------


@bp.route("/replies/<int:reply_id>")
@roles(*CARE_TEAM)
def reply(reply_id: int) -> Any:
    """Whom a reply from an unknown or shared number concerns: the patients on the number, and a
    search for anyone else."""
    try:
        found_reply, on_number = replies.reply_to_link(db(), env(), actor(), reply_id)
    except NotFound:
        abort(404)
    q = (request.args.get("q") or "").strip()
    found = queries.find_patients(db(), env(), actor(), q) if q else []
    db().commit()
    return render_template("pages/reply.html", reply=found_reply, on_number=on_number, q=q, patients=found)


@bp.post("/replies/<int:reply_id>/link")
@roles(*CARE_TEAM)
def link_reply(reply_id: int) -> Any:
    try:
        linked = replies.link_reply(db(), env(), actor(), reply_id, _form("patient_id", "episode_id"))
    except ValidationError as exc:
        _refused("Not linked", exc)
        return redirect(url_for("pages.reply", reply_id=reply_id))
    except ServiceError as exc:
        return _fail_action(exc, url_for("pages.worklist"))
    db().commit()
    flash("Reply linked to the patient: it is now on the worklist as theirs.", "success")
    if linked.episode_id is not None:
        return redirect(url_for("pages.episode", episode_id=linked.episode_id, _anchor=f"reply-{linked.id}"))
    return redirect(url_for("pages.patient", patient_id=linked.patient_id))


@bp.post("/replies/<int:reply_id>/dismiss")
@roles(*CARE_TEAM)
def dismiss_reply(reply_id: int) -> Any:
    try:
        replies.dismiss_reply(db(), env(), actor(), reply_id, _form("note"))
    except ValidationError as exc:
        _refused("Not dismissed", exc)
        return redirect(_back(url_for("pages.worklist")))
    except ServiceError as exc:
        return _fail_action(exc, url_for("pages.worklist"))
    db().commit()
    flash("Reply dismissed with your note.", "success")
    return redirect(_back(url_for("pages.worklist")))


def _back(default: str) -> str:
    target = request.form.get("next") or ""
    return target if target.startswith("/") and not target.startswith("//") else default


# --- patients ------------------------------------------------------------------------------


@bp.route("/patients")
@roles(*CARE_TEAM)
def patients() -> Any:
    """Without a query the active patients (procedure in the last 30 days or ahead); with one,
    whom it finds by name, MRN or mobile phone, with why each matched. Paged; audited."""
    q = (request.args.get("q") or "").strip()
    page = _page()
    found = queries.patient_list(db(), env(), actor(), q, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    db().commit()
    return render_template("patients/search.html", q=q, found=found, patients=[f.patient for f in found.rows],
                           page=page, active_days=pt.ACTIVE_DAYS)


PATIENT_FIELDS = ("mrn", "given_name", "family_name", "birth_date", "phone", "timezone", "language",
                  "sms_consent", "consent_method", "detailed_texts")


@bp.route("/patients/new", methods=["GET", "POST"])
@roles(*CARE_TEAM)
def enrol() -> Any:
    values: dict[str, Any] = {"timezone": runtime().config.clinic.timezone, "language": "en",
                              "consent_method": "verbal"}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = _form(*PATIENT_FIELDS)
        try:
            patient = pt.enrol_patient(db(), env(), actor(), values)
        except ValidationError as exc:
            db().rollback()
            errors = exc.errors
        else:
            db().commit()
            log.info("patient enrolled patient_id=%s", patient.id)
            flash("Patient enrolled." + (" The enrolment text is queued." if patient.sms_consent_at else
                                         " No texts will be sent until consent is recorded."), "success")
            return redirect(url_for("pages.patient", patient_id=patient.id))
    return render_template("patients/new.html", values=values, errors=errors, zones=_zones(),
                           consent_methods=CONSENT_METHODS), (422 if errors else 200)


def _zones() -> list[str]:
    common = ["America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
              "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu", "America/Puerto_Rico"]
    clinic = runtime().config.clinic.timezone
    return [clinic] + [z for z in common if z != clinic]


@bp.route("/patients/import", methods=["GET", "POST"])
@roles(*CARE_TEAM)
def import_schedule() -> Any:
    """Upload the practice's schedule as CSV: every row is checked, then all are stored or none."""
    report = None
    dry_run = confirm = False
    if request.method == "POST":
        upload = request.files.get("file")
        dry_run = request.form.get("dry_run") == "1"
        confirm = request.form.get("confirm_holds_at_risk") == "1"
        parsed = schedule_import.parse_file(upload.read() if upload and upload.filename else b"")
        report = schedule_import.import_schedule(db(), env(), actor(), parsed, dry_run=dry_run,
                                                 confirm_holds_at_risk=confirm)
        db().commit()
        if report.applied:
            log.info("schedule imported rows=%s", len(report.rows))
    return _import_page(report=report, dry_run=dry_run, confirm=confirm), (422 if report and not report.ok else 200)


def _import_page(**values: Any) -> str:
    return render_template("patients/import.html", columns=schedule_import.COLUMNS,
                           row_words=schedule_import.row_words, separator=schedule_import.DRUG_SEPARATOR,
                           max_bytes=runtime().config.web.max_request_bytes, **values)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> Any:
    """A file over ``[web] max_request_bytes`` on the upload page is refused with the page again,
    saying to import it with the command (which has no limit and shows its progress); any other
    page's too large body gets the common 413 page. Nothing was read, so nothing is stored."""
    if request.endpoint != "pages.import_schedule":
        return too_large(exc)
    return _import_page(report=None, dry_run=False, confirm=False, too_large=True), 413


@bp.route("/patients/<int:patient_id>")
@roles(*CARE_TEAM)
def patient(patient_id: int) -> Any:
    return _patient_page(patient_id)


def _patient_page(patient_id: int, *, conflict: bool = False) -> Any:
    try:
        record = queries.patient_record(db(), env(), actor(), patient_id)
    except NotFound:
        abort(404)
    db().commit()
    return render_template("patients/show.html", record=record, p=record.patient, consent_methods=CONSENT_METHODS,
                           calendar_url=_calendar_url(record.patient),
                           conflict=_conflict(record.patient) if conflict else None), (409 if conflict else 200)


def _calendar_url(patient: Any) -> str | None:
    base = env().rules.clinic.public_url or request.url_root  # the public address, once configured
    return calendar_service.calendar_url(base, patient.calendar_token)


@bp.post("/patients/<int:patient_id>/calendar/<any(reissue, revoke):action>")
@roles(*CARE_TEAM)
def patient_calendar(patient_id: int, action: str) -> Any:
    """Revoke the patient's calendar link, or issue a new one in its place (audited)."""
    back = url_for("pages.patient", patient_id=patient_id) + "#calendar-h"
    change = calendar_service.reissue_patient_link if action == "reissue" else calendar_service.revoke_patient_link
    try:
        change(db(), env(), actor(), patient_id)
    except ServiceError as exc:
        db().rollback()
        return _fail_action(exc, back)
    db().commit()
    flash("A new calendar link is ready; the old one no longer works." if action == "reissue"
          else "The calendar link is revoked: it no longer works.", "success")
    return redirect(back)


@bp.post("/patients/<int:patient_id>/consent")
@roles(*CARE_TEAM)
def consent(patient_id: int) -> Any:
    back = url_for("pages.patient", patient_id=patient_id)
    try:
        queries.load_patient(db(), actor(), patient_id)
    except NotFound:
        abort(404)
    try:
        pt.record_consent(db(), env(), actor(), patient_id, request.form.get("consent_method") or "",
                          version=request.form.get("version") or None)
    except StaleVersion:
        db().rollback()
        return _patient_page(patient_id, conflict=True)
    except ServiceError as exc:
        db().rollback()
        if isinstance(exc, ValidationError):
            flash("; ".join(exc.errors.values()), "danger")
            return redirect(back)
        return _fail_action(exc, back)
    db().commit()
    flash("Consent to texts recorded; the enrolment text is queued.", "success")
    return redirect(back)


# --- scheduling ----------------------------------------------------------------------------

EPISODE_FIELDS = ("procedure_at", "duration_minutes", "facility", "facility_address", "arrival_at", "proceduralist",
                  "levels", "mri_reviewed_on", "tried_pt", "tried_medication", "tried_injections", "escort_arranged")


def _holds_from_form(form: Mapping[str, Any]) -> tuple[list[dict[str, Any]], dict[int, int]]:
    """The hold rows that were filled in, and each one's row number on the form."""
    holds: list[dict[str, Any]] = []
    rows: dict[int, int] = {}
    for i in range(HOLD_ROWS):
        choice = (form.get(f"hold-{i}-drug") or "").strip()
        drug = (form.get(f"hold-{i}-other") or "").strip() if choice == "__other" else choice
        if not choice:
            continue
        item: dict[str, Any] = {"drug": drug,
                                "prescriber_name": form.get(f"hold-{i}-prescriber_name") or "",
                                "prescriber_phone": form.get(f"hold-{i}-prescriber_phone") or "",
                                "patient_label": form.get(f"hold-{i}-patient_label") or "",
                                "crcl_ml_min": form.get(f"hold-{i}-crcl_ml_min") or None}
        rows[len(holds)] = i
        holds.append(item)
    return holds, rows


def _hold_errors(errors: dict[str, str], rows: dict[int, int]) -> dict[str, str]:
    out = {}
    for key, message in errors.items():
        if key.startswith("holds[") and "]" in key:
            index, _, rest = key[len("holds["):].partition("]")
            row = rows.get(int(index), int(index)) if index.isdigit() else 0
            field = rest.lstrip(".") or "drug"
            if field == "drug" and rows.get(int(index) if index.isdigit() else -1) is not None:
                choice = request.form.get(f"hold-{row}-drug")
                field = "other" if choice == "__other" else "drug"
            out[f"hold-{row}-{field}"] = message
        else:
            out[key] = message
    return out


@bp.route("/patients/<int:patient_id>/episodes/new", methods=["GET", "POST"])
@roles(*CARE_TEAM)
def schedule(patient_id: int) -> Any:
    try:
        patient = queries.load_patient(db(), actor(), patient_id)
    except NotFound:
        abort(404)
    values: dict[str, Any] = {"duration_minutes": "60"}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = _form()
        data: dict[str, Any] = {k: values.get(k) for k in EPISODE_FIELDS}
        holds, rows = _holds_from_form(values)
        data["holds"] = holds
        try:
            episode = ep.schedule_episode(db(), env(), actor(), patient.id, data)
        except ValidationError as exc:
            db().rollback()
            errors = _hold_errors(exc.errors, rows)
        else:
            db().commit()
            log.info("episode scheduled episode_id=%s patient_id=%s", episode.id, patient.id)
            flash("Episode scheduled. Holds need the prescriber's clearance before any stop-drug text is sent."
                  if episode.holds else "Episode scheduled.", "success")
            return redirect(url_for("pages.episode", episode_id=episode.id))
    catalogue = env().rules.catalogue.all()
    queries.form_viewed(db(), env(), actor(), patient, "schedule")
    db().commit()
    return render_template("episodes/new.html", patient=patient, values=values, errors=errors,
                           catalogue=catalogue, hold_rows=range(HOLD_ROWS),
                           place_max=env().rules.definition.place_max_chars), (422 if errors else 200)


# --- the episode page ----------------------------------------------------------------------


def _episode_page(episode_id: int, *, errors: Mapping[str, Mapping[str, str]] | None = None,
                  values: Mapping[str, Mapping[str, Any]] | None = None, status: int = 200,
                  conflict: bool = False) -> Any:
    """The episode's page; with a form's errors, shown again with them (and audited again: the
    record is shown again). ``conflict``: the form's change was refused as stale (409): the page
    says what someone else changed, and keeps what was typed so it can be sent again."""
    try:
        record = queries.episode_record(db(), env(), actor(), episode_id)
    except NotFound:
        abort(404)
    db().commit()
    return render_template("episodes/show.html", r=record, e=record.episode, p=record.patient, now=env().now,
                           errors=errors or {}, values=values or {}, sms_segments=segment_info,
                           catalogue=env().rules.catalogue.all(), note_required=NOTE_REQUIRED,
                           red_flag_outcomes=RED_FLAG_OUTCOMES, **_quiet_words(),
                           calendar_url=_calendar_url(record.patient),
                           time_points=env().rules.definition.time_points,
                           measures=outcomes_service.measure_choices(),
                           conflict=_conflict(record.episode, dict(values or {}).get("details"), DETAIL_FIELDS_BY_LABEL)
                           if conflict else None), (409 if conflict else status)


def _quiet_words() -> dict[str, str]:
    quiet = env().rules.quiet
    return {"quiet_start": f"{quiet.start:%H:%M}", "quiet_end": f"{quiet.end:%H:%M}"}


_FORM_KEY = re.compile(r"[0-9a-f]{32}")


@bp.post("/episodes/<int:episode_id>/messages")
@roles(*CARE_TEAM)
def send_text(episode_id: int) -> Any:
    """A one-off text: always shown first (the words as the phone shows them, length, segments,
    when it goes), then sent when confirmed. The preview carries a one-time key, so the same
    confirmation sent twice (a double click, a reload) queues one text."""
    values = _form("body", "urgent")
    body = str(values.get("body") or "")
    data: dict[str, Any] = {"body": body, "urgent": values.get("urgent") == "yes"}
    confirm = request.form.get("confirm") == "yes"
    raw_key = request.form.get("key") or ""
    key = raw_key if _FORM_KEY.fullmatch(raw_key) else None
    try:
        result = conversation.send_staff_text(db(), env(), actor(), episode_id, data, preview=not confirm, key=key)
    except ValidationError as exc:
        db().rollback()
        if "body" in exc.errors and body.strip():  # too long: show the count beside the words
            return _text_preview(episode_id, data, None, exc.errors["body"], 422)
        return _episode_page(episode_id, errors={"text": exc.errors}, values={"text": values}, status=422)
    except ServiceError as exc:
        db().rollback()
        return _fail_action(exc, url_for("pages.episode", episode_id=episode_id, _anchor="conversation"))
    db().commit()
    if not confirm:
        return _text_preview(episode_id, data, result, "", 200)
    assert result.message is not None
    log.info("one-off text queued message_id=%s episode_id=%s urgent=%s", result.message.id, episode_id,
             result.urgent)
    p = result.episode.patient
    if result.waits_for_quiet_hours:
        at = filters.zone_time(result.send_at, p.timezone)
        flash(f"Text queued. It is the patient's quiet hours: it goes at {at}, their time.", "success")
    else:
        flash("Text queued: it goes now. Its delivery shows in the conversation.", "success")
    return redirect(url_for("pages.episode", episode_id=episode_id, _anchor=f"thread-message-{result.message.id}"))


def _text_preview(episode_id: int, data: Mapping[str, Any], result: conversation.StaffText | None, error: str,
                  status: int) -> Any:
    try:
        episode = queries.load_episode(db(), actor(), episode_id)
    except NotFound:
        abort(404)
    body = str(data.get("body") or "").replace("\r\n", "\n").strip()
    return render_template("episodes/text_preview.html", e=episode, p=episode.patient, body=body,
                           urgent=bool(data.get("urgent")), result=result, error=error, info=segment_info(body),
                           limit=conversation.limit_words(env().rules.definition.staff_text_max_segments),
                           key=uuid.uuid4().hex, now=env().now,
                           quiet_now=not env().rules.quiet.allowed(env().now, ZoneInfo(episode.patient.timezone)),
                           **_quiet_words()), status


@bp.route("/episodes/<int:episode_id>")
@roles(*CARE_TEAM)
def episode(episode_id: int) -> Any:
    return _episode_page(episode_id)


@bp.route("/episodes/<int:episode_id>/hold-plan")
@roles(*CARE_TEAM)
def hold_plan(episode_id: int) -> Any:
    """The patient's one-page hold plan, in their language, to print and hand over (audited)."""
    try:
        sheet = hold_plan_sheet(db(), env(), actor(), episode_id)
    except NotFound:
        abort(404)
    db().commit()
    return render_template("episodes/hold_plan.html", sheet=sheet)


def _episode_action(episode_id: int, form_name: str, call: Any, success: str) -> Any:
    """Run one change from the episode page: commit and redirect, or show the form's errors."""
    back = url_for("pages.episode", episode_id=episode_id)
    values = _form()
    try:
        result = call(values)
    except StaleVersion:
        db().rollback()
        return _episode_page(episode_id, values={form_name: values}, conflict=True)
    except ValidationError as exc:
        db().rollback()
        return _episode_page(episode_id, errors={form_name: exc.errors}, values={form_name: values}, status=422)
    except ServiceError as exc:
        db().rollback()
        return _fail_action(exc, back)
    db().commit()
    flash(success, "success")
    target = getattr(result, "episode_id", None) or episode_id
    return redirect(url_for("pages.episode", episode_id=target))


@bp.post("/episodes/<int:episode_id>/holds/<int:hold_id>/clearance")
@roles(*CARE_TEAM)
def clearance(episode_id: int, hold_id: int) -> Any:
    def call(v: dict[str, Any]) -> Any:
        _same_episode(ep.load_hold(db(), hold_id, lock=False).episode_id, episode_id)
        data = {k: v.get(k) for k in ("status", "by", "note", "stop_days", "stop_hours", "restart_hours") if v.get(k)}
        return ep.record_clearance(db(), env(), actor(), hold_id, {**data, **_version()})

    status = request.form.get("status", "")
    return _episode_action(episode_id, f"clearance-{hold_id}", call, {
        "requested": "Clearance request recorded.",
        "approved": "Hold approved and signed. Stop and restart texts are planned.",
        "declined": "Hold declined: the patient keeps taking the drug.",
        "not_required": "Hold marked not required.",
    }.get(status, "Clearance recorded."))


def _same_episode(actual: int, expected: int) -> None:
    if actual != expected:
        raise NotFound("hold")


@bp.post("/episodes/<int:episode_id>/holds/<int:hold_id>/inr")
@roles(*CARE_TEAM)
def inr(episode_id: int, hold_id: int) -> Any:
    def call(v: dict[str, Any]) -> Any:
        _same_episode(ep.load_hold(db(), hold_id, lock=False).episode_id, episode_id)
        return ep.record_inr(db(), env(), actor(), hold_id, {"value": v.get("value"),
                                                               "measured_at": v.get("measured_at") or None,
                                                               **_version()})

    return _episode_action(episode_id, f"inr-{hold_id}", call, "INR recorded.")


@bp.post("/episodes/<int:episode_id>/observations")
@roles(*CARE_TEAM)
def observe(episode_id: int) -> Any:
    def call(v: dict[str, Any]) -> Any:
        data = {k: v.get(k) or None for k in ("code", "value", "time_point", "received_at", "hold_id")}
        return observations_service.record_observation(db(), env(), actor(), episode_id, data)

    return _episode_action(episode_id, "observe", call, "Observation recorded.")


@bp.post("/episodes/<int:episode_id>/outcomes")
@roles(*CARE_TEAM)
def record_outcome(episode_id: int) -> Any:
    def call(v: dict[str, Any]) -> Any:
        data = {k: v.get(k) or None for k in ("time_point", "measure", "value", "source", "recorded_at")}
        return outcomes_service.record_outcome(db(), env(), actor(), episode_id, data)

    return _episode_action(episode_id, "outcome", call, "Outcome recorded.")


@bp.post("/episodes/<int:episode_id>/appointments/<any(follow_up, pt_start):kind>")
@roles(*CARE_TEAM)
def book(episode_id: int, kind: str) -> Any:
    def call(v: dict[str, Any]) -> Any:
        data = {"appointment_at": v.get("appointment_at"),
                "confirm_outside_window": v.get("confirm_outside_window") == "yes", **_version()}
        try:
            return ep.book_appointment(db(), env(), actor(), episode_id, kind, data)
        except ep.OutsideWindow as exc:  # outside the window and not confirmed: ask on the form itself
            raise ValidationError({"confirm_outside_window": str(exc)}) from None

    return _episode_action(
        episode_id, f"book-{kind}", call,
        "Follow-up visit booked." if kind == "follow_up" else "Physical therapy start booked.")


@bp.post("/episodes/<int:episode_id>/procedure-end")
@roles(*CARE_TEAM)
def procedure_end(episode_id: int) -> Any:
    return _episode_action(
        episode_id, "procedure-end",
        lambda v: ep.record_procedure_end(db(), env(), actor(), episode_id,
                                          {"ended_at": v.get("ended_at"), **_version()}),
        "Procedure end recorded; restart texts are timed from it.")


@bp.post("/episodes/<int:episode_id>/milestones/<int:milestone_id>/complete")
@roles(*CARE_TEAM)
def complete(episode_id: int, milestone_id: int) -> Any:
    def call(v: dict[str, Any]) -> Any:
        note = (v.get("note") or "").strip()
        m = ep.complete_milestone(db(), env(), actor(), milestone_id,
                                  {"result": {"note": note} if note else None, **_version()})
        _same_episode(m.episode_id, episode_id)
        return m

    return _episode_action(episode_id, f"milestone-{milestone_id}", call, "Marked as done.")


@bp.post("/episodes/<int:episode_id>/cancel")
@roles(*CARE_TEAM)
def cancel(episode_id: int) -> Any:
    def call(v: Any) -> Any:
        if not v.get("confirm"):  # a second, deliberate step: not a dialog that one click dismisses
            raise ValidationError({"confirm": "tick the box to confirm the cancellation"})
        return ep.cancel_episode(db(), env(), actor(), episode_id, {"reason": v.get("reason"), **_version()})

    return _episode_action(episode_id, "cancel", call,
                           "Episode cancelled. Pending texts are cancelled and the patient is told.")


@bp.post("/episodes/<int:episode_id>/escort")
@roles(*CARE_TEAM)
def escort(episode_id: int) -> Any:
    arranged = request.form.get("arranged") == "yes"
    return _episode_action(
        episode_id, "escort",
        lambda v: ep.set_escort(db(), env(), actor(), episode_id, arranged, version=v.get("version") or None),
        "Escort recorded as arranged." if arranged else "Escort recorded as not arranged.")


@bp.route("/episodes/<int:episode_id>/reschedule", methods=["GET", "POST"])
@roles(*CARE_TEAM)
def reschedule(episode_id: int) -> Any:
    """Two steps: preview the re-planning diff, then confirm with the same new time."""
    try:
        e = queries.load_episode(db(), actor(), episode_id)
    except NotFound:
        abort(404)
    p = e.patient
    errors: dict[str, str] = {}
    new_at = request.form.get("procedure_at") or request.args.get("procedure_at") or ""
    if request.method == "POST":
        confirm = request.form.get("confirm") == "yes"
        given = {"procedure_at": new_at, "confirm_holds_at_risk": request.form.get("confirm_holds_at_risk") == "yes",
                 **_version()}
        try:
            result = ep.reschedule(db(), env(), actor(), episode_id, given, preview=not confirm)
        except StaleVersion:
            db().rollback()
            e = queries.load_episode(db(), actor(), episode_id)
            return render_template("episodes/reschedule.html", e=e, p=e.patient, errors={}, value=new_at,
                                   conflict=_conflict(e)), 409
        except ValidationError as exc:
            db().rollback()
            errors = exc.errors
        except ep.HoldsAtRisk:
            # Confirmed without ticking the holds box: show the preview again, with the warning.
            db().commit()  # the refusal's audit row
            result = ep.reschedule(db(), env(), actor(), episode_id, {"procedure_at": new_at}, preview=True)
            db().commit()
            return render_template("episodes/reschedule_preview.html", e=e, p=p, new_at=new_at,
                                   lines=_move_lines(result, e),
                                   old_at=e.procedure_at, new_instant=result.procedure_at_after,
                                   risks=result.holds_at_risk,
                                   risk_error="Tick the box to confirm that these holds must be signed again."), 409
        except ServiceError as exc:
            db().rollback()
            return _fail_action(exc, url_for("pages.episode", episode_id=episode_id))
        else:
            db().commit()  # a preview stores only its audit row (a view of the plan), as the API's does
            if confirm:
                flash("Procedure moved. The timeline and the patient's texts are re-planned.", "success")
                return redirect(url_for("pages.episode", episode_id=episode_id))
            return render_template("episodes/reschedule_preview.html", e=e, p=p, new_at=new_at,
                                   lines=_move_lines(result, e),
                                   old_at=e.procedure_at, new_instant=result.procedure_at_after,
                                   risks=result.holds_at_risk, risk_error="")
    queries.form_viewed(db(), env(), actor(), e, "reschedule")
    db().commit()
    return render_template("episodes/reschedule.html", e=e, p=p, errors=errors,
                           value=new_at or filters.local_input(e.procedure_at, p.timezone)), (422 if errors else 200)


# --- editing an episode after saving (issue 10) --------------------------------------------

DETAIL_TEXTS = ("facility", "facility_address", "arrival_at", "proceduralist", "levels", "mri_reviewed_on")
DETAIL_FLAGS = tuple(f for f in EPISODE_DETAILS if f not in DETAIL_TEXTS)


def _hold_names(e: Any) -> dict[str, str]:
    """Each hold's medicine by its ref, so preview lines about different holds can be told apart."""
    return {h.ref: h.drug_name for h in e.holds}


def _move_lines(result: Any, e: Any) -> list[str]:
    """The preview's lines, the notice's naming each medicine whose dates move (as the text will)."""
    lines: list[str] = result.diff.summary(ZoneInfo(e.patient.timezone), env().rules.definition, _hold_names(e))
    names = list(result.notice_medicines)
    if not names:
        return lines
    said = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return [f"{line}, naming {said}" if line.startswith("Send: ") else line for line in lines]


def _texts_change(diff: Any) -> bool:
    """Whether a change touches what the patient is texted (then it is shown before it is saved)."""
    return bool(diff.messages_cancelled or diff.messages_added or diff.reworded or diff.notice)


def _change_preview(e: Any, result: Any, *, title: str, lead: str, action: str, hidden: Mapping[str, Any],
                    confirm_text: str, warnings: tuple[str, ...] = (), warning_title: str = "",
                    check: tuple[str, str] | None = None, check_error: str = "", status: int = 200) -> Any:
    """The confirm step of an edit: what re-planning will do (texts cancelled, added and
    re-worded, with their words), then the same form again with confirm=yes."""
    tz = ZoneInfo(e.patient.timezone)
    return render_template("episodes/change_preview.html", e=e, p=e.patient, title=title, lead=lead, action=action,
                           hidden=hidden, confirm_text=confirm_text, warnings=warnings,
                           warning_title=warning_title or "The patient may have stopped this medicine", check=check,
                           check_error=check_error,
                           lines=result.diff.summary(tz, env().rules.definition, _hold_names(e)),
                           reworded=result.diff.reworded), status


@bp.post("/episodes/<int:episode_id>/details")
@roles(*CARE_TEAM)
def edit_details(episode_id: int) -> Any:
    """The episode's details and candidacy items: the API's PATCH, from the page. Applied at once
    unless the patient's texts change; then shown first, and applied when confirmed."""
    values = _form()
    data: dict[str, Any] = {k: values.get(k) or "" for k in DETAIL_TEXTS}
    data.update({k: values.get(k) == "yes" for k in DETAIL_FLAGS})
    confirm = values.get("confirm") == "yes"
    try:
        result = ep.reschedule(db(), env(), actor(), episode_id, {**data, **_version()}, preview=not confirm)
        db().commit()
        if not confirm and _texts_change(result.diff):
            hidden = {**{k: data[k] for k in DETAIL_TEXTS}, **{k: "yes" for k in DETAIL_FLAGS if data[k]}}
            return _change_preview(result.episode, result, title="Confirm the new details",
                                   lead="Nothing has changed yet. These changes alter the patient's texts:",
                                   action=url_for("pages.edit_details", episode_id=episode_id), hidden=hidden,
                                   confirm_text="Confirm and re-plan")
        if not confirm:  # nothing the patient reads changes: apply now
            result = ep.reschedule(db(), env(), actor(), episode_id, {**data, **_version()})
    except StaleVersion:
        db().rollback()
        return _episode_page(episode_id, values={"details": values}, conflict=True)
    except ValidationError as exc:
        db().rollback()
        return _episode_page(episode_id, errors={"details": exc.errors}, values={"details": values}, status=422)
    except ServiceError as exc:
        db().rollback()
        return _fail_action(exc, url_for("pages.episode", episode_id=episode_id))
    db().commit()
    flash("Details saved." if result.diff.is_empty else "Details saved; the plan is updated.", "success")
    return redirect(url_for("pages.episode", episode_id=episode_id))


def _add_hold_errors(errors: Mapping[str, str], form: Mapping[str, Any]) -> dict[str, str]:
    """HoldIn's errors ("drug", "patient_label") as the episode page's row fields (hold-0-...)."""
    out = {}
    for key, message in errors.items():
        field = "other" if key == "drug" and form.get("hold-0-drug") == "__other" else key
        out[f"hold-0-{field}"] = message
    return out


@bp.post("/episodes/<int:episode_id>/holds")
@roles(*CARE_TEAM)
def add_hold(episode_id: int) -> Any:
    """Add a medicine to hold: always shown first (steps and maybe texts change), then applied."""
    values = _form()
    holds, _ = _holds_from_form(values)
    confirm = values.get("confirm") == "yes"
    try:
        if not holds:
            raise ValidationError({"drug": "choose the medicine to hold (or Other, and type its name)"})
        result = ep.add_hold(db(), env(), actor(), episode_id, {**holds[0], **_version()}, preview=not confirm)
    except StaleVersion:
        db().rollback()
        return _episode_page(episode_id, values={"add-hold": values}, conflict=True)
    except ValidationError as exc:
        db().rollback()
        return _episode_page(episode_id, errors={"add-hold": _add_hold_errors(exc.errors, values)},
                             values={"add-hold": values}, status=422)
    except ServiceError as exc:
        db().rollback()
        return _fail_action(exc, url_for("pages.episode", episode_id=episode_id))
    db().commit()
    if confirm:
        assert result.hold is not None
        log.info("hold added hold_id=%s episode_id=%s", result.hold.id, episode_id)
        flash("Medicine added to hold. It needs the prescriber's clearance and a clinician's signature before any "
              "stop text is sent.", "success")
        return redirect(url_for("pages.episode", episode_id=episode_id, _anchor=f"hold-{result.hold.id}"))
    hidden = {k: v for k, v in values.items() if k.startswith("hold-0-")}  # the version goes with the form
    name = env().rules.catalogue.find(holds[0]["drug"])
    late = result.late
    warnings = (f"Its last dose ({late.last_dose_on:%a %b} {late.last_dose_on.day}) has already passed: the patient "
                "cannot stop it in time for this procedure date. Agree a plan with the prescriber; the procedure may "
                "need to move.",) if late is not None else ()
    return _change_preview(
        result.episode, result, title=f"Add {name.name if name else holds[0]['drug']} to the holds",
        warnings=warnings, warning_title="Too late to stop this medicine in time",
        lead="Nothing has changed yet. The new hold starts as clearance needed: it goes on the worklist, and no "
             "stop text is sent until the prescriber approves and a clinician signs it. Re-planning will do this:",
        action=url_for("pages.add_hold", episode_id=episode_id), hidden=hidden, confirm_text="Add the hold")


@bp.post("/episodes/<int:episode_id>/holds/<int:hold_id>/label")
@roles(*CARE_TEAM)
def label_hold(episode_id: int, hold_id: int) -> Any:
    """What the patient calls a medicine: the API's PATCH /holds/<id>. The re-worded texts are
    shown first (before and after), then saved when confirmed; nothing else changes."""
    values = _form()
    data = {"patient_label": values.get("patient_label") or ""}
    confirm = values.get("confirm") == "yes"
    form = f"label-{hold_id}"
    try:
        result = ep.label_hold(db(), env(), actor(), hold_id, {**data, **_version()}, preview=not confirm)
        if result.episode.id != episode_id:
            raise NotFound("hold")
        db().commit()
        if not confirm and _texts_change(result.diff):
            assert result.hold is not None
            return _change_preview(
                result.episode, result, title=f"What the patient calls {result.hold.drug_name}",
                lead="Nothing has changed yet. Only words change: the plan, its dates and its signature stay. "
                     "These texts not yet sent get new words:",
                action=url_for("pages.label_hold", episode_id=episode_id, hold_id=hold_id), hidden=data,
                confirm_text="Save and re-word the texts")
        if not confirm:  # no text changes its words: save now
            result = ep.label_hold(db(), env(), actor(), hold_id, {**data, **_version()})
    except StaleVersion:
        db().rollback()
        return _episode_page(episode_id, values={form: values}, conflict=True)
    except ValidationError as exc:
        db().rollback()
        return _episode_page(episode_id, errors={form: exc.errors}, values={form: values}, status=422)
    except ServiceError as exc:
        db().rollback()
        return _fail_action(exc, url_for("pages.episode", episode_id=episode_id))
    db().commit()
    n = len(result.diff.reworded)
    flash("Saved what the patient calls it." + (f" {n} text{'s' if n != 1 else ''} re-worded." if n else ""),
          "success")
    return redirect(url_for("pages.episode", episode_id=episode_id, _anchor=f"hold-{hold_id}"))


@bp.route("/episodes/<int:episode_id>/holds/<int:hold_id>/remove", methods=["GET", "POST"])
@roles(*CARE_TEAM)
def remove_hold(episode_id: int, hold_id: int) -> Any:
    """Remove a hold: a confirmation page says what happens (texts and steps cancelled; a patient
    who may have stopped the medicine must be called), then the removal."""
    back = url_for("pages.episode", episode_id=episode_id)
    confirm = request.method == "POST"
    stopped_ok = request.form.get("confirm_stopped") == "yes"
    check_error = ""
    try:
        _same_episode(ep.load_hold(db(), hold_id, lock=False).episode_id, episode_id)
        try:
            result = ep.remove_hold(db(), env(), actor(), hold_id, confirm_stopped=stopped_ok, preview=not confirm,
                                    version=given_version(_version()) if confirm else None)
        except ep.HoldStopped:
            db().commit()  # the refusal's audit row
            check_error = "Tick the box: the patient may have stopped this medicine and must be told how to restart."
            result = ep.remove_hold(db(), env(), actor(), hold_id, preview=True)
    except StaleVersion:
        db().rollback()
        return _episode_page(episode_id, conflict=True)
    except ServiceError as exc:
        db().rollback()
        return _fail_action(exc, back)
    db().commit()
    if result.applied:
        flash("Hold removed; its texts are cancelled." + (" A call to the patient about restarting is on the "
                                                          "worklist." if result.stopped else ""), "success")
        return redirect(back)
    hold = result.hold
    assert hold is not None
    warnings: tuple[str, ...] = ()
    check = None
    if result.stopped:
        warnings = (f"The last dose of {hold.drug_name} has come: the patient may already have stopped it. Removing "
                    "the hold cancels the text telling them when to restart. A call to the patient about restarting "
                    "(as the prescriber advises) goes on the worklist; record the call when it is made.",)
        check = ("confirm_stopped", "I understand: someone must call the patient about restarting this medicine")
    return _change_preview(
        result.episode, result, title=f"Remove the {hold.drug_name} hold",
        lead="Nothing has changed yet. Removing the hold cancels its texts and steps that have not happened; it is "
             "kept in the record as removed. Re-planning will do this:",
        action=url_for("pages.remove_hold", episode_id=episode_id, hold_id=hold_id), hidden={},
        confirm_text="Remove the hold", warnings=warnings, check=check, check_error=check_error,
        status=409 if check_error else 200)


# --- follow-up board and messages ----------------------------------------------------------


@bp.route("/holds/to-sign")
@roles(*CARE_TEAM)
def holds_to_sign() -> Any:
    rows = holds_service.unsigned_holds(db(), env(), actor())  # audits the view
    db().commit()
    return render_template("pages/holds_to_sign.html", rows=rows)


@bp.route("/board")
@roles(*CARE_TEAM)
def board() -> Any:
    status = request.args.get("status") or None
    proceduralist = request.args.get("proceduralist") or None
    page = _page()
    try:
        result = board_service.followup_board(db(), env(), actor(), status=status, proceduralist=proceduralist,
                                              limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    except ValidationError:
        abort(404)
    db().commit()
    status = board_service.FILTER_ALIASES.get(status or "", status)  # the same filter, named as the tiles name it
    return render_template("pages/board.html", board=result, status=status or "", proceduralist=proceduralist or "",
                           page=page, page_size=PAGE_SIZE,
                           filters=board_service.FILTER_CHOICES)


def _page() -> int:
    raw = request.args.get("page") or "1"
    # ASCII digits only: "²" is a digit to str.isdigit but not to int(), and 5000 digits are too many.
    return max(1, min(int(raw), 10_000)) if raw.isascii() and raw.isdigit() and len(raw) <= 6 else 1


@bp.route("/messages")
@roles(*CARE_TEAM)
def messages() -> Any:
    """Texts to every patient, newest first, with their words, status and history; filtered by
    patient, status, kind and days. A bad status or patient is a 404 (a link's), a bad day a 422
    naming the field on the form."""
    args = request.args
    status = args.get("status") or None
    filters = {"patient_id": args.get("patient_id") or None, "kind": args.get("kind") or None,
               "date_from": args.get("from") or None, "date_to": args.get("to") or None}
    page = _page()
    errors: dict[str, str] = {}
    try:
        result = queries.outbox(db(), env(), actor(), status=status, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE,
                                **filters)
    except NotFound:
        abort(404)
    except ValidationError as exc:
        if "status" in exc.errors:
            abort(404)
        errors = dict(exc.errors)
        result = queries.outbox(db(), env(), actor(), status=status, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE,
                                patient_id=filters["patient_id"],
                                kind=None if "kind" in errors else filters["kind"])
    db().commit()
    link_args = {"status": status, "patient_id": filters["patient_id"], "kind": filters["kind"],
                 "from": filters["date_from"], "to": filters["date_to"]}
    return render_template("pages/messages.html", result=result, status=status or "", page=page,
                           statuses=("scheduled", "failed", "undelivered", "unknown", "suppressed", "delivered",
                                     "sent", "cancelled"),
                           kinds=queries.MESSAGE_KINDS, errors=errors, values={**link_args},
                           link_args={k: v for k, v in link_args.items() if v},
                           every_patient={k: v for k, v in link_args.items() if v and k != "patient_id"},
                           clinic_zone=env().rules.clinic.timezone, fix_url=_fix_url), 422 if errors else 200


def _fix_url(fix: queries.Fix) -> str:
    if fix.target == "edit_patient":
        return url_for("pages.edit_patient", patient_id=fix.patient_id)
    if fix.target == "episode" and fix.episode_id is not None:
        return url_for("pages.episode", episode_id=fix.episode_id,
                       _anchor=f"task-{fix.task_id}" if fix.task_id else "etasks-h")
    return url_for("pages.patient", patient_id=fix.patient_id, _anchor="tasks-h")


# --- user admin ----------------------------------------------------------------------------


@bp.route("/admin/users", methods=["GET", "POST"], endpoint="users")
@roles(Role.ADMIN)
def users_page() -> Any:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"role": Role.COORDINATOR}
    if request.method == "POST":
        values = _form("email", "name", "role")
        try:
            user = users.create_user(db(), env(), actor(), values.get("email") or "", values.get("role") or "",
                                     request.form.get("password") or "", values.get("name") or "")
        except ValidationError as exc:
            db().rollback()
            errors = exc.errors
        else:
            db().commit()
            log.info("user created user_id=%s", user.id)
            flash(f"Account created for {user.email}.", "success")
            return redirect(url_for("pages.users"))
    return render_template("admin/users.html", users=users.list_users(db(), actor()), errors=errors, values=values,
                           roles=ROLES, min_password=MIN_PASSWORD), (422 if errors else 200)


@bp.post("/admin/users/<int:user_id>/active")
@roles(Role.ADMIN)
def user_active(user_id: int) -> Any:
    active = request.form.get("active") == "yes"
    try:
        user = users.set_active(db(), env(), actor(), user_id, active)
    except ServiceError as exc:
        db().rollback()
        return _fail_action(exc, url_for("pages.users"))
    db().commit()
    flash(f"{user.email} {'reactivated' if active else 'deactivated'}.", "success")
    return redirect(url_for("pages.users"))


# --- API tokens (issue 13) ------------------------------------------------------------------


def _tokens_page(errors: dict[str, str], values: dict[str, Any], created: dict[str, Any] | None = None,
                 status: int = 200) -> Any:
    listed = users.list_tokens(db(), actor())
    now = env().now
    rows = [(t, users.token_state(t, now)) for t in listed]
    # The API serves the care team; an admin's token could reach nothing there.
    accounts = [(u.email, f"{u.email} ({u.role})") for u in users.list_users(db(), actor())
                if u.active and u.role in CARE_TEAM]
    return render_template("admin/tokens.html", rows=rows, errors=errors, values=values, created=created,
                           accounts=accounts, max_days=MAX_TOKEN_DAYS), status


@bp.route("/admin/tokens", methods=["GET", "POST"], endpoint="tokens")
@roles(Role.ADMIN)
def tokens_page() -> Any:
    """List, create and revoke API tokens. A new token's secret is shown on this answer only
    (never flashed: the flash would travel in the session cookie)."""
    default_days = runtime().config.web.api_token_days
    values: dict[str, Any] = {"expires_in_days": str(default_days)}
    if request.method == "GET":
        return _tokens_page({}, values)
    values = _form("email", "name", "expires_in_days")
    try:
        secret = users.create_token(db(), env(), actor(), values.get("email") or "", values.get("name") or "",
                                    values.get("expires_in_days") or None, default_days=default_days)
    except NotFound:
        db().rollback()
        return _tokens_page({"email": "pick an active account"}, values, status=422)
    except ValidationError as exc:
        db().rollback()
        return _tokens_page(exc.errors, values, status=422)
    db().commit()
    log.info("api token created by user_id=%s", actor().user_id)
    created = {"secret": secret, "name": (values.get("name") or "").strip(), "email": values.get("email")}
    return _tokens_page({}, {"expires_in_days": str(default_days)}, created, status=201)


@bp.post("/admin/tokens/<int:token_id>/revoke")
@roles(Role.ADMIN)
def token_revoke(token_id: int) -> Any:
    try:
        row = users.revoke_token(db(), env(), actor(), token_id)
    except ServiceError as exc:
        db().rollback()
        return _fail_action(exc, url_for("pages.tokens"))
    db().commit()
    flash(f"Token {row.prefix}... ({row.name}) is revoked; requests with it now answer 401.", "success")
    return redirect(url_for("pages.tokens"))


# --- patient edits (issue 10, "Editing after saving": the patient half) ----------------------

PATIENT_EDIT_FIELDS = ("given_name", "family_name", "phone", "timezone", "language", "detailed_texts", "sms_consent",
                       "consent_method")


def _patient_edit_data(form: Mapping[str, Any]) -> dict[str, Any]:
    """The edit form as the API's body: an unticked box is sent as false (a form leaves it out);
    the consent method only goes with consent, as the API requires."""
    data: dict[str, Any] = {n: form.get(n) or "" for n in PATIENT_EDIT_FIELDS}
    if not data["sms_consent"]:
        del data["consent_method"]
    return data


@bp.route("/patients/<int:patient_id>/edit", methods=["GET", "POST"])
@roles(*CARE_TEAM)
def edit_patient(patient_id: int) -> Any:
    """Two steps when texts change: preview what the edit does to them, then confirm the same values."""
    try:
        p = queries.load_patient(db(), actor(), patient_id)
    except NotFound:
        abort(404)
    values: dict[str, Any] = {
        "given_name": p.given_name, "family_name": p.family_name, "phone": filters.phone(p.phone),
        "timezone": p.timezone, "language": p.language, "detailed_texts": p.detailed_texts,
        "sms_consent": pt.consenting(p), "consent_method": p.sms_consent_method or "verbal"}
    errors: dict[str, str] = {}
    back = url_for("pages.patient", patient_id=patient_id)
    if request.method == "POST":
        values = _form(*PATIENT_EDIT_FIELDS)
        data = _patient_edit_data(values)
        confirm = request.form.get("confirm") == "yes"
        confirmed = {"confirm_holds_at_risk": True} if request.form.get("confirm_holds_at_risk") == "yes" else {}
        try:
            result = pt.update_patient(db(), env(), actor(), patient_id, {**data, **confirmed, **_version()},
                                       preview=not confirm)
            if not confirm and not result.texts and not result.diffs and not result.holds_at_risk:
                # nothing to confirm: apply it now
                result = pt.update_patient(db(), env(), actor(), patient_id, {**data, **_version()})
        except StaleVersion:
            db().rollback()
            p = queries.load_patient(db(), actor(), patient_id)
            conflict = _conflict(p, values, PATIENT_FIELDS_BY_LABEL)
            return render_template("patients/edit.html", p=p, values=values, errors={},
                                   zones=_patient_zones(p.timezone), consent_methods=CONSENT_METHODS,
                                   conflict=conflict), 409
        except ValidationError as exc:
            db().rollback()
            errors = exc.errors
        except ep.HoldsAtRisk:
            # Confirmed without ticking the holds box: show the preview again, with the warning.
            db().commit()  # the refusal's audit row
            result = pt.update_patient(db(), env(), actor(), patient_id, data, preview=True)
            db().commit()
            return render_template("patients/edit_preview.html", p=p, result=result, data=data,
                                   labels=_field_labels(),
                                   risk_error="Tick the box to confirm that these holds must be signed again."), 409
        except ServiceError as exc:
            db().rollback()
            return _fail_action(exc, back)
        else:
            db().commit()  # a preview stores only its audit row (a view of the plan), as the API's does
            if not result.applied:
                return render_template("patients/edit_preview.html", p=p, result=result, data=data,
                                       labels=_field_labels(), risk_error="")
            log.info("patient edited patient_id=%s fields=%s", p.id, ",".join(result.fields))
            flash(_edited_message(result), "success" if result.fields else "info")
            return redirect(back)
    queries.form_viewed(db(), env(), actor(), p, "edit")
    db().commit()
    return render_template("patients/edit.html", p=p, values=values, errors=errors, zones=_patient_zones(p.timezone),
                           consent_methods=CONSENT_METHODS), (422 if errors else 200)


def _field_labels() -> dict[str, str]:
    return {"given_name": "Given name", "family_name": "Family name", "phone": "Mobile phone",
            "timezone": "Time zone", "language": "Language of texts", "detailed_texts": "Detailed texts",
            "sms_consent": "Consent to texts", "consent_method": "How consent was given"}


def _patient_zones(current: str) -> list[str]:
    zones = _zones()
    return zones if current in zones else [*zones, current]


def _edited_message(result: pt.PatientUpdate) -> str:
    if not result.fields:
        return "Nothing changed."
    labels = _field_labels()
    said = "Saved: " + ", ".join(labels[f].lower() if i else labels[f] for i, f in enumerate(result.fields)) + "."
    if result.suppressed:
        said += f" {result.suppressed} text{'s' if result.suppressed != 1 else ''} not yet sent will not be sent."
    elif result.texts:
        said += f" {len(result.texts)} text{'s' if len(result.texts) != 1 else ''} changed (time or words)."
    if result.enrolment_text:
        said += " The enrolment text (clinic name, STOP/HELP) is queued."
    return said


# --- outcomes (issue 12) ---------------------------------------------------------------------

OUTCOME_FILTERS = ("from", "to", "proceduralist", "facility")
CSV_PARTS = ("time_points", "process")


def _outcome_args() -> dict[str, str]:
    return {name: request.args.get(name, "") for name in OUTCOME_FILTERS if request.args.get(name)}


def _outcome_charts(report: outcomes_report.OutcomesReport) -> list[charts.Chart]:
    rows = report.time_points
    names = [t.time_point for t in rows]
    improved = next((p for p in report.published if p.compare == "responders_pct"), None)
    pain_drop = next((p for p in report.published if p.compare == "nprs_median_change_pct"), None)
    mobility = next((p for p in report.published if p.compare == "walk_median_change_pct"), None)

    def responders(code: str) -> charts.Series:
        label = {"nprs": "Pain (NPRS)", "walk_minutes": "Walking", "odi": "Disability (ODI)"}[code]
        return charts.Series(label, [t.measures[code].responders.pct for t in rows],
                             [t.measures[code].responders.ci95 for t in rows])

    def change(code: str, label: str) -> charts.Series:
        return charts.Series(label, [t.measures[code].median_change_pct for t in rows],
                             [t.measures[code].median_change_pct_ci95 for t in rows])

    changes = [v for t in rows for code in ("nprs", "walk_minutes")
               for v in (t.measures[code].median_change_pct, *(t.measures[code].median_change_pct_ci95 or ()))
               if v is not None]
    top = max([100.0, *changes])
    top = float(-(-top // 50) * 50)
    return [
        charts.Chart(
            "chart-responders", "Responders at each time point, with 95% intervals",
            "The share of episodes that responded, for pain, walking and disability, with the 95% Wilson interval "
            "of each share, against the share of patients who improved on clinic pages.",
            names, [responders("nprs"), responders("walk_minutes"), responders("odi")], 0, 100, 20, "%",
            [charts.Reference(improved.value, f"{improved.source}: {improved.figure} improved")] if improved else []),
        charts.Chart(
            "chart-change", "Median change from baseline: pain and walking, with 95% intervals",
            "The median change from each episode's own baseline, in percent, for pain (lower is better) and "
            "walking minutes (higher is better), with the 95% interval of each median (none below 6 episodes), "
            "against the figures clinic pages quote.",
            names, [change("nprs", "Pain (NPRS)"), change("walk_minutes", "Walking")], -100, top, 50, "%",
            [charts.Reference(p.value, f"{p.source}: {p.figure} {p.measure.lower()}")
             for p in (pain_drop, mobility) if p is not None]),
    ]


@bp.route("/outcomes")
@roles(Role.CLINICIAN, Role.ADMIN)
def outcomes() -> Any:
    args = _outcome_args()
    try:
        report = outcomes_report.outcomes_report(db(), env(), actor(), args, with_choices=True)
    except ValidationError as exc:
        db().rollback()
        report, errors = None, exc.errors
        # The refused filters are still a view of the report page: audited with what was asked.
        outcomes_report.audit_refused(db(), env(), actor(), args)
        db().commit()
    else:
        errors = {}
        db().commit()
    figures = [(c, charts.render(c)) for c in _outcome_charts(report)] if report is not None else []
    return render_template("pages/outcomes.html", report=report, errors=errors, values=args, figures=figures,
                           definitions=outcomes_report.DEFINITIONS, data=outcomes_report.report_data(),
                           csv_args={k: v for k, v in args.items() if k in OUTCOME_FILTERS}), (422 if errors else 200)


def _csv_refused(errors: dict[str, str]) -> Response:
    """A download whose filters are refused: 422, in words, naming each filter and what to fix
    (a browser shows it in place of the file)."""
    lines = [f"{field}: {message}" for field, message in errors.items()]
    return Response("The CSV was not made. Check the filters:\n" + "\n".join(lines) + "\n", 422,
                    mimetype="text/plain")


@bp.route("/outcomes.csv")
@roles(Role.CLINICIAN, Role.ADMIN)
def outcomes_csv() -> Any:
    args = _outcome_args()
    part = request.args.get("part") or "time_points"
    if part not in CSV_PARTS:
        return _csv_refused({"part": f"must be one of {', '.join(CSV_PARTS)}"})
    try:
        report = outcomes_report.outcomes_report(db(), env(), actor(), args, export=True)
    except ValidationError as exc:
        db().rollback()
        outcomes_report.audit_refused(db(), env(), actor(), args)
        db().commit()
        return _csv_refused(exc.errors)
    db().commit()
    body = outcomes_report.csv_text(report, part)
    name = f"outcomes-{part.replace('_', '-')}-{report.as_of.date().isoformat()}.csv"
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'})
