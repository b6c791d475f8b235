"""Every request body, form and query of the API and the pages, each field declared once."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from pathway.schemas.base import InputModel
from pathway.schemas.fields import (
    AddressLine,
    Day,
    DrugText,
    Email,
    Flag,
    Inr,
    LocalInstant,
    MobilePhone,
    Mrn,
    Note,
    NullableLocalInstant,
    OptionalDay,
    OptionalLocalInstant,
    OptionalName,
    OptionalPhone,
    PatientLabel,
    PersonName,
    RequiredReason,
    Result,
    ShortText,
    SmsText,
    Text,
    Zone,
    choice_reader,
    choice_schema,
    context,
    count_reader,
    count_schema,
    fail,
    name_reader,
    password_reader,
)
from pathway.schemas.vocab import BOARD_FILTERS, CLEARANCE_ANSWERS, CONSENT_METHODS, LANGUAGES, ROLES
from pathway.timeline import AmbiguousDrug
from pathway.timeline.vocabulary import OUTCOME_MEASURES, TIME_POINTS, ObservationCode, ObservationSource

# Plausibility bounds on dates people type (not clinical rules): no patient was born before 1900,
# and no procedure is booked more than two years ahead.
EARLIEST_BIRTH = date(1900, 1, 1)
PROCEDURE_HORIZON = timedelta(days=731)
# The longest hold interval anyone may enter (a sanity bound, not a clinical default).
MAX_STOP_DAYS = 60
MAX_INTERVAL_HOURS = 24 * 30

StopDays = Annotated[int | None, BeforeValidator(count_reader(0, MAX_STOP_DAYS)), count_schema(0, MAX_STOP_DAYS)]
# Creatinine clearance (Cockcroft-Gault), mL/min: a person's value lies well inside these bounds.
CrCl = Annotated[int | None, BeforeValidator(count_reader(1, 250)), count_schema(1, 250)]
IntervalHours = Annotated[int | None, BeforeValidator(count_reader(0, MAX_INTERVAL_HOURS)),
                          count_schema(0, MAX_INTERVAL_HOURS)]
# Optimistic concurrency: the ``version`` of the record a change was made from (every patient and
# episode answer carries it, and its ETag). Absent: no check. Older than the stored one: 409.
MAX_VERSION = 2**31 - 1
Version = Annotated[int | None, BeforeValidator(count_reader(1, MAX_VERSION)), count_schema(1, MAX_VERSION)]


def version_field(record: str) -> Any:
    return Field(None, description=f"the {record}'s `version` this change was made from (as its last answer "
                                   f"carried it, or send `If-Match` with its ETag): if the {record} has changed "
                                   f"since, the answer is 409 and nothing changes; leave it out to skip the check")


DurationMinutes = Annotated[int | None, BeforeValidator(count_reader(10, 480)), count_schema(10, 480)]
Language = Annotated[str, BeforeValidator(choice_reader(LANGUAGES, default="en")), choice_schema(LANGUAGES)]
ConsentMethod = Annotated[str | None, BeforeValidator(choice_reader(CONSENT_METHODS, default="verbal")),
                          choice_schema(CONSENT_METHODS)]
ClearanceAnswer = Annotated[str, BeforeValidator(choice_reader(CLEARANCE_ANSWERS)), choice_schema(CLEARANCE_ANSWERS)]


# --- patients -------------------------------------------------------------------------------


class PatientIn(InputModel):
    """Enrolment. Without ``timezone`` the clinic's zone is used."""

    mrn: Mrn
    given_name: PersonName
    family_name: PersonName
    birth_date: Day
    phone: MobilePhone
    timezone: Zone = Field("", description="IANA zone, e.g. America/Chicago (default: the clinic's)")
    language: Language = "en"
    sms_consent: Flag = False
    consent_method: ConsentMethod = None
    detailed_texts: Flag = False

    @field_validator("mrn")
    @classmethod
    def _unique_mrn(cls, mrn: str, info: ValidationInfo) -> str:
        taken = context(info).mrn_taken
        if mrn and taken is not None and taken(mrn):
            raise fail(f"a patient with MRN {mrn} is already enrolled")
        return mrn

    @field_validator("birth_date")
    @classmethod
    def _born(cls, birth: date, info: ValidationInfo) -> date:
        now = context(info).now
        if now is not None and birth > (now + timedelta(hours=14)).date():  # today, wherever the patient is
            raise fail("is in the future")
        if birth < EARLIEST_BIRTH:
            raise fail(f"is before {EARLIEST_BIRTH.year}; check the year")
        return birth

    @field_validator("consent_method", mode="wrap")
    @classmethod
    def _method_only_with_consent(cls, raw: Any, handler: Any, info: ValidationInfo) -> str | None:
        if not info.data.get("sms_consent"):
            return None  # no consent, no method (whatever the form's default says)
        method: str | None = handler(raw)
        return method


