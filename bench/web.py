"""How the worklist, the follow-up board, an episode page, the patients page (the active patients
and the search) and the messages page scale with the number of patients.

    python bench/web.py [--sizes 1000,100000] [--database URL] [--samples 60] [--active 800] [--explain]
                        [--only patients,messages]
                        [--try-index "CREATE INDEX ..."]...

Builds a migrated database (a SQLite file in a temporary directory by default; with
``--database postgresql://...`` a scratch database on that server, dropped afterwards), plans
one template episode per pathway stage with the real services, replicates them with bulk
inserts up to each size (see ``bench/_seed.py``), then times requests through the real app
(Flask test client, FixedClock at 2027-02-01 15:00 UTC): the JSON API routes and, when the
staff pages exist, their HTML routes. The time is the request's handling in the app (test
client round trip, no network). It prints p50/p95 per route and size and the ratio of p95 at
the largest size to the smallest. It prints figures; it never asserts.
Targets: p95 under 100 ms at 100,000 patients; p95 ratio 100k/1k at most 1.5.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, event, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench import _seed  # noqa: E402
from pathway import migrate  # noqa: E402
from pathway.app import create_app  # noqa: E402
from pathway.clock import FixedClock  # noqa: E402
from pathway.config import load_config  # noqa: E402
from pathway.db import normalise_url  # noqa: E402
from pathway.models import Episode, Patient  # noqa: E402
from pathway.runtime import Runtime  # noqa: E402

TARGET_P95_MS = 100.0
TARGET_RATIO = 1.5


@contextmanager
def scratch_database(url: str | None) -> Iterator[str]:
    """A database of the benchmark's own: a SQLite file, or a new database on a PostgreSQL server."""
    if not url:
        with tempfile.TemporaryDirectory(prefix="pathway-bench-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    if url.startswith("sqlite"):
        yield url
        return
    base = make_url(normalise_url(url))
    name = f"pathway_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class StatementLog:
    """Every SQL statement one request runs, with its time, for EXPLAIN."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.rows: list[tuple[float, str, Any]] = []
        self.on = False
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        conn.info["bench_t"] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if self.on:
            self.rows.append(((time.perf_counter() - conn.info.pop("bench_t", time.perf_counter())) * 1000,
                              statement, parameters))

    def explain(self, top: int = 3) -> list[str]:
        out = []
        postgres = self.engine.dialect.name == "postgresql"
        for ms, statement, params in sorted(self.rows, key=lambda r: -r[0])[:top]:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
            with self.engine.connect() as conn:
                plan = conn.exec_driver_sql(prefix + statement, params).fetchall()
            lines = [" | ".join(str(c) for c in row[-1:]) for row in plan]
            short = re.sub(r"\s+", " ", statement)[:300]
            out.append(f"    {ms:7.1f} ms  {short}...\n" + "\n".join(f"        {ln}" for ln in lines))
        return out


def _login(client: Any, email: str) -> bool:
    page = client.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    data = {"email": email, "password": _seed.PASSWORD}
    if found:
        data["csrf_token"] = found.group(1)
    return client.post("/login", data=data).status_code in (302, 303)


def _time(client: Any, paths: list[str], headers: dict[str, str], samples: int, warmup: int = 5,
          log: StatementLog | None = None) -> tuple[list[float], list[float]]:
    """Request times, and the part of each spent in SQL statements (less sensitive to a busy CPU)."""
    out, in_db = [], []
    warmup = max(warmup, len(paths))  # each path once first: a process's first use of a library is not the route's cost
    for i in range(warmup + samples):
        path = paths[i % len(paths)]
        if log is not None:
            log.rows.clear()
            log.on = True
        start = time.perf_counter()
        response = client.get(path, headers=headers)
        elapsed = (time.perf_counter() - start) * 1000
        if log is not None:
            log.on = False
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}: {response.get_data(as_text=True)[:300]}")
        if i >= warmup:
            out.append(elapsed)
            in_db.append(sum(r[0] for r in log.rows) if log is not None else 0.0)
    return out, in_db


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(q) - 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,100000", help="patient counts, ascending (default 1000,100000)")
    parser.add_argument("--database", default=None, help="PostgreSQL server URL (a scratch database is made on it)")
    parser.add_argument("--samples", type=int, default=60, help="timed requests per route and size")
    parser.add_argument("--active", type=int, default=800, help="episodes in the active cohort (default 800)")
    parser.add_argument("--only", default="", help="time only the routes whose name holds one of these words "
                                                     "(comma-separated, e.g. patients,messages)")
    parser.add_argument("--explain", action="store_true", help="print the slowest statements of each route with plans")
    parser.add_argument("--try-index", action="append", default=[], metavar="SQL",
                        help="DDL to run after seeding (repeatable), to measure a proposed index before its migration")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))

    with scratch_database(args.database) as url:
        config = load_config(env={}, overrides={"database": {"url": url}})
        migrate.upgrade(url)
        clock = FixedClock(_seed.T0)
        rt = Runtime.build(config, clock=clock)
        t = time.perf_counter()
        staff = _seed.create_staff(rt)
        templates = _seed.build_templates(rt, staff)
        if args.try_index:
            print("trying: " + "; ".join(args.try_index))
        print(f"database: {rt.engine.dialect.name}; {len(templates)} template episodes planned with the services "
              f"in {time.perf_counter() - t:.1f} s; now = {_seed.T0.isoformat()}; active cohort <= {args.active}")
        app = create_app(runtime=rt, SECRET_KEY="bench-secret")
        client = app.test_client()
        api_headers = {"Authorization": f"Bearer {staff.tokens['coordinator']}"}
        pages = {r.endpoint for r in app.url_map.iter_rules()}
        html_client = app.test_client()
        html = "pages.worklist" in pages and _login(html_client, staff.emails["coordinator"])
        replicator = _seed.Replicator(rt.engine, templates)
        log = StatementLog(rt.engine)
        results: dict[str, dict[int, tuple[float, float]]] = {}

        for size in sizes:
            t = time.perf_counter()
            added = _seed.grow(rt, replicator, size, active=args.active)
            for ddl in args.try_index:
                with rt.engine.begin() as conn:
                    conn.execute(text(ddl.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1)))
            _seed.finish(rt.engine)
            rows = _seed.counts(rt.engine)
            print(f"\n== {size:,} patients (+{added:,} in {time.perf_counter() - t:.1f} s): "
                  + ", ".join(f"{k} {v:,}" for k, v in rows.items()))
            with rt.engine.connect() as conn:
                active_ids = list(
                    conn.scalars(
                        select(Episode.id)
                        .where(Episode.procedure_at >= _seed.T0 - 50 * _seed.DAY)
                        .order_by(Episode.id)
                        .limit(2000)
                    )
                )
            sample_ids = active_ids[:: max(1, len(active_ids) // 50)][:50]
            with rt.engine.connect() as conn:
                people = conn.execute(select(Patient.id, Patient.mrn, Patient.phone, Patient.family_name,
                                             Patient.given_name).order_by(Patient.id.desc()).limit(20)).all()
            # The search as people type it: "given family", "family, given", a lower-case MRN, a
            # phone number with punctuation, a start of a family name.
            searches = [q for p in people for q in (
                f"{p.given_name} {p.family_name}", f"{p.family_name.upper()}, {p.given_name.lower()}",
                p.mrn.lower(), f"({p.phone[2:5]}) {p.phone[5:8]}-{p.phone[8:]}", p.family_name[:4].lower())]
            search_paths = ["/patients?" + urlencode({"q": q}) for q in searches]
            patient_filters = [f"/messages?patient_id={p.id}" for p in people]
            routes: list[tuple[str, Any, list[str], dict[str, str]]] = [
                ("api worklist", client, ["/api/v1/worklist"], api_headers),
                ("api followups", client, ["/api/v1/followups"], api_headers),
                ("api followups overdue", client, ["/api/v1/followups?status=overdue"], api_headers),
                ("api episode", client, [f"/api/v1/episodes/{i}" for i in sample_ids], api_headers),
                ("api patients search", client, ["/api/v1" + p for p in search_paths], api_headers),
            ]
            if html:
                routes += [
                    ("html worklist /", html_client, ["/"], {}),
                    ("html board /board", html_client, ["/board"], {}),
                    ("html episode page", html_client, [f"/episodes/{i}" for i in sample_ids], {}),
                    ("html patients (active)", html_client, ["/patients", "/patients?page=2"], {}),
                    ("html patients search", html_client, search_paths, {}),
                    ("html messages", html_client, ["/messages", "/messages?page=2"], {}),
                    ("html messages filtered", html_client,
                     [*patient_filters, "/messages?status=failed", "/messages?kind=check_72h",
                      f"/messages?from={(_seed.T0 - 7 * _seed.DAY).date()}&to={_seed.T0.date()}"], {}),
                ]
            only = [w for w in args.only.split(",") if w]
            routes = [r for r in routes if not only or any(w in r[0] for w in only)]
            for name, who, paths, headers in routes:
                times, in_db = _time(who, paths, headers, args.samples, log=log)
                results.setdefault(name, {})[size] = (pct(times, 50), pct(times, 95))
                p50, p95 = results[name][size]
                print(f"  {name:24s} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   (SQL p50 {pct(in_db, 50):6.1f} ms, "
                      f"p95 {pct(in_db, 95):6.1f} ms)")
                if args.explain:
                    log.rows.clear()
                    log.on = True
                    who.get(paths[0], headers=headers)
                    log.on = False
                    total = sum(r[0] for r in log.rows)
                    print(f"    {len(log.rows)} statements, {total:.1f} ms in the database")
                    for block in log.explain():
                        print(block)

        lo, hi = sizes[0], sizes[-1]
        print(f"\n== summary ({rt.engine.dialect.name}; targets: p95 < {TARGET_P95_MS:.0f} ms at {hi:,}, "
              f"p95 ratio {hi:,}/{lo:,} <= {TARGET_RATIO})")
        print(f"  {'route':24s} {'p95 @' + format(lo, ','):>14s} {'p95 @' + format(hi, ','):>16s} {'ratio':>7s}")
        for name, by_size in results.items():
            ratio = by_size[hi][1] / by_size[lo][1] if by_size[lo][1] else float("nan")
            flag = "" if by_size[hi][1] < TARGET_P95_MS and ratio <= TARGET_RATIO else "   <- over target"
            print(f"  {name:24s} {by_size[lo][1]:11.1f} ms {by_size[hi][1]:13.1f} ms {ratio:7.2f}{flag}")
        rt.engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
