"""How the outcomes report (issue 12) scales with the number of episodes.

    python bench/reports.py [--sizes 1000,100000] [--database URL] [--samples 20] [--explain]

For each size, a migrated scratch database (a SQLite file in a temporary directory; with
``--database postgresql://...`` a throwaway database on that server) is filled in the database
itself (``INSERT ... SELECT`` over a generated series, nothing built row by row in Python) with:
that many completed episodes, their procedures 800 to 1,164 days before the clock, so every time
point has passed; for each episode every outcome at every time point (NPRS, walking minutes, ODI
at baseline, 72h, visit, 6w, 3m, 6m, 12m, 24m: 24 current values) plus a replaced 6-week pain score;
a signed hold with a "stopped" answer, a sent 72-hour text and a delivered reminder, a follow-up
step and visit and a PT start; then one report row per episode by migration 0020's own backfill
statement (``report_episodes``, timed). 1,000 patients share the episodes.

Then it times ``GET /api/v1/reports/outcomes`` through the real app (Flask test client, a clinician's
token, FixedClock at 2027-02-01 15:00 UTC): unfiltered and filtered by one proceduralist. It prints
p50/p95 per size and the ratio of p95 at the largest size to the smallest. It never asserts.
Target (issue 12): p95 under 1 s at 100,000 episodes, computed in the database.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from bench._db import scratch_database  # noqa: E402
from pathway.app import create_app  # noqa: E402
from pathway.clock import FixedClock  # noqa: E402
from pathway.config import load_config  # noqa: E402
from pathway.db import normalise_url  # noqa: E402
from pathway.runtime import Runtime  # noqa: E402
from pathway.services.base import SYSTEM  # noqa: E402
from pathway.services.users import create_token, create_user  # noqa: E402

NOW = datetime(2027, 2, 1, 15, 0, tzinfo=UTC)
OLDEST = NOW - timedelta(days=1164)
PATIENTS = 1000
TARGET_P95_S = 1.0
TIME_POINTS = ("baseline", "72h", "visit", "6w", "3m", "6m", "12m", "24m")
DAYS = (-7, 3, 8, 42, 91, 182, 365, 730)


def _series(dialect: str, n: int) -> str:
    """A FROM item ``s(i)`` of the integers 1..n."""
    if dialect == "postgresql":
        return f"generate_series(1, {n}) AS s(i)"
    return f"(WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < {n}) SELECT i FROM r) AS s"


def _at(dialect: str, base: str, days: str) -> str:
    """An instant ``days`` days after the instant expression ``base``, as each database stores it."""
    if dialect == "postgresql":
        return f"({base} + ({days}) * INTERVAL '1 day')"
    return f"strftime('%Y-%m-%d %H:%M:%S.000000', {base}, ({days}) || ' days')"


def _constant(dialect: str, when: datetime) -> str:
    if dialect == "postgresql":
        return f"TIMESTAMPTZ '{when.isoformat()}'"
    return f"'{when.strftime('%Y-%m-%d %H:%M:%S.%f')}'"


def _migration_backfill() -> str:
    """The statement with which migration 0020 fills ``report_episodes`` from the source tables."""
    from pathway.migrate import revision_module

    return str(revision_module("0020").BACKFILL)


def seed(url: str, episodes: int) -> None:
    engine = create_engine(normalise_url(url))
    d = engine.dialect.name
    created = _constant(d, OLDEST - timedelta(days=60))
    with engine.begin() as c:
        c.execute(text(
            "INSERT INTO patients (id, mrn, given_name, family_name, birth_date, phone, timezone, language, "
            "detailed_texts, sms_consent_at, created_at, version) "
            f"SELECT i, 'B' || i, 'Pat', 'Bench' || i, '1950-01-01', '+1212555' || (1000 + i), 'America/New_York', "
            f"'en', false, {created}, {created}, 1 FROM {_series(d, PATIENTS)}"))
        c.execute(text(
            "INSERT INTO episodes (id, patient_id, procedure_at, duration_minutes, facility, facility_address, "
            "proceduralist, levels, status, tried_pt, tried_medication, tried_injections, escort_arranged, "
            "created_at, plan_revision, version) "
            f"SELECT i, 1 + i % {PATIENTS}, {_at(d, _constant(d, OLDEST), 'i % 365')}, 60, "
            "'Facility ' || (i % 3), '', 'Dr. ' || (i % 5), 'L4-L5', 'completed', false, false, false, false, "
            f"{created}, 0, 1 FROM {_series(d, episodes)}"))
        tps = " UNION ALL ".join(f"SELECT '{tp}' AS tp, {k} AS k, {day} AS day"
                                 for k, (tp, day) in enumerate(zip(TIME_POINTS, DAYS, strict=True)))
        codes = "SELECT 'nprs' AS code UNION ALL SELECT 'walk_minutes' UNION ALL SELECT 'odi'"
        value = ("CASE WHEN m.code = 'nprs' "
                 "THEN CASE WHEN t.k = 0 THEN 5 + e.id % 6 ELSE (e.id * 7 + t.k * 3) % 11 END "
                 "WHEN m.code = 'walk_minutes' "
                 "THEN CASE WHEN t.k = 0 THEN e.id % 20 ELSE (e.id * 3 + t.k * 11) % 60 END "
                 "ELSE CASE WHEN t.k = 0 THEN 30 + e.id % 40 ELSE (e.id * 5 + t.k * 7) % 70 END END")
        at = _at(d, "e.procedure_at", "t.day")
        c.execute(text(
            "INSERT INTO observations (episode_id, code, value, unit, time_point, received_at, source, created_at) "
            f"SELECT e.id, m.code, {value}, 'x', t.tp, {at}, 'staff', {at} "
            f"FROM episodes e CROSS JOIN ({codes}) m CROSS JOIN ({tps}) t"))
        # A replaced 6-week pain score per episode (history: never counted).
        six = _at(d, "e.procedure_at", "41")
        c.execute(text(
            "INSERT INTO observations (episode_id, code, value, unit, time_point, received_at, source, created_at, "
            f"superseded_at) SELECT e.id, 'nprs', 10, 'x', '6w', {six}, 'staff', {six}, "
            f"{_at(d, 'e.procedure_at', '42')} FROM episodes e"))
        # The process figures' rows: a signed hold answered "stopped", texts, the visit and PT.
        c.execute(text(
            "INSERT INTO medication_holds (id, episode_id, drug_name, interval_source, prescriber_name, "
            "prescriber_phone, clearance, signed_at, inr_required) "
            f"SELECT e.id, e.id, 'clopidogrel', 'bench', '', '', 'approved', {_at(d, 'e.procedure_at', '-10')}, false "
            "FROM episodes e"))
        c.execute(text(
            "INSERT INTO observations (episode_id, code, value, unit, time_point, received_at, source, created_at, "
            f"hold_id) SELECT e.id, 'stopped_medicine', 1, 'x', NULL, {_at(d, 'e.procedure_at', '-2')}, 'sms', "
            f"{_at(d, 'e.procedure_at', '-2')}, e.id FROM episodes e"))
        for kind, status, day in (("check_72h", "sent", "3"), ("follow_up", "delivered", "7")):
            sent = _at(d, "e.procedure_at", day)
            c.execute(text(
                "INSERT INTO messages (patient_id, episode_id, kind, language, body, plan_key, send_at, status, "
                "attempts, urgent, sent_at, created_at, updated_at) "
                f"SELECT e.patient_id, e.id, '{kind}', 'en', 'b', '{kind}:' || e.id, {sent}, '{status}', 1, false, "
                f"{sent}, {created}, {created} FROM episodes e"))
        c.execute(text(
            "INSERT INTO milestones (episode_id, kind, ref, window_start, window_end, status, rule) "
            f"SELECT e.id, 'follow_up', '', {_at(d, 'e.procedure_at', '7')}, {_at(d, 'e.procedure_at', '11')}, "
            "'done', '' FROM episodes e"))
        for kind, day in (("follow_up", "8 + e.id % 4"), ("pt_start", "14 + e.id % 14")):
            c.execute(text(
                "INSERT INTO appointments (episode_id, kind, appointment_at, status, booked_at) "
                f"SELECT e.id, '{kind}', {_at(d, 'e.procedure_at', day)}, 'done', e.procedure_at FROM episodes e"))
        if d == "postgresql":
            for table in ("patients", "episodes", "medication_holds"):
                c.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                               f"(SELECT max(id) FROM {table}))"))
    with engine.begin() as c:
        c.execute(text("ANALYZE"))
    # The report rows, by the migration's own set-based backfill (so the bench times it too), with
    # statistics as the migration gathers them first.
    start = time.perf_counter()
    with engine.begin() as c:
        c.execute(text(_migration_backfill()))
    print(f"    report rows (migration 0020's backfill) in {time.perf_counter() - start:.1f} s", flush=True)
    with engine.begin() as c:
        c.execute(text("ANALYZE"))
    engine.dispose()


def pct(values: list[float], q: int) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[q - 1]


def measure(url: str, samples: int, explain: bool) -> dict[str, list[float]]:
    config = load_config(env={}, overrides={"database": {"url": url}})
    rt = Runtime.build(config, clock=FixedClock(NOW))
    with rt.unit_of_work() as (session, env):
        create_user(session, env, SYSTEM, "clinician@bench.test", "clinician", "correct horse battery", "C")
        session.flush()
        token = create_token(session, env, SYSTEM, "clinician@bench.test")
    app = create_app(runtime=rt, SECRET_KEY="bench-secret")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    results: dict[str, list[float]] = {}
    for name, path in (("all procedures", "/api/v1/reports/outcomes"),
                       ("one proceduralist, one year", "/api/v1/reports/outcomes?proceduralist=Dr.%201"
                                                        "&from=2024-01-01&to=2024-12-31")):
        for _ in range(2):  # warm up
            assert client.get(path, headers=headers).status_code == 200
        times = []
        for _ in range(samples):
            start = time.perf_counter()
            response = client.get(path, headers=headers)
            times.append(time.perf_counter() - start)
            assert response.status_code == 200, response.get_data(as_text=True)[:300]
        results[name] = times
        six = next(t for t in response.get_json()["time_points"] if t["time_point"] == "6w")
        print(f"    {name}: 6w episodes={six['episodes']} nprs n={six['nprs']['n']} "
              f"median={six['nprs']['median']} responders={six['nprs']['responders']['pct']}%", flush=True)
    if explain:
        _explain(rt)
    rt.engine.dispose()
    return results


def _explain(rt: Any) -> None:
    from pathway.services import outcomes_report
    from pathway.services.base import Actor

    with rt.unit_of_work() as (session, env):
        statements: list[str] = []
        from sqlalchemy import event

        def keep(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
            statements.append(statement)
        event.listen(rt.engine, "before_cursor_execute", keep)
        outcomes_report.outcomes_report(session, env, Actor(role="clinician", user_id=None, label="bench"), {})
        event.remove(rt.engine, "before_cursor_execute", keep)
        print(f"    {len(statements)} statements")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--database", default=None, help="a PostgreSQL URL (a scratch database is made on it)")
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--explain", action="store_true", help="count the statements one report runs")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    p95s: dict[str, dict[int, float]] = {}
    with tempfile.TemporaryDirectory(prefix="pathway-bench-") as tmp:
        for size in sizes:
            with scratch_database(args.database, Path(tmp), f"reports{size}") as url:
                start = time.perf_counter()
                seed(url, size)
                print(f"{size:,} episodes ({size * 25:,} outcome values) seeded in "
                      f"{time.perf_counter() - start:.1f} s", flush=True)
                for name, times in measure(url, args.samples, args.explain).items():
                    p50, p95 = pct(times, 50), pct(times, 95)
                    p95s.setdefault(name, {})[size] = p95
                    print(f"  {name:<30} p50 {p50 * 1000:8.1f} ms  p95 {p95 * 1000:8.1f} ms  "
                          f"(target p95 < {TARGET_P95_S * 1000:.0f} ms)", flush=True)
    if len(sizes) > 1:
        small, large = min(sizes), max(sizes)
        for name, by_size in p95s.items():
            print(f"p95 ratio {large:,}/{small:,} ({name}): {by_size[large] / by_size[small]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