class ConsentIn(InputModel):
    consent_method: Annotated[str, BeforeValidator(choice_reader(CONSENT_METHODS)), choice_schema(CONSENT_METHODS)]


# --- episodes -------------------------------------------------------------------------------


class HoldPlan(InputModel):
    """A hold's interval as a person enters it; at most one way to say when to stop."""

    stop_days: StopDays = None
    stop_hours: IntervalHours = None
    restart_hours: IntervalHours = None

    @field_validator("stop_hours")
    @classmethod
    def _one_way_to_stop(cls, stop_hours: int | None, info: ValidationInfo) -> int | None:
        if stop_hours is not None and info.data.get("stop_days") is not None:
            raise fail("give stop_days or stop_hours, not both")
        return stop_hours

    @property
    def entered(self) -> bool:
        return self.stop_days is not None or self.stop_hours is not None


class HoldIn(HoldPlan):
    drug: DrugText = Field(description="the catalogue key (lowercase generic name, e.g. clopidogrel, "
                                       "aspirin-primary), a brand name or a common misspelling (Coumadin, "
                                       "xeralto; any case, a trailing dose is ignored), answered as the generic "
                                       "key; any other text is a drug with no default that a clinician must plan")
    prescriber_name: OptionalName = ""
    prescriber_phone: OptionalPhone = ""
    crcl_ml_min: CrCl = Field(None, description="creatinine clearance, mL/min: drugs whose hold depends on "
                                                "renal function (dabigatran) follow the catalogue's bands")
    patient_label: PatientLabel = Field("", description="what the patient calls this medicine (\"Plavix\", "
                                                        "\"the small white pill\"), at most 40 characters; "
                                                        "texts name the medicine by it")

    @field_validator("drug")
    @classmethod
    def _known_once(cls, drug: str, info: ValidationInfo) -> str:
        ctx = context(info)
        key = drug.lower()
        found = None
        if ctx.catalogue is not None:
            try:
                found = ctx.catalogue.find(key)
            except AmbiguousDrug as exc:
                raise fail(str(exc)) from None
            if found is not None:
                key = found.key  # "Coumadin" and "warfarin" are the same drug, listed twice
        if key in ctx.drugs_seen:
            raise fail(f"{drug} is listed twice")
        if found is not None:
            # Two regimens of one drug (aspirin for primary and for secondary prevention) are one
            # medicine to the patient, and their texts would read the same: hold it once.
            medicine = f"medicine:{found.text_name('en').casefold()}"
            if medicine in ctx.drugs_seen:
                raise fail(f"{drug} is {found.text_name('en')}, already listed: a patient takes one "
                           f"{found.text_name('en')}; keep only the regimen that applies")
            ctx.drugs_seen.add(medicine)
        ctx.drugs_seen.add(key)
        return drug


class VersionIn(InputModel):
    """The ``version`` alone, read before the rest of a body (a stale one is a 409 whatever else is wrong)."""

    version: Version = version_field("record")


class HoldAddIn(HoldIn):
    """The body of ``POST /episodes/<id>/holds``: a hold as in scheduling, and the episode's version."""

    version: Version = version_field("episode")


def _hold_list(raw: Any) -> Any:
    if raw is None or raw == "":
        return []
    if not isinstance(raw, list | tuple):
        raise fail("must be a list of {drug, prescriber_name, prescriber_phone}")
    return raw


