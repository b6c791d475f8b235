"""The go/no-go rules, without a database: each blocker in words, INR freshness in local days."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pathway.timeline import gonogo as g

NY = ZoneInfo("America/New_York")
LIMITS = g.GoLimits(inr_max=Decimal("1.2"), inr_window_days=1)
PROCEDURE = datetime(2027, 3, 10, 13, 0, tzinfo=UTC)  # Wed 10 March, 08:00 in New York


def hold(**kw: Any) -> g.HoldFacts:
    base: dict[str, Any] = dict(id=1, drug_name="clopidogrel", clearance="approved",
                                signed_at=datetime(2027, 2, 2, 15, tzinfo=UTC), stop_days=7, stop_hours=None,
                                last_dose_on=date(2027, 3, 2), last_dose_at=None, inr_required=False,
                                inr_value=None, inr_at=None)
    base.update(kw)
    return g.HoldFacts(**base)


def episode(*holds: g.HoldFacts, **kw: Any) -> g.EpisodeFacts:
    base: dict[str, Any] = dict(status="scheduled", procedure_at=PROCEDURE, tz=NY,
                                planned_at=datetime(2027, 2, 1, 15, tzinfo=UTC), holds=holds, mri_reviewed=True,
                                conservative_care=True, escort_arranged=True)
    base.update(kw)
    return g.EpisodeFacts(**base)


def codes(e: g.EpisodeFacts) -> list[str]:
    return [b.code for b in g.decide(e, LIMITS)[1]]


def test_an_active_episode_with_every_hold_signed_and_candidacy_recorded_is_a_go() -> None:
    assert g.decide(episode(hold()), LIMITS) == (True, [])


def test_a_closed_episode_is_never_a_go_and_says_why() -> None:
    assert g.decide(episode(status="cancelled"), LIMITS) == (
        False, [g.Blocker("episode_cancelled", None, "This episode is cancelled.")])
    assert codes(episode(status="completed")) == ["episode_completed"]


def test_each_unsigned_state_is_said_in_words() -> None:
    words = {c: g.decide(episode(hold(clearance=c, signed_at=None)), LIMITS)[1][0].message
             for c in ("needed", "requested", "approved", "declined")}
    assert words == {
        "needed": "Clopidogrel: clearance not yet requested from the prescriber.",
        "requested": "Clopidogrel: clearance requested from the prescriber; not yet approved and signed.",
        "approved": "Clopidogrel: approved by the prescriber but not yet signed by a clinician.",
        "declined": "Clopidogrel: the prescriber declined the hold; agree a plan with the prescriber before "
                    "the procedure.",
    }
    assert codes(episode(hold(clearance="not_required"))) == []


def test_a_signed_last_dose_later_than_the_interval_allows_is_too_short() -> None:
    (b,) = g.decide(episode(hold(last_dose_on=date(2027, 3, 4))), LIMITS)[1]
    assert b == g.Blocker("hold_too_short", 1, "Clopidogrel: the signed last dose (Thu 4 Mar) leaves only 5 of 7 "
                                              "days before the procedure; the last safe dose is Tue 2 Mar.")
    hourly = hold(drug_name="enoxaparin", stop_days=None, stop_hours=24, last_dose_on=None,
                  last_dose_at=datetime(2027, 3, 9, 21, tzinfo=UTC))
    assert codes(episode(hourly)) == ["hold_too_short"]
    assert codes(episode(hold(last_dose_on=date(2027, 3, 1)))) == []  # longer is safe


def test_a_last_dose_already_past_when_planned_or_signed_started_late() -> None:
    late_plan = episode(hold(), planned_at=datetime(2027, 3, 3, 15, tzinfo=UTC))
    (b,) = g.decide(late_plan, LIMITS)[1]
    assert b.code == "hold_started_late" and "(Tue 2 Mar) had already passed when the plan was made (Wed 3 Mar)" \
        in b.message
    late_sign = episode(hold(signed_at=datetime(2027, 3, 4, 15, tzinfo=UTC)))
    assert "when the hold was signed (Thu 4 Mar)" in g.decide(late_sign, LIMITS)[1][0].message
    # Signed on the last-dose day itself is in time.
    assert codes(episode(hold(signed_at=datetime(2027, 3, 2, 23, tzinfo=UTC)))) == []


def _warfarin(value: str | None, at: datetime | None) -> g.HoldFacts:
    return hold(drug_name="warfarin", stop_days=5, last_dose_on=date(2027, 3, 4), inr_required=True,
                inr_value=Decimal(value) if value else None, inr_at=at)


def test_warfarin_needs_a_recent_normal_inr() -> None:
    day_before = datetime(2027, 3, 9, 14, tzinfo=UTC)
    assert codes(episode(_warfarin(None, None))) == ["inr_missing"]
    assert codes(episode(_warfarin("1.1", day_before))) == []
    assert codes(episode(_warfarin("1.2", day_before))) == []  # at the threshold
    assert codes(episode(_warfarin("1.3", day_before))) == ["inr_high"]
    assert codes(episode(_warfarin("1.1", datetime(2027, 3, 8, 14, tzinfo=UTC)))) == ["inr_stale"]
    (b,) = g.decide(episode(_warfarin("1.1", datetime(2027, 3, 8, 14, tzinfo=UTC))), LIMITS)[1]
    assert b.message == ("Warfarin: the INR of 1.1 was drawn Mon 8 Mar; it counts only if drawn on the "
                         "procedure day or the day before.")


def test_the_inr_window_counts_the_patients_local_days_across_a_dst_change() -> None:
    # Clocks spring forward on Sun 14 March 2027 in New York; the procedure is Mon 15 March 08:00 EDT.
    procedure = datetime(2027, 3, 15, 12, 0, tzinfo=UTC)
    sunday_00_30 = datetime(2027, 3, 14, 5, 30, tzinfo=UTC)  # EST, before the change: the day before
    saturday_23_30 = datetime(2027, 3, 14, 4, 30, tzinfo=UTC)  # Sat 13 March local, although 14 March in UTC
    assert codes(episode(_warfarin("1.0", sunday_00_30), procedure_at=procedure)) == []
    assert codes(episode(_warfarin("1.0", saturday_23_30), procedure_at=procedure)) == ["inr_stale"]
    # And in autumn (Sun 7 November 2027): a 25-hour day still counts as one day.
    autumn = datetime(2027, 11, 8, 13, 0, tzinfo=UTC)  # Mon 8 Nov 08:00 EST
    assert codes(episode(_warfarin("1.0", datetime(2027, 11, 7, 4, 30, tzinfo=UTC)), procedure_at=autumn)) == []
    assert codes(episode(_warfarin("1.0", datetime(2027, 11, 7, 3, 30, tzinfo=UTC)),
                         procedure_at=autumn)) == ["inr_stale"]


def test_candidacy_and_escort_missing_block() -> None:
    assert codes(episode(mri_reviewed=False, conservative_care=False, escort_arranged=False)) == [
        "candidacy_missing", "candidacy_missing", "escort_missing"]


def test_a_new_blocker_is_one_function_in_the_rules() -> None:
    def hold_not_stopped(e: g.EpisodeFacts, _: g.GoLimits) -> list[g.Blocker]:
        return [g.Blocker("hold_not_stopped", h.id, f"{h.drug_name}: not stopped") for h in e.holds]

    assert g.decide(episode(hold()), LIMITS, (*g.RULES, hold_not_stopped))[1] == [
        g.Blocker("hold_not_stopped", 1, "clopidogrel: not stopped")]


def test_a_last_dose_already_past_when_the_procedure_moved_started_late() -> None:
    moved = episode(hold(last_dose_on=date(2027, 2, 28)), procedure_at=datetime(2027, 3, 8, 13, tzinfo=UTC),
                    moved_at=datetime(2027, 3, 5, 15, tzinfo=UTC))
    (b,) = g.decide(moved, LIMITS)[1]
    assert b.code == "hold_started_late" and "when the procedure was moved (Fri 5 Mar)" in b.message


def test_a_signature_for_a_later_procedure_is_too_short_for_an_earlier_one() -> None:
    # Signed for Wed 10 March (last dose Tue 2 March), the procedure is now Sat 6 March.
    moved = episode(hold(last_dose_on=date(2027, 2, 26), signed_for=PROCEDURE),
                    procedure_at=datetime(2027, 3, 6, 13, tzinfo=UTC))
    assert codes(moved) == ["hold_too_short"]
    assert codes(episode(hold(signed_for=datetime(2027, 3, 1, 13, tzinfo=UTC)))) == []  # signed for earlier
