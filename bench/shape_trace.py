"""Trace one real ``run`` of the demo day and count the shapes one paper takes (issue #20).

    python bench/shape_trace.py [--id 2512.13525] [--source examples/2025-12-16.jsonl]

Runs ``arxivfilter run --source …`` in-process, in a fresh temporary folder, under
``sys.setprofile``. At every call into and return from a function of the ``arxivfilter``
package it looks at the arguments and the return value (and one level into lists, tuples
and dicts) for objects that carry the traced paper:

* an object whose ``arxiv_id`` attribute (read from its ``__dict__``, so an ORM object is
  never loaded) or named-tuple field is the id;
* a mapping whose ``arxiv_id`` or ``id`` value is (or names) the id;
* an object whose ``body`` (a raw response) contains the id;
* an object that holds one of these in an attribute (a view of the paper);
* a tuple that holds one of the above (the ``(paper, rows)`` pairs).

A scorer's verdict (``JudgementResult``) names no paper, so it is not counted; the row and
the ``Judgement`` made from it are.

It prints the distinct record types in the order the paper first reaches them, with the
function that first handed each over, and the **field-by-field copies** on the paper's
path: the functions that received the paper and, in their source, move five or more
same-named fields from one object into another (``title=paper.title``,
``"title": entry.title``, ``listed.tldr = judgement.tldr``, ``list(paper.authors)``).
A generic merge or copy (a loop over field names, ``model_dump``) is not a field-by-field
copy by this definition: it does not spell the fields out.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = str(ROOT / "src" / "arxivfilter")
SAME_NAMED_MIN = 5  # same-named field moves that make a function a field-by-field copy


@dataclass
class Trace:
    arxiv_id: str
    types: dict[str, str] = field(default_factory=dict)  # type name -> where first seen
    on_path: dict[CodeType, int] = field(default_factory=dict)  # functions given the paper

    def note(self, value: Any, where: str, depth: int = 0) -> bool:
        """Record the record types in ``value`` that carry the paper; True when one did."""
        found = False
        for name in self._carriers(value, depth):
            self.types.setdefault(name, where)
            found = True
        return found

    def _carriers(self, value: Any, depth: int) -> Iterator[str]:
        if self._carries(value):
            yield _type_name(value)
            return
        if depth > 1 or isinstance(value, (str, bytes)):
            return
        if isinstance(value, tuple) and not hasattr(value, "_fields"):
            inner = [n for v in value for n in self._carriers(v, depth + 1)]
            if inner and any(self._carries(v) for v in value):
                yield "tuple"
            yield from inner
        elif isinstance(value, (list, set, frozenset)):
            for v in value:
                yield from self._carriers(v, depth + 1)
        elif isinstance(value, dict):
            for v in value.values():
                yield from self._carriers(v, depth + 1)

    def _carries(self, value: Any, *, wrapped: bool = True) -> bool:
        wanted = self.arxiv_id
        if isinstance(value, (str, bytes, int, float, bool)) or value is None:
            return False
        if isinstance(value, dict):
            for key in ("arxiv_id", "id"):
                got = value.get(key)
                if isinstance(got, str) and (got == wanted or got.endswith("/" + wanted)):
                    return True
            return False
        fields = getattr(type(value), "_fields", None)
        if isinstance(value, tuple) and fields and "arxiv_id" in fields:
            return getattr(value, "arxiv_id", None) == wanted
        try:
            own = object.__getattribute__(value, "__dict__")
        except AttributeError:
            return False
        if not isinstance(own, dict):
            return False
        if own.get("arxiv_id") == wanted:
            return True
        if wrapped and any(self._carries(v, wrapped=False) for v in own.values()):
            return True  # a view that holds the paper (and, say, its judgement)
        body = own.get("body")
        if isinstance(body, bytes):
            return wanted.encode() in body
        return isinstance(body, str) and wanted in body


def _type_name(value: Any) -> str:
    return type(value).__name__


def _where(code: CodeType) -> str:
    rel = os.path.relpath(code.co_filename, PACKAGE)
    return f"{rel.removesuffix('.py').replace(os.sep, '.')}.{code.co_qualname}"


def _arguments(frame: FrameType) -> list[Any]:
    code = frame.f_code
    count = code.co_argcount + code.co_kwonlyargcount
    names = code.co_varnames[:count]
    local = frame.f_locals
    return [local[n] for n in names if n in local and n != "self"]


def trace_run(source: Path, arxiv_id: str) -> Trace:
    """One ``arxivfilter run --source SOURCE`` in a fresh folder, traced."""
    from arxivfilter.cli import main

    trace = Trace(arxiv_id)

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        code = frame.f_code
        if not code.co_filename.startswith(PACKAGE):
            return
        if event == "call":
            if any(trace.note(a, _where(code)) for a in _arguments(frame)):
                trace.on_path[code] = trace.on_path.get(code, 0) + 1
        elif event == "return" and arg is not None:
            trace.note(arg, _where(code))

    old = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="shape-trace-") as tmp:
        os.chdir(tmp)
        saved = {k: v for k, v in os.environ.items() if k.startswith("ARXIVFILTER_")}
        for k in saved:
            del os.environ[k]
        os.environ["ARXIVFILTER_LOG_LEVEL"] = "error"
        try:
            sys.setprofile(profile)
            try:
                code = main(["run", "--source", str(source)])
            finally:
                sys.setprofile(None)
        finally:
            os.chdir(old)
            os.environ.pop("ARXIVFILTER_LOG_LEVEL", None)
            os.environ.update(saved)
    if code not in (0, None):
        raise SystemExit(f"the traced run ended with exit code {code}")
    return trace


# --------------------------------------------------------------------------- copies


def _moved(node: ast.AST) -> str | None:
    """The field name an expression reads as ``obj.name`` (or ``list(obj.name)``)."""
    if isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords:
        node = node.args[0]
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id != "self"
    ):
        return node.attr
    return None


def same_named_moves(func: ast.AST) -> int:
    """How many fields ``func`` moves under their own name from one object to another."""
    names: set[str] = set()
    for node in ast.walk(func):
        if isinstance(node, ast.keyword) and node.arg and _moved(node.value) == node.arg:
            names.add(node.arg)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and _moved(value) == key.value:
                    names.add(str(key.value))
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Attribute) and _moved(node.value) == target.attr:
                names.add(target.attr)
    return len(names)


def copy_functions(trace: Trace) -> list[tuple[str, int]]:
    """The functions on the paper's path that copy it field by field, with their counts."""
    parsed: dict[str, ast.Module] = {}
    out: list[tuple[str, int]] = []
    for code in trace.on_path:
        tree = parsed.setdefault(
            code.co_filename, ast.parse(Path(code.co_filename).read_text(encoding="utf-8"))
        )
        for node in ast.walk(tree):
            if (
                isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                and node.name == code.co_name
                and node.lineno <= code.co_firstlineno <= node.body[0].lineno
            ):
                moves = same_named_moves(node)
                if moves >= SAME_NAMED_MIN:
                    out.append((_where(code), moves))
    return sorted(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=ROOT / "examples" / "2025-12-16.jsonl")
    parser.add_argument("--id", default="2512.13525", help="the paper to follow")
    args = parser.parse_args()
    trace = trace_run(args.source.resolve(), args.id)
    print(f"paper {args.id} in one `run --source {args.source.name}`")
    print(f"record types it passes through: {len(trace.types)}")
    for name, where in trace.types.items():
        print(f"  {name:<24} first from {where}")
    copies = copy_functions(trace)
    print(f"field-by-field copies on its path: {len(copies)}")
    for where, moves in copies:
        print(f"  {where} ({moves} fields)")


if __name__ == "__main__":
    main()
