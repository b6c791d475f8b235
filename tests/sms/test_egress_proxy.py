"""The SDK's own HTTP client honours HTTPS_PROXY and REQUESTS_CA_BUNDLE.

TwilioTransport is built WITHOUT api_base_url, so the SDK targets https://api.twilio.com; the
only route there is the loopback intercepting proxy, which tunnels to the fake and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("trustme", reason="trustme (a test extra) makes the proxy's throwaway CA")

from pathway.sms.base import OutgoingSms, SmsError
from pathway.sms.twilio import TwilioTransport
from tests.fakes.fake_twilio import FakeTwilio
from tests.fakes.fixtures import FROM_NUMBER
from tests.fakes.https_proxy import InterceptingProxy

PATIENT = "+15551230001"


@pytest.fixture
def proxy(fake_twilio: FakeTwilio, monkeypatch: pytest.MonkeyPatch,
          tmp_path: Path) -> Iterator[InterceptingProxy]:
    with InterceptingProxy(("127.0.0.1", fake_twilio.port)) as p:
        for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                     "all_proxy", "TWILIO_EDGE", "TWILIO_REGION", "CURL_CA_BUNDLE"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTPS_PROXY", p.url)
        monkeypatch.setenv("https_proxy", p.url)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(p.write_ca_bundle(tmp_path / "ca.pem")))
        yield p


def transport(fake: FakeTwilio) -> TwilioTransport:
    return TwilioTransport(fake.account_sid, fake.auth_token, from_number=FROM_NUMBER, timeout=2.0)


def test_texts_go_out_through_the_https_proxy_trusting_the_configured_ca(
    fake_twilio: FakeTwilio, proxy: InterceptingProxy
) -> None:
    result = transport(fake_twilio).send(OutgoingSms("m1", PATIENT, "via proxy", None))
    assert proxy.connects == ["api.twilio.com:443"]
    assert proxy.forwarded == [f"POST /2010-04-01/Accounts/{fake_twilio.account_sid}/Messages.json"]
    assert proxy.refused == []
    [record] = fake_twilio.records()
    assert (record.sid, record.body) == (result.provider_id, "via proxy")


def test_a_certificate_the_bundle_does_not_trust_fails_before_sending(
    fake_twilio: FakeTwilio, proxy: InterceptingProxy, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    other = InterceptingProxy(("127.0.0.1", fake_twilio.port))  # a different throwaway CA
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other.write_ca_bundle(tmp_path / "other.pem")))
    with pytest.raises(SmsError) as info:
        transport(fake_twilio).send(OutgoingSms("m1", PATIENT, "never sent", None))
    assert info.value.outcome == "retry"
    assert fake_twilio.count() == 0


def test_a_proxy_that_refuses_the_tunnel_means_nothing_was_sent(
    fake_twilio: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    with InterceptingProxy(("127.0.0.1", fake_twilio.port), host="elsewhere.invalid") as p:
        monkeypatch.setenv("HTTPS_PROXY", p.url)
        monkeypatch.setenv("https_proxy", p.url)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        with pytest.raises(SmsError) as info:
            transport(fake_twilio).send(OutgoingSms("m1", PATIENT, "never sent", None))
        assert info.value.outcome == "retry"
        assert [line.rsplit(" ", 1)[0] for line in p.refused] == ["CONNECT api.twilio.com:443"]
        assert fake_twilio.count() == 0
