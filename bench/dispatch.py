"""Benchmark the text dispatcher against the fake Twilio on loopback. Prints; never asserts.

    python bench/dispatch.py                 # temp SQLite files
    python bench/dispatch.py --database postgresql://postgres@127.0.0.1:5432/test
    python bench/dispatch.py --quick         # smaller numbers, about a minute

What it measures (the rate limit is off everywhere; the fake Twilio runs in its own process so
it does not share a GIL with what is measured):

1. throughput: texts/s of the dispatcher (``Dispatcher.drain``, as a worker tick runs it, ``concurrency``
   send threads, a real database) against a bare loop of ``TwilioTransport.send`` calls on the
   same number of threads, and their ratio (target >= 0.8);
2. lag: a real ``pathway worker`` process with its default tick and batch, 10,000 texts due
   within the same minute: p50/p99 of (moment the fake received the request - ``send_at``);
3. memory: peak RSS of a real ``pathway worker`` process running a few ticks with 1,000 and
   with 1,000,000 future texts scheduled (target ratio <= 1.2).

For PostgreSQL, ``--database`` is a server URL: each part gets a throwaway database on it.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._db import scratch_database  # noqa: E402

UTC = UTC
FROM_NUMBER = "+15005550006"


# --- the fake Twilio, in a child process ---------------------------------------------------


def _fake_main(conn: Any) -> None:
    """Serve a FakeTwilio that stamps each accepted message with time.time(); answer commands."""
    from tests.fakes.fake_twilio import FakeTwilio

    stamps: dict[str, float] = {}

    class StampingFake(FakeTwilio):
        def _record(self, form: dict[str, str]) -> Any:
            at = time.time()
            record = super()._record(form)
            stamps[record.sid] = at
            return record

    fake = StampingFake().start()
    conn.send((fake.base_url, fake.account_sid, fake.auth_token))
    while True:
        cmd = conn.recv()
        if cmd == "count":
            conn.send(fake.count())
        elif cmd == "reset":
            fake.reset()
            stamps.clear()
            conn.send(True)
        elif cmd == "records":
            conn.send([(stamps.get(r.sid, 0.0), r.to, r.body) for r in fake.records()])
        elif cmd == "stop":
            fake.stop()
            conn.send(True)
            return


class FakeProcess:
    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_fake_main, args=(child,), daemon=True)
        self.proc.start()
        if not self.conn.poll(30):
            raise RuntimeError("the fake Twilio did not start")
        self.base_url, self.account_sid, self.auth_token = self.conn.recv()

    def ask(self, cmd: str) -> Any:
        self.conn.send(cmd)
        if not self.conn.poll(120):
            raise RuntimeError(f"the fake Twilio did not answer {cmd!r}")
        return self.conn.recv()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ask("stop")
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()


# --- databases ----------------------------------------------------------------------------


def daytime_zone() -> str:
    from tests.dispatch._workers import daytime_zone as zone

    return zone()


# --- 1. throughput --------------------------------------------------------------------------


def make_transport(fake: FakeProcess) -> Any:
    from pathway.sms.twilio import TwilioTransport

    return TwilioTransport(fake.account_sid, fake.auth_token, from_number=FROM_NUMBER, api_base_url=fake.base_url,
                           timeout=10.0)


def bare_sdk_loop(fake: FakeProcess, n: int, threads: int) -> float:
    """texts/s of TwilioTransport.send on ``threads`` threads, no database."""
    from pathway.sms import OutgoingSms

    transport = make_transport(fake)
    work: queue.Queue[int] = queue.Queue()
    for i in range(n):
        work.put(i)

    def run() -> None:
        while True:
            try:
                i = work.get_nowait()
            except queue.Empty:
                return
            transport.send(OutgoingSms(ref=f"m{i}", to=f"+1555{3000000 + i:07d}", body=f"bare text {i}",
                                       status_callback=f"https://pathway.clinic.example/webhooks/twilio/status?m={i}"))

    started = time.perf_counter()
    pool = [threading.Thread(target=run) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return n / (time.perf_counter() - started)


def dispatcher_passes(fake: FakeProcess, url: str, n: int, threads: int, batch: int) -> tuple[float, int]:
    """texts/s of the worker's dispatch path (Dispatcher.drain, as each tick runs it) over ``n``
    due texts; returns (rate, drains)."""
    from pathway.clock import system_clock
    from pathway.db import make_engine, make_session_factory
    from pathway.dispatch.run import Dispatcher
    from pathway.dispatch.settings import DispatchSettings
    from pathway.services.base import Clinic, Rules
    from pathway.timeline import QuietHours
    from tests.dispatch import _bulk

    engine = make_engine(url)
    now = system_clock()
    pids = _bulk.add_patients(engine, 500, tz=daytime_zone(), now=now)
    _bulk.add_texts(engine, pids, n, send_at=now - timedelta(seconds=1), now=now, tag="thru")
    rules = Rules.load(Clinic("Riverside Spine & Pain", "+15555550100", "America/New_York"),
                       QuietHours(dtime(8), dtime(20)))
    settings = DispatchSettings(
        public_url="https://pathway.clinic.example", tick=timedelta(seconds=1), housekeeping=timedelta(seconds=30),
        batch_size=batch, lease=timedelta(seconds=60), max_attempts=6, backoff_base=timedelta(seconds=30),
        backoff_max=timedelta(hours=1), reconcile_grace=timedelta(minutes=5), rate_per_second=None,
        sender_key=FROM_NUMBER, concurrency=threads)
    d = Dispatcher(sessions=make_session_factory(engine), transport=make_transport(fake), settings=settings,
                   rules=rules, clock=system_clock, worker_id="bench")
    passes = sent = 0
    started = time.perf_counter()
    while sent < n:
        report = d.drain(60.0)
        passes += 1
        sent += report.sent
        if report.claimed == 0:
            break
    rate = sent / (time.perf_counter() - started)
    d.close()
    engine.dispose()
    return rate, passes


# --- 2 and 3: a real worker process ----------------------------------------------------------


def worker_env(url: str, fake: FakeProcess, **settings: Any) -> dict[str, str]:
    from tests.dispatch._workers import worker_env as env

    stub = SimpleNamespace(base_url=fake.base_url, account_sid=fake.account_sid, auth_token=fake.auth_token)
    return env(url, stub, **settings)  # type: ignore[arg-type]


@dataclass
class Finished:
    maxrss_kb: int
    returncode: int
    output: str


def run_worker(url: str, fake: FakeProcess, tmp: Path, seconds: float | None, until: Any = None,
               **settings: Any) -> Finished:
    """Run ``python -m pathway.cli worker`` until ``until()`` or ``seconds``; SIGTERM; peak RSS."""
    log = tmp / f"worker-{uuid.uuid4().hex[:6]}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "pathway.cli", "worker"],
                                env=worker_env(url, fake, **settings), cwd=tmp, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + (seconds or 600)
        while time.monotonic() < deadline and proc.poll() is None:
            if until is not None and until():
                break
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGTERM)  # finish the text in hand, then exit
        stop_by = time.monotonic() + 60
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)  # reaps it and reads its peak RSS
            if pid:
                break
            if time.monotonic() > stop_by:
                os.kill(proc.pid, signal.SIGKILL)
                stop_by = time.monotonic() + 3600
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if proc.returncode is None:
            proc.kill()
            proc.wait(10)
    return Finished(usage.ru_maxrss, proc.returncode, log.read_text(errors="replace"))


def lag(fake: FakeProcess, url: str, tmp: Path, n: int, threads: int) -> dict[str, float]:
    """A worker with its default tick and batch (1 s, 100); ``n`` texts due within one minute."""
    from pathway.db import make_engine
    from tests.dispatch import _bulk

    engine = make_engine(url)
    now = datetime.now(UTC)
    first = now + timedelta(seconds=8)  # the worker is up by then
    pids = _bulk.add_patients(engine, 1000, tz=daytime_zone(), now=now)
    spacing = 60.0 / n
    _bulk.add_texts(engine, pids, n, send_at=lambda i: first + timedelta(seconds=i * spacing), now=now, tag="lag")
    engine.dispose()
    fake.ask("reset")
    started = time.monotonic()
    finished = run_worker(url, fake, tmp, seconds=600, until=lambda: fake.ask("count") >= n,
                          tick_seconds=1.0, batch_size=100, concurrency=threads, lease_seconds=60,
                          housekeeping_seconds=30, reconcile_grace_seconds=300, timeout_seconds=10)
    elapsed = time.monotonic() - started
    records = fake.ask("records")
    due = {f"lag text {i}:": first.timestamp() + i * spacing for i in range(n)}
    lags = []
    for at, _to, body in records:
        key = body.split(" Riverside")[0]
        if key in due:
            lags.append(at - due[key])
    lags.sort()
    if not lags:
        return {"received": 0, "seconds": elapsed, "exit": finished.returncode}
    return {"received": len(lags), "p50": lags[len(lags) // 2], "p99": lags[min(len(lags) - 1, int(len(lags) * 0.99))],
            "max": lags[-1], "seconds": elapsed, "exit": finished.returncode}


def memory(
    fake: FakeProcess, url: str, tmp: Path, small: int, large: int, threads: int
) -> tuple[int, int, float, float]:
    """Peak RSS (kB) of a worker with ``small`` then ``large`` future texts; insert seconds."""
    from pathway.db import make_engine
    from tests.dispatch import _bulk

    engine = make_engine(url)
    now = datetime.now(UTC)
    pids = _bulk.add_patients(engine, 1000, tz=daytime_zone(), now=now)
    start = now + timedelta(days=2)
    _bulk.add_future_texts(engine, pids, small, first_at=start, spacing=timedelta(seconds=2), now=now, tag="m0")
    # A few due texts too, so the passes do real work.
    _bulk.add_texts(engine, pids, 200, send_at=now - timedelta(seconds=1), now=now, tag="memdue")
    settings = dict(tick_seconds=0.5, housekeeping_seconds=1.0, concurrency=threads, batch_size=100)
    fake.ask("reset")
    rss_small = run_worker(url, fake, tmp, seconds=8, **settings).maxrss_kb
    t = time.perf_counter()
    _bulk.add_future_texts(
        engine, pids, large - small, first_at=start + timedelta(days=1), spacing=timedelta(seconds=1), now=now, tag="m1"
    )
    inserted = time.perf_counter() - t
    _bulk.add_texts(engine, pids, 200, send_at=now - timedelta(seconds=1), now=now, tag="memdue2")
    engine.dispose()
    t = time.perf_counter()
    rss_large = run_worker(url, fake, tmp, seconds=8, **settings).maxrss_kb
    return rss_small, rss_large, inserted, time.perf_counter() - t


# --- main -------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--database", help="PostgreSQL server URL (default: temp SQLite files)")
    ap.add_argument("--quick", action="store_true", help="smaller numbers (about a minute)")
    ap.add_argument("--concurrency", type=int, default=4, help="send threads (default 4)")
    ap.add_argument("--batch", type=int, default=100,
                    help="texts claimed per pass in part 1 (default 100, the worker's default)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds of part 1 (default 3)")
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: throughput,lag,memory")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    n_thru = 1000 if args.quick else 3000
    n_lag = 2000 if args.quick else 10_000
    n_large = 100_000 if args.quick else 1_000_000
    kind = "PostgreSQL" if args.database and not args.database.startswith("sqlite") else "SQLite"
    print(f"pathway dispatch benchmark: {kind}, fake Twilio on loopback (own process), rate limit off, "
          f"{args.concurrency} send threads, {os.cpu_count()} CPUs")
    fake = FakeProcess()
    try:
        with tempfile.TemporaryDirectory(prefix="pathway-bench-") as tmpdir:
            tmp = Path(tmpdir)
            if "throughput" not in skip:
                bare_sdk_loop(fake, 100, args.concurrency)  # warm up connections and imports
                # Alternate the two loops, each on a fresh database, so drift on the machine
                # hits both; report the medians and the median of the rounds' ratios.
                bares, rates, ratios = [], [], []
                for i in range(args.rounds):
                    fake.ask("reset")
                    bares.append(bare_sdk_loop(fake, n_thru, args.concurrency))
                    fake.ask("reset")
                    with scratch_database(args.database, tmp, f"throughput{i}") as url:
                        rate, _passes = dispatcher_passes(fake, url, n_thru, args.concurrency, args.batch)
                    rates.append(rate)
                    ratios.append(rate / bares[-1])
                print(f"\n1. throughput, {n_thru} texts, median of {args.rounds} alternating rounds")
                print(f"   bare SDK loop ({args.concurrency} threads):      {statistics.median(bares):8.0f} texts/s")
                print(f"   dispatcher (Dispatcher.drain, concurrency {args.concurrency}, batch {args.batch}): "
                      f"{statistics.median(rates):8.0f} texts/s")
                print(f"   ratio dispatcher / bare:            {statistics.median(ratios):8.2f}   (target >= 0.8; "
                      f"rounds: {', '.join(f'{r:.2f}' for r in ratios)})")
            if "lag" not in skip:
                fake.ask("reset")
                with scratch_database(args.database, tmp, "lag") as url:
                    result = lag(fake, url, tmp, n_lag, args.concurrency)
                print(f"\n2. lag from send_at to the Twilio request, {n_lag} texts due within one minute "
                      f"(pathway worker, default tick 1 s and batch 100, concurrency {args.concurrency})")
                if result.get("received"):
                    print(f"   received {result['received']:.0f} in {result['seconds']:.1f} s; "
                          f"p50 {result['p50']:.2f} s, p99 {result['p99']:.2f} s, max {result['max']:.2f} s")
                else:
                    print(f"   nothing received in {result['seconds']:.1f} s (worker exit {result['exit']})")
            if "memory" not in skip:
                fake.ask("reset")
                with scratch_database(args.database, tmp, "memory") as url:
                    small, large, inserted, _ = memory(fake, url, tmp, 1000, n_large, args.concurrency)
                print("\n3. worker peak RSS (pathway worker, 8 s of ticks and housekeeping)")
                print(f"   with {1000:>9,} future texts: {small / 1024:7.1f} MiB")
                print(f"   with {n_large:>9,} future texts: {large / 1024:7.1f} MiB   (inserted in {inserted:.1f} s)")
                print(f"   ratio: {large / small:.2f}   (target <= 1.2)")
    finally:
        fake.close()


if __name__ == "__main__":
    main()
