"""Parsing of phone numbers and date-times typed by people, with errors that say what to fix."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

from pathway.timeline import AmbiguousLocalTime, NonexistentLocalTime, parse_local_strict

_NOT_TEXTABLE = {
    PhoneNumberType.FIXED_LINE: "a landline",
    PhoneNumberType.TOLL_FREE: "a toll-free number",
    PhoneNumberType.PREMIUM_RATE: "a premium-rate number",
    PhoneNumberType.SHARED_COST: "a shared-cost number",
    PhoneNumberType.VOIP: None,  # many patients text from VoIP numbers; allowed
    PhoneNumberType.PAGER: "a pager",
}


def parse_phone(errors: dict[str, str], field_: str, raw: Any, *, region: str = "US", required: bool = True) -> str:
    """Return the number in E.164, or record why it is not a number we can text."""
    if raw in (None, ""):
        if required:
            errors[field_] = "required: a mobile number like (555) 201-3344 or +1 555 201 3344"
        return ""
    if not isinstance(raw, str):
        errors[field_] = "must be text"
        return ""
    try:
        number = phonenumbers.parse(raw, region)
    except NumberParseException:
        errors[field_] = f"not a valid US mobile number: {raw}"
        return ""
    if not phonenumbers.is_valid_number(number):
        errors[field_] = f"not a valid US mobile number: {raw}"
        return ""
    kind = phonenumbers.number_type(number)
    why = _NOT_TEXTABLE.get(kind)
    if why:
        errors[field_] = f"{raw} is {why}; enter a mobile number that can receive texts"
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str) -> str:
    try:
        n = phonenumbers.parse(e164, None)
    except NumberParseException:
        return e164
    return phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.NATIONAL)


def parse_instant(
    errors: dict[str, str], field_: str, raw: Any, tz: ZoneInfo | None, *, required: bool = True
) -> datetime | None:
    """ISO 8601. With an offset it is taken as is; without one it is wall time in ``tz``.

    A wall time that does not exist (spring forward) or happens twice (fall back) is refused
    with a message asking for an explicit offset, never guessed.
    """
    if raw in (None, ""):
        if required:
            errors[field_] = "required: a date and time like 2027-03-10T08:00 or 2027-03-10T08:00-05:00"
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
            errors[field_] = f"not a date and time: {raw!r} (use ISO 8601, e.g. 2027-03-10T08:00)"
            return None
    else:
        errors[field_] = "must be an ISO 8601 date-time string"
        return None
    if value.tzinfo is not None and value.utcoffset() is not None:
        return value.astimezone(UTC)
    if tz is None:
        errors[field_] = "give the time with a UTC offset (for example -05:00)"
        return None
    try:
        return parse_local_strict(value, tz)
    except (NonexistentLocalTime, AmbiguousLocalTime) as exc:
        errors[field_] = str(exc)
        return None
