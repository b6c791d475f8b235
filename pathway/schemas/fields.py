"""Field types, each defined once: how a value people type is read, and what to say when it is wrong.

Every reader takes what a JSON body or an HTML form sends (a form sends "" for an empty box) and
returns the stored value, or raises a ``PydanticCustomError`` whose text says what to fix. The
readers that depend on a record read it from the validation context (see ``Context``): the
patient's zone for a local wall time, the clock for "in the past", the catalogue for a drug.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType
from pydantic import BeforeValidator, PlainSerializer, ValidationInfo, WithJsonSchema
from pydantic_core import PydanticCustomError

from pathway.timeline import AmbiguousLocalTime, Catalogue, NonexistentLocalTime, parse_local_strict


@dataclass
class Context:
    """What a validation needs from outside the request (passed as pydantic's context)."""

    now: datetime | None = None
    tz: ZoneInfo | None = None  # the patient's zone: wall times without an offset are read in it
    default_zone: str | None = None  # the clinic's zone, for a patient enrolled without one
    catalogue: Catalogue | None = None
    mrn_taken: Callable[[str], bool] | None = None
    email_taken: Callable[[str], bool] | None = None
    drugs_seen: set[str] = field(default_factory=set)


def context(info: ValidationInfo) -> Context:
    ctx = info.context
    return ctx if isinstance(ctx, Context) else Context()


def fail(message: str) -> PydanticCustomError:
    return PydanticCustomError("pathway", message)


def _blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


# --- text, numbers, flags, choices ----------------------------------------------------------


def text_reader(max_len: int, *, required: bool) -> Callable[[Any], str]:
    def read(raw: Any) -> str:
        if _blank(raw):
            if required:
                raise fail("required")
            return ""
        if not isinstance(raw, str):
            raise fail("must be text")
        value = raw.strip()
        if len(value) > max_len:
            raise fail(f"too long: at most {max_len} characters")
        return value

    return read


def _str(max_len: int) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "maxLength": max_len})


# Characters that change how the text around them is shown without being seen themselves: the
# bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069), the direction
# marks, and line and paragraph separators. "Ana\u202eztiuR" shows as "AnaRuitz" reversed: a name
# that reads differently from what is stored (CVE-2021-42574, "Trojan Source").
_HIDDEN = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c\u2028\u2029")


def hidden_character(value: str) -> str | None:
    """The first control or bidirectional-override character in ``value``, named (U+202E), or None."""
    for ch in value:
        if ch in _HIDDEN or unicodedata.category(ch) == "Cc":
            return f"U+{ord(ch):04X}"
    return None


def name_reader(max_len: int, *, required: bool) -> Callable[[Any], str]:
    """A name people read (a patient's, an API token's): text without control characters (line
    breaks, tabs) or characters that reverse or hide what is shown."""
    read_text = text_reader(max_len, required=required)

    def read(raw: Any) -> str:
        value = read_text(raw)
        found = hidden_character(value)
        if found is not None:
            raise fail(f"must not contain control or text-direction characters (found {found}); type the name again")
        return value

    return read


Mrn = Annotated[str, BeforeValidator(text_reader(64, required=True)), _str(64)]
PersonName = Annotated[str, BeforeValidator(name_reader(120, required=True)), _str(120)]
# A staff member's or a prescriber's name (optional): the same characters as a patient's.
OptionalName = Annotated[str, BeforeValidator(name_reader(200, required=False)), _str(200)]
DrugText = Annotated[str, BeforeValidator(text_reader(120, required=True)), _str(120)]
ShortText = Annotated[str, BeforeValidator(text_reader(100, required=False)), _str(100)]
Text = Annotated[str, BeforeValidator(text_reader(200, required=False)), _str(200)]


def patient_text_reader(max_len: int, *, advice: str) -> Callable[[Any], str]:
    """Words that go into a patient's texts (a medicine's label, the facility's address line): one
    line, without control characters or characters that reverse or hide what is shown."""
    read_text = text_reader(max_len, required=False)

    def read(raw: Any) -> str:
        value = read_text(raw)
        found = hidden_character(value)
        if found is not None:
            raise fail(f"must not contain control or text-direction characters (found {found}); {advice}")
        return value

    return read


PatientLabel = Annotated[str, BeforeValidator(patient_text_reader(40, advice="type the name again")), _str(40)]


# The facility's address line goes into the patient's day-before text.
AddressLine = Annotated[str, BeforeValidator(patient_text_reader(60, advice="write the address on one line")), _str(60)]
Reason = Annotated[str, BeforeValidator(text_reader(500, required=False)), _str(500)]
RequiredReason = Annotated[str, BeforeValidator(text_reader(500, required=True)), _str(500)]
Note = Annotated[str, BeforeValidator(text_reader(2000, required=False)), _str(2000)]