def _in_future(at: datetime, info: ValidationInfo, what: str) -> datetime:
    """A procedure time must lie ahead of the injected ``now`` (when the context has one), and
    not more than ``PROCEDURE_HORIZON`` ahead (2100 for 2027 is a slip, not a booking)."""
    now = context(info).now
    if now is not None and at <= now:
        raise fail(f"is in the past; enter {what}")
    if now is not None and at > now + PROCEDURE_HORIZON:
        raise fail(f"is more than two years ahead; check the year of {what}")
    return at


class EpisodeDetails(InputModel):
    """An episode's details and candidacy items: declared once, for scheduling (EpisodeIn) and
    for changing them after saving (RescheduleIn, the PATCH body)."""

    facility: Text = ""
    facility_address: AddressLine = Field(
        "", description="the facility's address line as the patient reads it in the day-before text (one line); "
                        "with the facility's name it may take `[procedure_day] place_max_chars` (40) characters "
                        "(\"name, address\"), else 422; no word that tells what the visit is for unless the patient "
                        "chose detailed texts")
    arrival_at: NullableLocalInstant = Field(
        None, description="when the patient should arrive (before the procedure, at most "
                          "`[procedure_day] arrival_max_minutes_before` ahead of it); null or absent: the pathway's "
                          "default lead (`arrival_minutes_before`)")
    proceduralist: OptionalName = ""
    levels: ShortText = ""
    mri_reviewed_on: OptionalDay = None
    tried_pt: Flag = False
    tried_medication: Flag = False
    tried_injections: Flag = False
    escort_arranged: Flag = False


# The fields of EpisodeDetails, in the order a person reads them.
EPISODE_DETAILS = tuple(EpisodeDetails.model_fields)


class EpisodeIn(EpisodeDetails):
    procedure_at: LocalInstant
    duration_minutes: DurationMinutes = None
    holds: Annotated[list[HoldIn], BeforeValidator(_hold_list)] = Field(default_factory=list)

    @field_validator("procedure_at")
    @classmethod
    def _ahead(cls, at: datetime, info: ValidationInfo) -> datetime:
        return _in_future(at, info, "the scheduled date and time of the procedure")


