"""Benchmark: importing the schedule (issue 14), 10,000 rows.

    python bench/import.py [--database postgresql://SERVER/DB] [--rows 10000] [--profile]

Writes a CSV of N new patients with their procedures (a third with no drug, the rest with one
or two, brand names among them), then times, through the real use case and in one transaction
each: a dry run, the import, and importing the same file again (every row unchanged). Target:
the import under a minute on SQLite. It prints figures; it never asserts.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import io
import os
import pstats
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._db import scratch_database
from pathway.config import load_config
from pathway.runtime import Runtime
from pathway.services import schedule_import as si
from pathway.services.base import Actor, Env
from pathway.services.users import create_user

T0 = datetime(2027, 2, 1, 15, 0, tzinfo=UTC)
ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles"]
DRUGS = ["", "Plavix", "warfarin", "Eliquis;ibuprofen", "", "naproxen", "clopidogrel;Advil"]


def schedule_csv(rows: int) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(si.COLUMNS)
    for i in range(rows):
        day = (T0 + timedelta(days=14 + i % 60)).date()
        w.writerow([f"B{i:07d}", "Bench", f"Patient{i}", "1950-01-01", f"+1 212 555 {i % 10000:04d}",
                    ZONES[i % len(ZONES)], "en" if i % 3 else "es", "yes" if i % 4 else "no",
                    f"{day.isoformat()}T{8 + i % 6:02d}:30", "Bench Surgery Center", "Dr. Bench", "L4-L5",
                    DRUGS[i % len(DRUGS)]])
    return out.getvalue().encode()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database", help="a PostgreSQL server URL: the run gets a throwaway database on it, "
                                       "dropped at the end (default: a new SQLite file)")
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--profile", action="store_true", help="print the 25 costliest functions of the import")
    args = ap.parse_args()
    with scratch_database(args.database, Path(tempfile.mkdtemp(prefix="pathway-bench-")), "import") as url:
        bench(url, args)


def importer(url: str) -> tuple[Runtime, Env, Actor]:
    """The app on the scratch database at T0, and a coordinator to import as."""
    rt = Runtime.build(load_config(env={}, overrides={"database": {"url": url}}), clock=lambda: T0)
    env = Env(rules=rt.rules, now=T0)
    with rt.sessions.begin() as s:
        uid = create_user(s, env, Actor(role="admin", label="bench"), "bench@example.test", "coordinator",
                          "bench-password").id
    return rt, env, Actor(role="coordinator", user_id=uid, label=f"user:{uid}")


def bench(url: str, args: argparse.Namespace) -> None:
    rt, env, coord = importer(url)
    data = schedule_csv(args.rows)
    print(f"{args.rows} rows, {len(data) / 1e6:.1f} MB, {rt.engine.dialect.name}")

    def run(label: str, *, dry_run: bool = False, profile: bool = False) -> si.ImportReport:
        start, cpu = time.perf_counter(), time.process_time()
        prof = cProfile.Profile() if profile else None
        if prof:
            prof.enable()
        parsed = si.parse_file(data)
        with rt.sessions.begin() as s:
            report = si.import_schedule(s, env, coord, parsed, dry_run=dry_run)
        if prof:
            prof.disable()
        took, cpu = time.perf_counter() - start, time.process_time() - cpu
        counts = ", ".join(f"{n} {a}" for a, n in report.counts().items() if n)
        print(f"{label}: {took:.1f} s wall, {cpu:.1f} s CPU ({took / args.rows * 1000:.2f} ms a row; {counts}; "
              f"{len(report.problems)} problems)")
        if prof:
            stats = pstats.Stats(prof).sort_stats(os.environ.get("SORT", "cumulative"))
            stats.print_stats(int(os.environ.get("TOP", "25")))
        return report

    run("dry run", dry_run=True)
    start = time.perf_counter()
    report = run("import", profile=args.profile)
    took = time.perf_counter() - start
    print(f"import of {args.rows} rows under a minute: {'met' if took < 60 else 'NOT met'} ({took:.1f} s)"
          if report.ok else "import refused")
    run("same file again")
    rt.engine.dispose()


if __name__ == "__main__":
    main()
