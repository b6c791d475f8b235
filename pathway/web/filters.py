"""Jinja filters: times in the clinic's zone (and the patient's where it differs), labels, badges.

Every status badge carries an icon and a word, so nothing is told by colour alone.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask
from markupsafe import Markup, escape

from pathway.schemas.fields import format_phone, phone_kind
from pathway.timeline.texts import plural
from pathway.web.context import runtime

# status -> (bootstrap colour, icon, label)
BADGES: dict[str, tuple[str, str, str]] = {
    # milestones
    "planned": ("secondary", "clock", "Planned"),
    "due": ("warning", "exclamation-circle", "Due"),
    "done": ("success", "check-circle-fill", "Done"),
    "missed": ("danger", "x-octagon", "Missed"),
    "cancelled": ("light", "slash-circle", "Cancelled"),
    "overdue": ("danger", "exclamation-triangle-fill", "Overdue"),
    # messages
    "scheduled": ("info", "clock", "Scheduled"),
    "sending": ("info", "arrow-repeat", "Sending"),
    "sent": ("primary", "send", "Sent"),
    "delivered": ("success", "check2-all", "Delivered"),
    "undelivered": ("danger", "x-circle", "Undelivered"),
    "failed": ("danger", "x-circle-fill", "Failed"),
    "suppressed": ("light", "slash-circle", "Suppressed"),
    "unknown": ("warning", "question-circle-fill", "Unknown"),
    # holds
    "needed": ("warning", "hourglass", "Clearance needed"),
    "requested": ("info", "telephone-outbound", "Requested"),
    "approved": ("success", "check-circle-fill", "Approved"),
    "declined": ("secondary", "dash-circle", "Declined: keep taking"),
    "not_required": ("secondary", "dash-circle", "Not required"),
    # board
    "pending": ("secondary", "clock", "Pending"),
    "n/a": ("light", "dash", "n/a"),
    "unbooked": ("warning", "calendar-x", "Not booked"),
    "booked_in_window": ("success", "calendar-check", "Booked in window"),
    "booked_out_of_window": ("warning", "calendar-event", "Booked outside window"),
    "booked": ("success", "calendar-check", "Booked"),
    "not_due": ("light", "dash", "Not due yet"),
    # episodes
    "completed": ("success", "check-circle", "Procedure done"),
    # worklist kinds
    "red_flag": ("danger", "exclamation-octagon-fill", "Red flag"),
    "hold_unresolved": ("warning", "capsule", "Hold"),
    "text_failed": ("danger", "chat-square-x", "Text failed"),
    "text_unknown": ("warning", "chat-square-dots", "Text unknown"),
    "follow_up_unbooked": ("warning", "calendar-x", "Follow-up"),
    "milestone_overdue": ("danger", "alarm", "Overdue step"),
    "opted_out": ("secondary", "bell-slash", "Opted out"),
    "task": ("info", "list-check", "Task"),
    "unmatched_reply": ("warning", "question-octagon", "Unknown sender"),
    "hold_not_stopped": ("danger", "capsule-pill", "Not stopped"),
    "stop_unconfirmed": ("warning", "telephone-outbound", "Stop unconfirmed"),
    "pain_high": ("danger", "activity", "High pain"),
    "answer_unread": ("info", "chat-square-text", "Answer to read"),
    # roles
    "coordinator": ("primary", "person-badge", "Coordinator"),
    "clinician": ("success", "heart-pulse", "Clinician"),
    "admin": ("dark", "shield-lock", "Admin"),
}


def badge(status: str | None, label: str | None = None) -> Markup:
    fallback = ("secondary", "circle", (status or "").replace("_", " ").capitalize())
    colour, icon, text = BADGES.get(status or "", fallback)
    text_class = "text-dark" if colour in ("warning", "light", "info") else ""
    border = " border" if colour == "light" else ""
    return Markup(
        f'<span class="badge rounded-pill text-bg-{colour} {text_class}{border} status-badge">'
        f'<i class="bi bi-{icon}" aria-hidden="true"></i> {escape(label or text)}</span>'
    )


def _clinic_tz() -> ZoneInfo:
    return ZoneInfo(runtime().config.clinic.timezone)


def _fmt(dt: datetime, tz: ZoneInfo, with_date: bool = True) -> str:
    local = dt.astimezone(tz)
    clock = local.strftime("%H:%M")
    zone = local.tzname() or ""
    if not with_date:
        return f"{clock} {zone}"
    return f"{local:%a} {local.day} {local:%b %Y}, {clock} {zone}"


def clinic_time(dt: datetime | None, patient_tz: str | None = None) -> Markup:
    """'Wed 10 Mar 2027, 08:00 EST' in the clinic's zone; adds the patient's time when it differs."""
    if dt is None:
        return Markup('<span class="text-body-secondary">not set</span>')
    tz = _clinic_tz()
    main = _fmt(dt, tz)
    html = f'<time datetime="{dt.isoformat()}">{escape(main)}</time>'
    if patient_tz and patient_tz != tz.key:
        ptz = ZoneInfo(patient_tz)
        if dt.astimezone(ptz).utcoffset() != dt.astimezone(tz).utcoffset():
            local = dt.astimezone(ptz)
            other = _fmt(dt, ptz, with_date=local.date() != dt.astimezone(tz).date())
            html += f' <span class="text-body-secondary small">(patient: {escape(other)})</span>'
    return Markup(html)


def patient_time(dt: datetime | None, patient_tz: str) -> Markup:
    """'Mon 1 Feb 2027, 09:00 CST' on the patient's clock, then the clinic's when it differs:
    a conversation is read as the patient lived it."""
    if dt is None:
        return Markup('<span class="text-body-secondary">not set</span>')
    ptz, tz = ZoneInfo(patient_tz), _clinic_tz()
    html = f'<time datetime="{dt.isoformat()}">{escape(_fmt(dt, ptz))}</time>'
    if dt.astimezone(ptz).utcoffset() != dt.astimezone(tz).utcoffset():
        other = _fmt(dt, tz, with_date=dt.astimezone(tz).date() != dt.astimezone(ptz).date())
        html += f' <span class="text-body-secondary">(clinic: {escape(other)})</span>'
    return Markup(html)


def when(dt: datetime | None, patient_tz: str | None = None) -> Markup:
    """Like clinic_time, but a moment at midnight in the patient's zone is a whole day: shown as a date."""
    if dt is not None and patient_tz:
        local = dt.astimezone(ZoneInfo(patient_tz))
        if local.hour == 0 and local.minute == 0:
            return Markup(f'<time datetime="{local.date().isoformat()}">{escape(clinic_date(local.date()))}</time>')
    return clinic_time(dt, patient_tz)