class RescheduleIn(EpisodeDetails):
    """The PATCH of an episode: move the procedure (``procedure_at``) and/or change its details
    and candidacy items. Only the fields sent change (``sent``); at least one must be sent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    procedure_at: OptionalLocalInstant = Field(None, description="the new date and time of the procedure")
    confirm_holds_at_risk: Flag = Field(
        False, description="true: apply a move that breaks signed holds (each goes back to `requested` and must be "
                           "answered and signed again); without it such a move answers 409 with `holds_at_risk`")
    version: Version = version_field("episode")
    _sent: frozenset[str] = PrivateAttr(default=frozenset())

    @model_validator(mode="wrap")
    @classmethod
    def _remember_sent(cls, data: Any, handler: Any) -> Any:
        """Which fields the request carries: a PATCH changes those and leaves the rest."""
        model = handler(data)
        if isinstance(data, Mapping):
            changes = CHANGEABLE & set(data)
            if not changes:
                raise fail(f"send at least one field to change: {', '.join(sorted(CHANGEABLE))}")
            model._sent = frozenset(changes)
        return model

    @field_validator("procedure_at")
    @classmethod
    def _ahead(cls, at: datetime | None, info: ValidationInfo) -> datetime | None:
        return None if at is None else _in_future(at, info, "the new date and time of the procedure")

    @property
    def sent(self) -> frozenset[str]:
        """The fields to change (``procedure_at`` and the episode's details)."""
        return self._sent


# What a PATCH of an episode may change.
CHANGEABLE = frozenset({"procedure_at", *EPISODE_DETAILS})


class ProcedureEndIn(InputModel):
    ended_at: LocalInstant
    version: Version = version_field("episode")

    @field_validator("ended_at")
    @classmethod
    def _over(cls, at: datetime, info: ValidationInfo) -> datetime:
        now = context(info).now
        if now is not None and at > now:
            raise fail("is in the future; record the end once the procedure is over")
        return at


class AppointmentIn(InputModel):
    appointment_at: LocalInstant
    confirm_outside_window: Flag = Field(
        False, description="a follow-up visit outside its day 7-10 window is booked only with this set to true")
    version: Version = version_field("episode")


class CancelIn(InputModel):
    reason: RequiredReason = Field(description="why the procedure is cancelled (required; kept with the episode)")
    version: Version = version_field("episode")


class MilestoneCompleteIn(InputModel):
    result: Result = None
    version: Version = version_field("episode")


class ClearanceIn(HoldPlan):
    """A coordinator or clinician records ``requested``. ``approved``, ``declined`` and
    ``not_required`` (the prescriber's answer, named in ``by``) and any change to the intervals
    need a clinician: the call also signs the hold plan."""

    status: ClearanceAnswer
    by: OptionalName = Field("", description="the prescriber who answered (required for approved and declined)")
    note: Note = ""
    version: Version = version_field("episode")

    @field_validator("by")
    @classmethod
    def _answered_by(cls, by: str, info: ValidationInfo) -> str:
        if not by and info.data.get("status") in ("approved", "declined"):
            raise fail("required")
        return by


class InrIn(InputModel):
    value: Inr
    measured_at: OptionalLocalInstant = None
    version: Version = version_field("episode")

    @field_validator("measured_at")
    @classmethod
    def _measured(cls, at: datetime | None, info: ValidationInfo) -> datetime | None:
        now = context(info).now
        if at is None:
            return now
        if now is not None and at > now:
            raise fail("is in the future")
        return at


# --- staff accounts -------------------------------------------------------------------------

# The shortest password a staff account may have.
MIN_PASSWORD = 10
Password = Annotated[str, BeforeValidator(password_reader(MIN_PASSWORD)),
                     WithJsonSchema({"type": "string", "minLength": MIN_PASSWORD, "writeOnly": True})]
StaffRole = Annotated[str, BeforeValidator(choice_reader(ROLES)), choice_schema(ROLES)]


class UserIn(InputModel):
    """A new staff account (the admin page's form and ``pathway user create``)."""

    email: Email
    role: StaffRole
    password: Password
    name: OptionalName = ""

    @field_validator("email")
    @classmethod
    def _unique_email(cls, email: str, info: ValidationInfo) -> str:
        taken = context(info).email_taken
        if taken is not None and taken(email):
            raise fail(f"{email} already has an account")
        return email


class PasswordIn(InputModel):
    """A new password for an existing account (``pathway user set-password``)."""

    password: Password


# The longest an API token may live, in days (``[web] api_token_days`` is the default).
MAX_TOKEN_DAYS = 365
TokenName = Annotated[str, BeforeValidator(name_reader(60, required=True)),
                     WithJsonSchema({"type": "string", "maxLength": 60})]


class TokenIn(InputModel):
    """A new API token (``pathway token create`` and the admin's API tokens page)."""

    name: TokenName = Field(description="what the token is for, e.g. \"EHR nightly sync\"")
    expires_in_days: Annotated[int | None, BeforeValidator(count_reader(1, MAX_TOKEN_DAYS)),
                               count_schema(1, MAX_TOKEN_DAYS)] = None


# --- calendar feeds (issue 14) ---------------------------------------------------------------

FEED_KINDS = ("proceduralist", "facility")
FeedName = Annotated[str, BeforeValidator(name_reader(200, required=True)),
                     WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 200})]


class CalendarFeedIn(InputModel):
    """A staff calendar feed: one proceduralist's or one facility's procedures and visits."""

    kind: Annotated[str, BeforeValidator(choice_reader(FEED_KINDS)), choice_schema(FEED_KINDS)]
    name: FeedName = Field(description="the proceduralist or facility exactly as episodes spell it")


# --- queries --------------------------------------------------------------------------------

Limit = Annotated[int | None, BeforeValidator(count_reader(1, 500)), count_schema(1, 500)]
Offset = Annotated[int | None, BeforeValidator(count_reader(0, 10_000_000)), count_schema(0, 10_000_000)]
_board_filter = choice_reader(("all", *BOARD_FILTERS))
BoardFilter = Annotated[str | None, BeforeValidator(lambda raw: None if raw in (None, "") else _board_filter(raw)),
                        choice_schema(("all", *BOARD_FILTERS))]


