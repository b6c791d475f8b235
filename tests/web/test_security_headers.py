"""Security headers on every answer, set in one place (issue 13): pages, the API, errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pathway.resources import templates_dir

SAME_ON_EVERY_ANSWER = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def _csp(response: Any) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.strip() for part in policy.split(";")}


def _assert_hardened(response: Any, *, cacheable: bool = False) -> None:
    for name, value in SAME_ON_EVERY_ANSWER.items():
        assert response.headers.get(name) == value, (name, response.headers.get(name))
    csp = _csp(response)
    assert csp["frame-ancestors"] == "frame-ancestors 'none'"
    assert csp["script-src"] == "script-src 'self'" and csp["style-src"] == "style-src 'self'"
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert re.fullmatch(r"[0-9a-f]{16}", response.headers["X-Request-ID"])
    if cacheable:
        assert "no-store" not in response.headers.get("Cache-Control", "")
    else:
        assert response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in response.headers  # plain http here


def test_a_page_carries_the_security_headers_and_is_never_stored(as_role: Any, make_patient: Any) -> None:
    patient = make_patient()
    nurse = as_role("coordinator")
    response = nurse.get(f"/patients/{patient.id}")
    assert response.status_code == 200
    _assert_hardened(response)
    _assert_hardened(nurse.get("/login"))  # a redirect too


def test_an_api_answer_carries_the_security_headers_and_is_never_stored(api: Any) -> None:
    patient = api.patient()
    answer = api.get(f"/patients/{patient['id']}")
    assert answer.status == 200
    _assert_hardened(answer.response)


def test_error_answers_carry_the_security_headers(api: Any, browser: Any, as_role: Any) -> None:
    missing = api.get("/patients/987654321")
    assert missing.status == 404
    _assert_hardened(missing.response)
    unauthenticated = api.get("/worklist", role=None)
    assert unauthenticated.status == 401
    _assert_hardened(unauthenticated.response)
    page_404 = as_role("coordinator").get("/patients/987654321")
    assert page_404.status_code == 404
    _assert_hardened(page_404)
    bad_login = browser.login("nobody@example.test", "wrong password")
    assert bad_login.status_code == 401
    _assert_hardened(bad_login)


def test_static_files_may_be_cached_but_keep_the_other_headers(browser: Any) -> None:
    for url in ("/static/pathway/pathway.css", "/bootstrap/static/css/bootstrap.min.css"):
        response = browser.get(url)
        assert response.status_code == 200, url
        _assert_hardened(response, cacheable=True)
        response.close()


def test_hsts_is_sent_only_when_the_request_came_over_https(browser: Any) -> None:
    secure = browser.client.get("/login", base_url="https://pathway.clinic.example")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in browser.client.get("/login").headers


def test_no_template_has_inline_script_style_or_event_handlers() -> None:
    # The policy forbids them, so a browser would silently ignore any that crept in.
    inline = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+\s*=|javascript:", re.I)
    found = []
    for path in Path(templates_dir()).rglob("*.html"):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if inline.search(line):
                found.append(f"{path.name}:{n}: {line.strip()[:80]}")
    assert found == []
