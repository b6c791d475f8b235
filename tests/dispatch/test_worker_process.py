"""`pathway worker` as a process: one pass with --once, and a clean stop on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from pathway.clock import FixedClock
from pathway.models import Message, WorkerHeartbeat

PATHWAY = str(Path(sys.executable).with_name("pathway"))
ZONES = ["America/New_York", "America/Los_Angeles", "Pacific/Honolulu", "Europe/London", "Asia/Tokyo",
         "Australia/Sydney", "Asia/Kolkata", "Europe/Moscow"]


@pytest.fixture
def clock() -> FixedClock:
    """A subprocess worker reads the real clock, so these texts are planned in real time."""
    return FixedClock(datetime.now(UTC) - timedelta(seconds=5))


@pytest.fixture
def daytime_zone() -> str:
    """A patient zone where it is daytime now, so quiet hours do not hold the text back."""
    now = datetime.now(UTC)
    return next(z for z in ZONES if 9 <= now.astimezone(ZoneInfo(z)).hour < 18)


def _env(outbox_db: Any, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PATHWAY_", "TWILIO_"))}
    env.update({"PATHWAY_DATABASE_URL": outbox_db.url, "PATHWAY_SMS_BACKEND": "console",
                "PATHWAY_DISPATCH_TICK_SECONDS": "0.2", **extra})
    return env


def test_worker_once_sends_what_is_due_and_exits(outbox_db, sessions, enrol, daytime_zone) -> None:
    for _ in range(3):
        enrol(timezone=daytime_zone)
    r = subprocess.run([PATHWAY, "worker", "--once"], env=_env(outbox_db), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "claimed 3, sent 3" in r.stdout
    with sessions() as s:
        assert set(s.scalars(select(Message.status))) == {"delivered"}
        assert s.scalars(select(WorkerHeartbeat)).one() is not None
    assert "+1212555" not in r.stderr  # the console prints texts on stdout; logs carry ids only


def test_worker_stops_cleanly_on_sigterm(outbox_db, sessions, enrol, daytime_zone) -> None:
    proc = subprocess.Popen([PATHWAY, "worker"], env=_env(outbox_db), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait for its first heartbeat
            with sessions() as s:
                if s.scalars(select(WorkerHeartbeat)).first() is not None:
                    break
            time.sleep(0.2)
        else:
            raise AssertionError("worker never wrote a heartbeat")
        enrol(timezone=daytime_zone)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with sessions() as s:
                if s.scalars(select(Message.status)).one() == "delivered":
                    break
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "stopped" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    with sessions() as s:
        assert s.scalars(select(Message.status)).one() == "delivered"
