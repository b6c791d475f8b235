"""Benchmark: planning and storing episodes, and re-planning many.

    python bench/plan.py [--database URL] [--episodes 10000] [--samples 200]

Prints the median (and p95) time to plan and store one episode through the real use case
(schedule_episode with two holds, one transaction, committed) - target under 20 ms on SQLite -
and the time to re-plan N stored episodes (each in its own transaction, as a change to the
pathway file or quiet hours would require). It prints figures; it never asserts.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from pathway import migrate
from pathway.config import load_config
from pathway.models import Episode
from pathway.runtime import Runtime
from pathway.services import episodes as ep
from pathway.services.base import Actor, Env
from pathway.services.patients import enrol_patient
from pathway.services.planning import replan
from pathway.services.users import create_user

T0 = datetime(2027, 2, 1, 15, 0, tzinfo=UTC)
ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles"]
DRUGS = [["clopidogrel", "ibuprofen"], ["warfarin"], ["apixaban", "naproxen"], [], ["enoxaparin-prophylactic"]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database", help="database URL (default: a new SQLite file)")
    ap.add_argument("--episodes", type=int, default=10_000)
    ap.add_argument("--samples", type=int, default=200)
    args = ap.parse_args()
    url = args.database or f"sqlite:///{tempfile.mkdtemp(prefix='pathway-bench-')}/plan.db"
    migrate.upgrade(url)
    rt = Runtime.build(load_config(env={}, overrides={"database": {"url": url}}), clock=lambda: T0)
    env = Env(rules=rt.rules, now=T0)
    with rt.sessions.begin() as s:
        uid = create_user(s, env, Actor(role="admin", label="bench"), "bench@example.test", "coordinator",
                          "bench-password").id
    coord = Actor(role="coordinator", user_id=uid, label=f"user:{uid}")
    clin = Actor(role="clinician", user_id=uid, label=f"user:{uid}")

    def one(i: int) -> float:
        tz = ZONES[i % len(ZONES)]
        with rt.sessions.begin() as s:
            p = enrol_patient(s, env, coord, {"mrn": f"B{i:07d}", "given_name": "Bench", "family_name": f"P{i}",
                                              "birth_date": "1950-01-01", "phone": f"+1 212 555 {i % 10000:04d}",
                                              "timezone": tz, "language": "en" if i % 3 else "es",
                                              "sms_consent": True})
            pid = p.id
        day = T0 + timedelta(days=14 + i % 60)
        start = time.perf_counter()
        with rt.sessions.begin() as s:
            ep.schedule_episode(s, env, coord, pid, {
                "procedure_at": day.replace(hour=14).isoformat(), "facility": "Bench Surgery Center",
                "proceduralist": "Dr. Bench", "levels": "L4-L5",
                "holds": [{"drug": d} for d in DRUGS[i % len(DRUGS)]]})
        return time.perf_counter() - start

    for i in range(10):  # warm up imports, caches and the connection pool
        one(10_000_000 + i)
    samples = [one(i) for i in range(args.samples)]
    med = statistics.median(samples) * 1000
    p95 = sorted(samples)[int(len(samples) * 0.95) - 1] * 1000
    print(f"plan and store one episode ({rt.engine.dialect.name}): median {med:.1f} ms, p95 {p95:.1f} ms "
          f"over {len(samples)} (target median < 20 ms: {'met' if med < 20 else 'NOT met'})")

    remaining = max(0, args.episodes - args.samples)
    t = time.perf_counter()
    for i in range(args.samples, args.samples + remaining):
        one(i)
    print(f"stored {args.episodes} episodes in total ({time.perf_counter() - t:.1f} s for the rest)")

    with rt.sessions() as s:
        ids = list(s.scalars(select(Episode.id).order_by(Episode.id)))
    # Re-plan every stored episode, as a change to the pathway file or the quiet hours would.
    later = Env(rules=rt.rules, now=T0 + timedelta(days=1))
    start = time.perf_counter()
    for eid in ids:
        with rt.sessions.begin() as s:
            episode = ep.load_episode(s, eid, lock=True)
            if episode.holds:
                episode.holds[0].clearance = "approved"
                episode.holds[0].signed_at = later.now
                episode.holds[0].signed_by_id = clin.user_id
            replan(s, later, clin, episode, reason="bench re-plan")
    total = time.perf_counter() - start
    print(f"re-plan {len(ids)} episodes: {total:.1f} s ({total / len(ids) * 1000:.2f} ms each)")


if __name__ == "__main__":
    main()
