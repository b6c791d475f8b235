"""Which way imports go (house style): walk every module's imports with ast."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "pathway"

# layer -> the pathway layers it may import (besides itself). Third-party rules follow.
ALLOWED = {
    "timeline": {"resources"},
    "models": {"db", "timeline", "resources"},
    "sms": {"resources"},
    "schemas": {"timeline", "resources"},
    "services": {"schemas", "timeline", "models", "db", "resources", "clock"},
    "dispatch": {"services", "models", "db", "sms", "timeline", "resources", "clock", "config"},
    "web": {"services", "schemas", "models", "db", "timeline", "resources", "clock", "config", "runtime", "sms"},
}
FORBIDDEN_THIRD_PARTY = {
    "timeline": {"flask", "sqlalchemy", "twilio", "alembic", "apscheduler", "jinja2", "phonenumbers"},
    "models": {"flask", "twilio", "apscheduler"},
    "sms": {"flask", "sqlalchemy", "apscheduler"},
    "schemas": {"flask", "sqlalchemy", "twilio", "apscheduler"},
    "services": {"flask", "twilio", "apscheduler"},
    "web": {"twilio", "apscheduler"},
}
CLOCK_CALLS = {("datetime", "now"), ("datetime", "utcnow"), ("date", "today"), ("time", "time"), ("datetime", "today")}


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG)
        layer = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        out.append((layer, path))
    return out


def _imports(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "pathway":  # from pathway import timeline
                names += [f"pathway.{a.name}" for a in node.names]
            else:
                names.append(node.module)
    return names


def test_layers_import_only_downwards() -> None:
    problems = []
    for layer, path in _modules():
        if layer not in ALLOWED:
            continue
        for name in _imports(ast.parse(path.read_text())):
            top = name.split(".")[0]
            if top == "pathway":
                parts = name.split(".")
                target = parts[1] if len(parts) > 1 else ""
                if target != layer and target not in ALLOWED[layer]:
                    problems.append(f"{path.relative_to(PKG)} imports {name}")
            elif top in FORBIDDEN_THIRD_PARTY.get(layer, set()):
                problems.append(f"{path.relative_to(PKG)} imports {name}")
    assert not problems, "imports against the layering:\n" + "\n".join(problems)


def _imported_modules(tree: ast.AST) -> list[str]:
    """Every module an import names, also ``from pathway.sms import twilio`` -> ``pathway.sms.twilio``."""
    names = _imports(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [f"{node.module}.{a.name}" for a in node.names]
    return names


def twilio_offences(rel: str, source: str) -> list[str]:
    """Only sms/twilio.py imports twilio; web never names the Twilio backend (it asks pathway.sms)."""
    names = _imported_modules(ast.parse(source))
    out = []
    if rel != "sms/twilio.py" and any(n.split(".")[0] == "twilio" for n in names):
        out.append(f"{rel} imports twilio")
    if rel.startswith("web/") and any(n == "pathway.sms.twilio" or n.startswith("pathway.sms.twilio.") for n in names):
        out.append(f"{rel} imports pathway.sms.twilio")
    return out


def test_only_sms_twilio_module_imports_twilio() -> None:
    offenders = [o for _, path in _modules()
                 for o in twilio_offences(path.relative_to(PKG).as_posix(), path.read_text())]
    assert offenders == []


def test_the_twilio_check_catches_each_way_of_reaching_twilio() -> None:
    assert twilio_offences("web/webhooks.py", "from pathway.sms.twilio import TwilioBackend\n") != []
    assert twilio_offences("web/webhooks.py", "from pathway.sms import twilio\n") != []
    lazy = "def f():\n    from twilio.request_validator import RequestValidator\n"
    assert twilio_offences("web/webhooks.py", lazy) != []
    assert twilio_offences("services/delivery.py", "import twilio.rest\n") != []
    assert twilio_offences("sms/twilio.py", "from twilio.rest import Client\n") == []
    assert twilio_offences("web/webhooks.py", "from pathway.sms import backend\n") == []


def test_timeline_and_services_never_read_the_clock() -> None:
    problems = []
    for layer, path in _modules():
        if layer not in {"timeline", "services", "models", "dispatch", "sms"}:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                owner_name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", None)
                if (owner_name, node.func.attr) in CLOCK_CALLS:
                    problems.append(f"{path.relative_to(PKG)}:{node.lineno} reads the clock")
    assert not problems, "\n".join(problems)


def test_nothing_imports_app_or_cli() -> None:
    offenders = []
    for _, path in _modules():
        for name in _imports(ast.parse(path.read_text())):
            if name in {"pathway.app", "pathway.cli"} and path.stem not in {"cli", "app"}:
                offenders.append(f"{path.relative_to(PKG)} imports {name}")
    assert offenders == []
