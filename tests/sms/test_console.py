from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest

from pathway.sms import ConsoleTransport, OutgoingSms, Transport

T0 = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)


def test_console_transport_prints_each_text_and_reports_it_delivered() -> None:
    out = io.StringIO()
    transport = ConsoleTransport(out, clock=lambda: T0, show_bodies=True)
    result = transport.send(OutgoingSms("m1", "+15551230001", "Stop apixaban tonight.", None))
    assert result.status == "delivered"
    assert result.provider_id.startswith("console-") and len(result.provider_id) == 8 + 32
    assert out.getvalue() == "[sms m1 -> +*******0001] Stop apixaban tonight.\n"


def test_console_transport_defaults_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    ConsoleTransport(clock=lambda: T0, show_bodies=True).send(OutgoingSms("m2", "+15551230001", "hello", None))
    assert "[sms m2 -> +*******0001] hello" in capsys.readouterr().out


def test_console_transport_masks_the_number_and_hides_the_words_unless_told(
        capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    ConsoleTransport(clock=lambda: T0).send(OutgoingSms("m3", "+1 212-555-0147", "Stop apixaban tonight.", None))
    printed = capsys.readouterr()
    seen = printed.out + printed.err + caplog.text
    assert "[sms m3 -> +* ***-***-0147] (22 characters; [sms] console_show_bodies shows them)" in printed.out
    assert "555" not in seen and "apixaban" not in seen
    assert caplog.records == []  # the console writes nothing to logging


def test_the_worker_console_shows_bodies_only_when_the_setting_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    from pathway.clock import FixedClock
    from pathway.config import load_config
    from pathway.dispatch.worker import make_transport

    for setting, shown in (("false", False), ("true", True)):
        config = load_config(env={"PATHWAY_SMS_CONSOLE_SHOW_BODIES": setting})
        make_transport(config, FixedClock(T0)).send(OutgoingSms("m4", "+15551230001", "Stop apixaban tonight.", None))
        out = capsys.readouterr().out
        assert ("apixaban" in out) is shown and "+15551230001" not in out and "0001" in out


def test_console_transport_lists_what_it_sent_to_a_number_since_a_time() -> None:
    now = [T0]
    transport = ConsoleTransport(io.StringIO(), clock=lambda: now[0])
    transport.send(OutgoingSms("m1", "+15551230001", "early", None))
    now[0] = T0 + timedelta(minutes=5)
    transport.send(OutgoingSms("m2", "+15551230001", "late", None))
    transport.send(OutgoingSms("m3", "+15551230002", "someone else", None))
    found = transport.list_sent("+15551230001", T0 + timedelta(minutes=1))
    assert [m.body for m in found] == ["late"]
    assert found[0].created_at == T0 + timedelta(minutes=5)


def test_console_transport_needs_an_aware_since() -> None:
    with pytest.raises(ValueError, match="aware"):
        ConsoleTransport(io.StringIO(), clock=lambda: T0).list_sent("+15551230001", T0.replace(tzinfo=None))


def test_console_transport_is_unlimited_and_satisfies_the_protocol() -> None:
    transport: Transport = ConsoleTransport(io.StringIO(), clock=lambda: T0)
    assert transport.name == "console"
    assert transport.default_rate_per_second is None