class HoldsQuery(InputModel):
    status: Literal["unsigned"] = Field(description="`unsigned`: clearance requested, or approved by the "
                                                    "prescriber and not yet signed by a clinician")


class WorklistQuery(InputModel):
    limit: Limit = Field(None, description="rows to return (default 200)")

    @property
    def rows(self) -> int:
        return 200 if self.limit is None else self.limit


class _Paged(InputModel):
    """A list query's page: `limit` rows (DEFAULT_ROWS when not given) after skipping `offset`."""

    DEFAULT_ROWS: ClassVar[int] = 200
    limit: Limit = None
    offset: Offset = None

    @property
    def rows(self) -> int:
        return self.DEFAULT_ROWS if self.limit is None else self.limit

    @property
    def skip(self) -> int:
        return 0 if self.offset is None else self.offset


class BoardQuery(_Paged):
    status: BoardFilter = Field(None, description="only rows in this state, e.g. overdue")
    proceduralist: Text = Field(
        "", description="only this proceduralist's episodes (capitals ignored: 'dr. lee' is 'Dr. Lee')")
    limit: Limit = Field(None, description="rows to return (default 200)")
    offset: Offset = Field(None, description="rows to skip (default 0)")


class OutcomesQuery(InputModel):
    """The filters of the outcomes report (``GET /reports/outcomes``, the Outcomes page and its CSV):
    procedures whose date (in the clinic's time zone) lies from ``from`` to ``to``, both included."""

    from_: OptionalDay = Field(None, alias="from", description="first procedure date to include (YYYY-MM-DD)")
    to: OptionalDay = Field(None, description="last procedure date to include (YYYY-MM-DD)")
    proceduralist: Text = Field("", description="only this proceduralist's procedures")
    facility: Text = Field("", description="only procedures at this facility")

    @field_validator("to")
    @classmethod
    def _not_before_from(cls, value: date | None, info: ValidationInfo) -> date | None:
        first = info.data.get("from_")
        if value is not None and first is not None and value < first:
            raise fail(f"is before from ({first.isoformat()}); give the last procedure date to include")
        return value
class PatientsQuery(_Paged):
    q: Text = Field("", description="a name in any case, with or without accents (\"Ana Ruiz\", \"Ruiz Ana\", "
                                    "\"Ruiz, Ana\", the start of each), an MRN in any case, or a mobile number as "
                                    "people write it; empty: the active patients (a procedure, not cancelled, in "
                                    "the last 30 days or ahead)")
    limit: Limit = Field(None, description="rows to return (default 50)")
    offset: Offset = Field(None, description="rows to skip (default 0)")

    DEFAULT_ROWS: ClassVar[int] = 50


class PreviewQuery(InputModel):
    preview: Flag = Field(False, description="1: answer what would change, change nothing")



# --- patient edits (issue 10, "Editing after saving": the patient half) ----------------------


