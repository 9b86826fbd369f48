"""The shape of the code (issue #20): lines per module, long functions, complexity, cycles.

Prints, for ``src/arxivfilter``: the largest modules by lines, every function over
``--max-lines`` lines, the count of functions radon grades C or worse (cyclomatic
complexity > 10; needs ``pip install radon``, skipped without it) and the module-level import
cycles (strongly connected groups of modules importing each other, from grimp, which
import-linter ships). ``--src`` measures another tree (e.g. an older checkout).

    python bench/code_shape.py [--src src/arxivfilter] [--max-lines 60] [--top 15]
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path


def _modules(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def _functions(tree: ast.AST) -> list[tuple[str, int, int]]:
    found: list[tuple[str, int, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                end = child.end_lineno or child.lineno
                found.append((name, child.lineno, end - child.lineno + 1))
                visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")

    visit(tree, "")
    return found


def _radon_grades(sources: dict[str, str]) -> dict[str, int] | None:
    try:
        from radon.complexity import cc_rank, cc_visit
    except ImportError:
        return None
    grades: dict[str, int] = {}
    for text in sources.values():
        for block in cc_visit(text):
            rank = cc_rank(block.complexity)
            grades[rank] = grades.get(rank, 0) + 1
    return grades


def _cycles(root: Path) -> list[list[str]]:
    import grimp

    sys.path.insert(0, str(root.parent))
    graph = grimp.build_graph(root.name)
    modules = sorted(graph.modules)
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for m in modules:
        if m not in index:
            strong(m)
    return groups


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=Path("src/arxivfilter"))
    parser.add_argument("--max-lines", type=int, default=60)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    root: Path = args.src.resolve()
    sources = {
        str(p.relative_to(root.parent)): p.read_text(encoding="utf-8") for p in _modules(root)
    }
    lines = {name: text.count("\n") for name, text in sources.items()}
    print(f"modules: {len(lines)}, lines: {sum(lines.values()):,}")
    print(f"largest {args.top} modules:")
    for name, n in sorted(lines.items(), key=lambda kv: (-kv[1], kv[0]))[: args.top]:
        print(f"  {n:6,}  {name}")
    long_ones = []
    for name, text in sources.items():
        for func, line, length in _functions(ast.parse(text)):
            if length > args.max_lines:
                long_ones.append((length, f"{name}:{line} {func}"))
    print(f"functions over {args.max_lines} lines: {len(long_ones)}")
    for length, where in sorted(long_ones, reverse=True):
        print(f"  {length:4}  {where}")
    grades = _radon_grades(sources)
    if grades is None:
        print("radon not installed: complexity grades skipped (pip install radon)")
    else:
        worse = sum(n for rank, n in grades.items() if rank >= "C")
        shown = ", ".join(f"{rank} {grades[rank]}" for rank in sorted(grades))
        print(f"radon grades: {shown}; C or worse: {worse}")
    groups = _cycles(root)
    print(f"module-level import cycles: {len(groups)}")
    for group in groups:
        print("  " + " <-> ".join(group))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
