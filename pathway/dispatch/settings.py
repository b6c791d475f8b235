"""What the dispatcher needs to know, taken from configuration once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pathway.config import Config


@dataclass(frozen=True)
class DispatchSettings:
    public_url: str
    tick: timedelta
    housekeeping: timedelta
    batch_size: int
    lease: timedelta
    max_attempts: int
    backoff_base: timedelta
    backoff_max: timedelta
    reconcile_grace: timedelta
    rate_per_second: float | None  # None: unlimited
    sender_key: str  # whose rate is shared: the From number or Messaging Service
    concurrency: int = 4

    @classmethod
    def from_config(cls, config: Config, transport_rate: float | None) -> DispatchSettings:
        d = config.dispatch
        rate = (config.sms.rate_per_second or transport_rate) if config.sms.rate_limit else None
        return cls(
            public_url=config.web.public_url.rstrip("/"),
            tick=timedelta(seconds=d.tick_seconds),
            housekeeping=timedelta(seconds=d.housekeeping_seconds),
            batch_size=d.batch_size,
            lease=timedelta(seconds=d.lease_seconds),
            max_attempts=d.max_attempts,
            backoff_base=timedelta(seconds=d.backoff_base_seconds),
            backoff_max=timedelta(seconds=d.backoff_max_seconds),
            reconcile_grace=timedelta(seconds=d.reconcile_grace_seconds),
            rate_per_second=rate or None,
            sender_key=config.sms.messaging_service_sid or config.sms.from_number or config.sms.backend,
            concurrency=d.concurrency,
        )

    def callback_url(self, message_id: int) -> str:
        return f"{self.public_url}/webhooks/twilio/status?m={message_id}"
