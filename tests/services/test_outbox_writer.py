"""A text's status and its event are written by pathway/services/outbox.py and nowhere else.

The checker walks every module's AST. It flags, outside the outbox writer:
- an assignment to ``<x>.status`` where ``x`` is a message (named msg/message, annotated or bound
  from an expression naming ``Message``, or a loop variable over such a thing);
- ``status=`` / ``to_status=`` given to an ``update(...)``/``insert(...)`` of messages or
  message_events (``.values(...)``), or to a ``Message(...)`` being built;
- a ``MessageEvent(...)`` built;
- SQL text that updates ``messages`` setting a status or inserts into ``message_events``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "pathway"
WRITER = "services/outbox.py"
_SQL = re.compile(r"(?is)\bupdate\s+messages\s+set\b.*\bstatus\b|\binsert\s+into\s+message_events\b")
_STATUS_KEYWORDS = {"status", "to_status", "from_status"}


# Modules whose ``Message`` is the API's answer model, imported under these names.
_ANSWER_MODULES = frozenset({"out", "answers"})

def _mentions_message(node: ast.AST | None) -> bool:
    if node is None:
        return False
    return any((isinstance(n, ast.Name) and n.id in {"Message", "MessageEvent"})
               or (isinstance(n, ast.Attribute) and n.attr in {"Message", "MessageEvent"})
               or (isinstance(n, ast.Name) and n.id.lstrip("_").upper() in {"MESSAGES", "EVENTS", "MESSAGE_EVENTS"})
               or (isinstance(n, ast.Constant) and n.value in {"messages", "message_events"})
               for n in ast.walk(node))


def _message_names(scope: ast.AST) -> set[str]:
    """Names bound, in this function (or module), to a message or messages."""
    names: set[str] = set()
    changed = True
    while changed:
        changed = False
        for node in ast.walk(scope):
            bound: list[ast.expr] = []
            source: ast.AST | None = None
            if isinstance(node, ast.arg):
                annotated = _mentions_message(node.annotation) or (
                    isinstance(node.annotation, ast.Constant) and "Message" in str(node.annotation.value))
                if annotated and node.arg not in names:
                    names.add(node.arg)
                    changed = True
                continue
            if isinstance(node, ast.Assign):
                bound, source = node.targets, node.value
            elif isinstance(node, ast.AnnAssign):
                bound, source = [node.target], node.annotation
            elif isinstance(node, (ast.For, ast.comprehension)):
                bound, source = [node.target], node.iter
            if source is None:
                continue
            if _mentions_message(source) or any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(source)):
                for target in bound:
                    for n in ast.walk(target):
                        if isinstance(n, ast.Name) and n.id not in names:
                            names.add(n.id)
                            changed = True
    return names


def _is_message(expr: ast.expr, names: set[str]) -> bool:
    if isinstance(expr, ast.Name):
        return expr.id in names or "msg" in expr.id.lower() or "message" in expr.id.lower()
    if isinstance(expr, ast.Attribute):  # self.message, reply.message
        return "msg" in expr.attr.lower() or "message" in expr.attr.lower()
    return False


def _status_targets(node: ast.AST) -> list[ast.Attribute]:
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        targets = [node.target]
    out = []
    for t in targets:
        for n in ast.walk(t):
            if isinstance(n, ast.Attribute) and n.attr == "status" and isinstance(n.ctx, ast.Store):
                out.append(n)
    return out


def _writes_messages(call: ast.Call) -> bool:
    """``.values(...)`` at the end of a chain that starts with update()/insert() of a message table."""
    node: ast.AST = call.func
    while isinstance(node, (ast.Attribute, ast.Call)):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else (f.attr if isinstance(f, ast.Attribute) else "")
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in _ANSWER_MODULES:
                name = ""  # an API answer model of the same name (schemas.answers.Message) stores nothing
            if name in {"update", "insert"} and node.args and _mentions_message(node.args[0]):
                return True
            node = node.func
        else:
            node = node.value
    return False


def violations(source: str, where: str = "<snippet>") -> list[str]:
    tree = ast.parse(source)
    problems: list[str] = []
    defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    top = ast.Module(body=[s for s in tree.body if not isinstance(s, defs)], type_ignores=[])
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    scopes: list[ast.AST] = [top, *(n for n in ast.walk(tree) if isinstance(n, functions))]
    for scope in scopes:
        names = _message_names(scope)
        for node in ast.walk(scope):
            for target in _status_targets(node):
                if _is_message(target.value, names):
                    problems.append(f"{where}:{node.lineno} assigns a message's status")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else (f.attr if isinstance(f, ast.Attribute) else "")
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in _ANSWER_MODULES:
                name = ""  # an API answer model of the same name (schemas.answers.Message) stores nothing
            keywords = {k.arg for k in node.keywords}
            dict_keys = {k.value for a in node.args if isinstance(a, ast.Dict) for k in a.keys
                         if isinstance(k, ast.Constant)}
            if name == "MessageEvent":
                problems.append(f"{where}:{node.lineno} builds a MessageEvent")
            elif name == "Message" and keywords & _STATUS_KEYWORDS:
                problems.append(f"{where}:{node.lineno} builds a Message with a status")
            elif name in {"values", "ordered_values"} and (keywords | dict_keys) & _STATUS_KEYWORDS \
                    and _writes_messages(node):
                problems.append(f"{where}:{node.lineno} writes a status into messages or message_events")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _SQL.search(node.value):
            problems.append(f"{where}:{node.lineno} writes a status in SQL text")
    return sorted(set(problems))


def test_only_the_outbox_writer_changes_a_texts_status_or_writes_its_events() -> None:
    problems = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG).as_posix()
        if rel != WRITER:
            problems += violations(path.read_text(), rel)
    assert problems == [], "only pathway/services/outbox.py may do this:\n" + "\n".join(problems)


def test_the_outbox_writer_is_what_the_checker_sees_writing() -> None:
    assert violations((PKG / WRITER).read_text()) != []


def test_checker_flags_each_way_of_writing_a_status() -> None:
    snippets = {
        "msg.status = 'sent'\n": "assigns",
        "def f(m: Message) -> None:\n    m.status = 'sent'\n": "assigns",
        "def f(s):\n    m = s.get(Message, 1)\n    m.status, m.sent_at = 'sent', None\n": "assigns",
        "def f(s):\n    for m in s.scalars(select(Message)):\n        m.status = 'failed'\n": "assigns",
        "session.execute(update(Message).where(Message.id == 1).values(status='sent'))\n": "writes",
        "conn.execute(update(_MESSAGES).values(status=bindparam('to')))\n": "writes",
        "conn.execute(insert(MessageEvent.__table__).values(to_status='sent'))\n": "writes",
        "stmt = update(Message).where(Message.id == 1).values({'status': 'sent'})\n": "writes",
        "session.add(MessageEvent(message_id=1, reason='x'))\n": "MessageEvent",
        "msg.events.append(models.MessageEvent(at=now))\n": "MessageEvent",
        "session.add(Message(patient_id=1, status='sent'))\n": "Message with a status",
        "session.add(models.Message(patient_id=1, status='sent'))\n": "Message with a status",
        "conn.execute(text('UPDATE messages SET status = :s WHERE id = :i'))\n": "SQL",
        "conn.execute(text('INSERT INTO message_events (reason) VALUES (:r)'))\n": "SQL",
    }
    for source, what in snippets.items():
        found = violations(source)
        assert len(found) == 1 and what in found[0], (source, found)


def test_checker_leaves_other_statuses_and_reads_alone() -> None:
    clean = (
        "def f(s, episode: Episode, m: Milestone):\n"
        "    episode.status = 'cancelled'\n"
        "    m.status = 'planned'\n"
        "    s.execute(update(Milestone).values(status='due'))\n"
        "    rows = s.scalars(select(Message).where(Message.status == 'scheduled'))\n"
        "    n = len(list(rows))\n"
        "    outbox.record(s, rows[0], outbox.Sent('x'), now=now, source='dispatch')\n"
        "    Appointment(kind='pt', status='booked')\n"
        "    out.Message(id=1, kind='reply', status='sent')\n"
    )
    assert violations(clean) == []