def window(start: datetime | None, end: datetime | None, patient_tz: str) -> str:
    """A window of whole days in the patient's zone: its end is exclusive midnight, so show the day before."""
    if start is None or end is None:
        return ""
    tz = ZoneInfo(patient_tz)
    first = start.astimezone(tz)
    last = end.astimezone(tz)
    last_day = last.date() - timedelta(days=1) if (last.hour, last.minute) == (0, 0) else last.date()
    return f"{clinic_date(first.date())} to {clinic_date(last_day)}"


def clinic_date(value: date | datetime | None) -> str:
    if value is None:
        return "not set"
    if isinstance(value, datetime):
        value = value.astimezone(_clinic_tz()).date()
    return f"{value:%a} {value.day} {value:%b %Y}"


def local_input(dt: datetime | None, tz_name: str) -> str:
    """The value for a datetime-local input, as wall time in ``tz_name``."""
    if dt is None:
        return ""
    return dt.astimezone(ZoneInfo(tz_name)).strftime("%Y-%m-%dT%H:%M")


def humanise(value: str | None) -> str:
    return (value or "").replace("_", " ")


def sentence(value: str | None) -> str:
    """First letter upper case, the rest as written ('heparin IV' -> 'Heparin IV')."""
    text = humanise(value)
    return text[:1].upper() + text[1:]


def message_label(kind: str | None) -> str:
    """What staff call a text of this kind ('last_dose' -> the pathway definition's label)."""
    try:
        return runtime().rules.definition.message_label(kind or "")
    except KeyError:
        return humanise(kind) + " text"


def phone(value: str | None) -> str:
    return format_phone(value) if value else ""


def zone_time(dt: datetime | None, tz_name: str) -> str:
    """'Tue 9 Mar 2027, 10:00 CST': the moment in one given zone (a patient's, before or after an edit)."""
    return _fmt(dt, ZoneInfo(tz_name)) if dt is not None else ""


def input_zone(patient_tz: str) -> str:
    """What a date-time input on a patient's pages takes: the patient's zone, named, and the
    clinic's when it differs, so nobody types clinic time into a patient-time field."""
    clinic = _clinic_tz().key
    said = f"In the patient's time zone ({patient_tz.replace('_', ' ')})"
    if patient_tz != clinic:
        said += f", not the clinic's ({clinic.replace('_', ' ')})"
    return said


def mrn(value: str | None) -> str:
    """'MRN 100206' for a record number, however the hospital writes it: a number stored with its
    own 'MRN' prefix ('MRN100206') is not shown as 'MRN MRN100206'."""
    text = (value or "").strip()
    if text[:3].upper() == "MRN":
        text = text[3:].lstrip(" :#-")
    return f"MRN {text}"


