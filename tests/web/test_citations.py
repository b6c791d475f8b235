"""Pages and data cite their sources in full words, never with an unresolved placeholder.

The pathway definition's citation keys (MILD clinic timelines, ASRA 2018, ...) are defined once
at the top of pathway/data/mild_pathway.toml; what a page shows is the source string itself,
so a bracketed key such as ``[MILD-ref]`` would reach staff as it is.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from typing import Any

from pathway.resources import DATA_DIR
from pathway.timeline import load_definition

# A bracketed citation key: [MILD-ref], [ASRA], [US-SMS], [REF] ...
PLACEHOLDER = re.compile(r"\[[A-Z][A-Za-z0-9]*(?:[-_][A-Za-z0-9]+)*\]")


def _unresolved(text: str) -> list[str]:
    found = PLACEHOLDER.findall(text)
    if "MILD-ref" in text:
        found.append("MILD-ref")
    return found


def _source_strings(node: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every string under a key ending in ``source`` in a TOML document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key.endswith("source") and isinstance(value, str):
                yield f"{where}.{key}", value
            else:
                yield from _source_strings(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _source_strings(item, f"{where}[{i}]")


def test_no_data_source_string_carries_a_placeholder() -> None:
    checked = 0
    problems = []
    for name in ("mild_pathway.toml", "anticoagulants.toml"):
        doc = tomllib.loads((DATA_DIR / name).read_text(encoding="utf-8"))
        for where, text in _source_strings(doc, name):
            checked += 1
            if re.search(r"\[[^\]]*\]", text) or "MILD-ref" in text:
                problems.append(f"{where}: {text}")
    assert checked > 20  # the walk really found the milestones', texts' and drugs' sources
    assert problems == []


def test_the_loaded_definition_cites_every_milestone_and_text_in_full() -> None:
    definition = load_definition()
    sources = [m.source for m in definition.milestones] + [r.source for r in definition.messages]
    sources.append(definition.inr_source)
    assert all(sources)
    assert [s for s in sources if _unresolved(s)] == []
    header = (DATA_DIR / "mild_pathway.toml").read_text(encoding="utf-8").split("\n[pathway]")[0]
    for key in ("MILD clinic timelines", "ASRA 2018", "US texting conventions", "Clinic practice"):
        assert f"#   {key}" in header, f"{key} is not defined at the top of mild_pathway.toml"
        assert any(s.startswith(key) for s in sources), f"no source cites {key}"


def test_no_page_shows_an_unresolved_citation(as_role: Any, make_patient: Any, make_episode: Any) -> None:
    coordinator = as_role("coordinator")
    patient = make_patient()
    episode = make_episode(patient, procedure_at="2027-02-10T08:00",
                           holds=[{"drug": "warfarin"}, {"drug": "aspirin-secondary"}])
    pages = ["/", "/patients", f"/patients/{patient.id}", f"/episodes/{episode.id}",
             f"/episodes/{episode.id}/reschedule", "/board", "/messages"]
    shown = {url: coordinator.text(url) for url in pages}
    assert "ASRA 2018" in shown[f"/episodes/{episode.id}"]  # the rules and their sources are on the page
    assert {url: _unresolved(html) for url, html in shown.items() if _unresolved(html)} == {}
