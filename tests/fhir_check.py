"""Checks shared by the FHIR export's tests: every resource is a valid R4 (R4B models) resource,
and every reference resolves to a resource the export holds."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

# fhir.resources checks structure and cardinality, not code bindings: the required value sets of
# each exported resource's `status` (FHIR R4), checked here.
STATUS = {
    "CarePlan": {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"},
    "Task": {"draft", "requested", "received", "accepted", "rejected", "ready", "cancelled", "in-progress",
             "on-hold", "failed", "completed", "entered-in-error"},
    "Appointment": {"proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow",
                    "entered-in-error", "checked-in", "waitlist"},
    "MedicationStatement": {"active", "completed", "entered-in-error", "intended", "stopped", "on-hold", "unknown",
                            "not-taken"},
    "CommunicationRequest": {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"},
    "Communication": {"preparation", "in-progress", "not-done", "on-hold", "stopped", "completed",
                      "entered-in-error", "unknown"},
}


def validate(resource: dict[str, Any]) -> None:
    """Parse with fhir.resources' R4B model of its type (raises on any structural error), and
    check the status against its required value set. An Appointment that is booked or done has
    both start and end (invariant app-3)."""
    model = get_fhir_model_class(resource["resourceType"])
    parsed = model.model_validate(resource)
    assert parsed.get_resource_type() == resource["resourceType"]
    kind = resource["resourceType"]
    if kind in STATUS:
        assert resource["status"] in STATUS[kind], f"{kind} status {resource['status']!r}"
    if kind == "Appointment" and resource["status"] not in ("proposed", "cancelled", "waitlist"):
        assert resource["start"] <= resource["end"]


def references(node: Any) -> Iterator[str]:
    """Every `reference` string anywhere inside a resource."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def check_bundle(bundle: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Validate the bundle and each entry; every reference names an entry's fullUrl.
    Returns the resources by type."""
    validate(bundle)
    assert bundle["type"] == "collection"
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(urls) == len(set(urls)), "two entries share a fullUrl"
    by_type: dict[str, list[dict[str, Any]]] = {}
    for entry in bundle["entry"]:
        resource = entry["resource"]
        validate(resource)
        assert entry["fullUrl"] == f"urn:uuid:{resource['id']}"
        by_type.setdefault(resource["resourceType"], []).append(resource)
        for ref in references(resource):
            assert ref in urls, f"{resource['resourceType']}/{resource['id']} refers to {ref}, not in the bundle"
    return by_type


def check_bulk(resources: Iterable[dict[str, Any]]) -> None:
    """Bulk Data: each resource valid, ids unique per type, `Type/id` references resolve."""
    rows = list(resources)
    ids = {f"{r['resourceType']}/{r['id']}" for r in rows}
    assert len(ids) == len(rows), "a resource was written twice"
    for r in rows:
        validate(r)
        for ref in references(r):
            assert ref in ids, f"{r['resourceType']}/{r['id']} refers to {ref}, not exported"
