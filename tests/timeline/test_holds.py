"""Hold arithmetic for every catalogue drug, with expected dates written out by hand."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pathway.timeline import Catalogue, HoldDates, HoldPlanInput, compute_hold

NY = ZoneInfo("America/New_York")
PROCEDURE = datetime(2027, 3, 10, 8, 0, tzinfo=NY)  # Wednesday
ENDED = datetime(2027, 3, 10, 9, 0, tzinfo=NY)
HOUR = timedelta(minutes=60)


def ny(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2027, month, day, hour, minute, tzinfo=NY)


# key: (last dose date | None, last dose time | None, restart | None)
EXPECTED: dict[str, tuple[date | None, datetime | None, datetime | None]] = {
    "warfarin": (date(2027, 3, 4), None, ny(3, 10, 15)),
    "acenocoumarol": (date(2027, 3, 6), None, ny(3, 11, 9)),
    "clopidogrel": (date(2027, 3, 2), None, ny(3, 11, 9)),
    "prasugrel": (date(2027, 3, 2), None, ny(3, 11, 9)),
    "ticagrelor": (date(2027, 3, 4), None, ny(3, 11, 9)),
    "cilostazol": (date(2027, 3, 7), None, ny(3, 11, 9)),
    "dipyridamole": (date(2027, 3, 7), None, ny(3, 11, 9)),
    "aspirin-primary": (date(2027, 3, 3), None, ny(3, 11, 9)),
    "aspirin-secondary": (None, None, None),
    "dabigatran": (date(2027, 3, 5), None, ny(3, 11, 9)),
    "dabigatran-renal": (date(2027, 3, 3), None, ny(3, 11, 9)),
    "rivaroxaban": (date(2027, 3, 6), None, ny(3, 11, 9)),
    "apixaban": (date(2027, 3, 6), None, ny(3, 11, 9)),
    "edoxaban": (date(2027, 3, 6), None, ny(3, 11, 9)),
    "fondaparinux": (date(2027, 3, 5), None, ny(3, 11, 9)),
    "enoxaparin-prophylactic": (None, ny(3, 9, 20), ny(3, 11, 9)),
    "enoxaparin-therapeutic": (None, ny(3, 9, 8), ny(3, 11, 9)),
    "dalteparin": (None, ny(3, 9, 8), ny(3, 11, 9)),
    "heparin-iv": (None, ny(3, 10, 2), ny(3, 10, 11)),
    "heparin-sc": (None, ny(3, 9, 8), ny(3, 10, 17)),
    "ibuprofen": (date(2027, 3, 8), None, ny(3, 11, 9)),
    "diclofenac": (date(2027, 3, 8), None, ny(3, 11, 9)),
    "ketorolac": (date(2027, 3, 8), None, ny(3, 11, 9)),
    "etodolac": (date(2027, 3, 7), None, ny(3, 11, 9)),
    "indomethacin": (date(2027, 3, 7), None, ny(3, 11, 9)),
    "naproxen": (date(2027, 3, 5), None, ny(3, 11, 9)),
    "meloxicam": (date(2027, 3, 5), None, ny(3, 11, 9)),
    "nabumetone": (date(2027, 3, 3), None, ny(3, 11, 9)),
    "oxaprozin": (date(2027, 2, 27), None, ny(3, 11, 9)),
    "piroxicam": (date(2027, 2, 27), None, ny(3, 11, 9)),
    # issue 10: the other drugs ASRA 2018 names
    "ticlopidine": (date(2027, 2, 27), None, ny(3, 11, 9)),
    "cangrelor": (None, ny(3, 10, 5), ny(3, 11, 9)),
    "vorapaxar": (date(2027, 2, 24), None, ny(3, 11, 9)),
    "abciximab": (date(2027, 3, 4), None, ny(3, 11, 9)),
    "eptifibatide": (None, ny(3, 9, 8), ny(3, 11, 9)),
    "tirofiban": (None, ny(3, 9, 8), ny(3, 11, 9)),
    "tinzaparin": (None, ny(3, 9, 8), ny(3, 11, 9)),
    "argatroban": (None, ny(3, 10, 2), ny(3, 11, 9)),
    "bivalirudin": (None, ny(3, 10, 2), ny(3, 11, 9)),
    # "consider stopping" rows have no default: nothing is computed until a clinician enters a plan
    **{key: (None, None, None) for key in ("celecoxib", "ssri", "snri", "fish-oil", "garlic", "ginkgo",
                                           "ginseng", "vitamin-e", "dong-quai", "danshen")},
}


def test_the_table_covers_every_catalogue_drug(catalogue: Catalogue) -> None:
    assert {d.key for d in catalogue.all()} == set(EXPECTED)


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_catalogue_default_gives_the_expected_last_dose_and_restart(
    catalogue: Catalogue, key: str
) -> None:
    want_day, want_at, want_restart = EXPECTED[key]
    got = compute_hold(
        HoldPlanInput.from_default(catalogue.get(key)),
        procedure_at=PROCEDURE, tz=NY, duration=HOUR, ended_at=ENDED,
    )
    assert got == HoldDates(last_dose_on=want_day, last_dose_at=want_at, restart_at=want_restart)


def test_reference_example_clopidogrel_before_wednesday_10_march_is_tuesday_2_march(
    catalogue: Catalogue,
) -> None:
    got = compute_hold(
        HoldPlanInput.from_default(catalogue.get("clopidogrel")),
        procedure_at=PROCEDURE, tz=NY, duration=HOUR,
    )
    assert got.last_dose_on == date(2027, 3, 2)
    assert got.last_dose_on.strftime("%A") == "Tuesday"


def test_hold_of_seven_days_means_last_dose_eight_days_before() -> None:
    got = compute_hold(HoldPlanInput(stop_days=7), procedure_at=PROCEDURE, tz=NY, duration=HOUR)
    assert got.last_dose_on == date(2027, 3, 2)


def test_hold_of_zero_days_means_last_dose_the_day_before() -> None:
    got = compute_hold(HoldPlanInput(stop_days=0), procedure_at=PROCEDURE, tz=NY, duration=HOUR)
    assert got.last_dose_on == date(2027, 3, 9)


def test_day_hold_counts_the_patients_local_date_not_the_utc_date() -> None:
    # 20:00 in Honolulu on Mar 9 is already Mar 10 in UTC.
    honolulu = ZoneInfo("Pacific/Honolulu")
    start = datetime(2027, 3, 9, 20, 0, tzinfo=honolulu)
    got = compute_hold(HoldPlanInput(stop_days=7), procedure_at=start, tz=honolulu, duration=HOUR)
    assert got.last_dose_on == date(2027, 3, 1)


def test_hour_based_hold_gives_a_last_dose_time_and_no_date() -> None:
    got = compute_hold(
        HoldPlanInput(stop_hours=12, restart_hours=24), procedure_at=PROCEDURE, tz=NY, duration=HOUR
    )
    assert got.last_dose_on is None
    assert got.last_dose_at == ny(3, 9, 20)
    assert got.last_dose_day(NY) == date(2027, 3, 9)


def test_hour_based_hold_across_spring_forward_is_absolute_hours() -> None:
    start = datetime(2027, 3, 14, 12, 0, tzinfo=NY)  # EDT, clocks went forward at 02:00
    got = compute_hold(HoldPlanInput(stop_hours=24), procedure_at=start, tz=NY, duration=HOUR)
    assert got.last_dose_at == ny(3, 13, 11)  # 24 real hours earlier, still EST
    assert start - got.last_dose_at == timedelta(hours=24)


def test_restart_counts_from_scheduled_start_plus_duration_until_end_is_recorded() -> None:
    got = compute_hold(
        HoldPlanInput(stop_days=7, restart_hours=24), procedure_at=PROCEDURE, tz=NY, duration=HOUR
    )
    assert got.restart_at == ny(3, 11, 9)


def test_restart_counts_from_the_recorded_end_once_known() -> None:
    got = compute_hold(
        HoldPlanInput(stop_days=7, restart_hours=24),
        procedure_at=PROCEDURE, tz=NY, duration=HOUR, ended_at=ny(3, 10, 10, 25),
    )
    assert got.restart_at == ny(3, 11, 10, 25)


def test_restart_is_absolute_hours_across_spring_forward() -> None:
    start = datetime(2027, 3, 13, 16, 0, tzinfo=NY)  # Saturday, EST
    got = compute_hold(
        HoldPlanInput(stop_days=5, restart_hours=24), procedure_at=start, tz=NY, duration=HOUR
    )
    assert got.restart_at == datetime(2027, 3, 14, 18, 0, tzinfo=NY)  # 17:00 EST + 24 h


def test_restart_is_returned_in_utc() -> None:
    got = compute_hold(HoldPlanInput(stop_days=7, restart_hours=24), procedure_at=PROCEDURE, tz=NY, duration=HOUR)
    assert got.restart_at is not None and got.restart_at.utcoffset() == timedelta(0)


def test_hold_without_a_stop_interval_has_no_dates_at_all() -> None:
    got = compute_hold(HoldPlanInput(restart_hours=24), procedure_at=PROCEDURE, tz=NY, duration=HOUR)
    assert got == HoldDates(None, None, None)
    assert not got.computed


def test_hold_without_restart_interval_has_no_restart() -> None:
    got = compute_hold(HoldPlanInput(stop_days=3), procedure_at=PROCEDURE, tz=NY, duration=HOUR)
    assert got.last_dose_on == date(2027, 3, 6) and got.restart_at is None


def test_a_hold_in_both_days_and_hours_is_refused() -> None:
    with pytest.raises(ValueError, match="days or in hours"):
        HoldPlanInput(stop_days=2, stop_hours=12)


def test_negative_intervals_are_refused() -> None:
    with pytest.raises(ValueError, match="stop_days"):
        HoldPlanInput(stop_days=-1)


def test_naive_procedure_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        compute_hold(HoldPlanInput(stop_days=1), procedure_at=datetime(2027, 3, 10, 8), tz=NY, duration=HOUR)