# What a form calls each field (its label), so an error never shows an internal name.
FIELD_LABELS: dict[str, str] = {
    "mrn": "MRN", "given_name": "Given name", "family_name": "Family name", "birth_date": "Date of birth",
    "phone": "Mobile phone", "timezone": "Patient's time zone", "language": "Language of texts",
    "sms_consent": "Consent to texts", "consent_method": "How consent was given",
    "detailed_texts": "Detailed texts", "procedure_at": "Procedure date and time",
    "duration_minutes": "Expected length (minutes)", "levels": "Levels", "facility": "Facility",
    "facility_address": "Facility address line", "proceduralist": "Proceduralist", "arrival_at": "Arrival time",
    "mri_reviewed_on": "Lumbar MRI reviewed on", "tried_pt": "Physical therapy", "tried_medication": "Medication",
    "tried_injections": "Epidural steroid injections", "escort_arranged": "Escort / driver arranged",
    "holds": "Blood thinners to hold", "drug": "Drug", "drug_other": "Other drug", "prescriber_name": "Prescriber",
    "prescriber_phone": "Prescriber's phone", "patient_label": "What the patient calls it",
    "crcl": "CrCl (mL/min)", "status": "Prescriber's answer", "by": "Answered by", "note": "Note",
    "stop_days": "Stop days", "stop_hours": "Stop hours", "restart_hours": "Restart hours",
    "value": "INR", "ended_at": "Procedure end", "appointment_at": "Appointment date and time",
    "reason": "Reason", "resolution": "What was done", "body": "Text", "email": "Email", "name": "Name",
    "password": "Password", "role": "Role", "expires_in_days": "Expires in (days)", "active": "Active",
    "confirm_holds_at_risk": "Confirm the holds", "confirm_outside_window": "Confirm outside the window",
    "arranged": "Escort arranged", "version": "Record version", "file": "File", "row": "Row",
}
_INDEXED = re.compile(r"^holds?[-.\[](\d+)\]?[-.](\w+)$")
_NAMES = re.compile(r"\b(" + "|".join(sorted((k for k in FIELD_LABELS if "_" in k), key=len, reverse=True)) + r")\b")


def field_label(name: str | None) -> str:
    """The label of a field by its name ('birth_date' -> 'Date of birth', 'hold-0-drug' -> 'Drug 1: Drug')."""
    key = name or ""
    if key in FIELD_LABELS:
        return FIELD_LABELS[key]
    indexed = _INDEXED.match(key)
    if indexed:
        return f"Drug {int(indexed.group(1)) + 1}: {field_label(indexed.group(2))}"
    return sentence(key.replace("-", " "))


# Messages written for the API's callers ("send it with sms_consent: true"), as a form says them.
_FORM_WORDS = {
    "send it with sms_consent: true": "tick \u201cThe patient agrees to receive texts\u201d first: this says how "
                                      "that consent was given",
}


def error_text(message: str | None) -> str:
    """An error message with any field name in it written as its label ('give stop_days or
    stop_hours' -> 'give “Stop days” or “Stop hours”')."""
    text = message or ""
    for api_words, form_words in _FORM_WORDS.items():
        if text.startswith(api_words):
            return form_words
    return _NAMES.sub(lambda m: f"\u201c{FIELD_LABELS[m.group(1)]}\u201d", text)


# What staff call each kind of task (the worklist's and the episode page's words).
TASK_LABELS: dict[str, str] = {
    "red_flag": "Red flag", "reply": "Reply to read", "stop_request": "Asked to stop texts",
    "opted_out": "Opted out", "send_failed": "Text failed", "text_undelivered": "Text not delivered",
    "phone_invalid": "Number refused", "reconcile_unknown": "Text outcome unknown",
    "sms_config": "Texting set-up", "hold_at_risk": "Hold to sign again",
    "restart_after_cancel": "Restart call (cancelled)", "restart_after_removal": "Restart call (hold removed)",
    "restart_after_postpone": "Restart call (postponed)", "unmatched_reply": "Reply from an unknown number",
    "hold_not_stopped": "Medicine not stopped", "stop_unconfirmed": "Stop not confirmed",
    "pain_high": "High pain", "answer_unread": "Answer to read", "notice_too_late": "Call about the change",
}


def task_label(kind: str | None) -> str:
    return TASK_LABELS.get(kind or "", sentence(kind))


def phone_type(value: str | None) -> str:
    """'mobile', 'landline', 'VoIP'...: the number's type in its own country's plan."""
    return phone_kind(value).label if value else ""


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        badge=badge, clinic_time=clinic_time, when=when, window=window, clinic_date=clinic_date,
        local_input=local_input, humanise=humanise, sentence=sentence, phone=phone,
        message_label=message_label, zone_time=zone_time, patient_time=patient_time,
        plural=plural, mrn=mrn, field_label=field_label, error_text=error_text, task_label=task_label,
        phone_type=phone_type, input_zone=input_zone, phone_kind=lambda v: phone_kind(v or ""),
    )
    app.jinja_env.globals.update(badge=badge)
