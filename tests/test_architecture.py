"""The layout's two rules, read from the source (no database):

* apps import only the apps below them: core → portfolio → positions → reconciliation → signals →
  recovery → legacy → cockpit → config (``scripts/import_graph.py``);
* each state machine has one owner: ``Position``, ``OrderIntent`` and ``SignalLog`` rows are written
  (``.save()``, ``.update()``, ``.objects.create()`` and friends) only in their owning service modules.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = ("core", "portfolio", "positions", "reconciliation", "signals", "recovery", "legacy", "cockpit", "config")
OWNERS = {
    "Position": "positions/services/lifecycle.py",
    "OrderIntent": "positions/services/intents.py",
    "SignalLog": "signals/services/inbox.py",
    "Rollover": "positions/services/rollover.py",
}
# Reverse relations that reach these rows from another object (``position.intents.update(...)``).
RELATED = {"intents": "OrderIntent", "opened_positions": "Position", "closed_positions": "Position",
           "positions": "Position", "signals": "SignalLog", "rollovers": "Rollover"}
QUERY_WRITES = {"update", "create", "get_or_create", "update_or_create", "bulk_create", "bulk_update", "delete"}
INSTANCE_WRITES = {"save", "delete"}


def _load_import_graph():
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "scripts" / "import_graph.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_apps_import_only_the_apps_below_them():
    graph = _load_import_graph()
    assert graph.LAYERS == APPS
    assert graph.violations(ROOT) == []


def test_the_import_graph_check_sees_imports_inside_functions(tmp_path):
    graph = _load_import_graph()
    for app in APPS:
        (tmp_path / app).mkdir()
    (tmp_path / "portfolio" / "late.py").write_text("def f():\n    from positions.models import Position\n")
    assert graph.violations(tmp_path) == ["portfolio -> positions (portfolio/late.py:2)"]


def _chain(node: ast.AST) -> list[str]:
    """Names along a receiver expression: ``Position.objects.filter(...).update`` → [Position, objects,
    filter]."""
    names = []
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            names.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Name):
            names.append(node.id)
            return names[::-1]
        else:
            return names[::-1]


def _written_model(call: ast.Call) -> str | None:
    """The owned model a write call touches, when the source shows it."""
    if not isinstance(call.func, ast.Attribute):
        return None
    method, receiver = call.func.attr, _chain(call.func.value)
    if method in QUERY_WRITES:
        for model in OWNERS:
            if model in receiver and "objects" in receiver[receiver.index(model):]:
                return model
        for name in receiver:
            if name in RELATED:
                return RELATED[name]
    if method in INSTANCE_WRITES and receiver:
        # An instance write: judged by the variable's name (``position.save()``, ``self.signal.save()``).
        last = receiver[-1].lower()
        for word, model in (("position", "Position"), ("intent", "OrderIntent"), ("signal", "SignalLog"),
                            ("roll", "Rollover")):
            if word in last:
                return model
    return None


def ownership_violations(root: Path) -> list[str]:
    found = []
    for app in APPS:
        for path in sorted((root / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            relative = str(path.relative_to(root))
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call):
                    model = _written_model(node)
                    if model and OWNERS[model] != relative:
                        found.append(f"{relative}:{node.lineno} writes {model}")
    return found


def test_position_intent_signal_and_rollover_rows_are_written_only_by_their_owners():
    assert ownership_violations(ROOT) == []


def test_the_ownership_check_finds_writes(tmp_path):
    (tmp_path / "recovery").mkdir()
    (tmp_path / "recovery" / "sweep.py").write_text(
        "def f(position, signal):\n"
        "    Position.objects.filter(pk=1).update(status='open')\n"
        "    signal.save()\n"
        "    position.intents.filter(status='PENDING').update(status='CANCELLED')\n"
        "    OrderIntent.objects.create(symbol='X')\n"
        "    run.save()\n"
    )
    assert ownership_violations(tmp_path) == [
        "recovery/sweep.py:2 writes Position", "recovery/sweep.py:3 writes SignalLog",
        "recovery/sweep.py:4 writes OrderIntent", "recovery/sweep.py:5 writes OrderIntent",
    ]