class PatientUpdateIn(InputModel):
    """A change to some of a patient's details: only the fields sent change (the defaults below
    are never read). Each field is ``PatientIn``'s type, so an edit refuses what enrolment refuses.

    MRN and birth date are not here: they identify the patient against the hospital's record,
    and a wrong one means the record was matched to the wrong person, which is fixed at the
    source (and by enrolling the right patient), not by editing this one. Sending them is a 422.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    partial = True

    given_name: PersonName = ""
    family_name: PersonName = ""
    phone: MobilePhone = Field("", description="a mobile number (US, or another country's with + and its code); "
                                               "a new number clears the refused-number flag and, when the patient may "
                                               "be texted, gets the enrolment text "
                                               "(clinic name, STOP/HELP) before any other")
    timezone: Zone = Field("", description="IANA zone: texts not yet sent move to the same local time in it")
    language: Language = Field("en", description="texts not yet sent are re-worded in it")
    detailed_texts: Flag = Field(False, description="texts not yet sent are re-worded")
    sms_consent: Flag = Field(False, description="true records consent (as POST consent does: the enrolment text "
                                                 "is queued); false withdraws it: every text not yet sent is "
                                                 "suppressed, as on an opt-out, recorded as staff's")
    consent_method: ConsentMethod = Field(None, description="how consent was given (default verbal); only with "
                                                            "`sms_consent: true`")
    confirm_holds_at_risk: Flag = Field(
        False, description="true: apply a new `timezone` that changes a signed hold's last-dose day (each such "
                           "hold goes back to `requested` and must be answered and signed again); without it "
                           "such an edit answers 409 with `holds_at_risk`")
    version: Version = version_field("patient")

    @field_validator("consent_method", mode="wrap")
    @classmethod
    def _method_with_consent(cls, raw: Any, handler: Any, info: ValidationInfo) -> str | None:
        if info.data.get("sms_consent") is not True:
            raise fail("send it with sms_consent: true (it is how the consent being recorded was given)")
        method: str | None = handler(raw)
        return method

    @model_validator(mode="after")
    def _something(self) -> PatientUpdateIn:
        if not self.model_fields_set - {"version"}:
            fields = (f for f in type(self).model_fields if f != "version")
            raise fail(f"send at least one of {', '.join(fields)}")
        return self


# --- editing an episode after saving (issue 10) ----------------------------------------------


class HoldLabelIn(InputModel):
    """The body of ``PATCH /holds/<id>``: what the patient calls the medicine. Words only: the
    plan and its signature stay; texts not yet sent are re-worded. The label must be sent (an
    empty string clears it); nothing else may be."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    partial = True

    patient_label: PatientLabel = Field(description="what the patient calls this medicine (\"Plavix\", \"the small "
                                                    "white pill\"), at most 40 characters; an empty string "
                                                    "removes it (texts then use the plain term)")
    version: Version = version_field("episode")


class HoldRemoveQuery(InputModel):
    """The query of ``DELETE /holds/<id>``."""

    preview: Flag = Field(False, description="1: answer what would change, change nothing")
    confirm_stopped: Flag = Field(
        False, description="1: remove a hold whose last dose has come (the patient may have stopped the medicine; "
                           "its restart text is cancelled and a call about restarting goes on the worklist); "
                           "without it such a removal answers 409")
    version: Version = version_field("episode")


# --- replies from unknown and shared numbers, and resolving tasks (issue 11) ----------------

PatientId = Annotated[int | None, BeforeValidator(count_reader(1, 2**31 - 1)), count_schema(1, 2**31 - 1)]


class ReplyLinkIn(InputModel):
    """Whom a reply from an unknown or shared number concerns."""

    patient_id: PatientId = Field(description="the patient the reply is from or about (required)")
    episode_id: PatientId = Field(None, description="their episode it is about (default: their latest one not "
                                                    "cancelled)")

    @field_validator("patient_id")
    @classmethod
    def _patient_required(cls, value: int | None) -> int | None:
        if value is None:
            raise fail("required: pick the patient this reply is from or about")
        return value


class ReplyDismissIn(InputModel):
    note: RequiredReason = Field(description="why the reply concerns no patient, and what was done (required)")


class StaffTextIn(InputModel):
    """A one-off text a person sends a patient in their own words."""

    body: SmsText = Field(description="the words, as the patient will read them (required; at most the SMS "
                                      "segments of `[staff_text] max_segments` in the pathway file, 3 as shipped). "
                                      "No diagnosis, procedure or drug name unless the patient chose detailed texts")
    urgent: Flag = Field(False, description="true: send at once, even in the patient's quiet hours (08:00-20:00 "
                                            "their time); false: a text typed in quiet hours waits for them to end")


class TaskResolveIn(InputModel):
    resolution: Note = Field("", description="what was done: whom you reached and what they were told "
                                             "(required for red flags and some other tasks)")


# --- observations (issue 11: questions with answers) ---------------------------------------

OBSERVATION_CODES = tuple(ObservationCode)