# The most characters a one-off text may hold before its SMS segments are counted (ten GSM-7
# segments); the real limit is the definition's `[staff_text] max_segments`, checked by the service.
SMS_TEXT_MAX = 1530


def read_sms_text(raw: Any) -> str:
    """The words of a text a person typed: trimmed, line breaks kept (as \\n), no other control characters."""
    if _blank(raw):
        raise fail("required: type the words to send")
    if not isinstance(raw, str):
        raise fail("must be text")
    value = raw.replace("\r\n", "\n").replace("\r", "\n").strip()
    if any((ord(c) < 32 and c != "\n") or 0x7F <= ord(c) < 0xA0 for c in value):
        raise fail("contains a control character: retype the text without it")
    if len(value) > SMS_TEXT_MAX:
        raise fail(f"too long: at most {SMS_TEXT_MAX} characters, and fewer SMS segments (see the limit shown)")
    return value


SmsText = Annotated[str, BeforeValidator(read_sms_text), WithJsonSchema({"type": "string", "minLength": 1,
                                                                          "maxLength": SMS_TEXT_MAX})]

_TRUE = {"true", "1", "yes", "on", "y"}
_FALSE = {"false", "0", "no", "off", "n"}


def read_flag(raw: Any) -> bool:
    if raw is None or raw == "":
        return False
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in _TRUE:
        return True
    if isinstance(raw, str) and raw.lower() in _FALSE:
        return False
    raise fail("must be true or false")


Flag = Annotated[bool, BeforeValidator(read_flag), WithJsonSchema({"type": "boolean"})]


def count_reader(minimum: int, maximum: int) -> Callable[[Any], int | None]:
    def read(raw: Any) -> int | None:
        if raw is None or raw == "":
            return None
        if isinstance(raw, bool):
            raise fail("must be a whole number")
        try:
            value = int(raw)
        except (TypeError, ValueError, OverflowError):  # OverflowError: 1e309 is read as infinity
            raise fail(f"must be a whole number, got {raw!r}") from None
        if not minimum <= value <= maximum:
            raise fail(f"must be between {minimum} and {maximum}")
        return value

    return read


def count_schema(minimum: int, maximum: int) -> WithJsonSchema:
    """An optional whole number's schema, with the same bounds its reader checks."""
    return WithJsonSchema({"type": ["integer", "null"], "minimum": minimum, "maximum": maximum})


def choice_reader(values: tuple[str, ...], *, default: str | None = None) -> Callable[[Any], str | None]:
    def read(raw: Any) -> str | None:
        if raw is None or raw == "":
            if default is not None:
                return default
            raise fail(f"must be one of {', '.join(values)}")
        if raw not in values:
            raise fail(f"must be one of {', '.join(values)}")
        return str(raw)

    return read


def choice_schema(values: tuple[str, ...]) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "enum": list(values)})


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def read_email(raw: Any) -> str:
    """A staff login: trimmed and lowercased, so one address is one account whatever its case."""
    value = (raw if isinstance(raw, str) else "").strip().lower()
    if not _EMAIL.match(value):
        raise fail(f"not an email address: {value!r}")
    return value


Email = Annotated[str, BeforeValidator(read_email), WithJsonSchema({"type": "string", "format": "email"})]


def password_reader(min_len: int) -> Callable[[Any], str]:
    """A password as typed (never trimmed: spaces count), at least ``min_len`` characters."""

    def read(raw: Any) -> str:
        value = raw if isinstance(raw, str) else ""
        if len(value) < min_len:
            raise fail(f"must be at least {min_len} characters")
        return value

    return read


# --- dates, zones, instants -----------------------------------------------------------------


# Every date and time anyone enters lies in these years (a sanity bound, not a clinical rule):
# year 9999 or 0001 is a typing slip, and date arithmetic near either end overflows.
EARLIEST_YEAR = 1900
LATEST_YEAR = 2199


def _in_years(value: date) -> date:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise fail(f"year {value.year} is out of range: enter a date between {EARLIEST_YEAR} and {LATEST_YEAR}")
    return value


def read_day(raw: Any, *, required: bool) -> date | None:
    if _blank(raw):
        if required:
            raise fail("required: a date like 1950-04-30")
        return None
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return _in_years(raw)
    if not isinstance(raw, str):
        raise fail("must be a date string like 1950-04-30")
    try:
        value = date.fromisoformat(raw.strip())
    except ValueError:
        raise fail(f"not a date: {raw!r} (use YYYY-MM-DD)") from None
    return _in_years(value)


