"""The go/no-go decision: what stops an episode from going ahead, in words a clinician reads.

Pure rules over plain facts (the service builds the facts from the stored episode). Each rule
is one function ``(facts, limits) -> blockers``, listed once in ``RULES``: adding a blocker is
writing one function and adding it to that tuple.

Days are the patient's local calendar days (the clinical reference counts holds and the INR's
freshness in days of the patient's calendar, so a daylight-saving change never shortens one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from pathway.timeline.texts import plural

__all__ = ["RULES", "Blocker", "EpisodeFacts", "GoLimits", "HoldFacts", "blockers", "day_words", "decide", "inr_fresh"]

ACTIVE = "scheduled"


@dataclass(frozen=True)
class Blocker:
    """One reason the procedure may not go ahead. ``hold_id`` names the hold it is about."""

    code: str
    hold_id: int | None
    message: str


@dataclass(frozen=True)
class HoldFacts:
    id: int
    drug_name: str
    clearance: str
    signed_at: datetime | None
    stop_days: int | None
    stop_hours: int | None
    last_dose_on: date | None  # the last-dose date the hold carries (the one signed and texted)
    last_dose_at: datetime | None  # hour-based holds
    inr_required: bool
    inr_value: Decimal | None
    inr_at: datetime | None
    # The procedure time the signature was given for, when the procedure has moved since.
    signed_for: datetime | None = None
    # The patient answered the stop question "no" and no clinician has decided since.
    not_stopped: bool = False


@dataclass(frozen=True)
class EpisodeFacts:
    status: str
    procedure_at: datetime
    tz: ZoneInfo
    planned_at: datetime  # when the plan was made (the episode was scheduled)
    holds: Sequence[HoldFacts]
    mri_reviewed: bool
    conservative_care: bool
    escort_arranged: bool
    moved_at: datetime | None = None  # when the procedure was last moved, if it was


@dataclass(frozen=True)
class GoLimits:
    """The clinical numbers behind the rules (data/mild_pathway.toml [procedure_day])."""

    inr_max: Decimal
    inr_window_days: int  # 1: the INR is drawn on the procedure day or the day before


def day_words(day: date) -> str:
    """A date as a clinician says it: ``Tue 2 Mar``."""
    return f"{day:%a} {day.day} {day:%b}"


def _name(h: HoldFacts) -> str:
    return h.drug_name[:1].upper() + h.drug_name[1:]


def _local(at: datetime, tz: ZoneInfo) -> date:
    return at.astimezone(tz).date()


# --- the rules -----------------------------------------------------------------------------


def hold_unsigned(e: EpisodeFacts, _: GoLimits) -> Iterable[Blocker]:
    for h in e.holds:
        if h.signed_at is not None and h.clearance in ("approved", "not_required"):
            continue
        if h.clearance == "declined":
            words = "the prescriber declined the hold; agree a plan with the prescriber before the procedure"
        elif h.clearance == "requested":
            words = "clearance requested from the prescriber; not yet approved and signed"
        elif h.clearance == "approved":
            words = "approved by the prescriber but not yet signed by a clinician"
        else:
            words = "clearance not yet requested from the prescriber"
        yield Blocker("hold_unsigned", h.id, f"{_name(h)}: {words}.")


def hold_too_short(e: EpisodeFacts, _: GoLimits) -> Iterable[Blocker]:
    """A signed last dose later than the latest safe one for the procedure's current time."""
    procedure_day = _local(e.procedure_at, e.tz)
    for h in e.holds:
        if h.signed_at is None or h.clearance != "approved":
            continue
        if h.stop_days is not None:
            # The signed date: the one the hold carries, or the one its signature was given for.
            signed_days = [d for d in (h.last_dose_on,) if d is not None]
            if h.signed_for is not None:
                signed_days.append(_local(h.signed_for, e.tz) - timedelta(days=h.stop_days + 1))
            if not signed_days:
                continue
            signed_day = max(signed_days)
            latest = procedure_day - timedelta(days=h.stop_days + 1)
            if signed_day > latest:
                left = max((procedure_day - signed_day).days - 1, 0)
                yield Blocker("hold_too_short", h.id,
                              f"{_name(h)}: the signed last dose ({day_words(signed_day)}) leaves only "
                              f"{left} of {plural(h.stop_days, 'day', 'days')} before the procedure; "
                              "the last safe dose "
                              f"is {day_words(latest)}.")
        elif h.stop_hours is not None:
            signed_ats = [t for t in (h.last_dose_at,) if t is not None]
            if h.signed_for is not None:
                signed_ats.append(h.signed_for - timedelta(hours=h.stop_hours))
            if not signed_ats:
                continue
            signed_at = max(signed_ats)
            latest_at = e.procedure_at - timedelta(hours=h.stop_hours)
            if signed_at > latest_at:
                left = max(int((e.procedure_at - signed_at).total_seconds() // 3600), 0)
                yield Blocker("hold_too_short", h.id,
                              f"{_name(h)}: the signed last dose leaves only {left} of "
                              f"{plural(h.stop_hours, 'hour', 'hours')} before the procedure.")


def hold_started_late(e: EpisodeFacts, _: GoLimits) -> Iterable[Blocker]:
    """The last-dose date had already passed when the plan was made or moved, or when it was signed."""
    for h in e.holds:
        if h.clearance in ("declined", "not_required"):
            continue
        last = h.last_dose_on or (_local(h.last_dose_at, e.tz) if h.last_dose_at is not None else None)
        if last is None:
            continue
        planned = _local(e.planned_at, e.tz)
        moved = _local(e.moved_at, e.tz) if e.moved_at is not None else None
        signed = _local(h.signed_at, e.tz) if h.signed_at is not None else None
        if last < planned:
            when = f"when the plan was made ({day_words(planned)})"
        elif moved is not None and last < moved:
            when = f"when the procedure was moved ({day_words(moved)})"
        elif signed is not None and last < signed:
            when = f"when the hold was signed ({day_words(signed)})"
        else:
            continue
        yield Blocker("hold_started_late", h.id,
                      f"{_name(h)}: the last dose ({day_words(last)}) had already passed {when}; the patient "
                      f"may not have stopped in time. Confirm with the patient and the prescriber.")


def hold_not_stopped(e: EpisodeFacts, _: GoLimits) -> Iterable[Blocker]:
    """The patient said they have not stopped a held medicine: a clinician decides first."""
    for h in e.holds:
        if h.not_stopped:
            yield Blocker("hold_not_stopped", h.id,
                          f"{_name(h)}: the patient replied they have NOT stopped it. Call them; a clinician "
                          f"must record a decision before the procedure.")


def inr_fresh(inr_at: datetime, procedure_at: datetime, tz: ZoneInfo, limits: GoLimits) -> bool:
    """Drawn before the procedure, on its local day or within the window's days before it."""
    first_day = _local(procedure_at, tz) - timedelta(days=limits.inr_window_days)
    return _local(inr_at, tz) >= first_day and inr_at <= procedure_at


def inr(e: EpisodeFacts, limits: GoLimits) -> Iterable[Blocker]:
    """Warfarin-type holds: an INR at or below the threshold, drawn within the window."""
    window = ("on the procedure day or the day before" if limits.inr_window_days == 1
              else f"within {limits.inr_window_days} days before the procedure")
    for h in e.holds:
        if not h.inr_required:
            continue
        if h.inr_value is None or h.inr_at is None:
            yield Blocker("inr_missing", h.id,
                          f"{_name(h)}: no INR recorded; draw one {window} (needs {limits.inr_max} or lower).")
        elif not inr_fresh(h.inr_at, e.procedure_at, e.tz, limits):
            yield Blocker("inr_stale", h.id,
                          f"{_name(h)}: the INR of {h.inr_value} was drawn {day_words(_local(h.inr_at, e.tz))}; "
                          f"it counts only if drawn {window}.")
        elif h.inr_value > limits.inr_max:
            yield Blocker("inr_high", h.id,
                          f"{_name(h)}: INR {h.inr_value} is above {limits.inr_max}; the procedure cannot go "
                          f"ahead until it is {limits.inr_max} or lower.")


def candidacy_missing(e: EpisodeFacts, _: GoLimits) -> Iterable[Blocker]:
    if not e.mri_reviewed:
        yield Blocker("candidacy_missing", None, "Candidacy: the lumbar MRI review is not recorded.")
    if not e.conservative_care:
        yield Blocker("candidacy_missing", None,
                      "Candidacy: no conservative care (physical therapy, medication, injections) is recorded.")


def escort_missing(e: EpisodeFacts, _: GoLimits) -> Iterable[Blocker]:
    if not e.escort_arranged:
        yield Blocker("escort_missing", None, "No escort or driver is recorded for procedure day.")


Rule = Callable[[EpisodeFacts, GoLimits], Iterable[Blocker]]
# Every blocker rule, in the order a clinician reads them. Add a rule here.
RULES: tuple[Rule, ...] = (hold_unsigned, hold_too_short, hold_started_late, hold_not_stopped, inr,
                           candidacy_missing, escort_missing)


def blockers(e: EpisodeFacts, limits: GoLimits, rules: Sequence[Rule] = RULES) -> list[Blocker]:
    return [b for rule in rules for b in rule(e, limits)]


def decide(e: EpisodeFacts, limits: GoLimits, rules: Sequence[Rule] = RULES) -> tuple[bool, list[Blocker]]:
    """``go`` only for an active episode with nothing blocking it; a closed one says why it is closed."""
    if e.status != ACTIVE:
        words = "This episode is cancelled." if e.status == "cancelled" else "This episode is completed."
        return False, [Blocker(f"episode_{e.status}", None, words)]
    found = blockers(e, limits, rules)
    return not found, found
