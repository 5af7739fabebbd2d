"""App-to-app imports of the project, module level and inside functions, checked against the layer order
(DESIGN §3): core → portfolio → positions → reconciliation → signals → recovery → legacy → cockpit → config.

An app may import only apps to its left; ``config`` is the composition root (it imports everyone and
nobody imports it).  Prints every edge with its count and the first place it occurs; exits 1 when an
edge goes against the order.

    python scripts/import_graph.py [PROJECT_DIR]
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

LAYERS = ("core", "portfolio", "positions", "reconciliation", "signals", "recovery", "legacy", "cockpit", "config")


def imported_modules(tree: ast.AST) -> list[tuple[str, int]]:
    """Every absolute import in the tree (functions and classes included), with its line."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, node.lineno))
    return found


def edges(root: Path) -> dict[tuple[str, str], list[str]]:
    """(importing app, imported app) → places, for every import between two of our apps."""
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for app in LAYERS:
        for path in sorted((root / app).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for module, line in imported_modules(tree):
                target = module.split(".")[0]
                if target in LAYERS and target != app:
                    found[(app, target)].append(f"{path.relative_to(root)}:{line}")
    return found


def allowed(source: str, target: str) -> bool:
    return LAYERS.index(target) < LAYERS.index(source)


def violations(root: Path) -> list[str]:
    return [f"{source} -> {target} ({', '.join(places[:3])})"
            for (source, target), places in sorted(edges(root).items()) if not allowed(source, target)]


def main(argv: list[str]) -> int:
    root = Path(argv[1] if len(argv) > 1 else Path(__file__).resolve().parents[1])
    graph = edges(root)
    for (source, target), places in sorted(graph.items(), key=lambda item: (LAYERS.index(item[0][0]), item[0])):
        mark = "ok" if allowed(source, target) else "AGAINST THE ORDER"
        print(f"{source:>14} -> {target:<14} {len(places):>3}  {mark:<17} e.g. {places[0]}")
    bad = violations(root)
    print(f"{len(graph)} edges; order {' -> '.join(LAYERS)}; {len(bad)} against it")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
