"""The shape the import-linter contracts cannot state: every SQL statement lives in
``store`` (issue #20). Other modules may hold a ``Session`` or an ``Engine`` and catch the
database's exceptions, but build no query."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "arxivfilter"
#: where SQL is built: storage, the table definitions and the migrations; ``state`` is the
#: committed text mirror of the tables (whole-table reads and bulk restores, Core only)
SQL_MODULES = {"store.py", "models.py", "state.py"}
ALLOWED = {"Session", "Engine", "Connection"}  # handles, not queries
ALLOWED_MODULES = ("sqlalchemy.exc", "sqlalchemy.engine")


def _sql_imports(path: Path) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [
                a.name for a in node.names if a.name.split(".")[0] in ("sqlalchemy", "sqlmodel")
            ]
        elif isinstance(node, ast.ImportFrom) and node.module:
            root = node.module.split(".")[0]
            if root not in ("sqlalchemy", "sqlmodel") or node.module.startswith(ALLOWED_MODULES):
                continue
            found += [f"{node.module}.{a.name}" for a in node.names if a.name not in ALLOWED]
    return found


def test_no_sql_outside_store() -> None:
    offenders = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if rel.parts[0] == "migrations" or str(rel) in SQL_MODULES:
            continue
        if found := _sql_imports(path):
            offenders[str(rel)] = found
    assert offenders == {}, f"query building outside store: {offenders}"
