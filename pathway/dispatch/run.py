"""One dispatch pass: claim due texts, send them, record each result. A job is one testable call."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from pathway.clock import Clock
from pathway.dispatch.housekeeping import heartbeat
from pathway.dispatch.outbox import Claimed, claim_due, prepare_claimed, record_failure, record_sent, release
from pathway.dispatch.ratelimit import reserve_slots, slots_affordable
from pathway.dispatch.settings import DispatchSettings
from pathway.services.base import Env, Rules
from pathway.sms import OutgoingSms, SmsError, Transport

log = logging.getLogger("pathway.dispatch")


@dataclass
class DispatchReport:
    claimed: int = 0
    sent: int = 0
    deferred_or_dropped: int = 0
    failed: int = 0
    retry: int = 0
    unknown: int = 0
    released: int = 0
    outcomes: dict[int, str] = field(default_factory=dict)


def _real_sleep(seconds: float) -> None:
    time.sleep(seconds)


@dataclass
class Dispatcher:
    """Everything a pass needs, passed in: database, transport, settings, rules, clock."""

    sessions: sessionmaker[Session]
    transport: Transport
    settings: DispatchSettings
    rules: Rules
    clock: Clock
    worker_id: str
    sleep: Callable[[float], None] = _real_sleep
    stop: threading.Event = field(default_factory=threading.Event)
    rng: random.Random = field(default_factory=random.Random)

    def claim(self) -> list[Claimed]:
        """One transaction: claim, re-check, reserve rate slots. Committed before any send."""
        s = self.settings
        limit = slots_affordable(s.rate_per_second, max(s.tick * 2, s.lease / 4), s.batch_size)
        with self.sessions.begin() as session:
            now = self.clock()
            ids = claim_due(session, now=now, worker_id=self.worker_id, limit=limit, lease=s.lease)
            ready = prepare_claimed(session, ids, now=now, worker_id=self.worker_id, quiet=self.rules.quiet)
            slots = reserve_slots(session, s.sender_key, len(ready), now, s.rate_per_second)
            out = []
            for (m, phone), slot in zip(ready, slots, strict=True):
                m.lease_until = max(m.lease_until or now, slot + s.lease)  # a wait for the rate is not a death
                out.append(Claimed(m.id, phone, m.body, m.attempts, slot, m.lease_until))
            self._claimed_total = len(ids)
            if not ids:  # an idle pass (the usual one): its heartbeat rides in this transaction
                heartbeat(session, self.worker_id, now, 0)
        return out

    def send_one(self, c: Claimed) -> str:
        wait = (c.slot - self.clock()).total_seconds()
        if wait > 0:
            self.sleep(wait)
        if self.stop.is_set():
            with self.sessions.begin() as session:
                release(session, c.id, now=self.clock(), worker_id=self.worker_id, reason="worker stopping")
            return "released"
        if c.lease_until is not None and self.clock() >= c.lease_until:
            # This pass outlived the lease (slow sends ahead of it in the batch): another worker may
            # already have marked the text unknown and, after the grace period, resent it. Sending
            # now could be a second text; give it back instead (a no-op if it is no longer ours).
            with self.sessions.begin() as session:
                release(session, c.id, now=self.clock(), worker_id=self.worker_id,
                        reason="lease expired before the text was handed over")
            log.warning("message %s: lease expired before sending; not sent by this worker", c.id)
            return "released"
        sms = OutgoingSms(ref=f"m{c.id}", to=c.to, body=c.body, status_callback=self.settings.callback_url(c.id))
        try:
            result = self.transport.send(sms)
        except SmsError as exc:
            with self.sessions.begin() as session:
                status = record_failure(
                    session, Env(rules=self.rules, now=self.clock()), c.id, outcome=exc.outcome, code=exc.code,
                    http_status=exc.http_status, retry_after=exc.retry_after, worker_id=self.worker_id,
                    max_attempts=self.settings.max_attempts, base=self.settings.backoff_base,
                    ceiling=self.settings.backoff_max, rng=self.rng)
            log.info("message %s attempt %s: %s (%s)", c.id, c.attempt, status, exc.outcome)
            return status
        except Exception:  # noqa: BLE001 - anything unexpected may have reached the provider
            log.exception("message %s: unexpected error while sending; marking unknown", c.id)
            with self.sessions.begin() as session:
                return record_failure(
                    session, Env(rules=self.rules, now=self.clock()), c.id, outcome="ambiguous", code=None,
                    http_status=None, retry_after=None, worker_id=self.worker_id,
                    max_attempts=self.settings.max_attempts, base=self.settings.backoff_base,
                    ceiling=self.settings.backoff_max, rng=self.rng)
        with self.sessions.begin() as session:
            record_sent(session, c.id, result.provider_id, result.status, now=self.clock(), worker_id=self.worker_id)
        log.info("message %s attempt %s: sent", c.id, c.attempt)
        return "sent"

    def dispatch_due(self) -> DispatchReport:
        """Claim what is due now and send it; returns what happened to each text."""
        report = DispatchReport()
        if self.stop.is_set():
            return report
        claimed = self.claim()
        report.claimed = self._claimed_total
        report.deferred_or_dropped = self._claimed_total - len(claimed)
        if claimed:
            workers = min(self.settings.concurrency, len(claimed))
            if workers == 1:
                results = [self.send_one(c) for c in claimed]
            else:
                with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="send") as pool:
                    results = list(pool.map(self.send_one, claimed))
            for c, r in zip(claimed, results, strict=True):
                report.outcomes[c.id] = r
                if r in ("sent", "delivered"):
                    report.sent += 1
                elif r == "scheduled":
                    report.retry += 1
                elif r == "unknown":
                    report.unknown += 1
                elif r == "released":
                    report.released += 1
                else:
                    report.failed += 1
        if report.claimed:
            with self.sessions.begin() as session:
                heartbeat(session, self.worker_id, self.clock(), report.sent)
        return report

    def now(self) -> datetime:
        return self.clock()
