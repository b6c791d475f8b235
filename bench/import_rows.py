"""Every stored row after an import, to check that a change to the import's code stores the same rows.

    python bench/import_rows.py [--rows 200] [--database postgresql://SERVER/DB] > rows.txt

Imports N rows of `bench/import.py`'s file, then a second file that moves every 5th procedure a
day and an hour later and changes every 7th facility (a re-plan with cancelled and new texts),
confirming holds at risk; then prints every table's rows ordered by id, random tokens and
password hashes masked. Run it on two checkouts (e.g. one from `git archive`) and `diff` the
outputs: ids, versions, audit rows, texts and their events must be the same.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import io
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import inspect, text

from bench._db import scratch_database
from pathway.services import schedule_import as si
from pathway.services.base import Env

_BENCH = importlib.import_module("bench.import")  # bench/import.py: its file and clock ("import" is a keyword)
T0, schedule_csv, importer = _BENCH.T0, _BENCH.schedule_csv, _BENCH.importer
MASKED = {("calendar_links", "token"), ("calendar_links", "token_hash"), ("users", "password_hash")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database", help="a PostgreSQL server URL (a throwaway database on it; default SQLite)")
    ap.add_argument("--rows", type=int, default=200)
    args = ap.parse_args()
    with scratch_database(args.database, Path(tempfile.mkdtemp(prefix="pathway-bench-")), "rows") as url:
        rt, env, coord = importer(url)
        first = schedule_csv(args.rows)
        with rt.sessions.begin() as s:
            assert si.import_schedule(s, env, coord, si.parse_file(first)).applied
        rows = list(csv.reader(io.StringIO(first.decode())))
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(rows[0])
        for i, row in enumerate(rows[1:]):
            if i % 5 == 0:
                row[8] = (datetime.fromisoformat(row[8]) + timedelta(days=1, hours=1)).isoformat(timespec="minutes")
            if i % 7 == 0:
                row[9] = "Other Surgery Center"
            w.writerow(row)
        later = Env(rules=rt.rules, now=T0 + timedelta(days=2))
        with rt.sessions.begin() as s:
            report = si.import_schedule(s, later, coord, si.parse_file(out.getvalue().encode()),
                                        confirm_holds_at_risk=True)
            assert report.applied, report.problems[:3]
        print(report.counts(), file=sys.stderr)
        with rt.engine.connect() as c:
            for table in sorted(inspect(c).get_table_names()):
                if table == "alembic_version":
                    continue
                cols = [col["name"] for col in inspect(c).get_columns(table)]
                order = "id" if "id" in cols else ", ".join(cols)
                for row in c.execute(text(f"SELECT * FROM {table} ORDER BY {order}")):
                    print(table, ["<masked>" if (table, k) in MASKED else v for k, v in zip(cols, row, strict=True)])
        rt.engine.dispose()


if __name__ == "__main__":
    main()
