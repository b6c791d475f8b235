"""Hold arithmetic: from a hold plan and the procedure time to last-dose and restart moments.

Day-based holds count whole calendar days in the patient's zone: a hold of N days leaves N
full days without the drug before the procedure day, so the last dose is on the procedure's
LOCAL date minus (N + 1) days. Hour-based holds (heparins) and restarts are absolute hours:
pharmacology does not observe daylight saving.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from pathway.timeline.catalogue import DrugDefault
from pathway.timeline.localtime import UTC, local_date, require_aware

__all__ = [
    "HOLD_STARTED_LATE", "HOLD_TOO_SHORT", "HoldAtRisk", "HoldDates", "HoldPlanInput", "compute_hold", "hold_at_risk",
]


@dataclass(frozen=True)
class HoldPlanInput:
    """The intervals of one hold: stop_days OR stop_hours (or neither: no plan yet)."""

    stop_days: int | None = None
    stop_hours: int | None = None
    restart_hours: int | None = None

    def __post_init__(self) -> None:
        if self.stop_days is not None and self.stop_hours is not None:
            raise ValueError("a hold is counted in days or in hours, not both")
        for name in ("stop_days", "stop_hours", "restart_hours"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative, got {value}")

    @classmethod
    def from_default(cls, drug: DrugDefault) -> HoldPlanInput:
        """The catalogue's proposal for `drug` (still to be cleared and signed)."""
        return cls(drug.stop_days, drug.stop_hours, drug.restart_hours)

    @property
    def has_stop(self) -> bool:
        return self.stop_days is not None or self.stop_hours is not None


@dataclass(frozen=True)
class HoldDates:
    """When the last dose is taken and when the drug may restart (None = no plan)."""

    last_dose_on: date | None
    last_dose_at: datetime | None
    restart_at: datetime | None

    @property
    def computed(self) -> bool:
        """True when the hold has a stop interval, so there is a last dose to plan for."""
        return self.last_dose_on is not None or self.last_dose_at is not None

    def last_dose_day(self, tz: ZoneInfo) -> date | None:
        """The local date of the last dose for either kind of hold (reminders hang off it)."""
        if self.last_dose_at is not None:
            return local_date(self.last_dose_at, tz)
        return self.last_dose_on


NO_PLAN = HoldDates(None, None, None)


def procedure_end(
    procedure_at: datetime, duration: timedelta, ended_at: datetime | None
) -> datetime:
    """The recorded end, or the scheduled start plus the expected duration until recorded.

    The estimate is for showing when a restart is likely; no restart text is timed from it
    (`plan._candidates` waits for the recorded end)."""
    if ended_at is not None:
        return require_aware(ended_at, "ended_at").astimezone(UTC)
    return require_aware(procedure_at, "procedure_at").astimezone(UTC) + duration


def compute_hold(
    hold: HoldPlanInput,
    *,
    procedure_at: datetime,
    tz: ZoneInfo,
    duration: timedelta,
    ended_at: datetime | None = None,
) -> HoldDates:
    """Last-dose date/time and restart instant for one hold.

    Day-based holds set `last_dose_on` (a local date: the dose may be taken any time that
    day); hour-based holds set `last_dose_at` (an instant: the dose must be taken by then).
    A hold with no stop interval has no dates at all: it needs an explicit signed plan.
    """
    start = require_aware(procedure_at, "procedure_at").astimezone(UTC)
    if not hold.has_stop:
        return NO_PLAN
    restart_at = None
    if hold.restart_hours is not None:
        restart_at = procedure_end(start, duration, ended_at) + timedelta(hours=hold.restart_hours)
    if hold.stop_days is not None:
        last_day = local_date(start, tz) - timedelta(days=hold.stop_days + 1)
        return HoldDates(last_dose_on=last_day, last_dose_at=None, restart_at=restart_at)
    assert hold.stop_hours is not None
    last_at = start - timedelta(hours=hold.stop_hours)
    return HoldDates(last_dose_on=None, last_dose_at=last_at, restart_at=restart_at)


# --- a move against the signed holds -------------------------------------------------------

HOLD_TOO_SHORT = "hold_too_short"
HOLD_STARTED_LATE = "hold_started_late"


@dataclass(frozen=True)
class HoldAtRisk:
    """A hold a move would break: its signed plan no longer stands.

    ``problem`` is ``hold_started_late`` when the new last dose is already past in the
    patient's zone (the patient cannot stop in time), else ``hold_too_short`` when the new
    last dose comes before the one the plan was signed for (the stop already planned would
    no longer leave the full interval).
    """

    ref: str
    drug: str
    last_dose_on: date
    problem: str


def hold_at_risk(
    ref: str,
    drug: str,
    hold: HoldPlanInput,
    *,
    signed_last_dose: date | datetime | None,
    procedure_at: datetime,
    tz: ZoneInfo,
    duration: timedelta,
    now: datetime,
) -> HoldAtRisk | None:
    """Whether moving the procedure to `procedure_at` breaks this hold (None: it does not).

    `signed_last_dose` is the last dose the current plan holds (a local date for day-based
    holds, an instant for hour-based ones); None when there was none. A hold without a stop
    interval has no last dose to break. Moving later never shortens a hold.
    """
    new = compute_hold(hold, procedure_at=procedure_at, tz=tz, duration=duration)
    if not new.computed:
        return None
    now = require_aware(now, "now").astimezone(UTC)
    new_day = new.last_dose_day(tz)
    assert new_day is not None
    if new.last_dose_at is not None:
        passed = new.last_dose_at < now
        earlier = isinstance(signed_last_dose, datetime) and new.last_dose_at < signed_last_dose
    else:
        passed = new_day < local_date(now, tz)
        old_day = (local_date(signed_last_dose, tz) if isinstance(signed_last_dose, datetime)
                   else signed_last_dose)
        earlier = old_day is not None and new_day < old_day
    # A patient already off the drug since the signed day stays off it longer when the
    # procedure moves later: that is not a risk even if the new last dose is also past.
    if passed and (signed_last_dose is None or earlier):
        return HoldAtRisk(ref, drug, new_day, HOLD_STARTED_LATE)
    if earlier:
        return HoldAtRisk(ref, drug, new_day, HOLD_TOO_SHORT)
    return None
