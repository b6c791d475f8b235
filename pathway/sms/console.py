"""The demo backend: prints each text to a stream instead of sending it.

This is what a person running ``pathway demo`` reads on their terminal, not a log, so the body
is shown. Nothing here is written to ``logging``.
"""

from __future__ import annotations

import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TextIO

from pathway.sms.base import Answer, IncomingText, OutgoingSms, ProviderMessage, SendResult, StatusReport


class ConsoleBackend:
    """No provider calls a console back: every webhook is refused as unsigned."""

    name = "console"

    def webhook_signed(self, url: str, params: Mapping[str, str], headers: Mapping[str, str]) -> bool:
        return False

    def answer(self, text: str | None) -> Answer:
        return Answer(text or "", "text/plain")

    def read_status(self, params: Mapping[str, str]) -> StatusReport:
        return StatusReport(sid="", provider_status="", status=None, error_code=None, bad_number=None)

    def read_reply(self, params: Mapping[str, str]) -> IncomingText:
        return IncomingText(from_number="", body="", sid=None)


class ConsoleTransport(ConsoleBackend):
    """Prints one line per text and remembers it so ``list_sent`` works like Twilio's.

    ``clock`` is the project's one clock (``pathway.clock.system_clock`` at the edge, a
    ``FixedClock`` in tests): it stamps ``created_at`` so ``list_sent(to, since)`` can filter.
    """

    default_rate_per_second: float | None = None

    def __init__(self, stream: TextIO | None = None, *, clock: Callable[[], datetime]) -> None:
        # ``stream=None`` means "sys.stdout at the time of sending" (so pytest's capsys works).
        self._stream = stream
        self._clock = clock
        self._lock = threading.Lock()
        self._sent: list[ProviderMessage] = []

    def send(self, sms: OutgoingSms) -> SendResult:
        provider_id = f"console-{uuid.uuid4().hex}"
        created_at = self._clock().astimezone(UTC)
        stream = self._stream if self._stream is not None else sys.stdout
        with self._lock:
            self._sent.append(
                ProviderMessage(
                    provider_id=provider_id,
                    to=sms.to,
                    body=sms.body,
                    status="delivered",
                    created_at=created_at,
                )
            )
            print(f"[sms {sms.ref} -> {sms.to}] {sms.body}", file=stream, flush=True)
        return SendResult(provider_id=provider_id, status="delivered")

    def list_sent(self, to: str, since: datetime) -> list[ProviderMessage]:
        if since.tzinfo is None:
            raise ValueError("since must be an aware datetime")
        with self._lock:
            found = [m for m in self._sent if m.to == to and m.created_at >= since]
        return sorted(found, key=lambda m: m.created_at, reverse=True)