_DATE_SCHEMA = {"type": "string", "format": "date"}
Day = Annotated[date, BeforeValidator(lambda raw: read_day(raw, required=True)), WithJsonSchema(_DATE_SCHEMA)]
# null (or an empty string) is no date: a PATCH clears a recorded date with it.
OptionalDay = Annotated[date | None, BeforeValidator(lambda raw: read_day(raw, required=False)),
                        WithJsonSchema({"type": ["string", "null"], "format": "date"})]

_ZONES: frozenset[str] | None = None


def read_zone(raw: Any, info: ValidationInfo) -> str:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    if _blank(raw):
        raw = context(info).default_zone
    if not isinstance(raw, str) or raw not in _ZONES:
        raise fail(f"not a known IANA time zone: {raw!r} (for example America/Chicago)")
    try:
        ZoneInfo(raw)
    except ZoneInfoNotFoundError:  # pragma: no cover
        raise fail(f"not a known IANA time zone: {raw!r}") from None
    return raw


Zone = Annotated[str, BeforeValidator(read_zone),
                 WithJsonSchema({"type": "string", "description": "IANA zone, e.g. America/Chicago"})]


def read_instant(raw: Any, info: ValidationInfo, *, required: bool = True) -> datetime | None:
    """ISO 8601. With an offset it is taken as is; without one it is wall time in the context's zone.

    A wall time that does not exist (spring forward) or happens twice (fall back) is refused
    with a message asking for an explicit offset, never guessed.
    """
    if _blank(raw):
        if required:
            raise fail("required: a date and time like 2027-03-10T08:00 or 2027-03-10T08:00-05:00")
        return None
    if isinstance(raw, datetime):
        value = raw
    elif isinstance(raw, str):
        text = raw.strip().replace(" ", "T", 1) if "T" not in raw else raw.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise fail(f"not a date and time: {raw!r} (use ISO 8601, e.g. 2027-03-10T08:00)") from None
    else:
        raise fail("must be an ISO 8601 date-time string")
    _in_years(value.date())
    if value.tzinfo is not None and value.utcoffset() is not None:
        return value.astimezone(UTC)
    tz = context(info).tz
    if tz is None:
        raise fail("give the time with a UTC offset (for example -05:00)")
    try:
        return parse_local_strict(value, tz)
    except (NonexistentLocalTime, AmbiguousLocalTime) as exc:
        raise fail(str(exc)) from None


_LOCAL_OR_OFFSET = {
    "type": "string",
    "description": "ISO 8601 date-time. With an offset (or Z) it is taken as is; without one it is the "
                   "patient's local wall time (a time skipped or repeated by a DST change is refused).",
}
LocalInstant = Annotated[datetime, BeforeValidator(read_instant), WithJsonSchema(_LOCAL_OR_OFFSET)]
# An instant that null clears (a PATCH back to the default).
NullableLocalInstant = Annotated[
    datetime | None, BeforeValidator(lambda raw, info: read_instant(raw, info, required=False)),
    WithJsonSchema({"anyOf": [_LOCAL_OR_OFFSET, {"type": "null"}]})]
OptionalLocalInstant = Annotated[
    datetime | None, BeforeValidator(lambda raw, info: read_instant(raw, info, required=False)),
    WithJsonSchema(_LOCAL_OR_OFFSET)]

# --- phone numbers --------------------------------------------------------------------------

_NOT_TEXTABLE = {
    PhoneNumberType.FIXED_LINE: "a landline",
    PhoneNumberType.TOLL_FREE: "a toll-free number",
    PhoneNumberType.PREMIUM_RATE: "a premium-rate number",
    PhoneNumberType.SHARED_COST: "a shared-cost number",
    PhoneNumberType.VOIP: None,  # many patients text from VoIP numbers; allowed
    PhoneNumberType.PAGER: "a pager",
}
# The number's type in words, from its own country's numbering plan (phonenumbers' metadata for the
# region the number belongs to: a +44 7... number is a UK mobile whatever the clinic's country).
# North American numbers do not say which they are (FIXED_LINE_OR_MOBILE): they are not refused.
_KIND_WORDS = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "landline",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "mobile or landline",
    PhoneNumberType.VOIP: "VoIP",
    PhoneNumberType.TOLL_FREE: "toll-free",
    PhoneNumberType.PREMIUM_RATE: "premium-rate",
    PhoneNumberType.SHARED_COST: "shared-cost",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.PERSONAL_NUMBER: "personal number",
    PhoneNumberType.UAN: "company number",
    PhoneNumberType.VOICEMAIL: "voicemail",
}
HOME_REGION = "US"  # numbers written without a country code are read as this country's


