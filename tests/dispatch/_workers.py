"""Worker subprocesses (``python -m pathway.cli worker``) pointed at a test database and a fake
Twilio hosted in the test process. Every process started here is killed in ``close()``; every
wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.fakes.fake_twilio import FakeTwilio
from tests.fakes.fixtures import FROM_NUMBER

PUBLIC_URL = "https://pathway.clinic.example"
# Variables of the parent that must not leak into a worker (settings, secrets, proxies).
_DROP_PREFIXES = ("PATHWAY_", "TWILIO_")
_DROP = {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
         "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"}


def daytime_zone(now: datetime | None = None) -> str:
    """A fixed-offset zone where it is about noon now, so quiet hours never get in the way of a
    real-time test whatever the hour it runs at."""
    now = now or datetime.now(UTC)
    for offset in range(-12, 15):
        name = "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"
        if 11 <= now.astimezone(ZoneInfo(name)).hour <= 13:
            return name
    raise AssertionError("no zone found at noon")  # pragma: no cover


def worker_env(db_url: str, fake: FakeTwilio, **settings: Any) -> dict[str, str]:
    """The environment of a worker: the test database, the fake Twilio, short timings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROP_PREFIXES) and k not in _DROP}
    env.update({
        "PATHWAY_DATABASE_URL": db_url,
        "PATHWAY_WEB_PUBLIC_URL": PUBLIC_URL,
        "PATHWAY_SMS_BACKEND": "twilio",
        "PATHWAY_SMS_FROM_NUMBER": FROM_NUMBER,
        "PATHWAY_SMS_API_BASE_URL": fake.base_url,
        "PATHWAY_SMS_RATE_LIMIT": "false",
        "TWILIO_ACCOUNT_SID": fake.account_sid,
        "TWILIO_AUTH_TOKEN": fake.auth_token,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    defaults = {"tick_seconds": 0.2, "housekeeping_seconds": 0.5, "lease_seconds": 2, "reconcile_grace_seconds": 3.5,
                "batch_size": 25, "concurrency": 4, "timeout_seconds": 1.0}
    defaults.update(settings)
    for key, value in defaults.items():
        section = "SMS" if key == "timeout_seconds" else "DISPATCH"
        env[f"PATHWAY_{section}_{key.upper()}"] = str(value)
    return env


@dataclass
class WorkerProcess:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind runs in the worker."""
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM (finish the text in hand, then exit); SIGKILL if it does not exit in time."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        return self.proc.returncode

    def wait_started(self, timeout: float = 60.0) -> bool:
        """Until the worker says it started (its signal handlers are set from then on)."""
        return wait_for(lambda: " started" in self.output() or not self.alive(), timeout=timeout, interval=0.05)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class WorkerPool:
    """Starts workers and guarantees they are all dead when the block ends."""

    db_url: str
    fake: FakeTwilio
    log_dir: Path
    settings: dict[str, Any] = field(default_factory=dict)
    started: list[WorkerProcess] = field(default_factory=list)

    def start(self, *args: str) -> WorkerProcess:
        name = f"w{len(self.started) + 1}"
        log = self.log_dir / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "pathway.cli", "worker", *args],
                env=worker_env(self.db_url, self.fake, **self.settings), cwd=self.log_dir,
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            )
        w = WorkerProcess(name, proc, log)
        self.started.append(w)
        return w

    def close(self) -> None:
        for w in self.started:
            with contextlib.suppress(Exception):
                w.kill()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def logs(self) -> str:
        return "\n".join(f"--- {w.name} (pid {w.pid})\n{w.output()}" for w in self.started)


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def assert_no_patient_data(log: str, phones: Iterable[str], bodies: Iterable[str]) -> None:
    """Worker logs carry message ids and SIDs, never a phone number or a body."""
    leaks = []
    for phone in phones:
        digits = phone.lstrip("+")
        if phone in log or digits in log or digits[1:] in log or "%2B" + digits in log:
            leaks.append(phone)
    for body in bodies:
        if body in log or body[:40] in log:
            leaks.append(body)
    assert not leaks, f"worker logs contain patient data: {leaks[:5]}"
    assert not re.search(r"To=%2B|\bTo=\+|'to': '\+", log), "worker logs contain a To= parameter"
