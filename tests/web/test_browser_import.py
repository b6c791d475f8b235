"""The schedule upload page in a real browser (Chromium): a bad file is refused line by line, the
fixed file is imported, and importing it again changes nothing. Screenshots under test-output/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from pathway.models import Patient
from tests.services.test_schedule_import import ANA, BOB, HEADER
from tests.web.test_browser import SHOTS, _sign_in, chromium, live  # noqa: F401 (live: the shared app, a fixture)

pytestmark = pytest.mark.browser


def test_a_coordinator_uploads_a_schedule_and_reads_the_report(live: Any, tmp_path: Path) -> None:  # noqa: F811
    server, _clock = live
    SHOTS.mkdir(parents=True, exist_ok=True)
    bad = tmp_path / "schedule-bad.csv"
    bad.write_text("\n".join([HEADER, ANA, BOB.replace("1948-07-01", "07/01/1948").replace("(212) 555-0102", "12")])
                   + "\n", encoding="utf-8")
    good = tmp_path / "schedule.csv"
    good.write_text("\n".join([HEADER, ANA, BOB]) + "\n", encoding="utf-8")

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})

        def shot(step: str) -> None:
            page.screenshot(path=str(SHOTS / f"{step}.png"), full_page=True)

        _sign_in(page, "coordinator@browser.test", at=server.url + "/login")
        page.wait_for_url(server.url + "/")
        page.get_by_role("link", name="Patients").first.click()
        page.get_by_role("link", name="Import a schedule").click()
        page.get_by_role("heading", name="Import a schedule").wait_for()
        shot("import-01-form")

        # A file with one bad line: nothing is imported, the line and its columns are named.
        page.get_by_label("Schedule file (CSV, UTF-8)").set_input_files(str(bad))
        page.get_by_role("button", name="Check and import").click()
        page.get_by_text("Nothing was imported.").wait_for()
        row = page.locator("#line-3")
        assert "birth_date" in row.inner_text() and "phone" in row.inner_text()
        assert "new patient" in page.locator("#line-2").inner_text()
        shot("import-02-refused")

        # Checked only: what would happen, nothing stored.
        page.get_by_label("Schedule file (CSV, UTF-8)").set_input_files(str(good))
        page.get_by_label("Check only").check()
        page.get_by_role("button", name="Check and import").click()
        page.get_by_text("Checked only, nothing stored.").wait_for()
        shot("import-03-dry-run")

        # Imported: each line links to the new patient and episode.
        page.get_by_label("Schedule file (CSV, UTF-8)").set_input_files(str(good))
        page.get_by_label("Check only").uncheck()
        page.get_by_role("button", name="Check and import").click()
        page.get_by_text("Imported 2 rows.").wait_for()
        shot("import-04-imported")
        page.locator("#line-2").get_by_role("link", name="A100").click()
        page.get_by_role("heading", name="Ruiz, Ana").wait_for()

        # The same file again: every line unchanged.
        page.goto(server.url + "/patients/import")
        page.get_by_label("Schedule file (CSV, UTF-8)").set_input_files(str(good))
        page.get_by_role("button", name="Check and import").click()
        page.get_by_text("Imported 2 rows.").wait_for()
        assert page.locator("#line-2").get_by_text("unchanged", exact=True).is_visible()
        shot("import-05-again")
    with server.runtime.sessions() as s:
        assert s.scalar(select(func.count(Patient.id))) == 2


def test_a_file_over_the_page_limit_is_refused_in_the_browser_with_the_command_to_use(
        live: Any, tmp_path: Path) -> None:  # noqa: F811
    """Over real HTTP (the server refuses the body unread): the page again, saying what to do."""
    server, _clock = live
    SHOTS.mkdir(parents=True, exist_ok=True)
    big = tmp_path / "schedule-big.csv"
    lines = [HEADER] + [ANA.replace("A100", f"Z{i:06d}") for i in range(12_000)]
    big.write_text("\n".join(lines) + "\n", encoding="utf-8")
    limit = server.runtime.config.web.max_request_bytes
    assert big.stat().st_size > limit
    with server.runtime.sessions() as s:
        before = s.scalar(select(func.count(Patient.id)))

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        _sign_in(page, "coordinator@browser.test", at=server.url + "/login")
        page.wait_for_url(server.url + "/")
        page.goto(server.url + "/patients/import")
        page.get_by_label("Schedule file (CSV, UTF-8)").set_input_files(str(big))
        page.get_by_role("button", name="Check and import").click()
        alert = page.locator("#too-large")
        alert.wait_for()
        assert "Nothing was imported: the file is too large for this page." in alert.inner_text()
        assert "pathway import schedule FILE.csv --by YOUR-EMAIL" in alert.inner_text()
        assert page.get_by_label("Schedule file (CSV, UTF-8)").is_visible()  # the form again
        page.screenshot(path=str(SHOTS / "import-06-too-large.png"), full_page=True)
    with server.runtime.sessions() as s:
        assert s.scalar(select(func.count(Patient.id))) == before
