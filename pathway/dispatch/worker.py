"""The worker process: APScheduler ticks that look at the outbox. Reminders live in our tables.

One scheduler per process, started on purpose by ``pathway worker`` (BlockingScheduler) or by
``pathway demo`` (BackgroundScheduler), never by ``create_app`` or an import. Jobs are ticks,
not reminders, and use the in-memory job store: nothing is pickled into a shared store.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from dataclasses import dataclass
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor as APThreadPool
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy.orm import Session, sessionmaker

from pathway.clock import Clock
from pathway.config import Config
from pathway.dispatch.housekeeping import HousekeepingReport, housekeeping
from pathway.dispatch.reconcile import ReconcileReport, reconcile_unknown
from pathway.dispatch.run import Dispatcher, DispatchReport
from pathway.dispatch.settings import DispatchSettings
from pathway.services import outcomes
from pathway.services.base import Env, Rules
from pathway.sms import ConsoleTransport, Transport

log = logging.getLogger("pathway.worker")


def make_transport(config: Config, clock: Clock) -> Transport:
    if config.sms.backend == "twilio":
        from pathway.sms.twilio import TwilioTransport

        return TwilioTransport(
            config.secrets.twilio_account_sid,
            config.secrets.twilio_auth_token,
            from_number=config.sms.from_number or None,
            messaging_service_sid=config.sms.messaging_service_sid or None,
            api_base_url=config.sms.api_base_url or None,
            timeout=config.sms.timeout_seconds,
        )
    return ConsoleTransport(clock=clock, show_bodies=config.sms.console_show_bodies)


# How long one dispatch tick may keep claiming full batches before it reconciles and yields.
DRAIN_SECONDS = 10.0


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Worker:
    dispatcher: Dispatcher

    @classmethod
    def build(cls, config: Config, sessions: sessionmaker[Session], rules: Rules, clock: Clock,
              transport: Transport | None = None, wid: str | None = None) -> Worker:
        transport = transport or make_transport(config, clock)
        settings = DispatchSettings.from_config(config, transport.default_rate_per_second)
        return cls(Dispatcher(sessions=sessions, transport=transport, settings=settings, rules=rules, clock=clock,
                              worker_id=wid or worker_id()))

    @property
    def stop(self) -> threading.Event:
        return self.dispatcher.stop

    def dispatch_tick(self) -> tuple[DispatchReport, ReconcileReport]:
        d = self.dispatcher
        # A full batch means more is due: keep going now rather than one batch per tick (10,000
        # texts due in one minute would otherwise wait up to 200 ticks), within a time budget so
        # reconcile still runs.
        report = d.drain(max(d.settings.tick.total_seconds(), DRAIN_SECONDS))
        rec = reconcile_unknown(d.sessions, d.transport, d.settings, d.rules, clock=d.clock, worker_id=d.worker_id)
        return report, rec

    def housekeeping_tick(self) -> HousekeepingReport:
        d = self.dispatcher
        with d.sessions.begin() as session:
            report = housekeeping(session, d.clock(), d.worker_id)
        # The outcome questions due now (issue 12), in their own transaction: a failure there
        # leaves the housekeeping done.
        with d.sessions.begin() as session:
            report.outcome_texts = outcomes.ask_due(session, Env(rules=d.rules, now=d.clock()))
        return report

    def _safe(self, fn: Any) -> Any:
        def run() -> None:
            try:
                fn()
            except Exception:
                log.exception("tick %s failed", fn.__name__)

        run.__name__ = fn.__name__
        return run

    def schedule(self, scheduler: BaseScheduler) -> None:
        s = self.dispatcher.settings
        common: dict[str, Any] = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None,
                                  "replace_existing": True}
        scheduler.add_job(self._safe(self.dispatch_tick), "interval", seconds=s.tick.total_seconds(),
                          id="dispatch", **common)
        scheduler.add_job(self._safe(self.housekeeping_tick), "interval", seconds=s.housekeeping.total_seconds(),
                          id="housekeeping", **common)

    def run_forever(self) -> None:
        """``pathway worker``: block until SIGTERM/SIGINT; finish the text in hand, then exit."""
        scheduler = BlockingScheduler(executors={"default": APThreadPool(2)}, timezone="UTC")
        self.schedule(scheduler)

        def on_signal(signum: int, _frame: Any) -> None:
            log.info("signal %s: finishing the text in hand, then stopping", signum)
            self.stop.set()
            threading.Thread(target=lambda: scheduler.shutdown(wait=True), daemon=True).start()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        self.housekeeping_tick()
        if not self.stop.is_set():  # a signal during start-up: the scheduler never ran, nothing to wait for
            log.info("worker %s started", self.dispatcher.worker_id)
            scheduler.start()
        self.dispatcher.close()
        log.info("worker %s stopped", self.dispatcher.worker_id)

    def start_background(self) -> BackgroundScheduler:
        """``pathway demo``: the same ticks in this process, in the background."""
        scheduler = BackgroundScheduler(executors={"default": APThreadPool(2)}, timezone="UTC")
        self.schedule(scheduler)
        scheduler.start()
        return scheduler