@dataclass(frozen=True)
class PhoneKind:
    """What a stored number is: its type in words, whether a text can be delivered to it (None
    when unknown), and the country it belongs to."""

    label: str
    textable: bool
    region: str | None
    why_not: str | None = None  # "a landline": said only when a text cannot be delivered


def phone_kind(e164: str) -> PhoneKind:
    """The type of a stored number, read with the metadata of the number's own region."""
    try:
        number = phonenumbers.parse(e164, HOME_REGION)
    except NumberParseException:
        return PhoneKind("not a phone number", False, None, "not a phone number")
    kind = phonenumbers.number_type(number)
    why = _NOT_TEXTABLE.get(kind)
    return PhoneKind(_KIND_WORDS.get(kind, "unknown type"), why is None, phonenumbers.region_code_for_number(number),
                     why)


def _invalid(raw: str, what: str) -> Exception:
    plain = raw.strip().replace(" ", "")
    if plain.startswith("+") and not plain.startswith("+1"):
        return fail(f"not a valid {what}: {raw}; check the country code and the number of digits")
    return fail(f"not a valid US {what}: {raw}")


def read_phone(raw: Any, *, required: bool, region: str = HOME_REGION, textable: bool = True) -> str:
    """The number in E.164, or why it is not a number we can use. ``textable`` numbers must be
    able to receive a text (a patient's); others (a prescriber's, called not texted) may be landlines."""
    what = "mobile number" if textable else "phone number"
    if raw in (None, ""):
        if required:
            raise fail("required: a mobile number like (555) 201-3344 or +1 555 201 3344")
        return ""
    if not isinstance(raw, str):
        raise fail("must be text")
    try:
        number = phonenumbers.parse(raw, region)
    except NumberParseException:
        raise _invalid(raw, what) from None
    if not phonenumbers.is_valid_number(number):
        raise _invalid(raw, what)
    why = _NOT_TEXTABLE.get(phonenumbers.number_type(number))
    if textable and why:
        raise fail(f"{raw} is {why}; enter a mobile number that can receive texts")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_PHONE_SCHEMA = {"type": "string", "description": "a mobile number (US, or any country with + and its code); "
                                                  "stored in E.164"}
MobilePhone = Annotated[str, BeforeValidator(lambda raw: read_phone(raw, required=True)), WithJsonSchema(_PHONE_SCHEMA)]
OptionalPhone = Annotated[str, BeforeValidator(lambda raw: read_phone(raw, required=False, textable=False)),
                          WithJsonSchema({"type": "string", "description": "a phone number (a landline is fine); "
                                                                           "stored in E.164"})]


def format_phone(e164: str) -> str:
    """A stored E.164 number as people write it: a US one (555) 201-3344, another country's with
    its code (+44 7911 123456), so it is dialled from here."""
    try:
        n = phonenumbers.parse(e164, None)
    except NumberParseException:
        return e164
    if phonenumbers.region_code_for_number(n) == HOME_REGION:
        return phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


# --- other ----------------------------------------------------------------------------------


def read_inr(raw: Any) -> Decimal:
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise fail(f"not a number: {raw!r}") from None
    if not value.is_finite() or not Decimal("0.5") <= value <= Decimal("10"):
        raise fail("an INR is between 0.5 and 10")
    return value.quantize(Decimal("0.01"))


Inr = Annotated[Decimal, BeforeValidator(read_inr),
                WithJsonSchema({"type": "string", "description": "decimal, e.g. \"1.10\""})]


def read_result(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise fail("must be an object, e.g. {\"pain\": 3, \"note\": \"walking 20 min\"}")
    return dict(raw) or None


Result = Annotated[dict[str, Any] | None, BeforeValidator(read_result),
                   WithJsonSchema({"type": ["object", "null"], "description": "free-form, e.g. {\"pain\": 3}"})]


# --- answers: how instants and dates are written --------------------------------------------


def write_instant(value: datetime) -> str:
    """ISO 8601 with an explicit offset (``+00:00`` for UTC, never ``Z``)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}; the API writes only aware instants")
    return value.isoformat()


_INSTANT_SCHEMA = {"type": "string", "format": "date-time", "description": "ISO 8601 instant with a UTC offset"}
Instant = Annotated[datetime, PlainSerializer(write_instant, return_type=str), WithJsonSchema(_INSTANT_SCHEMA)]
_LOCAL_SCHEMA = {**_INSTANT_SCHEMA, "description": "the same instant with the patient's UTC offset"}
LocalTwin = Annotated[datetime, PlainSerializer(write_instant, return_type=str), WithJsonSchema(_LOCAL_SCHEMA)]
