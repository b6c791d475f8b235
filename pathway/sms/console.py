"""The demo backend: prints each text to a stream instead of sending it.

A console may be captured into a log file, so by default a line shows only the text's id and the
number masked to its last four digits. ``show_bodies=True`` (``[sms] console_show_bodies``, which
``pathway demo`` turns on) prints the words as well, for a person watching the demo.
Nothing here is written to ``logging``.
"""

from __future__ import annotations

import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TextIO

from pathway.sms.base import Answer, IncomingText, OutgoingSms, ProviderMessage, SendResult, StatusReport


def mask_number(number: str) -> str:
    """``+15551230001`` -> ``+*******0001``: enough to tell two texts apart, not to call anyone."""
    digits = sum(ch.isdigit() for ch in number)
    if digits <= 4:
        return "*" * len(number)
    kept, out = 0, []
    for ch in reversed(number):
        if ch.isdigit():
            out.append(ch if kept < 4 else "*")
            kept += 1
        else:
            out.append(ch)
    return "".join(reversed(out))


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

    def __init__(self, stream: TextIO | None = None, *, clock: Callable[[], datetime],
                 show_bodies: bool = False) -> None:
        # ``stream=None`` means "sys.stdout at the time of sending" (so pytest's capsys works).
        self._stream = stream
        self._show_bodies = show_bodies
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
            shown = (sms.body if self._show_bodies
                     else f"({len(sms.body)} characters; [sms] console_show_bodies shows them)")
            print(f"[sms {sms.ref} -> {mask_number(sms.to)}] {shown}", file=stream, flush=True)
        return SendResult(provider_id=provider_id, status="delivered")

    def list_sent(self, to: str, since: datetime) -> list[ProviderMessage]:
        if since.tzinfo is None:
            raise ValueError("since must be an aware datetime")
        with self._lock:
            found = [m for m in self._sent if m.to == to and m.created_at >= since]
        return sorted(found, key=lambda m: m.created_at, reverse=True)
