"""axe-core on a page in the browser tests: one call that fails listing every serious or critical
violation (its rule, where it is and what axe says to do), so a test names what to fix.

axe-playwright-python bundles axe.min.js: nothing is fetched from the network.
"""

from __future__ import annotations

from typing import Any

import pytest

# What fails a page; "minor" and "moderate" findings are reported by axe but do not fail.
FAILING_IMPACTS = ("serious", "critical")
# The standards checked: WCAG 2.1 A and AA, plus axe's best practices (landmarks, heading order).
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def _axe() -> Any:
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        pytest.skip("axe-playwright-python is not installed: pip install axe-playwright-python")
    return Axe()


def violations(page: Any, *, impacts: tuple[str, ...] = FAILING_IMPACTS) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now, those of the given impacts only."""
    results = _axe().run(page, options={"runOnly": {"type": "tag", "values": TAGS},
                                        "resultTypes": ["violations"]})
    return [v for v in results.response["violations"] if v.get("impact") in impacts]


def describe(found: list[dict[str, Any]]) -> str:
    """One line per failing element: rule id, impact, CSS target, axe's help and the failure summary."""
    lines = []
    for v in found:
        for node in v["nodes"]:
            summary = " ".join((node.get("failureSummary") or "").split())
            lines.append(f"{v['id']} ({v['impact']}) at {' '.join(map(str, node['target']))}: {v['help']}"
                         f" — {summary[:300]}")
    return "\n".join(lines)


def assert_accessible(page: Any, where: str = "") -> None:
    """Fail when axe-core finds a serious or critical violation on the page, listing each."""
    found = violations(page)
    assert not found, f"axe-core: serious/critical violations{' on ' + where if where else ''}:\n{describe(found)}"