def _read_value(raw: Any) -> Decimal:
    if raw is None or raw == "" or isinstance(raw, bool):
        raise fail("required: a number")
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise fail(f"not a number: {raw!r}") from None
    if not value.is_finite():
        raise fail(f"not a number: {raw!r}")
    return value


def _read_time_point(raw: Any) -> str | None:
    if raw is None or raw == "":
        return None
    if raw not in TIME_POINTS:
        raise fail(f"must be one of {', '.join(TIME_POINTS)}, or left out")
    return str(raw)


# A measured value; its bounds per code are in pathway/data/answers.toml (checked by the service).
ObservationValue = Annotated[Decimal, BeforeValidator(_read_value),
                             WithJsonSchema({"type": ["number", "string"], "description": "a number within the "
                                             "code's bounds: nprs 0-10, stopped_medicine 1 (yes) or 0 (no), "
                                             "walk_minutes and stand_minutes 0-600, odi 0-100, zcq_symptom 1-5, "
                                             "global_change 1-7"})]


def _not_in_the_future(at: datetime | None, info: ValidationInfo) -> datetime | None:
    """Left out: now; a moment still to come is refused."""
    now = context(info).now
    if at is None:
        return now
    if now is not None and at > now:
        raise fail("is in the future")
    return at


class ObservationIn(InputModel):
    """The body of ``POST /episodes/<id>/observations`` and the episode page's form: one
    observation a person records (a pain score, a stopped medicine, walking minutes). Its bounds
    and unit come from ``pathway/data/answers.toml``."""

    code: Annotated[str, BeforeValidator(choice_reader(OBSERVATION_CODES)), choice_schema(OBSERVATION_CODES)]
    value: ObservationValue
    unit: Text = Field("", description="the code's unit (points, yes/no, min); left out, the code's own")
    time_point: Annotated[str | None, BeforeValidator(_read_time_point),
                          WithJsonSchema({"type": ["string", "null"], "enum": [*TIME_POINTS, None]})] = None
    received_at: OptionalLocalInstant = Field(None, description="when it was measured or said; now if left out")
    hold_id: Annotated[int | None, BeforeValidator(count_reader(1, 2**31 - 1)),
                       count_schema(1, 2**31 - 1)] = Field(None, description="for stopped_medicine: the hold")

    @field_validator("received_at")
    @classmethod
    def _received(cls, at: datetime | None, info: ValidationInfo) -> datetime | None:
        return _not_in_the_future(at, info)


# --- outcomes (issue 12) -----------------------------------------------------------------------

OUTCOME_SOURCES: tuple[str, ...] = (ObservationSource.SMS, ObservationSource.VISIT, ObservationSource.PHONE)


class OutcomeIn(InputModel):
    """The body of ``POST /episodes/<id>/outcomes`` and the episode page's outcome form: one
    outcome measured at a time point. A later value for the same time point and measure replaces
    the current one (which stays in the history)."""

    time_point: Annotated[str, BeforeValidator(choice_reader(TIME_POINTS)), choice_schema(TIME_POINTS)]
    measure: Annotated[str, BeforeValidator(choice_reader(OUTCOME_MEASURES)), choice_schema(OUTCOME_MEASURES)]
    value: ObservationValue
    source: Annotated[str, BeforeValidator(choice_reader(OUTCOME_SOURCES)), choice_schema(OUTCOME_SOURCES)] = Field(
        description="sms (the patient said it by text), visit (at a clinic visit) or phone (on a call)")
    recorded_at: OptionalLocalInstant = Field(None, description="when it was measured or said (the patient's "
                                                                "local time without an offset); now if left out")

    @field_validator("recorded_at")
    @classmethod
    def _recorded(cls, at: datetime | None, info: ValidationInfo) -> datetime | None:
        return _not_in_the_future(at, info)


class StopDecisionIn(InputModel):
    """The body of ``POST /holds/<id>/stop-decision``: a clinician's decision about a medicine the
    patient says they have not stopped (go ahead, postpone, a shorter plan agreed with the
    prescriber...)."""

    note: RequiredReason = Field(description="the clinician's decision and why (required): e.g. \"spoke to the "
                                             "patient and the prescriber: postpone one week\"")
